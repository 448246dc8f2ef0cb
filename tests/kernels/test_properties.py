"""Hypothesis properties: the invariants of DESIGN §2 hold for every backend on random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import headentropy as he

from .backends import backend_params, run_backend
from .oracle import visibility

EXAMPLES = settings(max_examples=200)
TOL = 2e-5  # fp32 statistics of short rows (log n ≤ log 24)


@st.composite
def problems(draw, allow_causal=True):
    """Small random attention problems: (q, k, v, kwargs, n_visible [Lq])."""
    hkv = draw(st.integers(1, 2))
    group = draw(st.integers(1, 3))
    lq = draw(st.integers(1, 13))
    lk = draw(st.integers(1, 24))
    d = draw(st.sampled_from([1, 4, 8]))
    causal = allow_causal and draw(st.booleans())
    window = draw(st.none() | st.integers(1, 8)) if allow_causal else None
    softcap = draw(st.none() | st.floats(1.0, 30.0))
    logit_scale = draw(st.sampled_from([0.1, 1.0, 10.0, 100.0]))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(1, hkv * group, lq, d, generator=gen) * logit_scale
    k = torch.randn(1, hkv, lk, d, generator=gen)
    v = torch.randn(1, hkv, lk, d, generator=gen)
    kwargs = dict(causal=causal, window=window, softcap=softcap)
    n_visible = visibility(lq, lk, causal, window).sum(axis=1)  # [Lq]
    return q, k, v, kwargs, n_visible


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems())
def test_bounds(backend, case):
    """0 ≤ H2 ≤ H ≤ log n_valid; 0 ≤ sink_mass ≤ 1; empty rows are exactly zero."""
    q, k, v, kwargs, n_visible = case
    r = run_backend(backend, q, k, v, **kwargs)
    log_n = torch.from_numpy(np.log(np.maximum(n_visible, 1))).float()  # [Lq]
    assert (r.renyi2 >= 0).all()
    assert (r.renyi2 <= r.shannon + TOL).all()
    assert (r.shannon <= log_n + TOL).all()
    assert ((r.sink_mass >= 0) & (r.sink_mass <= 1 + TOL)).all()
    empty = torch.from_numpy(n_visible == 0)
    assert (r.shannon[..., empty] == 0).all() and torch.isneginf(r.lse[..., empty]).all()


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems(), key=st.integers(0, 23))
def test_one_visible_key_has_zero_entropy(backend, case, key):
    q, k, v, kwargs, _ = case
    lk = k.shape[2]
    mask = torch.zeros(1, 1, q.shape[2], lk, dtype=torch.bool)
    mask[..., key % lk] = True
    kwargs = dict(kwargs, causal=False, window=None)
    r = run_backend(backend, q, k, v, attn_mask=mask, **kwargs)
    assert torch.equal(r.shannon, torch.zeros_like(r.shannon))
    assert torch.equal(r.renyi2, torch.zeros_like(r.renyi2))
    torch.testing.assert_close(r.out, v.repeat_interleave(q.shape[1] // k.shape[1], 1)[:, :, [key % lk]]
                               .expand_as(r.out), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems())
def test_uniform_rows_have_log_n(backend, case):
    """q = 0 makes every visible score equal: H = H2 = log n_visible, sink = min(S, n)/n."""
    q, k, v, kwargs, n_visible = case
    kwargs = dict(kwargs, softcap=None)
    r = run_backend(backend, torch.zeros_like(q), k, v, **kwargs)
    log_n = torch.from_numpy(np.log(np.maximum(n_visible, 1))).float().expand_as(r.shannon)
    torch.testing.assert_close(r.shannon, log_n, rtol=0, atol=TOL)
    torch.testing.assert_close(r.renyi2, log_n, rtol=0, atol=TOL)


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems(), shift=st.floats(-1e3, 1e3))
def test_shifting_a_row_changes_only_lse(backend, case, shift):
    """Adding a constant to every score of a row (a per-row additive mask) leaves p unchanged."""
    q, k, v, kwargs, _ = case
    lq = q.shape[2]
    per_row = torch.linspace(-1.0, 1.0, lq).view(1, 1, lq, 1) * shift  # [1, 1, Lq, 1]
    kwargs = dict(kwargs, softcap=None)  # the cap is applied before the mask: not a pure shift
    base = run_backend(backend, q, k, v, **kwargs)
    moved = run_backend(backend, q, k, v, attn_mask=per_row, **kwargs)
    tol = 1e-4 * max(1.0, abs(shift) / 100)  # fp32 rounding of (s + shift) grows with |shift|
    for name in ("shannon", "renyi2", "sink_mass"):
        torch.testing.assert_close(getattr(moved, name), getattr(base, name), rtol=0, atol=tol)
    torch.testing.assert_close(moved.out, base.out, rtol=0, atol=tol)
    finite = torch.isfinite(base.lse)
    expected_lse = (base.lse + per_row[..., 0])[finite]
    torch.testing.assert_close(moved.lse[finite], expected_lse, rtol=1e-5, atol=tol)


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems(allow_causal=False), perm_seed=st.integers(0, 2**31 - 1))
def test_permuting_keys_changes_nothing(backend, case, perm_seed):
    q, k, v, kwargs, _ = case
    lk = k.shape[2]
    perm = torch.randperm(lk, generator=torch.Generator().manual_seed(perm_seed))
    mask = torch.rand(1, 1, q.shape[2], lk, generator=torch.Generator().manual_seed(perm_seed)) < 0.8
    base = run_backend(backend, q, k, v, attn_mask=mask, sink_tokens=0, **kwargs)
    permuted = run_backend(backend, q, k[:, :, perm], v[:, :, perm], attn_mask=mask[..., perm],
                           sink_tokens=0, **kwargs)
    for name in ("shannon", "renyi2", "lse"):
        torch.testing.assert_close(getattr(permuted, name), getattr(base, name), rtol=1e-5, atol=TOL)
    torch.testing.assert_close(permuted.out, base.out, rtol=1e-5, atol=TOL)


@pytest.mark.parametrize("backend", backend_params())
@EXAMPLES
@given(case=problems(allow_causal=False), split_at=st.integers(0, 24))
def test_two_partial_states_merge_exactly(backend, case, split_at):
    """Statistics over keys [0, s) and [s, Lk) merge into those over all keys (split-KV)."""
    q, k, v, kwargs, _ = case
    lk = k.shape[2]
    s = split_at % (lk + 1)
    sinks = 4
    whole = run_backend(backend, q, k, v, sink_tokens=sinks, **kwargs)
    first = run_backend(backend, q, k[:, :, :s], v[:, :, :s], sink_tokens=sinks, **kwargs)
    # The second part's sink keys are the global first `sinks` keys that fall into it.
    second = run_backend(backend, q, k[:, :, s:], v[:, :, s:], sink_tokens=max(0, sinks - s), **kwargs)
    merged = he.merge_results(first, second)
    for name in ("shannon", "renyi2", "lse", "sink_mass"):
        torch.testing.assert_close(getattr(merged, name), getattr(whole, name), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(merged.out, whole.out, rtol=1e-5, atol=1e-4)


def test_merge_with_an_empty_part_is_the_identity():
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 8)
    whole = he.attention(q, k, v, backend="torch")
    empty = he.attention(q, k[:, :, :0], v[:, :, :0], backend="torch")
    for merged in (he.merge_results(whole, empty), he.merge_results(empty, whole)):
        for name in ("shannon", "renyi2", "lse", "sink_mass", "out"):
            torch.testing.assert_close(getattr(merged, name), getattr(whole, name), rtol=0, atol=1e-6)
    both_empty = he.merge_results(empty, empty)
    assert torch.isneginf(both_empty.lse).all() and torch.equal(both_empty.shannon, torch.zeros(1, 2, 4))
    assert not math.isnan(float(both_empty.renyi2.sum()))
