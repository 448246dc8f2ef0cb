"""Portable blocked attention with online entropy accumulators (docs/design.md §1), pure PyTorch.

Queries are processed in blocks of `block_q` rows and keys streamed in blocks of `block_k`, so
the largest temporary is `[B, Hq, block_q, block_k]`: memory O(B·H·block_q·block_k), never N×N.
Key blocks no query of the block can see (causal future, outside the window) are skipped.

Dropout: with `problem.has_dropout` each tile's keep-mask is hashed from (seed, b, h, row, key)
(kernels/dropout.py), in the forward and again in the backward; nothing mask-sized is kept.

Gradients: when q, k or v require grad, the forward runs inside `autograd._RecomputingAttention`
(without autograd recording any tile) and `blocked_backward` recomputes the score blocks from
q, k and lse with the same masking helpers: memory O(B·H·block_q·block_k) in both directions.
"""

from __future__ import annotations

import torch

from dataclasses import dataclass

from .autograd import RowTerms, run_engine
from .dropout import head_keys, keep_tile, threshold
from .problem import AttentionProblem, key_block_range, masked_scores, nonfinite_value_keys
from .result import AttentionResult

DEFAULT_BLOCK_Q = 512
DEFAULT_BLOCK_K = 512
# The backward keeps ~3 score tiles alive per block; 128 query rows keep them small (measured on
# 2 cores at N 2048/4096: the backward 10-30% faster than with 512, and less peak memory).
BACKWARD_BLOCK_Q = 128
# exp(-200) == 0 in fp32 (the smallest subnormal is e^-103.3), so clamping there changes nothing.
_EXP_FLOOR = 200.0
_EXP_FLOOR_FP64 = 800.0  # the same for the tests' fp64 engine (smallest subnormal: e^-744.4)


def _exp_floor(dtype: torch.dtype) -> float:
    return _EXP_FLOOR_FP64 if dtype == torch.float64 else _EXP_FLOOR


class _RowState:
    """Online softmax/entropy accumulators for one block of query rows (all fp32)."""

    def __init__(
        self, rows: tuple[int, ...], dv: int | None, track_bad: bool, device, dtype=torch.float32
    ) -> None:
        zeros = lambda: torch.zeros(rows, dtype=dtype, device=device)  # noqa: E731
        self.m = torch.full(rows, float("-inf"), dtype=dtype, device=device)  # running max
        self.l = zeros()  # Σ e^{s-m}
        self.t = zeros()  # Σ e^{s-m}·(s-m), shifted: no cancellation for large logits
        self.l2 = zeros()  # Σ e^{2(s-m)}
        self.ls = zeros()  # Σ_{j<S} e^{s-m}
        self.acc = None if dv is None else torch.zeros(*rows, dv, dtype=dtype, device=device)
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
            d = (s - m_safe[..., None]).clamp(min=-_exp_floor(s.dtype))  # [..., bk]
        else:
            d = s.sub_(m_safe[..., None]).clamp_(min=-_exp_floor(s.dtype))
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
    """Blocked forward; with inputs that require grad, wrapped in the recomputing Function."""
    return run_engine(TorchEngine(block_q, block_k), problem)


@dataclass(frozen=True)
class TorchEngine:
    """The torch backend as a `RecomputingEngine` (see autograd.py).

    `compute_dtype=torch.float64` runs forward, statistics and backward in fp64: used by the
    tests (gradcheck in fp64 of exactly this backward); the public backend always computes fp32.
    """

    block_q: int = DEFAULT_BLOCK_Q
    block_k: int = DEFAULT_BLOCK_K
    compute_dtype: torch.dtype = torch.float32
    name: str = "torch"

    def forward(self, problem: AttentionProblem) -> AttentionResult:
        with torch.no_grad():
            return _forward(problem, self.block_q, self.block_k, self.compute_dtype)

    def backward(self, problem: AttentionProblem, terms: RowTerms):
        block_q = min(self.block_q, BACKWARD_BLOCK_Q)
        with torch.no_grad():
            return blocked_backward(problem, terms, block_q, self.block_k, self.compute_dtype)


