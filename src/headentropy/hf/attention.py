"""The `"headentropy"` attention implementation for HuggingFace `transformers` (docs/design.md §3).

An adapter only: it turns HF's arguments into an `he.attention` call and the result back into
what `sdpa_attention_forward` returns; visibility rules come from `kernels/visibility.py` and
recording from `capture/`. Two functions are registered under the name `"headentropy"`:

* `headentropy_attention_forward` in `transformers.AttentionInterface`: computes attention with
  `he.attention(..., backend=<the backend of the monitor that owns this module>)` and returns
  exactly what `sdpa_attention_forward` returns (`attn_output` as `[B, L, H, D]`, `None`), so the
  model's outputs do not change;
* `headentropy_mask` in `transformers.masking_utils.AttentionMaskInterface`: builds the same mask
  the SDPA path gets (a 4-D bool mask, or `None` when a plain causal / full mask is enough).
  Without it `transformers` would hand the attention function no mask at all.

Masks. The 4-D mask HF builds already encodes padding, the KV-cache offset and sliding windows,
so it is passed as `attn_mask` with `causal=False`. When HF skips the mask (`None`: no padding,
plain causal prefill, a decode step, or an encoder without padding) the module's `is_causal`
decides, and `he.attention`'s bottom-right causal alignment matches the cache layout.

Dropout. In training mode with `dropout > 0` the kernel applies attention dropout itself
(`he.attention(..., dropout_p=dropout)`, no N×N): the output uses P ⊙ Z / (1 - p) with a hashed
keep-mask Z, while the statistics describe the softmax probabilities *before* dropout (what the
head "looks at"). Each layer call draws its mask seed from torch's default generator, so layers
and steps get different masks, `torch.manual_seed` reproduces them, and gradient checkpointing
(which restores the RNG state for its re-run) regenerates the same mask. The mask is not the
one eager/SDPA would draw (a different random stream), only the same distribution.

Recording. The capture that owns `module` (`capture.owner_of`) gets the statistics when one of
its taps samples the call; a module of an unmonitored model, or a call no tap samples, costs
only the attention work.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..capture import owner_of
from ..kernels import dispatch
from ..kernels.visibility import (combine_position_bias, n_keys_from_mask, n_keys_structural,
                                  sink_mass_at, sink_slots)

NAME = "headentropy"
SINK_TOKENS = 4  # the sink mass is the probability on the first SINK_TOKENS keys of the sequence


def headentropy_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,  # [B, Hq, Lq, D]
    key: torch.Tensor,  # [B, Hkv, Lk, D]
    value: torch.Tensor,  # [B, Hkv, Lk, Dv]
    attention_mask: torch.Tensor | None,  # [B, 1|Hq, Lq, Lk] bool or additive float, or None
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    sliding_window: int | None = None,
    softcap: float | None = None,
    position_bias: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Drop-in for `sdpa_attention_forward` that also measures per-row entropy statistics."""
    if kwargs.get("s_aux") is not None:
        raise NotImplementedError(
            f"{type(module).__name__} uses attention sinks (`s_aux`), which the headentropy "
            "attention does not support yet"
        )
    q_len, k_len = query.shape[2], key.shape[2]
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    causal = bool(causal)
    mask = attention_mask
    window = None
    if mask is not None:
        # HF's 4-D mask already holds causality, padding, cache offset and the sliding window.
        causal = False
    else:
        if causal and q_len > 1 and k_len > q_len:
            # Only reached for a prefill into an empty static cache (HF skips the mask because
            # the extra keys are unused future slots): drop them, as the SDPA path does.
            key, value = key[:, :, :q_len], value[:, :, :q_len]
            if position_bias is not None:
                position_bias = position_bias[..., :q_len]
            k_len = q_len
        if causal and sliding_window is not None:
            window = int(sliding_window)
    if position_bias is not None:
        mask = combine_position_bias(position_bias, mask, causal, q_len, k_len)
        causal, window = False, None
    if softcap is not None and softcap <= 0:
        softcap = None  # some configs use 0 for "no soft-capping"
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])

    capture = owner_of(module)  # None: a model nobody monitors in this context
    result = dispatch.attention(
        query,
        key,
        value,
        causal=causal,
        attn_mask=mask,
        scale=float(scale),
        window=window,
        softcap=softcap,
        sink_tokens=SINK_TOKENS,
        # The seed comes from torch's generator, once per layer call (see the module doc).
        dropout_p=float(dropout) if module.training else 0.0,
        backend=capture.backend if capture is not None else "auto",
    )
    out = result.out

    if capture is not None:
        capture.backend_counts[result.backend] += 1
        # Gradient checkpointing re-runs layers during backward: that is not a forward to record.
        if capture.recording and torch._C._current_graph_task_id() == -1:
            B = query.shape[0]
            # Layers of one step share their masks: computed once per step and mask.
            if mask is None:
                n_keys = capture.per_step(("n_keys", B, q_len, k_len, causal, window), lambda: n_keys_structural(
                    B, q_len, k_len, causal, window, query.device))  # [B, Lq]
            else:
                n_keys = capture.per_step(("n_keys", id(mask), B, q_len), lambda: n_keys_from_mask(mask, B, q_len))
            # Key slot of each row's first real token, when it is not slot 0 (left padding, or a
            # sliding-window cache that dropped old keys): the sink mass is then computed here.
            first_key = capture.per_step(("first_key", q_len, k_len), lambda: capture.first_key(q_len, k_len))  # [B] or None
            sink = result.sink_mass
            if first_key is not None:
                def slots():
                    return sink_slots(first_key.to(query.device), mask, q_len, k_len, SINK_TOKENS)
                # Layers share HF's bool mask; an additive mask may carry a per-layer position bias.
                shared = mask is None or mask.dtype == torch.bool
                sinks = capture.per_step(("sink_slots", id(mask), q_len, k_len), slots) if shared else slots()
                # Without a tap that keeps the graph, nothing is saved for backward here, so a
                # checkpointed layer re-run (which records nothing) saves the same tensors.
                with torch.set_grad_enabled(torch.is_grad_enabled() and capture.keeps_graph):
                    sink = sink_mass_at(query, key, result.lse, sinks, float(scale), softcap)
            stats = {"shannon": result.shannon, "renyi2": result.renyi2, "sink_mass": sink}  # [B, Hq, Lq]
            capture.record(module, stats, n_keys)

    attn_output = out.transpose(1, 2).contiguous()  # [B, Lq, Hq, Dv]
    return attn_output, None


def headentropy_mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """The mask the SDPA path would get: 4-D bool `[B, 1, Lq, Lk]` or None (see module doc)."""
    from transformers.masking_utils import sdpa_mask

    return sdpa_mask(*args, **kwargs)


_registered = False


def register() -> None:
    """Register the attention and mask functions with `transformers` (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, headentropy_attention_forward)
    AttentionMaskInterface.register(NAME, headentropy_mask)
    _registered = True
