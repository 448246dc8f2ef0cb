"""Portable blocked attention with online entropy accumulators (DESIGN §2), pure PyTorch.

Queries are processed in blocks of `block_q` rows and keys streamed in blocks of `block_k`, so
the largest temporary is `[B, Hq, block_q, block_k]`: memory O(B·H·block_q·block_k), never N×N.
Key blocks no query of the block can see (causal future, outside the window) are skipped.
"""

from __future__ import annotations

import torch

from .problem import AttentionProblem, key_block_range, masked_scores, nonfinite_value_keys
from .result import AttentionResult

DEFAULT_BLOCK_Q = 512
DEFAULT_BLOCK_K = 512
# exp(-200) == 0 in fp32 (the smallest subnormal is e^-103.3), so clamping there changes nothing.
_EXP_FLOOR = 200.0


class _RowState:
    """Online softmax/entropy accumulators for one block of query rows (all fp32)."""

    def __init__(self, rows: tuple[int, ...], dv: int | None, track_bad: bool, device) -> None:
        zeros = lambda: torch.zeros(rows, dtype=torch.float32, device=device)  # noqa: E731
        self.m = torch.full(rows, float("-inf"), dtype=torch.float32, device=device)  # running max
        self.l = zeros()  # Σ e^{s-m}
        self.t = zeros()  # Σ e^{s-m}·(s-m), shifted: no cancellation for large logits
        self.l2 = zeros()  # Σ e^{2(s-m)}
        self.ls = zeros()  # Σ_{j<S} e^{s-m}
        self.acc = None if dv is None else torch.zeros(*rows, dv, dtype=torch.float32, device=device)
        self.bad = zeros() if track_bad else None  # Σ e^{s-m} over keys whose value is non-finite

    def update(self, s: torch.Tensor, sink_keys: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Fold one block of masked scores `s` [..., bk] in (consumed in place unless it needs grad).

        Returns (e = exp(s - m'), alpha) for the caller's P·V part.
        """
        m_new = torch.maximum(self.m, s.amax(dim=-1))  # [...]; NaN propagates
        # A row with nothing visible yet keeps m = -inf; shift it by 0 so exp() gives 0, not NaN.
        m_safe = torch.where(m_new == float("-inf"), torch.zeros_like(m_new), m_new)
        alpha = torch.exp(self.m - m_safe)  # 0 while the row was empty
        shift = torch.where(self.m == float("-inf"), torch.zeros_like(self.m), self.m - m_safe)
        # d = s - m' ≤ 0. Clamping at -_EXP_FLOOR keeps exp(d) exactly 0 for masked keys while
        # making e·d = 0 instead of 0·(-inf) = NaN; NaN scores stay NaN.
        if s.requires_grad:  # amax's backward needs s as it was: no in-place update
            d = (s - m_safe[..., None]).clamp(min=-_EXP_FLOOR)  # [..., bk]
        else:
            d = s.sub_(m_safe[..., None]).clamp_(min=-_EXP_FLOOR)
        e = torch.exp(d)

        self.t = alpha * (self.t + shift * self.l) + torch.linalg.vecdot(e, d)
        self.l = alpha * self.l + e.sum(dim=-1)
        self.l2 = alpha * alpha * self.l2 + torch.linalg.vecdot(e, e)
        self.ls = alpha * self.ls
        if sink_keys > 0:
            self.ls = self.ls + e[..., :sink_keys].sum(dim=-1)
        self.m = m_new
        return e, alpha

    def finish(self) -> dict[str, torch.Tensor]:
        empty = self.l == 0  # fully masked row (a NaN row is not empty: it stays NaN)
        one = torch.ones_like(self.l)
        zero = torch.zeros_like(self.l)
        l = torch.where(empty, one, self.l)
        log_l = torch.log(l)
        shannon = torch.where(empty, zero, log_l - self.t / l).clamp_min(0.0)
        l2 = torch.where(empty, one, self.l2)
        renyi2 = torch.where(empty, zero, 2.0 * log_l - torch.log(l2)).clamp_min(0.0)
        # H2 ≤ H holds exactly; rounding may cross it by an ulp, so enforce it.
        renyi2 = torch.minimum(renyi2, shannon)
        stats = {
            "shannon": shannon,
            "renyi2": renyi2,
            "lse": torch.where(empty, torch.full_like(l, float("-inf")), self.m + log_l),
            "sink_mass": torch.where(empty, zero, self.ls / l),
        }
        if self.acc is not None:
            out = torch.where(empty[..., None], torch.zeros_like(self.acc), self.acc / l[..., None])
            if self.bad is not None:
                out = torch.where((self.bad > 0)[..., None], torch.full_like(out, float("nan")), out)
            stats["out"] = out
        return stats


def torch_blocked_attention(
    problem: AttentionProblem,
    *,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
) -> AttentionResult:
    B, Hq, Lq, D = problem.q.shape
    Hkv, G = problem.kv_heads, problem.group
    device = problem.q.device
    # fp32 compute whatever the input dtype; prescale q once instead of every score block.
    q = problem.q.to(torch.float32) * problem.scale  # [B, Hq, Lq, D]
    k = problem.k.to(torch.float32)  # [B, Hkv, Lk, D]
    v_clean, bad_keys = nonfinite_value_keys(problem.v)
    v = None if v_clean is None else v_clean.to(torch.float32)  # [B, Hkv, Lk, Dv]
    dv = None if v is None else v.shape[-1]

    pieces: dict[str, list[torch.Tensor]] = {}
    for qs in range(0, Lq, block_q):
        qe = min(qs + block_q, Lq)
        bq = qe - qs
        # Query head h reads KV head h // G: group the G heads so one matmul serves them all.
        q_blk = q[:, :, qs:qe].reshape(B, Hkv, G * bq, D)  # [B, Hkv, G·bq, D]
        state = _RowState((B, Hq, bq), dv, bad_keys is not None, device)
        lo, hi = key_block_range(problem, qs, qe)
        for ks in range(lo, hi, block_k):
            ke = min(ks + block_k, hi)
            bk = ke - ks
            raw = torch.matmul(q_blk, k[:, :, ks:ke].transpose(-1, -2))  # [B, Hkv, G·bq, bk]
            s = masked_scores(problem, raw.view(B, Hq, bq, bk), qs, qe, ks, ke)
            e, alpha = state.update(s, sink_keys=max(0, min(problem.sink_tokens - ks, bk)))
            e_grouped = e.view(B, Hkv, G * bq, bk)
            if state.acc is not None:
                pv = torch.matmul(e_grouped, v[:, :, ks:ke]).view(B, Hq, bq, dv)  # [B, Hq, bq, Dv]
                state.acc = alpha[..., None] * state.acc + pv
            if state.bad is not None:
                bad_mass = torch.matmul(e_grouped, bad_keys[:, :, ks:ke, None]).view(B, Hq, bq)
                state.bad = alpha * state.bad + bad_mass
        for name, value in state.finish().items():
            pieces.setdefault(name, []).append(value)

    def gather(name: str, trailing: tuple[int, ...]) -> torch.Tensor:
        if not pieces.get(name):  # Lq == 0
            return torch.empty((B, Hq, 0, *trailing), dtype=torch.float32, device=device)
        return torch.cat(pieces[name], dim=2)

    out = None
    if v is not None:
        out = gather("out", (dv,)).to(problem.v.dtype)
    return AttentionResult(
        out=out,
        shannon=gather("shannon", ()),
        renyi2=gather("renyi2", ()),
        lse=gather("lse", ()),
        sink_mass=gather("sink_mass", ()),
        backend="torch",
    )
