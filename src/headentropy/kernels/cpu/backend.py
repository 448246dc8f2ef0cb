"""Glue between `AttentionProblem` and the compiled kernel (see attention_entropy.cpp)."""

from __future__ import annotations

import torch

from ..problem import AttentionProblem, nonfinite_value_keys
from ..result import AttentionResult
from . import loader

# Query rows per task and keys per streamed block. A [block_q, block_k] fp32 score tile
# (128 KiB) stays in L2 next to the K/V blocks; chosen with benchmarks/bench_cpu_kernel.py.
DEFAULT_BLOCK_Q = 64
DEFAULT_BLOCK_K = 512


def probe() -> tuple[bool, str]:
    """Available once the extension is built/loaded; builds it on the first call."""
    try:
        loader.load()
    except loader.KernelUnavailable as exc:
        return False, str(exc)
    return True, f"fused C++ kernel (cached in {loader.build_dir()})"


def _rows_contiguous(x: torch.Tensor) -> torch.Tensor:
    """The kernel reads rows through strides but needs each row (last dim) contiguous."""
    if x.stride(-1) != 1 or x.stride(-2) < x.shape[-1]:
        return x.contiguous()
    return x


def run(
    problem: AttentionProblem, *, block_q: int = DEFAULT_BLOCK_Q, block_k: int = DEFAULT_BLOCK_K
) -> AttentionResult:
    ext = loader.load()
    v_clean, bad_keys = nonfinite_value_keys(problem.v)  # bad_keys: [B, Hkv, Lk] or None
    q = _rows_contiguous(problem.q)  # [B, Hq, Lq, D]
    k = _rows_contiguous(problem.k)  # [B, Hkv, Lk, D]
    v = None if v_clean is None else _rows_contiguous(v_clean)  # [B, Hkv, Lk, Dv]
    mask = problem.attn_mask
    if mask is not None:
        if mask.dtype != torch.bool:
            mask = mask.to(torch.float32)
        # A stride-0 view: a broadcast mask is never materialised at [B, Hq, Lq, Lk].
        mask = mask.expand(problem.full_shape)
    if bad_keys is not None:
        bad_keys = bad_keys.contiguous()
    out, shannon, renyi2, lse, sink = ext.forward(
        q,
        k,
        v,
        mask,
        bad_keys,
        problem.scale,
        problem.causal,
        problem.window or 0,
        problem.softcap or 0.0,
        problem.sink_tokens,
        block_q,
        block_k,
    )
    return AttentionResult(
        out=out if v is not None else None,
        shannon=shannon,
        renyi2=renyi2,
        lse=lse,
        sink_mass=sink,
        backend="cpu",
    )
