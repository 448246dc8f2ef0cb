"""The immutable result of `he.attention()` and the exact merge of partial results."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AttentionResult:
    """Output and per-row statistics of one attention call (docs/design.md §1).

    All statistics are fp32, in nats, shaped `[B, Hq, Lq]`. A fully masked row has
    `shannon = renyi2 = sink_mass = 0` and `lse = -inf`; its `out` row is 0.
    """

    out: torch.Tensor | None  # [B, Hq, Lq, Dv], dtype of v; None when v was None
    shannon: torch.Tensor  # [B, Hq, Lq] H  = -Σ p log p
    renyi2: torch.Tensor  # [B, Hq, Lq] H2 = -log Σ p²
    lse: torch.Tensor  # [B, Hq, Lq] log Σ exp(s)
    sink_mass: torch.Tensor  # [B, Hq, Lq] Σ_{j < sink_tokens} p_j
    backend: str  # which backend produced it (after "auto" was resolved)


def merge_results(a: AttentionResult, b: AttentionResult) -> AttentionResult:
    """Combine results of the same queries over two *disjoint* key sets, exactly.

    With weights `w_i = exp(lse_i - lse)` of each part in the whole softmax:
    `H = Σ w_i (H_i - log w_i)`, `H2 = -log Σ w_i² exp(-H2_i)`, `out = Σ w_i out_i`.
    This is docs/design.md §1's (m, l, t, l2) merge written in terms of the public statistics.
    The sink mass is merged as if each part's sink keys were its own (sum of weighted masses).
    """
    lse = torch.logaddexp(a.lse, b.lse)  # [B, H, Lq]
    empty = lse == float("-inf")
    safe_lse = torch.where(empty, torch.zeros_like(lse), lse)
    parts = []
    for part in (a, b):
        w = torch.exp(part.lse - safe_lse)  # 0 for an empty part
        log_w = torch.where(w > 0, part.lse - safe_lse, torch.zeros_like(w))
        parts.append((part, w, log_w))
    shannon = sum(w * (p.shannon - log_w) for p, w, log_w in parts)
    collision = sum(w * w * torch.exp(-p.renyi2) for p, w, _ in parts)
    renyi2 = torch.where(empty, torch.zeros_like(lse), -torch.log(collision))
    shannon = torch.where(empty, torch.zeros_like(lse), shannon)
    sink = sum(w * p.sink_mass for p, w, _ in parts)
    out = None
    if a.out is not None and b.out is not None:
        out = sum(w[..., None] * p.out.float() for p, w, _ in parts).to(a.out.dtype)
    return AttentionResult(out, shannon, renyi2, lse, sink, backend=a.backend)
