"""Matplotlib figures of a report dict, as inline SVG strings (no files, no network).

Every function takes the report dict (report/build.py) and returns `<svg ...>...</svg>`. The
Agg backend is selected before pyplot is imported, so no display is ever needed.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # headless: never look for a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..analysis import thresholds as T  # noqa: E402

_STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller files, selectable labels
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SHANNON_COLOR = "#1f77b4"
RENYI_COLOR = "#ff7f0e"
GENERATED_COLOR = "#2ca02c"
SPIKE_COLOR = "#d62728"


def _arr(values) -> np.ndarray:
    """JSON list (None = missing) -> float array with NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _svg(fig, prefix: str) -> str:
    """Serialise `fig` to an SVG element whose ids are unique on the page (prefixed)."""
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML declaration and DOCTYPE
    # Several SVGs share one page: matplotlib's ids ("figure_1", "axes_1", ...) would repeat.
    ids = set(re.findall(r'id="([^"]+)"', text))
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'#([A-Za-z_][\w.\-]*)', lambda m: f"#{prefix}-{m.group(1)}" if m.group(1) in ids else m.group(0), text)
    return text


def layer_profile_svg(report: dict) -> str:
    prof = report["profile"]
    layers = prof["layers"]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.0))
        ax.plot(layers, _arr(prof["shannon_normalized"]), "o-", color=SHANNON_COLOR, ms=3, label="Shannon H / log n")
        ax.plot(layers, _arr(prof["renyi2_normalized"]), "s--", color=RENYI_COLOR, ms=3, label="Rényi-2 H₂ / log n")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
        ax.set_ylabel("mean normalised entropy")
        ax.set_ylim(0, 1)
        ax.set_title(f"Layer profile (shape: {prof['shape']})")
        ax.legend(frameon=False, loc="best")
        ax.grid(alpha=0.3)
        return _svg(fig, "lp")


def head_heatmap_svg(report: dict) -> str:
    heads = report["heads"]
    grid = np.array([_arr(row) for row in heads["mean_normalized"]])  # [L, H]
    layers = heads["layers"]
    with plt.rc_context(_STYLE):
        height = min(9.0, 1.2 + 0.16 * len(layers))
        fig, ax = plt.subplots(figsize=(max(3.8, 1.6 + 0.32 * grid.shape[1]), height))
        im = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       interpolation="nearest")
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(grid.shape[1]))
        step = max(1, len(layers) // 15)
        ax.set_yticks(range(0, len(layers), step), [str(layers[i]) for i in range(0, len(layers), step)])
        ax.set_title("Mean normalised entropy per head")
        fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03, label="H / log n")
        return _svg(fig, "hm")


def timeline_svg(report: dict, max_sequences: int = 4) -> str:
    """Per-position entropy of the first sequences; generated part shaded, spikes marked.

    Element ids on the page: `tl-generated-<b>` (the shaded span), `tl-spikes-<b>` (the markers).
    """
    seqs = report["sequences"][:max_sequences]
    spikes = report["tokens"]["spikes"]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(len(seqs), 1, figsize=(7.5, 2.3 * len(seqs)), squeeze=False)
        for b, (seq, ax) in enumerate(zip(seqs, axes[:, 0])):
            x = np.arange(len(seq["tokens"]))
            ax.plot(x, _arr(seq["entropy"]), color=SHANNON_COLOR, lw=1.2, label="Shannon")
            ax.plot(x, _arr(seq["renyi2"]), color=RENYI_COLOR, lw=0.9, alpha=0.7, label="Rényi-2")
            gen = np.array(seq["generated"], dtype=bool)
            if gen.any():
                start = int(np.argmax(gen))
                ax.axvspan(start - 0.5, len(gen) - 0.5, color=GENERATED_COLOR, alpha=0.12, label="generated",
                           gid=f"generated-{b}")
            # Spikes are indexed by trace position; the sequence lists which positions it shows.
            where = {p: i for i, p in enumerate(seq["positions"])}
            hits = [(where[s["position"]], s["entropy"]) for s in spikes if s["batch"] == b and s["position"] in where]
            if hits:
                ax.scatter(*zip(*hits), color=SPIKE_COLOR, marker="^", s=30, zorder=3, label="spike", gid=f"spikes-{b}")
            ax.set_ylim(0, 1)
            ax.set_xlim(-0.5, max(len(x) - 0.5, 0.5))
            ax.set_ylabel("H / log n")
            ax.set_title(f"Sequence {b}", fontsize=9, loc="left")  # the caption says what is plotted
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("token position")
        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
        # Above the first axes, right of its title: inside, it would hide the curve.
        axes[0, 0].legend(frameon=False, fontsize=8, ncol=4, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                          borderaxespad=0.1)
        fig.tight_layout()
        return _svg(fig, "tl")


def head_variance_svg(report: dict) -> str:
    heads = report["heads"]
    var = _arr(heads["inter_head_variance"])
    layers = heads["layers"]
    low = set(heads["low_variance_layers"])
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        colors = [SPIKE_COLOR if layer in low else SHANNON_COLOR for layer in layers]
        ax.bar(layers, np.nan_to_num(var), color=colors)
        ax.axhline(T.LOW_HEAD_VARIANCE, color="gray", ls="--", lw=1, label=f"redundancy threshold {T.LOW_HEAD_VARIANCE}")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("variance over heads")
        ax.set_title("Inter-head variance of mean normalised entropy (red: below threshold)")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3, axis="y")
        return _svg(fig, "hv")


def confidence_svg(report: dict, max_sequences: int = 4) -> str:
    """Confidence after each generated token (the scorer's streaming score), per sequence."""
    conf = report["confidence"]
    rows = conf["per_token"][:max_sequences]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        for b, values in enumerate(rows):
            ax.plot(np.arange(1, len(values) + 1), _arr(values), lw=1.3, marker="o", ms=2.5, label=f"sequence {b}")
        if conf.get("threshold") is not None:
            ax.axhline(conf["threshold"], color=SPIKE_COLOR, ls="--", lw=1, label="gate threshold")
        ax.set_ylim(0, 1)
        ax.set_xlabel("generated tokens so far")
        ax.set_ylabel("P(answer correct)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8, ncol=5, loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.1)
        fig.tight_layout()
        return _svg(fig, "conf")
