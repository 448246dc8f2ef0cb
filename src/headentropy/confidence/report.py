"""The report's "Answer confidence" section: per-token confidence and what a gate did."""

from __future__ import annotations

import json
from typing import Sequence

from ..trace import EntropyTrace
from .scorer import _SHIPPED, ConfidenceScorer
from .streaming import confidence_per_token


def shipped_scorer_for(trace: EntropyTrace) -> tuple[str, ConfidenceScorer] | None:
    """(name, scorer) of a shipped scorer fitted on this trace's model, or None."""
    if not _SHIPPED.is_dir():
        return None
    for folder in sorted(p for p in _SHIPPED.iterdir() if p.is_dir()):
        try:
            meta = json.loads((folder / "scorer.json").read_text())
        except (OSError, ValueError):
            continue
        if (meta.get("model_name"), meta.get("num_layers"), meta.get("num_heads")) == (
                trace.model_name, len(trace.layers), trace.num_heads):
            return folder.name, ConfidenceScorer.load(folder)
    return None


def _evidence(scorer: ConfidenceScorer) -> str:
    info = scorer.info
    held = info.get("held_out_domain")
    bench = info.get("benchmark") or {}
    text = f"calibrated on {info.get('rows', '?')} labelled answers to short factual questions"
    if info.get("groups"):
        text += f" ({', '.join(info['groups'])})"
    if held and "held_out_auroc" in bench:
        text += (f"; on the unseen domain '{held}' its AUROC was {bench['held_out_auroc']:.2f} against "
                 f"{bench['held_out_logprob_auroc']:.2f} for the token log-probability (HALLUCINATION.md)")
    elif isinstance(bench.get("held_out"), dict) and bench["held_out"]:  # several unseen domains
        text += "; on unseen domains its AUROC was " + ", ".join(
            f"{v['auroc']:.2f} on '{d}' (token log-probability {v['logprob_auroc']:.2f})"
            for d, v in bench["held_out"].items()) + " (HALLUCINATION.md)"
    return text


def confidence_section(scorer: ConfidenceScorer, trace: EntropyTrace, *, name: str = "",
                       threshold: float | None = None, gate: Sequence[dict] | None = None) -> dict | None:
    """The report dict's `confidence` entry, or None when nothing was generated.

    `gate`: per sequence `{"action", "detail"}` (what `headentropy generate --gate` did).
    """
    per_token = confidence_per_token(scorer, trace)  # [B, T]
    if per_token.numel() == 0:
        return None
    answer_len = (trace.generated & trace.valid).sum(-1).tolist()  # [B] answer positions per row
    rows = [per_token[b, :max(int(n), 1)].tolist() for b, n in enumerate(answer_len)]
    return {
        "scorer": name or scorer.model_name,
        "per_token": [[round(v, 4) for v in r] for r in rows],
        "final": [round(r[-1], 4) for r in rows],
        "threshold": threshold,
        "gate": list(gate) if gate else None,
        "note": (f"Probability that the answer is correct, after each generated token, from the scorer "
                 f"'{name or scorer.model_name}' ({_evidence(scorer)}). It is calibrated for short answers to "
                 "factual questions in the model's chat template; for other text it is outside its evidence."),
    }


def scored_section(trace: EntropyTrace) -> dict | None:
    """`confidence_section` with the shipped scorer for the trace's model, when there is one."""
    found = shipped_scorer_for(trace)
    if found is None or not bool((trace.generated & trace.valid).any()):
        return None
    name, scorer = found
    return confidence_section(scorer, trace, name=name)
