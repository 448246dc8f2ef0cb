"""The detector registry: one entry per finding kind (docs/design.md §3).

A detector is its kind, the minimum data it needs (in words), the thresholds it reads (names in
`thresholds.py`), its causes and mitigations, and one function from the analyses of a trace to
zero or more `(severity, evidence)` pairs. Adding a detector is one `@detector(...)` function here;
`diagnose()` and the report pick it up.

Evidence is a plain dict (it is written to report.json as is); its keys per kind are the
TypedDicts below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypedDict

import torch

from . import thresholds as T
from ._select import DataSufficiency, raw
from .heads import HeadStats
from .profile import LayerProfile
from .tokens import TokenStats
from ..trace import EntropyTrace


# ---- evidence shapes ----------------------------------------------------------------------

class _Evidence(TypedDict):
    summary: str  # one line for people
    statistic: str  # what was measured, in words
    threshold: float  # the named threshold it was compared with


class NonFiniteEvidence(_Evidence):
    value: int  # count of NaN/inf statistics at valid positions


class LevelEvidence(_Evidence):  # entropy_collapse, entropic_overload
    value: float  # fraction of heads beyond the head threshold
    head_threshold: float
    model_mean_normalized_entropy: float
    example_heads: list[list[int]]  # [layer, head]


class FlatProfileEvidence(_Evidence):
    value: float  # range of the per-layer profile
    profile: list[float | None]


class RedundancyEvidence(_Evidence):
    layers: dict[int, float]  # layer -> inter-head variance
    redundant_pairs: list[dict]


class LockingEvidence(_Evidence):
    value: float  # step ratio
    generated_steps: int


class SpikeEvidence(_Evidence):
    baseline_mean: float
    baseline_std: float
    spikes: list[dict]  # TokenStats.spikes entries


# ---- the registry -------------------------------------------------------------------------

@dataclass(frozen=True)
class Analyses:
    """What a detector may read: the trace and the analyses already computed from it."""

    trace: EntropyTrace | None  # None for corpus aggregates (detectors that need it are skipped)
    profile: LayerProfile
    heads: HeadStats
    tokens: TokenStats
    data: DataSufficiency


Detect = Callable[[Analyses], list[tuple[str, dict]]]  # -> [(severity, evidence)]


@dataclass(frozen=True)
class Detector:
    kind: str
    needs: str  # the minimum data, in words; below it the detector is silent
    thresholds: tuple[str, ...]  # names in analysis/thresholds.py
    causes: tuple[str, ...]
    mitigations: tuple[str, ...]
    detect: Detect
    needs_enough_data: bool = True  # silent when the trace fails data_sufficiency()
    explained_by: tuple[str, ...] = ()  # silent when one of these kinds fired (a consequence of it)
    needs_trace: bool = False  # reads per-token data (skipped on corpus aggregates)


DETECTORS: dict[str, Detector] = {}  # kind -> detector, in the order diagnose() runs them
_LEVEL = ("entropy_collapse", "entropic_overload")  # a collapsed/overloaded model is flat and uniform too


def detector(kind: str, *, needs: str, thresholds: tuple[str, ...], causes: tuple[str, ...],
             mitigations: tuple[str, ...], needs_enough_data: bool = True,
             explained_by: tuple[str, ...] = (), needs_trace: bool = False) -> Callable[[Detect], Detect]:
    def register(fn: Detect) -> Detect:
        DETECTORS[kind] = Detector(kind, needs, thresholds, causes, mitigations, fn, needs_enough_data, explained_by,
                                   needs_trace)
        return fn
    return register


def _heads_where(mask: torch.Tensor, layers: list[int], limit: int = 12) -> list[list[int]]:
    return [[layers[li], hi] for li, hi in mask.nonzero().tolist()[:limit]]


@detector("non_finite", needs="one valid position", thresholds=(),
          causes=("NaN/inf attention scores: overflow in fp16, a diverged checkpoint, or bad inputs",),
          mitigations=("run in bf16/fp32", "check the inputs and the checkpoint for NaN weights"),
          needs_enough_data=False, needs_trace=True)
def _non_finite(a: Analyses) -> list[tuple[str, dict]]:
    bad = a.trace.non_finite_count()
    if not bad:
        return []
    return [("critical", NonFiniteEvidence(
        summary=f"{bad} recorded statistics are NaN/inf at valid positions",
        statistic="count of non-finite statistics at valid positions", value=bad, threshold=0))]


def _level(a: Analyses, beyond: torch.Tensor, head_threshold: float, fraction: float, word: str) -> list:
    per_head = a.heads.mean_normalized  # [L, H]
    known = torch.isfinite(per_head)
    n = int(known.sum())
    if n == 0:
        return []
    hit = known & beyond
    frac = int(hit.sum()) / n
    if frac < fraction:
        return []
    return [("critical" if frac >= 0.9 else "warning", LevelEvidence(
        summary=f"{frac:.0%} of heads have mean normalised entropy {word} {head_threshold}",
        statistic=f"fraction of heads with mean normalised Shannon entropy {'below' if word == '<' else 'above'} the head threshold",
        value=round(frac, 4), threshold=fraction, head_threshold=head_threshold,
        model_mean_normalized_entropy=round(float(per_head[known].mean()), 4),
        example_heads=_heads_where(hit, a.heads.layers)))]


_MIN_DATA = f"{T.MIN_POSITIONS} positions that see >= {T.MIN_KEYS} keys"


@detector("entropy_collapse", needs=_MIN_DATA, thresholds=("COLLAPSE_HEAD_ENTROPY", "COLLAPSE_HEAD_FRACTION"),
          causes=("over-fitting / memorisation", "in RLHF, reward hacking narrows the model's focus"),
          mitigations=("entropy regularisation (a penalty on low attention entropy in the loss)",
                       "higher sampling temperature"))
def _collapse(a: Analyses) -> list[tuple[str, dict]]:
    per_head = a.heads.mean_normalized
    return _level(a, per_head < T.COLLAPSE_HEAD_ENTROPY, T.COLLAPSE_HEAD_ENTROPY, T.COLLAPSE_HEAD_FRACTION, "<")


@detector("entropic_overload", needs=_MIN_DATA, thresholds=("OVERLOAD_HEAD_ENTROPY", "OVERLOAD_HEAD_FRACTION"),
          causes=("vanishing gradients: deep layers left untrained", "out-of-distribution input"),
          mitigations=("Pre-LN or RMSNorm", "clean, high-perplexity training data"))
def _overload(a: Analyses) -> list[tuple[str, dict]]:
    per_head = a.heads.mean_normalized
    return _level(a, per_head > T.OVERLOAD_HEAD_ENTROPY, T.OVERLOAD_HEAD_ENTROPY, T.OVERLOAD_HEAD_FRACTION, ">")


@detector("flat_profile", needs=_MIN_DATA + ", in at least 2 layers", thresholds=("FLAT_PROFILE_RANGE",),
          causes=("curse of depth: deep layers contribute little (e.g. Pre-LN variance growth)",),
          mitigations=("depth-scaled initialisation or LayerNorm scaling", "prune or merge the unused deep layers"),
          explained_by=_LEVEL)
def _flat(a: Analyses) -> list[tuple[str, dict]]:
    if a.profile.shape != "flat":
        return []
    r = a.profile.shape_evidence["range"]
    return [("warning", FlatProfileEvidence(
        summary=f"layer profile is flat (range {r} < {T.FLAT_PROFILE_RANGE})",
        statistic="max - min of per-layer mean normalised entropy", value=r, threshold=T.FLAT_PROFILE_RANGE,
        profile=[None if v != v else round(float(v), 4) for v in a.profile.shannon_normalized.tolist()]))]


@detector("head_redundancy", needs=_MIN_DATA, thresholds=("LOW_HEAD_VARIANCE", "REDUNDANT_LAYERS_MIN"),
          causes=("heads of a layer learned the same pattern (mode collapse)",),
          mitigations=("prune the redundant heads (see head_stats().pruning_candidates)", "head-diversity regularisation"),
          explained_by=_LEVEL)
def _redundancy(a: Analyses) -> list[tuple[str, dict]]:
    heads = a.heads
    if len(heads.low_variance_layers) < T.REDUNDANT_LAYERS_MIN:
        return []
    var = {int(l): round(float(heads.inter_head_variance[heads.layers.index(l)]), 6) for l in heads.low_variance_layers}
    return [("info", RedundancyEvidence(
        summary=f"{len(var)} layer(s) whose heads all behave alike: {sorted(var)}",
        statistic="variance over heads of mean normalised entropy, per layer",
        layers=var, threshold=T.LOW_HEAD_VARIANCE, redundant_pairs=heads.redundant_pairs[:10]))]


def locking_statistic(trace: EntropyTrace) -> dict | None:
    """Median over (layer, head) of mean |H_t - H_{t-1}| over consecutive generated steps,
    divided by the same head's mean step over consecutive prompt positions.

    Near 1 while the model reads and writes ordinary text; near 0 when each decode step's
    attention entropy repeats the previous one. None when a sequence has fewer than
    LOCKING_MIN_STEPS generated positions.
    """
    h = raw(trace, "shannon")  # [B, L, H, N]
    ratios, steps = [], []
    for b in range(trace.batch):
        gen = trace.generated[b] & trace.valid[b]  # [N]
        prompt = ~trace.generated[b] & trace.valid[b]
        if int(gen.sum()) < T.LOCKING_MIN_STEPS:
            continue
        g_step = _mean_abs_step(h[b][..., gen])  # [L, H]
        p_step = _mean_abs_step(h[b][..., prompt])
        ok = torch.isfinite(g_step) & torch.isfinite(p_step) & (p_step > 0)
        if ok.any():
            ratios.append((g_step[ok] / p_step[ok]).median())
            steps.append(int(gen.sum()))
    if not ratios:
        return None
    return {"ratio": float(torch.stack(ratios).median()), "generated_steps": min(steps)}


def _mean_abs_step(x: torch.Tensor) -> torch.Tensor:
    """x [..., T] -> mean |x_t - x_{t-1}| over the last axis, ignoring NaN (NaN if none)."""
    d = (x[..., 1:] - x[..., :-1]).abs()
    return d.nanmean(dim=-1) if d.shape[-1] else torch.full(x.shape[:-1], float("nan"))


@detector("attention_locking", needs=f"{T.LOCKING_MIN_STEPS} generated tokens and a prompt of usable positions",
          thresholds=("LOCKING_MIN_STEPS", "LOCKING_STEP_RATIO"),
          causes=("the KV-cache state drifted into a sink attractor", "RoPE failing beyond its trained context length"),
          mitigations=("sliding-window attention", "RoPE base-frequency scaling"),
          explained_by=_LEVEL, needs_trace=True)
def _locking(a: Analyses) -> list[tuple[str, dict]]:
    lock = locking_statistic(a.trace)
    if lock is None or lock["ratio"] >= T.LOCKING_STEP_RATIO:
        return []
    return [("warning", LockingEvidence(
        summary=(f"head entropy stopped moving over {lock['generated_steps']} generated tokens "
                 f"(step ratio {lock['ratio']:.3f} < {T.LOCKING_STEP_RATIO})"),
        statistic="median over heads of mean |ΔH| between generated steps / between prompt positions",
        value=round(lock["ratio"], 4), threshold=T.LOCKING_STEP_RATIO, generated_steps=lock["generated_steps"]))]


@detector("entropy_spike", needs=f"{T.SPIKE_MIN_BASELINE} prompt positions that see >= {T.MIN_KEYS} keys, and generated tokens",
          thresholds=("SPIKE_Z", "SPIKE_MIN_BASELINE"),
          causes=("a generated token attends far more diffusely than the prompt's tokens did. It is not evidence "
                  "of a wrong answer: on the project's labelled QA benchmark (HALLUCINATION.md, SmolLM2) the "
                  "detector fired on about 1% of answers, mostly correct ones, and did not separate wrong from "
                  "correct answers",),
          mitigations=("for the confidence of an answer use he.ConfidenceScorer / he.ConfidenceGate (calibrated on "
                       "labelled answers, with its evidence in HALLUCINATION.md), not this finding",),
          needs_trace=True)
def _spike(a: Analyses) -> list[tuple[str, dict]]:
    tokens = a.tokens
    if not tokens.spikes:
        return []
    return [("info", SpikeEvidence(
        summary=f"{len(tokens.spikes)} generated token(s) with entropy >= {T.SPIKE_Z} sd above the prompt",
        statistic="z-score of per-token mean normalised entropy against prompt positions", threshold=T.SPIKE_Z,
        baseline_mean=round(tokens.prompt_mean, 4), baseline_std=round(tokens.baseline_std, 4),
        spikes=tokens.spikes[:20]))]
