"""Attention dropout: the counter-based keep-mask every backend regenerates (docs/design.md §1).

Dropout multiplies P by `Z / (1 - p)` before P·V, where `Z[b, h, i, j]` ∈ {0, 1} is a pure
function of `(seed, b, h, i, j)`: no mask is ever stored, the backward regenerates the same bits
tile by tile, and every backend (the fp64 reference, the torch blocked backend, the C++ kernel)
computes identical bits, so their outputs and gradients agree exactly as without dropout.

The hash (mirrored line by line in cpu/attention_entropy.cpp, `dropout_head_key` /
`dropout_keep`), all arithmetic on unsigned 32-bit words:

    fmix(x)   = murmur3's finaliser: x ^= x>>16; x *= 0x85ebca6b; x ^= x>>13; x *= 0xc2b2ae35; x ^= x>>16
    key(b, h) = fmix(fmix(fmix(fmix(seed_lo ^ 0x9e3779b9) ^ seed_hi) ^ b) ^ h)   # once per head
    row(i)    = fmix(key ^ i)                                                     # once per row
    u(i, j)   = fmix(row(i) ^ j)                                                  # once per score
    keep      = u >= threshold,  threshold = floor(p · 2^32)

`b`, `h` (the *query* head), `i`, `j` are the indices of the call (row i of q, key j of k).
fmix is a bijection with full avalanche, so for one head all (i, j) give distinct words and the
keep rate is 1 - threshold / 2^32 ≈ 1 - p. Each call draws a fresh 64-bit seed (from torch's
generator unless given), so there is no separate "offset": different layers and steps differ
through their seeds.

In PyTorch the words live in int64 tensors (no unsigned 32-bit dtype); products are split in
16-bit halves so no intermediate exceeds 2^49 and nothing depends on signed-overflow wrapping.
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
_M1 = 0x85EBCA6B
_M2 = 0xC2B2AE35


def threshold(p: float) -> int:
    """Scores whose hash word is below this are dropped: floor(p · 2^32), p in [0, 1)."""
    return min(int(p * 2.0**32), MASK32)


def draw_seed() -> int:
    """A 63-bit seed from torch's default CPU generator (so `torch.manual_seed` reproduces it)."""
    return int(torch.empty((), dtype=torch.int64).random_())


# --- the hash on plain Python ints (per head: B·Hq values) ------------------------------------


def _fmix_int(x: int) -> int:
    x ^= x >> 16
    x = (x * _M1) & MASK32
    x ^= x >> 13
    x = (x * _M2) & MASK32
    x ^= x >> 16
    return x


def head_key(seed: int, b: int, h: int) -> int:
    """The 32-bit key of head (b, h) for `seed` (any int; its low 64 bits are used)."""
    seed &= (1 << 64) - 1
    x = _fmix_int((seed & MASK32) ^ _GOLDEN)
    x = _fmix_int(x ^ (seed >> 32))
    x = _fmix_int(x ^ (b & MASK32))
    return _fmix_int(x ^ (h & MASK32))


def head_keys(seed: int, batch: int, heads: int, device) -> torch.Tensor:
    """int64 `[B, Hq]` of 32-bit head keys."""
    keys = [[head_key(seed, b, h) for h in range(heads)] for b in range(batch)]
    return torch.tensor(keys, dtype=torch.int64, device=device).view(batch, heads)


# --- the hash on int64 tensors holding 32-bit words (per row, per score) ----------------------


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x · c) mod 2^32 for words x < 2^32 in int64, without overflow: c split in 16-bit halves."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & MASK32


def _fmix(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = _mul32(x, _M1)
    x = x ^ (x >> 13)
    x = _mul32(x, _M2)
    return x ^ (x >> 16)


def keep_tile(
    keys: torch.Tensor, thresh: int, q_start: int, q_end: int, k_start: int, k_end: int
) -> torch.Tensor:
    """bool `[B, Hq, q_end - q_start, k_end - k_start]`: True where the score is kept.

    keys: int64 `[B, Hq]` from `head_keys`; rows and keys are absolute indices of the call.
    """
    device = keys.device
    rows = torch.arange(q_start, q_end, device=device, dtype=torch.int64)  # [bq]
    cols = torch.arange(k_start, k_end, device=device, dtype=torch.int64)  # [bk]
    row_words = _fmix(keys[:, :, None] ^ rows)  # [B, Hq, bq]
    return _fmix(row_words[..., None] ^ cols) >= thresh  # [B, Hq, bq, bk]
