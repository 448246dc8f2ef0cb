"""Per-token logit statistics in the engine: each sampled token's log-probability and the entropy
of the distribution it was drawn from (the `token_logprob` / `predictive_entropy` of a trace).

The attention backend sees no logits; the confidence scorer's logit features need them. The
hook wraps the CPU model runner's `_sample` (the call that receives the model's raw logits, one
row per request, before the sampler applies temperature, penalties or logits processors, some
of them in place): it takes log-sum-exp and entropy of each row, keeps a copy of the rows, and
after sampling reads each sampled token's log-probability. Rows whose request is still in a
partial (chunked) prefill are skipped (vLLM discards their sample). Only requests the attention
backend records (`COLLECTOR.records`) are kept, so an engine with another backend records nothing.

Alignment (as `capture/logits.py`): the k-th sample of a request is the token fed at position
`prompt_len + k`; its log-probability and entropy belong to that position. The last sample is
never fed back and has no position.

Installed when vLLM imports the worker extension (`worker.py`), i.e. only in worker processes of
engines started with `worker_extension_cls=hv.WORKER_EXTENSION`. Raw model logits, as the HF
path uses: a structured-output grammar mask applied before sampling is not undone.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import torch

from ..capture.logits import lse_entropy
from ..kernels.cpu.loader import KERNEL
from .collector import COLLECTOR, MAX_REQUESTS, STRICT

logger = logging.getLogger("vllm.headentropy")

# engine request id -> [(logprob, entropy nats), ...] per sample, in sample order
RECORDS: OrderedDict[str, list[tuple[float, float]]] = OrderedDict()


def before_sample(runner, logits: torch.Tensor | None):
    """(req ids, rows kept, logits copy, lse, entropy) for the requests to record, or None."""
    if logits is None or logits.dim() != 2:
        return None
    num_reqs = runner.input_batch.num_reqs
    if num_reqs == 0 or logits.shape[0] != num_reqs:
        return None
    req_ids = list(runner.input_batch.req_ids[:num_reqs])
    discard = runner.discard_request_mask.np[:num_reqs]
    rows = [i for i, r in enumerate(req_ids) if not discard[i] and r in COLLECTOR.records]
    if not rows:
        return None
    index = torch.tensor(rows, dtype=torch.long, device=logits.device)
    x = logits.index_select(0, index).to(torch.float32)  # a copy: the sampler edits logits in place
    lse, entropy = lse_entropy(x, KERNEL.loaded())  # the fused row pass when this worker loaded it
    return [req_ids[i] for i in rows], index, x, lse, entropy


def after_sample(pre, sampled_token_ids: torch.Tensor) -> None:
    ids, index, x, lse, entropy = pre
    tokens = sampled_token_ids.index_select(0, index.to(sampled_token_ids.device))[:, 0].to(x.device).long()
    ok = tokens >= 0
    logprob = x.gather(1, tokens.clamp(min=0)[:, None])[:, 0] - lse
    for r, lp, h, good in zip(ids, logprob.tolist(), entropy.tolist(), ok.tolist()):
        if good:
            RECORDS.setdefault(r, []).append((lp, h))
    while len(RECORDS) > MAX_REQUESTS:
        RECORDS.popitem(last=False)


def install_sample_hook() -> None:
    """Wrap `CPUModelRunner._sample` once per process (no-op without vLLM's CPU runner)."""
    try:
        from vllm.v1.worker.cpu_model_runner import CPUModelRunner
    except Exception:  # noqa: BLE001 - not a CPU build: no logit statistics
        return
    if getattr(CPUModelRunner, "_headentropy_sample_hooked", False):
        return
    original = CPUModelRunner._sample

    def _sample(self, logits, spec_decode_metadata):
        pre = None
        if spec_decode_metadata is None:
            try:
                pre = before_sample(self, logits)
            except Exception:
                if STRICT:
                    raise
                logger.exception("headentropy: logit statistics of this step failed")
        out = original(self, logits, spec_decode_metadata)
        if pre is not None:
            try:
                after_sample(pre, out.sampled_token_ids)
            except Exception:
                if STRICT:
                    raise
                logger.exception("headentropy: logit statistics of this step failed")
        return out

    CPUModelRunner._sample = _sample
    CPUModelRunner._headentropy_sample_hooked = True


def _match(ext: str) -> list[str]:
    return [r for r in RECORDS if r == ext or (r.startswith(ext + "-") and len(r) == len(ext) + 9)]


def take(ext: str, pop: bool = True) -> list[tuple[float, float]] | None:
    """The samples of the request known outside as `ext` (matched as `Collector.export` does)."""
    hits = _match(ext)
    if not hits:
        return None
    return RECORDS.pop(hits[-1]) if pop else RECORDS[hits[-1]]


def drop(ext: str) -> None:
    for r in _match(ext):
        del RECORDS[r]


def attach(trace, samples: list[tuple[float, float]] | None) -> None:
    """Set `trace.token_logprob` / `predictive_entropy` ([1, N], NaN where unknown) from the samples."""
    if not samples:
        return
    N = trace.num_positions
    prompt_len = int((~trace.generated[0]).sum())
    lp = torch.full((1, N), float("nan"), dtype=torch.float32)
    pe = torch.full((1, N), float("nan"), dtype=torch.float32)
    for k, (logprob, entropy) in enumerate(samples):
        pos = prompt_len + k
        if pos >= N:
            break
        lp[0, pos], pe[0, pos] = logprob, entropy
    trace.token_logprob, trace.predictive_entropy = lp, pe


def pack(samples: list[tuple[float, float]] | None) -> bytes | None:
    """msgpack-safe: float32 pairs."""
    if not samples:
        return None
    return torch.tensor(samples, dtype=torch.float32).numpy().tobytes()


def unpack(raw: bytes | None) -> list[tuple[float, float]] | None:
    if not raw:
        return None
    return [tuple(p) for p in torch.frombuffer(bytearray(raw), dtype=torch.float32).view(-1, 2).tolist()]
