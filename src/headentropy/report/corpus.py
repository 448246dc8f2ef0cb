"""The report of a corpus run, built from its aggregates (no per-token data): report.json + index.html."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import torch

from ..analysis._select import to_list
from ..analysis.aggregates import HIST_BINS, POSITION_BUCKETS
from ..corpus.runner import CorpusRun
from ..files import write_files_atomically
from .build import REPORT_HTML, REPORT_JSON, SHAPE_NOTES

CORPUS_FORMAT = "headentropy.corpus-report/1"


def _ranked(per_head: torch.Tensor, layers: list[int], descending: bool, k: int = 10) -> list[dict]:
    flat = per_head.flatten()
    order = [i for i in torch.argsort(flat, descending=descending).tolist() if torch.isfinite(flat[i])][:k]
    H = per_head.shape[1]
    return [{"layer": layers[i // H], "head": i % H, "mean_normalized_entropy": round(float(flat[i]), 4)} for i in order]


def build_corpus_report(run: CorpusRun, settings: dict) -> dict:
    agg = run.aggregate
    profile, heads, data = agg.profile(), agg.head_stats(), agg.data()
    findings = agg.diagnose()
    prof = profile.to_dict()
    prof["shape_note"] = SHAPE_NOTES[profile.shape]
    prof["spread_across_texts"] = to_list(torch.sqrt(agg.text_means.variance).float())  # std of per-text means
    prof["texts_with_data"] = [int(x) for x in agg.text_means.count.tolist()]
    head_dict = heads.to_dict()
    head_dict["histogram"] = agg.histogram.to(torch.int64).tolist()  # [L][H][bins] counts on [0, 1]
    head_dict["histogram_bins"] = HIST_BINS
    head_dict["most_focused"] = _ranked(heads.mean_normalized, agg.layers, descending=False)
    head_dict["least_focused"] = _ranked(heads.mean_normalized, agg.layers, descending=True)
    return {
        "format": CORPUS_FORMAT,
        "model": agg.model_name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": dict(settings),
        "corpus": {"texts": run.texts, "tokens": run.tokens, "truncated": run.truncated,
                   "bad_records": len(run.bad_records), "bad_examples": [list(b) for b in run.bad_records[:20]],
                   "shards": run.shards, "shards_computed": run.shards_computed, "seconds": round(run.seconds, 2)},
        "shape": {"batch": run.texts, "layers": len(agg.layers), "heads": agg.heads},
        "data": data.to_dict(),
        "profile": prof,
        "heads": head_dict,
        "position_profile": {"buckets": POSITION_BUCKETS, "bucket_start": [0] + [2 ** (b - 1) for b in range(1, POSITION_BUCKETS)],
                             "shannon_normalized": to_list(agg.position_profile().float())},
        "findings": [f.to_dict() for f in findings],
    }


def write_corpus_report(out_dir: str | Path, report: dict) -> Path:
    from .html import render_corpus_html

    write_files_atomically(out_dir, {REPORT_JSON: json.dumps(report, indent=1, allow_nan=False),
                                     REPORT_HTML: render_corpus_html(report)})
    return Path(out_dir) / REPORT_HTML


def corpus_summary_text(report: dict) -> str:
    from .summary import bar, fmt

    c, prof = report["corpus"], report["profile"]
    lines = [f"headentropy corpus profile: {report['model']}  ({c['texts']} texts, {c['tokens']} tokens, "
             f"{c['shards']} shard(s), {c['shards'] - c['shards_computed']} resumed; {c['bad_records']} bad record(s), "
             f"{c['truncated']} truncated)", ""]
    if not report["data"]["enough"]:
        lines += [f"Not analysed: {report['data']['reason']}", ""]
    lines.append(f"Layer profile (mean H / log n ± sd across texts; shape: {prof['shape']})")
    for layer, h, sd in zip(prof["layers"], prof["shannon_normalized"], prof["spread_across_texts"]):
        lines.append(f"  L{layer:02d} {bar(h)} {fmt(h)} ± {fmt(sd)}")
    lines.append("")
    if report["findings"]:
        lines.append(f"Findings ({len(report['findings'])}):")
        lines += [f"  [{f['severity']}] {f['kind']}: {f['evidence'].get('summary', '')}" for f in report["findings"]]
    else:
        lines.append("Findings: none")
    return "\n".join(lines)
