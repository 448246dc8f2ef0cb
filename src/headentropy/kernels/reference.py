"""fp64 materialised ground truth: builds the full P matrix. Small inputs only."""

from __future__ import annotations

import torch

from .problem import AttentionProblem, masked_scores, nonfinite_value_keys
from .result import AttentionResult

# P is materialised in fp64 (plus a few temporaries of the same size): refuse beyond this.
MAX_REFERENCE_ELEMENTS = 1 << 27  # 128 Mi scores = 1 GiB per fp64 copy


def reference_attention(problem: AttentionProblem, *, precise: bool = False) -> AttentionResult:
    """Materialise P in fp64. `precise=True` keeps the statistics and `out` in fp64 (for tests)."""
    n_scores = problem.batch * problem.q_heads * problem.q_len * problem.k_len
    if n_scores > MAX_REFERENCE_ELEMENTS:
        raise ValueError(
            f"backend='reference' materialises the full B*Hq*Lq*Lk = {n_scores} score matrix in "
            f"fp64; the limit is {MAX_REFERENCE_ELEMENTS}. Use backend='torch' or 'auto'."
        )
    g = problem.group
    q = problem.q.to(torch.float64)  # [B, Hq, Lq, D]
    k = problem.k.to(torch.float64).repeat_interleave(g, dim=1)  # [B, Hq, Lk, D]
    scores = torch.matmul(q, k.transpose(-1, -2)) * problem.scale  # [B, Hq, Lq, Lk]
    scores = masked_scores(problem, scores, 0, problem.q_len, 0, problem.k_len)

    lse = torch.logsumexp(scores, dim=-1)  # [B, Hq, Lq]; -inf for a fully masked row
    empty = lse == float("-inf")
    safe_lse = torch.where(empty, torch.zeros_like(lse), lse)
    p = torch.exp(scores - safe_lse[..., None])  # [B, Hq, Lq, Lk]; 0 at masked keys
    shannon = -torch.special.xlogy(p, p).sum(dim=-1)
    renyi2 = -torch.log((p * p).sum(dim=-1))
    sink = p[..., : problem.sink_tokens].sum(dim=-1)
    zero = torch.zeros_like(lse)
    shannon = torch.where(empty, zero, shannon)
    renyi2 = torch.where(empty, zero, renyi2)

    out = None
    v_clean, bad = nonfinite_value_keys(problem.v)
    if v_clean is not None:
        v64 = v_clean.to(torch.float64).repeat_interleave(g, dim=1)  # [B, Hq, Lk, Dv]
        out64 = torch.matmul(p, v64)  # [B, Hq, Lq, Dv]
        if bad is not None:
            bad_mass = torch.matmul(p, bad.to(torch.float64).repeat_interleave(g, dim=1)[..., None])
            out64 = torch.where(bad_mass > 0, torch.full_like(out64, float("nan")), out64)
        out = out64 if precise else out64.to(problem.v.dtype)

    stats_dtype = torch.float64 if precise else torch.float32
    shannon, renyi2, lse, sink = (x.to(stats_dtype) for x in (shannon, renyi2, lse, sink))
    return AttentionResult(out, shannon, renyi2, lse, sink, backend="reference")
