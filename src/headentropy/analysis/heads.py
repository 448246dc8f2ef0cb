"""Per-head statistics: mean entropy, inter-head variance, redundant pairs, pruning candidates."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import thresholds as T
from ..trace import EntropyTrace
from ._select import finite_or_nan, json_fields, normalized, raw


@dataclass(frozen=True)
class HeadStats:
    layers: list[int]
    mean_normalized: torch.Tensor  # [L, H] mean H / log n per head
    mean_sink_mass: torch.Tensor  # [L, H] mean probability on the sink tokens (NaN if not recorded)
    inter_head_variance: torch.Tensor  # [L] variance over heads of mean_normalized
    correlation: torch.Tensor  # [L, H, H] Pearson correlation of per-token entropy series
    redundant_pairs: list[dict]  # {"layer", "heads": (a, b), "correlation"}, strongest first
    low_variance_layers: list[int]  # layers with inter-head variance < LOW_HEAD_VARIANCE
    pruning_candidates: list[dict]  # {"layer", "head", "score", "mean_sink_mass", "mean_normalized_entropy"}, best first

    def to_dict(self) -> dict:
        return json_fields(self, skip=("correlation",))  # [L, H, H] is too big for a report


def _series_correlation(h: torch.Tensor) -> torch.Tensor:
    """h: [H, T] series per head (NaN = missing). Returns [H, H] Pearson over shared entries."""
    ok = torch.isfinite(h).all(dim=0)  # [T]: positions every head has
    x = h[:, ok].double()
    if x.shape[1] < 3:
        return torch.full((h.shape[0], h.shape[0]), float("nan"))
    x = x - x.mean(dim=1, keepdim=True)
    norm = x.norm(dim=1)
    corr = (x @ x.T) / (norm[:, None] * norm[None, :])
    # A constant series has no correlation to speak of.
    corr = torch.where((norm[:, None] > 0) & (norm[None, :] > 0), corr, torch.full_like(corr, float("nan")))
    return corr.float()


def pruning_score(mean_sink_mass: torch.Tensor, correlation: torch.Tensor) -> torch.Tensor:
    """Higher = more likely dispensable. [L, H].

    A head that parks most of its probability on the sink tokens (dormant head) writes an almost
    constant vector, and a head whose entropy moves in lockstep with another head of its layer
    duplicates it. Score = mean sink mass + max correlation with another head of the layer
    (each term in [0, 1]; a missing term counts 0). VALIDATION.md measures whether pruning by
    this ranking beats pruning random heads.
    """
    L, H = mean_sink_mass.shape
    eye = torch.eye(H, dtype=torch.bool)
    others = torch.where(eye, torch.full_like(correlation, float("nan")), correlation)  # [L, H, H]
    max_corr = torch.nan_to_num(torch.where(torch.isfinite(others), others, torch.full_like(others, -1.0)).amax(dim=2), nan=0.0)
    max_corr = max_corr.clamp(min=0.0)
    sink = torch.nan_to_num(mean_sink_mass, nan=0.0)
    return sink + max_corr


def head_stats(trace: EntropyTrace, top_k: int = 20) -> HeadStats:
    """Per-head statistics over usable positions; no pruning candidate from a head without data."""
    h = normalized(trace, "shannon")  # [B, L, H, N]
    B, L, H, N = h.shape
    per_head = finite_or_nan(h.permute(1, 2, 0, 3).reshape(L, H, B * N).nanmean(dim=2))  # [L, H]
    if trace.sink_mass is not None:
        sink = raw(trace, "sink_mass")  # [B, L, H, N]; with <= 4 keys the sink is ~1 by construction
        mean_sink = finite_or_nan(sink.permute(1, 2, 0, 3).reshape(L, H, B * N).nanmean(dim=2))
    else:
        mean_sink = torch.full((L, H), float("nan"))

    series = h.permute(1, 2, 0, 3).reshape(L, H, B * N)  # [L, H, T]
    corr = torch.stack([_series_correlation(series[i]) for i in range(L)]) if L else torch.zeros(0, H, H)
    return head_stats_from(list(trace.layers), per_head, mean_sink, corr, top_k)


def head_stats_from(layers: list[int], per_head: torch.Tensor, mean_sink: torch.Tensor, corr: torch.Tensor,
                    top_k: int = 20) -> HeadStats:
    """HeadStats from per-head means `[L, H]`, mean sink mass `[L, H]` and head correlations
    `[L, H, H]` — from one trace (`head_stats`) or from corpus aggregates alike."""
    L, H = per_head.shape
    variance = per_head.var(dim=1, unbiased=False)  # [L]
    pairs = []
    for li in range(L):
        for a in range(H):
            for b in range(a + 1, H):
                c = float(corr[li, a, b])
                if c == c and c >= T.REDUNDANT_CORRELATION:
                    pairs.append({"layer": layers[li], "heads": [a, b], "correlation": round(c, 4)})
    pairs.sort(key=lambda p: -p["correlation"])
    low_var = [layers[i] for i in range(L) if float(variance[i]) < T.LOW_HEAD_VARIANCE]

    score = pruning_score(mean_sink, corr)  # [L, H]
    has_data = torch.isfinite(per_head).flatten()  # [L·H]
    order = [i for i in torch.argsort(score.flatten(), descending=True).tolist() if has_data[i]][:top_k]
    candidates = []
    for idx in order:
        li, hi = divmod(idx, H)
        candidates.append({
            "layer": layers[li],
            "head": hi,
            "score": round(float(score[li, hi]), 4),
            "mean_sink_mass": None if mean_sink[li, hi] != mean_sink[li, hi] else round(float(mean_sink[li, hi]), 4),
            "mean_normalized_entropy": None if per_head[li, hi] != per_head[li, hi] else round(float(per_head[li, hi]), 4),
        })
    return HeadStats(list(layers), per_head, mean_sink, variance, corr, pairs, low_var, candidates)
