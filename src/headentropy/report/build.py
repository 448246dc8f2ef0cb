"""The report as one JSON-friendly dict: everything the HTML page and `compare` need.

Shape of the dict (`FORMAT` marks it; `report.json` is this dict)::

    {"format", "model", "settings", "profile", "heads", "tokens", "findings", "sequences"}

`sequences[b]` holds what the page shows per input text: the decoded `tokens`, the `generated`
mask and the per-token mean normalised `entropy` / `renyi2` (None where a position has no
normalised entropy, e.g. the first token, which sees one key).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import torch

from ..analysis import data_sufficiency, diagnose, head_stats, layer_profile, token_stats
from ..analysis._select import per_position, to_list
from ..analysis.tokens import token_texts
from ..files import write_files_atomically
from ..trace import STATS, TOKEN_STATS, EntropyTrace
from .summary import REQUIRED_KEYS

FORMAT = "headentropy.report/1"
REPORT_JSON = "report.json"
REPORT_HTML = "index.html"
TRACE_FILE = "trace.safetensors"


# What each profile shape means, in words that hold for every model (printed beside the label).
SHAPE_NOTES = {
    "u_shape": "high in the first and last layers, lowest in the middle.",
    "descent_ascent": ("falls from the first layers to a minimum, then rises towards the output; "
                       "the embedded SmolLM2 shows this on prompts of about 90 tokens."),
    "descending": ("falls with depth and does not rise again. Not by itself a sign of trouble: the "
                   "shape depends on the model and on the input (its length and kind); the U / "
                   "descent-ascent pattern is a hypothesis measured here on causal LMs with prompts "
                   "of about 90 tokens. Compare with a healthy run of the same model and input length."),
    "ascending": "rises with depth. Compare with a healthy run of the same model and input length.",
    "flat": "about the same in every layer (see the flat_profile finding, if any).",
    "insufficient_data": "no shape: too few tokens to read one.",
}


def stack_traces(traces: list[EntropyTrace]) -> EntropyTrace:
    """One trace from several (one per prompt of a dataset): batch rows, right-padded positions.

    Padding positions are `valid = False`, so every analysis skips them.
    """
    if len(traces) == 1:
        return traces[0]
    layers = traces[0].layers
    if any(t.layers != layers for t in traces):
        raise ValueError("traces record different layers and cannot be combined")
    n = max(t.num_positions for t in traces)

    def pad(x: torch.Tensor | None, fill) -> torch.Tensor | None:
        if x is None:
            return None
        extra = n - x.shape[-1]
        if extra == 0:
            return x
        filler = torch.full((*x.shape[:-1], extra), fill, dtype=x.dtype)
        return torch.cat([x, filler], dim=-1)

    cat = lambda name, fill: torch.cat([pad(getattr(t, name), fill) for t in traces], dim=0)  # noqa: E731
    stats = {s: (cat(s, float("nan")) if getattr(traces[0], s) is not None else None) for s in STATS}
    return EntropyTrace(
        **stats,
        valid=cat("valid", False),  # [B, N]
        generated=cat("generated", False),  # [B, N]
        token_ids=cat("token_ids", -1),  # [B, N]
        n_keys=cat("n_keys", 0),  # [B, L, N]
        layers=list(layers),
        model_name=traces[0].model_name,
        **{s: (cat(s, float("nan")) if all(getattr(t, s) is not None for t in traces) else None) for s in TOKEN_STATS},
    )


def _byte_level_decoder() -> dict[str, int]:
    """Byte-level BPE's printable stand-in character -> byte (the GPT-2 table): printable
    Latin-1 bytes stand for themselves, the other 68 bytes map to U+0100 onwards in order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _byte_pieces(tokenizer, token_id: int) -> str | None:
    """`<F0 9F>` for a byte-level BPE token that is part of a multi-byte character (decoding
    it alone gives U+FFFD); None when the token is not a byte-level piece."""
    piece = tokenizer.convert_ids_to_tokens(token_id)
    decoder = _byte_level_decoder()
    if not isinstance(piece, str) or not piece or any(c not in decoder for c in piece):
        return None
    raw = bytes(decoder[c] for c in piece)
    text = raw.decode("utf-8", errors="replace")
    if "\ufffd" not in text:
        return text
    lead = " " if raw[:1] == b" " else ""  # keep the word boundary visible
    return lead + "<" + " ".join(f"{b:02X}" for b in raw.lstrip(b" ")) + ">"


