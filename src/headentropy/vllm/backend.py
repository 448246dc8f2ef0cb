"""The vLLM attention backend: vLLM's own CPU kernel for the output, plus per-token statistics.

`EntropyCPUAttentionBackend` is vLLM's `CPUAttentionBackend` with another impl class. The impl
calls the parent's `forward` unchanged (the engine's kernel writes `output`: greedy outputs are
token-identical by construction), then, when the step is being recorded, computes Shannon,
Rényi-2 and sink mass of every query token from `query` and the paged KV cache:

* one call per layer and step covers every request: `paged_stats` (kernels/cpu/paged_entropy.cpp,
  built and cached like the `cpu` backend's kernel) walks each request's block-table row, reads K
  where it lies in the cache (no gathered copy), computes each query row's scores in fp32 and
  writes `[tokens, heads, 3]` statistics plus each token's visible key count. Bottom-right causal
  alignment handles chunked prefill and decode (Lq < Lk) the same way; Hq % Hkv handles GQA.
  Without a compiler (or with HEADENTROPY_VLLM_KERNEL set to an `he.attention` backend name) the
  fallback is one `he.attention(q, k, None, causal=True)` per request on gathered keys, about
  ten times slower in the engine.
* vLLM's CPU cache is `[num_blocks, num_kv_heads, block_size, 2 * head_size]`; the first
  `block_size * head_size` elements of each (block, head) hold K in an ISA-specific order
  (`_KEY_LAYOUTS`, found by writing known keys with `cpu_attn_reshape_and_cache`):
  `vec`/`vec16` (x86 fp32/fp16, bf16 without AMX): transposed, `[head_size, block_size]`;
  `amx` (bf16 with AMX tiles): VNNI tiles of 16 tokens, `[block_size/16, head_size/2, 16, 2]`.
  Other ISAs (NEON, VSX, ...) are not read: the backend records nothing there and says so
  rather than guess. The first call of every layer checks that the keys read back equal the
  step's `key` rows exactly.
"""

from __future__ import annotations

import logging
import os
import time

import torch
from vllm.v1.attention.backend import AttentionType
from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend, CPUAttentionBackendImpl

from ..kernels.cpu import loader
from ..kernels.dispatch import attention
from .collector import COLLECTOR, STRICT, install_runner_hook

logger = logging.getLogger("vllm.headentropy")  # under "vllm": its handlers and format

SINK_TOKENS = 4  # he.attention's default, the one he.monitor uses


def _keys_transposed(raw: torch.Tensor, blocks: torch.Tensor, block_size: int, D: int) -> torch.Tensor:
    k = raw.view(raw.shape[0], raw.shape[1], D, block_size)[blocks]  # [..., n, Hkv, D, bs]
    k = k.transpose(-1, -2).transpose(-4, -3)  # [..., Hkv, n, bs, D]
    return k.reshape(*k.shape[:-4], raw.shape[1], -1, D)


