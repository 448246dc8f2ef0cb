"""The README's command-line examples, run verbatim through the console script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import headentropy as he  # noqa: F401 -- the package under test must import

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent


def readme_cli_lines() -> list[str]:
    """The commands of the ```sh block under '## Command line', comments removed."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = []
    for line in block.splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()  # trailing comment (never inside quotes here)
        if command:
            lines.append(command)
    return lines


def test_readme_command_line_examples_run_verbatim(tmp_path):
    lines = readme_cli_lines()
    assert len(lines) >= 8 and all(line.startswith("headentropy ") for line in lines)
    # The files the examples name, as a user would have them.
    (tmp_path / "texts.jsonl").write_text('{"text": "The cat sat on the mat while the dog slept by the warm fire all evening."}\n'
                                          '{"text": "Paris is the capital of France and Berlin is the capital of Germany."}\n')
    (tmp_path / "prompt.txt").write_text("Attention entropy tells how focused a head is. " * 12)
    from headentropy.hf.models import _package_dir

    shutil.copytree(_package_dir("minilm") / "model", tmp_path / "my-local-model")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TOKENIZERS_PARALLELISM="false")
    for line in lines:
        if line.startswith("headentropy compare"):  # the reports the comparison names
            for name, source in (("before-report", "my-report"), ("after-report", "headentropy-report")):
                if not (tmp_path / name).exists():
                    shutil.copytree(tmp_path / source, tmp_path / name)
        p = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"{line}\n{p.stderr[-2000:]}"
        assert "Traceback" not in p.stderr, line
    for folder in ("headentropy-report", "my-report", "minilm-report", "long-report"):
        data = json.loads((tmp_path / folder / "report.json").read_text())
        assert data["format"] == "headentropy.report/1", folder
    assert json.loads((tmp_path / "my-report" / "report.json").read_text())["settings"]["generate"] == 32
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert profile["data"]["enough"] is True and profile["profile"]["shape"] != "insufficient_data"
