"""fp64 materialised ground truth: builds the full P matrix (and the dropout keep-mask). Small inputs only."""

from __future__ import annotations

import torch

from .dropout import head_keys, keep_tile, threshold
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

    # Written so that autograd through it is finite (never 0·inf): fully masked rows get finite
    # placeholder scores, and log P is 0 where P is 0.
    empty = (scores == float("-inf")).all(dim=-1)  # [B, Hq, Lq] fully masked rows
    safe = scores.masked_fill(empty[..., None], 0.0)
    lse = torch.logsumexp(safe, dim=-1)  # [B, Hq, Lq]
    log_p = safe - lse[..., None]  # [B, Hq, Lq, Lk]; -inf at masked keys
    p = torch.exp(log_p).masked_fill(empty[..., None], 0.0)  # 0 at masked keys and on empty rows
    shannon = -(p * torch.where(p > 0, log_p, torch.zeros_like(log_p))).sum(dim=-1)
    renyi2 = -torch.log((p * p).sum(dim=-1).masked_fill(empty, 1.0))
    sink = p[..., : problem.sink_tokens].sum(dim=-1)
    lse = lse.masked_fill(empty, float("-inf"))

    out = None
    v_clean, bad = nonfinite_value_keys(problem.v)
    if v_clean is not None:
        p_v = p  # the probabilities P·V uses: P itself, or P ⊙ Z / (1 - p) with dropout
        if problem.has_dropout:
            keys = head_keys(problem.dropout_seed, problem.batch, problem.q_heads, p.device)  # [B, Hq]
            keep = keep_tile(keys, threshold(problem.dropout_p), 0, problem.q_len, 0, problem.k_len)
            p_v = torch.where(keep, p, 0.0) / (1.0 - problem.dropout_p)  # [B, Hq, Lq, Lk]; a dropped NaN is 0
        v64 = v_clean.to(torch.float64).repeat_interleave(g, dim=1)  # [B, Hq, Lk, Dv]
        out64 = torch.matmul(p_v, v64)  # [B, Hq, Lq, Dv]
        if bad is not None:
            bad_mass = torch.matmul(p_v, bad.to(torch.float64).repeat_interleave(g, dim=1)[..., None])
            out64 = torch.where(bad_mass > 0, torch.full_like(out64, float("nan")), out64)
        out = out64 if precise else out64.to(problem.v.dtype)

    stats_dtype = torch.float64 if precise else torch.float32
    shannon, renyi2, lse, sink = (x.to(stats_dtype) for x in (shannon, renyi2, lse, sink))
    return AttentionResult(out, shannon, renyi2, lse, sink, backend="reference")
