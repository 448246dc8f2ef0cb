"""Evaluate confidence scores on labelled generations, against the baselines a reviewer asks for.

Every score is oriented so that higher means "more likely correct"; the orientation of each
baseline is fixed in advance (never chosen on the test rows):

| baseline                  | confidence                                  |
|---------------------------|---------------------------------------------|
| `mean_logprob`            | mean token log-probability over the answer   |
| `min_logprob`             | the least likely answer token               |
| `predictive_entropy`      | − mean entropy of the next-token distribution |
| `answer_length`           | − number of answer tokens                   |
| `attention_entropy`       | − mean normalised attention entropy (the seed's claim: higher ⇒ wrong) |
| `spike_detector`          | − 1 when the entropy_spike detector fires on the answer, else 0 |

Protocols: `cross_validated` (k folds over the rows; in-domain) and `leave_one_group_out`
(fit on every domain but one, score the one left out: transfer to unseen question domains).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .logistic import C_GRID, folds
from .metrics import auroc, bootstrap, prr
from .qa import GenerationSet
from .scorer import ConfidenceScorer

BASELINES = ("mean_logprob", "min_logprob", "predictive_entropy", "answer_length", "attention_entropy",
             "spike_detector")


def baseline_scores(gs: GenerationSet) -> dict[str, torch.Tensor]:
    """`[n]` confidence per baseline (NaN features -> the baseline's least confident value)."""
    def filled(x: torch.Tensor) -> torch.Tensor:
        low = float(x[~torch.isnan(x)].min()) - 1 if bool((~torch.isnan(x)).any()) else 0.0
        return torch.nan_to_num(x, nan=low)

    return {
        "mean_logprob": filled(gs.feature("mean_logprob")),
        "min_logprob": filled(gs.feature("min_logprob")),
        "predictive_entropy": filled(-gs.feature("mean_predictive_entropy")),
        "answer_length": filled(-torch.expm1(gs.feature("log_length"))),
        "attention_entropy": filled(-gs.feature("mean_shannon")),
        "spike_detector": -torch.tensor([float(r.spikes > 0) for r in gs.rows], dtype=torch.float64),
    }


def cross_validated(gs: GenerationSet, feature_set: str = "all", k: int = 5, seed: int = 0, **design) -> torch.Tensor:
    """Out-of-fold scores `[n]`: each row scored by a scorer fitted without its fold.

    `design`: further `ConfidenceScorer` arguments (aggregation, top_k, stack, c_grid)."""
    scores = torch.full((len(gs),), float("nan"), dtype=torch.float64)
    for test in folds(len(gs), None, k=k, seed=seed):
        train = torch.ones(len(gs), dtype=torch.bool)
        train[test] = False
        scorer = _fit(gs.subset(train), feature_set, **design)
        scores[test] = scorer.score_features(gs.features[test])
    return scores


def leave_one_group_out(gs: GenerationSet, feature_set: str = "all", fitted: dict | None = None,
                        **design) -> torch.Tensor:
    """Scores `[n]`: each domain scored by a scorer fitted on the other domains only (everything
    the fit chooses, C, selected heads, the stack's meta-learner, from those domains alone).
    `fitted`, when given, receives each left-out domain's scorer."""
    scores = torch.full((len(gs),), float("nan"), dtype=torch.float64)
    domains = gs.domains
    for domain in sorted(set(domains)):
        test = torch.tensor([d == domain for d in domains])
        scorer = _fit(gs.subset(~test), feature_set, **design)
        scores[test] = scorer.score_features(gs.features[test])
        if fitted is not None:
            fitted[domain] = scorer
    return scores


def _fit(gs: GenerationSet, feature_set: str = "all", **design) -> ConfidenceScorer:
    return ConfidenceScorer(feature_set=feature_set, **design).fit_features(
        gs.features, gs.labels, gs.num_layers, gs.num_heads, gs.model_name, groups=gs.domains)


# ---- model selection for transfer (issue 14): fixed before the comparison was run ---------------
# Each candidate is a ConfidenceScorer design; the one shipped is chosen by leave-one-domain-out
# on the training domains only (`select_design`), never by a held-out domain.
#
# Second round (after the per-head design fell below the token log-probability on the held-out
# domain `numbers`, which then joined the training domains): written down before any of them was
# run on the five training domains, and before any scorer was run on the fresh held-out domains.
# Why the per-head design may transfer badly: 1362 weakly regularised per-head features let the
# fit use whatever separates the training domains (which differ in accuracy and in how their
# answers look), and nothing keeps it near the logits' evidence on a new domain. The new designs
# (1) keep the logits model as the base and let attention add only a strongly regularised
# correction (`residual`), (2) keep only heads whose direction agrees in every training domain
# (`selection="stable"`), and (3) centre each training domain on its own mean while fitting
# (`domain_centred`), so the weights learn the ranking inside a domain, which is what a held-out
# domain's AUROC measures.
WIDE_C_GRID = (1e-5, 3e-5, 1e-4, 3e-4) + C_GRID
CANDIDATES: dict[str, dict] = {
    "per-head (previous design)": {"feature_set": "all"},
    "logits only": {"feature_set": "logits"},
    "per-layer means + logits": {"feature_set": "all", "aggregation": "layer"},
    "stack: logits model + per-layer attention model": {"feature_set": "all", "aggregation": "layer", "stack": True},
    "20 stable heads + logits": {"feature_set": "all", "top_k": 20, "selection": "stable"},
    "residual: logits + per-head correction": {"feature_set": "all", "residual": True},
    "residual: logits + per-layer correction": {"feature_set": "all", "aggregation": "layer", "residual": True},
    "residual: logits + 20 stable heads": {"feature_set": "all", "residual": True, "top_k": 20, "selection": "stable"},
    "domain-centred: logits only": {"feature_set": "logits", "domain_centred": True},
    "domain-centred: per-head": {"feature_set": "all", "domain_centred": True},
    "domain-centred residual: logits + per-head correction": {"feature_set": "all", "residual": True,
                                                              "domain_centred": True},
    "domain-centred residual: logits + per-layer correction": {"feature_set": "all", "aggregation": "layer",
                                                               "residual": True, "domain_centred": True},
    "domain-centred residual: logits + 20 stable heads": {"feature_set": "all", "residual": True, "top_k": 20,
                                                          "selection": "stable", "domain_centred": True},
    # Third round (issue 14), added before the comparison on the 7 training domains (art and animals, both
    # spent as held-out domains, joined the 5 before) and before any scorer was run on the fresh held-out
    # domains mythology, food and sports. In the second round the chosen per-layer design (162 features)
    # transferred worse than the per-head design, and neither beat the token log-probability on `animals`:
    # the few-feature end of the range was not tried. These use the whole-model head means (5 attention
    # groups + 2 summaries + 10 logit features = 17), the fewest attention features that still carry every
    # statistic, plain, domain-centred and as a residual correction of the logits model.
    "model means + logits": {"feature_set": "all", "aggregation": "model"},
    "domain-centred: model means + logits": {"feature_set": "all", "aggregation": "model", "domain_centred": True},
    "domain-centred: per-layer means + logits": {"feature_set": "all", "aggregation": "layer", "domain_centred": True},
    "residual: logits + model-means correction": {"feature_set": "all", "aggregation": "model", "residual": True},
    "domain-centred residual: logits + model-means correction": {"feature_set": "all", "aggregation": "model",
                                                                 "residual": True, "domain_centred": True},
}
# Third round rule (declared before the comparison was run). The must-show compares, inside each held-out
# domain, the scorer's AUROC with the token log-probability's. So each candidate is judged by its margin
# over the mean token log-probability inside each left-out training domain, and a candidate that wins on
# average but loses badly in some domains is penalised: the criterion is the mean margin minus its standard
# error over the domains (a one-standard-error lower bound on the margin to expect in a new domain). The
# second round's mean within-domain AUROC ranked candidates by their average alone, and its winner lost to
# the log-probability on one of the two fresh domains although its LODO mean was the highest.
SELECTION_RULE = ("the candidate with the highest lower bound on its margin over the token log-probability in an "
                  "unseen domain: over the training domains each left out in turn, the margin is the candidate's "
                  "AUROC inside the left-out domain minus the mean token log-probability's AUROC there, and the "
                  "criterion is the mean margin minus its standard error (standard deviation over the domains / "
                  "sqrt(number of domains)), because the must-show asks for the scorer to be above the "
                  "log-probability inside each held-out domain, so consistency counts as well as the average; a "
                  "candidate within 0.005 of the best with fewer features is preferred (simpler transfers more "
                  "safely); declared before the comparison was run")


def selection_criterion(per: dict[str, float], base: dict[str, float]) -> float:
    """SELECTION_RULE's value: mean over domains of (AUROC - baseline AUROC) minus its standard error."""
    m = torch.tensor([per[d] - base[d] for d in sorted(per)], dtype=torch.float64)
    se = float(m.std(unbiased=True)) / len(m) ** 0.5 if len(m) > 1 else 0.0
    return float(m.mean()) - se


def domain_masks(domains: list[str]) -> dict[str, torch.Tensor]:
    """Each domain's rows as a `[n]` bool mask, domains sorted by name."""
    return {d: torch.tensor([x == d for x in domains]) for d in sorted(set(domains))}


def per_domain_auroc(scores: torch.Tensor, correct: torch.Tensor, domains: list[str]) -> dict[str, float]:
    """AUROC inside each domain (sorted by name)."""
    return {d: auroc(scores[m], correct[m]) for d, m in domain_masks(domains).items()}


@dataclass
class Selection:
    scores: dict[str, torch.Tensor]  # candidate -> LODO scores [n] on the training rows
    features: dict[str, int]  # candidate -> features of the scorer fitted on all training rows
    chosen: str
    folds: dict[str, dict[str, ConfidenceScorer]]  # candidate -> left-out domain -> its scorer
    value: dict[str, float] | None = None  # candidate -> the rule's criterion (`selection_criterion`)
    meta_weights: dict | None = None  # stack candidates: left-out domain -> the meta-learner's weights


def select_design(gs: GenerationSet, candidates: dict[str, dict] | None = None, log=None) -> Selection:
    """Leave-one-domain-out scores of every candidate design on `gs` and the one SELECTION_RULE picks.

    `gs` must hold the training domains only (the caller removes any held-out domain first).
    `log(str)`, when given, hears the seconds each candidate took.
    """
    import time

    candidates = CANDIDATES if candidates is None else candidates
    y = gs.labels
    base = per_domain_auroc(baseline_scores(gs)["mean_logprob"], y, gs.domains)
    scores, sizes, value, fitted = {}, {}, {}, {}
    for name, design in candidates.items():
        t0 = time.time()
        fitted[name] = {}
        scores[name] = leave_one_group_out(gs, fitted=fitted[name], **design)
        value[name] = selection_criterion(per_domain_auroc(scores[name], y, gs.domains), base)
        sizes[name] = len(_fit(gs, **design).names)
        if log is not None:
            log(f"{name}: {time.time() - t0:.0f} s")
    best = max(value.values())
    near = [n for n in candidates if value[n] >= best - 0.005]
    chosen = min(near, key=lambda n: (sizes[n], -value[n]))
    return Selection(scores, sizes, chosen, fitted, value)


@dataclass
class Row:
    method: str
    n: int
    accuracy: float  # fraction of correct answers among the rows
    auroc: tuple[float, float, float]  # value, 95% low, 95% high
    prr: tuple[float, float, float]

    def markdown(self) -> str:
        f = lambda v: f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"  # noqa: E731
        return f"| {self.method} | {self.n} | {self.accuracy:.2f} | {f(self.auroc)} | {f(self.prr)} |"


HEADER = "| method | answers | accuracy | AUROC [95% CI] | PRR [95% CI] |\n|---|---|---|---|---|"


def compare(scores: dict[str, torch.Tensor], correct: torch.Tensor, n_boot: int = 1000) -> list[Row]:
    """One table row per score, with bootstrap intervals over the same resamples' seed."""
    y = correct.bool()
    return [Row(name, len(y), float(y.double().mean()), bootstrap(auroc, s, y, n_boot), bootstrap(prr, s, y, n_boot))
            for name, s in scores.items()]


def evaluation(scorer: ConfidenceScorer | None, gs: GenerationSet, n_boot: int = 1000) -> dict[str, list[Row]]:
    """The tables `headentropy evaluate` prints, on one generation set.

    * "given scorer": the scorer as it is (no refit), with the baselines;
    * "in-domain (5-fold)" and "leave one domain out": scorers refitted on this data's folds /
      other domains (the latter only with >= 3 domains), with the baselines.
    """
    y = gs.labels
    base = {f"baseline: {k}": v for k, v in baseline_scores(gs).items()}
    tables: dict[str, list[Row]] = {}
    if scorer is not None:
        tables["given scorer"] = compare({"scorer": scorer.score_features(gs.features), **base}, y, n_boot)
    if bool(y.all()) or not bool(y.any()):
        return tables  # one class: nothing can be refitted
    tables["in-domain (5-fold cross-validation)"] = compare(
        {f"scorer ({fs})": cross_validated(gs, fs) for fs in ("all", "attention", "logits")} | base, y, n_boot)
    if len(set(gs.domains)) >= 3:
        tables["leave one domain out"] = compare(
            {f"scorer ({fs})": leave_one_group_out(gs, fs) for fs in ("all", "attention", "logits")} | base, y, n_boot)
    return tables


def markdown(tables: dict[str, list[Row]]) -> str:
    return "\n\n".join(f"### {name}\n\n{HEADER}\n" + "\n".join(r.markdown() for r in rows) for name, rows in tables.items())


def plot_risk_coverage(scores: dict[str, torch.Tensor], correct: torch.Tensor, path, title: str) -> None:
    """Selective risk against coverage for each score, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import risk_coverage

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, s in scores.items():
        cov, risk = risk_coverage(s, correct)
        ax.plot(cov.numpy(), risk.numpy(), label=f"{name} (AUROC {auroc(s, correct):.2f})")
    ax.set_xlabel("coverage (fraction of answers kept, most confident first)")
    ax.set_ylabel("error rate among kept answers")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
