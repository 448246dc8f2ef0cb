"""Which entries of a trace the analyses average over, in one place."""

from __future__ import annotations

import torch

from .thresholds import MIN_KEYS


def usable_positions(trace, min_keys: int = 2) -> torch.Tensor:
    """bool [B, L, N]: valid (not padding) positions whose query sees at least `min_keys` keys.

    Normalised entropy H / log n needs n >= 2; per-position statistics use MIN_KEYS.
    """
    return trace.valid[:, None, :] & (trace.n_keys >= min_keys)  # [B, L, N]


def normalized(trace, stat: str = "shannon", min_keys: int = 2) -> torch.Tensor:
    """H / log n_keys `[B, L, H, N]`, NaN where the position is not usable."""
    h = trace.stat(stat).to(torch.float32)  # [B, L, H, N]
    n = trace.n_keys.to(torch.float32)[:, :, None, :]  # [B, L, 1, N]
    ok = usable_positions(trace, min_keys)[:, :, None, :]
    return torch.where(ok, h / torch.log(n.clamp(min=2)), torch.full_like(h, float("nan")))


def raw(trace, stat: str = "shannon", min_keys: int = 1) -> torch.Tensor:
    """The statistic itself `[B, L, H, N]`, NaN where the position is not usable."""
    h = trace.stat(stat).to(torch.float32)
    ok = usable_positions(trace, min_keys)[:, :, None, :]
    return torch.where(ok, h, torch.full_like(h, float("nan")))


def per_position(trace, stat: str = "shannon") -> torch.Tensor:
    """Mean normalised entropy over layers and heads per position `[B, N]` (positions with
    >= MIN_KEYS keys in every layer; NaN elsewhere)."""
    h = normalized(trace, stat, MIN_KEYS)  # [B, L, H, N]
    return h.flatten(1, 2).nanmean(dim=1)  # [B, N]


def finite_or_nan(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.full_like(x, float("nan")))


def to_list(x: torch.Tensor) -> list:
    """JSON-friendly floats (None for NaN)."""
    return [None if v != v else round(float(v), 6) for v in x.flatten().tolist()] if x.dim() <= 1 else [
        to_list(row) for row in x
    ]
