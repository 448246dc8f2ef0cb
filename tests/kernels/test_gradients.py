"""Gradients through `he.attention`: the recomputing backward of the torch and cpu backends.

The first two tests predate the recomputing backward (torch backend against direct fp64 code and
SDPA); the rest check issue 12: every output's gradient against autograd through the materialised
fp64 oracle within DESIGN §7's tolerance rule, gradcheck, hypothesis properties, and that nothing
N×N is saved for the backward.
"""

from __future__ import annotations

import math
import zlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import headentropy as he
from headentropy.kernels.autograd import attention_with_grad, needs_grad
from headentropy.kernels.cpu import backend as cpu_backend
from headentropy.kernels.dispatch import build_problem
from headentropy.kernels.torch_blocked import TorchEngine

from .backends import backend_params, run_backend
from .cases import Case
from .oracle import torch_oracle
from .test_attention import DTYPES  # the floors of the tolerance rule (DESIGN §7)
from .test_properties import problems


def naive_entropy_fp64(q, k, causal: bool, softcap: float | None):
    """Shannon entropy per row, written directly, with masked entries excluded explicitly."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # [B, H, Lq, Lk]
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    lq, lk = s.shape[-2:]
    visible = torch.ones(lq, lk, dtype=torch.bool)
    if causal:
        visible = torch.arange(lk)[None, :] <= torch.arange(lq)[:, None] + (lk - lq)
    s = s.masked_fill(~visible, float("-inf"))
    logp = torch.log_softmax(s, dim=-1).masked_fill(~visible, 0.0)  # no -inf to differentiate
    return -(logp.exp().masked_fill(~visible, 0.0) * logp).sum(-1)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("softcap", [None, 5.0], ids=["nocap", "cap5"])
def test_entropy_gradient_matches_a_direct_fp64_implementation(causal, softcap):
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(1, 2, 9, 8, generator=gen, dtype=torch.float64)
    k = torch.randn(1, 2, 13, 8, generator=gen, dtype=torch.float64)
    weights = torch.rand(1, 2, 9, generator=gen, dtype=torch.float64)  # a non-trivial upstream grad

    q1, k1 = q.clone().requires_grad_(), k.clone().requires_grad_()
    r = he.attention(q1, k1, None, causal=causal, softcap=softcap, backend="torch")
    (r.shannon.double() * weights).sum().backward()

    q2, k2 = q.clone().requires_grad_(), k.clone().requires_grad_()
    (naive_entropy_fp64(q2, k2, causal, softcap) * weights).sum().backward()
    torch.testing.assert_close(q1.grad, q2.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(k1.grad, k2.grad, rtol=1e-4, atol=1e-5)


def test_output_gradient_matches_sdpa():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 11, 8, generator=gen) for _ in range(3))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    he.attention(*leaves, causal=True, backend="torch").out.square().sum().backward()
    ref = [x.clone().requires_grad_() for x in (q, k, v)]
    torch.nn.functional.scaled_dot_product_attention(*ref, is_causal=True).square().sum().backward()
    for ours, theirs in zip(leaves, ref):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# The recomputing backward (issue 12) against autograd through the materialised fp64 oracle.

OUTPUTS = ("out", "shannon", "renyi2", "lse", "sink_mass")
GRAD_BACKENDS = ["torch", "torch-blk7x5", "cpu", "cpu-blk7x5"]  # tiny blocks: many block edges
# (cpu-blk7x5 also splits every head's backward into 3 stripes with private dK/dV buffers)

GRAD_CASES = [
    Case(1, 1, 1, 1, 1, 16),
    Case(2, 4, 2, 17, 17, 16, causal=True),  # GQA
    Case(1, 2, 2, 97, 97, 16),
    Case(1, 4, 2, 17, 97, 16, causal=True),  # Lq < Lk: bottom-right causal
    Case(1, 2, 2, 97, 17, 16, causal=True),  # Lq > Lk: the first rows see nothing
    Case(1, 4, 1, 33, 33, 16, causal=True),  # MQA
    Case(1, 4, 2, 45, 45, 16, causal=True, window=8),
    Case(1, 2, 1, 33, 33, 16, causal=True, softcap=5.0, logit_scale=10.0),
    Case(2, 4, 2, 33, 33, 16, causal=True, mask="padding"),  # bool, with fully masked rows
    Case(1, 4, 2, 33, 41, 16, mask="additive"),  # with fully masked rows
    Case(1, 2, 1, 33, 33, 16, causal=True, logit_scale=100.0),
    Case(1, 4, 2, 33, 33, 16, causal=True, stats_only=True),
    Case(1, 2, 1, 17, 33, 16, Dv=24, causal=True),
]
# Each output alone on a few cases that exercise the most code (masks, GQA, soft-cap).
SINGLE_OUTPUT_CASES = [GRAD_CASES[1], GRAD_CASES[7], GRAD_CASES[8], GRAD_CASES[9]]


def _run_grad_backend(name: str, q, k, v, **kwargs) -> he.AttentionResult:
    if name.startswith("triton-bm"):  # "triton-bm32-bn16": other Triton blocks (interpreter tests)
        from headentropy.kernels.triton.backend import TritonEngine, run

        bm, bn = (int(x[2:]) for x in name.split("-")[1:])
        problem = build_problem(q, k, v, **kwargs)
        if needs_grad(problem):
            return attention_with_grad(TritonEngine(bm, bn), problem)
        return run(problem)
    if name == "cpu-blk7x5":  # tiny blocks, and each head's backward split into 3 stripes
        problem = build_problem(q, k, v, **kwargs)
        if needs_grad(problem):
            return attention_with_grad(cpu_backend.CpuEngine(7, 5, stripes=3), problem)
        return cpu_backend.run(problem, block_q=7, block_k=5)
    return run_backend(name, q, k, v, **kwargs)


def _grad_backend_params():
    params = []
    for name in GRAD_BACKENDS:
        base = "cpu" if name.startswith("cpu") else "torch"
        params.append(pytest.param(name, id=name, marks=backend_params([base])[0].marks))
    return params


def _weights(case: Case, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Fixed random fp64 upstream gradients, one per output (non-trivial, signed)."""
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 7)
    rows = (case.B, case.Hq, case.Lq)
    shapes = {name: rows for name in OUTPUTS}
    shapes["out"] = (*rows, case.Dv or case.D)
    return {name: torch.randn(shapes[name], generator=gen, dtype=torch.float64) for name in names}


