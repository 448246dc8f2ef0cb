"""The `"headentropy"` attention implementation for HuggingFace `transformers` (DESIGN §5).

Two functions are registered under the name `"headentropy"`:

* `headentropy_attention_forward` in `transformers.AttentionInterface`: computes attention with
  `he.attention(..., backend=ACTIVE_BACKEND.get())` ("auto" unless `monitor(backend=...)`) and returns exactly what `sdpa_attention_forward` returns
  (`attn_output` as `[B, L, H, D]`, `None`), so the model's outputs do not change;
* `headentropy_mask` in `transformers.masking_utils.AttentionMaskInterface`: builds the same mask
  the SDPA path gets (a 4-D bool mask, or `None` when a plain causal / full mask is enough).
  Without it `transformers` would hand the attention function no mask at all.

Masks. The 4-D mask HF builds already encodes padding, the KV-cache offset and sliding windows,
so it is passed as `attn_mask` with `causal=False`. When HF skips the mask (`None`: no padding,
plain causal prefill, a decode step, or an encoder without padding) the module's `is_causal`
decides, and `he.attention`'s bottom-right causal alignment matches the cache layout.

Dropout. In training mode with `dropout > 0` the statistics describe the softmax probabilities
*before* dropout (what the head "looks at"); the output is computed with dropout applied to the
probabilities, as the eager/SDPA paths do, by a separate materialised computation.

Recording. Statistics go to the recorder(s) in the `ACTIVE_RECORDERS` context variable; each
recorder decides whether it owns `module` (its model's attention modules). With no recorder the
function does only the attention work.
"""

from __future__ import annotations

import math
import weakref
from contextvars import ContextVar
from typing import Any, Protocol

import torch

from ..kernels import dispatch

NAME = "headentropy"
SINK_TOKENS = 4  # the sink mass is the probability on the first SINK_TOKENS keys of the sequence


class Recorder(Protocol):
    def record(self, module: torch.nn.Module, stats: dict[str, torch.Tensor], n_keys: torch.Tensor) -> bool:
        """Store the statistics of `module` if it belongs to this recorder; True if it did."""


# The recorders active in this context (thread / task). A tuple so that it is immutable and
# nested monitors on different models each see their own modules.
ACTIVE_RECORDERS: ContextVar[tuple[Recorder, ...]] = ContextVar("headentropy_recorders", default=())


# The backend the attention function asks `he.attention` for in this context; `monitor(model,
# backend=...)` sets it while its context is open ("auto" otherwise). With nested monitors the
# innermost one's choice applies to every model running in the context.
ACTIVE_BACKEND: ContextVar[str] = ContextVar("headentropy_backend", default="auto")


def _attention(q, k, v, **kwargs: Any):
    """`he.attention(..., backend=ACTIVE_BACKEND)`: the backend the innermost monitor chose."""
    return dispatch.attention(q, k, v, backend=ACTIVE_BACKEND.get(), **kwargs)


# n_keys is the same for every layer of one step: remember the last few (layers share the mask).
_N_KEYS_CACHE: dict[tuple, torch.Tensor] = {}
_LAST_MASK_N_KEYS: tuple = (None, None)  # (weakref to the last mask, its n_keys); swapped atomically


def _visible(mask: torch.Tensor) -> torch.Tensor:
    """Bool visibility of a bool or additive float mask (True = the key can be attended)."""
    if mask.dtype == torch.bool:
        return mask
    # HF's additive masks use -inf or the dtype's most negative value for "not attended".
    return mask > torch.finfo(mask.dtype).min / 2


def _n_keys_from_structure(
    batch: int, q_len: int, k_len: int, causal: bool, window: int | None, device: torch.device
) -> torch.Tensor:
    """Keys visible per query `[B, Lq]` without a mask (bottom-right causal alignment)."""
    key = (batch, q_len, k_len, causal, window, device)
    cached = _N_KEYS_CACHE.get(key)
    if cached is not None:
        return cached
    if len(_N_KEYS_CACHE) > 16:
        _N_KEYS_CACHE.clear()
    _N_KEYS_CACHE[key] = n = _n_keys_structure(batch, q_len, k_len, causal, window, device)
    return n


