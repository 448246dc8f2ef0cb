"""Issue 16: what a new user runs first — short and over-long inputs, bad --out, atomic reports,
no diagnosis without data, closed pipes, broken files. Real models, the real console script."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import headentropy as he
from headentropy import files as he_files
from headentropy.analysis import data_sufficiency, diagnose, head_stats, layer_profile
from headentropy.analysis import thresholds as T
from headentropy.report import build_report, write_report
from headentropy.report.html import render_html

from ..hf.conftest import make_tiny, padded_batch
from .helpers import SCRIPT, one_line_error, run_cli, smollm2_report

pytestmark = pytest.mark.slow


# ---- 1. inputs under MIN_KEYS + MIN_POSITIONS tokens -----------------------------------------

@pytest.mark.parametrize("model,prompt", [("smollm2", "Who wrote Dune?"), ("minilm", "Hi there")])
def test_short_input_gives_a_report_with_na_and_says_why(tmp_path, model, prompt):
    out = tmp_path / "r"
    run = run_cli("report", "--model", model, "--prompt", prompt, "--out", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "Not analysed: not enough tokens to analyse" in run.stdout
    assert "n/a" in run.stdout and "Findings: none (not enough tokens" in run.stdout
    data = json.loads((out / "report.json").read_text())
    assert data["data"]["enough"] is False and data["data"]["required"] == T.MIN_POSITIONS
    assert data["findings"] == []
    assert data["profile"]["shape"] == "insufficient_data"
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "not enough tokens to analyse" in html and "<svg" not in html  # charts replaced by the sentence


# ---- 2. longer than the model's positions -----------------------------------------------------

def test_input_beyond_the_models_positions_is_refused_or_truncated(tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("word " * 900)
    run = run_cli("report", "--model", "minilm", "--prompt-file", str(long), "--out", str(tmp_path / "a"), "-q")
    line = one_line_error(run)
    assert "512" in line and "--max-length" in line
    assert not (tmp_path / "a").exists()  # nothing written

    run = run_cli("report", "--model", "minilm", "--prompt-file", str(long), "--max-length", "64",
                  "--out", str(tmp_path / "b"), "-q")
    assert run.returncode == 0, run.stderr
    assert "keeping the first 64" in run.stderr
    assert json.loads((tmp_path / "b" / "report.json").read_text())["shape"]["positions"] == 64


def test_generate_beyond_the_context_is_refused_before_generating(tmp_path):
    run = run_cli("report", "--prompt", "Hello there, how are you?", "--generate", "1000000",
                  "--out", str(tmp_path / "r"), "-q")
    line = one_line_error(run)
    assert "8192" in line and "positions" in line


# ---- 3. --out checked before the model loads ---------------------------------------------------

@pytest.mark.parametrize("bad", ["/proc/headentropy-nope", "afile.txt/sub"])
def test_unwritable_out_is_one_line_before_the_model_loads(tmp_path, bad):
    (tmp_path / "afile.txt").write_text("x")
    # An unknown model would fail at load time: the --out error coming first proves the order.
    run = run_cli("report", "--model", "no-such-model-anywhere/xyz", "--out", bad, "-q", cwd=tmp_path)
    line = one_line_error(run)
    assert "--out" in line and "model" not in line.split("--out")[0]


def test_writability_probe_leaves_nothing_behind(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    he_files.check_writable_folder(target)
    assert not (tmp_path / "a").exists()


# ---- 4. atomic report writing ------------------------------------------------------------------

def test_a_full_disk_mid_write_leaves_the_previous_report_complete(tmp_path, monkeypatch):
    rep = smollm2_report()
    out = tmp_path / "report"
    shutil.copytree(rep.dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    trace = he.EntropyTrace.load(out / "trace.safetensors")
    report = build_report(trace, None, settings={"again": True})

    real_write, budget = os.write, {"bytes": 20_000}

    def write_until_full(fd, data):  # the disk fills up after 20 kB, in the middle of a file
        if budget["bytes"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data[: budget["bytes"]]))
        budget["bytes"] -= n
        return n

    monkeypatch.setattr(he_files.os, "write", write_until_full)
    with pytest.raises(OSError) as e:
        write_report(out, report, trace)
    assert e.value.errno == errno.ENOSPC
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # same files, same bytes, no temporaries left


def test_report_files_are_world_readable_like_other_files(tmp_path):
    rep = smollm2_report()
    trace = he.EntropyTrace.load(rep.dir / "trace.safetensors")
    old = os.umask(0o022)
    try:
        write_report(tmp_path / "r", build_report(trace, None), trace)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "r").iterdir()}
    assert modes == {"index.html": 0o644, "report.json": 0o644, "trace.safetensors": 0o644}


# ---- 5/6. no diagnosis and no ranking without data ---------------------------------------------

def _short_trace(tokens: int) -> he.EntropyTrace:
    model, tok = he.load_model("minilm")
    ids = tok("word " * tokens, return_tensors="pt", add_special_tokens=False)["input_ids"][:, :tokens]
    with he.monitor(model) as mon, torch.inference_mode():
        model(input_ids=ids)
    return mon.trace


def test_diagnose_is_silent_and_analyses_are_na_on_a_one_token_trace():
    trace = _short_trace(1)
    assert diagnose(trace) == []
    assert not data_sufficiency(trace).enough
    assert "not enough tokens" in data_sufficiency(trace).reason
    profile = layer_profile(trace)
    assert profile.shape == "insufficient_data" and torch.isnan(profile.shannon_normalized).all()
    heads = head_stats(trace)
    assert heads.pruning_candidates == [] and torch.isnan(heads.mean_sink_mass).all()


def _causal_trace(tokens: int) -> he.EntropyTrace:
    model = make_tiny("llama")
    ids, _ = padded_batch([tokens], tokens)
    with he.monitor(model) as mon, torch.inference_mode():
        model(input_ids=ids)
    return mon.trace


def test_just_enough_tokens_are_analysed():
    # Causal: position i sees i + 1 keys, so MIN_KEYS + MIN_POSITIONS - 1 tokens give exactly
    # MIN_POSITIONS usable positions.
    trace = _causal_trace(T.MIN_KEYS + T.MIN_POSITIONS - 1)
    data = data_sufficiency(trace)
    assert data.enough and data.usable_positions == T.MIN_POSITIONS
    assert layer_profile(trace).shape != "insufficient_data"
    assert len(head_stats(trace).pruning_candidates) > 0
    fewer = _causal_trace(T.MIN_KEYS + T.MIN_POSITIONS - 2)
    assert not data_sufficiency(fewer).enough and diagnose(fewer) == []
    # An encoder's positions all see every key: MIN_POSITIONS tokens are enough there.
    assert data_sufficiency(_short_trace(T.MIN_POSITIONS)).enough
    assert not data_sufficiency(_short_trace(T.MIN_POSITIONS - 1)).enough


def test_profile_json_is_consistent_on_a_short_text():
    run = run_cli("profile", "--model", "minilm", "--prompt", "A short text.", "-q")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["profile"]["shape"] == "insufficient_data"
    assert all(v is None for v in data["profile"]["shannon_normalized"])
    assert all(v is None for v in data["heads"]["inter_head_variance"])
    assert data["heads"]["pruning_candidates"] == [] and data["findings"] == []


# ---- 7. compare: closed pipe, incomplete report -----------------------------------------------

def test_compare_into_a_closed_pipe_exits_quietly():
    rep = smollm2_report()
    env = dict(os.environ, PYTHONUNBUFFERED="0")
    p = subprocess.Popen([str(SCRIPT), "compare", str(rep.dir), str(rep.dir)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdout.close()  # the reader is gone before anything is written (as `| head` after it exits)
    _, err = p.communicate(timeout=120)
    assert "Traceback" not in err.decode() and "BrokenPipe" not in err.decode()
    assert p.returncode == 0


def test_compare_an_incomplete_report_says_so(tmp_path):
    data = smollm2_report().data
    del data["findings"]
    (tmp_path / "report.json").write_text(json.dumps(data))
    line = one_line_error(run_cli("compare", str(tmp_path), str(smollm2_report().dir)))
    assert "not a complete report" in line and "findings" in line


# ---- 8. broken trace files ---------------------------------------------------------------------

def test_loading_a_truncated_trace_or_a_folder_is_a_value_error(tmp_path):
    good = (smollm2_report().dir / "trace.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good[: len(good) // 2])
    for path in (cut, tmp_path):
        with pytest.raises(ValueError, match=r"not a \(complete\) headentropy trace"):
            he.EntropyTrace.load(path)
    line = one_line_error(run_cli("compare", str(cut), str(cut)))
    assert "not a (complete) headentropy trace" in line


# ---- 9. meta tensors ---------------------------------------------------------------------------

def test_meta_tensors_get_the_same_value_error_from_auto_and_forced_backends():
    q = torch.empty(1, 2, 4, 8, device="meta")
    for backend in ("auto", "torch", "cpu"):
        with pytest.raises(he.BackendUnavailable, match="meta"):
            he.attention(q, q, q, backend=backend)


# ---- 11/13. generated count explained, spikes named -------------------------------------------

def test_summary_explains_the_unmeasured_last_token():
    out = smollm2_report().run.stdout
    assert "the last token produced is never fed back" in out


def test_html_marks_spike_tokens_and_explains_grey_tokens():
    rep = smollm2_report()
    trace = he.EntropyTrace.load(rep.dir / "trace.safetensors")
    report = build_report(trace, None)
    seq = report["sequences"][0]
    seq["spike"] = [False] * len(seq["tokens"])
    seq["spike"][-1] = True
    html = render_html(report)
    assert html.count('class="tok gen spike') + html.count('class="tok spike') == 1
    assert f"fewer than {T.MIN_KEYS} keys" in html


# ---- 12. progress and -q -----------------------------------------------------------------------

def test_quiet_silences_transformers_loading_bar():
    assert "Loading weights" not in smollm2_report().run.stderr  # made with --quiet


def test_progress_in_a_log_is_plain_lines(monkeypatch, capsys):
    from headentropy import progress as he_progress

    monkeypatch.setattr(he_progress, "LOG_INTERVAL_S", 0.0)  # a line per update
    with he_progress.progress(3, "layers", unit="layers") as bar:  # stderr is captured: not a TTY
        for _ in range(3):
            bar.update(1)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1].startswith("layers: 3/3 layers")


# ---- 16. hub ids --------------------------------------------------------------------------------

def _hub_env(tmp_path: Path) -> dict:
    return dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")


def test_hub_id_from_the_local_cache_is_accepted(tmp_path):
    from headentropy.hf.models import _package_dir

    repo = tmp_path / "hub" / "models--someone--tiny-minilm"
    shutil.copytree(_package_dir("minilm") / "model", repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    p = subprocess.run([str(SCRIPT), "profile", "--model", "someone/tiny-minilm", "--prompt",
                        "A hub id read from the local Hugging Face cache, with no network at all.", "-q"],
                       capture_output=True, text=True, env=_hub_env(tmp_path), timeout=240)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["shape"]["layers"] == 6


def test_hub_id_not_in_the_cache_is_one_line(tmp_path):
    p = subprocess.run([str(SCRIPT), "report", "--model", "someone/not-cached-anywhere", "--out",
                        str(tmp_path / "r"), "-q"], capture_output=True, text=True, env=_hub_env(tmp_path), timeout=240)
    line = one_line_error(p)
    assert "someone/not-cached-anywhere" in line and "local Hugging Face cache" in line