def _loss(res, weights: dict[str, torch.Tensor]) -> torch.Tensor:
    total = torch.zeros((), dtype=torch.float64)
    for name, w in weights.items():
        x = res[name] if isinstance(res, dict) else getattr(res, name)
        x = x.double()
        if name == "lse":  # −inf on fully masked rows; their gradient is 0 either way
            x = x.masked_fill(torch.isinf(x), 0.0)
        total = total + (w * x).sum()
    return total


def _grads(fn, inputs, weights) -> list[torch.Tensor | None]:
    leaves = [None if x is None else x.detach().clone().requires_grad_() for x in inputs]
    _loss(fn(*leaves), weights).backward()
    return [None if x is None else x.grad for x in leaves]


_GRAD_CACHE: dict[tuple, tuple] = {}


def _reference_grads(case: Case, dtype: torch.dtype, names: tuple[str, ...]):
    """(fp64 oracle grads, naive same-dtype grads) for the inputs of `case` in `dtype`."""
    key = (case.id, dtype, names)
    if key not in _GRAD_CACHE:
        (q, k, v), kwargs = case.inputs(dtype)
        weights = _weights(case, names)
        kw64 = dict(kwargs)
        if kw64["attn_mask"] is not None and kw64["attn_mask"].is_floating_point():
            kw64["attn_mask"] = kw64["attn_mask"].double()
        up = [None if x is None else x.double() for x in (q, k, v)]
        ref = _grads(lambda *t: torch_oracle(*t, **kw64), up, weights)
        naive = _grads(lambda *t: torch_oracle(*t, **kwargs), (q, k, v), weights)
        _GRAD_CACHE[key] = ref, naive
    return _GRAD_CACHE[key]


