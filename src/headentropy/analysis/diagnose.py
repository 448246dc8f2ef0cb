"""`he.diagnose(trace)`: anomaly findings with evidence, causes and mitigations (DESIGN §10)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from . import thresholds as T
from ._select import raw
from .heads import HeadStats, head_stats
from .profile import LayerProfile, layer_profile
from .tokens import TokenStats, token_stats

SEVERITIES = ("info", "warning", "critical")

# kind -> (likely causes, mitigations), from DESIGN §10.
_KNOWLEDGE: dict[str, tuple[list[str], list[str]]] = {
    "entropy_collapse": (
        ["over-fitting / memorisation", "in RLHF, reward hacking narrows the model's focus"],
        ["entropy regularisation (a penalty on low attention entropy in the loss)", "higher sampling temperature"],
    ),
    "entropic_overload": (
        ["vanishing gradients: deep layers left untrained", "out-of-distribution input"],
        ["Pre-LN or RMSNorm", "clean, high-perplexity training data"],
    ),
    "attention_locking": (
        ["the KV-cache state drifted into a sink attractor", "RoPE failing beyond its trained context length"],
        ["sliding-window attention", "RoPE base-frequency scaling"],
    ),
    "flat_profile": (
        ["curse of depth: deep layers contribute little (e.g. Pre-LN variance growth)"],
        ["depth-scaled initialisation or LayerNorm scaling", "prune or merge the unused deep layers"],
    ),
    "head_redundancy": (
        ["heads of a layer learned the same pattern (mode collapse)"],
        ["prune the redundant heads (see head_stats().pruning_candidates)", "head-diversity regularisation"],
    ),
    "entropy_spike": (
        ["the model is guessing: spikes while generating named entities often precede hallucinations"],
        ["check the generated span against a source; retrieval or rejection sampling at the spike"],
    ),
    "non_finite": (
        ["NaN/inf attention scores: overflow in fp16, a diverged checkpoint, or bad inputs"],
        ["run in bf16/fp32", "check the inputs and the checkpoint for NaN weights"],
    ),
}
KINDS = tuple(_KNOWLEDGE)


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    severity: str  # one of SEVERITIES
    evidence: dict  # numbers from the trace: which layers/heads/tokens, the statistic, the threshold
    causes: list[str] = field(default_factory=list)
    mitigations: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return self.evidence.get("summary", self.kind)

    def to_dict(self) -> dict:
        return asdict(self)


def _finding(kind: str, severity: str, evidence: dict) -> Finding:
    causes, mitigations = _KNOWLEDGE[kind]
    return Finding(kind, severity, evidence, list(causes), list(mitigations))


def _heads_where(mask: torch.Tensor, layers: list[int], limit: int = 12) -> list[list[int]]:
    return [[layers[li], hi] for li, hi in mask.nonzero().tolist()[:limit]]


def _collapse_or_overload(heads: HeadStats) -> list[Finding]:
    per_head = heads.mean_normalized  # [L, H]
    known = torch.isfinite(per_head)
    n = int(known.sum())
    if n == 0:
        return []
    findings = []
    collapsed = known & (per_head < T.COLLAPSE_HEAD_ENTROPY)
    frac = int(collapsed.sum()) / n
    if frac >= T.COLLAPSE_HEAD_FRACTION:
        findings.append(_finding("entropy_collapse", "critical" if frac >= 0.9 else "warning", {
            "summary": f"{frac:.0%} of heads have mean normalised entropy < {T.COLLAPSE_HEAD_ENTROPY}",
            "statistic": "fraction of heads with mean normalised Shannon entropy below the head threshold",
            "value": round(frac, 4),
            "threshold": T.COLLAPSE_HEAD_FRACTION,
            "head_threshold": T.COLLAPSE_HEAD_ENTROPY,
            "model_mean_normalized_entropy": round(float(per_head[known].mean()), 4),
            "example_heads": _heads_where(collapsed, heads.layers),
        }))
    overloaded = known & (per_head > T.OVERLOAD_HEAD_ENTROPY)
    frac = int(overloaded.sum()) / n
    if frac >= T.OVERLOAD_HEAD_FRACTION:
        findings.append(_finding("entropic_overload", "critical" if frac >= 0.9 else "warning", {
            "summary": f"{frac:.0%} of heads have mean normalised entropy > {T.OVERLOAD_HEAD_ENTROPY}",
            "statistic": "fraction of heads with mean normalised Shannon entropy above the head threshold",
            "value": round(frac, 4),
            "threshold": T.OVERLOAD_HEAD_FRACTION,
            "head_threshold": T.OVERLOAD_HEAD_ENTROPY,
            "model_mean_normalized_entropy": round(float(per_head[known].mean()), 4),
            "example_heads": _heads_where(overloaded, heads.layers),
        }))
    return findings


def locking_statistic(trace) -> dict | None:
    """Median over (layer, head) of mean |H_t - H_{t-1}| over consecutive generated steps,
    divided by the same head's mean step over consecutive prompt positions.

    Near 1 while the model reads and writes ordinary text; near 0 when each decode step's
    attention entropy repeats the previous one. None when a sequence has fewer than
    LOCKING_MIN_STEPS generated positions.
    """
    h = raw(trace, "shannon", T.MIN_KEYS)  # [B, L, H, N]
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


def diagnose(
    trace,
    tokenizer=None,
    *,
    profile: LayerProfile | None = None,
    heads: HeadStats | None = None,
    tokens: TokenStats | None = None,
) -> list[Finding]:
    """Findings for one trace, most severe first. Pass precomputed analyses to avoid recomputing."""
    profile = profile or layer_profile(trace)
    heads = heads or head_stats(trace)
    tokens = tokens or token_stats(trace, tokenizer)
    findings: list[Finding] = []

    bad = trace.non_finite_count()
    if bad:
        findings.append(_finding("non_finite", "critical", {
            "summary": f"{bad} recorded statistics are NaN/inf at valid positions",
            "statistic": "count of non-finite statistics at valid positions",
            "value": bad,
            "threshold": 0,
        }))

    level = _collapse_or_overload(heads)
    findings += level
    explained = bool(level)  # a collapsed/overloaded model is flat and uniform across heads too

    if profile.shape == "flat" and not explained:
        findings.append(_finding("flat_profile", "warning", {
            "summary": f"layer profile is flat (range {profile.shape_evidence.get('range')} < {T.FLAT_PROFILE_RANGE})",
            "statistic": "max - min of per-layer mean normalised entropy",
            "value": profile.shape_evidence.get("range"),
            "threshold": T.FLAT_PROFILE_RANGE,
            "profile": [None if v != v else round(float(v), 4) for v in profile.shannon_normalized.tolist()],
        }))

    if len(heads.low_variance_layers) >= T.REDUNDANT_LAYERS_MIN and not explained:
        var = {int(l): round(float(heads.inter_head_variance[heads.layers.index(l)]), 6) for l in heads.low_variance_layers}
        findings.append(_finding("head_redundancy", "info", {
            "summary": f"{len(var)} layer(s) whose heads all behave alike: {sorted(var)}",
            "statistic": "variance over heads of mean normalised entropy, per layer",
            "layers": var,
            "threshold": T.LOW_HEAD_VARIANCE,
            "redundant_pairs": heads.redundant_pairs[:10],
        }))

    lock = locking_statistic(trace)
    if lock is not None and lock["ratio"] < T.LOCKING_STEP_RATIO and not explained:
        findings.append(_finding("attention_locking", "warning", {
            "summary": (f"head entropy stopped moving over {lock['generated_steps']} generated tokens "
                        f"(step ratio {lock['ratio']:.3f} < {T.LOCKING_STEP_RATIO})"),
            "statistic": "median over heads of mean |ΔH| between generated steps / between prompt positions",
            "value": round(lock["ratio"], 4),
            "threshold": T.LOCKING_STEP_RATIO,
            "generated_steps": lock["generated_steps"],
        }))

    if tokens.spikes:
        findings.append(_finding("entropy_spike", "info", {
            "summary": f"{len(tokens.spikes)} generated token(s) with entropy >= {T.SPIKE_Z} sd above the prompt",
            "statistic": "z-score of per-token mean normalised entropy against prompt positions",
            "threshold": T.SPIKE_Z,
            "baseline_mean": round(tokens.prompt_mean, 4),
            "baseline_std": round(tokens.baseline_std, 4),
            "spikes": tokens.spikes[:20],
        }))

    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: order[f.severity])