def _forward(
    problem: AttentionProblem, block_q: int, block_k: int, compute_dtype: torch.dtype = torch.float32
) -> AttentionResult:
    B, Hq, Lq, D = problem.q.shape
    Hkv, G = problem.kv_heads, problem.group
    device = problem.q.device
    cdt = compute_dtype
    # fp32 compute whatever the input dtype (fp64 only in the tests' engine); prescale q once
    # instead of every score block.
    q = problem.q.to(cdt) * problem.scale  # [B, Hq, Lq, D]
    k = problem.k.to(cdt)  # [B, Hkv, Lk, D]
    v_clean, bad_keys = nonfinite_value_keys(problem.v)
    v = None if v_clean is None else v_clean.to(cdt)  # [B, Hkv, Lk, Dv]
    if bad_keys is not None:
        bad_keys = bad_keys.to(cdt)  # [B, Hkv, Lk]
    dv = None if v is None else v.shape[-1]
    keys = thresh = None
    if problem.has_dropout:  # int64 [B, Hq] head keys of the keep-mask hash
        keys = head_keys(problem.dropout_seed, B, Hq, device)
        thresh = threshold(problem.dropout_p)
    rescale = 1.0 / (1.0 - problem.dropout_p)

    pieces: dict[str, list[torch.Tensor]] = {}
    for qs in range(0, Lq, block_q):
        qe = min(qs + block_q, Lq)
        bq = qe - qs
        # Query head h reads KV head h // G: group the G heads so one matmul serves them all.
        q_blk = q[:, :, qs:qe].reshape(B, Hkv, G * bq, D)  # [B, Hkv, G·bq, D]
        state = _RowState((B, Hq, bq), dv, bad_keys is not None, device, cdt)
        lo, hi = key_block_range(problem, qs, qe)
        for ks in range(lo, hi, block_k):
            ke = min(ks + block_k, hi)
            bk = ke - ks
            raw = torch.matmul(q_blk, k[:, :, ks:ke].transpose(-1, -2))  # [B, Hkv, G·bq, bk]
            s = masked_scores(problem, raw.view(B, Hq, bq, bk), qs, qe, ks, ke)
            e, alpha = state.update(s, sink_keys=max(0, min(problem.sink_tokens - ks, bk)))
            if keys is not None:  # dropout acts on P·V only: the statistics above saw all of e
                keep = keep_tile(keys, thresh, qs, qe, ks, ke)  # [B, Hq, bq, bk]
                e = torch.where(keep, e * rescale, torch.zeros((), dtype=e.dtype, device=device))
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
            return torch.empty((B, Hq, 0, *trailing), dtype=cdt, device=device)
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


