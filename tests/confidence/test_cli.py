"""`headentropy calibrate | evaluate | generate` through the console script, on SmolLM2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import one_line_error, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_block() -> list[str]:
    text = README.read_text(encoding="utf-8").split("## Confidence and gates", 1)[1]
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def test_readme_confidence_commands_run_verbatim(question_file, tmp_path):
    """The README's confidence commands, verbatim, with the files they name made as a user would."""
    lines = _readme_block()
    assert len(lines) == 4 and all(line.startswith("headentropy ") for line in lines)
    rows = [json.loads(line) for line in question_file.read_text().splitlines()]
    numbers = [{"id": "n1", "domain": "numbers", "question": "How many legs does a spider have?", "answers": ["8", "eight"]},
               {"id": "n2", "domain": "numbers", "question": "In what year did World War II end?", "answers": ["1945"]}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows + numbers))
    (tmp_path / "other-qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::2] + numbers))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "dune.txt").write_text("Dune is a 1965 science fiction novel by the American author Frank Herbert.")
    (tmp_path / "notes" / "force.md").write_text("The newton is the SI unit of force.")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               TOKENIZERS_PARALLELISM="false")
    outputs = []
    for line in lines:
        p = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0 and "Traceback" not in p.stderr, f"{line}\n{p.stderr[-2000:]}"
        outputs.append(p.stdout)
    assert "confidence: " in outputs[0] and "gate (abstain): " in outputs[0]
    assert "gate (retrieve): " in outputs[1]
    assert "answered 14 questions" in outputs[2] and "scorer written to" in outputs[2]
    meta = json.loads((tmp_path / "my-scorer" / "scorer.json").read_text())
    assert meta["info"]["held_out_domain"] == "numbers" and "numbers" not in meta["info"]["groups"]
    assert meta["info"]["rows"] == 12  # the two numbers questions were left out of the fit
    assert "| scorer |" in outputs[3] and "baseline: mean_logprob" in outputs[3]
    assert (tmp_path / "eval" / "risk_coverage.png").stat().st_size > 1000
    # the answers saved by calibrate can be evaluated again without the model
    run = run_cli("evaluate", "--scorer", str(tmp_path / "my-scorer"), "--generations", str(tmp_path / "my-scorer" / "generations"))
    assert run.returncode == 0 and "### given scorer" in run.stdout, run.stderr[-2000:]


def test_generate_with_gate(tmp_path):
    run = run_cli("generate", "--prompt", "Who wrote the novel Moby-Dick?", "--gate", "abstain", "--threshold", "1",
                  "--max-new-tokens", "12", "--out", str(tmp_path / "r"), "-q")
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["confidence"]["gate"][0]["action"] == "abstained" and report["confidence"]["threshold"] == 1.0
    assert len(report["confidence"]["per_token"][0]) >= 1
    html = (tmp_path / "r" / "index.html").read_text()
    assert 'id="confidence-table"' in html and "abstained" in html
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
