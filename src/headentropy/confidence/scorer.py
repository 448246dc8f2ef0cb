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
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch

from ..trace import EntropyTrace
from .features import HEAD_GROUPS, LOGIT_FEATURES, SUMMARY_FEATURES, answer_features, feature_names
from .logistic import choose_C, fit_logistic

FORMAT = "headentropy.ConfidenceScorer/1"
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
    def __init__(self, feature_set: str = "all", C: float | None = None):
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {feature_set!r}")
        self.feature_set = feature_set
        self.C = C  # None: chosen by cross-validation in fit()
        self.names: list[str] = []
        self.mean = self.std = self.weight = None  # [F] float64 after fit/load
        self.bias = torch.zeros((), dtype=torch.float64)
        self.model_name = ""
        self.num_layers = self.num_heads = 0
        self.info: dict = {}  # training summary (rows, positives, groups, C and its CV losses)

    @property
    def fitted(self) -> bool:
        return self.weight is not None

    # ---- features ---------------------------------------------------------------------------
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
            x = answer_features(t)  # [B, all features]
            keep = torch.tensor([_in_set(n, self.feature_set) for n in feature_names(L, H)])
            rows.append(x[:, keep])
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
        self.names = [n for n in all_names if _in_set(n, self.feature_set)]
        x = x[:, torch.tensor([_in_set(n, self.feature_set) for n in all_names])].double()
        y = torch.as_tensor([bool(v) for v in labels], dtype=torch.float64)
        if len(y) != x.shape[0]:
            raise ValueError(f"{len(y)} labels for {x.shape[0]} generated answers")
        if groups is not None and len(groups) != len(y):
            raise ValueError(f"{len(groups)} groups for {len(y)} labels")
        if y.min() == y.max():
            raise ValueError("the labels are all the same: a scorer needs both correct and wrong answers")
        self.mean = torch.nanmean(x, dim=0).nan_to_num(0.0)
        var = torch.nanmean((x - self.mean) ** 2, dim=0).nan_to_num(0.0)
        self.std = torch.where(var > 1e-12, var.sqrt(), torch.ones_like(var))
        z = self._standardised(x)
        losses = {}
        C = self.C
        if C is None:
            C, losses = choose_C(z, y, list(groups) if groups is not None else None)
        self.weight, self.bias = fit_logistic(z, y, C)
        self.info = {"rows": len(y), "correct": int(y.sum()), "groups": sorted(set(groups)) if groups else [],
                     "C": C, "cv_log_loss": {str(k): v for k, v in losses.items()}}
        self.C = C
        return self

    def score_features(self, x: torch.Tensor) -> torch.Tensor:
        """`score` from precomputed `answer_features` `[n, all features]`."""
        keep = torch.tensor([_in_set(n, self.feature_set) for n in feature_names(self.num_layers, self.num_heads)])
        if x.shape[1] != len(keep):
            raise ScorerError(f"{x.shape[1]} features given; this scorer's model has {len(keep)}")
        return _probability(self.logit(x[:, keep]))

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
        meta = {"format": FORMAT, "model_name": self.model_name, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "feature_set": self.feature_set, "features": self.names,
                "info": self.info}
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
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r}")
            tensors = load_file(str(folder / "scorer.safetensors"))
            scorer = cls(feature_set=meta["feature_set"], C=meta["info"].get("C"))
            scorer.names = [str(n) for n in meta["features"]]
            scorer.model_name = str(meta["model_name"])
            scorer.num_layers, scorer.num_heads = int(meta["num_layers"]), int(meta["num_heads"])
            scorer.info = dict(meta["info"])
            scorer.mean, scorer.std, scorer.weight = tensors["mean"], tensors["std"], tensors["weight"]
            scorer.bias = tensors["bias"].reshape(())
            expected = [n for n in feature_names(scorer.num_layers, scorer.num_heads) if _in_set(n, scorer.feature_set)]
            if scorer.names != expected or any(t.shape != (len(expected),) for t in (scorer.mean, scorer.std, scorer.weight)):
                raise ValueError("feature names or tensor shapes do not match the model shape in scorer.json")
            if not all(bool(torch.isfinite(t).all()) for t in (scorer.mean, scorer.std, scorer.weight, scorer.bias)):
                raise ValueError("non-finite parameters")
        except FileNotFoundError as e:
            shipped = ", ".join(sorted(p.name for p in _SHIPPED.iterdir() if p.is_dir())) if _SHIPPED.is_dir() else "none"
            raise ScorerError(f"{os.fspath(source)} is not a headentropy confidence scorer: {e.filename} is missing "
                              f"(shipped scorers: {shipped})") from None
        except (SafetensorError, OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise ScorerError(f"{os.fspath(source)} is not a headentropy confidence scorer: {e}") from None
        return scorer