def _n_keys_from_mask(mask: torch.Tensor, batch: int, q_len: int) -> torch.Tensor:
    """Keys visible per query `[B, Lq]` from a 4-D mask (head 0: HF masks have one head)."""
    global _LAST_MASK_N_KEYS
    ref, n = _LAST_MASK_N_KEYS
    if ref is not None and ref() is mask and n.shape == (batch, q_len):
        return n
    vis = _visible(mask)  # [B|1, 1|H, Lq|1, Lk]
    n = vis[:, 0].sum(-1, dtype=torch.int32).expand(batch, q_len)  # [B, Lq]
    _LAST_MASK_N_KEYS = (weakref.ref(mask), n)
    return n


def _n_keys_structure(
    batch: int, q_len: int, k_len: int, causal: bool, window: int | None, device: torch.device
) -> torch.Tensor:
    if not causal:
        return torch.full((batch, q_len), k_len, dtype=torch.int32, device=device)
    n = torch.arange(q_len, device=device) + (k_len - q_len) + 1  # [Lq]
    n = n.clamp(min=0, max=k_len)
    if window is not None:
        n = n.clamp(max=window)
    return n.to(torch.int32).expand(batch, q_len)


def _combine_position_bias(
    position_bias: torch.Tensor, mask: torch.Tensor | None, causal: bool, q_len: int, k_len: int
) -> torch.Tensor:
    """One additive float mask from a learned position bias and the mask (T5-style models)."""
    neg_inf = torch.tensor(float("-inf"), dtype=position_bias.dtype, device=position_bias.device)
    if mask is None:
        if not causal:
            return position_bias
        i = torch.arange(q_len, device=position_bias.device)[:, None] + (k_len - q_len)
        j = torch.arange(k_len, device=position_bias.device)[None, :]
        return torch.where(j <= i, position_bias, neg_inf)  # [.., Lq, Lk]
    if mask.dtype == torch.bool:
        return torch.where(mask, position_bias, neg_inf)
    return position_bias + mask


