"""Backend `triton`: the recomputing backward (kernels/triton/bwd.py) and dropout in the kernels.

Everything runs through Triton's interpreter on CPU tensors (the `interp` fixture sets
TRITON_INTERPRET=1 per test), on small shapes: interpreter blocks are 16×16, so 17–97 rows and
keys still cross several blocks, tails, the causal diagonal and window edges. The checks are the
ones the cpu and torch backends pass (tests/kernels/test_gradients.py, test_dropout.py), called
with backend "triton", plus equality with the cpu backend's gradients and keep-masks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("triton")

import headentropy as he  # noqa: E402
from headentropy.kernels.dispatch import build_problem  # noqa: E402
from headentropy.kernels.triton import backend as triton_backend  # noqa: E402

from . import test_dropout, test_gradients  # noqa: E402
from .cases import Case  # noqa: E402
from .oracle import torch_oracle  # noqa: E402
from .test_properties import problems  # noqa: E402
from .tolerance import max_error  # noqa: E402
from .test_gradients import (  # noqa: E402
    GRAD_CASES,
    OUTPUTS,
    SINGLE_OUTPUT_CASES,
    _check_grads_against_oracle,
    _grads,
    _weights,
)


@pytest.fixture
def interp(monkeypatch):
    """Run the kernels through Triton's interpreter for the duration of one test."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    yield


# --- against autograd through the fp64 oracle (DESIGN §7 tolerance rule) -----------------------


# every case in fp32; bf16 on the cases whose rounding differs most (one key, GQA, masks, ×100)
_BF16_CASES = {GRAD_CASES[i].id for i in (0, 1, 8, 9, 10)}
GRAD_PARAMS = [
    pytest.param(case, dtype, id=f"{case.id}-{str(dtype).removeprefix('torch.')}")
    for case in GRAD_CASES
    for dtype in (torch.float32, torch.bfloat16)
    if dtype == torch.float32 or case.id in _BF16_CASES
]


@pytest.mark.parametrize(("case", "dtype"), GRAD_PARAMS)
def test_gradients_of_all_outputs_within_tolerance_rule(interp, case: Case, dtype):
    """dq, dk, dv of Σ w·(out, H, H2, lse, sink): odd lengths, Lq ≠ Lk bottom-right causal, GQA,
    MQA, window, soft-cap, bool/additive masks with fully masked rows, logits ×100, Dv ≠ D."""
    names = OUTPUTS[1:] if case.stats_only else OUTPUTS
    _check_grads_against_oracle(case, dtype, "triton", names)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("case", SINGLE_OUTPUT_CASES[:2], ids=lambda c: c.id)  # GQA; soft-cap
def test_gradient_of_each_output_alone(interp, case: Case, output: str):
    """Each output's gradient alone (a missing or wrong term cannot hide behind the others)."""
    _check_grads_against_oracle(case, torch.float32, "triton", (output,))


@pytest.mark.parametrize(("case", "blocks"), [(GRAD_CASES[3], "triton-bm16-bn32"), (GRAD_CASES[6], "triton-bm32-bn16")],
                         ids=["Lq<Lk-bm16-bn32", "window-bm32-bn16"])
def test_other_block_sizes(interp, case: Case, blocks: str):
    """Other BLOCK_M/BLOCK_N move the diagonal, window edge and tails to other tile slots (and the
    dK/dV pass's first query block off the block grid of the dQ pass)."""
    _check_grads_against_oracle(case, torch.float32, blocks, OUTPUTS)


# --- equal to the cpu backend's gradients --------------------------------------------------------

EQUALITY_CASES = [
    (GRAD_CASES[3], {}),  # GQA, Lq < Lk bottom-right causal
    (GRAD_CASES[6], {}),  # window
    (GRAD_CASES[7], {}),  # soft-cap
    (GRAD_CASES[8], {}),  # bool padding mask with fully masked rows
    (GRAD_CASES[9], {}),  # additive mask with fully masked rows
    (GRAD_CASES[1], dict(dropout_p=0.3, dropout_seed=0x5EED_1234_ABCD)),  # dropout, GQA
    (Case(1, 2, 1, 33, 45, 16, causal=True, window=12), dict(dropout_p=0.5, dropout_seed=-3, sink_tokens=20)),
]


@pytest.mark.parametrize(("case", "extra"), EQUALITY_CASES,
                         ids=[c.id + ("-dropout" if e else "") for c, e in EQUALITY_CASES])
