"""Issue 13: `he.TrainingMonitor` in a plain loop — sampling, scalars, alarms, restoring."""

from __future__ import annotations

import warnings

import pytest
import torch

import headentropy as he
from headentropy.analysis import thresholds as T
from headentropy.hf.training import _SESSIONS

from .helpers import RandomTokens, scale_qk, tiny_llama

KEYS = {"attention_entropy/mean", "attention_entropy/min_head", "attention_entropy/collapsed_heads",
        "attention_entropy/sink_mass", "attention_entropy/alarm/entropy_collapse",
        "attention_entropy/alarm/entropic_overload"} | {
    f"attention_entropy/{p}layer_{i:02d}" for i in range(3) for p in ("", "head_variance/")}


def _loop(model, mon, steps, ids, opt=None, impls=None):
    out = []
    for step in range(steps):
        if impls is not None:
            impls.append(model.config._attn_implementation)
        loss = model(input_ids=ids, labels=ids).loss
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        out.append(mon.step(step))
    return out


def test_samples_every_n_steps_and_runs_the_models_own_attention_otherwise():
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    impls = []
    with he.TrainingMonitor(model, every_n_steps=3, backend="torch") as mon:
        logs = _loop(model, mon, 7, ids, impls=impls)
    assert [bool(x) for x in logs] == [True, False, False, True, False, False, True]  # steps 0, 3, 6
    # Unsampled steps run the model's own attention (SDPA): nothing extra, not even our kernel.
    assert impls == ["headentropy", "sdpa", "sdpa", "headentropy", "sdpa", "sdpa", "headentropy"]
    assert all(set(x) == KEYS for x in logs if x)
    assert [s for s, _ in mon.history] == [0, 3, 6]
    assert model.config._attn_implementation == "sdpa" and model not in _SESSIONS


def test_scalars_are_the_per_head_means_of_the_recorded_forward():
    """Against an independent computation from a TraceTap trace of the same inputs."""
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch") as mon:
        (got,) = _loop(model, mon, 1, ids)
    with torch.no_grad(), he.monitor(model, backend="torch") as m:
        model(input_ids=ids)
    heads = he.analysis.head_stats(m.trace)
    per_head = heads.mean_normalized.double()  # [L, H]
    assert got["attention_entropy/mean"] == pytest.approx(float(per_head.mean()), abs=1e-5)
    assert got["attention_entropy/min_head"] == pytest.approx(float(per_head.min()), abs=1e-5)
    for i in range(3):
        assert got[f"attention_entropy/layer_{i:02d}"] == pytest.approx(float(per_head[i].mean()), abs=1e-5)
        assert got[f"attention_entropy/head_variance/layer_{i:02d}"] == pytest.approx(
            float(heads.inter_head_variance[i]), abs=1e-6)
    usable = m.trace.valid[:, None, :] & (m.trace.n_keys >= T.MIN_KEYS)  # [B, L, N]
    sink = m.trace.sink_mass.double()  # [B, L, H, N]
    expected_sink = (sink * usable[:, :, None, :]).sum() / (usable.sum() * sink.shape[2])
    assert got["attention_entropy/sink_mass"] == pytest.approx(float(expected_sink), abs=1e-5)
    assert got["attention_entropy/collapsed_heads"] == 0.0


def test_gradient_accumulation_pools_the_micro_batches_and_eval_forwards_are_left_out():
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch") as mon:
        (whole,) = _loop(model, mon, 1, ids)  # step 0: the whole batch in one forward
        model(input_ids=ids[:2], labels=ids[:2])  # two micro-batches of one step
        model.eval()
        with torch.no_grad():
            model(input_ids=ids[:1].flip(-1))  # an evaluation forward in between: not recorded
        model.train()
        model(input_ids=ids[2:], labels=ids[2:])
        pooled = mon.step(1)
    for key in KEYS:
        assert pooled[key] == pytest.approx(whole[key], abs=1e-6), key