def _sequences(trace: EntropyTrace, tokenizer, spikes: list[dict]) -> list[dict]:
    texts = token_texts(trace, tokenizer) if tokenizer is not None else None
    if texts is not None:  # partial UTF-8 characters: show their bytes rather than U+FFFD
        for b, row in enumerate(texts):
            for n, text in enumerate(row):
                if "\ufffd" in text:
                    row[n] = _byte_pieces(tokenizer, int(trace.token_ids[b, n])) or text
    shannon = per_position(trace, "shannon")  # [B, N]
    renyi2 = per_position(trace, "renyi2") if trace.renyi2 is not None else torch.full_like(shannon, float("nan"))
    spiked = {(s["batch"], s["position"]) for s in spikes}
    out = []
    for b in range(trace.batch):
        keep = trace.valid[b].nonzero().flatten().tolist()  # padding is not shown
        out.append({
            "positions": keep,
            "tokens": [texts[b][n] if texts else f"#{int(trace.token_ids[b, n])}" for n in keep],
            "generated": [bool(trace.generated[b, n]) for n in keep],
            "entropy": to_list(shannon[b, keep]),
            "renyi2": to_list(renyi2[b, keep]),
            "spike": [(b, n) in spiked for n in keep],
        })
    return out


def build_report(trace: EntropyTrace, tokenizer=None, *, settings: dict[str, Any] | None = None,
                 confidence: dict | None = None) -> dict:
    """Analyse `trace` and return the report dict (see the module doc).

    `confidence`: `headentropy.confidence.report.confidence_section(...)`, shown as its own section.
    """
    profile = layer_profile(trace)
    heads = head_stats(trace)
    tokens = token_stats(trace, tokenizer)
    findings = diagnose(trace, tokenizer, profile=profile, heads=heads, tokens=tokens)
    profile_dict = profile.to_dict()
    profile_dict["shape_note"] = SHAPE_NOTES[profile.shape]
    return {
        "format": FORMAT,
        "model": trace.model_name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": dict(settings or {}),
        "shape": {"batch": trace.batch, "layers": len(trace.layers),
                  "heads": int(trace.stat("shannon").shape[2]), "positions": trace.num_positions,
                  "generated": int((trace.generated & trace.valid).sum())},
        "data": data_sufficiency(trace).to_dict(),
        "profile": profile_dict,
        "heads": heads.to_dict(),
        "tokens": tokens.to_dict(),
        "findings": [f.to_dict() for f in findings],
        "sequences": _sequences(trace, tokenizer, tokens.spikes),
        **({"confidence": confidence} if confidence else {}),
    }


def is_report_dir(path: Path) -> bool:
    """True when `path` holds a report written by this tool (its report.json carries FORMAT)."""
    try:
        return json.loads((path / REPORT_JSON).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_report(out_dir: str | Path, report: dict, trace: EntropyTrace | None = None) -> Path:
    """Write `index.html`, `report.json` (and the trace) into `out_dir`; returns the HTML path.

    All or nothing (`files.write_files_atomically`): on failure (a full disk, say) the folder's
    previous report is left as it was.
    """
    from .html import render_html

    files: dict[str, bytes | str] = {REPORT_JSON: json.dumps(report, indent=1, allow_nan=False)}
    if trace is not None:
        files[TRACE_FILE] = trace.to_bytes()
    files[REPORT_HTML] = render_html(report)
    write_files_atomically(out_dir, files)
    return Path(out_dir) / REPORT_HTML


def load_report(path: str | Path, tokenizer=None) -> dict:
    """A report dict from a report folder, a report.json, or a saved trace (analysed afresh)."""
    p = Path(path)
    if p.is_dir():
        if (p / REPORT_JSON).exists():
            p = p / REPORT_JSON
        elif (p / TRACE_FILE).exists():
            p = p / TRACE_FILE
        else:
            raise ValueError(f"{path} holds neither {REPORT_JSON} nor {TRACE_FILE}")
    if not p.exists():
        raise ValueError(f"{path} does not exist")
    if p.suffix == ".json":
        try:
            data = json.loads(p.read_text())
        except ValueError as e:
            raise ValueError(f"{p} is not valid JSON: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{p} is not a headentropy report (no format {FORMAT!r})")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise ValueError(f"{p} is not a complete report: it lacks {', '.join(missing)}")
        return data
    trace = EntropyTrace.load(p)  # ValueError naming the file when it is not a (complete) trace
    return build_report(trace, tokenizer, settings={"source": str(p)})
