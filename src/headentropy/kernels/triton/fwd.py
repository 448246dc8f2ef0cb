"""The Triton forward kernel: FlashAttention-2 with fused entropy accumulators (DESIGN §2).

One program handles BLOCK_M query rows of one (batch, query head) and streams the visible K/V
blocks through SRAM, keeping the DESIGN §2 accumulators (m, l, t, l2, ls) beside the output
accumulator. Nothing of size Lq×Lk is ever stored. Everything runs in base 2 (scores are
multiplied by log2 e once, exp2/log2 are the cheap hardware ops); the statistics are converted
back to nats at the end: H = ln2·(log2 l − t/l), H2 = ln2·(2·log2 l − log2 l2), and
lse = s_max + ln2·log2 l with s_max the row's largest score in nats (rounded as bwd.py rounds it).

Key blocks of one query block fall in four ranges, each an unrolled loop with its own masking
(`phase` below is a compile-time constant):

    0  sink    [lo, p1)   blocks holding keys j < sink_tokens: full masks + sink accumulation
    1  front   [p1, p2)   window's left edge: full masks           (only with a window)
    2  inside  [p2, p3)   every query sees every key: no causal/window/bounds mask (hot loop)
    3  edge    [p3, hi)   causal diagonal and the Lk % BLOCK_N tail: full masks

Attention dropout (kernels/dropout.py): with DROPOUT the kernel regenerates the keep-mask bit of
every visible score from (seed, batch, query head, row, key) with the same murmur3 hash as the
other backends and multiplies P by Z before P·V (the 1/(1 − p) once at the end); the statistics
use P before dropout.

Non-finite values in V: the launcher passes each key's max |v| (`problem.value_row_maxabs`, one
reduction on the device, no host synchronisation, which on a GPU would stall every layer of a
model); a key whose max is not `< inf` is bad: the kernel zeroes its row of the V tile and
accumulates each query row's probability mass on bad keys, and rows with mass > 0 become NaN, as
in the other backends.

backend.py decides which problems reach this kernel; `launch` runs it on a validated problem.
"""

from __future__ import annotations

import contextlib

import torch

from ..dropout import head_keys, threshold
from ..problem import AttentionProblem, value_row_maxabs
from ..result import AttentionResult
from . import jit
from .jit import fmix32  # rebound to its JIT wrapper by jit.kernel()

LOG2E = 1.4426950408889634


