"""benchmarks/harness.py: the one timing loop, ratios and the fresh-process child every script uses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
harness = pytest.importorskip("harness")


def test_interleaved_warms_up_then_runs_every_candidate_once_per_round():
    calls = []
    candidates = {name: (lambda x, name=name: calls.append((name, x))) for name in ("a", "b", "c")}
    times = harness.interleaved(candidates, 3, prepare=lambda name, r: (r,))
    # warm-up (round -1) first, then the candidates in the same order every round
    assert calls == [("a", -1), ("b", -1), ("c", -1)] + [(n, r) for r in range(3) for n in "abc"]
    assert {n: len(ts) for n, ts in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0.0 for ts in times.values() for t in ts)


def test_interleaved_rotates_records_what_measure_returns_and_reports_rounds():
    order, seen = [], []
    candidates = {name: (lambda name=name: order.append(name) or f"{name}{len(order)}") for name in ("a", "b", "c")}
    got = harness.interleaved(candidates, 3, measure=harness.self_measured, warmup=False, rotate=True,
                              after_round=lambda r, results: seen.append((r, len(results["a"]))))
    assert order == list("abc" "bca" "cab")  # round r starts at candidate r mod 3
    assert got == {"a": ["a1", "a6", "a8"], "b": ["b2", "b4", "b9"], "c": ["c3", "c5", "c7"]}
    assert seen == [(0, 1), (1, 2), (2, 3)]


def test_medians_and_side_by_side_ratios():
    med = harness.medians({"sdpa": [2.0, 9.0, 1.0], "ours": [3.0, 1.0, 2.0]})
    assert med == {"sdpa": 2.0, "ours": 2.0}
    assert harness.ratios({"sdpa": 2.0, "ours": 3.0}, "sdpa") == {"sdpa": 1.0, "ours": 1.5}


def test_run_child_returns_the_childs_last_json_line(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(harness.__file__).parent)!r})\n"
        "from harness import child_result\n"
        "print('noise before the answer')\n"
        "child_result({'args': sys.argv[1:], 'env': os.environ.get('HARNESS_TEST')})\n"
    )
    assert harness.run_child(script, ["--child", "x"], env={"HARNESS_TEST": "1"}) == {
        "args": ["--child", "x"], "env": "1"}


def test_gpu_model_script_runs_its_checks_and_rows_on_cpu():
    """bench_gpu_model.py only meets a GPU in rare lent sessions: its CPU dry run (tiny shapes, the
    same checks and rows) keeps the script working in between. Its numbers mean nothing."""
    import subprocess

    script = Path(harness.__file__).parent / "bench_gpu_model.py"
    proc = subprocess.run([sys.executable, str(script), "--cpu-dry-run"], capture_output=True, text=True,
                          timeout=300, cwd=script.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "layer calls on `cpu`" in proc.stdout and "every gradient finite" in proc.stdout
    for row in ("| forward, 1 × 64 |", "| training step, 1 × 64", "| decode, batch 8"):
        assert row in proc.stdout, proc.stdout
