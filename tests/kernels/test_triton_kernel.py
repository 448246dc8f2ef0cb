"""Backend `triton`: the fused kernel against the fp64 oracle (DESIGN §7 tolerance rule).

Two kinds of test live here:

* interpreter tests (no marker): the kernel runs through Triton's NumPy interpreter on CPU
  tensors, on small shapes. `TRITON_INTERPRET=1` is set per test by the `interp` fixture and
  removed afterwards; `kernels/triton/jit.py` reads it at call time and wraps the kernel for that mode, so
  import order does not matter and nothing leaks into other test modules.
* GPU tests (`@pytest.mark.gpu`): the compiled kernel at realistic shapes; skipped without CUDA.
  `benchmarks/bench_gpu.py` runs them first (`pytest -m gpu`).

The shared backend list (`backends.KERNEL_BACKENDS`) does not include "triton": the interpreter
is too slow for its full grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("triton")

import headentropy as he  # noqa: E402
from headentropy.kernels.triton import backend as triton_backend  # noqa: E402
from headentropy.kernels.triton import fwd as triton_fwd  # noqa: E402
from headentropy.kernels.dispatch import build_problem  # noqa: E402
from headentropy.kernels.reference import reference_attention  # noqa: E402

from .cases import Case  # noqa: E402
from .oracle import naive_same_dtype, oracle, visibility  # noqa: E402
from .tolerance import FLOORS, STATS, assert_within_tolerance  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


@pytest.fixture
def interp(monkeypatch):
    """Run the kernel through Triton's interpreter for the duration of one test."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    yield


def _run(q, k, v=None, *, poison=True, **kwargs) -> he.AttentionResult:
    """The kernel with outputs pre-filled with NaN, so an unwritten element cannot pass."""
    return triton_fwd.launch(build_problem(q, k, v, **kwargs), poison=poison)


# ---------------------------------------------------------------------------------------------
# Interpreter: small shapes, every feature
# ---------------------------------------------------------------------------------------------
INTERP_CASES = [
    Case(1, 1, 1, 1, 1, 16),  # one key
    Case(2, 4, 2, 17, 17, 32, causal=True),  # GQA
    Case(1, 2, 2, 97, 97, 64),  # odd length, several blocks
    Case(1, 2, 1, 97, 97, 16, causal=True),  # MQA
    Case(2, 4, 2, 1, 97, 32, causal=True),  # decode step against a cache
    Case(1, 2, 1, 17, 97, 32, causal=True),  # chunked prefill, bottom-right causal
    Case(1, 2, 2, 97, 17, 32, causal=True),  # Lq > Lk: first rows see nothing
    Case(1, 4, 2, 97, 97, 32, causal=True, window=16),
    Case(1, 2, 1, 33, 65, 16, window=20),  # window alone (no look-ahead either)
    Case(2, 2, 1, 40, 70, 32, mask="padding"),  # bool mask with fully masked rows
    Case(2, 2, 2, 40, 40, 32, causal=True, mask="padding"),
    Case(1, 2, 2, 40, 70, 32, mask="additive"),  # additive with -inf and fully masked rows
    Case(1, 2, 2, 97, 97, 32, causal=True, logit_scale=1000.0),
    Case(1, 2, 2, 64, 64, 64, logit_scale=100.0),
    Case(1, 2, 2, 40, 70, 32, causal=True, softcap=20.0, logit_scale=10.0),
    Case(1, 2, 2, 40, 70, 32, causal=True, stats_only=True),
    Case(1, 2, 2, 17, 40, 48, Dv=24, causal=True),  # non-power-of-2 head dims, Dv != D
    Case(1, 2, 1, 17, 40, 80),
    Case(1, 1, 1, 33, 33, 256, causal=True),
]
_ORACLE: dict[tuple[str, torch.dtype], dict] = {}


def _oracle(case: Case, dtype: torch.dtype, inputs) -> dict:
    key = (case.id, dtype)
    if key not in _ORACLE:
        (q, k, v), kwargs = inputs
        _ORACLE[key] = oracle(q, k, v, **kwargs)
    return _ORACLE[key]


