"""Issue 13: `he.EntropyCallback` in a real `transformers.Trainer` run on a tiny Llama."""

from __future__ import annotations

import os

import pytest

import headentropy as he
from headentropy.hf.training import _SESSIONS

from .helpers import is_number, read_tensorboard, scale_qk, tiny_llama, trainer_for

pytest.importorskip("tensorboard")

LAYERS = range(3)
KEYS = (
    ["attention_entropy/mean", "attention_entropy/min_head", "attention_entropy/collapsed_heads",
     "attention_entropy/sink_mass", "attention_entropy/alarm/entropy_collapse",
     "attention_entropy/alarm/entropic_overload"]
    + [f"attention_entropy/layer_{i:02d}" for i in LAYERS]
    + [f"attention_entropy/head_variance/layer_{i:02d}" for i in LAYERS]
)


def test_healthy_run_writes_every_key_to_tensorboard_and_raises_no_alarm(tmp_path):
    import transformers as tr

    model = tiny_llama()
    trainer = trainer_for(model, tmp_path, max_steps=6)
    cb = he.EntropyCallback(every_n_steps=2, backend="torch").attach(trainer)
    impls = []

    class Probe(tr.TrainerCallback):  # runs after ours: sees which attention each step runs
        def on_step_begin(self, args, state, control, model=None, **kw):
            impls.append(model.config._attn_implementation)

    trainer.add_callback(Probe())
    trainer.train()

    assert trainer.state.global_step == 6
    # Only sampled steps run the headentropy attention; the others the model's own (SDPA).
    assert impls == ["headentropy", "sdpa"] * 3
    sampled = [step for step, _ in cb.monitor.history]
    assert sampled == [1, 3, 5]  # global steps 1, n + 1, 2n + 1
    # Exactly the documented keys, in the Trainer's log history at the sampled steps.
    for step, scalars in cb.monitor.history:
        assert set(scalars) == set(KEYS)
        logged = next(e for e in trainer.state.log_history if e["step"] == step and "attention_entropy/mean" in e)
        for key in KEYS:
            assert logged[key] == pytest.approx(scalars[key])
    # Real event files, read back with tensorboard's reader; the Trainer prefixes "train/".
    tb = read_tensorboard(tmp_path / "out" / "runs")
    # The Trainer's own scalars share the files, and logging ours does not cost it its loss log at
    # the sampled steps (trainer.log clears control.should_log; the callback restores it).
    assert sorted(dict(tb["train/loss"])) == [1, 2, 3, 4, 5, 6]
    for key in KEYS:
        points = dict(tb[f"train/{key}"])
        assert sorted(points) == [1, 3, 5], key
        assert all(is_number(v) for v in points.values()), key
        for step, scalars in cb.monitor.history:
            assert points[step] == pytest.approx(scalars[key], rel=1e-6, abs=1e-6)  # TB stores fp32
    # A healthy tiny model: heads near 0.5, nothing collapsed, no alarm at any sample.
    for _, scalars in cb.monitor.history:
        assert 0.3 < scalars["attention_entropy/mean"] < 0.8
        assert scalars["attention_entropy/collapsed_heads"] == 0.0
        assert 0.0 < scalars["attention_entropy/sink_mass"] < 1.0
        assert scalars["attention_entropy/alarm/entropy_collapse"] == 0.0
        assert scalars["attention_entropy/alarm/entropic_overload"] == 0.0
    assert cb.findings == []
    # After training the model is as before: its own attention, no session, no hooks of ours.
    assert model.config._attn_implementation != "headentropy"
    assert model not in _SESSIONS


def test_induced_collapse_raises_alarm_at_first_sampled_step_and_stop_stops_training(tmp_path):
    model = scale_qk(tiny_llama(), 30.0)  # logits ×900: one-hot rows
    trainer = trainer_for(model, tmp_path, max_steps=10)
    cb = he.EntropyCallback(every_n_steps=4, on_alarm="stop", backend="torch").attach(trainer)
    trainer.train()

    assert trainer.state.global_step == 1  # stopped right after the first (sampled) step
    [finding] = cb.findings
    assert finding.kind == "entropy_collapse" and finding.severity == "critical"
    assert finding.evidence["step"] == 1
    assert finding.evidence["value"] == 1.0  # every head below COLLAPSE_HEAD_ENTROPY
    assert finding.evidence["threshold"] == 0.5 and finding.evidence["head_threshold"] == 0.1
    assert finding.causes and finding.mitigations
    assert any("regularize" in m for m in finding.mitigations)
    tb = read_tensorboard(tmp_path / "out" / "runs")
    assert dict(tb["train/attention_entropy/alarm/entropy_collapse"]) == {1: 1.0}
    assert dict(tb["train/attention_entropy/collapsed_heads"]) == {1: 1.0}
    assert dict(tb["train/attention_entropy/mean"])[1] < 0.01


def test_on_alarm_save_writes_a_checkpoint_of_the_alarm_step(tmp_path):
    model = scale_qk(tiny_llama(), 30.0)
    trainer = trainer_for(model, tmp_path, max_steps=3, report_to=())
    cb = he.EntropyCallback(every_n_steps=2, on_alarm="save", backend="torch").attach(trainer)
    trainer.train()
    assert trainer.state.global_step == 3  # "save" does not stop
    assert [f.kind for f in cb.findings] == ["entropy_collapse"]  # raised once, though steps 1 and 3 both hold it
    assert [s["attention_entropy/alarm/entropy_collapse"] for _, s in cb.monitor.history] == [1.0, 1.0]
    assert os.path.isdir(tmp_path / "out" / "checkpoint-1")  # saved at the alarm, save_strategy="no"
    assert not os.path.isdir(tmp_path / "out" / "checkpoint-3")


def test_unattached_callback_still_reaches_the_log_history(tmp_path):
    """Given only as `callbacks=[cb]` (no trainer reference) the keys reach state.log_history."""
    import transformers as tr

    model = tiny_llama()
    trainer = trainer_for(model, tmp_path, max_steps=2, report_to=())
    cb = he.EntropyCallback(every_n_steps=1, backend="torch")
    trainer.add_callback(cb)
    trainer.train()
    assert isinstance(cb, tr.TrainerCallback)
    with_keys = [e for e in trainer.state.log_history if "attention_entropy/mean" in e]
    assert [e["step"] for e in with_keys] == [1, 2]
    assert with_keys[0]["attention_entropy/mean"] == pytest.approx(cb.monitor.history[0][1]["attention_entropy/mean"])


def test_callback_arguments_are_checked():
    with pytest.raises(ValueError, match="on_alarm"):
        he.EntropyCallback(on_alarm="panic")
    with pytest.raises(ValueError, match="every_n_steps"):
        he.EntropyCallback(every_n_steps=0)
    with pytest.raises(ValueError, match="Trainer"):
        he.EntropyCallback().attach(object())

