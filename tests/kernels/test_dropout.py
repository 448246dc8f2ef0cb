"""Attention dropout inside the kernels (issue 12 item 3, kernels/dropout.py).

Every backend applies the same hashed keep-mask Z to P before P·V (rescaled by 1/(1 - p)) and
regenerates it in the backward; the statistics describe P before dropout. Checked against the
fp64 oracle that materialises Z from an independent NumPy implementation of the hash
(`oracle.keep_mask`), within DESIGN §7's tolerance rule, forward and gradients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import headentropy as he
from headentropy.kernels.triton import backend as triton_backend
from headentropy.kernels.autograd import attention_with_grad
from headentropy.kernels.dispatch import build_problem
from headentropy.kernels.dropout import head_keys, keep_tile, threshold
from headentropy.kernels.torch_blocked import TorchEngine

from .cases import Case
from .oracle import keep_mask, torch_oracle, visibility
from .test_attention import DTYPES  # the floors of the tolerance rule (DESIGN §7)
from .test_gradients import OUTPUTS, _grad_backend_params, _grads, _run_grad_backend, _weights
from .tolerance import STATS, assert_within_tolerance

P = 0.3
SEED = 0x5EED_1234_ABCD  # > 2^32: both seed words matter

DROPOUT_CASES = [
    Case(2, 4, 2, 17, 17, 16, causal=True),  # GQA
    Case(1, 2, 2, 97, 97, 16),  # odd length, no mask
    Case(1, 4, 2, 17, 97, 16, causal=True),  # Lq < Lk: bottom-right causal
    Case(1, 4, 1, 33, 33, 16, causal=True, window=8),  # MQA, window
    Case(1, 2, 1, 33, 33, 16, causal=True, softcap=5.0, logit_scale=10.0),
    Case(2, 4, 2, 33, 33, 16, causal=True, mask="padding"),  # bool, with fully masked rows
    Case(1, 4, 2, 33, 41, 16, mask="additive"),  # with fully masked rows
    Case(1, 2, 1, 17, 33, 16, Dv=24, causal=True),
]


def _backend_params():
    return [pytest.param("reference", id="reference"), *_grad_backend_params()]


def _dropout(case: Case, dtype, p=P, seed=SEED):
    (q, k, v), kwargs = case.inputs(dtype)
    return (q, k, v), dict(kwargs, dropout_p=p, dropout_seed=seed)


def _fp64(kwargs: dict) -> dict:
    """The oracle's arguments: an additive mask in fp64 too."""
    kw64 = dict(kwargs)
    if kw64["attn_mask"] is not None and kw64["attn_mask"].is_floating_point():
        kw64["attn_mask"] = kw64["attn_mask"].double()
    return kw64


# --- the keep-mask is the same bits everywhere -------------------------------------------------


@pytest.mark.parametrize("backend", _backend_params())
@pytest.mark.parametrize("case", [DROPOUT_CASES[0], DROPOUT_CASES[2], DROPOUT_CASES[5]], ids=lambda c: c.id)
def test_every_backend_drops_exactly_the_oracle_mask(case: Case, backend):
    """With V = identity, out = P ⊙ Z / (1 - p) row by row: its zeros *are* the mask."""
    (q, k, _), kwargs = _dropout(case, torch.float32)
    B, Hkv, Lk = k.shape[0], k.shape[1], k.shape[2]
    eye = torch.eye(Lk).expand(B, Hkv, Lk, Lk).contiguous()  # [B, Hkv, Lk, Dv = Lk]
    r = _run_grad_backend(backend, q, k, eye, **kwargs)
    ref = torch_oracle(q.double(), k.double(), eye.double(), **_fp64(kwargs))["out"]  # P ⊙ Z / (1 - p)
    zero = ref == 0  # dropped or invisible (no visible P underflows at these logits)
    keep = torch.from_numpy(keep_mask(SEED, P, B, case.Hq, case.Lq, Lk))
    assert zero[~keep].all()  # the oracle did drop what the NumPy hash says
    assert torch.equal(r.out == 0, zero)
    torch.testing.assert_close(r.out.double(), ref, rtol=1e-5, atol=1e-6)


def test_library_hash_equals_the_independent_numpy_hash():
    for seed in (0, 1, SEED, 2**63 - 1, 2**64 - 1, -7):
        for p in (0.05, 0.5, 0.95):
            ours = keep_tile(head_keys(seed, 2, 3, "cpu"), threshold(p), 0, 9, 0, 70)
            assert np.array_equal(ours.numpy(), keep_mask(seed, p, 2, 3, 9, 70))
    # A tile is the matching slice of the whole mask (absolute row/key indices).
    whole = keep_tile(head_keys(SEED, 1, 2, "cpu"), threshold(P), 0, 40, 0, 50)
    assert torch.equal(keep_tile(head_keys(SEED, 1, 2, "cpu"), threshold(P), 7, 19, 33, 50), whole[:, :, 7:19, 33:])


