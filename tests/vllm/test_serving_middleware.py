"""`headentropy.vllm.serving.EntropyMiddleware` against a fake app and engine (no vLLM needed).

The real server is tested in test_serving.py (vLLM environment); here the cases a live server
rarely shows: statistics missing, the RPC failing, events split across body messages, error
answers passed through byte for byte, a model without a scorer.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
import torch

import headentropy as he
from headentropy.trace import EntropyTrace
from headentropy.vllm import serving
from headentropy.vllm.summary import request_summary, token_entropy

L, H, P, G = 30, 9, 5, 4  # SmolLM2's shape: the shipped scorer applies
SMOL_PATH = "/cache/smollm2-SmolLM2-135M-Instruct.Q4_1-1-v1"


def _trace(seed: int) -> EntropyTrace:
    g = torch.Generator().manual_seed(seed)
    N = P + G - 1
    n_keys = torch.arange(1, N + 1, dtype=torch.int32).expand(1, L, N).clone()
    h = torch.rand(1, L, H, N, generator=g) * torch.log(n_keys[:, :, None, :].float())
    return EntropyTrace(shannon=h, renyi2=h * 0.8, sink_mass=torch.rand(1, L, H, N, generator=g),
                        valid=torch.ones(1, N, dtype=torch.bool),
                        generated=(torch.arange(N) >= P)[None], token_ids=torch.arange(N)[None] + 10,
                        n_keys=n_keys, layers=list(range(L)), model_name="SmolLM2-135M-Instruct")


class FakeEngine:
    def __init__(self, traces: dict, model: str = SMOL_PATH, fail: bool = False):
        self.traces, self.fail, self.asked, self.dropped = traces, fail, [], []
        self.model_config = SimpleNamespace(model=model, served_model_name=model)

    def generate(self, prompt, sampling_params, request_id, **kwargs):
        return None

    async def collective_rpc(self, method, timeout=None, args=(), kwargs=None):
        if method == serving.DROP_RPC:
            self.dropped.extend(args[0])
            return [len(args[0])]
        assert method == serving.RPC
        self.asked.append(list(args[0]))
        if self.fail == "no-extension":
            raise RuntimeError(f"Worker failed with error ''CPUWorker' object has no attribute '{method}''")
        if self.fail:
            raise RuntimeError("engine went away")
        return [{"requests": {r: request_summary(self.traces[r]) for r in args[0] if r in self.traces}}]


def _app(engine, body: bytes, *, status=200, ctype=b"application/json", calls=(("cmpl-1", 1),), chunks=None):
    """An ASGI app that makes `calls` engine.generate calls, then answers `body` (in `chunks` pieces)."""

    async def app(scope, receive, send):
        for rid, n in calls:
            engine.generate("prompt", SimpleNamespace(n=n), rid)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
        pieces = chunks or [body]
        for i, piece in enumerate(pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": i < len(pieces) - 1})

    return app


def _serve(engine, app, path="/v1/completions", method="POST"):
    sent = []
    wrapped = serving.EntropyMiddleware(app)
    scope = {"type": "http", "method": method, "path": path, "app": SimpleNamespace(state=SimpleNamespace(engine_client=engine))}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def main():
        await wrapped(scope, receive, send)
        for _ in range(3):  # let the background drop run
            await asyncio.sleep(0)

    asyncio.run(main())
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start, body


@pytest.fixture(autouse=True)
def fresh_scorer_cache(monkeypatch):
    monkeypatch.setattr(serving, "_scorer_cache", {})
    monkeypatch.delenv("HEADENTROPY_SCORER", raising=False)


def test_json_choices_get_entropy_and_confidence_for_child_requests():
    traces = {"0_cmpl-1": _trace(0), "1_cmpl-1": _trace(1)}
    engine = FakeEngine(traces)
    body = json.dumps({"id": "cmpl-1", "choices": [{"index": 1, "text": "b"}, {"index": 0, "text": "a"}]}).encode()
    start, out = _serve(engine, _app(engine, body, calls=[("cmpl-1", 2)]))
    assert dict(start["headers"])[b"content-length"] == str(len(out)).encode()
    data = json.loads(out)
    scorer = he.ConfidenceScorer.load("smollm2")
    for choice in data["choices"]:
        t = traces[f"{choice['index']}_cmpl-1"]
        field = choice["headentropy"]
        assert field["entropy"] == pytest.approx(token_entropy(t)) and len(field["entropy"]) == G
        assert all(0 <= v <= 1 for v in field["entropy"])
        assert field["confidence"] == pytest.approx(float(scorer.score(t)[0]), abs=1e-12)
        assert field["scorer"] == "smollm2" and field["reason"] is None
    assert engine.asked == [["0_cmpl-1", "1_cmpl-1"]]  # one RPC for the whole answer
    assert engine.dropped == []  # everything was fetched (and popped)


def test_several_prompts_map_to_choice_indices():
    assert serving.engine_ids([("cmpl-1-0", 2), ("cmpl-1-1", 2)]) == ["0_cmpl-1-0", "1_cmpl-1-0", "0_cmpl-1-1", "1_cmpl-1-1"]
    assert serving.engine_ids([("chatcmpl-9", 1)]) == ["chatcmpl-9"]


@pytest.mark.parametrize("fail", [False, True])
def test_missing_statistics_or_a_failed_rpc_keep_the_answer(fail):
    engine = FakeEngine({}, fail=fail)
    answer = {"id": "cmpl-1", "choices": [{"index": 0, "text": "a"}], "usage": {"completion_tokens": 1}}
    start, out = _serve(engine, _app(engine, json.dumps(answer).encode()))
    assert start["status"] == 200
    data = json.loads(out)
    field = data["choices"][0].pop("headentropy")
    assert data == answer
    assert field["entropy"] is None and field["confidence"] is None
    assert ("did not return statistics" if fail else "no statistics were recorded") in field["reason"]


def test_an_engine_without_the_worker_extension_is_asked_once():
    engine = FakeEngine({}, fail="no-extension")
    for _ in range(3):
        _, out = _serve(engine, _app(engine, json.dumps({"choices": [{"index": 0}]}).encode()))
        field = json.loads(out)["choices"][0]["headentropy"]
        assert field["entropy"] is None and "--worker-extension-cls" in field["reason"]
    assert len(engine.asked) == 1 and engine.dropped == []


def test_error_answers_pass_through_unchanged():
    engine = FakeEngine({"cmpl-1": _trace(0)})
    body = b'{"error": {"message": "max_tokens must be at least 1", "code": 400}}'
    start, out = _serve(engine, _app(engine, body, status=400))
    assert start["status"] == 400 and out == body and engine.asked == []
    assert engine.dropped == ["cmpl-1"]  # nobody fetches them: dropped in the engine


def test_beam_search_gets_null_fields_and_its_requests_are_dropped():
    engine = FakeEngine({"cmpl-1-abc-beam-0": _trace(0)})
    calls = [("cmpl-1-abc-beam-0", 1), ("cmpl-1-abc-beam-1", 1)]
    _, out = _serve(engine, _app(engine, json.dumps({"choices": [{"index": 0}]}).encode(), calls=calls))
    field = json.loads(out)["choices"][0]["headentropy"]
    assert field["entropy"] is None and "beam search" in field["reason"]
    assert engine.asked == [] and engine.dropped == ["cmpl-1-abc-beam-0", "cmpl-1-abc-beam-1"]


def test_other_routes_pass_through():
    engine = FakeEngine({"cmpl-1": _trace(0)})
    body = json.dumps({"choices": [{"index": 0}]}).encode()
    for path, method in (("/v1/models", "POST"), ("/v1/completions", "GET")):
        _, out = _serve(engine, _app(engine, body), path=path, method=method)
        assert out == body
    assert engine.asked == []


def test_stream_final_chunk_gets_the_field_even_when_events_are_split():
    engine = FakeEngine({"chatcmpl-7": _trace(3)})
    events = [{"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {"content": "y"}, "finish_reason": "stop"}]},
              {"choices": [], "usage": {"completion_tokens": G}}]
    stream = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    chunks = [stream[i:i + 37] for i in range(0, len(stream), 37)]  # boundaries inside events
    start, out = _serve(engine, _app(engine, stream, ctype=b"text/event-stream; charset=utf-8",
                                     calls=[("chatcmpl-7", 1)], chunks=chunks), path="/v1/chat/completions")
    got = [e for e in out.decode().split("\n\n") if e]
    assert got[-1] == "data: [DONE]" and len(got) == 4
    parsed = [json.loads(e[6:]) for e in got[:-1]]
    assert parsed[0] == events[0] and parsed[2] == events[2]
    field = parsed[1]["choices"][0].pop("headentropy")
    assert parsed[1] == events[1]
    assert len(field["entropy"]) == G and field["confidence"] is not None


def test_a_model_without_scorer_gets_null_confidence_with_a_reason():
    engine = FakeEngine({"cmpl-1": _trace(0)}, model="/models/Llama-3-8B")
    _, out = _serve(engine, _app(engine, json.dumps({"choices": [{"index": 0}]}).encode()))
    field = json.loads(out)["choices"][0]["headentropy"]
    assert len(field["entropy"]) == G and field["confidence"] is None
    assert "no confidence scorer for the served model /models/Llama-3-8B" in field["reason"]


def test_scorer_named_by_environment(monkeypatch):
    monkeypatch.setenv("HEADENTROPY_SCORER", "smollm2")
    engine = FakeEngine({"cmpl-1": _trace(0)}, model="/models/my-finetune")
    _, out = _serve(engine, _app(engine, json.dumps({"choices": [{"index": 0}]}).encode()))
    assert json.loads(out)["choices"][0]["headentropy"]["scorer"] == "smollm2"


def test_offline_summarize_gives_the_servers_field():
    import headentropy.vllm as hv

    traces = {"req-1": _trace(4)}

    class FakeLLM:
        llm_engine = SimpleNamespace(model_config=SimpleNamespace(model=SMOL_PATH, served_model_name=None))

        def collective_rpc(self, method, args=()):
            assert method == serving.RPC
            return [{"requests": {r: request_summary(traces[r]) for r in args[0] if r in traces}}]

    out = hv.summarize(FakeLLM(), [SimpleNamespace(request_id="req-1"), "req-2"])
    scorer = he.ConfidenceScorer.load("smollm2")
    assert out["req-1"]["entropy"] == pytest.approx(token_entropy(traces["req-1"]))
    assert out["req-1"]["confidence"] == pytest.approx(float(scorer.score(traces["req-1"])[0]), abs=1e-12)
    assert out["req-2"]["entropy"] is None and out["req-2"]["reason"]