# --------------------------------------------------------------------------------------------
# The kernel. Plain Python source, wrapped by triton.jit / InterpretedFunction in `jit.kernel()`;
# `tl` is bound in this module's globals there. Annotations stay strings (future import), which
# is how triton reads `tl.constexpr` without importing triton here.
# --------------------------------------------------------------------------------------------
def _attn_fwd_kernel(
    Q, K, V, Mask, Out, Stats, Keys, VMax,  # pointers; V/Out/Mask/Keys/VMax are dummies when unused
    stride_qb, stride_qh, stride_qm, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_mb, stride_mh, stride_mm, stride_mn,  # 0 along broadcast dims
    stride_ob, stride_oh, stride_om, stride_od,
    stride_s0,  # Stats is [4, B, Hq, Lq] contiguous: shannon, renyi2, lse, sink_mass
    Hq, group, Lq, Lk, diag_offset, window, sink_tokens,
    qk_scale, cap_in, cap_out,  # s·log2e = qk·qk_scale, or with softcap: cap_out·tanh(qk·cap_in)
    scale, cap_nat,  # the scores in nats: qk·scale or cap_nat·tanh(qk·cap_in) (for lse, see the end)
    drop_thresh, drop_scale,  # dropout: drop where hash < drop_thresh; kept P times 1/(1 - p)
    HEAD_D: tl.constexpr, BLOCK_D: tl.constexpr, HEAD_DV: tl.constexpr, BLOCK_DV: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    CAUSAL: tl.constexpr,  # causal or window: keys after the query's position are hidden
    HAS_WINDOW: tl.constexpr, HAS_SOFTCAP: tl.constexpr,
    SCALE_LATE: tl.constexpr,  # no softcap, no additive mask, scale > 0: fold the scale into one FMA
    MASK_KIND: tl.constexpr,  # 0 none, 1 bool (as uint8), 2 additive float
    HAS_V: tl.constexpr, ENTROPY: tl.constexpr, DROPOUT: tl.constexpr, DOT_PRECISION: tl.constexpr,
    HAS_BAD: tl.constexpr,  # VMax [B, Hkv, Lk]: max |v| per key; not < inf where the value row is not finite
    DOT_IN_FP32: tl.constexpr,  # interpreter + bf16 only: its NumPy dot cannot multiply bf16
):
    NEG_INF: tl.constexpr = float("-inf")
    LN2: tl.constexpr = 0.6931471805599453
    LOG2E_: tl.constexpr = 1.4426950408889634

    # heaviest (last, for causal) query blocks first: better tail balance across the grid
    pid_m = tl.num_programs(0) - 1 - tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // Hq).to(tl.int64)
    h = pid_bh % Hq
    kv_h = (h // group).to(tl.int64)  # GQA/MQA: query head h reads KV head h // group
    h = h.to(tl.int64)

    m_start = pid_m * BLOCK_M
    offs_m = m_start + tl.arange(0, BLOCK_M)  # [BM] query rows
    offs_nb = tl.arange(0, BLOCK_N)  # [BN] key offsets inside a block
    offs_d = tl.arange(0, BLOCK_D)  # [BD] (padded head dim)
    offs_dv = tl.arange(0, BLOCK_DV)  # [BDV]
    row_ok = offs_m < Lq
    d_ok = offs_d < HEAD_D
    dv_ok = offs_dv < HEAD_DV
    q_pos = offs_m + diag_offset  # key position of each query (bottom-right alignment)

    # q stays in the input dtype for the tensor-core dot. [BM, BD]
    q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :] * stride_qd
    q = tl.load(q_ptrs, mask=row_ok[:, None] & d_ok[None, :], other=0.0)
    if DOT_IN_FP32:  # bf16·bf16 products are exact in fp32, as on tensor cores
        q = q.to(tl.float32)
    k_base = K + b * stride_kb + kv_h * stride_kh + offs_d[:, None] * stride_kd  # K^T tile [BD, BN]
    v_base = V + b * stride_vb + kv_h * stride_vh + offs_dv[None, :] * stride_vd  # V tile [BN, BDV]
    vmax_base = VMax + (b * (Hq // group) + kv_h) * Lk  # VMax[b, kv_h, :]
    mask_base = Mask + b * stride_mb + h * stride_mh + offs_m.to(tl.int64)[:, None] * stride_mm
    if DROPOUT:  # kernels/dropout.py: row word = fmix(key(b, h) ^ i), once per row [BM] uint32
        row_word = fmix32(tl.load(Keys + b * Hq + h).to(tl.uint32) ^ offs_m.to(tl.uint32))  # [BM]

    # ---- which key blocks this query block needs (all bounds multiples of BLOCK_N except hi) --
    last_row = tl.minimum(m_start + BLOCK_M, Lq) - 1
    lo = 0
    hi = Lk
    full_lo = 0
    full_hi = (Lk // BLOCK_N) * BLOCK_N  # the tail block always takes the masked path
    if CAUSAL:
        hi = tl.minimum(tl.maximum(last_row + diag_offset + 1, 0), Lk)
        # block [n, n+BN) is fully visible to the block's first row iff n + BN <= its pos + 1
        full_hi = tl.minimum(full_hi, (tl.maximum(m_start + diag_offset + 1, 0) // BLOCK_N) * BLOCK_N)
    if HAS_WINDOW:
        lo = (tl.maximum(m_start + diag_offset - window + 1, 0) // BLOCK_N) * BLOCK_N
        lo = tl.minimum(lo, hi)
        # ...and fully inside the window of the last row iff n >= its pos - window + 1
        edge = tl.maximum(last_row + diag_offset - window + 1, 0)
        full_lo = ((edge + BLOCK_N - 1) // BLOCK_N) * BLOCK_N
    sink_end = 0
    if ENTROPY:
        sink_end = ((sink_tokens + BLOCK_N - 1) // BLOCK_N) * BLOCK_N
    p1 = tl.minimum(tl.maximum(sink_end, lo), hi)
    p2 = tl.minimum(tl.maximum(full_lo, p1), hi)
    p3 = tl.minimum(tl.maximum(full_hi, p2), hi)

    # ---- accumulators, fp32, in log2 units --------------------------------------------------
    m_i = tl.zeros([BLOCK_M], dtype=tl.float32) + NEG_INF  # running max of s·log2e
    mq_i = tl.zeros([BLOCK_M], dtype=tl.float32) + NEG_INF  # running max of qk (SCALE_LATE) or of s in nats
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ 2^(u-m)
    t_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ 2^(u-m)·(u-m), shifted
    l2_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ 2^(2(u-m))
    ls_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ_{j<S} 2^(u-m)
    bm_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # Σ over bad keys of 2^(u-m) (after dropout)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], dtype=tl.float32)

    for phase in tl.static_range(4):
        if (phase != 0 or ENTROPY) and (phase != 1 or HAS_WINDOW):
            if phase == 0:
                n_lo = lo
                n_hi = p1
            elif phase == 1:
                n_lo = p1
                n_hi = p2
            elif phase == 2:
                n_lo = p2
                n_hi = p3
            else:
                n_lo = p3
                n_hi = hi
            for start_n in range(n_lo, n_hi, BLOCK_N):
                start_n = tl.multiple_of(start_n, BLOCK_N)
                offs_n = start_n + offs_nb  # [BN]
                kv_ok = offs_n < Lk
                k_ptrs = k_base + offs_n[None, :] * stride_kn
                if phase != 2:
                    k = tl.load(k_ptrs, mask=d_ok[:, None] & kv_ok[None, :], other=0.0)
                elif HEAD_D == BLOCK_D:
                    k = tl.load(k_ptrs)
                else:
                    k = tl.load(k_ptrs, mask=d_ok[:, None], other=0.0)
                if DOT_IN_FP32:
                    k = k.to(tl.float32)
                qk = tl.dot(q, k, input_precision=DOT_PRECISION)  # [BM, BN] fp32

                if HAS_SOFTCAP:  # c·tanh(s/c), tanh from exp: exact sign, no overflow
                    x = qk * cap_in
                    e2 = tl.exp(-2.0 * tl.abs(x))
                    th = (1.0 - e2) / (1.0 + e2)
                    th = tl.where(x < 0, -th, th)
                    s = th * cap_out
                    s_nat = th * cap_nat  # the score in nats, rounded as the backward rounds it
                elif SCALE_LATE:
                    s = qk  # scaled inside the exponent below: one FMA per score
                else:
                    s = qk * qk_scale
                    s_nat = qk * scale
                if MASK_KIND != 0:  # user mask, read through its (broadcast) strides
                    mk_ptrs = mask_base + offs_n[None, :] * stride_mn
                    if phase != 2:
                        mk = tl.load(mk_ptrs, mask=row_ok[:, None] & kv_ok[None, :], other=0)
                    else:
                        mk = tl.load(mk_ptrs, mask=row_ok[:, None], other=0)
                    if MASK_KIND == 1:
                        s = tl.where(mk != 0, s, NEG_INF)
                    else:
                        bias = mk.to(tl.float32)
                        s = tl.where(bias == NEG_INF, NEG_INF, s + bias * LOG2E_)
                        s_nat = s_nat + bias
                if phase != 2:  # causal diagonal, window edge, Lk tail
                    keep = kv_ok[None, :]
                    if CAUSAL:
                        rel = q_pos[:, None] - offs_n[None, :]  # how far back the key is
                        keep = keep & (rel >= 0)
                        if HAS_WINDOW:
                            keep = keep & (rel < window)
                    s = tl.where(keep, s, NEG_INF)

                # online softmax; a row with nothing visible yet keeps m = -inf, shifted by 0
                if SCALE_LATE:  # qk_scale > 0, so max(qk)·scale = max(qk·scale)
                    qk_max = tl.max(s, 1)
                    m_new = tl.maximum(m_i, qk_max * qk_scale)
                    mq_i = tl.maximum(mq_i, qk_max)
                else:  # and the row max in nats (masked scores are -inf in s)
                    m_new = tl.maximum(m_i, tl.max(s, 1))
                    mq_i = tl.maximum(mq_i, tl.max(tl.where(s == NEG_INF, NEG_INF, s_nat), 1))
                m_use = tl.where(m_new == NEG_INF, 0.0, m_new)
                alpha = tl.exp2(m_i - m_use)  # 0 while the row was empty
                if SCALE_LATE:
                    d = s * qk_scale - m_use[:, None]  # [BM, BN], -inf at masked keys
                else:
                    d = s - m_use[:, None]
                p = tl.exp2(d)
                if ENTROPY:
                    shift = tl.where(m_i == NEG_INF, 0.0, m_i - m_use)
                    # p > 0 implies d > -150, so clamping d at -256 only turns 0·(-inf) into 0
                    t_i = alpha * (t_i + shift * l_i) + tl.sum(p * tl.maximum(d, -256.0), 1)
                    l2_i = alpha * alpha * l2_i + tl.sum(p * p, 1)
                    ls_i = alpha * ls_i
                    if phase == 0:
                        ls_i += tl.sum(tl.where(offs_n[None, :] < sink_tokens, p, 0.0), 1)
                l_i = alpha * l_i + tl.sum(p, 1)
                if HAS_V:
                    v_ptrs = v_base + offs_n[:, None] * stride_vn
                    if phase != 2:
                        v = tl.load(v_ptrs, mask=kv_ok[:, None] & dv_ok[None, :], other=0.0)
                    elif HEAD_DV == BLOCK_DV:
                        v = tl.load(v_ptrs)
                    else:
                        v = tl.load(v_ptrs, mask=dv_ok[None, :], other=0.0)
                    if DROPOUT:  # u = fmix(row word ^ j); keep u >= threshold (as int64: no sign games)
                        u = fmix32(row_word[:, None] ^ offs_n.to(tl.uint32)[None, :])  # [BM, BN]
                        p_kept = tl.where(u.to(tl.int64) >= drop_thresh, p, 0.0)
                    else:
                        p_kept = p
                    if HAS_BAD:  # a non-finite value row: zeroed here (0·NaN must not leak), its mass kept
                        bad = ~(tl.load(vmax_base + offs_n, mask=kv_ok, other=0.0) < float("inf"))  # [BN]
                        v = tl.where(bad[:, None], 0.0, v).to(V.dtype.element_ty)
                        bm_i = alpha * bm_i + tl.sum(tl.where(bad[None, :], p_kept, 0.0), 1)
                    p_v = p_kept.to(V.dtype.element_ty)  # P rounded to V's dtype for the tensor-core dot
                    if DOT_IN_FP32:
                        p_v = p_v.to(tl.float32)
                        v = v.to(tl.float32)
                    acc = acc * alpha[:, None]
                    acc = tl.dot(p_v, v, acc, input_precision=DOT_PRECISION)
                m_i = m_new

    # ---- finish: a fully masked row (l = 0) gives out 0, H = H2 = sink = 0, lse = -inf -------
    empty = l_i == 0.0
    l_safe = tl.where(empty, 1.0, l_i)
    log2_l = tl.log2(l_safe)
    stats_row = Stats + b * (Hq * Lq) + h * Lq + offs_m  # Stats[., b, h, m]
    # lse = s_max + ln l with s_max the row's largest score in nats, rounded exactly as the
    # backward rounds its scores (bwd.py works in nats): P of the largest score recomputes to
    # 1/l. (m + log2 l)·ln 2 would differ from it by ~1 ulp of |s_max|, which a near one-hot row
    # with large logits turns into gradient error far above the naive fp32 backward's.
    if SCALE_LATE:
        s_max = mq_i * scale
    else:
        s_max = mq_i
    lse = tl.where(empty, NEG_INF, s_max + log2_l * LN2)
    tl.store(stats_row + 2 * stride_s0, lse, mask=row_ok)
    if ENTROPY:
        shannon = tl.where(empty, 0.0, LN2 * (log2_l - t_i / l_safe))
        shannon = tl.where(shannon < 0.0, 0.0, shannon)  # rounding; `where` keeps NaN rows NaN
        renyi2 = tl.where(empty, 0.0, LN2 * (2.0 * log2_l - tl.log2(tl.where(empty, 1.0, l2_i))))
        renyi2 = tl.where(renyi2 < 0.0, 0.0, renyi2)
        renyi2 = tl.where(renyi2 > shannon, shannon, renyi2)  # H2 <= H holds exactly
        tl.store(stats_row, shannon, mask=row_ok)
        tl.store(stats_row + stride_s0, renyi2, mask=row_ok)
        tl.store(stats_row + 3 * stride_s0, tl.where(empty, 0.0, ls_i / l_safe), mask=row_ok)
    if HAS_V:
        out = tl.where(empty[:, None], 0.0, acc / l_safe[:, None])
        if DROPOUT:
            out = out * drop_scale
        if HAS_BAD:  # rows that gave weight to a non-finite value
            out = tl.where(bm_i[:, None] > 0.0, float("nan"), out)
        o_ptrs = Out + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_om + offs_dv[None, :] * stride_od
        tl.store(o_ptrs, out.to(Out.dtype.element_ty), mask=row_ok[:, None] & dv_ok[None, :])


def _config(head_dim: int, itemsize: int, interpret: bool) -> dict:
    """One block config per head dim (no autotuning); small blocks in the interpreter.

    Chosen by compiling for sm_90 ahead of time (ptxas -v): these keep K/V loads pipelined
    (cp.async, `num_stages` buffers) and avoid register spills on the plain paths.
    """
    if interpret:
        return dict(BLOCK_M=16, BLOCK_N=16, num_warps=4, num_stages=1)
    if itemsize >= 4:  # fp32 tiles are twice the bytes: smaller blocks keep shared memory in bounds
        if head_dim <= 128:
            return dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=2)
        return dict(BLOCK_M=32, BLOCK_N=32, num_warps=4, num_stages=1)
    if head_dim <= 128:
        return dict(BLOCK_M=128, BLOCK_N=64, num_warps=8, num_stages=3)
    return dict(BLOCK_M=64, BLOCK_N=32, num_warps=4, num_stages=2)


def mask_argument(problem: AttentionProblem) -> tuple[torch.Tensor | None, int]:
    """(the user mask as the kernels read it, MASK_KIND): bool as uint8 (1), additive float (2),
    none (0); broadcast to [B, Hq, Lq, Lk] as a stride-0 view, never materialised."""
    mask = problem.attn_mask
    if mask is None:
        return None, 0
    if mask.dtype == torch.bool:
        mask, kind = mask.view(torch.uint8), 1
    else:
        kind = 2
        if mask.dtype == torch.float64:
            mask = mask.to(torch.float32)  # before expand: a copy of the user's size only
    return mask.detach().expand(problem.full_shape), kind


def launch(
    problem: AttentionProblem,
    *,
    entropy: bool = True,
    block_m: int | None = None,
    block_n: int | None = None,
    poison: bool = False,
    check_values: bool = True,
) -> AttentionResult:
    """Run the kernel on a validated problem.

    Private knobs (tests and benchmarks): `entropy=False` compiles the kernel without the
    entropy accumulators (lse and out only; shannon/renyi2/sink_mass are then NaN-filled), to
    measure their overhead; `block_m/block_n` override the config; `poison=True` fills outputs
    with NaN before the launch so an unwritten element shows; `check_values=False` skips the
    flagging of non-finite V rows (one extra read of V, on the device), so the benchmark times
    the kernel alone.
    """
    q, k = problem.q, problem.k
    B, Hq, Lq, D = q.shape
    Lk = k.shape[2]
    device = q.device
    interpret = jit.interpreter_enabled()

    v = problem.v
    dv = 0 if v is None else v.shape[-1]
    v_kernel = v if dv > 0 else None  # V with no columns: `out` is empty and the kernel skips P·V
    v_max = value_row_maxabs(v_kernel) if check_values and v_kernel is not None else None  # [B, Hkv, Lk]

    # Every row's four statistics are written, except without ENTROPY (NaN then: never a number)
    if entropy and not poison:
        stats = torch.empty((4, B, Hq, Lq), dtype=torch.float32, device=device)
    else:
        stats = torch.full((4, B, Hq, Lq), float("nan"), dtype=torch.float32, device=device)
    out = None
    if v is not None:
        alloc = torch.full if poison else torch.empty
        args = (float("nan"),) if poison else ()
        out = alloc((B, Hq, Lq, dv), *args, dtype=v.dtype, device=device)

    if Lq > 0 and B * Hq > 0:
        cfg = _config(max(D, dv), q.element_size(), interpret)
        if block_m is not None:
            cfg["BLOCK_M"] = block_m
        if block_n is not None:
            cfg["BLOCK_N"] = block_n

        mask, mask_kind = mask_argument(problem)
        mask_strides = mask.stride() if mask is not None else (0, 0, 0, 0)

        window = problem.window
        softcap = problem.softcap
        v_arg = v_kernel if v_kernel is not None else q  # dummies are never read
        o_arg = out if v_kernel is not None else q
        v_strides = v_kernel.stride() if v_kernel is not None else (0, 0, 0, 0)
        o_strides = out.stride() if v_kernel is not None else (0, 0, 0, 0)
        dropout = problem.has_dropout
        keys, drop_thresh = q, 0  # dummies
        if dropout:  # int64 [B, Hq] per-head hash keys, computed once on the host
            keys, drop_thresh = head_keys(problem.dropout_seed, B, Hq, device), threshold(problem.dropout_p)
        grid = (-(-Lq // cfg["BLOCK_M"]), B * Hq)  # (query blocks, batch·heads)
        kernel = jit.kernel(_attn_fwd_kernel, interpret)
        with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():
            kernel[grid](
                q, k, v_arg, mask if mask is not None else q, o_arg, stats, keys,
                v_max if v_max is not None else stats,
                *q.stride(), *k.stride(), *v_strides, *mask_strides, *o_strides,
                stats.stride(0),
                Hq, problem.group, Lq, Lk, Lk - Lq, window or 0, problem.sink_tokens,
                problem.scale * LOG2E,
                problem.scale / softcap if softcap else 1.0,
                softcap * LOG2E if softcap else 1.0,
                problem.scale, softcap or 1.0,
                drop_thresh, 1.0 / (1.0 - problem.dropout_p),
                HEAD_D=D, BLOCK_D=max(16, jit.next_pow2(D)),
                HEAD_DV=max(dv, 1), BLOCK_DV=max(16, jit.next_pow2(max(dv, 1))),
                BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"],
                CAUSAL=problem.causal or window is not None,
                HAS_WINDOW=window is not None, HAS_SOFTCAP=softcap is not None,
                SCALE_LATE=softcap is None and mask_kind != 2 and problem.scale > 0,
                MASK_KIND=mask_kind, HAS_V=v_kernel is not None, ENTROPY=entropy, DROPOUT=dropout,
                HAS_BAD=v_max is not None,
                # fp32: three tf32 products ≈ fp32 accuracy on tensor cores (exact in the interpreter)
                DOT_PRECISION="tf32x3" if q.dtype == torch.float32 else "tf32",  # tf32: the default
                DOT_IN_FP32=interpret and q.dtype == torch.bfloat16,
                num_warps=cfg["num_warps"], num_stages=cfg["num_stages"],
            )

    return AttentionResult(
        out=out, shannon=stats[0], renyi2=stats[1], lse=stats[2], sink_mass=stats[3],
        backend="triton",
    )