def test_collapse_alarm_fires_once_with_a_finding_and_a_warning():
    model = scale_qk(tiny_llama(), 30.0).train()
    ids = RandomTokens(4).ids
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch") as mon:
        model(input_ids=ids, labels=ids)
        with pytest.warns(RuntimeWarning, match="collapse"):
            first = mon.step(0)
        assert [f.kind for f in mon.last_raised] == ["entropy_collapse"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # raised once: no second warning
            model(input_ids=ids, labels=ids)
            second = mon.step(1)
        assert mon.last_raised == []
    assert first["attention_entropy/alarm/entropy_collapse"] == 1.0
    assert second["attention_entropy/alarm/entropy_collapse"] == 1.0  # the condition still holds
    assert first["attention_entropy/collapsed_heads"] == 1.0
    assert first["attention_entropy/alarm/entropic_overload"] == 0.0
    [finding] = mon.findings
    ev = finding.evidence
    assert ev["step"] == 0 and ev["value"] == 1.0 and ev["threshold"] == T.COLLAPSE_HEAD_FRACTION
    assert len(ev["layer_means"]) == 3 and max(ev["layer_means"]) < 0.01
    assert ev["example_heads"][:2] == [[0, 0], [0, 1]]


def test_fast_fall_against_the_runs_own_baseline_raises_collapse():
    """One layer collapses mid-run (its q/k ×30 after the first sample): only 4 of 12 heads
    collapse (below the fraction threshold), but the layer fell under TRAIN_FALL_RATIO × baseline."""
    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch", warn=False) as mon:
        model(input_ids=ids, labels=ids)
        base = mon.step(0)
        attn = model.model.layers[1].self_attn
        with torch.no_grad():
            attn.q_proj.weight.mul_(30)
            attn.k_proj.weight.mul_(30)
        model(input_ids=ids, labels=ids)
        after = mon.step(1)
    assert base["attention_entropy/alarm/entropy_collapse"] == 0.0
    assert after["attention_entropy/collapsed_heads"] == pytest.approx(4 / 12)
    assert after["attention_entropy/alarm/entropy_collapse"] == 1.0
    [finding] = mon.findings
    assert finding.evidence["fallen_layers"] == [1] and finding.evidence["step"] == 1
    assert finding.evidence["baseline_layer_means"][1] == pytest.approx(base["attention_entropy/layer_01"], abs=1e-4)


def test_overload_alarm_needs_uniform_attention_that_stays():
    """q/k ×0: every row uniform (normalised entropy 1). The alarm waits for
    TRAIN_OVERLOAD_SAMPLES samples; a healthy model never raises it."""
    ids = RandomTokens(4).ids
    model = scale_qk(tiny_llama(), 0.0).train()
    with he.TrainingMonitor(model, every_n_steps=1, backend="torch", warn=False) as mon:
        logs = _loop(model, mon, T.TRAIN_OVERLOAD_SAMPLES + 1, ids)
    flags = [x["attention_entropy/alarm/entropic_overload"] for x in logs]
    assert flags == [0.0] * (T.TRAIN_OVERLOAD_SAMPLES - 1) + [1.0, 1.0]
    assert logs[0]["attention_entropy/mean"] == pytest.approx(1.0, abs=1e-4)
    [finding] = mon.findings
    assert finding.kind == "entropic_overload" and finding.evidence["step"] == T.TRAIN_OVERLOAD_SAMPLES - 1
    assert finding.evidence["value"] == 1.0 and finding.causes and finding.mitigations

    healthy = tiny_llama().train()
    opt = torch.optim.AdamW(healthy.parameters(), lr=1e-3)
    with he.TrainingMonitor(healthy, every_n_steps=1, backend="torch") as mon:
        logs = _loop(healthy, mon, T.TRAIN_OVERLOAD_SAMPLES + 1, ids, opt=opt)
    assert mon.findings == []
    assert all(x[f"attention_entropy/alarm/{k}"] == 0.0 for x in logs for k in ("entropy_collapse", "entropic_overload"))


def test_monitor_arguments_and_one_monitor_per_model():
    model = tiny_llama()
    with pytest.raises(ValueError, match="every_n_steps"):
        he.TrainingMonitor(model, every_n_steps=0)
    with pytest.raises(ValueError, match="nope"):
        he.TrainingMonitor(model, backend="nope")
    assert model not in _SESSIONS
    with he.monitor(model), pytest.raises(RuntimeError, match="already being monitored"):
        he.TrainingMonitor(model)
    assert model not in _SESSIONS
