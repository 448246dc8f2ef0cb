"""The Triton backward: dq, dk, dv by recomputing P tile by tile from q, k and lse (DESIGN §2).

The autograd Function (kernels/autograd.py) saves q, k, v, out and the four row statistics, folds
the five upstream gradients into per-row constants (`RowTerms`, O(B·H·N)) and calls `launch`
here. Per visible score, as in the cpu and torch backends:

    s  = scale·q·kᵀ, or cap·tanh(scale·q·kᵀ/cap); + additive mask; −inf where hidden
    d  = s − lse = log P,   P = e^d                     (lse = +inf on fully masked rows: P = 0)
    dS = P ⊙ (dP + const − g_H·d − k2·P + g_sink·1[j<S]),   dP = dO·vᵀ
    dS ← dS ⊙ (1 − tanh²) under soft-cap
    dq = scale·dS·k,  dk = scale·dSᵀ·q,  dv = Pᵀ·dO

with `const = −D − g_H·H + 2·g_H2 + g_lse − g_sink·sink` and `k2 = 2·g_H2·e^{H2}` per row
(autograd.row_terms). `d` is clamped at −200 once P is taken, so a masked score (P = 0) adds
0·finite, never 0·inf. Fully masked rows have every row term 0 and lse = +inf: exactly zero.

Dropout: the keep-mask Z is regenerated from the same hash as the forward (kernels/dropout.py),
and dP̃ = r·Z⊙(dO·vᵀ), dv = r·(P⊙Z)ᵀ·dO with r = 1/(1 − p); D in `const` is unchanged.

One kernel source, two launches (no atomics, deterministic):

* `FOR_KEYS=True`: one program per (key block, batch, KV head). It keeps its K/V tiles and the
  dK/dV accumulators on chip and streams the query blocks of every query head of the GQA group
  that can see the block, so dk/dv come out already summed over the group.
* `FOR_KEYS=False`: one program per (query block, batch, query head), streaming the key blocks
  the forward visited, accumulating dQ.

Both run the same tile code (recompute s, P, dS); only what is streamed and what is accumulated
differ. Every tile applies the full masks (row/key bounds, causal, window, user mask): no
unmasked fast path yet (the forward has one).

Precision: dots take their operands in the input dtype (bf16/fp16 on tensor cores; fp32 inputs
as tf32x3 ≈ fp32) and accumulate in fp32. dS is computed in fp32; rounding it once to bf16 for
the dq/dk dots (FlashAttention's choice) plus the final rounding of dq/dk to bf16 gave twice the
naive bf16 error on a one-key row (dS = g_lse exactly, where the naive backward rounds once), so
for half inputs dS enters those dots as hi + lo bf16 parts (`DS_SPLIT`), two extra dots per tile.
"""

from __future__ import annotations

import contextlib

import torch

from ..autograd import RowTerms
from ..dropout import head_keys, threshold
from ..problem import AttentionProblem
from . import jit
from .jit import fmix32  # rebound to its JIT wrapper by jit.kernel()
from .fwd import mask_argument


