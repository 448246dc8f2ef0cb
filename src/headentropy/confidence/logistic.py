"""L2-regularised logistic regression in float64 with L-BFGS: small, transparent, no pickle.

minimise  Σ_i BCE(σ(x_i·w + b), y_i) + ||w||² / (2C)    (b not penalised; as liblinear/sklearn's C)

The regularisation strength C is chosen by cross-validated log loss (a proper scoring rule, so
the chosen model is the one whose probabilities are best calibrated on held-out rows). Folds
follow `groups` when given (e.g. question domains), so C is picked for transfer to unseen groups.

With `top_k`, a fit first keeps the k candidate columns whose univariate AUROC is farthest from
0.5 on its own training rows (plus the columns marked `always`); the selection is part of the fit,
so cross-validation repeats it inside every fold. With `selection="stable"` and groups (question
domains), a column's strength is instead its *worst* group: the smallest |AUROC - 0.5| over the
groups, and 0 when the groups disagree about its direction, so only columns that point the same
way in every training domain are kept.

`offset` (`fit_logistic`, `fit_selected`, `choose_C`): a fixed log-odds per row added to the
model's, for a correction fitted on top of another model (`ConfidenceScorer(residual=True)`).
"""

from __future__ import annotations

from typing import Callable

import torch

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, C: float, max_iter: int = 200,
                 offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x `[n, F]` float64 (standardised, finite), y `[n]` in {0, 1} -> (w `[F]`, b scalar).

    `offset` `[n]`: fixed log-odds added to `x @ w + b` (the start is then b = 0)."""
    x, y = x.double(), y.double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    p = y.mean().clamp(1e-3, 1 - 1e-3)
    start = torch.log(p / (1 - p)) if offset is None else torch.zeros((), dtype=torch.float64)
    b = start.reshape(()).clone().requires_grad_(True)  # start at the base rate (or at the offset)
    off = torch.zeros(len(y), dtype=torch.float64) if offset is None else offset.double()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b + off, y, reduction="sum")
        loss = loss + (w * w).sum() / (2 * C)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def univariate_auroc(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`[F]`: AUROC of each column of x `[n, F]` as a score for y (ties broken by order)."""
    ranks = torch.argsort(torch.argsort(x.double(), dim=0), dim=0).double() + 1  # [n, F]
    pos = y.bool()
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return (ranks[pos].sum(0) - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1)


SELECTIONS = ("auroc", "stable")


def stable_strength(x: torch.Tensor, y: torch.Tensor, groups: list[str]) -> torch.Tensor:
    """`[F]`: min over groups of |AUROC - 0.5|, 0 where the groups disagree on the direction
    (a group with one class only is skipped)."""
    per = []
    for g in sorted(set(groups)):
        m = torch.tensor([h == g for h in groups])
        if y[m].min() != y[m].max():
            per.append(univariate_auroc(x[m], y[m]) - 0.5)
    if not per:
        return (univariate_auroc(x, y) - 0.5).abs()
    a = torch.stack(per)  # [G, F]
    agree = (a > 0).all(0) | (a < 0).all(0)
    return torch.where(agree, a.abs().amin(0), torch.zeros_like(a[0]))


def select_columns(x: torch.Tensor, y: torch.Tensor, top_k: int | None, always: torch.Tensor | None = None,
                   groups: list[str] | None = None, selection: str = "auroc") -> torch.Tensor:
    """`[F]` bool: the `always` columns plus the `top_k` others with |AUROC - 0.5| largest
    (`selection="stable"` with groups: largest worst-group strength, `stable_strength`)."""
    F = x.shape[1]
    always = torch.zeros(F, dtype=torch.bool) if always is None else always
    if top_k is None or top_k >= int((~always).sum()):
        return torch.ones(F, dtype=torch.bool)
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    raw = stable_strength(x, y, groups) if selection == "stable" and groups else (univariate_auroc(x, y) - 0.5).abs()
    strength = raw.masked_fill(always, -1.0)
    keep = always.clone()
    keep[torch.argsort(strength, descending=True, stable=True)[:top_k]] = True
    return keep


def fit_selected(x: torch.Tensor, y: torch.Tensor, C: float, top_k: int | None = None,
                 always: torch.Tensor | None = None, groups: list[str] | None = None, selection: str = "auroc",
                 offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`fit_logistic` on `select_columns(x, y, top_k, always, groups, selection)`; w `[F]` is 0 off
    the selection."""
    keep = select_columns(x, y, top_k, always, groups, selection)
    w_kept, b = fit_logistic(x[:, keep], y, C, offset=offset)
    w = torch.zeros(x.shape[1], dtype=torch.float64)
    w[keep] = w_kept
    return w, b


def log_loss(p: torch.Tensor, y: torch.Tensor) -> float:
    p = p.double().clamp(1e-12, 1 - 1e-12)
    return float(-(y * torch.log(p) + (1 - y) * torch.log1p(-p)).mean())


def folds(n: int, groups: list[str] | None, k: int = 5, seed: int = 0) -> list[torch.Tensor]:
    """Held-out index sets: one per group when there are >= 3 groups, else k random folds."""
    if groups is not None and len(set(groups)) >= 3:
        names = sorted(set(groups))
        return [torch.tensor([i for i, g in enumerate(groups) if g == name]) for name in names]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return [perm[i::k] for i in range(k)]


def train_groups(groups: list[str] | None, train: torch.Tensor) -> list[str] | None:
    """The groups of the rows `train` (a `[n]` bool mask) keeps, in order; None stays None."""
    return None if groups is None else [g for g, t in zip(groups, train.tolist()) if t]


def choose_C(x: torch.Tensor, y: torch.Tensor, groups: list[str] | None, grid: tuple[float, ...] = C_GRID,
             top_k: int | None = None, always: torch.Tensor | None = None, selection: str = "auroc",
             offset: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[float, dict[float, float]]:
    """The C of `grid` with the lowest cross-validated log loss, and the loss of each.

    `offset(train_mask) -> [n]`: the fixed log-odds of every row from a base model fitted on the
    fold's training rows only (a residual correction is judged on top of it)."""
    # per fold, independent of C: (held-out rows, training mask, its groups, the base log-odds or None)
    fold_parts = []
    for test in folds(len(y), groups):
        train = torch.ones(len(y), dtype=torch.bool)
        train[test] = False
        if y[train].min() == y[train].max():  # one class only: nothing to learn from
            continue
        fold_parts.append((test, train, train_groups(groups, train), None if offset is None else offset(train)))
    losses = {}
    for C in grid:
        pooled_p, pooled_y = [], []
        for test, train, tg, off in fold_parts:
            w, b = fit_selected(x[train], y[train], C, top_k, always, tg, selection,
                                None if off is None else off[train])
            pooled_p.append(torch.sigmoid(x[test] @ w + b + (0 if off is None else off[test])))
            pooled_y.append(y[test])
        losses[C] = log_loss(torch.cat(pooled_p), torch.cat(pooled_y).double()) if pooled_p else float("inf")
    best = min(grid, key=lambda C: (losses[C], C))
    return best, losses
