"""`headentropy` command line: thin argument parsing around the library.

    headentropy report [--model smollm2|minilm|PATH] [--prompt TEXT | --prompt-file F | --dataset F.jsonl]
                       [--generate N] [--out DIR] [--backend NAME] [--device DEV] [--force]
    headentropy profile  (same inputs; JSON on stdout, nothing written)
    headentropy compare A B [--json]   (report folders, report.json files or trace files)
    headentropy backends

Errors a user can cause (unknown model, empty prompt, bad --out, ...) print one line
`headentropy: error: ...` and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_PROMPT = (
    "Explain in a few sentences how a transformer language model decides which earlier words "
    "to pay attention to, and why that matters for long documents."
)
DEFAULT_OUT = "headentropy-report"
_MODEL_NAMES = ("smollm2", "minilm")


class UserError(Exception):
    """A problem with the user's input: reported in one line, no traceback."""


# ---- inputs --------------------------------------------------------------------------------------

def read_prompts(args) -> tuple[list[str], str]:
    """The texts to analyse and a short description of where they came from."""
    given = [x for x in (args.prompt is not None, args.prompt_file, args.dataset) if x]
    if len(given) > 1:
        raise UserError("give only one of --prompt, --prompt-file, --dataset")
    if args.prompt_file:
        try:
            text = Path(args.prompt_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read --prompt-file {args.prompt_file}: {e}") from None
        if not text.strip():
            raise UserError(f"--prompt-file {args.prompt_file} is empty")
        return [text], f"file {args.prompt_file}"
    if args.dataset:
        return read_dataset(args.dataset), f"dataset {args.dataset}"
    if args.prompt is not None:
        if not args.prompt.strip():
            raise UserError("--prompt is empty")
        return [args.prompt], "--prompt"
    return [DEFAULT_PROMPT], "built-in prompt"


def read_dataset(path: str) -> list[str]:
    """Texts of a JSON-lines file (a `text` or `prompt` field per line). Bad lines are reported
    by line number on stderr and skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read --dataset {path}: {e}") from None
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            _warn(f"{path}:{number}: skipped, not JSON ({e.msg})")
            continue
        text = row.get("text", row.get("prompt")) if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            _warn(f"{path}:{number}: skipped, no non-empty 'text' or 'prompt' string field")
            continue
        texts.append(text)
    if not texts:
        raise UserError(f"--dataset {path} has no usable line")
    return texts


def _warn(message: str) -> None:
    print(f"headentropy: warning: {message}", file=sys.stderr)


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an existing --out that holds something other than a report, unless --force."""
    from .report import is_report_dir

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_report_dir(out) and not force:
        raise UserError(f"--out {out} is not empty and holds no headentropy report; use --force to write into it anyway")


# ---- running the model ---------------------------------------------------------------------------

def load(model_name: str, device: str | None, quiet: bool):
    import torch
    from tqdm import tqdm

    import headentropy as he

    if device:  # check before the slow load
        try:
            dev = torch.device(device)
        except RuntimeError as e:
            raise UserError(f"--device {device!r} is not a torch device: {str(e).splitlines()[0]}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA device is available here")
    if model_name not in _MODEL_NAMES and not Path(model_name).exists():
        raise UserError(f"unknown model {model_name!r}: expected {' or '.join(_MODEL_NAMES)} or an existing local folder")
    with tqdm(total=1, desc=f"loading {model_name}", disable=quiet, leave=False) as bar:
        try:
            model, tok = he.load_model(model_name)
        except ModuleNotFoundError as e:  # a missing model wheel says how to install it
            raise UserError(str(e)) from None
        except (OSError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"cannot load model {model_name!r}: {first}") from None
        bar.update()
    if device:
        try:
            model.to(torch.device(device))
        except (RuntimeError, AssertionError, ValueError) as e:
            raise UserError(f"cannot use --device {device}: {str(e).splitlines()[0]}") from None
    return model, tok


def can_generate(model) -> bool:
    try:
        return bool(model.can_generate())
    except AttributeError:
        return False


def encode(tok, text: str, chat: bool):
    """`[1, L]` input ids; the chat template for instruct models when generating."""
    if chat:
        ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                      return_tensors="pt")
        return ids if not hasattr(ids, "keys") else ids["input_ids"]  # transformers 5: BatchEncoding
    return tok(text, return_tensors="pt")["input_ids"]


class _StepBar:
    """A `generate(streamer=...)` that advances a progress bar per generated token."""

    def __init__(self, bar) -> None:
        self.bar, self.first = bar, True

    def put(self, value) -> None:
        if self.first:  # generate() first sends the prompt
            self.first = False
            return
        self.bar.update(1)

    def end(self) -> None:
        pass