# --------------------------------------------------------------------------------------------
# The kernel: plain Python source, wrapped by `jit.kernel()` (which binds `tl` here).
# --------------------------------------------------------------------------------------------
def _attn_bwd_kernel(
    Q, K, V, Mask, DO, Rows, Keys, DQ, DK, DV,  # pointers; V/Mask/DO/Keys/DV are dummies when unused
    stride_qb, stride_qh, stride_qm, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_mb, stride_mh, stride_mm, stride_mn,  # 0 along broadcast dims
    stride_ob, stride_oh, stride_om, stride_od,  # dO [B, Hq, Lq, Dv]
    stride_r0,  # Rows is [5, B, Hq, Lq] contiguous fp32: lse, const, g_h, k2, g_sink
    # DQ [B, Hq, Lq, HEAD_D], DK [B, Hkv, Lk, HEAD_D], DV [B, Hkv, Lk, HEAD_DV]: contiguous fp32
    Hq, Hkv, group, Lq, Lk, diag_offset, window, sink_tokens,
    scale, cap_in, cap_out,  # s = qk·scale, or with softcap: cap_out·tanh(qk·cap_in)
    drop_thresh, drop_scale,  # dropout: drop where hash < drop_thresh; r = 1/(1 - p)
    HEAD_D: tl.constexpr, BLOCK_D: tl.constexpr, HEAD_DV: tl.constexpr, BLOCK_DV: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    FOR_KEYS: tl.constexpr,  # True: dK/dV per key block; False: dQ per query block
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_SOFTCAP: tl.constexpr,
    MASK_KIND: tl.constexpr,  # 0 none, 1 bool (as uint8), 2 additive float
    HAS_DO: tl.constexpr,  # an upstream gradient reached `out` (and v exists): dP and dV terms
    DROPOUT: tl.constexpr, DOT_PRECISION: tl.constexpr,
    DS_SPLIT: tl.constexpr,  # bf16/fp16 inputs: dS enters the dq/dk dots as hi + lo
    DOT_IN_FP32: tl.constexpr,  # interpreter + bf16 only: its NumPy dot cannot multiply bf16
):
    NEG_INF: tl.constexpr = float("-inf")
    POS_INF: tl.constexpr = float("inf")

    offs_mb = tl.arange(0, BLOCK_M)  # [BM]
    offs_nb = tl.arange(0, BLOCK_N)  # [BN]
    offs_d = tl.arange(0, BLOCK_D)  # [BD]
    offs_dv = tl.arange(0, BLOCK_DV)  # [BDV]
    d_ok = offs_d < HEAD_D
    dv_ok = offs_dv < HEAD_DV
    pid = tl.program_id(0)
    pid_bh = tl.program_id(1)

    # ---- the fixed side of this program, and how many tiles it streams ----------------------
    if FOR_KEYS:
        b = (pid_bh // Hkv).to(tl.int64)
        kv_h = (pid_bh % Hkv).to(tl.int64)
        n_start = pid * BLOCK_N
        offs_n = n_start + offs_nb
        kv_ok = offs_n < Lk
        n_last = tl.minimum(n_start + BLOCK_N, Lk) - 1
        # query rows that see some key of the block: i + off >= n_start (causal),
        # i + off - n_last < window (window)
        row_lo = 0
        row_hi = Lq
        if CAUSAL:
            row_lo = tl.minimum(tl.maximum(n_start - diag_offset, 0), Lq)
        if HAS_WINDOW:
            row_hi = tl.maximum(tl.minimum(n_last - diag_offset + window, Lq), row_lo)
        m_lo = (row_lo // BLOCK_M) * BLOCK_M
        n_mblk = (row_hi - m_lo + BLOCK_M - 1) // BLOCK_M
        n_iter = n_mblk * group
        dk_acc = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
        dv_acc = tl.zeros([BLOCK_N, BLOCK_DV], dtype=tl.float32)
    else:
        b = (pid_bh // Hq).to(tl.int64)
        h = pid_bh % Hq
        kv_h = (h // group).to(tl.int64)
        h = h.to(tl.int64)
        m_start = pid * BLOCK_M
        offs_m = m_start + offs_mb
        row_ok = offs_m < Lq
        last_row = tl.minimum(m_start + BLOCK_M, Lq) - 1
        lo = 0
        hi = Lk
        if CAUSAL:
            hi = tl.minimum(tl.maximum(last_row + diag_offset + 1, 0), Lk)
        if HAS_WINDOW:
            lo = (tl.maximum(m_start + diag_offset - window + 1, 0) // BLOCK_N) * BLOCK_N
            lo = tl.minimum(lo, hi)
        n_iter = (hi - lo + BLOCK_N - 1) // BLOCK_N
        dq_acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

    k_base = K + b * stride_kb + kv_h * stride_kh + offs_d[None, :] * stride_kd  # K tile [BN, BD]
    v_base = V + b * stride_vb + kv_h * stride_vh + offs_dv[None, :] * stride_vd  # V tile [BN, BDV]
    if FOR_KEYS:
        k = tl.load(k_base + offs_n[:, None] * stride_kn, mask=kv_ok[:, None] & d_ok[None, :], other=0.0)
        if DOT_IN_FP32:
            k = k.to(tl.float32)
        if HAS_DO:
            v = tl.load(v_base + offs_n[:, None] * stride_vn, mask=kv_ok[:, None] & dv_ok[None, :], other=0.0)
            if DOT_IN_FP32:
                v = v.to(tl.float32)

    # Two nested loops, one of them a single pass: for dK/dV the outer loop streams the query
    # blocks (of every head of the group) and the inner one is the program's own key block; for
    # dQ the outer loop is the program's own query block and the inner one streams key blocks.
    if FOR_KEYS:
        n_outer = n_iter
        n_inner = 1
    else:
        n_outer = 1
        n_inner = n_iter
    for it in range(0, n_outer):
        # ---- the query side: this program's rows, or a streamed query block of head h ---------
        if FOR_KEYS:
            g = it // n_mblk
            h = kv_h * group + g  # int64: query head of the group
            offs_m = m_lo + (it - g * n_mblk) * BLOCK_M + offs_mb
            row_ok = offs_m < Lq
        q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qm + offs_d[None, :] * stride_qd
        q = tl.load(q_ptrs, mask=row_ok[:, None] & d_ok[None, :], other=0.0)  # [BM, BD]
        if DOT_IN_FP32:
            q = q.to(tl.float32)
        rows = Rows + (b * Hq + h) * Lq + offs_m  # Rows[., b, h, m]
        lse = tl.load(rows, mask=row_ok, other=POS_INF)  # +inf: P = 0 on rows beyond Lq
        row_const = tl.load(rows + stride_r0, mask=row_ok, other=0.0)
        g_h = tl.load(rows + 2 * stride_r0, mask=row_ok, other=0.0)
        k2 = tl.load(rows + 3 * stride_r0, mask=row_ok, other=0.0)
        g_sink = tl.load(rows + 4 * stride_r0, mask=row_ok, other=0.0)
        if HAS_DO:
            do_ptrs = DO + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_om + offs_dv[None, :] * stride_od
            do = tl.load(do_ptrs, mask=row_ok[:, None] & dv_ok[None, :], other=0.0)  # [BM, BDV]
            if DOT_IN_FP32:
                do = do.to(tl.float32)
        if DROPOUT:  # kernels/dropout.py: row word = fmix(key(b, h) ^ i) [BM] uint32
            row_word = fmix32(tl.load(Keys + b * Hq + h).to(tl.uint32) ^ offs_m.to(tl.uint32))  # [BM]

        for jt in range(0, n_inner):
            # ---- the key side: this program's key block, or a streamed one ---------------------
            if not FOR_KEYS:
                offs_n = lo + jt * BLOCK_N + offs_nb
                kv_ok = offs_n < Lk
                k = tl.load(k_base + offs_n[:, None] * stride_kn, mask=kv_ok[:, None] & d_ok[None, :], other=0.0)
                if DOT_IN_FP32:
                    k = k.to(tl.float32)
                if HAS_DO:
                    v = tl.load(v_base + offs_n[:, None] * stride_vn, mask=kv_ok[:, None] & dv_ok[None, :],
                                other=0.0)
                    if DOT_IN_FP32:
                        v = v.to(tl.float32)

            # ---- the tile: scores as in the forward, P from lse, dS --------------------------------
            qk = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)  # [BM, BN] fp32
            if HAS_SOFTCAP:  # c·tanh(x), tanh from exp: exact sign, no overflow
                xc = qk * cap_in
                e2 = tl.exp(-2.0 * tl.abs(xc))
                th = (1.0 - e2) / (1.0 + e2)
                th = tl.where(xc < 0, -th, th)
                s = th * cap_out
                cap_grad = 1.0 - th * th  # d(c·tanh(r/c))/dr
            else:
                s = qk * scale
            if MASK_KIND != 0:
                mk_ptrs = (Mask + b * stride_mb + h * stride_mh + offs_m.to(tl.int64)[:, None] * stride_mm
                           + offs_n[None, :] * stride_mn)
                mk = tl.load(mk_ptrs, mask=row_ok[:, None] & kv_ok[None, :], other=0)
                if MASK_KIND == 1:
                    s = tl.where(mk != 0, s, NEG_INF)
                else:
                    bias = mk.to(tl.float32)
                    s = tl.where(bias == NEG_INF, NEG_INF, s + bias)
            keep = row_ok[:, None] & kv_ok[None, :]
            if CAUSAL:
                rel = (offs_m + diag_offset)[:, None] - offs_n[None, :]  # how far back the key is
                keep = keep & (rel >= 0)
                if HAS_WINDOW:
                    keep = keep & (rel < window)
            s = tl.where(keep, s, NEG_INF)

            d = s - lse[:, None]  # log P; -inf where hidden or on empty rows (lse = +inf)
            p = tl.exp(d)  # [BM, BN]
            d = tl.maximum(d, -200.0)  # e^-200 = 0 in fp32: only 0·inf becomes 0·finite
            inner = row_const[:, None] - g_h[:, None] * d - k2[:, None] * p
            inner += tl.where(offs_n[None, :] < sink_tokens, g_sink[:, None], 0.0)
            if HAS_DO:
                dp = tl.dot(do, tl.trans(v), input_precision=DOT_PRECISION)  # dO·vᵀ [BM, BN]
                p_v = p
                if DROPOUT:  # u = fmix(row word ^ j); kept where u >= threshold
                    u = fmix32(row_word[:, None] ^ offs_n.to(tl.uint32)[None, :])  # [BM, BN]
                    kept = u.to(tl.int64) >= drop_thresh
                    dp = tl.where(kept, dp * drop_scale, 0.0)
                    p_v = tl.where(kept, p * drop_scale, 0.0)
                inner += dp
            ds = p * inner
            if HAS_SOFTCAP:
                ds = ds * cap_grad

            # ---- accumulate ------------------------------------------------------------------------
            # dS in q's dtype for the tensor-core dot; for bf16/fp16 as a sum of two rounded parts
            # (hi + lo), so that dq/dk see dS to ~16 bits instead of 8: one rounding, not two.
            ds_hi = ds.to(Q.dtype.element_ty)
            if DS_SPLIT:
                ds_lo = (ds - ds_hi.to(tl.float32)).to(Q.dtype.element_ty).to(q.dtype)
            ds_hi = ds_hi.to(q.dtype)
            if FOR_KEYS:
                dk_acc = tl.dot(tl.trans(ds_hi), q, dk_acc, input_precision=DOT_PRECISION)
                if DS_SPLIT:
                    dk_acc = tl.dot(tl.trans(ds_lo), q, dk_acc, input_precision=DOT_PRECISION)
                if HAS_DO:  # P rounded to V's dtype, as in the forward's P·V
                    dv_acc = tl.dot(tl.trans(p_v.to(V.dtype.element_ty)).to(do.dtype), do, dv_acc,
                                    input_precision=DOT_PRECISION)
            else:
                dq_acc = tl.dot(ds_hi, k, dq_acc, input_precision=DOT_PRECISION)
                if DS_SPLIT:
                    dq_acc = tl.dot(ds_lo, k, dq_acc, input_precision=DOT_PRECISION)

    # ---- store (every element of the program's tile, zeros where nothing was visible) --------
    if FOR_KEYS:
        kv_row = (b * Hkv + kv_h) * Lk + offs_n  # [BN] row index into DK/DV
        tl.store(DK + kv_row[:, None] * HEAD_D + offs_d[None, :], dk_acc * scale,
                 mask=kv_ok[:, None] & d_ok[None, :])
        if HAS_DO:
            tl.store(DV + kv_row[:, None] * HEAD_DV + offs_dv[None, :], dv_acc,
                     mask=kv_ok[:, None] & dv_ok[None, :])
    else:
        q_row = (b * Hq + h) * Lq + offs_m  # [BM]
        tl.store(DQ + q_row[:, None] * HEAD_D + offs_d[None, :], dq_acc * scale,
                 mask=row_ok[:, None] & d_ok[None, :])


# (fp32?, head-dim tier) -> {pass: (BLOCK_M, BLOCK_N, num_warps, num_stages)}. Chosen by compiling
# for sm_90 ahead of time on a machine without a GPU (ptxas -v): every entry fits the H100/H200
# shared memory, and spills at most a few dozen bytes except fp32 D=256 (~0.5 KiB). Speed is not
# tuned yet (benchmarks/bench_gpu.py measures it when a GPU is lent).
_CONFIGS = {
    (False, 64): {"keys": (32, 128, 8, 2), "queries": (128, 32, 8, 2)},
    (False, 128): {"keys": (32, 64, 8, 2), "queries": (64, 32, 4, 2)},
    (False, 256): {"keys": (16, 32, 4, 1), "queries": (32, 16, 4, 1)},
    (True, 64): {"keys": (32, 32, 4, 1), "queries": (64, 32, 4, 1)},
    (True, 128): {"keys": (16, 32, 4, 1), "queries": (32, 32, 4, 1)},
    (True, 256): {"keys": (16, 16, 4, 1), "queries": (16, 16, 4, 1)},
}


def _config(head_dim: int, itemsize: int, interpret: bool, for_keys: bool) -> dict:
    """Block config per pass (no autotuning); small blocks in the interpreter.

    The side a program keeps on chip is the wide one (BLOCK_N for dK/dV, BLOCK_M for dQ), the
    streamed side narrow, as in the FlashAttention-2 backward.
    """
    if interpret:
        return dict(BLOCK_M=16, BLOCK_N=16, num_warps=4, num_stages=1)
    tier = 64 if head_dim <= 64 else 128 if head_dim <= 128 else 256
    bm, bn, warps, stages = _CONFIGS[(itemsize >= 4, tier)]["keys" if for_keys else "queries"]
    return dict(BLOCK_M=bm, BLOCK_N=bn, num_warps=warps, num_stages=stages)


def launch(
    problem: AttentionProblem,
    terms: RowTerms,
    *,
    block_m: int | None = None,
    block_n: int | None = None,
    ds_split: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(dq [B, Hq, Lq, D], dk [B, Hkv, Lk, D], dv [B, Hkv, Lk, Dv] or None), fp32.

    dk/dv are already summed over the query heads of each GQA group. Private knobs (tests,
    benchmarks): `block_m/block_n` override both passes' configs; `ds_split=False` rounds dS to
    bf16/fp16 once for the dq/dk dots, as FlashAttention does (two fewer dots per tile; on
    small test shapes it exceeds the tolerance rule, see the module docstring).
    """
    q, k = problem.q, problem.k
    B, Hq, Lq, D = q.shape
    Hkv, G, Lk = problem.kv_heads, problem.group, problem.k_len
    device = q.device
    interpret = jit.interpreter_enabled()

    v = dout = None
    if terms.dout is not None and problem.v is not None and problem.v.shape[-1] > 0:
        # [B, Hkv, Lk, Dv], non-finite entries zeroed (their rows poison through D = rowsum(dO⊙O));
        # a copy, but no host synchronisation (which would stall the GPU queue every layer)
        v = torch.nan_to_num(problem.v, nan=0.0, posinf=0.0, neginf=0.0)
        # dO in V's dtype for the tensor-core dot: exact, the upstream gradient of `out` had it
        dout = terms.dout.to(v.dtype)  # [B, Hq, Lq, Dv]
    dv_dim = 0 if v is None else v.shape[-1]

    dq = torch.zeros(B, Hq, Lq, D, dtype=torch.float32, device=device)
    dk = torch.zeros(B, Hkv, Lk, D, dtype=torch.float32, device=device)
    dv = None if v is None else torch.zeros(B, Hkv, Lk, dv_dim, dtype=torch.float32, device=device)
    if Lq == 0 or Lk == 0 or B * Hq == 0:
        return dq, dk, dv

    rows = torch.stack([x.to(torch.float32) for x in (terms.lse, terms.const, terms.g_h, terms.k2, terms.g_sink)])
    rows = rows.contiguous()  # [5, B, Hq, Lq]
    mask, mask_kind = mask_argument(problem)
    mask_strides = mask.stride() if mask is not None else (0, 0, 0, 0)
    dropout = dout is not None and problem.has_dropout
    keys, drop_thresh = q, 0  # dummies
    if dropout:
        keys, drop_thresh = head_keys(problem.dropout_seed, B, Hq, device), threshold(problem.dropout_p)
    window, softcap = problem.window, problem.softcap
    v_arg = v if v is not None else q
    do_arg = dout if dout is not None else q
    dv_arg = dv if dv is not None else dk
    v_strides = v.stride() if v is not None else (0, 0, 0, 0)
    do_strides = dout.stride() if dout is not None else (0, 0, 0, 0)
    dv_k = max(dv_dim, 1)
    kernel = jit.kernel(_attn_bwd_kernel, interpret)
    with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():
        for for_keys in (True, False):
            cfg = _config(max(D, dv_dim), q.element_size(), interpret, for_keys)
            if block_m is not None:
                cfg["BLOCK_M"] = block_m
            if block_n is not None:
                cfg["BLOCK_N"] = block_n
            if for_keys:
                grid = (-(-Lk // cfg["BLOCK_N"]), B * Hkv)  # (key blocks, batch·KV heads)
            else:
                grid = (-(-Lq // cfg["BLOCK_M"]), B * Hq)  # (query blocks, batch·query heads)
            kernel[grid](
                q, k, v_arg, mask if mask is not None else q, do_arg, rows, keys, dq, dk, dv_arg,
                *q.stride(), *k.stride(), *v_strides, *mask_strides, *do_strides, rows.stride(0),
                Hq, Hkv, G, Lq, Lk, Lk - Lq, window or 0, problem.sink_tokens,
                problem.scale, problem.scale / softcap if softcap else 1.0, softcap or 1.0,
                drop_thresh, 1.0 / (1.0 - problem.dropout_p),
                HEAD_D=D, BLOCK_D=max(16, jit.next_pow2(D)),
                HEAD_DV=dv_k, BLOCK_DV=max(16, jit.next_pow2(dv_k)),
                BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], FOR_KEYS=for_keys,
                CAUSAL=problem.causal or window is not None,
                HAS_WINDOW=window is not None, HAS_SOFTCAP=softcap is not None,
                MASK_KIND=mask_kind, HAS_DO=dout is not None, DROPOUT=dropout,
                DOT_PRECISION="tf32x3" if q.dtype == torch.float32 else "tf32",
                DS_SPLIT=q.dtype != torch.float32 if ds_split is None else ds_split and q.dtype != torch.float32,
                DOT_IN_FP32=interpret and q.dtype == torch.bfloat16,
                num_warps=cfg["num_warps"], num_stages=cfg["num_stages"],
            )
    return dq, dk, dv