def _check_grads_against_oracle(case: Case, dtype: torch.dtype, backend: str, names: tuple[str, ...]):
    (q, k, v), kwargs = case.inputs(dtype)
    weights = _weights(case, names)
    got = _grads(lambda *t: _run_grad_backend(backend, *t, **kwargs), (q, k, v), weights)
    ref, naive = _reference_grads(case, dtype, names)
    for label, g, r, n, x in zip(("dq", "dk", "dv"), got, ref, naive, (q, k, v)):
        if x is None:
            continue
        if r is None:  # the loss does not depend on x (v without an `out` term): zero gradient
            r = torch.zeros(x.shape, dtype=torch.float64)
            n = torch.zeros_like(r) if n is None else n
        assert g is not None and g.dtype == x.dtype and g.shape == x.shape, label
        assert torch.isfinite(g).all(), f"{label}: non-finite gradient"
        err = float((g.double() - r).abs().max()) if r.numel() else 0.0
        naive_err = float((n.double() - r).abs().max()) if r.numel() else 0.0
        if not math.isfinite(naive_err):
            naive_err = 0.0
        scale = max(1.0, float(r.abs().max()) if r.numel() else 1.0)
        allowed = 2 * naive_err + DTYPES[dtype] * scale
        assert err <= allowed, (
            f"{label} (loss on {'+'.join(names)}): max error {err:.3g} > allowed {allowed:.3g} "
            f"(naive {dtype} error {naive_err:.3g}, max |grad| {scale:.3g})"
        )


@pytest.mark.parametrize("backend", _grad_backend_params())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.id)
def test_gradients_of_all_outputs_within_tolerance_rule(case: Case, dtype, backend):
    """dq, dk, dv of Σ w·(out, H, H2, lse, sink) vs autograd through the fp64 oracle (DESIGN §7)."""
    names = OUTPUTS[1:] if case.stats_only else OUTPUTS
    _check_grads_against_oracle(case, dtype, backend, names)


@pytest.mark.parametrize("backend", _grad_backend_params())
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("case", SINGLE_OUTPUT_CASES, ids=lambda c: c.id)
def test_gradient_of_each_output_alone(case: Case, output: str, backend):
    _check_grads_against_oracle(case, torch.float32, backend, (output,))


@pytest.mark.parametrize("backend", _grad_backend_params())
def test_fully_masked_rows_get_exactly_zero_gradient(backend):
    gen = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, 2, 9, 8, generator=gen) for _ in range(3))
    mask = torch.rand(1, 1, 9, 9, generator=gen) > 0.3
    mask[..., 2, :] = False  # query row 2 sees nothing
    weights = {name: torch.randn((1, 2, 9, 8) if name == "out" else (1, 2, 9), generator=gen,
                                 dtype=torch.float64) for name in OUTPUTS}
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    r = _run_grad_backend(backend, *leaves, attn_mask=mask)
    assert torch.isneginf(r.lse[..., 2]).all()
    _loss(r, weights).backward()
    for x in leaves:
        assert torch.isfinite(x.grad).all()
    assert (leaves[0].grad[:, :, 2] == 0).all()  # dq of the empty row
    # Only the empty row asks for key 0..: keys no query can see get exactly zero dk, dv.
    hidden = ~mask[0, 0].any(dim=0)  # [Lk]
    assert (leaves[1].grad[..., hidden, :] == 0).all() and (leaves[2].grad[..., hidden, :] == 0).all()


