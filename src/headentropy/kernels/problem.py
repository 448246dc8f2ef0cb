"""The validated description of one attention call, shared by every backend.

`dispatch.attention()` turns user arguments into an `AttentionProblem` once; backends read
from it and never re-validate. The mask helpers here are the single definition of which key a
query may see (causal alignment, window, user mask), so every backend agrees on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class AttentionProblem:
    q: torch.Tensor  # [B, Hq, Lq, D]
    k: torch.Tensor  # [B, Hkv, Lk, D]
    v: torch.Tensor | None  # [B, Hkv, Lk, Dv] or None (statistics only)
    attn_mask: torch.Tensor | None  # bool (True = attend) or additive float, broadcastable to [B, Hq, Lq, Lk]
    scale: float
    causal: bool
    window: int | None  # query i sees keys in (i - window, i] (positions bottom-right aligned)
    softcap: float | None
    sink_tokens: int
    # Attention dropout on P before P·V (kernels/dropout.py); the statistics describe P before it.
    dropout_p: float = 0.0  # in [0, 1)
    dropout_seed: int = 0  # seed of the keep-mask hash; only read when dropout_p > 0

    @property
    def has_dropout(self) -> bool:
        """True when the output is computed with dropout (a statistics-only call has no P·V)."""
        return self.dropout_p > 0.0 and self.v is not None

    @property
    def batch(self) -> int:
        return self.q.shape[0]

    @property
    def q_heads(self) -> int:
        return self.q.shape[1]

    @property
    def kv_heads(self) -> int:
        return self.k.shape[1]

    @property
    def group(self) -> int:
        """Query heads per KV head (GQA); query head h reads KV head h // group."""
        return self.q_heads // self.kv_heads

    @property
    def q_len(self) -> int:
        return self.q.shape[2]

    @property
    def k_len(self) -> int:
        return self.k.shape[2]

    @property
    def full_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.q_heads, self.q_len, self.k_len)

    @property
    def diagonal_offset(self) -> int:
        """Query i sits at key position i + offset (bottom-right alignment when Lq < Lk)."""
        return self.k_len - self.q_len


def structural_mask(
    problem: AttentionProblem, q_start: int, q_end: int, k_start: int, k_end: int
) -> torch.Tensor | None:
    """Causal/window visibility of a query block against a key block.

    Returns bool `[q_end - q_start, k_end - k_start]` (True = visible), or None when neither
    causal nor window restricts anything.
    """
    if not problem.causal and problem.window is None:
        return None
    device = problem.q.device
    q_pos = torch.arange(q_start, q_end, device=device) + problem.diagonal_offset  # [bq]
    k_pos = torch.arange(k_start, k_end, device=device)  # [bk]
    rel = q_pos[:, None] - k_pos[None, :]  # [bq, bk]: how far back the key is
    visible = rel >= 0  # a window also never looks ahead: keys (i - window, i]
    if problem.window is not None:
        visible &= rel < problem.window
    return visible


def key_block_range(problem: AttentionProblem, q_start: int, q_end: int) -> tuple[int, int]:
    """The key positions [lo, hi) any query in [q_start, q_end) can see; lets backends skip blocks."""
    lo, hi = 0, problem.k_len
    if problem.causal or problem.window is not None:
        hi = min(hi, max(0, q_end + problem.diagonal_offset))
    if problem.window is not None:
        lo = max(lo, q_start + problem.diagonal_offset - problem.window + 1)
    return lo, max(lo, hi)


def block_fully_visible(problem: AttentionProblem, q_start: int, q_end: int, k_start: int, k_end: int) -> bool:
    """True when causal/window hide nothing in this block, so its structural mask can be skipped."""
    if not problem.causal and problem.window is None:
        return True
    first_q = q_start + problem.diagonal_offset  # the most restricted row for look-ahead
    last_q = q_end - 1 + problem.diagonal_offset  # the most restricted row for the window
    if k_end - 1 > first_q:
        return False
    return problem.window is None or k_start > last_q - problem.window


def masked_scores(
    problem: AttentionProblem,
    scores: torch.Tensor,
    q_start: int,
    q_end: int,
    k_start: int,
    k_end: int,
) -> torch.Tensor:
    """Apply soft-cap, user mask and causal/window mask to raw scaled scores of one block.

    scores: [B, Hq, bq, bk] (float), a fresh tensor the caller owns: it is modified in place
    (except where autograd needs the original values).
    Masked entries become exactly -inf by masked_fill, so a NaN score at a masked key never leaks
    into a row that cannot see it. The user's additive mask is added *after* soft-capping (as
    Gemma 2 does), so a -inf bias stays -inf.
    """
    if problem.softcap is not None:
        if scores.requires_grad:  # tanh's backward needs its output: no in-place ops on it
            scores = torch.tanh(scores / problem.softcap) * problem.softcap
        else:
            scores = scores.div_(problem.softcap).tanh_().mul_(problem.softcap)
    if problem.attn_mask is not None:
        user = problem.attn_mask.expand(problem.full_shape)[:, :, q_start:q_end, k_start:k_end]
        if user.dtype == torch.bool:
            scores = scores.masked_fill_(~user, float("-inf"))
        else:
            scores = scores.add_(user).masked_fill_(user == float("-inf"), float("-inf"))
    if not block_fully_visible(problem, q_start, q_end, k_start, k_end):
        visible = structural_mask(problem, q_start, q_end, k_start, k_end)
        scores = scores.masked_fill_(~visible, float("-inf"))
    return scores


def nonfinite_value_keys(v: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Split non-finite values out of V so they poison only the rows that attend to them.

    A BLAS product `P @ V` turns `0 * NaN` into NaN, which would leak a bad value into rows
    whose probability for that key is exactly 0. Returns `(v_clean, bad)` where
    `bad` is float `[B, Hkv, Lk]` (1.0 where the key's value vector has a non-finite entry), or
    `(v, None)` when V is all finite (the common case; one cheap O(Lk·D) check).
    """
    if v is None:
        return None, None
    finite = torch.isfinite(v)
    if bool(finite.all()):
        return v, None
    bad = (~finite).any(dim=-1).to(torch.float32)  # [B, Hkv, Lk]
    return torch.where(finite, v, torch.zeros((), dtype=v.dtype, device=v.device)), bad


def value_row_maxabs(v: torch.Tensor) -> torch.Tensor:
    """`[B, Hkv, Lk]` in V's dtype: max |v[b, h, j, :]|, which is not `< inf` exactly when the
    key's value row holds a NaN or inf (the inf-norm propagates NaN).

    For kernels that zero those rows themselves (triton): one reduction launched on the device,
    no host synchronisation (which on a GPU would stall every layer of a model) and no V-sized
    temporary.
    """
    return torch.linalg.vector_norm(v, float("inf"), dim=-1)


def default_scale(head_dim: int) -> float:
    return 1.0 / math.sqrt(head_dim) if head_dim > 0 else 1.0