def run_model(args, texts: list[str]) -> tuple[Any, Any, dict]:
    """Run the model on every text under the monitor; (trace, tokenizer, settings)."""
    import torch
    from tqdm import tqdm

    import headentropy as he
    from .report import stack_traces

    if args.generate < 0:
        raise UserError("--generate must be >= 0")
    model, tok = load(args.model, args.device, args.quiet)
    if args.generate and not can_generate(model):
        raise UserError(f"--generate needs a causal language model; {args.model!r} "
                        f"({type(model).__name__}) is an encoder. Run it without --generate.")
    chat = bool(args.generate) and bool(getattr(tok, "chat_template", None)) and not args.no_chat_template
    device = next(model.parameters()).device
    traces = []
    try:
        monitor = he.monitor(model, backend=args.backend)
    except ValueError as e:
        raise UserError(str(e)) from None
    with tqdm(total=len(texts), desc="texts", disable=args.quiet or len(texts) == 1, leave=False) as texts_bar:
        for text in texts:
            ids = encode(tok, text, chat).to(device)  # [1, L]
            try:
                with monitor, torch.inference_mode():
                    if args.generate:
                        with tqdm(total=args.generate, desc="generating", disable=args.quiet, leave=False) as bar:
                            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
                            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.generate,
                                           do_sample=False, pad_token_id=pad, streamer=_StepBar(bar))
                    else:
                        model(input_ids=ids, attention_mask=torch.ones_like(ids))
            except (ValueError, RuntimeError) as e:
                if "backend" in str(e):  # an unusable --backend is found when the monitor starts
                    raise UserError(str(e).splitlines()[0]) from None
                raise
            traces.append(monitor.trace)
            texts_bar.update()
    settings = {
        "model": args.model,
        "backend": args.backend,
        "device": str(device),
        "generate": args.generate,
        "chat_template": chat,
        "input": args.source,
        "texts": len(texts),
    }
    return stack_traces(traces), tok, settings


# ---- terminal output -----------------------------------------------------------------------------

_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: float | None, width: int = 30) -> str:
    """A horizontal bar of `value` in [0, 1] with eighth-block resolution."""
    if value is None:
        return "n/a".ljust(width)
    eighths = round(min(max(value, 0.0), 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[rest] if rest else "")).ljust(width)


def summary_text(report: dict, html_path: Path | None = None) -> str:
    prof, tokens = report["profile"], report["tokens"]
    lines = [f"headentropy report: {report['model']}  ({report['shape']['batch']} text(s), "
             f"{report['shape']['positions']} positions, {report['shape']['generated']} generated)",
             "", f"Layer profile (mean H / log n; shape: {prof['shape']})"]
    for layer, h in zip(prof["layers"], prof["shannon_normalized"]):
        lines.append(f"  L{layer:02d} {bar(h)} {'n/a' if h is None else f'{h:.3f}'}")
    gm = tokens["generated_mean"]
    lines.append(f"Mean entropy: prompt {tokens['prompt_mean']:.3f}" + (f", generated {gm:.3f}" if gm is not None else ""))
    lines.append("")
    if report["findings"]:
        lines.append(f"Findings ({len(report['findings'])}):")
        for f in report["findings"]:
            ev = f["evidence"]
            lines.append(f"  [{f['severity']}] {f['kind']}: {ev.get('summary', '')}")
            details = {k: ev[k] for k in ("statistic", "value", "threshold") if k in ev}
            if details:
                lines.append("      " + "; ".join(f"{k}: {v}" for k, v in details.items()))
            if f["mitigations"]:
                lines.append(f"      try: {f['mitigations'][0]}")
    else:
        lines.append("Findings: none (no diagnosis crossed its threshold)")
    if html_path is not None:
        lines += ["", f"Report: {html_path.resolve()}"]
    return "\n".join(lines)


# ---- subcommands ---------------------------------------------------------------------------------

def cmd_report(args) -> int:
    from .report import build_report, write_report

    out = Path(args.out)
    check_out_dir(out, args.force)  # before the slow part
    texts, args.source = read_prompts(args)
    trace, tok, settings = run_model(args, texts)
    report = build_report(trace, tok, settings=settings)
    html_path = write_report(out, report, trace)
    print(summary_text(report, html_path))
    return 0


