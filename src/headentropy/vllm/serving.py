"""The OpenAI-compatible server: a `headentropy` field on every choice (issue 17).

    vllm serve MODEL --attention-backend CUSTOM \\
        --worker-extension-cls headentropy.vllm.worker.EntropyWorkerExtension \\
        --middleware headentropy.vllm.serving.EntropyMiddleware

(`hv.serve_args()` is that list of flags.) The backend records statistics in the engine
process as for the offline `LLM`; this ASGI middleware, added through vLLM's own `--middleware`
option, adds to each choice of `/v1/chat/completions` and `/v1/completions`::

    "headentropy": {"entropy": [per generated token, in [0, 1]], "confidence": p | null,
                    "scorer": "smollm2" | null, "reason": null | "why confidence (or entropy) is null"}

How it works, without touching vLLM's serving classes:

* Request ids: the middleware sets a context variable for the request and wraps the engine
  client's `generate` (once, on the instance); every `generate` call made while serving the
  request records its request id and `n`. Choice `index` is then the i-th (id, sample) pair, in
  call order (one call per prompt; `n > 1` samples are vLLM's child requests `f"{j}_{id}"`).
* Statistics: when a choice finishes, one `collective_rpc("headentropy_summaries", ...)` asks
  the engine for its summaries (`summary.request_summary`: the per-token means and the
  confidence features, a few KiB, computed in the engine process and popped there).
* Confidence: the API server scores the features with the shipped scorer whose model matches
  the served model (by name in the model path or served name, and by layer/head shape), or the
  scorer named by `HEADENTROPY_SCORER` (a shipped name or a folder); otherwise `confidence` is
  null with a reason.
* Non-streaming: the JSON body is rewritten (Content-Length updated). Streaming: events pass
  through as they come; the chunk that carries a choice's `finish_reason` gets that choice's
  `headentropy` field (the whole per-token list: one RPC per choice, not per token).
* Anything but a 200 answer (vLLM's 400 for a bad request, errors) passes through untouched; a
  failure while adding the field (missing statistics, an RPC error) gives the field with nulls
  and the reason, never a failed request.
* Statistics of the request's engine requests that were not fetched (the client went away, an
  error answer, beam search, whose internal requests are not mapped to choices) are dropped in
  the engine (`headentropy_drop`) when the response ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
from pathlib import Path

logger = logging.getLogger("vllm.headentropy")

PATHS = ("/v1/chat/completions", "/v1/completions")
RPC = "headentropy_summaries"
DROP_RPC = "headentropy_drop"
BEAM_SEARCH = ("beam search runs many internal engine requests per choice; their statistics are "
               "not mapped to choices")
RPC_TIMEOUT_S = float(os.environ.get("HEADENTROPY_RPC_TIMEOUT_S", "60"))

# The (request id, n) of every engine `generate` call made while serving the current request.
_CALLS: contextvars.ContextVar[list | None] = contextvars.ContextVar("headentropy_calls", default=None)


def _wrap_generate(engine) -> None:
    """Record the ids of `engine.generate` calls in `_CALLS` (once per engine client instance)."""
    if getattr(engine, "_headentropy_generate", None) is not None:
        return
    original = engine.generate

    def generate(*args, **kwargs):
        calls = _CALLS.get()
        if calls is not None:
            try:
                rid = kwargs["request_id"] if "request_id" in kwargs else args[2]
                params = kwargs["sampling_params"] if "sampling_params" in kwargs else args[1]
                calls.append((str(rid), int(getattr(params, "n", 1) or 1)))
            except Exception:  # noqa: BLE001 - the request goes on without statistics
                pass
        return original(*args, **kwargs)

    engine.generate = generate
    engine._headentropy_generate = original


def engine_ids(calls: list[tuple[str, int]]) -> list[str]:
    """Engine request id (as the collector matches it) per choice index."""
    ids = []
    for rid, n in calls:
        ids.extend([rid] if n == 1 else [f"{j}_{rid}" for j in range(n)])
    return ids


# ---- the confidence scorer ------------------------------------------------------------------------

_NO_SCORER = object()
_scorer_cache: dict = {}


def _shipped_folders() -> list[Path]:
    from ..confidence.scorer import _SHIPPED

    return sorted(p for p in _SHIPPED.iterdir() if p.is_dir()) if _SHIPPED.is_dir() else []


def find_scorer(model_names: list[str]):
    """(name, scorer) for the served model, or (None, reason)."""
    key = tuple(model_names)
    if key in _scorer_cache:
        return _scorer_cache[key]
    from ..confidence.scorer import ConfidenceScorer, ScorerError

    chosen = os.environ.get("HEADENTROPY_SCORER")
    result = None
    if chosen:
        try:
            result = (Path(chosen).name, ConfidenceScorer.load(chosen))
        except ScorerError as e:
            result = (None, f"HEADENTROPY_SCORER={chosen}: {e}")
    else:
        shipped = []
        for folder in _shipped_folders():
            try:
                meta = json.loads((folder / "scorer.json").read_text())
            except (OSError, ValueError):
                continue
            target = str(meta.get("model_name", ""))
            shipped.append(f"{folder.name} ({target})")
            if target and any(target.lower() in str(m).lower() for m in model_names):
                try:
                    result = (folder.name, ConfidenceScorer.load(folder))
                except ScorerError as e:
                    result = (None, str(e))
                break
        if result is None:
            result = (None, f"no confidence scorer for the served model {model_names[0] if model_names else '?'} "
                            f"(shipped: {', '.join(shipped) or 'none'}; HEADENTROPY_SCORER names another)")
    _scorer_cache[key] = result
    return result


def _model_names(engine) -> list[str]:
    names = []
    try:
        cfg = engine.model_config
        names = [str(cfg.model)]
        served = cfg.served_model_name
        names += [str(s) for s in (served if isinstance(served, (list, tuple)) else [served]) if s]
    except AttributeError:
        pass
    return names


def choice_field(summary: dict | None, engine, missing: str = "") -> dict:
    """The `headentropy` entry of one choice from its engine summary (None: not found)."""
    if summary is None or "error" in summary:
        why = missing or (f"the statistics could not be summarised: {summary['error']}" if summary else
                          "no statistics were recorded for this request (is the engine running with "
                          "--attention-backend CUSTOM and headentropy's worker extension?)")
        return {"entropy": None, "confidence": None, "scorer": None, "reason": why}
    field = {"entropy": summary["entropy"], "confidence": None, "scorer": None, "reason": None}
    name, scorer = find_scorer(_model_names(engine))
    if name is None:
        field["reason"] = scorer
        return field
    if (scorer.num_layers, scorer.num_heads) != (summary["layers"], summary["heads"]):
        field["reason"] = (f"the scorer {name} was fitted on {scorer.model_name} ({scorer.num_layers} layers x "
                           f"{scorer.num_heads} heads); the served model has {summary['layers']} x {summary['heads']}")
        return field
    if summary["num_positions"] <= summary["prompt_len"]:
        field["reason"] = "the answer has a single token: the confidence features need a generated token fed back"
        field["scorer"] = name
        return field
    from .summary import features_from_summary

    field["confidence"] = float(scorer.score_features(features_from_summary(summary))[0])
    field["scorer"] = name
    return field


NO_EXTENSION = ("the engine has no headentropy worker extension (start it with --worker-extension-cls "
                "headentropy.vllm.worker.EntropyWorkerExtension and --attention-backend CUSTOM)")


async def fetch_summaries(engine, ids: list[str]) -> tuple[dict, str]:
    """({id: summary}, "" or why nothing came back); never raises."""
    if not ids:
        return {}, "no engine request was seen for this response"
    if getattr(engine, "_headentropy_no_extension", False):
        return {}, NO_EXTENSION
    try:
        results = await asyncio.wait_for(engine.collective_rpc(RPC, args=(ids, True)), RPC_TIMEOUT_S)
        return results[0]["requests"], ""
    except Exception as e:  # noqa: BLE001 - e.g. the worker extension is not loaded
        if RPC in str(e) and "attribute" in str(e):  # asked once; every later request is told why
            engine._headentropy_no_extension = True
            logger.warning("headentropy: %s; the headentropy field will hold only the reason", NO_EXTENSION)
            return {}, NO_EXTENSION
        logger.warning("headentropy: fetching statistics failed: %s: %s", type(e).__name__, e)
        return {}, f"the engine did not return statistics ({type(e).__name__}: {e})"


# ---- the ASGI middleware ----------------------------------------------------------------------------

class EntropyMiddleware:
    """Pure ASGI middleware (`vllm serve ... --middleware headentropy.vllm.serving.EntropyMiddleware`)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") not in PATHS:
            await self.app(scope, receive, send)
            return
        engine = None
        try:
            engine = scope["app"].state.engine_client
            _wrap_generate(engine)
        except Exception:  # noqa: BLE001 - no engine client: nothing to add
            engine = None
        if engine is None:
            await self.app(scope, receive, send)
            return
        calls: list = []
        token = _CALLS.set(calls)
        responder = _Responder(engine, calls, send)
        try:
            await self.app(scope, receive, responder)
        finally:
            _CALLS.reset(token)
            # statistics nobody fetched (the client went away, an error answer, beam search's
            # internal requests) are dropped in the engine rather than left to pile up there
            left = [r for r in engine_ids(calls) if r not in responder.fetched]
            if left and not getattr(engine, "_headentropy_no_extension", False):
                _background(_drop(engine, left))