def blocked_backward(
    problem: AttentionProblem,
    terms: RowTerms,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """dq, dk, dv (compute dtype) by recomputing P block by block from q, k and `terms.lse`.

    Per block (see autograd.py for the formula): s = masked scores, d = s − lse = log P,
    P = e^d, dS = P ⊙ (dP + const − g_H·d − k2·P + g_sink·1[j<S]), times the soft-cap
    derivative. The largest temporaries are two or three `[B, Hq, block_q, block_k]` tiles.
    """
    B, Hq, Lq, D = problem.q.shape
    Hkv, G, Lk = problem.kv_heads, problem.group, problem.k_len
    cdt = compute_dtype
    q = problem.q.to(cdt) * problem.scale  # [B, Hq, Lq, D], prescaled as in the forward
    k = problem.k.to(cdt)  # [B, Hkv, Lk, D]
    dout = terms.dout  # [B, Hq, Lq, Dv] or None
    v = None
    if dout is not None and problem.v is not None:
        v = nonfinite_value_keys(problem.v)[0].to(cdt)  # [B, Hkv, Lk, Dv]; bad rows zeroed
        dout = dout.to(cdt)
    else:
        dout = None
    dq = torch.zeros(B, Hq, Lq, D, dtype=cdt, device=q.device)
    dk = torch.zeros(B, Hkv, Lk, D, dtype=cdt, device=q.device)
    dv = None if v is None else torch.zeros(B, Hkv, Lk, v.shape[-1], dtype=cdt, device=q.device)
    lse, const, g_h, k2, g_sink = (
        x.to(cdt)[..., None] for x in (terms.lse, terms.const, terms.g_h, terms.k2, terms.g_sink)
    )  # each [B, Hq, Lq, 1]
    use_h2 = bool((terms.k2 != 0).any())  # skip the P² term when no Rényi-2 gradient arrived
    cap = problem.softcap
    keys = thresh = None
    if dout is not None and problem.has_dropout:
        # out = r·(P⊙Z)·V: dV = (P⊙Z)ᵀ·(r·dO) and dP̃ = Z⊙((r·dO)·vᵀ); D in `const` is unchanged.
        keys = head_keys(problem.dropout_seed, B, Hq, q.device)  # [B, Hq]
        thresh = threshold(problem.dropout_p)
        dout = dout * (1.0 / (1.0 - problem.dropout_p))

    for qs in range(0, Lq, block_q):
        qe = min(qs + block_q, Lq)
        bq = qe - qs
        q_blk = q[:, :, qs:qe].reshape(B, Hkv, G * bq, D)  # [B, Hkv, G·bq, D]
        do_blk = None if dout is None else dout[:, :, qs:qe].reshape(B * Hkv, G * bq, -1)
        rows = slice(qs, qe)
        dq_blk = torch.zeros(B, Hkv, G * bq, D, dtype=cdt, device=q.device)
        lo, hi = key_block_range(problem, qs, qe)
        for ks in range(lo, hi, block_k):
            ke = min(ks + block_k, hi)
            bk = ke - ks
            k_blk = k[:, :, ks:ke]  # [B, Hkv, bk, D]
            raw = torch.matmul(q_blk, k_blk.transpose(-1, -2)).view(B, Hq, bq, bk)
            cap_grad = None
            if cap is not None:  # d(cap·tanh(r/cap))/dr, from the raw scores before masking
                cap_grad = torch.tanh(raw / cap).square_().neg_().add_(1.0)  # [B, Hq, bq, bk]
            s = masked_scores(problem, raw, qs, qe, ks, ke)  # in place; masked = -inf
            # d = log P ≤ 0; the clamp keeps exp(d) = 0 at masked keys while g_H·d stays finite.
            d = s.sub_(lse[:, :, rows]).clamp_(min=-_exp_floor(cdt))  # [B, Hq, bq, bk]
            p = torch.exp(d)  # [B, Hq, bq, bk] recomputed probabilities
            inner = d.mul_(g_h[:, :, rows].neg()).add_(const[:, :, rows])  # reuses d's storage
            if use_h2:
                inner.addcmul_(p, k2[:, :, rows], value=-1.0)
            keep = None if keys is None else keep_tile(keys, thresh, qs, qe, ks, ke)  # [B, Hq, bq, bk]
            if do_blk is not None and keep is None:  # += dP = dO·vᵀ
                inner.view(B * Hkv, G * bq, bk).baddbmm_(
                    do_blk, v[:, :, ks:ke].reshape(B * Hkv, bk, -1).transpose(-1, -2)
                )
            elif do_blk is not None:  # += dP̃ = Z⊙(r·dO·vᵀ): dropped scores get no gradient via out
                dp = torch.bmm(do_blk, v[:, :, ks:ke].reshape(B * Hkv, bk, -1).transpose(-1, -2))
                inner += dp.view(B, Hq, bq, bk).masked_fill_(~keep, 0.0)
            n_sink = max(0, min(problem.sink_tokens - ks, bk))
            if n_sink:
                inner[..., :n_sink] += g_sink[:, :, rows]
            ds = inner.mul_(p)  # [B, Hq, bq, bk] dL/ds
            if cap_grad is not None:
                ds.mul_(cap_grad)
            ds_g = ds.view(B, Hkv, G * bq, bk)
            dq_blk += torch.matmul(ds_g, k_blk)
            dk[:, :, ks:ke] += torch.matmul(ds_g.transpose(-1, -2), q_blk)  # q_blk carries the scale
            if dv is not None:
                p_v = p if keep is None else p.masked_fill_(~keep, 0.0)  # P⊙Z (r is in do_blk)
                dv[:, :, ks:ke] += torch.matmul(
                    p_v.view(B * Hkv, G * bq, bk).transpose(-1, -2), do_blk
                ).view(B, Hkv, bk, -1)
        dq[:, :, qs:qe] = dq_blk.view(B, Hq, bq, D) * problem.scale
    return dq, dk, dv
