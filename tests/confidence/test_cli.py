"""`headentropy calibrate | evaluate | generate` through the console script, on SmolLM2."""

from __future__ import annotations

import json

from tests.cli.helpers import one_line_error, run_cli


def test_calibrate_then_evaluate(question_file, tmp_path):
    out = tmp_path / "scorer"
    run = run_cli("calibrate", "--data", str(question_file), "--out", str(out), "--max-new-tokens", "16", "-q")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "answered 12 questions" in run.stdout and "scorer written to" in run.stdout
    meta = json.loads((out / "scorer.json").read_text())
    assert meta["info"]["rows"] == 12 and meta["info"]["model"] == "smollm2"
    ev = tmp_path / "eval"
    run = run_cli("evaluate", "--scorer", str(out), "--generations", str(out / "generations"), "--out", str(ev))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| scorer |" in run.stdout and "baseline: mean_logprob" in run.stdout and "AUROC" in run.stdout
    assert (ev / "risk_coverage.png").stat().st_size > 1000 and (ev / "evaluation.md").exists()


def test_generate_with_gate(tmp_path):
    run = run_cli("generate", "--prompt", "Who wrote the novel Moby-Dick?", "--gate", "abstain", "--threshold", "1",
                  "--max-new-tokens", "12", "-q")
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "I am not sure."
    assert lines[1].startswith("confidence: ") and "gate (abstain): abstained" in run.stdout
    assert "first answer:" in run.stdout


def test_user_errors_are_one_line(tmp_path, question_file):
    assert "needs --data" in one_line_error(run_cli("calibrate", "--out", str(tmp_path / "s")))
    assert "not a headentropy confidence scorer" in one_line_error(
        run_cli("evaluate", "--scorer", str(tmp_path), "--data", str(question_file)))
    assert "--docs" in one_line_error(run_cli("generate", "--prompt", "hi", "--gate", "retrieve"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q?"}\nnot json\n')
    assert "bad.jsonl:2" in one_line_error(run_cli("calibrate", "--data", str(bad), "--out", str(tmp_path / "s")))
    assert "--held-out 'nope'" in one_line_error(
        run_cli("calibrate", "--data", str(question_file), "--out", str(tmp_path / "s"), "--held-out", "nope"))
