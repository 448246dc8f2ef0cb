"""`he.ConfidenceScorer`: the calibrated probability that a generated answer is correct (§13).

    scorer = he.ConfidenceScorer().fit(traces, labels, groups=domains)
    p = scorer.score(trace)          # [B] float64 in (0, 1)
    scorer.save("scorer/"); he.ConfidenceScorer.load("scorer/")   # or .load("smollm2")
    scorer.explain()                 # the features that carry the weight

Features come from `features.answer_features` (attention entropy per head over the answer, plus
the logits' token log-probabilities); they are standardised with the training rows' mean and
standard deviation, NaN imputed by the mean (0 after standardisation), and fed to an
L2-regularised logistic regression (`logistic.py`). Files: `scorer.safetensors` (mean, std,
weight, bias) + `scorer.json` (feature names, model shape, training summary); no pickle.

Options for transfer to unseen question domains (each a field of `scorer.json`; files without
them load as the defaults, i.e. the original per-head scorer):

* `aggregation="layer"` / `"model"`: per-head groups averaged over the heads of each layer / of
  the whole model (`features.aggregate_features`) before standardising;
* `top_k=k`: only the k attention features with the strongest univariate AUROC on the training
  rows are kept (logit features always are); chosen inside every cross-validation fold;
* `stack=True`: a logit-feature model and an attention-feature model, each with its own C, are
  combined by a logistic meta-learner fitted on their out-of-fold log-odds (folds = groups).
  Both models and the meta-learner are linear, so the stack is stored collapsed into the same
  single weight vector: scoring, streaming and the file layout are those of a plain scorer.
* `residual=True`: the logit-feature model is fitted first; the attention features only add a
  correction fitted with that model's log-odds as a fixed offset, under strong L2 (`RESIDUAL_C_GRID`,
  C chosen by cross-validated log loss over groups with the base model refitted in each fold). As
  the correction's C goes to 0 the scorer becomes the logits model; stored collapsed, as the stack.
* `selection="stable"` (with `top_k`): attention features are kept by their worst training domain
  (`logistic.stable_strength`: the same direction in every domain, largest smallest effect)
  instead of by their pooled AUROC.
* `domain_centred=True`: during the fit each training domain (group) is centred on its own mean
  and every feature divided by the pooled within-domain standard deviation, so the weights learn
  how answers rank *inside* a domain rather than which domain an answer comes from; scoring
  uses the training rows' overall mean and that pooled deviation (no statistics of the scored rows).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch

from ..trace import EntropyTrace
from .features import (AGGREGATIONS, HEAD_GROUPS, LOGIT_FEATURES, SUMMARY_FEATURES, aggregate_features,
                       aggregated_names, answer_features, feature_names)
from .logistic import (C_GRID, SELECTIONS, choose_C, fit_logistic, fit_selected, folds, select_columns,
                       train_groups)

FORMAT = "headentropy.ConfidenceScorer/1"  # files of per-head scorers (readable by every version)
FORMAT_2 = "headentropy.ConfidenceScorer/2"  # files with aggregation / top_k / stack (older readers refuse them)
META_C = 1.0  # the stacking meta-learner's L2 strength (two inputs, hundreds of rows: barely binding)
# the residual attention correction's C: strong L2 only (the logits model carries the score)
RESIDUAL_C_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
FEATURE_SETS = ("all", "attention", "logits")
_SHIPPED = Path(__file__).parent / "scorers"  # scorers shipped for the embedded models


def _in_set(name: str, feature_set: str) -> bool:
    is_logit = name in LOGIT_FEATURES
    return feature_set == "all" or (feature_set == "logits") == is_logit


# Scores stay inside [EPS, 1 - EPS]: a score is never certain, so a gate threshold of 0 never
# intervenes and 1 always does.
EPS = 1e-6


def _probability(logit: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logit).clamp(EPS, 1 - EPS)


class ScorerError(ValueError):
    """A scorer file that cannot be used (or a trace from another model): the message says why."""


class ConfidenceScorer:
    def __init__(self, feature_set: str = "all", C: float | None = None, *, aggregation: str = "head",
                 top_k: int | None = None, stack: bool = False, c_grid: Sequence[float] = C_GRID,
                 residual: bool = False, selection: str = "auroc", domain_centred: bool = False):
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {feature_set!r}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
            raise ValueError(f"top_k must be None or a positive int, got {top_k!r}")
        if stack and feature_set != "all":
            raise ValueError("stack=True combines a logit model and an attention model: it needs feature_set='all'")
        if residual and (feature_set != "all" or stack):
            raise ValueError("residual=True corrects a logit model with attention features: it needs feature_set='all' "
                             "and stack=False")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if not c_grid:
            raise ValueError("c_grid is empty")
        self.feature_set = feature_set
        self.C = C  # None: chosen by cross-validation in fit()
        self.aggregation, self.top_k, self.stack = aggregation, top_k, bool(stack)
        self.residual, self.selection, self.domain_centred = bool(residual), selection, bool(domain_centred)
        self.c_grid = tuple(float(c) for c in c_grid)
        self.names: list[str] = []
        self.mean = self.std = self.weight = None  # [F] float64 after fit/load
        self.bias = torch.zeros((), dtype=torch.float64)
        self.model_name = ""
        self.num_layers = self.num_heads = 0
        self.info: dict = {}  # training summary (rows, positives, groups, C and its CV losses)
        self._columns: torch.Tensor | None = None  # [F] index of each name in the aggregated features

    @property
    def fitted(self) -> bool:
        return self.weight is not None

    @property
    def config(self) -> dict:
        """The design fields saved in scorer.json besides the weights."""
        return {"feature_set": self.feature_set, "aggregation": self.aggregation, "top_k": self.top_k,
                "stack": self.stack, "residual": self.residual, "selection": self.selection,
                "domain_centred": self.domain_centred}

    # ---- features ---------------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        """Every feature this design can use, in order (a `top_k` fit keeps a subset)."""
        return [n for n in aggregated_names(self.num_layers, self.num_heads, self.aggregation)
                if _in_set(n, self.feature_set)]

    def _design(self, x: torch.Tensor) -> torch.Tensor:
        """Raw `answer_features` `[n, feature_names(L, H)]` -> `[n, len(self.names)]`."""
        if x.shape[-1] != len(feature_names(self.num_layers, self.num_heads)):
            raise ScorerError(f"{x.shape[-1]} features given; this scorer's model has "
                              f"{len(feature_names(self.num_layers, self.num_heads))}")
        if self._columns is None:
            index = {n: i for i, n in enumerate(aggregated_names(self.num_layers, self.num_heads, self.aggregation))}
            self._columns = torch.tensor([index[n] for n in self.names], dtype=torch.long)
        return aggregate_features(x, self.num_layers, self.num_heads, self.aggregation)[:, self._columns]

    def _features(self, traces: EntropyTrace | Sequence[EntropyTrace]) -> torch.Tensor:
        traces = [traces] if isinstance(traces, EntropyTrace) else list(traces)
        if not traces:
            raise ValueError("no traces given")
        rows = []
        for t in traces:
            L, H = len(t.layers), t.num_heads
            if self.fitted and (L, H) != (self.num_layers, self.num_heads):
                raise ScorerError(
                    f"this scorer was fitted on {self.model_name or 'a model'} with {self.num_layers} layers x "
                    f"{self.num_heads} heads; the trace has {L} layers x {H} heads (another model, or "
                    "monitor(layers=...) recorded a subset): calibrate a scorer for this model")
            rows.append(self._design(answer_features(t)))  # [B, F]
        return torch.cat(rows, dim=0)

    def _standardised(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)  # missing -> the training mean

    # ---- fit / score ------------------------------------------------------------------------
    def fit(self, traces: EntropyTrace | Sequence[EntropyTrace], labels: Sequence[bool] | torch.Tensor,
            groups: Sequence[str] | None = None) -> "ConfidenceScorer":
        """Fit on generations whose answers are labelled correct (True) or wrong (False).

        `labels` has one entry per row of the traces, in order; `groups` (e.g. question domains)
        makes the cross-validation that picks C hold out whole groups.
        """
        first = traces if isinstance(traces, EntropyTrace) else list(traces)[0]
        traces = [traces] if isinstance(traces, EntropyTrace) else list(traces)
        x = torch.cat([answer_features(t) for t in traces], dim=0)
        return self.fit_features(x, labels, len(first.layers), first.num_heads, first.model_name, groups)

    def fit_features(self, x: torch.Tensor, labels, num_layers: int, num_heads: int, model_name: str = "",
                     groups: Sequence[str] | None = None) -> "ConfidenceScorer":
        """`fit` from precomputed `answer_features` `[n, all features]` (e.g. a saved generation run)."""
        self.num_layers, self.num_heads, self.model_name = num_layers, num_heads, model_name
        all_names = feature_names(num_layers, num_heads)
        if x.shape[1] != len(all_names):
            raise ValueError(f"{x.shape[1]} features given; a model with {num_layers} layers x {num_heads} heads has {len(all_names)}")
        names = self._candidates()
        agg_names = aggregated_names(num_layers, num_heads, self.aggregation)
        x = aggregate_features(x.double(), num_layers, num_heads, self.aggregation)
        x = x[:, torch.tensor([_in_set(n, self.feature_set) for n in agg_names])]
        y = torch.as_tensor([bool(v) for v in labels], dtype=torch.float64)
        if len(y) != x.shape[0]:
            raise ValueError(f"{len(y)} labels for {x.shape[0]} generated answers")
        if groups is not None and len(groups) != len(y):
            raise ValueError(f"{len(groups)} groups for {len(y)} labels")
        if y.min() == y.max():
            raise ValueError("the labels are all the same: a scorer needs both correct and wrong answers")
        groups = list(groups) if groups is not None else None
        self.names, self._columns = names, None
        self.mean = torch.nanmean(x, dim=0).nan_to_num(0.0)
        centred = x - self.mean
        if self.domain_centred and groups is not None:
            for g in set(groups):  # each domain about its own mean
                m = torch.tensor([h == g for h in groups])
                centred[m] = x[m] - torch.nanmean(x[m], dim=0).nan_to_num(0.0)
        var = torch.nanmean(centred ** 2, dim=0).nan_to_num(0.0)
        self.std = torch.where(var > 1e-12, var.sqrt(), torch.ones_like(var))
        z = torch.nan_to_num(centred / self.std, nan=0.0, posinf=0.0, neginf=0.0)  # [n, F] (missing -> the mean)
        is_logit = torch.tensor([n in LOGIT_FEATURES for n in names])  # [F] always kept by top_k
        self.info = {"rows": len(y), "correct": int(y.sum()), "groups": sorted(set(groups)) if groups else []}
        if self.residual:
            keep = self._fit_residual(z, y, groups, is_logit)
        elif not self.stack:
            C, losses = self.C, {}
            if C is None:
                C, losses = choose_C(z, y, groups, self.c_grid, self.top_k, is_logit, self.selection)
            keep = select_columns(z, y, self.top_k, is_logit, groups, self.selection)
            self.weight, self.bias = fit_selected(z, y, C, self.top_k, is_logit, groups, self.selection)
            self.info.update({"C": C, "cv_log_loss": {str(k): v for k, v in losses.items()}})
            self.C = C
        else:
            keep = self._fit_stack(z, y, groups, is_logit)
        if self.top_k is not None:  # drop the unselected columns (their weight is 0)
            self.names = [n for n, k in zip(names, keep.tolist()) if k]
            self.mean, self.std, self.weight = self.mean[keep], self.std[keep], self.weight[keep]
            self._columns = None
        return self

    def _fit_residual(self, z: torch.Tensor, y: torch.Tensor, groups: list[str] | None,
                      is_logit: torch.Tensor) -> torch.Tensor:
        """The logits model, then an attention correction on its log-odds; store the sum.

        Returns the columns kept (`top_k` applies to the correction only)."""
        att = ~is_logit
        zl, za = z[:, is_logit], z[:, att]
        C_l, loss_l = (self.C, {}) if self.C is not None else choose_C(zl, y, groups, self.c_grid)
        w_l, b_l = fit_logistic(zl, y, C_l)

        def base(train: torch.Tensor) -> torch.Tensor:  # the logits model fitted on `train`, every row's log-odds
            w, b = fit_logistic(zl[train], y[train], C_l)
            return zl @ w + b

        C_a, loss_a = choose_C(za, y, groups, RESIDUAL_C_GRID, self.top_k, None, self.selection, offset=base)
        w_a, b_a = fit_selected(za, y, C_a, self.top_k, None, groups, self.selection, offset=zl @ w_l + b_l)
        self.weight = torch.zeros(z.shape[1], dtype=torch.float64)
        self.weight[is_logit], self.weight[att] = w_l, w_a
        self.bias = b_l + b_a
        keep = is_logit.clone()
        keep[att] = select_columns(za, y, self.top_k, None, groups, self.selection)
        self.info.update({"C": None, "residual": {
            "C": {"logits": C_l, "attention": C_a},
            "cv_log_loss": {"logits": {str(k): v for k, v in loss_l.items()},
                            "attention": {str(k): v for k, v in loss_a.items()}}}})
        return keep

    def _fit_stack(self, z: torch.Tensor, y: torch.Tensor, groups: list[str] | None, is_logit: torch.Tensor) -> torch.Tensor:
        """Fit the two base models and the meta-learner; store the collapsed linear model.

        Returns the columns kept (`top_k` applies to the attention model only).
        """
        parts = {"logits": is_logit, "attention": ~is_logit}
        ks = {"logits": None, "attention": self.top_k}
        Cs, losses = {}, {}
        for name, cols in parts.items():
            if self.C is None:
                Cs[name], losses[name] = choose_C(z[:, cols], y, groups, self.c_grid, ks[name], None, self.selection)
            else:
                Cs[name], losses[name] = self.C, {}
        # the meta-learner sees each base model's log-odds on rows it was not fitted on
        oof = torch.zeros(len(y), 2, dtype=torch.float64)  # [n, (logits, attention)]
        for test in folds(len(y), groups):
            train = torch.ones(len(y), dtype=torch.bool)
            train[test] = False
            for j, (name, cols) in enumerate(parts.items()):
                w, b = fit_selected(z[train][:, cols], y[train], Cs[name], ks[name], None,
                                    train_groups(groups, train), self.selection)
                oof[test, j] = z[test][:, cols] @ w + b
        a, a0 = fit_logistic(oof, y, META_C)
        self.weight = torch.zeros(z.shape[1], dtype=torch.float64)
        self.bias = a0.clone()
        keep = is_logit.clone()
        for j, (name, cols) in enumerate(parts.items()):
            w, b = fit_selected(z[:, cols], y, Cs[name], ks[name], None, groups, self.selection)
            self.weight[cols] = a[j] * w
            self.bias = self.bias + a[j] * b
            keep[cols] |= select_columns(z[:, cols], y, ks[name], None, groups, self.selection)
        self.info.update({"C": None, "stack": {"C": Cs, "meta_weight": {"logits": float(a[0]), "attention": float(a[1])},
                                               "meta_bias": float(a0), "meta_C": META_C,
                                               "cv_log_loss": {n: {str(k): v for k, v in ls.items()} for n, ls in losses.items()}}})
        return keep

    def score_features(self, x: torch.Tensor) -> torch.Tensor:
        """`score` from precomputed `answer_features` `[n, all features]`."""
        return _probability(self.logit(self._design(x)))

    def score(self, trace: EntropyTrace | Sequence[EntropyTrace]) -> torch.Tensor:
        """`[B]` float64: the probability that each row's generated answer is correct."""
        if not self.fitted:
            raise RuntimeError("the scorer is not fitted: call fit() or ConfidenceScorer.load()")
        return _probability(self.logit(self._features(trace)))

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """Log-odds of correctness for raw features `[B, F]` (in `self.names` order)."""
        return self._standardised(x.double()) @ self.weight + self.bias

    # ---- explanation ------------------------------------------------------------------------
    def explain(self, top: int = 15) -> list[dict]:
        """The features with the largest standardised weights (log-odds per standard deviation).

        A positive weight: higher values mean a more likely correct answer.
        """
        if not self.fitted:
            raise RuntimeError("the scorer is not fitted")
        order = torch.argsort(self.weight.abs(), descending=True)[:top]
        return [{"feature": self.names[i], "weight": float(self.weight[i]),
                 "direction": "higher => more likely correct" if self.weight[i] > 0 else "higher => more likely wrong"}
                for i in order.tolist()]

    def weight_by_group(self) -> dict[str, float]:
        """Share of the total |weight| per feature group (attention per head, summaries, logits)."""
        total = float(self.weight.abs().sum()) or 1.0
        share: dict[str, float] = {}
        for name, w in zip(self.names, self.weight.tolist()):
            group = name.split("/")[0] if name.split("/")[0] in HEAD_GROUPS else (
                "logits" if name in LOGIT_FEATURES else "summary" if name in SUMMARY_FEATURES else "other")
            share[group] = share.get(group, 0.0) + abs(w) / total
        return share

    # ---- files ------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """`folder/scorer.safetensors` + `folder/scorer.json`, written atomically together."""
        from safetensors.torch import save

        from ..files import write_files_atomically

        if not self.fitted:
            raise RuntimeError("the scorer is not fitted")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "std": self.std, "weight": self.weight, "bias": self.bias.reshape(1)}
        plain = (self.aggregation, self.top_k, self.stack, self.residual, self.selection, self.domain_centred) == (
            "head", None, False, False, "auroc", False)
        meta = {"format": FORMAT if plain else FORMAT_2, "model_name": self.model_name, "num_layers": self.num_layers,
                "num_heads": self.num_heads, **self.config, "features": self.names, "info": self.info}
        write_files_atomically(folder, {
            "scorer.safetensors": save({k: v.double().contiguous() for k, v in tensors.items()}),
            "scorer.json": (json.dumps(meta, indent=1) + "\n").encode(),
        })
        return folder

    @classmethod
    def load(cls, source: str | os.PathLike) -> "ConfidenceScorer":
        """A folder written by `save()`, or the name of a shipped scorer (`"smollm2"`)."""
        folder = Path(source)
        if not folder.exists() and isinstance(source, str) and (_SHIPPED / source).is_dir():
            folder = _SHIPPED / source
        try:
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            meta = json.loads((folder / "scorer.json").read_text())
            if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, FORMAT_2):
                raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                                 f"expected {FORMAT!r} or {FORMAT_2!r}")
            tensors = load_file(str(folder / "scorer.safetensors"))
            # files written before aggregation / top_k / stack existed are per-head scorers
            scorer = cls(feature_set=meta["feature_set"], C=meta["info"].get("C"),
                         aggregation=meta.get("aggregation", "head"), top_k=meta.get("top_k"),
                         stack=bool(meta.get("stack", False)), residual=bool(meta.get("residual", False)),
                         selection=meta.get("selection", "auroc"), domain_centred=bool(meta.get("domain_centred", False)))
            scorer.names = [str(n) for n in meta["features"]]
            scorer.model_name = str(meta["model_name"])
            scorer.num_layers, scorer.num_heads = int(meta["num_layers"]), int(meta["num_heads"])
            scorer.info = dict(meta["info"])
            scorer.mean, scorer.std, scorer.weight = tensors["mean"], tensors["std"], tensors["weight"]
            scorer.bias = tensors["bias"].reshape(())
            expected = scorer._candidates()
            if scorer.top_k is not None:  # a selection: the kept names, in the candidates' order
                position = {n: i for i, n in enumerate(expected)}
                at = [position.get(n, -1) for n in scorer.names]
                if -1 in at or at != sorted(set(at)):
                    expected = None
                else:
                    expected = scorer.names
            if scorer.names != expected or any(t.shape != (len(scorer.names),) for t in (scorer.mean, scorer.std, scorer.weight)):
                raise ValueError("feature names or tensor shapes do not match the model shape and design in scorer.json")
            if not all(bool(torch.isfinite(t).all()) for t in (scorer.mean, scorer.std, scorer.weight, scorer.bias)):
                raise ValueError("non-finite parameters")
        except FileNotFoundError as e:
            shipped = ", ".join(sorted(p.name for p in _SHIPPED.iterdir() if p.is_dir())) if _SHIPPED.is_dir() else "none"
            raise ScorerError(f"{os.fspath(source)} is not a headentropy confidence scorer: {e.filename} is missing "
                              f"(shipped scorers: {shipped})") from None
        except (SafetensorError, OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise ScorerError(f"{os.fspath(source)} is not a headentropy confidence scorer: {e}") from None
        return scorer
