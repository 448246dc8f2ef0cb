"""Every backend against the independent fp64 oracle, on the DESIGN §7 grid."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from .backends import backend_params, run_backend
from .cases import CASES, HARD_CASES, Case
from .oracle import naive_same_dtype, oracle
from .tolerance import FLOORS, STATS, assert_within_tolerance, first_mismatches, max_error

DTYPES = FLOORS  # the dtypes of the grid, with their tolerance floors
_ORACLE_CACHE: dict[tuple[str, torch.dtype], dict] = {}


def _oracle_for(case: Case, dtype: torch.dtype) -> dict:
    key = (case.id, dtype)
    if key not in _ORACLE_CACHE:
        (q, k, v), kwargs = case.inputs(dtype)
        _ORACLE_CACHE[key] = oracle(q, k, v, **kwargs)
    return _ORACLE_CACHE[key]


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_tolerance_rule_against_fp64(case: Case, dtype: torch.dtype, backend: str):
    """error(backend) ≤ 2 · error(naive PyTorch in the same dtype) + floor, per output."""
    (q, k, v), kwargs = case.inputs(dtype)
    want = _oracle_for(case, dtype)
    got = run_backend(backend, q, k, v, **kwargs)
    naive = naive_same_dtype(q, k, v, **kwargs)

    for name in STATS:
        tensor = getattr(got, name)
        assert tensor.dtype == torch.float32, f"{name} must be fp32, got {tensor.dtype}"
        assert tensor.shape == (case.B, case.Hq, case.Lq)
    if case.stats_only:
        assert got.out is None
    else:
        assert got.out.dtype == dtype and got.out.shape == (case.B, case.Hq, case.Lq, case.Dv or case.D)

    names = STATS if case.stats_only else (*STATS, "out")
    assert_within_tolerance(got, want, naive, dtype, names)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("case", HARD_CASES, ids=lambda c: c.id)
def test_hard_cases_within_2e4_fp32(case: Case, backend: str):
    """Issue 2's acceptance bar: fp32 inputs agree with fp64 within 2e-4 and produce no NaN.

    `lse` grows with the logits (≈ 3000 at ×1000), where one fp32 ulp is already 2.4e-4, so
    it is held to 2e-4 relative; everything else to 2e-4 absolute.
    """
    (q, k, v), kwargs = case.inputs(torch.float32)
    want = _oracle_for(case, torch.float32)
    got = run_backend(backend, q, k, v, **kwargs)
    names = STATS if case.stats_only else (*STATS, "out")
    for name in names:
        tensor = getattr(got, name)
        assert not torch.isnan(tensor).any(), f"{name} has NaN"
        err = max_error(name, tensor, want[name])
        scale = max(1.0, float(np.abs(want[name][np.isfinite(want[name])]).max(initial=0.0))) if name == "lse" else 1.0
        assert err <= 2e-4 * scale, f"{name}: max error {err:.3g}; {first_mismatches(tensor, want[name], 2e-4 * scale)}"


@pytest.mark.parametrize("backend", backend_params())
def test_fully_masked_rows_are_exact_zeros(backend: str):
    q, k, v = torch.randn(1, 2, 5, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 8)
    mask = torch.ones(1, 1, 5, 6, dtype=torch.bool)
    mask[..., 2, :] = False  # query 2 sees nothing
    r = run_backend(backend, q, k, v, attn_mask=mask)
    assert torch.equal(r.out[:, :, 2], torch.zeros(1, 2, 8))
    assert torch.equal(r.shannon[:, :, 2], torch.zeros(1, 2))
    assert torch.equal(r.renyi2[:, :, 2], torch.zeros(1, 2))
    assert torch.equal(r.sink_mass[:, :, 2], torch.zeros(1, 2))
    assert torch.isneginf(r.lse[:, :, 2]).all()
    assert torch.isfinite(r.lse[:, :, [0, 1, 3, 4]]).all()
    # An additive mask of all -inf behaves the same as an all-False bool mask.
    additive = torch.zeros(1, 1, 5, 6).masked_fill(~mask, float("-inf"))
    r2 = run_backend(backend, q, k, v, attn_mask=additive)
    torch.testing.assert_close(r2.shannon, r.shannon, rtol=0, atol=1e-6)
    assert torch.equal(r2.out[:, :, 2], torch.zeros(1, 2, 8))


@pytest.mark.parametrize("backend", backend_params())
def test_empty_key_and_query_lengths(backend: str):
    q, k, v = torch.randn(1, 2, 3, 8), torch.randn(1, 2, 0, 8), torch.randn(1, 2, 0, 8)
    r = run_backend(backend, q, k, v)
    assert torch.isneginf(r.lse).all() and torch.equal(r.shannon, torch.zeros(1, 2, 3))
    assert torch.equal(r.out, torch.zeros(1, 2, 3, 8))
    r = run_backend(backend, torch.randn(1, 2, 0, 8), torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8))
    assert r.shannon.shape == (1, 2, 0) and r.out.shape == (1, 2, 0, 8)


@pytest.mark.parametrize("backend", backend_params())
def test_statistics_only_matches_full_call(backend: str):
    (q, k, v), kwargs = Case(2, 4, 2, 97, 97, 32, causal=True).inputs(torch.float32)
    full = run_backend(backend, q, k, v, **kwargs)
    stats = run_backend(backend, q, k, None, **kwargs)
    assert stats.out is None
    for name in STATS:
        torch.testing.assert_close(getattr(stats, name), getattr(full, name), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", backend_params())
def test_sink_mass_counts_the_first_keys(backend: str):
    """sink_tokens=S puts Σ_{j<S} p_j in sink_mass; uniform rows make it S/n exactly."""
    q = torch.zeros(1, 1, 4, 8)
    k, v = torch.randn(1, 1, 10, 8), torch.randn(1, 1, 10, 8)
    for sinks in (0, 1, 4, 10, 50):
        r = run_backend(backend, q, k, v, sink_tokens=sinks)
        expected = torch.full((1, 1, 4), min(sinks, 10) / 10)
        torch.testing.assert_close(r.sink_mass, expected, rtol=0, atol=1e-6)


# --- non-finite inputs: only the affected rows become non-finite --------------------------------


@pytest.mark.parametrize("backend", backend_params())
def test_nan_in_query_poisons_only_its_row(backend: str):
    q, k, v = torch.randn(1, 2, 9, 8), torch.randn(1, 2, 9, 8), torch.randn(1, 2, 9, 8)
    q[0, 1, 4, 3] = float("nan")
    r = run_backend(backend, q, k, v, causal=True)
    assert torch.isnan(r.shannon[0, 1, 4]) and torch.isnan(r.out[0, 1, 4]).all()
    others = torch.ones(1, 2, 9, dtype=torch.bool)
    others[0, 1, 4] = False
    for name in STATS:
        assert torch.isfinite(getattr(r, name)[others]).all(), name
    assert torch.isfinite(r.out[others]).all()


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_nonfinite_key_poisons_only_rows_that_see_it(backend: str, bad: float):
    q, k, v = torch.randn(1, 2, 12, 8), torch.randn(1, 2, 12, 8), torch.randn(1, 2, 12, 8)
    k[0, 0, 6, 0] = bad  # KV head 0 serves query head 0 only (Hq == Hkv here)
    # Positive q there makes an inf key a +inf score (a -inf score is simply a masked key).
    q[0, 0, :, 0] = q[0, 0, :, 0].abs() + 0.1
    r = run_backend(backend, q, k, v, causal=True)
    assert torch.isfinite(r.shannon[0, 0, :6]).all() and torch.isfinite(r.out[0, 0, :6]).all()
    assert torch.isfinite(r.shannon[0, 1]).all() and torch.isfinite(r.out[0, 1]).all()
    assert not torch.isfinite(r.shannon[0, 0, 6:]).any()


@pytest.mark.parametrize("backend", backend_params())
def test_nonfinite_value_poisons_only_outputs_that_weight_it(backend: str):
    q, k, v = torch.randn(1, 2, 12, 8), torch.randn(1, 1, 12, 8), torch.randn(1, 1, 12, 8)
    v[0, 0, 5, 2] = float("nan")
    v[0, 0, 9, 0] = float("inf")
    r = run_backend(backend, q, k, v, causal=True)
    assert torch.isfinite(r.out[:, :, :5]).all(), "rows before the bad value must stay finite"
    assert torch.isnan(r.out[:, :, 5:]).all()
    for name in STATS:  # statistics never depend on v
        assert torch.isfinite(getattr(r, name)).all(), name


# --- dtypes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64], ids=str)
def test_statistics_are_fp32_and_out_keeps_v_dtype(backend: str, dtype: torch.dtype):
    q, k, v = (torch.randn(1, 2, 5, 8, dtype=dtype) for _ in range(3))
    r = run_backend(backend, q, k, v, causal=True)
    assert r.out.dtype == dtype
    assert all(getattr(r, n).dtype == torch.float32 for n in STATS)
