"""The `headentropy` console script as a user runs it, on the real embedded models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headentropy import EntropyTrace
from headentropy.report import FORMAT

from .helpers import SMOL_GENERATE, XSS, minilm_dataset_report, one_line_error, run_cli, smollm2_report

pytestmark = pytest.mark.slow


# ---- report on SmolLM2 (generation, chat template) -------------------------------------------

def test_report_writes_html_json_and_trace():
    rep = smollm2_report()
    data = rep.data
    assert data["format"] == FORMAT
    assert data["model"] == "SmolLM2-135M-Instruct"
    assert data["settings"]["generate"] == SMOL_GENERATE and data["settings"]["chat_template"] is True
    assert data["profile"]["layers"] == list(range(30))
    assert len(data["heads"]["mean_normalized"]) == 30 and len(data["heads"]["mean_normalized"][0]) == 9
    # The last generated token is returned but never fed back, so N tokens give N-1 decode steps
    # (fewer only if the model stopped on EOS).
    assert 1 <= data["shape"]["generated"] <= SMOL_GENERATE - 1
    trace = EntropyTrace.load(rep.dir / "trace.safetensors")
    assert trace.num_positions == data["shape"]["positions"]
    assert int(trace.generated.sum()) == data["shape"]["generated"]
    assert isinstance(data["findings"], list)
    # The decoded tokens put the user's text back together, markup included.
    assert XSS in "".join(data["sequences"][0]["tokens"])


def test_report_terminal_summary():
    rep = smollm2_report()
    out = rep.run.stdout
    assert "Layer profile" in out
    bars = [line for line in out.splitlines() if line.startswith("  L")]
    assert len(bars) == 30 and bars[0].startswith("  L00") and bars[-1].startswith("  L29")
    assert "█" in bars[0]
    assert f"Report: {(rep.dir / 'index.html').resolve()}" in out
    assert ("Findings (" in out) or ("Findings: none" in out)


def test_report_html_escapes_token_text():
    html = smollm2_report().html
    assert "<script" not in html.lower()  # the page has no script at all; the prompt's is escaped
    # Tokens are separate spans ("<", "script", ">" ...): the angle brackets arrive as entities.
    assert "&lt;" in html and "&gt;" in html and "alert" in html


def test_compare_report_with_its_own_trace():
    rep = smollm2_report()
    run = run_cli("compare", str(rep.dir), str(rep.dir / "trace.safetensors"), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["layers_match"] is True
    # The trace analysed afresh gives the same profile as the saved report.
    assert all(d is not None and abs(d) < 1e-5 for d in result["shannon_normalized_delta"])
    assert result["findings_appeared"] == [] and result["findings_disappeared"] == []


def test_compare_two_models_text_output():
    smol = smollm2_report()
    minilm, _ = minilm_dataset_report()
    run = run_cli("compare", str(smol.dir / "report.json"), str(minilm.dir))
    assert run.returncode == 0, run.stderr
    assert "different layers" in run.stdout
    assert "Per-layer change" in run.stdout
    assert len([line for line in run.stdout.splitlines() if line.startswith("  L")]) == 6  # MiniLM has 6 layers


def test_report_without_arguments_uses_builtin_prompt(tmp_path):
    run = run_cli("report", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    out = tmp_path / "headentropy-report"
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["input"] == "built-in prompt" and report["settings"]["model"] == "smollm2"
    assert report["shape"]["generated"] == 0 and report["shape"]["positions"] > 20
    assert (out / "index.html").exists()
    # A second run may overwrite its own report without --force.
    again = run_cli("report", "--model", "minilm", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((out / "report.json").read_text())["settings"]["model"] == "minilm"


# ---- MiniLM: encoder, dataset, --force ------------------------------------------------------

def test_dataset_skips_bad_lines_by_number():
    rep, data = minilm_dataset_report()
    assert f"{data}:2: skipped" in rep.run.stderr
    assert f"{data}:4: skipped" in rep.run.stderr
    report = rep.data
    assert report["settings"]["texts"] == 2
    assert report["shape"]["batch"] == 2 and report["shape"]["generated"] == 0
    assert report["profile"]["layers"] == list(range(6))
    assert (rep.dir / "notes.txt").exists()  # --force writes next to it, deletes nothing


def test_generate_with_encoder_is_a_clear_error():
    line = one_line_error(run_cli("report", "--model", "minilm", "--generate", "3", "--out", "unused", "--quiet"))
    assert "encoder" in line and "--generate" in line


def test_profile_prints_json_and_backend_flag_reaches_the_kernel():
    run = run_cli("profile", "--model", "minilm", "--prompt", "A short sentence to profile.",
                  "--backend", "torch", "--quiet")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["settings"]["backend"] == "torch"
    assert len(data["profile"]["shannon_normalized"]) == 6
    assert all(0.0 <= v <= 1.0 for v in data["profile"]["shannon_normalized"])
    assert "sequences" not in data


@pytest.mark.parametrize("backend", ["nonsense", "triton"])
def test_unusable_backend_is_refused(monkeypatch, backend):
    # No CUDA here (and no Triton interpreter in this environment): the monitor checks the
    # backend on entry, so a refusal shows the flag reaches the attention backend choice.
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    line = one_line_error(run_cli("profile", "--model", "minilm", "--prompt", "x y z", "--backend", backend, "--quiet"))
    assert f"backend={backend!r}" in line


# ---- bad input, no model run ----------------------------------------------------------------

def test_unknown_model_isone_line_error(tmp_path):
    line = one_line_error(run_cli("report", "--model", "no-such-model", "--out", str(tmp_path / "o")))
    assert "no-such-model" in line
    line = one_line_error(run_cli("report", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")))
    assert "missing" in line


def test_engine_vllm_without_vllm_is_a_one_line_error(tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here: tests/vllm/test_serving.py runs the vLLM report")
    out = tmp_path / "o"
    line = one_line_error(run_cli("report", "--engine", "vllm", "--generate", "4", "--out", str(out), "--quiet"))
    assert "--engine vllm needs vLLM" in line and "headentropy[vllm]" in line
    assert not out.exists()  # refused before any work


def test_local_folder_that_is_not_a_model(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello")
    line = one_line_error(run_cli("report", "--model", str(folder), "--out", str(tmp_path / "o"), "--quiet"))
    assert "cannot load model" in line


@pytest.mark.parametrize("args, words", [
    (["--prompt", "   "], "--prompt is empty"),
    (["--prompt", "a", "--dataset", "x.jsonl"], "only one of"),
    (["--prompt-file", "/nonexistent/prompt.txt"], "cannot read --prompt-file"),
])
def test_bad_prompt_arguments(tmp_path, args, words):
    line = one_line_error(run_cli("report", *args, "--out", str(tmp_path / "o")))
    assert words in line


@pytest.mark.parametrize("device, words", [("potato", "not a torch device"), ("cuda:0", "no CUDA device")])
def test_bad_device(tmp_path, device, words):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: cuda:0 is a valid device here")
    line = one_line_error(run_cli("report", "--model", "minilm", "--device", device, "--out", str(tmp_path / "o")))
    assert words in line


def test_empty_prompt_file(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("\n  \n")
    assert "is empty" in one_line_error(run_cli("report", "--prompt-file", str(f), "--out", str(tmp_path / "o")))


def test_dataset_without_usable_lines(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text("nope\n{\"text\": \"\"}\n")
    run = run_cli("report", "--dataset", str(f), "--out", str(tmp_path / "o"))
    assert "no usable line" in one_line_error(run)
    assert f"{f}:1: skipped" in run.stderr and f"{f}:2: skipped" in run.stderr


def test_out_with_foreign_files_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    line = one_line_error(run_cli("report", "--out", str(out)))
    assert "--force" in line
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_compare_rejects_non_reports(tmp_path):
    bogus = tmp_path / "r.json"
    bogus.write_text('{"hello": 1}')
    assert "not a headentropy report" in one_line_error(run_cli("compare", str(bogus), str(bogus)))
    assert "does not exist" in one_line_error(run_cli("compare", str(tmp_path / "a"), str(bogus)))


def test_backends_lists_availability():
    run = run_cli("backends")
    assert run.returncode == 0
    names = [line.split()[0] for line in run.stdout.splitlines() if line and not line.startswith("auto")]
    assert {"torch", "reference", "cpu"} <= set(names)
    assert "auto: cpu -> " in run.stdout


def test_dataset_with_generation_on_smollm2(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "Name a colour."}\n{"prompt": "Name a planet of the solar system, please."}\n')
    out = tmp_path / "r"
    run = run_cli("report", "--dataset", str(data), "--generate", "3", "--out", str(out), "--quiet")
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["shape"]["batch"] == 2
    seqs = report["sequences"]
    # Different prompt lengths: each sequence shows its own tokens, padding is not shown.
    assert len(seqs[0]["tokens"]) < len(seqs[1]["tokens"])
    assert all(1 <= sum(s["generated"]) <= 2 for s in seqs)
    assert all(s["generated"][-1] for s in seqs)  # generated tokens come last in each row
    trace = EntropyTrace.load(out / "trace.safetensors")
    assert trace.batch == 2 and int(trace.valid[0].sum()) == len(seqs[0]["tokens"])
