"""Plain-text views of report dicts: the terminal summary and the comparison of two reports."""

from __future__ import annotations

from pathlib import Path

_BLOCKS = " ▏▎▍▌▋▊▉█"
# Keys a report.json must hold to be summarised or compared (build_report writes them all).
REQUIRED_KEYS = ("format", "model", "shape", "profile", "heads", "tokens", "findings")


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def bar(value: float | None, width: int = 30) -> str:
    """A horizontal bar of `value` in [0, 1] with eighth-block resolution."""
    if value is None:
        return "n/a".ljust(width)
    eighths = round(min(max(value, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[rest] if rest else "")).ljust(width)


def generated_note(report: dict) -> str | None:
    """Why fewer positions than requested tokens are marked generated (or None)."""
    requested = report.get("settings", {}).get("generate") or 0
    if not requested:
        return None
    return (f"{report['shape']['generated']} generated position(s) measured for {requested} requested "
            "token(s) per text: the last token produced is never fed back to the model, so it has no "
            "attention row (fewer still when the model stopped at its end-of-sequence token)")


def summary_text(report: dict, html_path: Path | None = None) -> str:
    """The terminal summary of a report dict (n/a wherever a statistic has no data)."""
    prof, tokens, shape = report["profile"], report["tokens"], report["shape"]
    lines = [f"headentropy report: {report['model']}  ({shape['batch']} text(s), "
             f"{shape['positions']} positions, {shape['generated']} generated)"]
    note = generated_note(report)
    if note:
        lines.append(f"  note: {note}")
    data = report.get("data", {})
    if data and not data.get("enough", True):
        lines += ["", f"Not analysed: {data['reason']}"]
    lines += ["", f"Layer profile (mean H / log n; shape: {prof['shape']})"]
    if prof.get("shape_note"):
        lines.append(f"  {prof['shape_note']}")
    for layer, h in zip(prof["layers"], prof["shannon_normalized"]):
        lines.append(f"  L{layer:02d} {bar(h)} {fmt(h)}")
    gm = tokens["generated_mean"]
    lines.append(f"Mean entropy: prompt {fmt(tokens['prompt_mean'])}" + (f", generated {fmt(gm)}" if shape["generated"] else ""))
    lines.append("")
    if report["findings"]:
        lines.append(f"Findings ({len(report['findings'])}):")
        for f in report["findings"]:
            ev = f["evidence"]
            lines.append(f"  [{f['severity']}] {f['kind']}: {ev.get('summary', '')}")
            details = {k: ev[k] for k in ("statistic", "value", "threshold") if k in ev}
            if details:
                lines.append("      " + "; ".join(f"{k}: {v}" for k, v in details.items()))
            for spike in ev.get("spikes", [])[:10]:
                lines.append(f"      text {spike['batch']}, position {spike['position']}: "
                             f"{spike.get('text')!r} (entropy {fmt(spike['entropy'])}, z {spike['z']:.1f})")
            if f["mitigations"]:
                lines.append(f"      try: {f['mitigations'][0]}")
    elif data and not data.get("enough", True):
        lines.append("Findings: none (not enough tokens to diagnose anything)")
    else:
        lines.append("Findings: none (no diagnosis crossed its threshold)")
    if html_path is not None:
        lines += ["", f"Report: {html_path.resolve()}"]
    return "\n".join(lines)


def compare_reports(a: dict, b: dict) -> dict:
    """Per-layer deltas (b - a) and the findings that appeared / disappeared (by kind)."""
    def delta(key: str) -> list:
        xa, xb = a["profile"][key], b["profile"][key]
        return [None if (u is None or v is None) else round(v - u, 6) for u, v in zip(xa, xb)]

    kinds_a = {f["kind"] for f in a["findings"]}
    kinds_b = {f["kind"] for f in b["findings"]}
    shorter = a if len(a["profile"]["layers"]) <= len(b["profile"]["layers"]) else b
    return {
        "a": {"model": a["model"], "shape": a["profile"]["shape"]},
        "b": {"model": b["model"], "shape": b["profile"]["shape"]},
        "layers_match": a["profile"]["layers"] == b["profile"]["layers"],
        "layers": shorter["profile"]["layers"],
        "shannon_normalized_delta": delta("shannon_normalized"),
        "renyi2_normalized_delta": delta("renyi2_normalized"),
        "findings_appeared": sorted(kinds_b - kinds_a),
        "findings_disappeared": sorted(kinds_a - kinds_b),
        "findings_kept": sorted(kinds_a & kinds_b),
    }


def comparison_text(result: dict, name_a: str, name_b: str) -> str:
    """The terminal view of `compare_reports`."""
    lines = [f"A: {name_a} ({result['a']['model']}, shape {result['a']['shape']})",
             f"B: {name_b} ({result['b']['model']}, shape {result['b']['shape']})"]
    if not result["layers_match"]:
        lines.append("note: the two reports have different layers; deltas cover the common prefix")
    lines.append("Per-layer change of mean H / log n (B - A):")
    for layer, d, d2 in zip(result["layers"], result["shannon_normalized_delta"], result["renyi2_normalized_delta"]):
        if d is None:
            lines.append(f"  L{layer:02d}   n/a")
            continue
        marker = ("+" if d > 0 else "-") * min(20, round(abs(d) * 40))
        d2s = "n/a" if d2 is None else f"{d2:+.3f}"
        lines.append(f"  L{layer:02d} {d:+.3f} (Rényi-2 {d2s}) {marker}")
    lines.append("Findings appeared:    " + (", ".join(result["findings_appeared"]) or "none"))
    lines.append("Findings disappeared: " + (", ".join(result["findings_disappeared"]) or "none"))
    return "\n".join(lines)