def _keys_amx(raw: torch.Tensor, blocks: torch.Tensor, block_size: int, D: int) -> torch.Tensor:
    k = raw.view(raw.shape[0], raw.shape[1], block_size // 16, D // 2, 16, 2)[blocks]  # [..., n, Hkv, bs/16, D/2, 16, 2]
    k = k.transpose(-3, -2).transpose(-6, -5)  # [..., Hkv, n, bs/16, 16, D/2, 2]
    return k.reshape(*k.shape[:-6], raw.shape[1], -1, D)


# ISA -> reader: (K region [blocks, Hkv, bs*D], block ids [..., n], bs, D) -> keys [..., Hkv, n*bs, D]
_KEY_LAYOUTS = {"vec": _keys_transposed, "vec16": _keys_transposed, "amx": _keys_amx}

# ISA -> the `layout` argument of paged_entropy.cpp's paged_stats.
LAYOUT_CODES = {"vec": 0, "vec16": 0, "amx": 1}

_LOGGED_LAYOUTS: set[str] = set()
# "auto": the paged-cache kernel, else (no compiler) he.attention per request; "paged": the
# kernel or an error; any other value: he.attention per request with that backend ("cpu", "torch").
KERNEL = os.environ.get("HEADENTROPY_VLLM_KERNEL", "auto")


def _paged_kernel():
    """The compiled paged-cache statistics kernel, or None where it cannot be built (see KERNEL)."""
    if KERNEL not in ("auto", "paged"):
        return None
    try:
        module = loader.PAGED.load()
    except loader.KernelUnavailable:
        if KERNEL == "paged":
            raise
        if "fallback" in _LOGGED_LAYOUTS:
            return None
        _LOGGED_LAYOUTS.add("fallback")
        logger.warning("headentropy: the paged-cache statistics kernel is unavailable; statistics use "
                       "one he.attention call per request (slower)")
        return None
    if "kernel" not in _LOGGED_LAYOUTS:
        _LOGGED_LAYOUTS.add("kernel")
        logger.info("headentropy (%s): statistics from the paged-cache kernel %s",
                    os.path.dirname(os.path.dirname(__file__)), module.__file__)
    return module


def _int32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.int32 and x.is_contiguous() else x.to(torch.int32).contiguous()


def _layer_index(name: str) -> int:
    from vllm.model_executor.models.utils import extract_layer_index

    return extract_layer_index(name)


class EntropyCPUAttentionImpl(CPUAttentionBackendImpl):
    """`CPUAttentionBackendImpl` whose forward also records per-token statistics."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        install_runner_hook()
        self._checked_layout = False
        self._layer = None  # layer index, from the layer's name on the first call
        self._ext = _paged_kernel()
        reasons = []
        if self.attn_type != AttentionType.DECODER:
            reasons.append(f"attention type {self.attn_type}")
        if self.alibi_slopes is not None:
            reasons.append("ALiBi slopes")
        if self.sinks is not None:
            reasons.append("learned attention sinks (s_aux)")
        if self.is_fp8_kv_cache:
            reasons.append(f"kv_cache_dtype={self.kv_cache_dtype}")
        self._unsupported = ", ".join(reasons) or None
        if self._unsupported and self.attn_type == AttentionType.DECODER:
            logger.warning("headentropy: this layer's statistics are not recorded (%s)", self._unsupported)

    def forward(self, layer, query, key, value, kv_cache, attn_metadata, output,
                output_scale=None, output_block_scale=None):
        result = super().forward(layer, query, key, value, kv_cache, attn_metadata, output,
                                 output_scale=output_scale, output_block_scale=output_block_scale)
        if attn_metadata is not None and self._unsupported is None and COLLECTOR.active():
            t = time.perf_counter()
            try:
                self._record(layer, query, key, kv_cache, attn_metadata)
                COLLECTOR.timing["layers_s"] += time.perf_counter() - t
            except Exception as e:
                # The output is already written: a failure here costs this step's statistics,
                # never the request (HEADENTROPY_VLLM_STRICT=1 raises instead, for tests).
                if STRICT:
                    raise
                logger.exception("headentropy: statistics of layer %s failed", getattr(layer, "layer_name", "?"))
                COLLECTOR.step.skipped = f"statistics failed ({type(e).__name__}: {e}); this step is not recorded"
        return result

    def _record(self, layer, query, key, kv_cache, meta) -> None:
        isa = getattr(layer, "isa", None)
        read_keys = _KEY_LAYOUTS.get(isa)
        if read_keys is None:
            COLLECTOR.step.skipped = (f"the CPU KV cache layout of ISA {isa!r} is not read yet "
                                      f"(supported: {', '.join(_KEY_LAYOUTS)}); nothing recorded")
            return
        if isinstance(meta.causal, torch.Tensor) or not meta.causal:
            COLLECTOR.step.skipped = "non-causal or dynamic-causal attention metadata; nothing recorded"
            return
        num_blocks, num_kv_heads, block_size, _ = kv_cache.shape
        D, H = self.head_size, self.num_heads
        # The K region of each (block, head): its first block_size*D elements.
        raw = kv_cache.view(num_blocks, num_kv_heads, block_size * 2 * D)[:, :, : block_size * D]
        T = meta.num_actual_tokens
        q_all = query[:T].view(T, H, D)
        if not self._checked_layout:
            self._check_layout(raw, read_keys, key[:T].view(T, num_kv_heads, D), meta.slot_mapping[:T],
                               block_size, isa)

        window = None if self.sliding_window in (None, -1) else int(self.sliding_window)
        softcap = float(self.logits_soft_cap) if self.logits_soft_cap else None
        if self._layer is None:
            self._layer = _layer_index(layer.layer_name)
        if self._ext is not None:
            stats = torch.empty(T, H, 3, dtype=torch.float32)
            n_keys = torch.empty(T, dtype=torch.int32)
            self._ext.paged_stats(q_all, kv_cache, _int32(meta.block_table), _int32(meta.query_start_loc),
                                  _int32(meta.seq_lens), LAYOUT_CODES[isa], self.scale, softcap or 0.0,
                                  window or 0, SINK_TOKENS, stats, n_keys)
        else:
            stats, n_keys = self._record_per_request(raw, read_keys, q_all, meta, block_size, window, softcap)
        COLLECTOR.add_layer(self._layer, meta, stats, n_keys, (num_blocks, block_size))

    def _record_per_request(self, raw, read_keys, q_all, meta, block_size, window, softcap):
        """The fallback without the compiled kernel: gathered keys, one he.attention per request."""
        T, H, D = q_all.shape
        qsl = meta.query_start_loc.tolist()
        seq_lens = meta.seq_lens.tolist()
        backend = "auto" if KERNEL in ("auto", "paged") else KERNEL
        stats = torch.zeros(T, H, 3, dtype=torch.float32)
        n_keys = torch.zeros(T, dtype=torch.int32)
        for i in range(len(qsl) - 1):  # one call per request: prefill chunk or decode row
            qs, qe = qsl[i], qsl[i + 1]
            if qe == qs:
                continue
            sl = seq_lens[i]
            nblk = (sl + block_size - 1) // block_size
            k = read_keys(raw, meta.block_table[i, :nblk].long(), block_size, D)[:, :sl]  # [Hkv, sl, D]
            q = q_all[qs:qe].permute(1, 0, 2)  # [H, Lq, D]
            r = attention(q[None], k[None], None, causal=True, scale=self.scale, softcap=softcap,
                          window=window, sink_tokens=SINK_TOKENS, backend=backend)
            stats[qs:qe] = torch.stack([r.shannon[0], r.renyi2[0], r.sink_mass[0]], dim=-1).transpose(0, 1)
            pos = torch.arange(sl - (qe - qs), sl, dtype=torch.int32)
            n_keys[qs:qe] = pos + 1 if window is None else torch.clamp(pos + 1, max=window)
        return stats, n_keys

    def _check_layout(self, raw, read_keys, key, slot_mapping, block_size, isa) -> None:
        slots = slot_mapping.long()
        ok = slots >= 0
        slots, key = slots[ok], key[ok]
        blocks = torch.unique(slots // block_size)
        keys = read_keys(raw, blocks, block_size, key.shape[-1])  # [Hkv, len(blocks)*bs, D]
        where = torch.searchsorted(blocks, slots // block_size) * block_size + slots % block_size
        read = keys[:, where].transpose(0, 1)  # [T, Hkv, D]
        if read.dtype != key.dtype or not torch.equal(read, key):
            raise RuntimeError(
                f"headentropy: the keys read back from vLLM's CPU KV cache (ISA {isa!r}) differ from the "
                "step's keys; this vLLM version stores K in another layout than the one headentropy.vllm "
                "reads (headentropy/vllm/backend.py: _KEY_LAYOUTS)"
            )
        self._checked_layout = True
        if isa not in _LOGGED_LAYOUTS:
            _LOGGED_LAYOUTS.add(isa)
            logger.info("headentropy: reading K from vLLM's CPU KV cache in the %r layout (checked)", isa)


class EntropyCPUAttentionBackend(CPUAttentionBackend):
    """vLLM's CPU attention backend plus headentropy's statistics (select with attention_backend='CUSTOM')."""

    @staticmethod
    def get_name() -> str:
        return "CUSTOM"

    @staticmethod
    def get_impl_cls() -> type[EntropyCPUAttentionImpl]:
        return EntropyCPUAttentionImpl
