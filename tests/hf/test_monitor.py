"""monitor(): switching and restoring the model, traces, threads, NaN, save/load, errors."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref

import pytest
import torch

import headentropy as he
from headentropy.capture import ACTIVE_CAPTURES
from headentropy import EntropyTrace
from headentropy.hf.monitor import _MONITORED

from .conftest import make_tiny, padded_batch


def _hook_counts(model):
    return [
        (name, len(m._forward_hooks), len(m._forward_pre_hooks), len(m._forward_hooks_with_kwargs),
         len(m._forward_hooks_always_called), len(m._forward_pre_hooks_with_kwargs))
        for name, m in model.named_modules()
    ]


def _snapshot(model):
    return (
        model.config._attn_implementation,
        sorted(model.__dict__),
        _hook_counts(model),
        {k: v.clone() for k, v in model.state_dict().items()},
    )


def _assert_same(before, after):
    assert before[0] == after[0]
    assert before[1] == after[1]
    assert before[2] == after[2]
    assert before[3].keys() == after[3].keys()
    assert all(torch.equal(before[3][k], after[3][k]) for k in before[3])


class Boom(Exception):
    pass


def test_package_import_does_not_import_transformers():
    code = "import headentropy, sys; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_thousand_enter_exit_cycles_restore_the_model_exactly():
    model = make_tiny("llama")
    ids, _ = padded_batch([5], 5)
    before = _snapshot(model)
    with torch.no_grad():
        ref = model(input_ids=ids).logits
    refs = []
    for i in range(1000):
        mon = he.monitor(model)
        try:
            with mon:
                assert model.config._attn_implementation == "headentropy"
                if i % 100 == 0:
                    with torch.no_grad():
                        model(input_ids=ids)
                if i % 7 == 0:
                    raise Boom()
        except Boom:
            pass
        if i % 100 == 0:
            assert mon.trace.shannon.shape[-1] == 5
        refs.append(weakref.ref(mon))
        del mon
    gc.collect()
    _assert_same(before, _snapshot(model))
    assert all(r() is None for r in refs), "the model (or a global) keeps monitors alive"
    assert model not in _MONITORED and ACTIVE_CAPTURES.get() == ()
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, ref)


def test_exception_inside_generate_restores(monkeypatch):
    model = make_tiny("qwen2")
    before = _snapshot(model)
    with pytest.raises(ValueError):
        with he.monitor(model):
            model.generate(input_ids=torch.tensor([[1, 2, 3]]), max_new_tokens=-5)
    _assert_same(before, _snapshot(model))


def test_two_monitors_in_two_threads_never_mix():
    models = {"llama": make_tiny("llama"), "gemma2": make_tiny("gemma2")}
    lengths = {"llama": 7, "gemma2": 11}
    # Single-threaded references.
    want = {}
    for kind, model in models.items():
        ids, _ = padded_batch([lengths[kind]], lengths[kind], seed=lengths[kind])
        with torch.no_grad(), he.monitor(model) as mon:
            model(input_ids=ids)
        want[kind] = mon.trace.shannon
    barrier = threading.Barrier(2)
    got, errors = {}, []

    def run(kind):
        try:
            model = models[kind]
            ids, _ = padded_batch([lengths[kind]], lengths[kind], seed=lengths[kind])
            with torch.no_grad(), he.monitor(model) as mon:
                barrier.wait()
                for _ in range(20):  # interleave with the other thread's calls
                    model(input_ids=ids)
            got[kind] = mon.traces
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for kind, traces in got.items():
        assert len(traces) == 20
        for tr in traces:
            assert tr.shannon.shape == want[kind].shape, kind
            assert torch.allclose(tr.shannon, want[kind], atol=1e-6), kind
    for model in models.values():
        assert model.config._attn_implementation in ("sdpa", "eager")


def test_nested_monitors_on_two_models_record_their_own():
    a, b = make_tiny("llama"), make_tiny("gpt2")
    ids, _ = padded_batch([6], 6)
    with torch.no_grad(), he.monitor(a) as ma, he.monitor(b) as mb:
        a(input_ids=ids)
        b(input_ids=ids[:, :4])
    assert len(ma.traces) == 1 and len(mb.traces) == 1
    assert ma.trace.num_positions == 6 and mb.trace.num_positions == 4
    assert ma.trace.model_name == "LlamaForCausalLM" and mb.trace.model_name == "GPT2LMHeadModel"


def test_same_model_cannot_be_monitored_twice_at_once():
    model = make_tiny("llama")
    with he.monitor(model):
        with pytest.raises(RuntimeError, match="already being monitored"):
            with he.monitor(model):
                pass
        assert model.config._attn_implementation == "headentropy"
    assert model.config._attn_implementation == "sdpa"


def test_nan_activation_is_counted_not_a_crash():
    model = make_tiny("llama")
    ids, _ = padded_batch([8], 8)

    def poison(module, args, output):  # NaN in the hidden state of token 5 after layer 0
        hidden = output[0] if isinstance(output, tuple) else output
        hidden[:, 5] = float("nan")
        return output

    handle = model.model.layers[0].register_forward_hook(poison)
    try:
        with torch.no_grad(), he.monitor(model) as mon:
            model(input_ids=ids)
    finally:
        handle.remove()
    trace = mon.trace
    assert trace.non_finite_count() > 0
    # Layer 0 is clean; later layers: queries before token 5 never see it, so stay finite.
    assert torch.isfinite(trace.shannon[:, 0]).all()
    assert torch.isfinite(trace.shannon[:, 1:, :, :5]).all()
    assert not torch.isfinite(trace.shannon[:, 1:, :, 5:]).all()


def test_layers_and_stats_selection():
    model = make_tiny("gemma2")
    ids, _ = padded_batch([9], 9)
    with torch.no_grad(), he.monitor(model, layers=[3, 1], stats=("shannon",)) as mon:
        model(input_ids=ids)
    trace = mon.trace
    assert trace.layers == [1, 3]
    assert trace.shannon.shape == (1, 2, 4, 9)
    assert trace.renyi2 is None and trace.sink_mass is None
    with torch.no_grad(), he.monitor(model) as full:
        model(input_ids=ids)
    assert torch.equal(trace.shannon, full.trace.shannon[:, [1, 3]])
    with pytest.raises(ValueError, match="layers"):
        he.monitor(model, layers=[7]).__enter__()
    assert model.config._attn_implementation != "headentropy"
    with pytest.raises(ValueError, match="stats"):
        he.monitor(model, stats=("entropy",))


def test_trace_save_load_roundtrip(tmp_path):
    model = make_tiny("mistral")
    ids, mask = padded_batch([8, 5], 8)
    with torch.no_grad(), he.monitor(model) as mon:
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0)
    trace = mon.trace
    path = tmp_path / "trace.safetensors"
    trace.save(path)
    back = EntropyTrace.load(path)
    for name in ("shannon", "renyi2", "sink_mass", "valid", "generated", "token_ids", "n_keys"):
        assert torch.equal(getattr(trace, name), getattr(back, name)), name
    assert back.layers == trace.layers and back.model_name == trace.model_name
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match=r"not a \(complete\) headentropy trace"):
        EntropyTrace.load(other)


def test_normalized_entropy_is_in_unit_interval_and_nan_where_undefined():
    model = make_tiny("llama")
    ids, mask = padded_batch([8, 5], 8)
    with torch.no_grad(), he.monitor(model) as mon:
        model(input_ids=ids, attention_mask=mask)
    h = mon.trace.normalized()
    ok = ~torch.isnan(h)
    assert (h[ok] >= -1e-6).all() and (h[ok] <= 1 + 1e-5).all()
    assert torch.isnan(h[1, :, :, :3]).all()  # padding
    assert torch.isnan(h[1, :, :, 3]).all() and torch.isnan(h[0, :, :, 0]).all()  # one visible key
    assert not torch.isnan(h[0, :, :, 1:]).any()


def test_model_without_attention_interface_gets_a_clear_error():
    import transformers as tr

    bloom = tr.BloomForCausalLM(tr.BloomConfig(vocab_size=50, hidden_size=32, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="BloomForCausalLM does not dispatch"):
        with he.monitor(bloom):
            pass
    assert bloom.config._attn_implementation != "headentropy"
    with pytest.raises(ValueError, match="TransformerEncoderLayer is not a transformers"):
        he.monitor(torch.nn.TransformerEncoderLayer(16, 2)).__enter__()


def test_trace_before_any_call_raises():
    model = make_tiny("llama")
    with he.monitor(model) as mon:
        with pytest.raises(RuntimeError, match="no call"):
            mon.trace


def test_submodule_called_directly_is_its_own_call():
    model = make_tiny("llama")
    ids, _ = padded_batch([6], 6)
    with torch.no_grad(), he.monitor(model) as mon:
        model.model(input_ids=ids)  # the base model, not the hooked top-level model
        model(input_ids=ids)
    assert len(mon.traces) == 2
    assert torch.allclose(mon.traces[0].shannon, mon.traces[1].shannon, atol=1e-6)
