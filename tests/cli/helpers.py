"""Running the installed `headentropy` console script, and the reports the tests share.

The SmolLM2 report is made once per test process (functools.cache) and used by tests/cli and
tests/report alike: a real model run costs ~30 s on this machine.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# The console script next to the interpreter running the tests (the venv's bin/).
SCRIPT = Path(sys.executable).parent / "headentropy"
XSS = "<script>alert(1)</script>"
SMOL_PROMPT = f"Say hello to {XSS} & friends."
SMOL_GENERATE = 4


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, timeout: float = 240, cwd: Path | None = None) -> Run:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: install the project (make install) so the console script exists")
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    p = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return Run(p.returncode, p.stdout, p.stderr)


def one_line_error(run: Run) -> str:
    """A user error: exit 2, one `headentropy: error:` line, no traceback. Returns the line."""
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("headentropy: error:")]
    assert len(errors) == 1, run.stderr
    return errors[0]


@dataclass
class Report:
    dir: Path
    run: Run

    @property
    def data(self) -> dict:
        return json.loads((self.dir / "report.json").read_text())

    @property
    def html(self) -> str:
        return (self.dir / "index.html").read_text(encoding="utf-8")


@functools.cache
def smollm2_report() -> Report:
    out = Path(tempfile.mkdtemp(prefix="he-cli-smol-")) / "report"
    run = run_cli("report", "--model", "smollm2", "--prompt", SMOL_PROMPT, "--generate", str(SMOL_GENERATE),
                  "--out", str(out), "--quiet")
    assert run.returncode == 0, f"headentropy report failed:\n{run.stderr[-3000:]}"
    return Report(out, run)


@functools.cache
def minilm_dataset_report() -> tuple[Report, Path]:
    """MiniLM on a 3-line dataset whose line 2 is broken, written with --force into a folder
    that already holds a foreign file."""
    root = Path(tempfile.mkdtemp(prefix="he-cli-minilm-"))
    data = root / "data.jsonl"
    data.write_text('{"text": "The cat sat on the mat."}\n'
                    'this is not json\n'
                    '{"prompt": "Paris is the capital of France."}\n'
                    '{"label": 3}\n')
    out = root / "out"
    out.mkdir()
    (out / "notes.txt").write_text("someone's file")
    run = run_cli("report", "--model", "minilm", "--dataset", str(data), "--out", str(out), "--force", "--quiet")
    assert run.returncode == 0, f"headentropy report (minilm) failed:\n{run.stderr[-3000:]}"
    return Report(out, run), data
