"""Issue 13 item 4: under DDP the monitor all-reduces (sum, count) before computing anything, so
the numbers equal one process over the same global batch, and every rank gets them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], out: Path, **extra_env: str) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), OMP_NUM_THREADS="1",
               **extra_env)
    proc = subprocess.run([sys.executable, *args, str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_torchrun_two_ranks_on_gloo_log_what_one_process_logs(tmp_path):
    single, multi, half = tmp_path / "single", tmp_path / "ddp", tmp_path / "half"
    for d in (single, multi, half):
        d.mkdir()
    _run(["tests/training/ddp_worker.py"], single)
    _run(["tests/training/ddp_worker.py"], half, HALF_BATCH="1")
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "tests/training/ddp_worker.py"], multi)

    one = json.loads((single / "rank0.json").read_text())
    r0 = json.loads((multi / "rank0.json").read_text())
    r1 = json.loads((multi / "rank1.json").read_text())
    assert one["world"] == 1 and r0["world"] == r1["world"] == 2
    assert r0["history"] == r1["history"]  # every rank: the same all-reduced numbers (and alarms)
    assert len(one["history"]) == len(r0["history"]) == 3
    for step, (a, b) in enumerate(zip(one["history"], r0["history"])):
        assert set(a) == set(b) and len(a) == 12
        # Step 0: the same weights and the same global batch, so equal up to summation order.
        # Later steps also carry the two runs' (tiny) differences in the averaged gradients.
        tol = 1e-6 if step == 0 else 1e-4
        for key in a:
            assert b[key] == pytest.approx(a[key], abs=tol), (step, key)
    # Control: rank 0's half alone gives other numbers, so the match above needs the all-reduce.
    own = json.loads((half / "rank0.json").read_text())["history"][0]
    assert abs(own["attention_entropy/mean"] - one["history"][0]["attention_entropy/mean"]) > 1e-4
    assert abs(own["attention_entropy/sink_mass"] - one["history"][0]["attention_entropy/sink_mass"]) > 1e-4


@pytest.mark.slow
def test_trainer_callback_under_torchrun_logs_once_on_rank_0(tmp_path):
    from .helpers import read_tensorboard

    single, multi = tmp_path / "single", tmp_path / "ddp"
    for d in (single, multi):
        d.mkdir()
    _run(["tests/training/ddp_trainer_worker.py"], single)
    _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "tests/training/ddp_trainer_worker.py"],
         multi)
    one = json.loads((single / "trainer_rank0.json").read_text())
    r0 = json.loads((multi / "trainer_rank0.json").read_text())
    r1 = json.loads((multi / "trainer_rank1.json").read_text())
    assert len(one) == len(r0) == 1 and r0 == r1  # both ranks computed the same reduced numbers
    for key, value in one[0].items():
        assert r0[0][key] == pytest.approx(value, abs=1e-6), key  # = one process over the global batch
    # Written once: one event file (rank 0's), holding the numbers.
    events = list((multi / "run").rglob("events.out.tfevents.*"))
    assert len(events) == 1
    tb = read_tensorboard(multi / "run")
    assert dict(tb["train/attention_entropy/mean"])[1] == pytest.approx(one[0]["attention_entropy/mean"], abs=1e-6)
