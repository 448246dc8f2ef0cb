"""Glue between `AttentionProblem` and the compiled kernel (see attention_entropy.cpp).

With inputs that require grad, `run` wraps the C++ forward in the recomputing autograd Function
(kernels/autograd.py) whose backward is the C++ `backward`: the result still says "cpu".
"""

from __future__ import annotations

import functools
import math
import os

from dataclasses import dataclass

import torch

from ..autograd import RowTerms, run_engine
from ..dropout import threshold
from ..problem import AttentionProblem, nonfinite_value_keys
from ..result import AttentionResult
from . import loader

# Query rows per task (by query length) and keys per streamed block. The [block_q, block_k]
# fp32 score tile (≤ 512 KiB) stays in L2 next to the K/V blocks; the larger the query block,
# the less often BLAS re-packs each K block. Chosen with benchmarks/bench_cpu_kernel.py.
DEFAULT_BLOCK_K = 512


def default_block_q(q_len: int) -> int:
    return 256 if q_len >= 768 else 64 if q_len >= 192 else 32


def probe() -> tuple[bool, str]:
    """Available once the extension is built/loaded; builds it on the first call.

    Cheap after the first call (no hashing, no file reads): `backend="auto"` probes on every call.
    """
    try:
        module = loader.load()
    except loader.KernelUnavailable as exc:
        return False, str(exc)
    return True, _loaded_reason(module.__file__)


@functools.lru_cache(maxsize=4)
def _loaded_reason(module_file: str) -> str:
    # The loaded module's own path, not loader.build_dir(), which hashes the source and cpuinfo.
    return f"fused C++ kernel (cached in {os.path.dirname(module_file)})"


def _rows_contiguous(x: torch.Tensor) -> torch.Tensor:
    """The kernel reads rows through strides but needs each row (last dim) contiguous."""
    if x.stride(-1) != 1 or x.stride(-2) < x.shape[-1]:
        return x.contiguous()
    return x


def _surely_finite(x: torch.Tensor) -> bool:
    """A finite sum proves every element finite (inf/NaN propagate through a sum).

    One streaming reduction instead of `isfinite(x).all()`, which allocates a bool copy and
    costs several percent of a whole attention call. An overflowing sum only means "check".
    bf16 sums in its own dtype (accumulated in fp32 inside, same range): `dtype=float32` would
    first copy the whole tensor to fp32 (4x the time); fp16's range is too small for that.
    """
    dtype = None if x.dtype in (torch.bfloat16, torch.float32) else torch.float32
    return x.numel() == 0 or math.isfinite(float(x.detach().sum(dtype=dtype)))


def run(
    problem: AttentionProblem, *, block_q: int | None = None, block_k: int = DEFAULT_BLOCK_K
) -> AttentionResult:
    return run_engine(CpuEngine(block_q, block_k), problem)


@dataclass(frozen=True)
class CpuEngine:
    """The cpu backend as a `RecomputingEngine` (kernels/autograd.py): C++ forward and backward."""

    block_q: int | None = None  # None: default_block_q(Lq)
    block_k: int = DEFAULT_BLOCK_K
    stripes: int = 0  # backward tasks per head; 0: as many as the threads need (tests force >1)
    name: str = "cpu"

    def forward(self, problem: AttentionProblem) -> AttentionResult:
        return _forward(problem, self.block_q, self.block_k)

    def backward(self, problem: AttentionProblem, terms: RowTerms):
        ext = loader.load()
        block_q = self.block_q or default_block_q(problem.q_len)
        q = _rows_contiguous(problem.q)  # [B, Hq, Lq, D]
        k = _rows_contiguous(problem.k)  # [B, Hkv, Lk, D]
        v, dout = None, None
        if terms.dout is not None and problem.v is not None:
            v = problem.v
            if not _surely_finite(v):
                v = nonfinite_value_keys(v)[0]  # bad rows zeroed: they poison rows through D only
            v = _rows_contiguous(v)  # [B, Hkv, Lk, Dv]
            dout = terms.dout.to(torch.float32).contiguous()  # [B, Hq, Lq, Dv]
        rows = [  # each fp32 contiguous [B, Hq, Lq]
            x.to(torch.float32).contiguous()
            for x in (terms.lse, terms.const, terms.g_h, terms.k2, terms.g_sink)
        ]
        dq, dk_h, dv_h = ext.backward(
            q, k, v, dout, _expanded_mask(problem), *rows,
            problem.scale, problem.causal, problem.window or 0, problem.softcap or 0.0,
            problem.sink_tokens, block_q, self.block_k, self.stripes, *_dropout_args(problem),
        )  # fp32: [B, Hq, Lq, D], [B, Hq, Lk, D], [B, Hq, Lk, Dv] or undefined
        B, Hkv, G, Lk = problem.batch, problem.kv_heads, problem.group, problem.k_len
        if G > 1:  # per query head -> per KV head: sum over the group
            dk_h = dk_h.view(B, Hkv, G, Lk, dk_h.shape[-1]).sum(dim=2)
            if dout is not None:
                dv_h = dv_h.view(B, Hkv, G, Lk, dv_h.shape[-1]).sum(dim=2)
        return dq, dk_h, dv_h if dout is not None else None


def _dropout_args(problem: AttentionProblem) -> tuple[float, int, int]:
    """(p, seed as a signed int64, threshold) for the C++ keep-mask (same hash as kernels/dropout.py)."""
    if not problem.has_dropout:
        return 0.0, 0, 0
    seed = problem.dropout_seed & ((1 << 64) - 1)
    seed = seed - (1 << 64) if seed >= 1 << 63 else seed  # the same 64 bits, as int64_t
    return problem.dropout_p, seed, threshold(problem.dropout_p)


def _expanded_mask(problem: AttentionProblem) -> torch.Tensor | None:
    mask = problem.attn_mask
    if mask is None:
        return None
    if mask.dtype != torch.bool:
        mask = mask.to(torch.float32)
    # A stride-0 view: a broadcast mask is never materialised at [B, Hq, Lq, Lk].
    return mask.detach().expand(problem.full_shape)


def _forward(problem: AttentionProblem, block_q: int | None, block_k: int) -> AttentionResult:
    ext = loader.load()
    if block_q is None:
        block_q = default_block_q(problem.q_len)
    v_clean, bad_keys = problem.v, None
    if problem.v is not None and not _surely_finite(problem.v):
        v_clean, bad_keys = nonfinite_value_keys(problem.v)  # bad_keys: [B, Hkv, Lk] or None
    q = _rows_contiguous(problem.q)  # [B, Hq, Lq, D]
    k = _rows_contiguous(problem.k)  # [B, Hkv, Lk, D]
    v = None if v_clean is None else _rows_contiguous(v_clean)  # [B, Hkv, Lk, Dv]
    mask = _expanded_mask(problem)
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
        *_dropout_args(problem),
    )
    return AttentionResult(
        out=out if v is not None else None,
        shannon=shannon,
        renyi2=renyi2,
        lse=lse,
        sink_mass=sink,
        backend="cpu",
    )