_TASKS: set = set()


def _background(coro) -> None:
    try:
        task = asyncio.get_running_loop().create_task(coro)
    except RuntimeError:
        coro.close()
        return
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def _drop(engine, ids: list[str]) -> None:
    try:
        await asyncio.wait_for(engine.collective_rpc(DROP_RPC, args=(ids,)), RPC_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - the collector's own cap still bounds what is kept
        logger.debug("headentropy: dropping unfetched statistics failed: %s", e)


class _Responder:
    """The `send` the app sees: passes everything through, adding the field to 200 answers."""

    def __init__(self, engine, calls: list, send) -> None:
        self.engine, self.calls, self.send = engine, calls, send
        self.mode = "pass"  # pass | json | sse
        self.start: dict | None = None
        self.body = bytearray()
        self.pending = b""
        self.fetched: set[str] = set()

    def _ids(self) -> tuple[list[str], str]:
        """Engine id per choice index, or ([], why not)."""
        if any("-beam-" in rid for rid, _ in self.calls):
            return [], BEAM_SEARCH
        return engine_ids(self.calls), ""

    async def _fetch(self, ids: list[str], why: str) -> tuple[dict, str]:
        if why:
            return {}, why
        self.fetched.update(ids)
        return await fetch_summaries(self.engine, ids)

    async def __call__(self, message) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            headers = {k.lower(): v for k, v in message.get("headers", [])}
            ctype = headers.get(b"content-type", b"").decode("latin-1")
            if message.get("status") == 200 and ctype.startswith("application/json"):
                self.mode, self.start = "json", message  # sent with the rewritten body
                return
            if message.get("status") == 200 and ctype.startswith("text/event-stream"):
                self.mode = "sse"
            await self.send(message)
            return
        if kind != "http.response.body" or self.mode == "pass":
            await self.send(message)
            return
        more = message.get("more_body", False)
        if self.mode == "json":
            self.body += message.get("body", b"")
            if not more:
                await self._send_json()
            return
        await self._send_events(message.get("body", b""), more)

    async def _send_json(self) -> None:
        body = bytes(self.body)
        try:
            data = json.loads(body)
            choices = data.get("choices") if isinstance(data, dict) else None
            if isinstance(choices, list) and choices:
                ids, why = self._ids()
                wanted = {c.get("index", i): ids[c.get("index", i)] for i, c in enumerate(choices)
                          if isinstance(c, dict) and 0 <= c.get("index", i) < len(ids)}
                found, why = await self._fetch(sorted(set(wanted.values())), why)
                for i, c in enumerate(choices):
                    if isinstance(c, dict):
                        rid = wanted.get(c.get("index", i))
                        c["headentropy"] = choice_field(found.get(rid) if rid else None, self.engine, why)
                body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        except Exception:  # noqa: BLE001 - the answer goes out as vLLM wrote it
            logger.exception("headentropy: adding the statistics to a response failed")
            body = bytes(self.body)
        start = dict(self.start)
        start["headers"] = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        start["headers"].append((b"content-length", str(len(body)).encode()))
        await self.send(start)
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def _send_events(self, chunk: bytes, more: bool) -> None:
        self.pending += chunk
        out = []
        while b"\n\n" in self.pending:
            event, self.pending = self.pending.split(b"\n\n", 1)
            out.append(await self._event(event) + b"\n\n")
        if not more and self.pending:  # a last event without its blank line
            out.append(await self._event(self.pending))
            self.pending = b""
        if out or not more:
            await self.send({"type": "http.response.body", "body": b"".join(out), "more_body": more})

    async def _event(self, event: bytes) -> bytes:
        if not event.startswith(b"data: ") or event == b"data: [DONE]":
            return event
        try:
            data = json.loads(event[6:])
            choices = data.get("choices") if isinstance(data, dict) else None
            finished = [c for c in choices or [] if isinstance(c, dict) and c.get("finish_reason") is not None]
            if not finished:
                return event
            ids, why = self._ids()
            for c in finished:
                index = c.get("index", 0)
                rid = ids[index] if 0 <= index < len(ids) else None
                found, why = await self._fetch([rid] if rid else [], why)
                c["headentropy"] = choice_field(found.get(rid) if rid else None, self.engine, why)
            return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        except Exception:  # noqa: BLE001
            logger.exception("headentropy: adding the statistics to a stream chunk failed")
            return event
