"""Issue 11: taps (TraceTap, LossTap, StepTap), sampling, a backend per monitored model, one dispatch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import headentropy as he
from headentropy.kernels import dispatch

from ..hf.conftest import enable_checkpointing, make_tiny, padded_batch


# ---- one dispatch -----------------------------------------------------------------------------

def test_forced_backend_that_cannot_serve_names_the_reason():
    q = torch.randn(1, 2, 5, 8)
    with pytest.raises(he.BackendUnavailable, match="meta tensors"):
        he.attention(q.to("meta"), q.to("meta"), None, backend="cpu")
    with pytest.raises(he.BackendUnavailable, match="unknown"):
        he.attention(q, q, q, backend="nope")
    big = torch.randn(1, 1, 1 << 14, 8)
    with pytest.raises(he.BackendUnavailable, match="materialises the full"):
        he.attention(big, big, None, backend="reference")
    assert issubclass(he.BackendUnavailable, ValueError)


@settings(max_examples=30, deadline=None)
@given(lq=st.integers(1, 20), lk=st.integers(1, 20), grad=st.booleans(), causal=st.booleans(),
       backend=st.sampled_from(["cpu", "torch", "reference", "triton", "auto"]))
def test_result_names_the_backend_that_ran(lq, lk, grad, causal, backend):
    """No re-routing: whenever a forced backend returns, r.backend is that backend."""
    q = torch.randn(1, 2, lq, 8, requires_grad=grad)
    k = torch.randn(1, 1, lk, 8)
    try:
        r = he.attention(q, k, k, causal=causal, backend=backend)
    except he.BackendUnavailable as e:
        assert backend != "auto" and backend in str(e)
        return
    if backend == "auto":
        problem = dispatch.build_problem(q, k, k, causal=causal)
        assert r.backend == dispatch.choose_backend("auto", problem, grad).name
    else:
        assert r.backend == backend
    if grad:
        assert r.shannon.requires_grad


# ---- a backend per monitored model ------------------------------------------------------------

def test_nested_monitors_on_two_models_each_run_their_own_backend(smollm2):
    smol, tok = smollm2
    tiny = make_tiny("llama")
    ids = tok("Each model runs on the backend its own monitor chose.", return_tensors="pt")["input_ids"]
    tiny_ids, _ = padded_batch([7], 7)
    with torch.inference_mode(), he.monitor(smol, backend="torch") as outer, \
            he.monitor(tiny, backend="reference") as inner:
        smol(input_ids=ids)
        tiny(input_ids=tiny_ids)
        smol(input_ids=ids[:, :5])
    assert outer.backend_counts == {"torch": 2 * 30}  # two calls x 30 layers, none on "reference"
    assert inner.backend_counts == {"reference": 3}
    assert len(outer.traces) == 2 and len(inner.traces) == 1
    assert outer.trace.num_positions == 5 and inner.trace.num_positions == 7


# ---- LossTap ----------------------------------------------------------------------------------

def test_loss_tap_backpropagates_into_the_query_projection():
    model = make_tiny("llama").train()
    ids, mask = padded_batch([9, 6], 9)
    tap = he.LossTap()
    with he.monitor(model, taps=[tap], backend="torch"):
        model(input_ids=ids, attention_mask=mask)
    h = tap.stat("shannon")  # [B, L, H, N]
    assert h.shape == (2, 3, 4, 9) and h.requires_grad
    per_head = tap.mean_normalized("shannon")  # [L, H]
    assert per_head.shape == (3, 4) and torch.isfinite(per_head).all()
    assert ((per_head > 0) & (per_head <= 1)).all()
    per_head.sum().backward()
    grad = model.model.layers[1].self_attn.q_proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_loss_tap_mean_equals_the_trace_mean_over_usable_positions():
    model = make_tiny("qwen2")
    ids, mask = padded_batch([8, 5], 8)
    loss_tap, trace_tap = he.LossTap(), he.TraceTap()
    with torch.no_grad(), he.monitor(model, taps=[loss_tap, trace_tap]):
        model(input_ids=ids, attention_mask=mask)
    trace = trace_tap.traces[-1]
    h = trace.normalized("shannon")  # [B, L, H, N], NaN where not usable
    want = h.permute(1, 2, 0, 3).flatten(2).nanmean(-1)  # [L, H]
    torch.testing.assert_close(loss_tap.mean_normalized("shannon").cpu(), want, rtol=1e-5, atol=1e-6)


# ---- StepTap ----------------------------------------------------------------------------------

def test_step_tap_is_called_once_per_generate_step_with_the_trace_columns(smollm2):
    model, tok = smollm2
    events = []
    ids = tok("Name a colour:", return_tensors="pt")["input_ids"]
    with torch.inference_mode(), he.monitor(model, taps=[he.TraceTap(), he.StepTap(events.append)]) as mon:
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, min_new_tokens=6,
                       do_sample=False, pad_token_id=tok.eos_token_id)
    trace = mon.trace
    n_prompt = ids.shape[1]
    assert len(events) == 1 + 5  # the prefill and 5 decode steps (the 6th token is never fed back)
    assert [e.generated for e in events] == [False] + [True] * 5
    assert events[0].stats["shannon"].shape == (1, 30, 9, n_prompt)
    for i, e in enumerate(events[1:]):
        col = n_prompt + i
        last = e.last("shannon")  # [B, L, H] on the model's device
        assert last.shape == (1, 30, 9) and last.device == next(model.parameters()).device
        torch.testing.assert_close(last.cpu(), trace.shannon[..., col], rtol=0, atol=0)
        torch.testing.assert_close(e.last("sink_mass").cpu(), trace.sink_mass[..., col], rtol=0, atol=0)
        assert int(e.input_ids[0, -1]) == int(trace.token_ids[0, col])


# ---- sampling ---------------------------------------------------------------------------------

def test_every_n_calls_records_exactly_every_nth_call():
    model = make_tiny("gpt2")
    seen = []
    sampled, every = he.TraceTap(every_n_calls=4), he.TraceTap()
    with torch.no_grad(), he.monitor(model, taps=[sampled, every, he.StepTap(lambda e: seen.append(e.call_index),
                                                                               every_n_calls=4)]):
        for length in range(3, 13):  # 10 calls of lengths 3..12
            ids, _ = padded_batch([length], length)
            model(input_ids=ids)
    assert [t.num_positions for t in every.traces] == list(range(3, 13))
    assert [t.num_positions for t in sampled.traces] == [3, 7, 11]  # calls 0, 4, 8
    assert seen == [0, 4, 8]


def test_unsampled_calls_record_nothing():
    model = make_tiny("llama")
    tap = he.LossTap(every_n_calls=2)
    ids, _ = padded_batch([6], 6)
    with torch.no_grad(), he.monitor(model, taps=[tap]):
        model(input_ids=ids)  # call 0: sampled
        assert tap.recorded
        tap.clear()
        model(input_ids=ids)  # call 1: not sampled
        assert not tap.recorded


def test_bad_tap_arguments_are_value_errors():
    with pytest.raises(ValueError, match="every_n_calls"):
        he.TraceTap(every_n_calls=0)
    with pytest.raises(ValueError, match="callable"):
        he.StepTap(callback=3)
    with pytest.raises(ValueError, match="taps"):
        he.monitor(make_tiny("llama"), taps=["not a tap"])


def test_gradient_checkpointing_under_a_trace_monitor_records_the_forward_only():
    """Layers re-run during backward are not recorded, and nothing differs between the forward
    and the re-run (torch's checkpoint checks the saved tensors), also with left padding."""
    model = make_tiny("llama").train()
    enable_checkpointing(model, {"use_reentrant": False})
    ids, mask = padded_batch([9, 6], 9)
    with he.monitor(model, backend="torch") as mon:
        out = model(input_ids=ids, attention_mask=mask, labels=ids)
        out.loss.backward()
    assert len(mon.traces) == 1 and mon.trace.shannon.shape == (2, 3, 4, 9)
    assert mon.backend_counts == {"torch": 6}  # 3 layers forward + 3 re-run in backward
    assert model.model.layers[0].self_attn.q_proj.weight.grad is not None