# --- forward and gradients against the fp64 oracle with the same mask ------------------------


@pytest.mark.parametrize("backend", _backend_params())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("case", DROPOUT_CASES, ids=lambda c: c.id)
def test_forward_within_tolerance_rule(case: Case, dtype, backend):
    (q, k, v), kwargs = _dropout(case, dtype)
    got = _run_grad_backend(backend, q, k, v, **kwargs)
    want = {name: t.detach().numpy() for name, t in torch_oracle(q.double(), k.double(), v.double(), **_fp64(kwargs)).items()}
    naive = torch_oracle(q, k, v, **kwargs)
    assert_within_tolerance(got, want, naive, dtype, ("out", *STATS))


@pytest.mark.parametrize("backend", _grad_backend_params())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("case", DROPOUT_CASES, ids=lambda c: c.id)
def test_gradients_within_tolerance_rule(case: Case, dtype, backend):
    """dq, dk, dv of Σ w·(out, H, H2, lse, sink) with dropout vs autograd through the fp64 oracle
    that materialises the same keep-mask."""
    (q, k, v), kwargs = _dropout(case, dtype)
    weights = _weights(case, OUTPUTS)
    kw64 = _fp64(kwargs)
    got = _grads(lambda *t: _run_grad_backend(backend, *t, **kwargs), (q, k, v), weights)
    ref = _grads(lambda *t: torch_oracle(*t, **kw64), [x.double() for x in (q, k, v)], weights)
    naive = _grads(lambda *t: torch_oracle(*t, **kwargs), (q, k, v), weights)
    for label, g, r, n, x in zip(("dq", "dk", "dv"), got, ref, naive, (q, k, v)):
        assert g is not None and g.dtype == x.dtype and g.shape == x.shape, label
        assert torch.isfinite(g).all(), f"{label}: non-finite gradient"
        err = float((g.double() - r).abs().max())
        naive_err = float((n.double() - r).abs().max())
        scale = max(1.0, float(r.abs().max()))
        allowed = 2 * naive_err + DTYPES[dtype] * scale
        assert err <= allowed, f"{label}: max error {err:.3g} > allowed {allowed:.3g} (naive {naive_err:.3g})"


@pytest.mark.parametrize("output", ["out", "shannon"])
def test_gradcheck_fp64_with_dropout(output):
    """gradcheck of the recomputing backward with dropout (torch engine in fp64, tiny blocks)."""
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(1, 2, 5, 3, generator=gen, dtype=torch.float64)
    k = torch.randn(1, 1, 6, 3, generator=gen, dtype=torch.float64)
    v = torch.randn(1, 1, 6, 2, generator=gen, dtype=torch.float64)
    engine = TorchEngine(block_q=2, block_k=4, compute_dtype=torch.float64)

    def fn(*t):
        return getattr(attention_with_grad(engine, build_problem(*t, causal=True, dropout_p=0.4, dropout_seed=9)), output)

    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-7, rtol=1e-5)


# --- semantics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", _backend_params())
def test_statistics_are_those_of_p_before_dropout(backend):
    (q, k, v), kwargs = DROPOUT_CASES[5].inputs(torch.float32)
    plain = _run_grad_backend(backend, q, k, v, **kwargs)
    dropped = _run_grad_backend(backend, q, k, v, **kwargs, dropout_p=0.5, dropout_seed=1)
    for name in STATS:
        assert torch.equal(getattr(plain, name), getattr(dropped, name)), name
    assert not torch.allclose(plain.out, dropped.out)


@pytest.mark.parametrize("backend", _backend_params())
def test_zero_dropout_is_no_dropout(backend):
    (q, k, v), kwargs = DROPOUT_CASES[0].inputs(torch.float32)
    plain = _run_grad_backend(backend, q, k, v, **kwargs)
    state = torch.random.get_rng_state()
    zero = _run_grad_backend(backend, q, k, v, **kwargs, dropout_p=0.0)
    assert torch.equal(torch.random.get_rng_state(), state)  # p = 0 draws no seed
    for name in OUTPUTS:
        assert torch.equal(getattr(plain, name), getattr(zero, name)), name


