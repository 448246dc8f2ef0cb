"""Corpus runs: streaming shards equal per-text aggregates, a killed run resumes to the same
result, bad records are counted by number, bad corpora are one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

import headentropy as he
from headentropy.analysis.aggregates import EntropyAggregate
from headentropy.corpus import CorpusError, iter_texts, profile_corpus
from headentropy.corpus.runner import SHARD_SIZE, run_options

from ..analysis.test_aggregates import assert_same
from ..cli.helpers import SCRIPT, one_line_error, run_cli

pytestmark = pytest.mark.slow
WORDS = "attention entropy head layer model token focus spread context corpus shard merge".split()


def write_corpus(path: Path, n: int, bad: tuple[int, ...] = ()) -> list[str]:
    g = torch.Generator().manual_seed(n)
    texts = []
    with open(path, "w") as f:
        for i in range(n):
            if i in bad:
                f.write("not json at all\n" if i % 2 else '{"label": 1}\n')
                continue
            length = int(torch.randint(3, 40, (1,), generator=g))
            text = " ".join(WORDS[int(j)] for j in torch.randint(0, len(WORDS), (length,), generator=g))
            texts.append(text)
            f.write(json.dumps({"text": text}) + "\n")
    return texts


def test_shards_and_batches_equal_the_merge_of_single_texts(tmp_path, minilm):
    model, tok = minilm
    texts = write_corpus(tmp_path / "c.jsonl", 23, bad=(4, 11))
    run = profile_corpus(model, tok, tmp_path / "c.jsonl", tmp_path / "out", batch_size=4, shard_size=6, quiet=True)
    assert run.shards == 4 and run.shards_computed == 4 and run.texts == 21
    assert [r for r, _ in run.bad_records] == [5, 12]  # line numbers of the bad records
    single = None
    for text in texts:  # one text per forward, no padding, no shards
        ids = tok(text, return_tensors="pt")
        with torch.inference_mode(), he.monitor(model) as mon:
            model(**ids)
        part = EntropyAggregate.from_trace(mon.trace)
        single = part if single is None else single.merge(part)
    agg = run.aggregate
    torch.testing.assert_close(agg.shannon.count, single.shannon.count, rtol=0, atol=0)
    torch.testing.assert_close(agg.shannon.mean, single.shannon.mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(agg.histogram.sum(-1), single.histogram.sum(-1), rtol=0, atol=0)
    torch.testing.assert_close(agg.position_profile(), single.position_profile(), rtol=1e-5, atol=1e-6, equal_nan=True)
    assert EntropyAggregate.load(tmp_path / "out" / "corpus.safetensors").texts == 21


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    write_corpus(tmp_path / "c.jsonl", 60)
    args = ["profile", "--model", "minilm", "--dataset", str(tmp_path / "c.jsonl"), "--batch-size", "2",
            "--shard-size", "5", "-q"]
    full = run_cli(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr

    out = tmp_path / "killed"
    p = subprocess.Popen([str(SCRIPT), *args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (out / "shards" / "shard-00002.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = sorted((out / "shards").glob("shard-*.safetensors"))
    assert 3 <= len(done) < 12, "the run was not interrupted mid-corpus"
    assert not (out / "corpus.safetensors").exists()
    again = run_cli(*args, "--out", str(out))  # without --resume: refused, nothing overwritten
    assert "--resume" in one_line_error(again)
    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done)} resumed" in resumed.stdout
    assert_same(EntropyAggregate.load(out / "corpus.safetensors"),
                EntropyAggregate.load(tmp_path / "full" / "corpus.safetensors"))
    report = json.loads((out / "report.json").read_text())
    assert report["corpus"]["texts"] == 60 and report["data"]["enough"]


def test_other_sources_and_bad_corpora(tmp_path):
    (tmp_path / "t.csv").write_text('id,body\n1,"first, text"\n2,\n3,third text\n')
    bad = []
    assert list(iter_texts(tmp_path / "t.csv", "body", lambda r, why: bad.append(r))) == [(2, "first, text"), (4, "third text")]
    assert bad == [3]
    with pytest.raises(CorpusError, match="no column 'text' or 'prompt'"):
        list(iter_texts(tmp_path / "t.csv"))
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("second file")
    (folder / "a.txt").write_text("first file")
    assert [t for _, t in iter_texts(folder)] == ["first file", "second file"]
    (tmp_path / "latin1.jsonl").write_bytes('{"text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        list(iter_texts(tmp_path / "latin1.jsonl"))

    (tmp_path / "empty.jsonl").write_text("\n\nnot json\n")
    for dataset, message in ((tmp_path / "empty.jsonl", "no usable record"), (tmp_path / "missing.jsonl", "does not exist"),
                             (tmp_path / "t.csv", "no column")):
        r = run_cli("profile", "--model", "minilm", "--dataset", str(dataset), "--out", str(tmp_path / "o"), "-q")
        assert message in one_line_error(r)


def test_progress_lines_show_tokens_per_second_and_eta(tmp_path, minilm, monkeypatch, capsys):
    from headentropy import progress as he_progress

    model, tok = minilm
    write_corpus(tmp_path / "c.jsonl", 12)
    monkeypatch.setattr(he_progress, "LOG_INTERVAL_S", 0.0)  # a line per shard
    run = profile_corpus(model, tok, tmp_path / "c.jsonl", tmp_path / "out", batch_size=4, shard_size=4)
    lines = capsys.readouterr().err.splitlines()  # stderr is captured: not a TTY, plain lines
    assert len(lines) >= 3 and lines[-1].startswith("texts: 12/12 texts")
    assert all(" tokens/s" in line for line in lines)
    assert "ETA" in lines[0] and "ETA" not in lines[-1]  # nothing left to wait for at the end
    assert run.tokens > 0


def test_ray_driver_options_are_profile_corpus_keywords():
    """profile_corpus_ray takes profile_corpus's keyword arguments as **options: same defaults,
    and a misspelt one is refused before any Ray work."""
    o = run_options({"batch_size": 3, "quiet": True})
    assert (o.batch_size, o.quiet, o.shard_size, o.backend, o.column, o.resume) == (3, True, SHARD_SIZE, "auto", None, False)
    with pytest.raises(TypeError, match="batchsize"):
        run_options({"batchsize": 3})
