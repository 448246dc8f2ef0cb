"""The Triton kernels compile for a real GPU target (sm_90), on a machine without a GPU.

Triton's interpreter (which the other triton tests use) runs the kernel source as NumPy code and
accepts things the compiler refuses (a loop-carried variable changing shape, say), so this
compiles both kernels ahead of time for sm_90 — code generation, LLVM, ptxas — without launching
them, and checks each fits the shared memory of an H100/H200 (227 KiB per block). Slow (about a
minute of CPU), hence `slow`.
"""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton")

from headentropy.kernels.triton import bwd, fwd, jit  # noqa: E402

pytestmark = pytest.mark.slow

SHARED_MEMORY_LIMIT = 227 * 1024  # bytes per block on sm_90
FLOAT_ARGS = {"qk_scale", "scale", "cap_in", "cap_out", "drop_scale"}
EVERYTHING = dict(CAUSAL=True, HAS_WINDOW=True, HAS_SOFTCAP=True, MASK_KIND=1, DROPOUT=True)


def _compile(source, pointers: dict[str, str], constexprs: dict, cfg: dict):
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    fn = jit.kernel(source, interpret=False)
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in pointers:
            signature[name] = pointers[name]
        elif name in FLOAT_ARGS:
            signature[name] = "fp32"
        else:
            signature[name] = "i64" if name == "drop_thresh" else "i32"
    constexprs = dict(constexprs, BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"])
    return triton.compile(
        ASTSource(fn=fn, signature=signature, constexprs=constexprs),
        target=GPUTarget("cuda", 90, 32),
        options=dict(num_warps=cfg["num_warps"], num_stages=cfg["num_stages"]),
    )


def _dims(D: int) -> dict:
    return dict(HEAD_D=D, BLOCK_D=D, HEAD_DV=D, BLOCK_DV=D)


def test_forward_compiles_with_every_feature():
    D = 128
    cfg = fwd._config(D, 2, interpret=False)
    pointers = {n: "*bf16" for n in ("Q", "K", "V", "Out")} | {"Mask": "*u8", "Stats": "*fp32", "Keys": "*i64", "VMax": "*bf16"}
    k = _compile(fwd._attn_fwd_kernel, pointers, dict(
        _dims(D), **EVERYTHING, SCALE_LATE=False, HAS_V=True, ENTROPY=True, DOT_PRECISION="tf32", HAS_BAD=True,
        DOT_IN_FP32=False), cfg)
    assert 0 < k.metadata.shared <= SHARED_MEMORY_LIMIT


@pytest.mark.parametrize(("dtype", "D", "features"), [("bf16", 128, EVERYTHING), ("fp32", 64, dict(CAUSAL=True))],
                         ids=["bf16-D128-everything", "fp32-D64-causal"])
@pytest.mark.parametrize("for_keys", [True, False], ids=["dkdv", "dq"])
def test_backward_compiles(dtype, D, features, for_keys):
    cfg = bwd._config(D, 4 if dtype == "fp32" else 2, interpret=False, for_keys=for_keys)
    pointers = {n: f"*{dtype}" for n in ("Q", "K", "V", "DO")}
    pointers |= {"Mask": "*u8", "Rows": "*fp32", "Keys": "*i64", "DQ": "*fp32", "DK": "*fp32", "DV": "*fp32"}
    constexprs = dict(CAUSAL=False, HAS_WINDOW=False, HAS_SOFTCAP=False, MASK_KIND=0, DROPOUT=False)
    constexprs |= dict(features, **_dims(D), FOR_KEYS=for_keys, HAS_DO=True, DS_SPLIT=dtype != "fp32",
                       DOT_PRECISION="tf32x3" if dtype == "fp32" else "tf32", DOT_IN_FP32=False)
    k = _compile(bwd._attn_bwd_kernel, pointers, constexprs, cfg)
    assert 0 < k.metadata.shared <= SHARED_MEMORY_LIMIT