def cmd_profile(args) -> int:
    from .report import build_report

    texts, args.source = read_prompts(args)
    trace, tok, settings = run_model(args, texts)
    report = build_report(trace, tok, settings=settings)
    report.pop("sequences")  # per-token text is for the page; scripts get tokens.per_position
    json.dump(report, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")
    return 0


def compare_reports(a: dict, b: dict) -> dict:
    """Per-layer deltas (b - a) and the findings that appeared / disappeared (by kind)."""
    def delta(key: str) -> list:
        xa, xb = a["profile"][key], b["profile"][key]
        return [None if (u is None or v is None) else round(v - u, 6) for u, v in zip(xa, xb)]

    kinds_a = {f["kind"] for f in a["findings"]}
    kinds_b = {f["kind"] for f in b["findings"]}
    out = {
        "a": {"model": a["model"], "shape": a["profile"]["shape"]},
        "b": {"model": b["model"], "shape": b["profile"]["shape"]},
        "layers_match": a["profile"]["layers"] == b["profile"]["layers"],
        "layers": a["profile"]["layers"] if len(a["profile"]["layers"]) <= len(b["profile"]["layers"]) else b["profile"]["layers"],
        "shannon_normalized_delta": delta("shannon_normalized"),
        "renyi2_normalized_delta": delta("renyi2_normalized"),
        "findings_appeared": sorted(kinds_b - kinds_a),
        "findings_disappeared": sorted(kinds_a - kinds_b),
        "findings_kept": sorted(kinds_a & kinds_b),
    }
    return out


def cmd_compare(args) -> int:
    from .report import load_report

    reports = []
    for path in (args.a, args.b):
        try:
            reports.append(load_report(path))
        except ValueError as e:
            raise UserError(str(e).splitlines()[0]) from None
    result = compare_reports(*reports)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"A: {args.a} ({result['a']['model']}, shape {result['a']['shape']})")
    print(f"B: {args.b} ({result['b']['model']}, shape {result['b']['shape']})")
    if not result["layers_match"]:
        print("note: the two reports have different layers; deltas cover the common prefix")
    print("Per-layer change of mean H / log n (B - A):")
    for layer, d, d2 in zip(result["layers"], result["shannon_normalized_delta"], result["renyi2_normalized_delta"]):
        if d is None:
            print(f"  L{layer:02d}   n/a")
            continue
        marker = "+" * min(20, round(abs(d) * 40)) if d > 0 else "-" * min(20, round(abs(d) * 40))
        d2s = "n/a" if d2 is None else f"{d2:+.3f}"
        print(f"  L{layer:02d} {d:+.3f} (Rényi-2 {d2s}) {marker}")
    print("Findings appeared:    " + (", ".join(result["findings_appeared"]) or "none"))
    print("Findings disappeared: " + (", ".join(result["findings_disappeared"]) or "none"))
    return 0


def cmd_backends(args) -> int:
    import torch

    import headentropy as he
    from .kernels.dispatch import resolve_backend

    auto = {"cpu": resolve_backend("auto", torch.device("cpu"))}
    if torch.cuda.is_available():
        auto["cuda"] = resolve_backend("auto", torch.device("cuda"))
    for name, status in he.backends().items():
        mark = "yes" if status.available else "no "
        print(f"{name:<10} {mark}  {'/'.join(status.devices):<22} {status.reason}")
    print("auto: " + ", ".join(f"{dev} -> {name}" for dev, name in auto.items()))
    return 0


# ---- argument parsing ----------------------------------------------------------------------------

def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="smollm2", help="smollm2 (default), minilm, or a local model folder")
    src = p.add_argument_group("input (one of; default: a built-in prompt)")
    src.add_argument("--prompt", help="the text to analyse")
    src.add_argument("--prompt-file", help="a UTF-8 file whose whole content is the text")
    src.add_argument("--dataset", help="a JSON-lines file with a 'text' or 'prompt' field per line")
    p.add_argument("--generate", type=int, default=0, metavar="N",
                   help="generate N tokens greedily after the prompt (causal models; chat template for instruct models)")
    p.add_argument("--no-chat-template", action="store_true", help="feed the prompt as plain text when generating")
    p.add_argument("--backend", default="auto", help="he.attention backend: auto (default), cpu, torch, triton, reference")
    p.add_argument("--device", default=None, help="torch device for the model, e.g. cpu or cuda (default: where it loads)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headentropy", description="Attention-head entropy reports for transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="run a model, write an HTML + JSON report and print a summary")
    _add_run_arguments(p)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("profile", help="like report, but print the analyses as JSON on stdout")
    _add_run_arguments(p)
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("compare", help="compare two saved reports or traces")
    p.add_argument("a", help="report folder, report.json or trace .safetensors")
    p.add_argument("b", help="report folder, report.json or trace .safetensors")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("backends", help="which attention backends are available here")
    p.set_defaults(func=cmd_backends)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return args.func(args)
    except UserError as e:
        print(f"headentropy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("headentropy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
