"""Independent fp64 ground truth in NumPy, written from DESIGN §2–3 without the library's helpers.

Used to check every backend, including `reference` (which shares the mask helpers with the
fused backends and so cannot be its own judge). Also the naive same-dtype PyTorch baseline
that the tolerance rule of DESIGN §7 measures errors against.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def visibility(lq: int, lk: int, causal: bool, window: int | None) -> np.ndarray:
    """bool [Lq, Lk]: query i (at key position i + Lk - Lq) may see key j."""
    vis = np.ones((lq, lk), dtype=bool)
    keys = np.arange(lk)
    for i in range(lq):
        pos = i + lk - lq
        if causal or window is not None:
            vis[i, keys > pos] = False
        if window is not None:
            vis[i, keys <= pos - window] = False
    return vis


def keep_mask(seed: int, p: float, B: int, Hq: int, Lq: int, Lk: int) -> np.ndarray:
    """bool [B, Hq, Lq, Lk] dropout keep-mask, from the hash as written in docs/design.md §1,
    in NumPy uint32 arithmetic (which wraps by definition): an independent check of the
    library's int64 version and of the C++ one."""
    def fmix(x):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x85EBCA6B)
        x = x ^ (x >> np.uint32(13))
        x = x * np.uint32(0xC2B2AE35)
        return x ^ (x >> np.uint32(16))

    with np.errstate(over="ignore"):
        seed &= (1 << 64) - 1
        x = fmix(np.uint32(seed & 0xFFFFFFFF) ^ np.uint32(0x9E3779B9))
        x = fmix(x ^ np.uint32(seed >> 32))
        x = fmix(x ^ np.arange(B, dtype=np.uint32)[:, None])  # [B, 1]
        key = fmix(x ^ np.arange(Hq, dtype=np.uint32)[None, :])  # [B, Hq]
        row = fmix(key[:, :, None] ^ np.arange(Lq, dtype=np.uint32))  # [B, Hq, Lq]
        u = fmix(row[..., None] ^ np.arange(Lk, dtype=np.uint32))  # [B, Hq, Lq, Lk]
    return u >= np.uint32(min(int(p * 2.0**32), 0xFFFFFFFF))


def oracle(q, k, v=None, *, causal=False, attn_mask=None, scale=None, window=None, softcap=None,
           sink_tokens=4) -> dict[str, np.ndarray]:
    """fp64 statistics and output, with P materialised row by row."""
    qn = q.double().numpy()  # [B, Hq, Lq, D]
    kn = k.double().numpy()  # [B, Hkv, Lk, D]
    B, Hq, Lq, D = qn.shape
    Hkv, Lk = kn.shape[1], kn.shape[2]
    group = Hq // Hkv
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    vis = visibility(Lq, Lk, causal, window)
    mask = None
    if attn_mask is not None:
        mask = attn_mask.expand(B, Hq, Lq, Lk)
        mask = mask.numpy() if mask.dtype == torch.bool else mask.double().numpy()
    vn = None if v is None else v.double().numpy()

    res = {name: np.zeros((B, Hq, Lq)) for name in ("shannon", "renyi2", "lse", "sink_mass")}
    res["out"] = None if vn is None else np.zeros((B, Hq, Lq, vn.shape[-1]))
    for b in range(B):
        for h in range(Hq):
            kv = h // group
            s = qn[b, h] @ kn[b, kv].T * scale  # [Lq, Lk]
            if softcap is not None:
                s = softcap * np.tanh(s / softcap)
            keep = vis.copy()
            if mask is not None:
                if mask.dtype == bool:
                    keep &= mask[b, h]
                else:
                    keep &= mask[b, h] != -np.inf
                    s = s + np.where(mask[b, h] == -np.inf, 0.0, mask[b, h])
            for i in range(Lq):
                idx = np.nonzero(keep[i])[0]
                if idx.size == 0:
                    res["lse"][b, h, i] = -np.inf
                    continue
                row = s[i, idx]
                mx = row.max()
                w = np.exp(row - mx)
                p = w / w.sum()
                res["lse"][b, h, i] = mx + np.log(w.sum())
                nz = p > 0
                res["shannon"][b, h, i] = -(p[nz] * np.log(p[nz])).sum()
                res["renyi2"][b, h, i] = -np.log((p * p).sum())
                res["sink_mass"][b, h, i] = p[idx < sink_tokens].sum()
                if vn is not None:
                    res["out"][b, h, i] = p @ vn[b, kv, idx]
    return res


