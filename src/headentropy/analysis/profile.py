"""Layer-wise entropy profile and its shape (docs/design.md §3: U / descent-ascent vs flat)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import thresholds as T
from ..trace import EntropyTrace
from ._select import data_sufficiency, finite_or_nan, json_fields, normalized, raw

SHAPES = ("u_shape", "descent_ascent", "descending", "ascending", "flat", "insufficient_data")


@dataclass(frozen=True)
class LayerProfile:
    layers: list[int]
    shannon_normalized: torch.Tensor  # [L] mean H / log n over valid positions, heads, batch
    renyi2_normalized: torch.Tensor  # [L]
    shannon: torch.Tensor  # [L] mean raw H (nats)
    renyi2: torch.Tensor  # [L] mean raw H2 (nats)
    shape: str  # one of SHAPES
    shape_evidence: dict  # the numbers the label was derived from

    def to_dict(self) -> dict:
        return json_fields(self)


def classify_shape(profile: torch.Tensor) -> tuple[str, dict]:
    """Label a per-layer profile [L] of mean normalised entropy.

    Statistic: range r = max - min. r < FLAT_PROFILE_RANGE → flat. Otherwise with the minimum at
    layer i*, the descent arm is y[0] - y[i*] and the ascent arm y[-1] - y[i*]; an arm counts
    when it is >= PROFILE_ARM_FRACTION·r. Two arms → u_shape when i* is in the middle half of the
    depth and the shorter arm is >= U_SHAPE_ARM_RATIO of the longer, else descent_ascent; one arm
    → descending / ascending; none (a hump) → the sign of y[-1] - y[0].
    """
    y = profile[torch.isfinite(profile)]
    if y.numel() < 2:  # no shape can be read from one point; "flat" would be a claim
        return "insufficient_data", {"reason": "fewer than 2 layers with a mean entropy"}
    top, bottom = float(y.max()), float(y.min())
    r = top - bottom
    i_min = int(torch.argmin(y))
    descent, ascent = float(y[0]) - bottom, float(y[-1]) - bottom
    evidence = {
        "range": round(r, 4),
        "flat_threshold": T.FLAT_PROFILE_RANGE,
        "min_layer_index": i_min,
        "descent": round(descent, 4),
        "ascent": round(ascent, 4),
        "arm_threshold": round(T.PROFILE_ARM_FRACTION * r, 4),
    }
    if r < T.FLAT_PROFILE_RANGE:
        return "flat", evidence
    arm = T.PROFILE_ARM_FRACTION * r
    has_descent, has_ascent = descent >= arm, ascent >= arm
    if has_descent and has_ascent:
        n = y.numel()
        middle = n / 4 <= i_min <= 3 * n / 4
        balanced = min(descent, ascent) >= T.U_SHAPE_ARM_RATIO * max(descent, ascent)
        return ("u_shape" if middle and balanced else "descent_ascent"), evidence
    if has_descent:
        return "descending", evidence
    if has_ascent:
        return "ascending", evidence
    return ("descending" if float(y[-1]) < float(y[0]) else "ascending"), evidence


def layer_profile(trace: EntropyTrace) -> LayerProfile:
    """Per-layer means over usable positions (`_select.usable_positions`), heads and batch."""

    def layer_mean(x: torch.Tensor) -> torch.Tensor:  # [B, L, H, N] -> [L]
        return finite_or_nan(x.transpose(0, 1).flatten(1).nanmean(dim=1))

    shannon_n = layer_mean(normalized(trace, "shannon"))
    renyi2_n = layer_mean(normalized(trace, "renyi2")) if trace.renyi2 is not None else torch.full_like(shannon_n, float("nan"))
    shannon = layer_mean(raw(trace, "shannon"))
    renyi2 = layer_mean(raw(trace, "renyi2")) if trace.renyi2 is not None else torch.full_like(shannon, float("nan"))
    shape, evidence = classify_shape(shannon_n)
    data = data_sufficiency(trace)
    if not data.enough:
        evidence = {"reason": data.reason}
    return LayerProfile(list(trace.layers), shannon_n, renyi2_n, shannon, renyi2, shape, evidence)