@pytest.mark.parametrize("backend", _grad_backend_params())
def test_result_reports_the_backend_that_ran_and_is_differentiable(backend):
    q, k, v = (torch.randn(1, 2, 6, 4, requires_grad=True) for _ in range(3))
    r = _run_grad_backend(backend, q, k, v, causal=True)
    assert r.backend == backend.split("-")[0]
    for name in OUTPUTS:  # one recomputing node behind all five outputs, no tile graph
        assert type(getattr(r, name).grad_fn).__name__ == "_RecomputingAttentionBackward"
    with torch.no_grad():
        assert _run_grad_backend(backend, q, k, v, causal=True).shannon.grad_fn is None


@pytest.mark.parametrize("backend", _grad_backend_params())
def test_statistics_only_call_gives_q_and_k_gradients(backend):
    q, k = (torch.randn(1, 4, 7, 8, requires_grad=True) for _ in range(2))
    k2 = k.detach()[:, :2].clone().requires_grad_()
    r = _run_grad_backend(backend, q, k2, None, causal=True)
    assert r.out is None
    (r.shannon.sum() + r.renyi2.sum()).backward()
    assert q.grad is not None and k2.grad is not None
    assert q.grad.abs().sum() > 0 and k2.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", _grad_backend_params())
@pytest.mark.parametrize("lengths", [(0, 5), (5, 0)], ids=["Lq0", "Lk0"])
def test_empty_lengths_have_zero_gradients(backend, lengths):
    lq, lk = lengths
    q = torch.randn(1, 4, lq, 8, requires_grad=True)
    k, v = (torch.randn(1, 2, lk, 8, requires_grad=True) for _ in range(2))
    r = _run_grad_backend(backend, q, k, v, causal=True)
    _loss(r, {"out": torch.ones(1, 4, lq, 8, dtype=torch.float64),
              "shannon": torch.ones(1, 4, lq, dtype=torch.float64)}).backward()
    for x in (q, k, v):
        assert x.grad.shape == x.shape and (x.grad == 0).all()


@pytest.mark.parametrize("backend", _grad_backend_params())
def test_strided_inputs_get_the_same_gradients(backend):
    """HF hands over [B, L, H, D].transpose(1, 2) views; gradients keep their strides' meaning."""
    gen = torch.Generator().manual_seed(9)
    base = [torch.randn(2, 11, 4 if i == 0 else 2, 8, generator=gen) for i in range(3)]  # [B, L, H, D]
    weights = _weights(Case(2, 4, 2, 11, 11, 8), OUTPUTS)

    def strided(*t):
        return _run_grad_backend(backend, *(x.transpose(1, 2) for x in t), causal=True)

    def contiguous(*t):
        return _run_grad_backend(backend, *(x.transpose(1, 2).contiguous() for x in t), causal=True)

    for a, b in zip(_grads(strided, base, weights), _grads(contiguous, base, weights)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", _grad_backend_params())
def test_nonfinite_value_poisons_only_gradients_of_rows_that_see_it(backend):
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, 8, 4, generator=gen) for _ in range(3))
    v[0, :, 5, 1] = float("nan")  # key 5: causal rows 5..7 see it
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    r = _run_grad_backend(backend, *leaves, causal=True)
    (r.out.sum() + r.shannon.sum()).backward()
    finite_rows = torch.isfinite(leaves[0].grad).all(dim=-1)  # [1, 2, 8]
    assert finite_rows[..., :5].all() and not finite_rows[..., 5:].any()


def test_additive_mask_gets_no_gradient():
    q, k, v = (torch.randn(1, 2, 5, 4, requires_grad=True) for _ in range(3))
    mask = torch.randn(1, 2, 5, 5, requires_grad=True)
    he.attention(q, k, v, attn_mask=mask, backend="torch").shannon.sum().backward()
    assert mask.grad is None and q.grad is not None  # documented: attn_mask is a constant


# --- gradcheck -------------------------------------------------------------------------------

