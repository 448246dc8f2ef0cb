"""Issue 13 item 7: `headentropy train-report LOGDIR` on real Trainer runs' TensorBoard event files."""

from __future__ import annotations

import json

import pytest

import headentropy as he

from ..cli.helpers import one_line_error, run_cli
from .helpers import scale_qk, tiny_llama, trainer_for

pytest.importorskip("tensorboard")


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Two real Trainer runs logging to TensorBoard under one folder: a healthy one and an
    induced collapse (q/k ×30), each with its callback's history for comparison."""
    root = tmp_path_factory.mktemp("train-report")
    runs = {}
    for name, model, every in (("healthy", tiny_llama(), 2), ("collapse", scale_qk(tiny_llama(), 30.0), 1)):
        trainer = trainer_for(model, root / "logs" / name, max_steps=4)  # events in logs/<name>/out/runs/<date_host>/
        cb = he.EntropyCallback(every_n_steps=every, backend="torch").attach(trainer)
        trainer.train()
        runs[name] = cb
    return root, runs


def test_train_report_reads_the_event_files_and_writes_the_page(logdir):
    root, callbacks = logdir
    out = root / "report"
    run = run_cli("train-report", str(root / "logs"), "--out", str(out))
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "training.json").read_text())
    assert data["format"] == "headentropy.train-report/1"
    runs = {r["name"].split("/")[0]: r for r in data["runs"]}
    assert all(r["name"].split("/")[1:3] == ["out", "runs"] for r in data["runs"])
    assert set(runs) == {"healthy", "collapse"}
    for name, cb in callbacks.items():
        r = runs[name]
        assert r["prefix"] == "train/" and r["layers"] == ["00", "01", "02"]
        assert r["loss_tag"] == "train/loss" and len(r["loss"]["steps"]) == 4
        history = cb.monitor.history
        mean = r["series"]["attention_entropy/mean"]
        assert mean["steps"] == [step for step, _ in history]
        for key in ("attention_entropy/layer_01", "attention_entropy/min_head", "attention_entropy/collapsed_heads"):
            got = r["series"][key]
            for (step, scalars), value in zip(history, got["values"]):
                assert value == pytest.approx(scalars[key], rel=1e-6, abs=1e-6), (name, key, step)
    assert runs["healthy"]["alarms"]["entropy_collapse"] == {"first": None, "steps": []}
    assert runs["collapse"]["alarms"]["entropy_collapse"] == {"first": 1, "steps": [1, 2, 3, 4]}
    assert runs["collapse"]["alarms"]["entropic_overload"]["first"] is None
    assert runs["collapse"]["last"]["collapsed_heads"] == 1.0

    # The terminal summary names the runs and the alarm's first step.
    assert "entropy_collapse: first at step 1" in run.stdout
    assert "entropy_collapse: never raised" in run.stdout
    assert str((out / "index.html").resolve()) in run.stdout

    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.count('<section class="run"') == 2
    for i in range(2):
        for fid in (f'id="layers-{i}"', f'id="heads-{i}"', f'id="loss-{i}"', f'id="alarms-{i}"'):
            assert fid in html
    assert html.count("<svg") == 6  # three figures per run
    assert "first at step 1" in html  # the alarm line's legend in the collapse run's figures
    ids = [part.split('"', 1)[0] for part in html.split(' id="')[1:]]
    assert len(ids) == len(set(ids))  # SVG ids do not collide across figures


def test_train_report_errors_are_one_line(tmp_path):
    missing = one_line_error(run_cli("train-report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")))
    assert "does not exist" in missing
    (tmp_path / "empty").mkdir()
    empty = one_line_error(run_cli("train-report", str(tmp_path / "empty"), "--out", str(tmp_path / "o")))
    assert "no TensorBoard event files" in empty

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "other"))  # a real event file, but only a loss in it
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.close()
    none = one_line_error(run_cli("train-report", str(tmp_path / "other"), "--out", str(tmp_path / "o")))
    assert "no attention_entropy/... scalars" in none
    assert not (tmp_path / "o").exists()


def test_a_plain_loop_logged_with_summary_writer_reads_back_without_prefix(tmp_path):
    """README's plain loop: `he.TrainingMonitor` scalars written with torch's SummaryWriter, no
    "train/" prefix; the reader finds them and the loss logged beside them."""
    from torch.utils.tensorboard import SummaryWriter

    from headentropy.report.training import read_training_log, training_summary_text, write_training_report

    from .helpers import RandomTokens

    model = tiny_llama().train()
    ids = RandomTokens(4).ids
    writer = SummaryWriter(str(tmp_path / "runs" / "plain"))
    with he.TrainingMonitor(model, every_n_steps=2, backend="torch") as mon:
        for step in range(5):
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            model.zero_grad()
            writer.add_scalar("loss", loss.item(), step)
            for key, value in mon.step(step).items():
                writer.add_scalar(key, value, step)
    writer.close()
    report = read_training_log(tmp_path / "runs")
    [run] = report["runs"]
    assert run["name"] == "plain" and run["prefix"] == "" and run["loss_tag"] == "loss"
    assert run["series"]["attention_entropy/mean"]["steps"] == [0, 2, 4]
    assert run["series"]["attention_entropy/layer_02"]["values"] == pytest.approx(
        [s["attention_entropy/layer_02"] for _, s in mon.history], rel=1e-6)
    assert run["alarms"]["entropy_collapse"]["first"] is None
    html = write_training_report(tmp_path / "out", report)
    assert html.read_text(encoding="utf-8").count("<svg") == 3
    assert "never raised" in training_summary_text(report)
