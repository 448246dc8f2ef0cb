"""Engine-process state: per-step statistics from the attention layers, kept per request.

Lives in the process that runs the model (vLLM's worker; with one CPU worker that is the engine
core process). Nothing here crosses a process boundary except what `export()` returns.

One *step* is one `GPUModelRunner._model_forward` call (the runner's documented override point):
the wrapper installed by `install_runner_hook()` records the batch's request ids in the order of
the attention metadata rows (`runner.input_batch.req_ids[:num_reqs]`; vLLM's attention metadata
carries no request ids), each attention layer adds its `[tokens, heads]` statistics, and the end
of the step splits them by request (`query_start_loc`) and appends one chunk per request.

Prefix caching: a request whose first chunk starts at position s > 0 got positions [0, s) from
the prefix cache; their queries were never computed for it (vLLM keeps K and V, not Q), so their
statistics cannot be recomputed. When prefix caching is on, every computed token's statistics
are also written to a *slot store* indexed like the KV cache (physical block × offset); a cache
hit copies the prefix's statistics from the slots its block table points at: they are the
statistics of the prefix's first computation (identical up to kernel round-off, since a causal
prefix does not depend on what follows it).
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

logger = logging.getLogger("vllm.headentropy")  # under "vllm": its handlers and format

NUM_STATS = 3  # shannon, renyi2, sink_mass (the order of the last axis)
STAT_NAMES = ("shannon", "renyi2", "sink_mass")
# Requests not collected are dropped oldest first beyond this many (a server that never asks).
MAX_REQUESTS = int(os.environ.get("HEADENTROPY_VLLM_MAX_REQUESTS", "4096"))
# Errors in the statistics cost the step's statistics and are logged; set to raise instead (tests).
STRICT = os.environ.get("HEADENTROPY_VLLM_STRICT", "") not in ("", "0")


@dataclass
class _Chunk:
    start: int  # position of the first token
    token_ids: torch.Tensor  # [n] int64 (-1 where unknown)
    stats: torch.Tensor  # [n, L, H, 3] fp32
    n_keys: torch.Tensor  # [n, L] int32


@dataclass
class _Record:
    prompt_len: int
    chunks: list[_Chunk] = field(default_factory=list)
    from_prefix_cache: int = 0  # positions filled from the slot store


@dataclass
class _Step:
    req_ids: list[str]
    prompt_lens: list[int]
    prompt_token_ids: list  # per request: list[int] | None (only for requests new to us)
    input_ids: torch.Tensor | None  # [T] the step's tokens, metadata order
    layer_stats: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [T, H, 3]
    layer_keys: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> [T] int32
    meta: object = None  # the attention metadata of the first layer call
    kv_shape: tuple | None = None  # (num_blocks, block_size) of the first layer's cache
    skipped: str | None = None  # why this step records nothing


class Collector:
    """All statistics of one engine process (one instance: `COLLECTOR`)."""

    def __init__(self) -> None:
        self.records: OrderedDict[str, _Record] = OrderedDict()
        self.step: _Step | None = None
        self.layers: list[int] = []
        self.num_heads = 0
        self.prefix_caching = False
        self.slot_stats: torch.Tensor | None = None  # [slots, L, H, 3] fp32
        self.slot_keys: torch.Tensor | None = None  # [slots, L] int32
        self.warned: set[str] = set()
        # Seconds spent on statistics in this process (attention layers, end of step), and steps.
        self.timing = {"layers_s": 0.0, "end_step_s": 0.0, "steps": 0}

    # --- called by the runner hook ---------------------------------------------------------

    def begin_step(self, runner, input_ids: torch.Tensor | None) -> None:
        batch = runner.input_batch
        num_reqs = batch.num_reqs
        if num_reqs == 0:
            self.step = None
            return
        req_ids = list(batch.req_ids[:num_reqs])
        prompt_lens, prompt_ids = [], []
        for r in req_ids:
            state = runner.requests.get(r)
            prompt_lens.append(int(state.num_prompt_tokens) if state is not None else -1)
            known = r in self.records
            ids = getattr(state, "prompt_token_ids", None) if state is not None else None
            prompt_ids.append(None if known or ids is None else list(ids))
        self.prefix_caching = bool(runner.cache_config.enable_prefix_caching)
        self.step = _Step(req_ids, prompt_lens, prompt_ids,
                          None if input_ids is None else input_ids.detach().to("cpu", copy=True))

    def end_step(self) -> None:
        step, self.step = self.step, None
        if step is not None and step.skipped:
            self._warn(step.skipped, step.skipped)
            return
        if step is None or step.meta is None or not step.layer_stats:
            return
        layers = sorted(step.layer_stats)
        if not self.layers:
            self.layers = layers
            self.num_heads = step.layer_stats[layers[0]].shape[1]
        elif layers != self.layers:
            self._warn("layers", f"a step recorded layers {layers}, expected {self.layers}; skipped")
            return
        stats = torch.stack([step.layer_stats[i] for i in layers], dim=1)  # [T, L, H, 3]
        n_keys = torch.stack([step.layer_keys[i] for i in layers], dim=1)  # [T, L]
        meta = step.meta
        qsl = meta.query_start_loc.to("cpu").tolist()
        seq_lens = meta.seq_lens.to("cpu").tolist()
        T = stats.shape[0]
        ids = step.input_ids[:T] if step.input_ids is not None and step.input_ids.numel() >= T else None

        if self.prefix_caching and step.kv_shape is not None:
            self._store_slots(meta.slot_mapping[:T].to("cpu").long(), stats, n_keys, step.kv_shape)

        for i, r in enumerate(step.req_ids):
            qs, qe = qsl[i], qsl[i + 1]
            if qe == qs:
                continue
            start = seq_lens[i] - (qe - qs)
            rec = self.records.get(r)
            if rec is None:
                rec = self.records[r] = _Record(prompt_len=step.prompt_lens[i])
                if start > 0:
                    self._fill_prefix(rec, i, start, step)
            tok = ids[qs:qe].to(torch.int64) if ids is not None else torch.full((qe - qs,), -1, dtype=torch.int64)
            rec.chunks.append(_Chunk(start, tok, stats[qs:qe].clone(), n_keys[qs:qe].clone()))
        while len(self.records) > MAX_REQUESTS:
            dropped, _ = self.records.popitem(last=False)
            self._warn("dropped", f"more than {MAX_REQUESTS} uncollected requests: dropping the oldest "
                                  f"({dropped}); set HEADENTROPY_VLLM_MAX_REQUESTS")

    # --- called by the attention layers ----------------------------------------------------

    def active(self) -> bool:
        return self.step is not None and self.step.skipped is None

    def add_layer(self, layer: int, meta, stats: torch.Tensor, n_keys: torch.Tensor,
                  kv_shape: tuple[int, int]) -> None:
        step = self.step
        if step.meta is None:
            nreq = meta.query_start_loc.shape[0] - 1
            if nreq != len(step.req_ids):
                step.skipped = (f"attention metadata has {nreq} rows but the input batch {len(step.req_ids)} "
                                "requests; this step's statistics are not recorded")
                return
            step.meta = meta
            step.kv_shape = kv_shape
        step.layer_stats[layer] = stats
        step.layer_keys[layer] = n_keys

    # --- prefix caching ----------------------------------------------------------------------

    def _store_slots(self, slots: torch.Tensor, stats: torch.Tensor, n_keys: torch.Tensor,
                     kv_shape: tuple[int, int]) -> None:
        num_slots = kv_shape[0] * kv_shape[1]
        if self.slot_stats is None or self.slot_stats.shape[0] != num_slots:
            L, H = stats.shape[1], stats.shape[2]
            self.slot_stats = torch.zeros(num_slots, L, H, NUM_STATS, dtype=torch.float32)
            self.slot_keys = torch.zeros(num_slots, L, dtype=torch.int32)
            logger.info("headentropy: prefix-cache statistics store, %d slots, %.1f MiB", num_slots,
                        (self.slot_stats.numel() * 4 + self.slot_keys.numel() * 4) / 2**20)
        ok = slots >= 0
        self.slot_stats[slots[ok]] = stats[ok]
        self.slot_keys[slots[ok]] = n_keys[ok]

    def _fill_prefix(self, rec: _Record, row: int, start: int, step: _Step) -> None:
        if not self.prefix_caching or self.slot_stats is None:
            self._warn("prefix", f"a request starts at position {start} without prefix caching statistics; "
                                 "its first positions are missing")
            return
        block_size = step.kv_shape[1]
        pos = torch.arange(start)
        blocks = step.meta.block_table[row].to("cpu").long()[pos // block_size]
        slots = blocks * block_size + pos % block_size
        prompt = step.prompt_token_ids[row]
        tok = torch.tensor(prompt[:start], dtype=torch.int64) if prompt is not None and len(prompt) >= start \
            else torch.full((start,), -1, dtype=torch.int64)
        rec.chunks.append(_Chunk(0, tok, self.slot_stats[slots].clone(), self.slot_keys[slots].clone()))
        rec.from_prefix_cache = start

    # --- export --------------------------------------------------------------------------------

    def export(self, req_ids: list[str] | None, heads: bool, pop: bool) -> dict:
        """Per request: plain bytes and ints, msgpack-safe (no pickle needed).

        `req_ids` are the ids the caller knows (`RequestOutput.request_id`): vLLM's input
        processor turns request id R into the engine id `R-xxxxxxxx` (8 random characters), and
        only the engine id reaches the model runner; an engine id matches R exactly or as
        `R-` plus 8 characters. None exports every request, keyed by engine id.
        """
        if req_ids is None:
            pairs = [(r, r) for r in self.records]
        else:
            pairs = []
            for ext in req_ids:
                hits = [r for r in self.records
                        if r == ext or (r.startswith(ext + "-") and len(r) == len(ext) + 9)]
                if hits:
                    pairs.append((ext, hits[-1]))
        out = {}
        for ext, r in pairs:
            rec = self.records.pop(r) if pop else self.records[r]
            out[ext] = _assemble(rec, heads)
        return {"layers": list(self.layers), "num_heads": self.num_heads, "requests": out,
                "timing": dict(self.timing)}

    def _warn(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            logger.warning("headentropy: %s", message)


def _assemble(rec: _Record, heads: bool) -> dict:
    N = max(c.start + c.token_ids.shape[0] for c in rec.chunks)
    first = rec.chunks[0]
    L, H = first.stats.shape[1], first.stats.shape[2]
    Hs = H if heads else 1
    stats = torch.zeros(N, L, Hs, NUM_STATS, dtype=torch.float32)
    n_keys = torch.zeros(N, L, dtype=torch.int32)
    token_ids = torch.full((N,), -1, dtype=torch.int64)
    valid = torch.zeros(N, dtype=torch.bool)
    for c in rec.chunks:  # later chunks overwrite (a preempted request recomputes its positions)
        s, e = c.start, c.start + c.token_ids.shape[0]
        stats[s:e] = c.stats if heads else c.stats.mean(dim=2, keepdim=True)
        n_keys[s:e] = c.n_keys
        token_ids[s:e] = c.token_ids
        valid[s:e] = True
    return {
        "num_positions": N,
        "prompt_len": rec.prompt_len,
        "from_prefix_cache": rec.from_prefix_cache,
        "heads": Hs,
        "stats": stats.numpy().tobytes(),  # [N, L, Hs, 3] float32
        "n_keys": n_keys.numpy().tobytes(),  # [N, L] int32
        "token_ids": token_ids.numpy().tobytes(),  # [N] int64
        "valid": valid.numpy().tobytes(),  # [N] bool
    }


COLLECTOR = Collector()


def install_runner_hook() -> None:
    """Wrap the CPU model runner's `_model_forward` once per process, so each step knows its requests."""
    from vllm.v1.worker.cpu_model_runner import CPUModelRunner

    if getattr(CPUModelRunner, "_headentropy_hooked", False):
        return
    original = CPUModelRunner._model_forward

    def _model_forward(self, input_ids=None, positions=None, intermediate_tensors=None,
                       inputs_embeds=None, **model_kwargs):
        COLLECTOR.begin_step(self, input_ids)
        try:
            result = original(self, input_ids=input_ids, positions=positions,
                              intermediate_tensors=intermediate_tensors, inputs_embeds=inputs_embeds,
                              **model_kwargs)
        except BaseException:
            COLLECTOR.step = None  # a failed forward records nothing
            raise
        try:
            t = time.perf_counter()
            COLLECTOR.end_step()
            COLLECTOR.timing["end_step_s"] += time.perf_counter() - t
            COLLECTOR.timing["steps"] += 1
        except Exception:
            if STRICT:
                raise
            logger.exception("headentropy: recording this step's statistics failed")
        return result

    CPUModelRunner._model_forward = _model_forward
    CPUModelRunner._headentropy_hooked = True
