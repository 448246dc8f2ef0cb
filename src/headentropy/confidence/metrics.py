"""How well a confidence score separates correct from wrong answers (docs/design.md §13).

All take `confidence [n]` (higher = more likely correct) and `correct [n]` bool.

* `auroc`: P(confidence of a random correct answer > that of a random wrong one), ties count 1/2.
* `risk_coverage`: keep the k most confident answers, k = 1..n: coverage k/n and the error rate
  among them ("selective risk"); `aurc` is its mean.
* `prr`: prediction rejection ratio (Malinin et al. 2017): how much of the gap between a random
  order and the oracle order (all correct answers first) the score closes; 1 = oracle, 0 = random.
* `bootstrap`: a 95% percentile interval by resampling questions with replacement.
"""

from __future__ import annotations

from typing import Callable

import torch


def _as(confidence, correct) -> tuple[torch.Tensor, torch.Tensor]:
    c = torch.as_tensor(confidence, dtype=torch.float64).flatten()
    y = torch.as_tensor(correct).flatten().bool()
    if c.shape != y.shape:
        raise ValueError(f"{c.numel()} scores for {y.numel()} labels")
    if bool(torch.isnan(c).any()):
        raise ValueError("confidence scores contain NaN")
    return c, y


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (1-based) with ties sharing the mean rank."""
    order = torch.argsort(x, stable=True)
    xs = x[order]
    ranks = torch.empty_like(x)
    ranks[order] = torch.arange(1, len(x) + 1, dtype=torch.float64)
    _, inverse, counts = torch.unique_consecutive(xs, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # of each tie group
    ranks[order] = mean_rank[inverse]
    return ranks


def auroc(confidence, correct) -> float:
    c, y = _as(confidence, correct)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _ranks(c)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def risk_coverage(confidence, correct) -> tuple[torch.Tensor, torch.Tensor]:
    """(coverage `[n]`, selective risk `[n]`), most confident first. Tied scores are taken in
    random order, in expectation: a tie group's errors accrue evenly across it (so neither the
    input order nor a constant score is rewarded)."""
    c, y = _as(confidence, correct)
    order = torch.argsort(-c, stable=True)
    wrong = (~y[order]).double()
    _, counts = torch.unique_consecutive(-c[order], return_counts=True)
    group = torch.repeat_interleave(torch.arange(len(counts)), counts)  # tie group of each sorted item
    group_errors = torch.zeros(len(counts), dtype=torch.float64).index_add_(0, group, wrong)
    before = torch.cat([torch.zeros(1, dtype=torch.float64), group_errors.cumsum(0)[:-1]])  # errors of earlier groups
    start = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)[:-1]])
    pos = torch.arange(len(c)) - start[group] + 1  # 1-based position inside its group
    errors = before[group] + group_errors[group] * pos.double() / counts[group].double()
    k = torch.arange(1, len(c) + 1, dtype=torch.float64)
    return k / len(c), errors / k


def aurc(confidence, correct) -> float:
    return float(risk_coverage(confidence, correct)[1].mean())


def prr(confidence, correct) -> float:
    c, y = _as(confidence, correct)
    if y.all() or (~y).all():
        return float("nan")
    random = float((~y).double().mean())  # expected selective risk of a random order, at every k
    oracle = aurc(y.double(), y)
    return (random - aurc(c, y)) / (random - oracle)


def bootstrap(metric: Callable, confidence, correct, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(value, low, high): the metric and its 95% percentile interval over `n` resamples."""
    c, y = _as(confidence, correct)
    value = metric(c, y)
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        idx = torch.randint(0, len(c), (len(c),), generator=g)
        v = metric(c[idx], y[idx])
        if v == v:  # a resample with one class has no AUROC/PRR
            samples.append(v)
    if not samples:
        return value, float("nan"), float("nan")
    s = torch.tensor(samples, dtype=torch.float64)
    return value, float(torch.quantile(s, 0.025)), float(torch.quantile(s, 0.975))
