"""`he.diagnose(trace)`: anomaly findings with evidence, causes and mitigations (docs/design.md §3).

The detectors themselves live in `detectors.py` (one registry entry per kind); this module runs
them in order and turns their output into `Finding`s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..trace import EntropyTrace
from ._select import data_sufficiency
from .detectors import DETECTORS, Analyses
from .heads import HeadStats, head_stats
from .profile import LayerProfile, layer_profile
from .tokens import TokenStats, token_stats

SEVERITIES = ("info", "warning", "critical")
KINDS = tuple(DETECTORS)


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    severity: str  # one of SEVERITIES
    evidence: dict  # numbers from the trace (keys per kind: the TypedDicts in detectors.py)
    causes: list[str] = field(default_factory=list)
    mitigations: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return self.evidence.get("summary", self.kind)

    def to_dict(self) -> dict:
        return asdict(self)


def diagnose(
    trace: EntropyTrace,
    tokenizer=None,
    *,
    profile: LayerProfile | None = None,
    heads: HeadStats | None = None,
    tokens: TokenStats | None = None,
) -> list[Finding]:
    """Findings for one trace, most severe first. Pass precomputed analyses to avoid recomputing.

    A trace with too little data (`analysis.data_sufficiency`) gets no finding except
    `non_finite`: every detector states the minimum data it needs and stays silent below it.
    """
    analyses = Analyses(
        trace=trace,
        profile=profile or layer_profile(trace),
        heads=heads or head_stats(trace),
        tokens=tokens or token_stats(trace, tokenizer),
        data=data_sufficiency(trace),
    )
    return run_detectors(analyses)


def run_detectors(analyses: Analyses) -> list[Finding]:
    """Every registered detector that has the data it needs, most severe finding first."""
    findings: list[Finding] = []
    for det in DETECTORS.values():
        if det.needs_enough_data and not analyses.data.enough:
            continue
        if det.needs_trace and analyses.trace is None:
            continue
        if any(f.kind in det.explained_by for f in findings):
            continue
        for severity, evidence in det.detect(analyses):
            findings.append(Finding(det.kind, severity, dict(evidence), list(det.causes), list(det.mitigations)))
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: order[f.severity])