def naive_same_dtype(q, k, v=None, *, causal=False, attn_mask=None, scale=None, window=None,
                     softcap=None, sink_tokens=4) -> dict[str, torch.Tensor]:
    """What a user would write in PyTorch, in the input dtype: the error yardstick of DESIGN §7."""
    B, Hq, Lq, D = q.shape
    Lk = k.shape[2]
    group = Hq // k.shape[1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    kk = k.repeat_interleave(group, dim=1)
    s = (q @ kk.transpose(-1, -2)) * scale  # [B, Hq, Lq, Lk], input dtype
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            s = s.masked_fill(~attn_mask, float("-inf"))
        else:
            s = s + attn_mask.to(s.dtype)
    vis = torch.from_numpy(visibility(Lq, Lk, causal, window))
    s = s.masked_fill(~vis, float("-inf"))
    p = torch.softmax(s, dim=-1)
    res = {
        "shannon": -torch.special.xlogy(p, p).sum(-1),
        "renyi2": -torch.log((p * p).sum(-1)),
        "lse": torch.logsumexp(s, dim=-1),
        "sink_mass": p[..., :sink_tokens].sum(-1),
        "out": None if v is None else p @ v.repeat_interleave(group, dim=1),
    }
    return res


def torch_oracle(q, k, v=None, *, causal=False, attn_mask=None, scale=None, window=None, softcap=None,
                 sink_tokens=4, dropout_p=0.0, dropout_seed=0) -> dict[str, torch.Tensor | None]:
    """Differentiable materialised attention in the dtype of q: the gradient ground truth.

    Called with fp64 inputs it is the fp64 reference the backward is judged against (autograd
    through the materialised P); with fp32/bf16 inputs it is the naive same-dtype PyTorch
    implementation whose error sets the tolerance (DESIGN §7). Written from DESIGN §2 without
    the library's helpers. Masked entries are excluded explicitly so that autograd never meets
    0·(−inf): fully masked rows give zero outputs *and* zero gradients, like the kernels.
    Runs on the inputs' device (the GPU tests use it on CUDA).
    `dropout_p > 0`: `out = (P ⊙ Z / (1 - p))·V` with Z = `keep_mask(dropout_seed, ...)`.
    """
    B, Hq, Lq, D = q.shape
    Lk = k.shape[2]
    group = Hq // k.shape[1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = (q @ k.repeat_interleave(group, dim=1).transpose(-1, -2)) * scale  # [B, Hq, Lq, Lk]
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    keep = torch.from_numpy(visibility(Lq, Lk, causal, window)).to(q.device).expand(B, Hq, Lq, Lk)
    if attn_mask is not None:
        mask = attn_mask.expand(B, Hq, Lq, Lk)
        if mask.dtype == torch.bool:
            keep = keep & mask
        else:
            keep = keep & (mask != float("-inf"))
            s = s + torch.where(keep, mask, torch.zeros_like(mask)).to(s.dtype).detach()
    empty = ~keep.any(dim=-1)  # [B, Hq, Lq]
    s = s.masked_fill(~keep, float("-inf")).masked_fill(empty[..., None], 0.0)  # empty rows: finite
    logp = torch.log_softmax(s, dim=-1).masked_fill(~keep, 0.0)  # [B, Hq, Lq, Lk]
    p = logp.exp().masked_fill(~keep, 0.0)
    zero = torch.zeros((), dtype=s.dtype)
    res = {
        "shannon": torch.where(empty, zero, -(p * logp).sum(-1)),
        "renyi2": torch.where(empty, zero, -torch.log((p * p).sum(-1))),
        "lse": torch.where(empty, torch.full((), float("-inf"), dtype=s.dtype), torch.logsumexp(s, dim=-1)),
        "sink_mass": torch.where(empty, zero, p[..., :sink_tokens].sum(-1)),
        "out": None,
    }
    if v is not None:
        p_v = p
        if dropout_p > 0:  # attention dropout on P·V only: the statistics above use P
            keep = torch.from_numpy(keep_mask(dropout_seed, dropout_p, B, Hq, Lq, Lk)).to(q.device)
            p_v = p.masked_fill(~keep, 0.0) / (1.0 - dropout_p)
        res["out"] = p_v.to(v.dtype) @ v.repeat_interleave(group, dim=1)  # empty rows: p = 0
    return res
