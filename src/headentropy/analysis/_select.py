"""Which entries of a trace the analyses average over, in one place.

One rule for every analysis: a position counts when it is valid (not padding) and its query sees
at least `MIN_KEYS` keys in that layer; with fewer keys `H / log n` moves in large steps and
a sink of 4 tokens holds most of the mass by construction. A trace with fewer than
`MIN_POSITIONS` such positions is not analysed at all (`data_sufficiency`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch

from ..trace import EntropyTrace, normalized_entropy
from .thresholds import MIN_KEYS, MIN_POSITIONS


def _enough_keys(trace: EntropyTrace) -> torch.Tensor:
    return trace.valid[:, None, :] & (trace.n_keys >= MIN_KEYS)  # [B, L, N]


def usable_positions(trace: EntropyTrace, gated: bool = True) -> torch.Tensor:
    """bool [B, L, N]: valid positions whose query sees at least MIN_KEYS keys in that layer;
    with `gated`, none at all when the trace has too few of them (`data_sufficiency`), so that
    every analysis reports n/a instead of a number drawn from a handful of tokens. Corpus
    aggregates use `gated=False`: a short text still adds its positions to the corpus."""
    ok = _enough_keys(trace)
    if not gated or int(ok.all(dim=1).sum()) >= MIN_POSITIONS:
        return ok
    return torch.zeros_like(ok)


@dataclass(frozen=True)
class DataSufficiency:
    usable_positions: int  # positions usable in every recorded layer
    required: int  # MIN_POSITIONS
    min_keys: int  # MIN_KEYS
    enough: bool
    reason: str  # "" when enough; otherwise one sentence a user can act on

    def to_dict(self) -> dict:
        return asdict(self)


def data_sufficiency(trace: EntropyTrace) -> DataSufficiency:
    """Whether the trace holds enough positions for the analyses to mean anything."""
    n = int(_enough_keys(trace).all(dim=1).sum()) if trace.layers else 0  # [B, L, N] -> count
    enough = n >= MIN_POSITIONS
    reason = "" if enough else (
        f"not enough tokens to analyse: {n} position(s) see at least {MIN_KEYS} keys, "
        f"{MIN_POSITIONS} are needed (for a causal model a text of at least {MIN_KEYS + MIN_POSITIONS - 1} "
        "tokens, or generate more)")
    return DataSufficiency(n, MIN_POSITIONS, MIN_KEYS, enough, reason)


def normalized(trace: EntropyTrace, stat: str = "shannon", gated: bool = True) -> torch.Tensor:
    """H / log n_keys `[B, L, H, N]`, NaN where the position is not usable."""
    usable = usable_positions(trace, gated)[:, :, None, :]  # [B, L, 1, N]
    return normalized_entropy(trace.stat(stat), trace.n_keys[:, :, None, :], usable)


def raw(trace: EntropyTrace, stat: str = "shannon", gated: bool = True) -> torch.Tensor:
    """The statistic itself `[B, L, H, N]`, NaN where the position is not usable."""
    h = trace.stat(stat).to(torch.float32)
    ok = usable_positions(trace, gated)[:, :, None, :]
    return torch.where(ok, h, torch.full_like(h, float("nan")))


def per_position(trace: EntropyTrace, stat: str = "shannon") -> torch.Tensor:
    """Mean normalised entropy over layers and heads per position `[B, N]` (NaN where no layer
    has a usable entry)."""
    h = normalized(trace, stat)  # [B, L, H, N]
    return h.flatten(1, 2).nanmean(dim=1)  # [B, N]


def finite_or_nan(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.full_like(x, float("nan")))


def number(x) -> float | None:
    """A JSON-friendly float: None for NaN/inf or None, else rounded."""
    if x is None:
        return None
    x = float(x)
    return round(x, 6) if x == x and abs(x) != float("inf") else None


def to_list(x: torch.Tensor) -> list:
    """JSON-friendly floats (None for NaN)."""
    return [number(v) for v in x.flatten().tolist()] if x.dim() <= 1 else [to_list(row) for row in x]


def json_fields(result, skip: tuple[str, ...] = ()) -> dict:
    """An analysis result (a dataclass) as JSON-friendly data, its fields in declaration order:
    tensors as nested lists and floats through `number` (None for NaN/inf), lists copied, the rest
    (str, dict, lists of dicts) as they are. The `to_dict` of HeadStats, LayerProfile, TokenStats."""
    out = {}
    for f in fields(result):
        if f.name in skip:
            continue
        value = getattr(result, f.name)
        if isinstance(value, torch.Tensor):
            value = to_list(value)
        elif isinstance(value, float):
            value = number(value)
        elif isinstance(value, list):
            value = list(value)
        out[f.name] = value
    return out