def test_gradients_equal_the_cpu_backend(interp, case: Case, extra: dict):
    """Same problem, same upstream gradients: triton and cpu agree to fp32 rounding (both compute
    fp32 from the same per-row terms), and under dropout they drop the same scores."""
    if not he.backends()["cpu"].available:
        pytest.skip("cpu backend unavailable")
    (q, k, v), kwargs = case.inputs(torch.float32)
    kwargs = dict(kwargs, **extra)
    weights = _weights(case, OUTPUTS)
    got = _grads(lambda *t: he.attention(*t, backend="triton", **kwargs), (q, k, v), weights)
    want = _grads(lambda *t: he.attention(*t, backend="cpu", **kwargs), (q, k, v), weights)
    for label, g, w in zip(("dq", "dk", "dv"), got, want):
        scale = max(1.0, float(w.abs().max()))
        torch.testing.assert_close(g, w, rtol=0, atol=2e-5 * scale, msg=lambda m, lb=label: f"{lb}: {m}")
    if "dropout_p" in extra:  # out itself: the same kept scores, so the same values
        a = he.attention(q, k, v, backend="triton", **kwargs).out
        b = he.attention(q, k, v, backend="cpu", **kwargs).out
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=problems(), sink_tokens=st.integers(0, 20), dropout=st.sampled_from([0.0, 0.0, 0.4]),
       seed=st.integers(0, 2**31 - 1))
def test_random_problems_match_the_cpu_backend(interp, case, sink_tokens, dropout, seed):
    """Random small problems (GQA up to 3 query heads per KV head, head dims 1–8 padded to 16,
    causal/window/soft-cap, logits ×0.1–×100, sink spans, dropout): every output and every
    gradient of a random weighted loss agrees with the cpu backend's."""
    if not he.backends()["cpu"].available:
        pytest.skip("cpu backend unavailable")
    q, k, v, kwargs, _ = case
    kwargs = dict(kwargs, sink_tokens=sink_tokens, dropout_p=dropout, dropout_seed=seed)
    gen = torch.Generator().manual_seed(seed)
    weights = {name: torch.randn(q.shape if name == "out" else q.shape[:3], generator=gen, dtype=torch.float64)
               for name in OUTPUTS}
    results = {}

    def run(backend):
        def fn(*t):
            results[backend] = he.attention(*t, backend=backend, **kwargs)
            return results[backend]
        return fn

    def oracle(label):
        def fn(*t):
            results[label] = torch_oracle(*t, **kwargs)
            return results[label]
        return fn

    got, cpu = _grads(run("triton"), (q, k, v), weights), _grads(run("cpu"), (q, k, v), weights)
    ref = _grads(oracle("fp64"), [x.double() for x in (q, k, v)], weights)
    naive = _grads(oracle("fp32"), (q, k, v), weights)  # fp32 autograd
    # Outputs: the same non-finite entries (-inf lse of fully masked rows) as the cpu backend, and
    # the finite ones within the DESIGN §7 rule against the fp64 oracle (logits ×100 make a 1-ulp
    # score difference a 1e-5 relative difference in P, so a fixed 1e-5 between kernels is too tight).
    for name in OUTPUTS:
        want = results["fp64"][name].detach().numpy()
        # max_error also checks each one's non-finite entries against the oracle's
        err, err_cpu, err_naive = (max_error(f"{label} {name}", x.detach(), want) for label, x in (
            ("triton", getattr(results["triton"], name)), ("cpu", getattr(results["cpu"], name)),
            ("naive fp32", results["fp32"][name])))
        finite = np.isfinite(want)
        allowed = 2 * max(err_cpu, err_naive) + 1e-5 * max(1.0, float(np.abs(want[finite]).max()) if finite.any() else 0.0)
        assert err <= allowed, (f"{name}: error {err:.3g} vs fp64 > allowed {allowed:.3g} "
                                f"(cpu's error {err_cpu:.3g}, naive fp32 {err_naive:.3g})")
    # Gradients: the kernels round differently (triton's forward works in base 2, so its lse is
    # off by ~1 ulp of |lse| from the backward's natural-units scores, and the entropy terms carry
    # s − lse), so each is measured against the fp64 oracle: triton's error may be at most twice
    # the larger of the cpu kernel's and naive fp32 autograd's (DESIGN §7), plus a floor.
    for label, g, c, n, r in zip(("dq", "dk", "dv"), got, cpu, naive, ref):
        err, err_cpu, err_naive = (float((x.double() - r).abs().max()) for x in (g, c, n))
        allowed = 2 * max(err_cpu, err_naive) + 1e-5 * max(1.0, float(r.abs().max()))
        assert err <= allowed, (f"{label}: error {err:.3g} vs fp64 > allowed {allowed:.3g} "
                                f"(cpu's error {err_cpu:.3g}, naive fp32 {err_naive:.3g})")


# --- behaviours shared with the other backends ---------------------------------------------------