@pytest.mark.parametrize("dtype", list(FLOORS), ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("case", INTERP_CASES, ids=lambda c: c.id)
def test_interpreter_tolerance_rule(interp, case: Case, dtype: torch.dtype):
    inputs = case.inputs(dtype)
    (q, k, v), kwargs = inputs
    got = _run(q, k, v, **kwargs)
    want = _oracle(case, dtype, inputs)
    naive = naive_same_dtype(q, k, v, **kwargs)
    assert got.backend == "triton"
    for name in STATS:
        assert getattr(got, name).dtype == torch.float32
        assert getattr(got, name).shape == (case.B, case.Hq, case.Lq)
    if case.stats_only:
        assert got.out is None
        names = STATS
    else:
        assert got.out.dtype == dtype and got.out.shape == (case.B, case.Hq, case.Lq, case.Dv or case.D)
        names = (*STATS, "out")
    assert_within_tolerance(got, want, naive, dtype, names)


@pytest.mark.parametrize("blocks", [(32, 16), (16, 32), (64, 64)], ids=lambda b: f"bm{b[0]}-bn{b[1]}")
@pytest.mark.parametrize(
    "case",
    [Case(1, 4, 2, 97, 97, 32, causal=True, window=16), Case(1, 2, 1, 33, 70, 16, causal=True, mask="padding")],
    ids=lambda c: c.id,
)
def test_interpreter_other_block_sizes(interp, case: Case, blocks):
    """Other BLOCK_M/BLOCK_N move the diagonal, window edge and tail to different block slots."""
    (q, k, v), kwargs = case.inputs(torch.float32)
    got = triton_fwd.launch(build_problem(q, k, v, **kwargs), block_m=blocks[0], block_n=blocks[1], poison=True)
    assert_within_tolerance(got, _oracle(case, torch.float32, ((q, k, v), kwargs)),
                     naive_same_dtype(q, k, v, **kwargs), torch.float32, (*STATS, "out"))


def test_interpreter_through_public_api(interp):
    q, k, v = torch.randn(1, 4, 9, 16), torch.randn(1, 2, 12, 16), torch.randn(1, 2, 12, 16)
    assert he.backends()["triton"].available
    for scale in (None, -0.7, 0.0):  # a negative/zero scale takes the early-scaling path
        got = he.attention(q, k, v, causal=True, scale=scale, backend="triton")
        want = he.attention(q, k, v, causal=True, scale=scale, backend="reference")
        assert got.backend == "triton"
        for name in (*STATS, "out"):
            torch.testing.assert_close(getattr(got, name), getattr(want, name), atol=2e-6, rtol=2e-6,
                                       msg=lambda m, n=name, sc=scale: f"scale={sc} {n}: {m}")


def test_interpreter_fully_masked_rows_are_exact(interp):
    q, k, v = torch.randn(1, 2, 5, 16), torch.randn(1, 2, 21, 16), torch.randn(1, 2, 21, 16)
    mask = torch.ones(1, 1, 5, 21, dtype=torch.bool)
    mask[..., 2, :] = False  # query 2 sees nothing
    additive = torch.zeros(1, 1, 5, 21).masked_fill(~mask, float("-inf"))
    for m in (mask, additive):
        r = _run(q, k, v, attn_mask=m)
        assert torch.equal(r.out[:, :, 2], torch.zeros(1, 2, 16))
        for name in ("shannon", "renyi2", "sink_mass"):
            assert torch.equal(getattr(r, name)[:, :, 2], torch.zeros(1, 2)), name
        assert torch.isneginf(r.lse[:, :, 2]).all()
        assert torch.isfinite(r.lse[:, :, [0, 1, 3, 4]]).all()
        assert torch.isfinite(r.out[:, :, [0, 1, 3, 4]]).all()


def test_interpreter_broadcast_masks_and_strided_inputs(interp):
    """Masks of shape [B,1,1,Lk] and [Lq,Lk] are read through stride-0 views; q/k/v in the
    [B, L, H, D] memory layout HF models produce (transposed views) are read through strides."""
    B, H, Lq, Lk, D = 2, 3, 19, 35, 32
    q = torch.randn(B, Lq, H, D).transpose(1, 2)  # non-contiguous [B, H, Lq, D]
    k = torch.randn(B, Lk, H, D).transpose(1, 2)
    v = torch.randn(B, Lk, H, D).transpose(1, 2)
    pad = torch.ones(B, 1, 1, Lk, dtype=torch.bool)
    pad[0, ..., :7] = False
    two_d = torch.randn(Lq, Lk).masked_fill(torch.rand(Lq, Lk) < 0.2, float("-inf"))
    for mask in (pad, two_d):
        got = _run(q, k, v, attn_mask=mask, causal=True)
        want = reference_attention(build_problem(q, k, v, attn_mask=mask, causal=True))
        for name in (*STATS, "out"):
            torch.testing.assert_close(getattr(got, name), getattr(want, name), atol=3e-6, rtol=3e-6,
                                       equal_nan=True, msg=lambda m, n=name: f"{n}: {m}")


def test_interpreter_entropy_switch_keeps_out_and_lse(interp):
    """ENTROPY=False (the benchmark's overhead probe) computes the same out and lse, bit for bit."""
    q, k, v = torch.randn(1, 2, 40, 32), torch.randn(1, 2, 40, 32), torch.randn(1, 2, 40, 32)
    problem = build_problem(q, k, v, causal=True)
    on = triton_fwd.launch(problem)
    off = triton_fwd.launch(problem, entropy=False)
    assert torch.equal(on.out, off.out) and torch.equal(on.lse, off.lse)
    assert torch.isnan(off.shannon).all()  # not computed: left NaN, never a plausible number
    assert torch.isfinite(on.shannon).all()


def test_interpreter_sink_mass(interp):
    """Sink keys spanning a block boundary (sink_tokens=20 > BLOCK_N=16), with a window that
    hides them from late queries."""
    q, k, v = torch.randn(1, 2, 50, 16), torch.randn(1, 2, 50, 16), torch.randn(1, 2, 50, 16)
    for kwargs in (dict(sink_tokens=20), dict(sink_tokens=20, causal=True, window=30), dict(sink_tokens=0)):
        got = _run(q, k, v, **kwargs)
        want = oracle(q, k, v, **kwargs)["sink_mass"]
        np.testing.assert_allclose(got.sink_mass.double().numpy(), want, atol=2e-6, err_msg=str(kwargs))


def test_interpreter_nonfinite_inputs_poison_only_their_rows(interp):
    B, H, L, D = 1, 2, 24, 16
    q, k, v = torch.randn(B, H, L, D), torch.randn(B, H, L, D), torch.randn(B, H, L, D)
    qn = q.clone()
    qn[0, 1, 4, 3] = float("nan")
    r = _run(qn, k, v, causal=True)
    assert torch.isnan(r.shannon[0, 1, 4]) and torch.isnan(r.out[0, 1, 4]).all()
    r.shannon[0, 1, 4] = 0.0
    assert not torch.isnan(r.shannon).any()

    kn = k.clone()
    kn[0, 0, 10, 5] = float("nan")  # under causal only queries >= 10 see key 10
    r = _run(q, kn, v, causal=True)
    assert torch.isnan(r.lse[0, 0, 10:]).all() and torch.isfinite(r.lse[0, 0, :10]).all()
    assert torch.isfinite(r.lse[0, 1]).all()

    vn = v.clone()
    vn[0, 0, 5, 2] = float("nan")  # poisons outputs that give key 5 weight, never the statistics
    r = _run(q, k, vn, causal=True)
    assert torch.isnan(r.out[0, 0, 5:]).all() and torch.isfinite(r.out[0, 0, :5]).all()
    assert torch.isfinite(r.out[0, 1]).all() and torch.isfinite(r.shannon).all()
    assert r.out.shape == (B, H, L, D)


def test_interpreter_empty_lengths(interp):
    q, k, v = torch.randn(1, 2, 0, 16), torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16)
    r = _run(q, k, v)
    assert r.out.shape == (1, 2, 0, 16) and r.shannon.shape == (1, 2, 0)
    r = _run(torch.randn(1, 2, 3, 16), k[:, :, :0], v[:, :, :0])  # no keys: every row empty
    assert torch.isneginf(r.lse).all() and torch.equal(r.out, torch.zeros(1, 2, 3, 16))