def _dropout_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    causal: bool,
    window: int | None,
    scaling: float,
    softcap: float | None,
    dropout: float,
) -> torch.Tensor:
    """Materialised attention with dropout on the probabilities (training only). `[B, Hq, Lq, Dv]`."""
    group = query.shape[1] // key.shape[1]
    key = key.repeat_interleave(group, dim=1)  # [B, Hq, Lk, D]
    value = value.repeat_interleave(group, dim=1)  # [B, Hq, Lk, Dv]
    s = torch.matmul(query, key.transpose(-1, -2)) * scaling  # [B, Hq, Lq, Lk]
    if softcap is not None:
        s = softcap * torch.tanh(s / softcap)
    q_len, k_len = s.shape[-2:]
    if causal or window is not None:
        i = torch.arange(q_len, device=s.device)[:, None] + (k_len - q_len)
        j = torch.arange(k_len, device=s.device)[None, :]
        keep = j <= i
        if window is not None:
            keep = keep & (j > i - window)
        s = s.masked_fill(~keep, float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    p = torch.softmax(s.float(), dim=-1).nan_to_num(0.0).to(value.dtype)  # fully masked rows -> 0
    p = torch.nn.functional.dropout(p, p=dropout, training=True)
    return torch.matmul(p, value)


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
        mask = _combine_position_bias(position_bias, mask, causal, q_len, k_len)
        causal, window = False, None
    if softcap is not None and softcap <= 0:
        softcap = None  # some configs use 0 for "no soft-capping"
    scale = scaling if scaling is not None else 1.0 / math.sqrt(query.shape[-1])

    # Key slot of each row's first real token, when it is not slot 0 (left padding, or a
    # sliding-window cache that dropped old keys); the sink mass is then computed here.
    first_key = getattr(attention_mask, "_headentropy_first_key", None)  # [B] or None

    training_dropout = dropout > 0.0 and module.training
    result = _attention(
        query,
        key,
        None if training_dropout else value,
        causal=causal,
        attn_mask=mask,
        scale=float(scale),
        window=window,
        softcap=softcap,
        sink_tokens=SINK_TOKENS,
    )
    out = result.out
    if training_dropout:
        out = _dropout_attention(query, key, value, mask, causal, window, scale, softcap, dropout)

    recorders = ACTIVE_RECORDERS.get()
    if recorders:
        B = query.shape[0]
        if mask is None:
            n_keys = _n_keys_from_structure(B, q_len, k_len, causal, window, query.device)
        else:
            n_keys = _n_keys_from_mask(mask, B, q_len)
        stats = {
            "shannon": result.shannon,  # [B, Hq, Lq]
            "renyi2": result.renyi2,
            "sink_mass": result.sink_mass
            if first_key is None
            else _sink_mass(query, key, result.lse, mask, first_key, float(scale), softcap),
        }
        for recorder in recorders:
            if recorder.record(module, stats, n_keys):
                break

    attn_output = out.transpose(1, 2).contiguous()  # [B, Lq, Hq, Dv]
    return attn_output, None


def _sink_mass(
    query: torch.Tensor,  # [B, Hq, Lq, D]
    key: torch.Tensor,  # [B, Hkv, Lk, D]
    lse: torch.Tensor,  # [B, Hq, Lq] fp32, log-sum-exp of the row's scores
    mask: torch.Tensor,  # [B|1, 1|Hq, Lq, Lk] bool or additive
    first_key: torch.Tensor,  # [B] key slot of each row's first real token (may be < 0)
    scale: float,
    softcap: float | None,
) -> torch.Tensor:
    """Σ p_j over the first SINK_TOKENS real tokens of each row, from their scores and the lse. `[B, Hq, Lq]`."""
    B, Hq, Lq, D = query.shape
    Hkv, Lk = key.shape[1], key.shape[2]
    slots = first_key[:, None] + torch.arange(SINK_TOKENS, device=key.device)  # [B, S]
    in_cache = (slots >= 0) & (slots < Lk)  # [B, S]; keys that slid out of the window are gone
    idx = slots.clamp(0, Lk - 1)
    k_sink = torch.gather(key, 2, idx[:, None, :, None].expand(B, Hkv, SINK_TOKENS, D))  # [B, Hkv, S, D]
    q = query.reshape(B, Hkv, Hq // Hkv, Lq, D)  # GQA: query head h reads KV head h // group
    s = torch.matmul(q.float(), k_sink.float()[:, :, None].transpose(-1, -2)) * scale  # [B, Hkv, G, Lq, S]
    s = s.reshape(B, Hq, Lq, SINK_TOKENS)
    if softcap is not None:
        s = softcap * torch.tanh(s / softcap)
    m = mask.expand(B, mask.shape[1], Lq, Lk)
    m = torch.gather(m, 3, idx[:, None, None, :].expand(B, m.shape[1], Lq, SINK_TOKENS))  # [B, 1|Hq, Lq, S]
    if m.dtype == torch.bool:
        visible = m
    else:
        visible = _visible(m)
        s = s + m.float()
    visible = visible & in_cache[:, None, None, :]
    p = torch.exp(s - lse[..., None])  # [B, Hq, Lq, S]
    p = torch.where(visible & torch.isfinite(lse)[..., None], p, torch.zeros_like(p))
    return p.sum(-1)


def headentropy_mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    """The mask the SDPA path would get: 4-D bool `[B, 1, Lq, Lk]` or None (see module doc).

    A sliding-window cache drops old keys, so key slot 0 is then absolute position `kv_offset`.
    The mask carries that offset to the attention function, which uses it to keep the sink mass
    about the first tokens of the *sequence* (0 once they have left the window).
    """
    from transformers.masking_utils import sdpa_mask

    mask = sdpa_mask(*args, **kwargs)
    if isinstance(mask, torch.Tensor):
        kv_offset = kwargs.get("kv_offset", 0)
        kv_offset = kv_offset if isinstance(kv_offset, int) else int(kv_offset)
        padding = kwargs.get("attention_mask")  # [B, past + Lq] 2-D padding mask, or None
        first = torch.zeros(mask.shape[0], dtype=torch.long, device=mask.device)  # [B]
        if isinstance(padding, torch.Tensor) and padding.dim() == 2:
            first = padding.bool().to(torch.int8).argmax(dim=-1).to(mask.device)  # first real token
        first = first - kv_offset  # absolute position -> key slot
        if bool((first != 0).any()):
            mask._headentropy_first_key = first
    return mask


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
