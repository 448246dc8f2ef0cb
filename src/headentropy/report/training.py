"""A training run's logged attention entropy, read back from TensorBoard event files, as a page.

    from headentropy.report.training import read_training_log, write_training_report
    report = read_training_log("out/runs")          # dict (training.json)
    write_training_report("train-report", report)    # index.html + training.json

The scalars are the ones `he.EntropyCallback` / `he.TrainingMonitor` produce
(`attention_entropy/...`), under whatever prefix the logger added (the Trainer writes
`train/attention_entropy/...`). Every folder under the log directory that holds event files is
one run (the Trainer writes one folder per run under `output_dir/runs/`). Read with the
`tensorboard` package's own event reader (`EventAccumulator`), so the numbers are exactly
what TensorBoard shows.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from html import escape
from pathlib import Path

from ..analysis import thresholds as T
from ..files import write_files_atomically

FORMAT = "headentropy.train-report/1"
KEY = "attention_entropy/"
ALARM_KINDS = ("entropy_collapse", "entropic_overload")
TRAINING_JSON = "training.json"
TRAINING_HTML = "index.html"
EVENT_GLOB = "events.out.tfevents."


class TrainingLogError(ValueError):
    """The log directory is missing, holds no event files, or none with attention-entropy scalars."""


# ---- reading -------------------------------------------------------------------------------------

def _event_files(logdir: Path) -> list[Path]:
    found = []
    for folder, _, names in os.walk(logdir):
        found += [Path(folder) / n for n in names if n.startswith(EVENT_GLOB)]
    return sorted(found)


def _read_scalars(path: Path) -> dict[str, list[tuple[float, int, float]]]:
    """tag -> [(wall_time, step, value)] of one event file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})  # 0: keep every point
    acc.Reload()
    return {tag: [(e.wall_time, e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _series(points: list[tuple[float, int, float]]) -> dict:
    """Sorted by step; a step logged twice (a resumed run) keeps its latest value."""
    by_step: dict[int, tuple[float, float]] = {}
    for wall, step, value in points:
        if step not in by_step or wall >= by_step[step][0]:
            by_step[step] = (wall, value)
    steps = sorted(by_step)
    return {"steps": steps, "values": [_num(by_step[s][1]) for s in steps]}


def _loss_tag(tags: list[str], prefix: str) -> str | None:
    for tag in (f"{prefix}loss", "train/loss", "loss"):
        if tag in tags:
            return tag
    return None


def read_training_log(logdir: str | Path) -> dict:
    """Every run under `logdir` with attention-entropy scalars, as a JSON-friendly dict."""
    logdir = Path(logdir)
    if not logdir.exists():
        raise TrainingLogError(f"log directory {logdir} does not exist")
    if not logdir.is_dir():
        raise TrainingLogError(f"{logdir} is not a folder (give the TensorBoard log directory)")
    files = _event_files(logdir)
    if not files:
        raise TrainingLogError(f"no TensorBoard event files ({EVENT_GLOB}*) under {logdir}")
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise TrainingLogError("reading TensorBoard logs needs the tensorboard package: "
                               "pip install 'headentropy[training]'") from None
    by_run: dict[str, dict[str, list]] = {}
    for path in files:
        name = str(path.parent.relative_to(logdir)) if path.parent != logdir else "."
        try:
            scalars = _read_scalars(path)
        except Exception as e:  # a truncated or foreign file: say which one
            why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TrainingLogError(f"cannot read event file {path}: {why}") from None
        run = by_run.setdefault(name, {})
        for tag, points in scalars.items():
            run.setdefault(tag, []).extend(points)
    runs = []
    for name in sorted(by_run):
        tags = by_run[name]
        ours = {tag: tag[tag.index(KEY):] for tag in tags if KEY in tag}
        if not ours:
            continue
        first = next(iter(ours))
        prefix = first[:first.index(KEY)]
        series = {key: _series(tags[tag]) for tag, key in sorted(ours.items(), key=lambda kv: kv[1])}
        loss_tag = _loss_tag(sorted(tags), prefix)
        runs.append(_run_dict(name, prefix, series, _series(tags[loss_tag]) if loss_tag else None, loss_tag))
    if not runs:
        raise TrainingLogError(
            f"no attention_entropy/... scalars in the {len(files)} event file(s) under {logdir} "
            "(log them with he.EntropyCallback(...).attach(trainer), or write he.TrainingMonitor's scalars)")
    return {"format": FORMAT, "logdir": str(logdir),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "thresholds": {"collapse_head_entropy": T.COLLAPSE_HEAD_ENTROPY,
                           "collapse_head_fraction": T.COLLAPSE_HEAD_FRACTION,
                           "overload_head_entropy": T.OVERLOAD_HEAD_ENTROPY,
                           "train_fall_ratio": T.TRAIN_FALL_RATIO},
            "runs": runs}


def _run_dict(name: str, prefix: str, series: dict, loss: dict | None, loss_tag: str | None) -> dict:
    layers = sorted((k[len(KEY) + len("layer_"):] for k in series if k.startswith(KEY + "layer_")), key=int)
    alarms = {}
    for kind in ALARM_KINDS:
        s = series.get(f"{KEY}alarm/{kind}")
        on = [step for step, v in zip(s["steps"], s["values"]) if v is not None and v >= 0.5] if s else []
        alarms[kind] = {"first": on[0] if on else None, "steps": on}
    mean = series.get(f"{KEY}mean", {"steps": [], "values": []})
    steps = sorted({s for v in series.values() for s in v["steps"]})
    last = lambda key: next((v for v in reversed(series.get(key, {}).get("values", [])) if v is not None), None)  # noqa: E731
    return {
        "name": name, "prefix": prefix, "layers": layers, "sampled_steps": len(mean["steps"]) or len(steps),
        "first_step": steps[0] if steps else None, "last_step": steps[-1] if steps else None,
        "last": {"mean": last(f"{KEY}mean"), "min_head": last(f"{KEY}min_head"),
                 "collapsed_heads": last(f"{KEY}collapsed_heads"), "sink_mass": last(f"{KEY}sink_mass")},
        "alarms": alarms, "series": series, "loss": loss, "loss_tag": loss_tag,
    }


# ---- plots ---------------------------------------------------------------------------------------

def _alarm_lines(ax, run: dict) -> None:
    colors = {"entropy_collapse": "#d62728", "entropic_overload": "#ff7f0e"}
    for kind, a in run["alarms"].items():
        if a["first"] is not None:
            ax.axvline(a["first"], color=colors[kind], ls="--", lw=1, label=f"{kind} (first at step {a['first']})")


def _arr(values):
    import numpy as np

    return np.array([np.nan if v is None else v for v in values], dtype=float)


def layers_svg(run: dict, prefix: str) -> str:
    from . import plots
    from .plots import MaxNLocator, plt

    with plt.rc_context(plots._STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        cmap = plt.get_cmap("viridis")
        n = max(len(run["layers"]), 1)
        for i, layer in enumerate(run["layers"]):
            s = run["series"][f"{KEY}layer_{layer}"]
            ax.plot(s["steps"], _arr(s["values"]), marker="o", ms=2, lw=1.1, color=cmap(i / max(n - 1, 1) * 0.9),
                    label=f"layer {int(layer)}")
        mean = run["series"].get(f"{KEY}mean")
        if mean:
            ax.plot(mean["steps"], _arr(mean["values"]), color="black", lw=1.6, ls=":", label="model mean")
        _alarm_lines(ax, run)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.set_ylabel("mean normalised entropy H / log n")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7, ncol=2 if n > 8 else 1, loc="center left", bbox_to_anchor=(1.0, 0.5))
        return plots._svg(fig, prefix)


def heads_svg(run: dict, prefix: str) -> str:
    from . import plots
    from .plots import MaxNLocator, plt

    with plt.rc_context(plots._STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 2.8))
        for key, label, color in ((f"{KEY}min_head", "lowest head (H / log n)", "#1f77b4"),
                                  (f"{KEY}collapsed_heads", "fraction of heads collapsed", "#d62728")):
            s = run["series"].get(key)
            if s:
                ax.plot(s["steps"], _arr(s["values"]), marker="o", ms=2, lw=1.2, color=color, label=label)
        ax.axhline(T.COLLAPSE_HEAD_ENTROPY, color="#1f77b4", lw=0.8, ls=":",
                   label=f"collapsed head: below {T.COLLAPSE_HEAD_ENTROPY}")
        ax.axhline(T.COLLAPSE_HEAD_FRACTION, color="#d62728", lw=0.8, ls=":",
                   label=f"collapse alarm: fraction ≥ {T.COLLAPSE_HEAD_FRACTION}")
        _alarm_lines(ax, run)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        return plots._svg(fig, prefix)


def loss_svg(run: dict, prefix: str) -> str:
    from . import plots
    from .plots import MaxNLocator, plt

    with plt.rc_context(plots._STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        ax.plot(run["loss"]["steps"], _arr(run["loss"]["values"]), lw=1.1, color="#444444", label=run["loss_tag"])
        _alarm_lines(ax, run)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        return plots._svg(fig, prefix)


# ---- the page ------------------------------------------------------------------------------------

def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _run_html(i: int, run: dict) -> str:
    alarms = "".join(
        f'<tr data-kind="{kind}"><td>{kind}</td><td><b>{"—" if a["first"] is None else a["first"]}</b></td>'
        f'<td>{escape(", ".join(map(str, a["steps"][:40])) + (" …" if len(a["steps"]) > 40 else "")) or "never"}</td></tr>'
        for kind, a in run["alarms"].items())
    last = run["last"]
    rows = [("sampled steps", f'{run["sampled_steps"]} (steps {run["first_step"]} – {run["last_step"]})'),
            ("layers", str(len(run["layers"]))),
            ("last mean / lowest head", f'{_fmt(last["mean"])} / {_fmt(last["min_head"])}'),
            ("last collapsed-head fraction / sink mass", f'{_fmt(last["collapsed_heads"])} / {_fmt(last["sink_mass"])}')]
    stats = "".join(f"<tr><td>{k}</td><td><b>{escape(v)}</b></td></tr>" for k, v in rows)
    figs = [(f"layers-{i}", "Entropy per layer", layers_svg(run, f"r{i}l"),
             "Mean normalised Shannon entropy per layer at each sampled step (dotted: the model mean); "
             "dashed verticals: the first step of each alarm."),
            (f"heads-{i}", "Lowest head and collapsed heads", heads_svg(run, f"r{i}h"),
             f"Lowest head's mean normalised entropy and the fraction of heads below {T.COLLAPSE_HEAD_ENTROPY}.")]
    if run["loss"]:
        figs.append((f"loss-{i}", "Loss", loss_svg(run, f"r{i}o"), f"The logged scalar {run['loss_tag']}."))
    fig_html = "".join(f'<h3 id="{fid}">{escape(h)}</h3><figure>{svg}<figcaption>{escape(c)}</figcaption></figure>'
                       for fid, h, svg, c in figs)
    return (f'<section class="run" id="run-{i}" data-run="{escape(run["name"], quote=True)}">'
            f'<h2>Run <code>{escape(run["name"])}</code></h2><table class="stats">{stats}</table>'
            f'<h3>Alarms</h3><table class="stats alarms" id="alarms-{i}">'
            f'<tr><th>alarm</th><th>first step</th><th>steps raised</th></tr>'
            f'{alarms}</table>{fig_html}</section>')


_EXTRA_CSS = "table.stats th { text-align: left; padding: .15rem .8rem .15rem 0; font-weight: 600; }"


def render_training_html(report: dict) -> str:
    from .html import _CSS

    title = "headentropy training report"
    raised = sum(1 for r in report["runs"] for a in r["alarms"].values() if a["first"] is not None)
    summary = (f'<p class="meta">log directory <code>{escape(report["logdir"])}</code> · '
               f'{len(report["runs"])} run(s) with attention-entropy scalars · {raised} alarm(s) raised</p>')
    runs = "".join(_run_html(i, r) for i, r in enumerate(report["runs"]))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}{_EXTRA_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<section id="summary">{summary}</section>
{runs}
<p class="meta">Generated {escape(report["created"])} by headentropy train-report. Data: {TRAINING_JSON} next to this file.</p>
</body></html>
"""


def write_training_report(out_dir: str | Path, report: dict) -> Path:
    write_files_atomically(out_dir, {TRAINING_JSON: json.dumps(report, indent=1, allow_nan=False),
                                     TRAINING_HTML: render_training_html(report)})
    return Path(out_dir) / TRAINING_HTML


def training_summary_text(report: dict, html_path: Path | None = None) -> str:
    lines = [f"headentropy train-report: {report['logdir']}  ({len(report['runs'])} run(s))"]
    for r in report["runs"]:
        last = r["last"]
        lines.append(f"  run {r['name']}: {r['sampled_steps']} sampled steps ({r['first_step']}–{r['last_step']}), "
                     f"{len(r['layers'])} layers; last mean {_fmt(last['mean'])}, lowest head {_fmt(last['min_head'])}, "
                     f"collapsed {_fmt(last['collapsed_heads'])}")
        for kind, a in r["alarms"].items():
            lines.append(f"    {kind}: " + ("never raised" if a["first"] is None else
                                            f"first at step {a['first']} (raised at {len(a['steps'])} sampled step(s))"))
    if html_path is not None:
        lines.append(f"\nReport: {Path(html_path).resolve()}")
    return "\n".join(lines)
