"""Which keys a query sees, for callers that hold masks rather than an `AttentionProblem`.

The HF adapter receives HF's masks and position biases; these helpers turn them into the
quantities the statistics need (keys visible per query, where the sink tokens sit, one additive
mask from a position bias) with the same rules as `problem.py`: bottom-right causal alignment
(query i sits at key position i + Lk - Lq), windows `(i - window, i]`, bool masks True = attend,
additive masks with -inf (or the dtype's most negative value) for "not attended".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def visible_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Bool visibility of a bool or additive float mask (True = the key can be attended)."""
    if mask.dtype == torch.bool:
        return mask
    # HF's additive masks use -inf or the dtype's most negative value for "not attended".
    return mask > torch.finfo(mask.dtype).min / 2


def causal_visible(q_len: int, k_len: int, window: int | None, device: torch.device) -> torch.Tensor:
    """bool [Lq, Lk]: bottom-right aligned causal (and window) visibility."""
    q_pos = torch.arange(q_len, device=device)[:, None] + (k_len - q_len)  # [Lq, 1]
    k_pos = torch.arange(k_len, device=device)[None, :]  # [1, Lk]
    rel = q_pos - k_pos  # how far back the key is
    visible = rel >= 0
    if window is not None:
        visible &= rel < window
    return visible


def n_keys_structural(batch: int, q_len: int, k_len: int, causal: bool, window: int | None,
                      device: torch.device) -> torch.Tensor:
    """Keys visible per query `[B, Lq]` int32 when no mask is given (the causal/window rule)."""
    if not causal and window is None:
        return torch.full((batch, q_len), k_len, dtype=torch.int32, device=device)
    n = torch.arange(q_len, device=device) + (k_len - q_len) + 1  # [Lq]: keys 0..i+offset
    n = n.clamp(min=0, max=k_len)
    if window is not None:
        n = n.clamp(max=window)
    return n.to(torch.int32).expand(batch, q_len)


def n_keys_from_mask(mask: torch.Tensor, batch: int, q_len: int) -> torch.Tensor:
    """Keys visible per query `[B, Lq]` int32 from a 4-D mask `[B|1, 1|H, Lq|1, Lk]` (head 0)."""
    vis = visible_from_mask(mask)
    return vis[:, 0].sum(-1, dtype=torch.int32).expand(batch, q_len)


def combine_position_bias(position_bias: torch.Tensor, mask: torch.Tensor | None, causal: bool,
                          q_len: int, k_len: int) -> torch.Tensor:
    """One additive float mask from a learned position bias and the mask (T5-style models)."""
    neg_inf = torch.tensor(float("-inf"), dtype=position_bias.dtype, device=position_bias.device)
    if mask is None:
        if not causal:
            return position_bias
        return torch.where(causal_visible(q_len, k_len, None, position_bias.device), position_bias, neg_inf)
    if mask.dtype == torch.bool:
        return torch.where(mask, position_bias, neg_inf)
    return position_bias + mask


def first_key_slots(first_real: torch.Tensor, total_positions: int, k_len: int) -> torch.Tensor:
    """Key slot of each row's first real token `[B]` (may be < 0: it left the cache).

    `first_real` [B]: absolute position of each row's first non-padding token; `total_positions`:
    positions in the sequence so far, this step included. A cache shorter than that (a sliding
    window that dropped old keys) holds the last `k_len` positions, so slot 0 is absolute
    position `total_positions - k_len`; a longer one (a static cache's unused tail) starts at 0.
    """
    kv_offset = max(0, total_positions - k_len)
    return first_real - kv_offset


@dataclass(frozen=True)
class SinkSlots:
    """Where each row's sink keys sit in the cache and which of them it sees (`sink_slots`).

    One per step and mask: every layer of a step shares it, so only the scores are per layer.
    """

    idx: torch.Tensor  # [B, S] key slots, clamped into the cache
    visible: torch.Tensor  # [B, 1|Hq, Lq, S] bool: in the cache and allowed by the mask
    bias: torch.Tensor | None  # [B, 1|Hq, Lq, S] fp32 additive mask at those slots, or None


def sink_slots(
    first_key: torch.Tensor,  # [B] key slot of each row's first real token (may be < 0)
    mask: torch.Tensor | None,  # [B|1, 1|Hq, Lq, Lk] bool or additive, or None
    q_len: int,
    k_len: int,
    sink_tokens: int,
) -> SinkSlots:
    """The `sink_tokens` key slots from `first_key` on; slots outside the cache are not visible."""
    B = first_key.shape[0]
    slots = first_key[:, None] + torch.arange(sink_tokens, device=first_key.device)  # [B, S]
    in_cache = (slots >= 0) & (slots < k_len)  # [B, S]; keys that slid out of the window are gone
    idx = slots.clamp(0, max(k_len - 1, 0))
    visible = in_cache[:, None, None, :]  # [B, 1, 1, S]
    bias = None
    if mask is not None:
        m = mask.expand(B, mask.shape[1], q_len, k_len)
        m = torch.gather(m, 3, idx[:, None, None, :].expand(B, m.shape[1], q_len, sink_tokens))  # [B, 1|Hq, Lq, S]
        visible = visible & visible_from_mask(m)
        if m.dtype != torch.bool:
            bias = m.float()
    return SinkSlots(idx, visible, bias)


def sink_mass_at(
    query: torch.Tensor,  # [B, Hq, Lq, D]
    key: torch.Tensor,  # [B, Hkv, Lk, D]
    lse: torch.Tensor,  # [B, Hq, Lq] fp32, log-sum-exp of each row's scores
    sinks: SinkSlots,
    scale: float,
    softcap: float | None,
) -> torch.Tensor:
    """Σ p_j over the sink keys `sinks` names, from their scores and the lse.

    `[B, Hq, Lq]`. For rows whose first real token is not key slot 0 (left padding, a sliding
    cache); slots outside the cache count 0. Differentiable (a loss may use the sink mass).
    """
    B, Hq, Lq, D = query.shape
    Hkv = key.shape[1]
    S = sinks.idx.shape[1]
    k_sink = torch.gather(key, 2, sinks.idx[:, None, :, None].expand(B, Hkv, S, D))  # [B, Hkv, S, D]
    q = query.reshape(B, Hkv, Hq // Hkv, Lq, D)  # GQA: query head h reads KV head h // group
    s = torch.matmul(q.float(), k_sink.float()[:, :, None].transpose(-1, -2)) * scale  # [B, Hkv, G, Lq, S]
    s = s.reshape(B, Hq, Lq, S)
    if softcap is not None:
        s = softcap * torch.tanh(s / softcap)
    if sinks.bias is not None:
        s = s + sinks.bias
    p = torch.exp(s - lse[..., None])  # [B, Hq, Lq, S]
    p = torch.where(sinks.visible & torch.isfinite(lse)[..., None], p, torch.zeros_like(p))
    return p.sum(-1)
