"""The vLLM attention backend: vLLM's own CPU kernel for the output, plus per-token statistics.

`EntropyCPUAttentionBackend` is vLLM's `CPUAttentionBackend` with another impl class. The impl
calls the parent's `forward` unchanged (the engine's kernel writes `output`: greedy outputs are
token-identical by construction), then, when the step is being recorded, computes Shannon,
Rényi-2 and sink mass of every query token from `query` and the paged KV cache:

* per request (rows of `query_start_loc`), the request's keys are gathered from its block-table
  blocks (`seq_lens[i]` keys, no N×N anywhere) and `he.attention(q, k, None, causal=True)` runs
  the statistics-only path (v=None: no P·V work). Bottom-right causal alignment handles chunked
  prefill and decode (Lq < Lk) the same way; Hq % Hkv handles GQA.
* vLLM's CPU cache is `[num_blocks, num_kv_heads, block_size, 2 * head_size]`; for the `vec` and
  `vec16` ISAs (x86 without AMX) the K half of each (block, head) holds K **transposed**
  (`[head_size, block_size]`), the V half is row-major. Other ISAs (AMX, NEON, ...) pack K
  differently: the backend refuses to record there (and says so) rather than guess. The first
  call of every layer checks that the keys read back equal the step's `key` rows exactly.
"""

from __future__ import annotations

import logging
import os

import torch
from vllm.v1.attention.backend import AttentionType
from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend, CPUAttentionBackendImpl

from ..kernels.dispatch import attention
from .collector import COLLECTOR, install_runner_hook

logger = logging.getLogger("headentropy.vllm")

SINK_TOKENS = 4  # he.attention's default, the one he.monitor uses
_PLAIN_V_TRANSPOSED_K = ("vec", "vec16")  # cache ISAs whose K layout we read
KERNEL = os.environ.get("HEADENTROPY_VLLM_KERNEL", "auto")  # he.attention backend for the statistics


def _layer_index(name: str) -> int:
    from vllm.model_executor.models.utils import extract_layer_index

    return extract_layer_index(name)


class EntropyCPUAttentionImpl(CPUAttentionBackendImpl):
    """`CPUAttentionBackendImpl` whose forward also records per-token statistics."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        install_runner_hook()
        self._checked_layout = False
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
            self._record(layer, query, key, kv_cache, attn_metadata)
        return result

    def _record(self, layer, query, key, kv_cache, meta) -> None:
        isa = getattr(layer, "isa", None)
        if isa not in _PLAIN_V_TRANSPOSED_K:
            COLLECTOR.step.skipped = (f"the CPU KV cache layout of ISA {isa!r} is not read yet "
                                      f"(supported: {', '.join(_PLAIN_V_TRANSPOSED_K)}); nothing recorded")
            return
        if isinstance(meta.causal, torch.Tensor) or not meta.causal:
            COLLECTOR.step.skipped = "non-causal or dynamic-causal attention metadata; nothing recorded"
            return
        num_blocks, num_kv_heads, block_size, _ = kv_cache.shape
        D, H = self.head_size, self.num_heads
        # K of block b, head h: the first block_size*D elements of kv_cache[b, h], stored [D, block_size].
        k_cache = kv_cache.view(num_blocks, num_kv_heads, block_size * 2 * D)[:, :, : block_size * D]
        k_cache = k_cache.view(num_blocks, num_kv_heads, D, block_size)
        T = meta.num_actual_tokens
        q_all = query[:T].view(T, H, D)
        if not self._checked_layout:
            self._check_layout(k_cache, key[:T].view(T, num_kv_heads, D), meta.slot_mapping[:T], block_size)

        qsl = meta.query_start_loc.tolist()
        seq_lens = meta.seq_lens.tolist()
        window = None if self.sliding_window in (None, -1) else int(self.sliding_window)
        softcap = float(self.logits_soft_cap) if self.logits_soft_cap else None
        stats = torch.zeros(T, H, 3, dtype=torch.float32)
        n_keys = torch.zeros(T, dtype=torch.int32)
        for i in range(len(qsl) - 1):
            qs, qe = qsl[i], qsl[i + 1]
            if qe == qs:
                continue
            sl = seq_lens[i]
            nblk = (sl + block_size - 1) // block_size
            blocks = meta.block_table[i, :nblk].long()
            k = k_cache[blocks].permute(1, 0, 3, 2).reshape(num_kv_heads, nblk * block_size, D)[:, :sl]
            q = q_all[qs:qe].permute(1, 0, 2)  # [H, Lq, D]
            r = attention(q[None], k[None], None, causal=True, scale=self.scale, softcap=softcap,
                          window=window, sink_tokens=SINK_TOKENS, backend=KERNEL)
            stats[qs:qe] = torch.stack([r.shannon[0], r.renyi2[0], r.sink_mass[0]], dim=-1).transpose(0, 1)
            pos = torch.arange(sl - (qe - qs), sl, dtype=torch.int32)
            n_keys[qs:qe] = pos + 1 if window is None else torch.clamp(pos + 1, max=window)
        COLLECTOR.add_layer(_layer_index(layer.layer_name), meta, stats, n_keys, (num_blocks, block_size))

    def _check_layout(self, k_cache, key, slot_mapping, block_size) -> None:
        slots = slot_mapping.long()
        ok = slots >= 0
        slots, key = slots[ok], key[ok]
        read = k_cache[slots // block_size, :, :, slots % block_size]  # [T, Hkv, D]
        if read.dtype != key.dtype or not torch.equal(read, key):
            raise RuntimeError(
                "headentropy: the keys read back from vLLM's CPU KV cache differ from the step's keys; "
                "this vLLM version stores K in another layout than the one headentropy.vllm reads "
                "(transposed [head_size, block_size] per block and head)"
            )
        self._checked_layout = True


class EntropyCPUAttentionBackend(CPUAttentionBackend):
    """vLLM's CPU attention backend plus headentropy's statistics (select with attention_backend='CUSTOM')."""

    @staticmethod
    def get_name() -> str:
        return "CUSTOM"

    @staticmethod
    def get_impl_cls() -> type[EntropyCPUAttentionImpl]:
        return EntropyCPUAttentionImpl