GRADCHECK_CONFIGS = {
    "causal-gqa": dict(causal=True),
    "window-cap-sinks": dict(causal=True, window=3, softcap=2.0, sink_tokens=2),
    "bool-mask-empty-row": dict(mask="bool"),
    "additive-mask": dict(mask="additive"),
    "lq-lt-lk": dict(causal=True, lq=3),
}


def _gradcheck_inputs(cfg: dict, dtype=torch.float64):
    gen = torch.Generator().manual_seed(11)
    lq, lk = cfg.get("lq", 5), 6
    q = torch.randn(1, 2, lq, 3, generator=gen, dtype=dtype)
    k = torch.randn(1, 1, lk, 3, generator=gen, dtype=dtype)
    v = torch.randn(1, 1, lk, 2, generator=gen, dtype=dtype)
    kwargs = {key: val for key, val in cfg.items() if key not in ("mask", "lq")}
    if cfg.get("mask") == "bool":
        mask = torch.rand(1, 1, lq, lk, generator=gen) > 0.3
        mask[..., 1, :] = False  # a fully masked row
        mask[..., 0, 0] = True
        kwargs["attn_mask"] = mask
    elif cfg.get("mask") == "additive":
        mask = torch.randn(1, 2, lq, lk, generator=gen, dtype=dtype)
        mask[..., 0, 2] = float("-inf")
        kwargs["attn_mask"] = mask
    return (q, k, v), kwargs


def _one_output(fn, name: str):
    def f(q, k, v):
        x = getattr(fn(q, k, v), name)
        return x.masked_fill(torch.isinf(x), 0.0) if name == "lse" else x  # −inf on empty rows

    return f


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("config", list(GRADCHECK_CONFIGS))
def test_gradcheck_fp64_recomputing_backward(config, output):
    """torch.autograd.gradcheck in fp64 of the recomputing backward itself (torch engine run in
    fp64, tiny blocks): finite differences of the forward against dq, dk, dv."""
    (q, k, v), kwargs = _gradcheck_inputs(GRADCHECK_CONFIGS[config])
    engine = TorchEngine(block_q=2, block_k=4, compute_dtype=torch.float64)
    fn = _one_output(lambda *t: attention_with_grad(engine, build_problem(*t, **kwargs)), output)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("backend", _grad_backend_params())
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("config", ["window-cap-sinks", "bool-mask-empty-row"])
def test_gradcheck_fp32_kernels(config, output, backend):
    """The public backends compute in fp32 even for fp64 inputs: gradcheck with a step and
    tolerances an fp32 forward can resolve (a wrong term is off by O(1), far above them)."""
    (q, k, v), kwargs = _gradcheck_inputs(GRADCHECK_CONFIGS[config])
    fn = _one_output(lambda *t: _run_grad_backend(backend, *t, **kwargs), output)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-3, atol=2e-3, rtol=2e-2)


# --- hypothesis properties -------------------------------------------------------------------


