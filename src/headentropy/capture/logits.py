"""Per-token statistics of the model's logits, from the output of the same forward (no second pass).

For the token at position t: its log-probability and the entropy of the next-token distribution it
was drawn from, i.e. of the logits at position t - 1. Within a step those are the step's own
logits; for the step's first position they come from the previous step's last position (the
`carry`), which is how decode steps get theirs: `generate` feeds back the token sampled from the
previous step's logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch

from ..kernels.cpu.loader import KERNEL

# Positions per pass over the vocabulary on the torch path: 8 rows of a 49,152-token vocabulary
# (1.5 MiB fp32) stay in L2 through the ~5 elementwise passes; 128 rows streamed them through
# memory at twice the time.
_CHUNK = 8


@dataclass
class LogitCarry:
    """The previous step's last-position logits, to score the next step's first token."""

    logits: torch.Tensor  # [B, V] fp32
    lse: torch.Tensor  # [B]
    entropy: torch.Tensor  # [B] nats


def lse_entropy(logits: torch.Tensor, kernel: ModuleType | None) -> tuple[torch.Tensor, torch.Tensor]:
    """log-sum-exp and Shannon entropy (nats) of softmax(logits) over the last axis ([..., V] fp32).

    With `kernel` (the fused CPU extension) its one-row-at-a-time pass for CPU fp32 logits, else torch.
    """
    if kernel is not None and logits.device.type == "cpu" and logits.dtype == torch.float32:
        rows = logits.reshape(-1, logits.shape[-1]).contiguous()  # a view when already contiguous
        lse, h = kernel.logit_entropy(rows)
        return lse.view(logits.shape[:-1]), h.view(logits.shape[:-1])
    lse = torch.logsumexp(logits, dim=-1)
    p = torch.exp(logits - lse[..., None])
    # H = lse - Σ p·x; -inf logits (masked vocabulary) have p = 0 and must not give 0·inf = NaN
    px = torch.where(p > 0, p * logits, torch.zeros((), dtype=logits.dtype, device=logits.device))
    h = lse - px.sum(dim=-1)
    # a row of only -inf logits has no distribution: NaN, as the kernel gives (not -inf)
    return lse, torch.where(lse == float("-inf"), torch.full_like(h, float("nan")), h)


@torch.no_grad()
def token_logit_stats(
    logits: torch.Tensor, input_ids: torch.Tensor | None, q_len: int, carry: LogitCarry | None,
    kernel: ModuleType | None | str = "auto",
) -> tuple[dict[str, torch.Tensor], LogitCarry]:
    """`{"token_logprob", "predictive_entropy"}` `[B, q_len]` (NaN where unknown) and the new carry.

    logits `[B, K, V]`: the logits of the step's last K positions (K = q_len, or fewer when the
    model was asked for `logits_to_keep`); input_ids `[B, q_len]` or None (embeddings given).
    `kernel`: the fused CPU extension or None (torch); "auto" takes it when this process has
    already loaded it (the `cpu` backend ran), never building it here.
    """
    if kernel == "auto":
        kernel = KERNEL.loaded()
    B, K, V = logits.shape
    device = logits.device
    logprob = torch.full((B, q_len), float("nan"), dtype=torch.float32, device=device)
    entropy = torch.full((B, q_len), float("nan"), dtype=torch.float32, device=device)
    ids = input_ids.to(device).long().expand(B, q_len) if input_ids is not None else None

    if carry is not None and carry.logits.shape[0] == B:  # position 0: the previous step's logits
        entropy[:, 0] = carry.entropy
        if ids is not None:
            logprob[:, 0] = carry.logits.gather(1, ids[:, :1])[:, 0] - carry.lse
    # logits at step position j (j = q_len - K + i) predict the token at j + 1
    first = q_len - K
    for a in range(0, K - 1, _CHUNK):
        b = min(a + _CHUNK, K - 1)
        x = logits[:, a:b].float()  # [B, c, V]
        lse, h = lse_entropy(x, kernel)
        entropy[:, first + a + 1 : first + b + 1] = h
        if ids is not None:
            target = ids[:, first + a + 1 : first + b + 1]  # [B, c]
            logprob[:, first + a + 1 : first + b + 1] = x.gather(2, target[..., None])[..., 0] - lse
    last = logits[:, -1].to(torch.float32, copy=True)  # [B, V]; a copy: a view would keep all logits alive
    lse, h = lse_entropy(last, kernel)
    return {"token_logprob": logprob, "predictive_entropy": entropy}, LogitCarry(last, lse, h)