def test_unsupported_inputs_are_refused_with_the_reason(interp):
    """No re-routing inside the backend: a forced triton raises BackendUnavailable naming why."""
    q = torch.randn(1, 2, 5, 16, dtype=torch.float64)
    with pytest.raises(he.BackendUnavailable, match="float64"):
        he.attention(q, q, q, backend="triton")
    big = torch.randn(1, 1, 3, triton_backend.MAX_HEAD_DIM + 8)
    with pytest.raises(he.BackendUnavailable, match="head dims"):
        he.attention(big, big, big, backend="triton")
    grad_q = torch.randn(1, 2, 5, 16, requires_grad=True)  # the recomputing backward covers grads
    assert he.attention(grad_q, grad_q.detach(), grad_q.detach(), backend="triton").backend == "triton"
    assert triton_backend.supports(build_problem(grad_q, grad_q, grad_q), needs_grad=True) is None
    wide = torch.randn(1, 65536, 1, 16)  # B·Hq beyond CUDA's grid axis 1
    with pytest.raises(he.BackendUnavailable, match="65535"):
        he.attention(wide, wide, wide, backend="triton")


@pytest.mark.skipif(HAS_CUDA, reason="checks the message given where there is no CUDA")
def test_without_cuda_or_interpreter_it_says_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    ok, reason = triton_backend.probe()
    assert not ok and "TRITON_INTERPRET" in reason and "CUDA" in reason
    q = torch.randn(1, 1, 4, 16)
    with pytest.raises(he.BackendUnavailable, match="not available"):
        he.attention(q, q, q, backend="triton")
    assert "TRITON_INTERPRET=1" in triton_backend.supports(build_problem(q, q, q), needs_grad=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lq=st.integers(1, 40),
    lk=st.integers(1, 40),
    causal=st.booleans(),
    window=st.one_of(st.none(), st.integers(1, 12)),
    logit_scale=st.sampled_from([0.0, 1.0, 30.0]),
    group=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_interpreter_invariants(interp, lq, lk, causal, window, logit_scale, group, seed):
    """0 <= H2 <= H <= log n_valid; one key: H = H2 = 0; no key: zeros and lse = -inf; a zero
    logit scale gives the uniform row, H = H2 = log n_valid."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(1, 2, lq, 16, generator=gen) * logit_scale
    k = torch.randn(1, 2 // group, lk, 16, generator=gen)
    r = _run(q, k, None, causal=causal, window=window)
    n = torch.from_numpy(visibility(lq, lk, causal, window).sum(-1)).float()  # [Lq]
    H, H2 = r.shannon[0], r.renyi2[0]  # [2, Lq]
    assert (H2 >= 0).all() and (H2 <= H + 1e-6).all()
    log_n = torch.log(n.clamp_min(1))
    assert (H <= log_n + 1e-5).all()
    single_or_none = n <= 1
    assert (H[:, single_or_none] == 0).all() and (H2[:, single_or_none] <= 1e-6).all()
    assert torch.isneginf(r.lse[0][:, n == 0]).all() and torch.isfinite(r.lse[0][:, n > 0]).all()
    assert ((r.sink_mass >= 0) & (r.sink_mass <= 1 + 1e-6)).all()
    if logit_scale == 0.0:
        torch.testing.assert_close(H, log_n.expand_as(H), atol=2e-6, rtol=0)
        torch.testing.assert_close(H2, log_n.expand_as(H2), atol=2e-6, rtol=0)


# ---------------------------------------------------------------------------------------------
# GPU: the compiled kernel at realistic shapes (run by benchmarks/bench_gpu.py first)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def compiled(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    yield


def _naive_gpu(q, k, v, *, causal=False, window=None, softcap=None, attn_mask=None, sink_tokens=4):
    """Naive same-dtype PyTorch on the GPU: the error yardstick of DESIGN §7."""
    Lq, Lk = q.shape[2], k.shape[2]
    g = q.shape[1] // k.shape[1]
    s = (q @ k.repeat_interleave(g, 1).transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask.to(s.dtype)
    if causal or window is not None:
        rel = (torch.arange(Lq, device=q.device)[:, None] + Lk - Lq) - torch.arange(Lk, device=q.device)
        vis = rel >= 0
        if window is not None:
            vis &= rel < window
        s = s.masked_fill(~vis, float("-inf"))
    p = torch.softmax(s, dim=-1)
    out = None if v is None else p @ v.repeat_interleave(g, 1)
    return {
        "shannon": -torch.special.xlogy(p, p).sum(-1), "renyi2": -torch.log((p * p).sum(-1)),
        "lse": torch.logsumexp(s, -1), "sink_mass": p[..., :sink_tokens].sum(-1), "out": out,
    }


BF16, FP16, FP32 = torch.bfloat16, torch.float16, torch.float32
# (shape/feature dict, dtypes): every case in bf16, a few in fp16/fp32 (each dtype compiles anew)
GPU_CASES = [
    (dict(B=2, Hq=8, Hkv=8, Lq=1024, Lk=1024, D=64, causal=True), (BF16, FP16, FP32)),
    (dict(B=2, Hq=8, Hkv=2, Lq=1024, Lk=1024, D=128, causal=False), (BF16, FP16, FP32)),
    (dict(B=1, Hq=8, Hkv=1, Lq=1000, Lk=1000, D=128, causal=True), (BF16,)),  # MQA, ragged
    (dict(B=2, Hq=8, Hkv=4, Lq=1, Lk=2047, D=128, causal=True), (BF16,)),  # decode
    (dict(B=2, Hq=4, Hkv=4, Lq=300, Lk=1500, D=64, causal=True, window=256), (BF16,)),
    (dict(B=2, Hq=4, Hkv=2, Lq=777, Lk=777, D=80, causal=True, softcap=30.0, mask="padding"), (BF16,)),
    (dict(B=1, Hq=4, Hkv=4, Lq=512, Lk=512, D=256, causal=True), (BF16,)),
    (dict(B=1, Hq=4, Hkv=4, Lq=513, Lk=513, D=32, mask="additive"), (BF16, FP32)),
    (dict(B=1, Hq=4, Hkv=2, Lq=512, Lk=512, D=64, causal=True, stats_only=True), (BF16,)),
]
GPU_PARAMS = [
    pytest.param(case, dtype, id="-".join(f"{k}{v}" for k, v in case.items()) + "-" + str(dtype).removeprefix("torch."))
    for case, dtypes in GPU_CASES
    for dtype in dtypes
]


@pytest.mark.parametrize(("case", "dtype"), GPU_PARAMS)
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_tolerance_rule(compiled, case, dtype):
    c = dict(case)
    stats_only, mask_kind = c.pop("stats_only", False), c.pop("mask", None)
    B, Hq, Hkv, Lq, Lk, D = (c.pop(n) for n in ("B", "Hq", "Hkv", "Lq", "Lk", "D"))
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(Lq * 31 + D)
    q = torch.randn(B, Hq, Lq, D, device=dev, generator=gen).to(dtype)
    k = torch.randn(B, Hkv, Lk, D, device=dev, generator=gen).to(dtype)
    v = None if stats_only else torch.randn(B, Hkv, Lk, D, device=dev, generator=gen).to(dtype)
    if mask_kind == "padding":
        m = torch.ones(B, 1, 1, Lk, dtype=torch.bool, device=dev)
        m[0, ..., : Lk // 3] = False
        c["attn_mask"] = m
    elif mask_kind == "additive":
        m = torch.randn(B, Hq, Lq, Lk, device=dev, generator=gen)
        m = m.masked_fill(torch.rand(B, Hq, Lq, Lk, device=dev, generator=gen) < 0.3, float("-inf"))
        m[0, 0, :2] = float("-inf")
        c["attn_mask"] = m.to(dtype)
    got = triton_fwd.launch(build_problem(q, k, v, **c), poison=True)
    mask64 = c.get("attn_mask")
    if mask64 is not None and mask64.is_floating_point():
        mask64 = mask64.double()
    ref = reference_attention(
        build_problem(q.double(), k.double(), None if v is None else v.double(), **{**c, "attn_mask": mask64}),
        precise=True,
    )
    want = {n: getattr(ref, n).cpu().numpy() for n in (*STATS, "out") if getattr(ref, n) is not None}
    naive = _naive_gpu(q, k, v, **c)
    assert got.backend == "triton"
    assert_within_tolerance(got, want, naive, dtype, STATS if stats_only else (*STATS, "out"))


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_no_quadratic_memory(compiled):
    """At N = 16384 an N×N fp32 score matrix per head would be 1 GiB; peak extra memory stays O(N)."""
    B, H, N, D = 1, 4, 16384, 128
    q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    he.attention(q, k, v, causal=True, backend="triton")  # compile outside the measurement
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    r = he.attention(q, k, v, causal=True, backend="triton")
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    linear = r.out.numel() * r.out.element_size() + 4 * B * H * N * 4  # out + 4 fp32 statistics
    assert extra <= 2 * linear, f"peak extra memory {extra} bytes vs O(N) outputs {linear}"
    assert extra < N * N  # far below even one bf16-sized N×N plane per head


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_entropy_switch_and_auto(compiled):
    q, k, v = (torch.randn(2, 8, 2048, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    problem = build_problem(q, k, v, causal=True)
    on, off = triton_fwd.launch(problem), triton_fwd.launch(problem, entropy=False)
    # two compilations may contract multiply-adds differently: equal up to rounding, not bits
    torch.testing.assert_close(on.out, off.out, atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(on.lse, off.lse, atol=1e-5, rtol=1e-6)
    assert he.attention(q, k, v, causal=True).backend == "triton"  # "auto" on CUDA


def test_interpreter_value_with_no_columns(interp):
    """V of shape [B, Hkv, Lk, 0] (used to crash the process: the kernel read and wrote through
    the empty tensors' pointers): an empty `out`, the statistics and every gradient of the reference."""
    q = torch.randn(1, 2, 5, 8, requires_grad=True)  # [B, Hq, Lq, D]
    k = torch.randn(1, 2, 7, 8, requires_grad=True)  # [B, Hkv, Lk, D]
    v = torch.randn(1, 2, 7, 0, requires_grad=True)  # [B, Hkv, Lk, 0]
    got = he.attention(q, k, v, causal=True, dropout_p=0.3, dropout_seed=3, backend="triton")
    want = he.attention(q.detach(), k.detach(), v.detach(), causal=True, backend="reference")
    assert got.backend == "triton" and got.out.shape == (1, 2, 5, 0)
    for name in STATS:
        torch.testing.assert_close(getattr(got, name), getattr(want, name).float(), rtol=1e-5, atol=1e-5)
    (got.out.sum() + got.shannon.sum()).backward()
    assert v.grad.shape == v.shape and torch.isfinite(q.grad).all() and torch.isfinite(k.grad).all()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_nonfinite_value_poisons_only_its_rows_and_empty_values(compiled):
    """Compiled: a NaN or inf in V poisons exactly the rows that give its key weight (the per-key
    max |v| is computed on the device, the check is in the kernel); V with no columns gives an
    empty `out` and the statistics of the reference."""
    q, k, v = (torch.randn(2, 4, 1000, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    v[0, 1, 300, 7] = float("nan")
    v[1, 2, 999, 0] = float("-inf")
    out = he.attention(q, k, v, causal=True, backend="triton").out
    bad = torch.zeros(2, 4, 1000, dtype=torch.bool, device="cuda")
    bad[0, 1, 300:], bad[1, 2, 999] = True, True  # causal: queries at or after the key see it
    assert torch.equal(torch.isnan(out).any(-1), bad) and torch.isfinite(out[~bad]).all()

    v0 = torch.randn(2, 2, 1000, 0, device="cuda", dtype=torch.bfloat16)
    got = he.attention(q[:, :2], k[:, :2], v0, causal=True, backend="triton")
    want = he.attention(q[:, :2], k[:, :2], None, causal=True, backend="triton")
    assert got.out.shape == (2, 2, 1000, 0)
    torch.testing.assert_close(got.shannon, want.shannon)
