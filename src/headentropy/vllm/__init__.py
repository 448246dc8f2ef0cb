"""headentropy inside vLLM: an attention backend that reports per-request entropy.

Install: `pip install 'headentropy[vllm]'` into an environment of its own (vLLM pins its
transformers range); on CPU also remove the torchvision/torchaudio/torchcodec wheels vLLM pulls
in (`make test-vllm` builds such an environment). The `vllm.general_plugins` entry point
registers the backend in every vLLM process; an engine uses it only when asked::

    from vllm import LLM, SamplingParams
    import headentropy.vllm as hv

    if __name__ == "__main__":  # vLLM spawns its engine process
        llm = LLM(model=path, **hv.engine_kwargs())
        outputs = llm.generate(prompts, SamplingParams(max_tokens=32, temperature=0))
        traces = hv.collect(llm, outputs)  # request_id -> EntropyTrace (batch 1)

`engine_kwargs()` is `attention_backend="CUSTOM"` (the backend) plus
`worker_extension_cls=...EntropyWorkerExtension` (the RPC `collect` calls). Statistics are
aggregated in the engine process; `collect(heads=False)` averages heads there, so only
`[positions, layers]` per statistic crosses the process boundary.

The OpenAI server (`vllm serve MODEL *hv.serve_args()`) adds a `headentropy` field to every
choice: per-token mean entropy and the confidence score (`headentropy.vllm.serving`);
`hv.summarize(llm, outputs)` gives the same field for offline requests.

Only this module's helpers import nothing from vLLM at import time; `backend`, `plugin` and
`worker` are imported by vLLM itself.
"""

from __future__ import annotations

from typing import Any

import torch

from ..trace import EntropyTrace

BACKEND = "CUSTOM"
WORKER_EXTENSION = "headentropy.vllm.worker.EntropyWorkerExtension"


def engine_kwargs() -> dict[str, Any]:
    """Keyword arguments for `vllm.LLM(...)` / `EngineArgs` that switch the statistics on."""
    return {"attention_backend": BACKEND, "worker_extension_cls": WORKER_EXTENSION}


MIDDLEWARE = "headentropy.vllm.serving.EntropyMiddleware"


def serve_args() -> list[str]:
    """`vllm serve MODEL` flags for the OpenAI server with a `headentropy` field on every choice
    (the backend, the worker extension and the middleware; see `headentropy.vllm.serving`)."""
    return ["--attention-backend", BACKEND, "--worker-extension-cls", WORKER_EXTENSION, "--middleware", MIDDLEWARE]


def collect(llm, outputs=None, *, heads: bool = True, pop: bool = True,
            model_name: str | None = None) -> dict[str, EntropyTrace]:
    """Statistics of finished requests as `EntropyTrace`s (batch 1 each), keyed by request id.

    outputs: `RequestOutput`s (or request ids) to fetch; None fetches every recorded request
    (keyed by vLLM's internal request id). Each given `RequestOutput` whose statistics were found
    also gets the trace as its `headentropy` attribute. heads=False averages the heads in the engine process (the trace's
    head axis then has size 1). pop=False leaves the records in the engine.
    Positions are the processed tokens: the prompt and every generated token but the last; a
    prompt prefix served by vLLM's prefix cache carries the statistics of its first computation.
    `token_logprob` / `predictive_entropy` are set at the generated positions (from the sampled
    tokens' raw logits; NaN on the prompt, where vLLM computes no logits).
    """
    ids = None
    if outputs is not None:
        ids = [o if isinstance(o, str) else o.request_id for o in outputs]
    results = llm.collective_rpc("headentropy_collect", args=(ids, heads, pop))
    payload = results[0]
    if model_name is None:
        model_name = _model_name(llm)
    traces = {rid: _to_trace(rec, payload["layers"], model_name) for rid, rec in payload["requests"].items()}
    from .logits import attach, unpack

    for rid, raw in (payload.get("token_stats") or {}).items():  # the sampled tokens' logit statistics
        if rid in traces:
            attach(traces[rid], unpack(raw))
    if outputs is not None:
        for o in outputs:
            if not isinstance(o, str) and o.request_id in traces:
                o.headentropy = traces[o.request_id]
    return traces


def summarize(llm, outputs) -> dict[str, dict]:
    """The OpenAI server's `headentropy` field for finished offline requests, keyed by request id.

    `{"entropy": [per generated token], "confidence": p | None, "scorer", "reason"}` (see
    `headentropy.vllm.serving`): the engine computes the per-token means and the scorer's features
    and pops the request's statistics; only those summaries cross the process boundary. With
    `n > 1`, pass the child ids (`f"{j}_{request_id}"`) to get each sample's.
    """
    from .serving import choice_field, RPC

    ids = [o if isinstance(o, str) else o.request_id for o in outputs]
    found = llm.collective_rpc(RPC, args=(ids, True))[0]["requests"]
    engine = getattr(llm, "llm_engine", llm)
    return {rid: choice_field(found.get(rid), engine) for rid in ids}


def _model_name(llm) -> str:
    try:
        return str(llm.llm_engine.model_config.served_model_name)
    except AttributeError:
        return ""


def _to_trace(rec: dict, layers: list[int], model_name: str) -> EntropyTrace:
    N, L, Hs = rec["num_positions"], len(layers), rec["heads"]
    stats = torch.frombuffer(bytearray(rec["stats"]), dtype=torch.float32).view(N, L, Hs, 3)
    stats = stats.permute(3, 1, 2, 0).contiguous()[:, None]  # [3, 1, L, Hs, N]
    n_keys = torch.frombuffer(bytearray(rec["n_keys"]), dtype=torch.int32).view(N, L).T.contiguous()
    token_ids = torch.frombuffer(bytearray(rec["token_ids"]), dtype=torch.int64).clone()
    valid = torch.frombuffer(bytearray(rec["valid"]), dtype=torch.bool).clone()
    return EntropyTrace(
        shannon=stats[0], renyi2=stats[1], sink_mass=stats[2],
        valid=valid[None], generated=(torch.arange(N) >= rec["prompt_len"])[None],
        token_ids=token_ids[None], n_keys=n_keys[None],
        layers=list(layers), model_name=model_name,
    )