@pytest.mark.parametrize(
    "check",
    [
        test_gradients.test_fully_masked_rows_get_exactly_zero_gradient,
        test_gradients.test_result_reports_the_backend_that_ran_and_is_differentiable,
        test_gradients.test_statistics_only_call_gives_q_and_k_gradients,
        test_gradients.test_strided_inputs_get_the_same_gradients,
        test_gradients.test_nonfinite_value_poisons_only_gradients_of_rows_that_see_it,
        test_dropout.test_statistics_are_those_of_p_before_dropout,
        test_dropout.test_zero_dropout_is_no_dropout,
        test_dropout.test_dropped_nonfinite_value_does_not_poison,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_shared_behaviour(interp, check):
    check("triton")


@pytest.mark.parametrize("lengths", [(0, 5), (5, 0)], ids=["Lq0", "Lk0"])
def test_empty_lengths_have_zero_gradients(interp, lengths):
    test_gradients.test_empty_lengths_have_zero_gradients("triton", lengths)


@pytest.mark.parametrize("config", ["window-cap-sinks", "bool-mask-empty-row"])
def test_gradcheck_fp32_kernel(interp, config):
    """gradcheck (fast mode: random projections) of all five outputs at once, with an fp32-sized
    step: the kernels take no fp64, so the fp64 leaves are rounded to fp32 on the way in. A wrong
    term is off by O(1), far above the tolerances."""
    (q, k, v), kwargs = test_gradients._gradcheck_inputs(test_gradients.GRADCHECK_CONFIGS[config])

    def fn(*t):
        r = he.attention(*(y.float() for y in t), backend="triton", **kwargs)
        return tuple(
            (x.masked_fill(torch.isinf(x), 0.0) if name == "lse" else x).double()
            for name, x in ((name, getattr(r, name)) for name in OUTPUTS)
        )

    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-3, atol=2e-3, rtol=2e-2, fast_mode=True)


def test_backward_saves_no_n_by_n(interp):
    L, D = 64, 8
    total, count = test_gradients._saved_elements_per_head("triton", L, D=D)
    assert count >= 4
    assert total <= 4 * L * D + 4 * L < L * L


def test_needs_grad_is_supported(interp):
    q = torch.randn(1, 2, 5, 16, requires_grad=True)
    problem = build_problem(q, q, q, dropout_p=0.2)
    assert triton_backend.supports(problem, True) is None


# --- dropout: the keep-mask bits are those of every other backend ------------------------------


@pytest.mark.parametrize("case", [test_dropout.DROPOUT_CASES[i] for i in (0, 2, 5)], ids=lambda c: c.id)
def test_dropout_drops_exactly_the_oracle_mask(interp, case: Case):
    test_dropout.test_every_backend_drops_exactly_the_oracle_mask(case, "triton")


DROPOUT_PARAMS = [
    pytest.param(test_dropout.DROPOUT_CASES[i], dtype, id=f"{test_dropout.DROPOUT_CASES[i].id}-{name}")
    for i, dtype, name in ((0, torch.float32, "float32"), (2, torch.float32, "float32"),
                           (3, torch.float32, "float32"), (4, torch.float32, "float32"),
                           (6, torch.float32, "float32"), (7, torch.float32, "float32"),
                           (5, torch.bfloat16, "bfloat16"))
]


@pytest.mark.parametrize(("case", "dtype"), DROPOUT_PARAMS)
def test_dropout_forward_and_gradients_within_tolerance_rule(interp, case: Case, dtype):
    """With the same keep-mask the fp64 oracle materialises (GQA, Lq < Lk, window, soft-cap,
    additive and padding masks with fully masked rows, Dv ≠ D)."""
    test_dropout.test_forward_within_tolerance_rule(case, dtype, "triton")
    test_dropout.test_gradients_within_tolerance_rule(case, dtype, "triton")


def test_dropout_masks_equal_cpu_and_torch_beyond_one_block(interp):
    """V = identity over 80 keys (5 interpreter blocks): out's zeros are the keep-mask; triton's
    equal torch's and cpu's bit for bit, for seeds with both 32-bit words set, and several p."""
    L = 80
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 2, L, 16, generator=gen), torch.randn(1, 1, L, 16, generator=gen)
    eye = torch.eye(L).view(1, 1, L, L)
    for seed, p in ((test_dropout.SEED, 0.3), (2**64 - 1, 0.9)):
        outs = {b: he.attention(q, k, eye, causal=True, dropout_p=p, dropout_seed=seed, backend=b).out
                for b in ("triton", "torch", "cpu") if he.backends()[b].available}
        for b, out in outs.items():
            assert torch.equal(out != 0, outs["torch"] != 0), (b, seed, p)


# ---------------------------------------------------------------------------------------------
# GPU: the compiled backward at realistic shapes (benchmarks/bench_gpu.py runs `pytest -m gpu`)
# ---------------------------------------------------------------------------------------------
HAS_CUDA = torch.cuda.is_available()