@pytest.mark.parametrize("backend", backend_params(["torch", "cpu"]))
@settings(max_examples=60)
@given(case=problems(), seed=st.integers(0, 2**31 - 1))
def test_row_shift_has_zero_gradient(backend, case, seed):
    """Adding one vector u to every key adds q_i·u·scale to all scores of row i: a row shift, which
    changes out, H, H2 and sink not at all and lse by exactly that amount. So
    Σ_j dk_j = scale · Σ_{i, heads of the group} g_lse_i · q_i (only visible rows), whatever the
    other upstream gradients are. (Not under soft-cap, which bends a shift.)"""
    q, k, v, kwargs, n_visible = case
    kwargs = dict(kwargs, softcap=None)
    gen = torch.Generator().manual_seed(seed)
    B, Hq, Lq, D = q.shape
    Hkv = k.shape[1]
    w = {name: torch.randn((B, Hq, Lq, D) if name == "out" else (B, Hq, Lq), generator=gen,
                           dtype=torch.float64) for name in OUTPUTS}
    dk = _grads(lambda *t: run_backend(backend, *t, **kwargs), (q, k, v), w)[1].double()  # [B, Hkv, Lk, D]
    visible = torch.from_numpy(n_visible > 0)  # [Lq]
    g_lse = w["lse"] * visible  # [B, Hq, Lq]
    expect = (g_lse[..., None] * q.double()).sum(dim=2) / math.sqrt(D)  # [B, Hq, D]
    expect = expect.view(B, Hkv, Hq // Hkv, D).sum(dim=2)  # [B, Hkv, D]
    got = dk.sum(dim=2)
    # The tolerance rule (DESIGN §7): 2× how far the naive fp32 implementation's dk breaks the same
    # identity, plus a floor. With logits ×100 each P carries a relative error ~ eps32·|s|, so
    # neither fp32 result keeps the identity to 1e-4 there (found by hypothesis: |q| ≈ 141).
    naive_dk = _grads(lambda *t: torch_oracle(*t, **kwargs), (q, k, v), w)[1].double()
    naive_gap = (naive_dk.sum(dim=2) - expect).abs()
    tol = 2 * naive_gap + 1e-4 * (dk.abs().sum(dim=2) + expect.abs() + 1.0)
    assert ((got - expect).abs() <= tol).all(), (got, expect, naive_gap)


@pytest.mark.parametrize("backend", backend_params(["torch", "cpu"]))
@settings(max_examples=60)
@given(case=problems(allow_causal=False), perm_seed=st.integers(0, 2**31 - 1))
def test_permuting_keys_permutes_dk_dv(backend, case, perm_seed):
    """Without position-dependent masking (no causal, window or sink keys) the keys are a set:
    permuting k and v together permutes dk, dv the same way and leaves dq unchanged."""
    q, k, v, kwargs, _ = case
    kwargs = dict(kwargs, sink_tokens=0)
    perm = torch.randperm(k.shape[2], generator=torch.Generator().manual_seed(perm_seed))
    w = {name: torch.randn(q.shape if name == "out" else q.shape[:3], dtype=torch.float64)
         for name in OUTPUTS}
    g1 = _grads(lambda *t: run_backend(backend, *t, **kwargs), (q, k, v), w)
    g2 = _grads(lambda *t: run_backend(backend, *t, **kwargs), (q, k[:, :, perm], v[:, :, perm]), w)
    tol = dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(g2[0], g1[0], **tol)
    torch.testing.assert_close(g2[1], g1[1][:, :, perm], **tol)
    torch.testing.assert_close(g2[2], g1[2][:, :, perm], **tol)


# --- no N×N saved --------------------------------------------------------------------------


def _saved_elements_per_head(backend: str, L: int, H: int = 2, D: int = 64) -> tuple[float, int]:
    """(elements autograd saved for backward, per head; number of saved tensors) of a
    forward + backward of out.sum() + H.sum() at Lq = Lk = L."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, H, L, D, generator=gen).requires_grad_() for _ in range(3))
    sizes: list[int] = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        r = he.attention(q, k, v, causal=True, backend=backend)
        loss = r.out.sum() + r.shannon.sum()
    loss.backward()
    assert q.grad is not None and k.grad is not None and v.grad is not None
    return sum(sizes) / H, len(sizes)


def test_measurement_sees_a_materialised_matrix():
    """The hook measurement below is not vacuous: autograd through the materialised reference
    saves at least L×L per head."""
    total, _ = _saved_elements_per_head("reference", 256)
    assert total >= 256 * 256


@pytest.mark.parametrize("backend", backend_params(["torch", "cpu"]))
def test_backward_saves_no_n_by_n(backend):
    L, D = 2048, 64
    total, count = _saved_elements_per_head(backend, L, D=D)
    assert count >= 4  # q, k, v, out at least: the hook did see the saved tensors
    # q, k, v, out (4·L·D) and four [L] statistics per head; L×L would be 4.2 M.
    assert total <= 4 * L * D + 4 * L < L * L
