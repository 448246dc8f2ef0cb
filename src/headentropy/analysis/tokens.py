"""Per-token entropy: prompt vs generated, and spikes while generating (docs/design.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import thresholds as T
from ..trace import EntropyTrace
from ._select import finite_or_nan, json_fields, normalized, per_position


@dataclass(frozen=True)
class TokenStats:
    per_position: torch.Tensor  # [B, N] mean normalised entropy over layers and heads (NaN: unusable)
    prompt_mean: float  # over prompt positions
    generated_mean: float  # over generated positions (NaN when nothing was generated)
    prompt_by_layer: torch.Tensor  # [L]
    generated_by_layer: torch.Tensor  # [L]
    baseline_std: float  # std of per_position over prompt positions: the spike yardstick
    spikes: list[dict]  # {"batch", "position", "token_id", "text", "entropy", "z"}

    def to_dict(self) -> dict:
        # the spike threshold rides along, before the spikes it selected
        return {**json_fields(self, skip=("spikes",)), "spike_z_threshold": T.SPIKE_Z, "spikes": self.spikes}


def token_texts(trace: EntropyTrace, tokenizer) -> list[list[str]]:
    """Decoded text of every position `[B][N]` ("" for padding or unknown ids)."""
    out = []
    for b in range(trace.batch):
        row = []
        for n in range(trace.num_positions):
            tid = int(trace.token_ids[b, n])
            ok = tokenizer is not None and tid >= 0 and bool(trace.valid[b, n])
            row.append(tokenizer.decode([tid]) if ok else "")
        out.append(row)
    return out


def token_stats(trace: EntropyTrace, tokenizer=None) -> TokenStats:
    pos = per_position(trace)  # [B, N]
    prompt = trace.valid & ~trace.generated  # [B, N]
    gen = trace.valid & trace.generated
    prompt_vals = pos[prompt & torch.isfinite(pos)]
    gen_vals = pos[gen & torch.isfinite(pos)]
    prompt_mean = float(prompt_vals.mean()) if prompt_vals.numel() else float("nan")
    gen_mean = float(gen_vals.mean()) if gen_vals.numel() else float("nan")
    std = float(prompt_vals.std(unbiased=False)) if prompt_vals.numel() >= 2 else float("nan")

    h = normalized(trace, "shannon")  # [B, L, H, N]

    def by_layer(sel: torch.Tensor) -> torch.Tensor:  # sel [B, N] -> [L]
        x = torch.where(sel[:, None, None, :], h, torch.full_like(h, float("nan")))
        return finite_or_nan(x.transpose(0, 1).flatten(1).nanmean(dim=1))

    spikes = []
    if prompt_vals.numel() >= T.SPIKE_MIN_BASELINE and std > 0:
        z = (pos - prompt_mean) / std  # [B, N]
        hits = gen & torch.isfinite(z) & (z >= T.SPIKE_Z)
        texts = token_texts(trace, tokenizer) if tokenizer is not None and hits.any() else None
        for b, n in hits.nonzero().tolist():
            spikes.append({
                "batch": b,
                "position": n,
                "token_id": int(trace.token_ids[b, n]),
                "text": texts[b][n] if texts else None,
                "entropy": round(float(pos[b, n]), 4),
                "z": round(float(z[b, n]), 2),
            })
    return TokenStats(pos, prompt_mean, gen_mean, by_layer(prompt), by_layer(gen), std, spikes)