def test_statistics_only_call_ignores_dropout():
    q, k = torch.randn(1, 2, 9, 8), torch.randn(1, 2, 9, 8)
    state = torch.random.get_rng_state()
    r = he.attention(q, k, None, causal=True, dropout_p=0.5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(r.shannon, he.attention(q, k, None, causal=True).shannon)


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_determinism_and_seeds(backend):
    (q, k, v), kwargs = DROPOUT_CASES[0].inputs(torch.float32)

    def out(**kw):
        return he.attention(q, k, v, **kwargs, dropout_p=P, backend=backend, **kw).out

    assert torch.equal(out(dropout_seed=5), out(dropout_seed=5))
    assert not torch.equal(out(dropout_seed=5), out(dropout_seed=6))
    torch.manual_seed(17)
    a, b = out(), out()  # seeds drawn from torch's generator: two calls, two masks
    assert not torch.equal(a, b)
    torch.manual_seed(17)
    assert torch.equal(out(), a) and torch.equal(out(), b)  # torch.manual_seed reproduces them


def test_keep_rate_on_a_big_shape():
    """1 - p on 2 Mi scores of a fixed shape, and no correlation between neighbouring scores."""
    for p in (0.1, 0.5, 0.9):
        keep = keep_tile(head_keys(SEED, 2, 4, "cpu"), threshold(p), 0, 512, 0, 512).float()  # [2, 4, 512, 512]
        n = keep.numel()
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(keep.mean().item() - (1 - p)) < 6 * sigma
        # Neighbouring keys, neighbouring rows and neighbouring heads: independent ≈ (1 - p)².
        for a, b in ((keep[..., 1:], keep[..., :-1]), (keep[:, :, 1:], keep[:, :, :-1]),
                     (keep[:, 1:], keep[:, :-1])):
            both = (a * b).mean().item()
            assert abs(both - (1 - p) ** 2) < 6 * math.sqrt((1 - p) ** 2 / a.numel()) + 1e-4


@settings(max_examples=30)
@given(seed=st.integers(-(2**63), 2**64 - 1), p=st.floats(0.02, 0.98))
def test_keep_rate_for_any_seed(seed, p):
    keep = keep_tile(head_keys(seed, 1, 2, "cpu"), threshold(p), 0, 128, 0, 256).float()  # 64 Ki scores
    assert abs(keep.mean().item() - (1 - p)) < 6 * math.sqrt(p * (1 - p) / keep.numel()) + 1e-9


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_dropout_on_a_shape_bigger_than_the_blocks(backend):
    """Many 512-blocks, keys beyond 2^9: the backends still agree with each other bit for bit on
    which scores are dropped (V = identity) and the kept fraction is 1 - p."""
    L = 1100
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 2, L, 8, generator=gen), torch.randn(1, 1, L, 8, generator=gen)
    eye = torch.eye(L).view(1, 1, L, L)
    r = he.attention(q, k, eye, causal=True, dropout_p=P, dropout_seed=SEED, backend=backend)
    keep = keep_tile(head_keys(SEED, 1, 2, "cpu"), threshold(P), 0, L, 0, L)
    visible = torch.from_numpy(visibility(L, L, True, None))
    assert torch.equal(r.out != 0, keep & visible)


def test_arguments_are_validated():
    q = torch.randn(1, 1, 3, 4)
    for bad in (-0.1, 1.0, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="dropout_p"):
            he.attention(q, q, q, dropout_p=bad)
    with pytest.raises(ValueError, match="dropout_seed"):
        he.attention(q, q, q, dropout_p=0.1, dropout_seed=1.5)


def test_triton_supports_dropout_with_and_without_grad(monkeypatch):
    monkeypatch.setattr(triton_backend, "interpreter_enabled", lambda: True)
    q = torch.randn(1, 1, 3, 4)
    for needs_grad in (False, True):
        assert triton_backend.supports(build_problem(q, q, q), needs_grad) is None
        assert triton_backend.supports(build_problem(q, q, q, dropout_p=0.1, dropout_seed=0), needs_grad) is None


@pytest.mark.parametrize("backend", ["reference", "torch", "cpu"])
def test_dropped_nonfinite_value_does_not_poison(backend):
    """A non-finite value poisons a row only if that row's kept P reaches it (P·V with dropout)."""
    L = 16
    q, k, v = torch.randn(1, 1, L, 4), torch.randn(1, 1, L, 4), torch.randn(1, 1, L, 4)
    v[0, 0, 3, 0] = float("nan")
    keep = keep_tile(head_keys(SEED, 1, 1, "cpu"), threshold(0.5), 0, L, 0, L)[0, 0, :, 3]  # [L] row keeps key 3
    r = he.attention(q, k, v, dropout_p=0.5, dropout_seed=SEED, backend=backend)
    assert torch.equal(torch.isnan(r.out[0, 0]).any(-1), keep), backend