@pytest.fixture
def compiled(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    yield


BF16, FP32 = torch.bfloat16, torch.float32
GPU_GRAD_CASES = [  # (case, dtypes, extra keyword arguments)
    (Case(1, 8, 2, 1000, 1000, 64, causal=True), (BF16, FP32), {}),  # GQA, ragged tail
    (Case(2, 8, 8, 1024, 1024, 128), (BF16,), {}),
    (Case(1, 4, 4, 300, 1100, 128, causal=True, window=256), (BF16,), {}),  # Lq < Lk, window
    (Case(2, 4, 2, 517, 517, 80, causal=True, softcap=30.0, mask="padding"), (BF16,), {}),
    (Case(1, 4, 1, 513, 513, 32, mask="additive"), (BF16, FP32), {}),  # MQA, fully masked rows
    (Case(1, 4, 2, 512, 512, 64, causal=True), (BF16,), dict(dropout_p=0.1, dropout_seed=1234)),
    (Case(1, 2, 2, 256, 256, 256, causal=True), (BF16,), {}),
    (Case(1, 4, 2, 512, 512, 64, causal=True, stats_only=True), (BF16,), {}),
]
GPU_GRAD_PARAMS = [
    pytest.param(case, dtype, extra, id=f"{case.id}{'-dropout' if extra else ''}-{str(dtype).removeprefix('torch.')}")
    for case, dtypes, extra in GPU_GRAD_CASES
    for dtype in dtypes
]


@pytest.mark.parametrize(("case", "dtype", "extra"), GPU_GRAD_PARAMS)
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_gradients_within_tolerance_rule(compiled, case: Case, dtype, extra):
    """dq, dk, dv of Σ w·(all outputs) from the compiled kernels vs autograd through the fp64
    oracle on the GPU; the tolerance is set by the naive same-dtype autograd (DESIGN §7)."""
    from .test_attention import DTYPES

    (q, k, v), kwargs = case.inputs(dtype)
    dev = torch.device("cuda")
    q, k = q.to(dev), k.to(dev)
    v = None if v is None else v.to(dev)
    kwargs = dict(kwargs, **extra)
    if kwargs["attn_mask"] is not None:
        kwargs["attn_mask"] = kwargs["attn_mask"].to(dev)
    names = OUTPUTS[1:] if case.stats_only else OUTPUTS
    weights = {n: w.to(dev) for n, w in _weights(case, names).items()}
    kw64 = dict(kwargs)
    if kw64["attn_mask"] is not None and kw64["attn_mask"].is_floating_point():
        kw64["attn_mask"] = kw64["attn_mask"].double()
    inputs = (q, k, v)

    def loss(res):
        total = torch.zeros((), dtype=torch.float64, device=dev)
        for name, w in weights.items():
            x = (res[name] if isinstance(res, dict) else getattr(res, name)).double()
            total = total + (w * x.masked_fill(torch.isinf(x), 0.0)).sum()
        return total

    def grads(fn, xs):
        leaves = [None if x is None else x.detach().clone().requires_grad_() for x in xs]
        loss(fn(*leaves)).backward()
        return [None if x is None else x.grad for x in leaves]

    got = grads(lambda *t: he.attention(*t, backend="triton", **kwargs), inputs)
    ref = grads(lambda *t: torch_oracle(*t, **kw64), [None if x is None else x.double() for x in inputs])
    naive = grads(lambda *t: torch_oracle(*t, **kwargs), inputs)
    for label, g, r, n, x in zip(("dq", "dk", "dv"), got, ref, naive, inputs):
        if x is None:
            continue
        assert g is not None and g.dtype == x.dtype and torch.isfinite(g).all(), label
        err = float((g.double() - r).abs().max())
        naive_err = float((n.double() - r).abs().max())
        scale = max(1.0, float(r.abs().max()))
        allowed = 2 * naive_err + DTYPES[dtype] * scale
        assert err <= allowed, f"{label}: max error {err:.3g} > allowed {allowed:.3g} (naive {naive_err:.3g})"


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_backward_memory_is_linear(compiled):
    """Forward + backward at N = 16384: an N×N fp32 matrix per head would be 1 GiB; the peak extra
    memory stays O(N·D) (saved q, k, v, out, statistics, gradients)."""
    B, H, N, D = 1, 4, 16384, 128
    q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(B, H, N, D, device="cuda", dtype=torch.bfloat16)

    def step():
        r = he.attention(q, k, v, causal=True, backend="triton")
        torch.autograd.backward([r.out, r.shannon], [do, torch.ones_like(r.shannon)])

    step()  # compile outside the measurement
    for x in (q, k, v):
        x.grad = None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    per_tensor = B * H * N * D * 4  # one fp32 [B, H, N, D]
    assert extra <= 12 * per_tensor, f"peak extra {extra} bytes vs {per_tensor} per fp32 [B, H, N, D]"
    assert extra < N * N * 4
