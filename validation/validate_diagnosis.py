"""Each detector on healthy and induced real runs; writes the table into VALIDATION.md.

    .venv/bin/python validation/validate_diagnosis.py

Cases are described in validation/diagnosis_cases.py. For every case the table shows the
statistic of each detector next to its threshold and which findings fired, so the margins of
the thresholds in headentropy/analysis/thresholds.py are visible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import headentropy as he

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from markdown_block import write_block  # noqa: E402
from headentropy.analysis import diagnose, head_stats, layer_profile, thresholds as T
from headentropy.analysis.detectors import locking_statistic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import diagnosis_cases as cases  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NEW_TOKENS = 48


def summarize(name: str, trace, tok=None, expect: str = "none") -> dict:
    heads = head_stats(trace)
    per_head = heads.mean_normalized[torch.isfinite(heads.mean_normalized)]
    profile = layer_profile(trace)
    lock = locking_statistic(trace)
    kinds = sorted({f.kind for f in diagnose(trace, tok, profile=profile, heads=heads)})
    row = {
        "case": name,
        "expect": expect,
        "collapse": float((per_head < T.COLLAPSE_HEAD_ENTROPY).float().mean()),
        "overload": float((per_head > T.OVERLOAD_HEAD_ENTROPY).float().mean()),
        "range": profile.shape_evidence.get("range"),
        "shape": profile.shape,
        "locking": None if lock is None else lock["ratio"],
        "min_var": float(heads.inter_head_variance.min()),
        "fired": kinds,
    }
    print(row, flush=True)
    return row


def main() -> None:
    rows = []
    smol, tok = he.load_model("smollm2")
    healthy = []
    for prompt in cases.PROMPTS:
        trace, _ = cases.generate_trace(smol, tok, prompt, NEW_TOKENS)
        healthy.append(trace)
        rows.append(summarize(f"SmolLM2 greedy: {prompt[:32]}…", trace, tok))
    trace, _ = cases.generate_trace(smol, tok, cases.PROMPTS[0], NEW_TOKENS, do_sample=True, temperature=1.0)
    rows.append(summarize("SmolLM2 sampled T=1.0", trace, tok))
    minilm, mtok = he.load_model("minilm")
    rows.append(summarize("MiniLM, 3 sentences (padded batch)", cases.forward_trace(minilm, mtok, cases.SENTENCES), mtok))

    with cases.scaled_queries(smol, 30.0):
        trace, _ = cases.generate_trace(smol, tok, cases.PROMPTS[0], NEW_TOKENS)
    rows.append(summarize("SmolLM2, queries ×30", trace, tok, expect="entropy_collapse"))
    with cases.scaled_queries(smol, 0.0):
        trace, _ = cases.generate_trace(smol, tok, cases.PROMPTS[0], NEW_TOKENS)
    rows.append(summarize("SmolLM2, queries ×0", trace, tok, expect="entropic_overload"))
    trace, _ = cases.locking_trace(smol, tok, cases.PROMPTS[0], NEW_TOKENS)
    rows.append(summarize("SmolLM2, forced repetition", trace, tok, expect="attention_locking"))
    rows.append(summarize("SmolLM2, every layer = layer 12", cases.flat_trace(healthy[0], 12), tok,
                          expect="flat_profile"))

    lines = [
        "Command: `python validation/validate_diagnosis.py` — "
        f"{NEW_TOKENS} generated tokens per SmolLM2 case. Columns: fraction of heads with mean "
        f"normalised entropy < {T.COLLAPSE_HEAD_ENTROPY} (collapse, fires ≥ {T.COLLAPSE_HEAD_FRACTION}) and "
        f"> {T.OVERLOAD_HEAD_ENTROPY} (overload, fires ≥ {T.OVERLOAD_HEAD_FRACTION}); profile range "
        f"(flat < {T.FLAT_PROFILE_RANGE}); locking step ratio (fires < {T.LOCKING_STEP_RATIO}); "
        f"lowest inter-head variance (redundancy < {T.LOW_HEAD_VARIANCE}).",
        "",
        "| case | expected | collapse frac | overload frac | profile range (shape) | locking ratio | min head var | fired |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lock = "—" if r["locking"] is None else f"{r['locking']:.3f}"
        lines.append(f"| {r['case']} | {r['expect']} | {r['collapse']:.3f} | {r['overload']:.3f} | "
                     f"{r['range']:.3f} ({r['shape']}) | {lock} | {r['min_var']:.4f} | {', '.join(r['fired']) or 'none'} |")
    table = "\n".join(lines)
    print(table)
    write_block(ROOT / "VALIDATION.md", "validate_diagnosis", "Detectors on healthy and induced runs", table, "Validation")

if __name__ == "__main__":
    main()
