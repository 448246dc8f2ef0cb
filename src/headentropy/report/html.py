"""One self-contained HTML page from a report dict: inline CSS and SVG, no script, no network.

Stable element ids (tests and users can link to them): `#summary`, `#layer-profile`,
`#head-heatmap`, `#timeline`, `#head-variance`, `#tokens`, `#findings`. Every piece of text that
comes from the model, the tokenizer or the user (tokens, prompts, evidence) goes through
`html.escape`; the only unescaped markup is the SVG matplotlib wrote.
"""

from __future__ import annotations

import json
from html import escape

import matplotlib

from . import plots
from .summary import fmt as _fmt, generated_note

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1rem 2rem 3rem; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; font-size: .9rem; } .meta code { background: #f3f3f3; padding: 0 .3em; }
figure { margin: .5rem 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .85rem; }
.tokens { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; line-height: 1.9;
          white-space: pre-wrap; word-break: break-word; border: 1px solid #ddd; padding: .6rem; border-radius: 4px; }
.tok { border-radius: 2px; padding: 1px 0; cursor: help; }
.tok.gen { text-decoration: underline 2px #2ca02c; text-underline-offset: 3px; }
.tok.na { color: #888; }
.tok.spike { outline: 2px solid #d62728; outline-offset: 1px; }
.spike-swatch { outline: 2px solid #d62728; outline-offset: 1px; }
.na-swatch { background: #eeeeee; color: #888; padding: 0 .3em; }
.insufficient { color: #8a5a00; background: #fff7e6; border: 1px solid #f0d9a8; padding: .5rem .8rem; border-radius: 4px; }
.legend span { display: inline-block; width: 1.6em; height: .9em; vertical-align: middle; }
.finding { border: 1px solid #ddd; border-left: 5px solid #888; border-radius: 4px; padding: .5rem .9rem; margin: .7rem 0; }
.finding.critical { border-left-color: #d62728; } .finding.warning { border-left-color: #ff7f0e; }
.finding.info { border-left-color: #1f77b4; }
.finding h3 { font-size: 1rem; margin: .2rem 0; } .sev { font-size: .75rem; text-transform: uppercase; color: #555; }
.finding pre { background: #f6f6f6; padding: .4rem; overflow-x: auto; font-size: .78rem; max-height: 14rem; }
.ok { color: #2a7a2a; }
table.stats { border-collapse: collapse; font-size: .88rem; } table.stats td { padding: .15rem .8rem .15rem 0; }
"""


def _color(value: float | None, lo: float = 0.0, hi: float = 1.0) -> str:
    """Background colour of a token: viridis of its entropy rescaled from [lo, hi], lightened."""
    if value is None:
        return "#eeeeee"
    x = (value - lo) / (hi - lo) if hi > lo else 0.5
    r, g, b, _ = matplotlib.colormaps["viridis"](min(max(x, 0.0), 1.0))
    mix = lambda c: int(255 * (0.45 * c + 0.55))  # noqa: E731 -- pastel, so dark text stays readable
    return f"#{mix(r):02x}{mix(g):02x}{mix(b):02x}"


def _color_range(report: dict) -> tuple[float, float]:
    """5th-95th percentile of the shown token entropies: real prompts span a narrow band of
    [0, 1], and a fixed [0, 1] scale would paint every token the same colour."""
    import numpy as np

    vals = np.array([v for seq in report["sequences"] for v in seq["entropy"] if v is not None], dtype=float)
    if vals.size < 2:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(vals, [5, 95]))
    return (lo, hi) if hi > lo else (0.0, 1.0)


def _tokens_html(report: dict, max_tokens: int = 4000) -> str:
    parts, shown = [], 0
    lo, hi = _color_range(report)
    for b, seq in enumerate(report["sequences"]):
        spans = []
        spikes = seq.get("spike") or [False] * len(seq["tokens"])
        for i, (text, gen, h, h2, pos, spike) in enumerate(zip(seq["tokens"], seq["generated"], seq["entropy"],
                                                               seq["renyi2"], seq["positions"], spikes)):
            if shown >= max_tokens:
                spans.append('<span class="tok na">… (truncated)</span>')
                break
            shown += 1
            title = (f"position {pos} · {'generated' if gen else 'prompt'} · token {text!r}\n"
                     f"Shannon H/log n = {_fmt(h)} · Rényi-2 H₂/log n = {_fmt(h2)}")
            if spike:
                title += "\nentropy spike (see the entropy_spike finding)"
            cls = "tok" + (" gen" if gen else "") + (" spike" if spike else "") + (" na" if h is None else "")
            spans.append(f'<span class="{cls}" data-pos="{pos}" style="background:{_color(h, lo, hi)}" '
                         f'title="{escape(title, quote=True)}">{escape(text)}</span>')
        parts.append(f'<h3>Sequence {b}</h3><div class="tokens" id="tokens-{b}">{"".join(spans)}</div>')
    legend = "".join(f'<span style="background:{_color(v / 10)}"></span>' for v in range(11))
    min_keys = report.get("data", {}).get("min_keys", 8)
    return (f'<p class="legend">mean H / log n ≤ {lo:.2f} (focused) {legend} ≥ {hi:.2f} (diffuse) · '
            f'<u>underlined</u>: generated · <span class="spike-swatch">outlined</span>: entropy spike · '
            f'<span class="na-swatch">grey</span>: no value (the token sees fewer than {min_keys} keys, '
            f'or the text is too short to analyse) · hover a token for its numbers</p>' + "".join(parts))


def _findings_html(findings: list[dict]) -> str:
    if not findings:
        return '<p class="ok" id="no-findings">No anomaly found: none of the diagnoses crossed its threshold.</p>'
    out = []
    for f in findings:
        evidence = {k: v for k, v in f["evidence"].items() if k != "summary"}
        causes = "".join(f"<li>{escape(c)}</li>" for c in f["causes"])
        mitigations = "".join(f"<li>{escape(m)}</li>" for m in f["mitigations"])
        out.append(
            f'<div class="finding {escape(f["severity"])}" data-kind="{escape(f["kind"])}">'
            f'<span class="sev">{escape(f["severity"])}</span>'
            f'<h3>{escape(f["kind"])}: {escape(str(f["evidence"].get("summary", "")))}</h3>'
            f'<details><summary>evidence</summary><pre>{escape(json.dumps(evidence, indent=1, ensure_ascii=False))}</pre></details>'
            f'<p><b>Likely causes</b></p><ul>{causes}</ul><p><b>Mitigations</b></p><ul>{mitigations}</ul></div>'
        )
    return "".join(out)


def _summary_html(report: dict) -> str:
    s, t = report["shape"], report["tokens"]
    settings = ", ".join(f"{escape(str(k))}=<code>{escape(str(v))}</code>" for k, v in report["settings"].items()
                         if k not in ("prompts",))
    rows = [
        ("sequences × layers × heads", f'{s["batch"]} × {s["layers"]} × {s["heads"]}'),
        ("positions (generated)", f'{s["positions"]} ({s["generated"]})'),
        ("profile shape", escape(report["profile"]["shape"]) + (
            f' <span class="meta">— {escape(report["profile"]["shape_note"])}</span>'
            if report["profile"].get("shape_note") else "")),
        ("mean entropy: prompt / generated", f'{_fmt(t["prompt_mean"])} / {_fmt(t["generated_mean"])}'),
        ("findings", str(len(report["findings"]))),
    ]
    table = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in rows)
    notes = [n for n in (generated_note(report), report.get("data", {}).get("reason")) if n]
    notes_html = "".join(f'<p class="meta">{escape(n)}</p>' for n in notes)
    return f'<p class="meta">{settings}</p><table class="stats">{table}</table>{notes_html}'


def render_html(report: dict) -> str:
    """The whole page as one string."""
    title = f"headentropy report — {report['model']}"
    figures = [
        ("layer-profile", "Layer profile", plots.layer_profile_svg,
         "Mean normalised entropy per layer (H / log n, 0 = one-hot, 1 = uniform). A hypothesis, not a "
         "rule: healthy causal LMs show a U-shape or descent-ascent (the embedded SmolLM2 does on "
         "~90-token prompts), and a flat line may mean deep layers are unused."),
        ("head-heatmap", "Layer × head", plots.head_heatmap_svg, "Mean normalised entropy of every head."),
        ("timeline", "Per-token entropy", plots.timeline_svg,
         "Mean over layers and heads per token; green: generated part; red triangles: spikes."),
        ("head-variance", "Inter-head variance", plots.head_variance_svg,
         "High: heads specialise. Near zero: heads behave alike (redundancy, pruning candidates)."),
    ]
    tokens = f'<section id="tokens"><h2>Tokens coloured by entropy</h2>{_tokens_html(report)}</section>'
    return _page(title, report, _summary_html(report),
                 _confidence_html(report) + _figure_sections(report, figures) + tokens)


def _confidence_html(report: dict) -> str:
    """The answer's confidence per generated token and what a gate did (when the run had a scorer)."""
    conf = report.get("confidence")
    if not conf:
        return ""
    parts = [f'<figure>{plots.confidence_svg(report)}<figcaption>{escape(conf["note"])}</figcaption></figure>']
    rows = []
    for b, final in enumerate(conf["final"]):
        gate = conf["gate"][b] if conf.get("gate") else None
        action = escape(gate["action"]) if gate else "—"
        detail = escape(gate["detail"]) if gate else ""
        rows.append(f"<tr><td>{b}</td><td><b>{_fmt(final)}</b></td><td>{action}</td><td>{detail}</td></tr>")
    parts.append('<table class="stats" id="confidence-table"><tr><th>sequence</th><th>confidence</th>'
                 f'<th>gate</th><th>what it did</th></tr>{"".join(rows)}</table>')
    return f'<section id="confidence"><h2>Answer confidence</h2>{"".join(parts)}</section>'



def _figure_sections(report: dict, figures: list[tuple]) -> str:
    """`<section>`s of (id, heading, plot function, caption); the data-sufficiency sentence instead
    of every chart when the report has too little data."""
    data = report.get("data", {})
    sections = []
    for fid, heading, fn, caption in figures:
        if data and not data.get("enough", True):  # no chart drawn from no data
            body = f'<p class="insufficient">{escape(data["reason"])}</p>'
        else:
            body = f'<figure>{fn(report)}<figcaption>{escape(caption)}</figcaption></figure>'
        sections.append(f'<section id="{fid}"><h2>{heading}</h2>{body}</section>')
    return "".join(sections)


def _page(title: str, report: dict, summary: str, sections: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<section id="summary">{summary}</section>
<section id="findings"><h2>Findings</h2>{_findings_html(report["findings"])}</section>
{sections}
<p class="meta">Generated {escape(report.get("created", ""))} by headentropy. Data: report.json next to this file.</p>
</body></html>
"""


def render_corpus_html(report: dict) -> str:
    """The page of a corpus run: summary, findings, layer profile, heatmap, inter-head variance."""
    title = f"headentropy corpus profile — {report['model']}"
    c = report["corpus"]
    rows = [("texts / tokens", f'{c["texts"]} / {c["tokens"]}'),
            ("bad records / truncated", f'{c["bad_records"]} / {c["truncated"]}'),
            ("profile shape", escape(report["profile"]["shape"]) + f' <span class="meta">— {escape(report["profile"]["shape_note"])}</span>'),
            ("findings", str(len(report["findings"])))]
    table = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in rows)
    settings = ", ".join(f"{escape(str(k))}=<code>{escape(str(v))}</code>" for k, v in report["settings"].items())
    figures = [("layer-profile", "Layer profile", plots.layer_profile_svg,
                "Mean normalised entropy per layer over every usable position of the corpus."),
               ("head-heatmap", "Layer × head", plots.head_heatmap_svg, "Mean normalised entropy of every head."),
               ("head-variance", "Inter-head variance", plots.head_variance_svg,
                "High: heads specialise. Near zero: heads behave alike (redundancy, pruning candidates).")]
    summary = f'<p class="meta">{settings}</p><table class="stats">{table}</table>'
    return _page(title, report, summary, _figure_sections(report, figures))
