"""Corpus runs (issue 15): throughput, memory that does not grow with the corpus, Ray workers.

The corpus: paragraphs of the Python standard library's docstrings (English prose written by
people, no network), one JSONL record each, 6 to 400 words. Three measurements on SmolLM2:

* **throughput** — the first `--texts` records in `headentropy profile`'s own length-sorted
  batches (`corpus.runner._batches`). For every batch, back to back and in alternating order: a
  plain SDPA forward, and the corpus run's work (the forward under the monitor, the batch folded
  into the shard's `EntropyAggregate`). Tokens/s of each and their ratio (bar ≥ 0.95×). Then the
  whole `profile_corpus` (reading, tokenising, shard files, report aggregate) once, end to end.
* **memory** — peak RSS (ru_maxrss) of a fresh process running `profile_corpus` over 1,000 and
  over 10,000 texts (bar: within 10%).
* **workers** — the same `--worker-texts` through `profile_corpus` in this process and through
  `profile_corpus_ray` with 1 and 2 local Ray workers (one thread each); wall time includes Ray's
  start and each worker's model load, which is what a user waits for.

    python benchmarks/bench_corpus.py [--texts 2000] [--threads 1] [--write]
    python benchmarks/bench_corpus.py --from-results --write   # reformat the saved out/bench/corpus.json
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from harness import child_result, cpu_description, emit, interleaved, peak_rss_during, run_child

MIN_WORDS, MAX_WORDS = 6, 400


def docstring_paragraphs() -> list[str]:
    """Every paragraph of MIN_WORDS..MAX_WORDS words in the standard library's docstrings, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(stdlib.rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                for para in (doc or "").split("\n\n"):
                    words = para.split()
                    if MIN_WORDS <= len(words) <= MAX_WORDS:
                        out.append(" ".join(words))
    return out


def write_corpus(folder: Path, texts: list[str]) -> Path:
    path = folder / f"corpus-{len(texts)}.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    return path


def throughput(texts: list[str], corpus: Path, batch_size: int, max_length: int) -> dict:
    import torch

    import headentropy as he
    from headentropy.corpus import profile_corpus
    from headentropy.corpus.runner import _batches, corpus_monitor, profile_batch

    model, tok = he.load_model("smollm2")
    batches, _ = _batches(tok, texts, batch_size, max_length)
    mon = corpus_monitor(model, "auto")
    agg = None

    def plain(ids, mask):
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    def profiled(ids, mask):  # what corpus.runner.run_shard does per batch
        nonlocal agg
        part = profile_batch(model, mon, ids, mask)
        agg = part if agg is None else agg.merge(part)

    # round r runs batch r [b, L] through both, back to back, alternating which goes first (rotate);
    # the warm-up on the first batch keeps first-call allocations and the kernel library load out
    seconds = interleaved({"plain": plain, "profiled": profiled}, len(batches),
                          prepare=lambda name, r: batches[max(r, 0)], rotate=True)
    plain_s, prof_s = sum(seconds["plain"]), sum(seconds["profiled"])
    tokens = int(sum(int(m.sum()) for _, m in batches))
    padded = int(sum(m.numel() for _, m in batches))
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        run = profile_corpus(model, tok, corpus, out, batch_size=batch_size, max_length=max_length, quiet=True)
        e2e_s = time.perf_counter() - t
    assert run.tokens == tokens, (run.tokens, tokens)
    return {"texts": len(texts), "batches": len(batches), "tokens": tokens, "padded": padded,
            "plain_s": plain_s, "profiled_s": prof_s, "e2e_s": e2e_s}


def child_peak_rss(corpus: Path, limit: int, batch_size: int, max_length: int, threads: int) -> dict:
    """Run `profile_corpus` over `limit` texts in a fresh process; its peak RSS and wall time."""
    return run_child(__file__, ["--child-rss", str(corpus), "--child-limit", str(limit), "--batch-size", str(batch_size),
                                "--rss-max-length", str(max_length), "--threads", str(threads)],
                     cwd=Path(__file__).parent)


def run_child_rss(args) -> None:
    import torch

    import headentropy as he
    from headentropy.corpus import profile_corpus

    torch.set_num_threads(args.threads)
    model, tok = he.load_model("smollm2")
    runs = []
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        # The process's high-water mark can be set by loading the model; the run's own peak above
        # the RSS it started from is what would grow with the corpus.
        extra = peak_rss_during(lambda: runs.append(profile_corpus(
            model, tok, args.child_rss, out, batch_size=args.batch_size, max_length=args.rss_max_length,
            limit=args.child_limit, quiet=True)))
        seconds = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    child_result({"texts": runs[0].texts, "tokens": runs[0].tokens, "peak_rss_mib": peak_kib / 1024,
                  "run_extra_mib": extra / 2**20, "seconds": seconds})


def workers(corpus: Path, limit: int, batch_size: int, max_length: int, rounds: int) -> list[list]:
    """[configuration, [wall seconds per round], tokens] for in-process, 1 and 2 Ray workers on the
    same texts, `rounds` rounds in alternating order (the machine's load changes between runs)."""
    import headentropy as he
    from headentropy.corpus import profile_corpus
    import torch

    from headentropy.corpus.distributed import profile_corpus_ray

    shard = max(1, limit // 8)
    cpus = os.cpu_count() or 1

    def local(out: Path):
        model, tok = he.load_model("smollm2")
        return profile_corpus(model, tok, corpus, out, batch_size=batch_size, max_length=max_length, limit=limit,
                              shard_size=shard, quiet=True)

    def ray(n: int):
        return lambda out: profile_corpus_ray("smollm2", corpus, out, workers=n, batch_size=batch_size,
                                              max_length=max_length, limit=limit, shard_size=shard, quiet=True)

    configs = {f"in this process, {torch.get_num_threads()} torch thread(s) (model load included)": local}
    for n in (1, 2):  # distributed.py gives each local worker cpu_count // n threads
        configs[f"Ray, {n} worker{'s' if n > 1 else ''} × {max(1, cpus // n)} torch thread(s) "
                "(Ray start + model loads included)"] = ray(n)
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    reference, tokens = None, 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for i, (name, fn) in enumerate(configs.items() if r % 2 == 0 else reversed(configs.items())):
                t = time.perf_counter()
                run = fn(Path(tmp) / f"r{r}-{i}")
                seconds[name].append(time.perf_counter() - t)
                tokens = run.tokens
                if reference is None:
                    reference = run.aggregate
                diff = float((run.aggregate.layer_profile() - reference.layer_profile()).abs().max())
                assert diff < 1e-5, f"{name} disagrees with the first run: {diff}"
    return [[name, s, tokens] for name, s in seconds.items()]


def header_lines(res: dict) -> list[str]:
    return [f"Machine: {res['machine']}; torch {res['torch']}, {res['threads']} torch thread(s); load average at "
            f"start {res['load_start']:.1f}. Corpus: {res['paragraphs']} paragraphs of the standard library's "
            f"docstrings ({MIN_WORDS}–{MAX_WORDS} words), SmolLM2-135M fp32, batch {res['batch_size']}.", ""]


def throughput_lines(r: dict, max_length: int) -> list[str]:
    tp, tm, te = (r["tokens"] / r[k] for k in ("plain_s", "profiled_s", "e2e_s"))
    return [f"Throughput: {r['texts']} texts, {r['batches']} length-sorted batches, {r['tokens']} tokens "
            f"({r['padded']} with padding), max length {max_length}; each batch run by both configurations back "
            "to back, alternating which goes first.", "",
            "| configuration | tokens/s | ratio to plain SDPA |", "|---|---:|---:|",
            f"| plain SDPA forward | {tp:.0f} | 1.00× |",
            f"| forward under the monitor + folded into the aggregate | {tm:.0f} | **{tm / tp:.3f}×** |",
            f"| `profile_corpus` end to end (read, tokenise, shard files, merge) | {te:.0f} | — (run once, after) |",
            "",
            f"Bar: profiling ≥ 0.95× the plain forward's tokens/s — {'holds' if tm / tp >= 0.95 else 'NOT met'} "
            f"({tm / tp:.3f}×). The end-to-end run is not interleaved with a plain one, so it has no ratio: its "
            "tokens/s reflect the machine's load while it ran.", ""]


def memory_lines(small: dict, big: dict, batch_size: int, max_length: int) -> list[str]:
    growth = big["peak_rss_mib"] / small["peak_rss_mib"]
    extra = "run_extra_mib" in small
    return [f"Memory: a fresh process runs `profile_corpus` (batch {batch_size}, texts cut to {max_length} tokens) "
            "over the first N texts. Peak RSS is the process's ru_maxrss (model and imports included); the run's "
            "own peak is the highest RSS sampled during `profile_corpus` above the RSS it started from.", "",
            "| texts | tokens | wall s | peak RSS MiB | run's own peak MiB |", "|---:|---:|---:|---:|---:|",
            *[f"| {x['texts']} | {x['tokens']} | {x['seconds']:.0f} | {x['peak_rss_mib']:.0f} | "
              f"{x['run_extra_mib']:.0f} |" if extra else
              f"| {x['texts']} | {x['tokens']} | {x['seconds']:.0f} | {x['peak_rss_mib']:.0f} | not measured |"
              for x in (small, big)],
            "", f"Peak RSS at {big['texts']} texts / at {small['texts']}: **{growth:.3f}×** (bar: within 10% — "
            f"{'holds' if abs(growth - 1) <= 0.10 else 'NOT met'}).", ""]


def worker_lines(rows: list, texts: int) -> list[str]:
    rows = [(name, [s] if isinstance(s, float) else s, tok) for name, s, tok in rows]  # one round: a float
    base = statistics.median(rows[0][1])
    return [f"Workers: the first {texts} texts, {max(1, texts // 8)}-text shards, {len(rows[0][1])} round(s) in "
            "alternating order; every run's aggregate checked equal to the first's (layer profile ≤ 1e-5).", "",
            "| configuration | wall s, median (min–max) | tokens/s | time vs in-process |", "|---|---:|---:|---:|",
            *[f"| {name} | {statistics.median(s):.1f} ({min(s):.1f}–{max(s):.1f}) | {tok / statistics.median(s):.0f} "
              f"| {statistics.median(s) / base:.2f}× |" for name, s, tok in rows], ""]


def report(res: dict) -> str:
    """The BENCHMARKS.md block from the results dict (also saved as JSON beside the run)."""
    lines = header_lines(res)
    if "throughput" in res:
        lines += throughput_lines(res["throughput"], res["max_length"])
    if "memory" in res:
        lines += memory_lines(*res["memory"], res["batch_size"] * 2, res["rss_max_length"])
    if "workers" in res:
        lines += worker_lines(res["workers"], res["worker_texts"])
    lines.append(f"Command: `{res['command']}`; load average at the end {res['load_end']:.1f} (2 cores, shared).")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=2000, help="texts for the throughput comparison")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--rss-max-length", type=int, default=64, help="tokens per text in the memory runs")
    ap.add_argument("--rss-texts", type=int, nargs=2, default=[1000, 10000])
    ap.add_argument("--worker-texts", type=int, default=400)
    ap.add_argument("--worker-rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in this process and the memory children")
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "memory", "workers"])
    ap.add_argument("--results", default="out/bench/corpus.json", help="where the raw results are saved (JSON)")
    ap.add_argument("--from-results", action="store_true", help="only format --results (no measuring)")
    ap.add_argument("--write", action="store_true", help="replace the bench_corpus block of BENCHMARKS.md")
    ap.add_argument("--child-rss", help=argparse.SUPPRESS)
    ap.add_argument("--child-limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_rss:
        return run_child_rss(args)
    results = Path(args.results)
    if args.from_results:
        return emit("bench_corpus", "Corpus runs (`bench_corpus.py`)", report(json.loads(results.read_text())), args.write)

    import torch

    torch.set_num_threads(args.threads)
    paragraphs = docstring_paragraphs()
    need = max(args.texts, *args.rss_texts, args.worker_texts)
    if len(paragraphs) < need:
        sys.exit(f"only {len(paragraphs)} docstring paragraphs in this Python's standard library; need {need}")
    skip = f" --skip {' '.join(args.skip)}" if args.skip else ""
    res = {"machine": cpu_description(), "torch": torch.__version__, "threads": args.threads,
           "load_start": os.getloadavg()[0], "paragraphs": len(paragraphs), "batch_size": args.batch_size,
           "max_length": args.max_length, "rss_max_length": args.rss_max_length, "worker_texts": args.worker_texts,
           "command": f"python benchmarks/bench_corpus.py --texts {args.texts} --threads {args.threads}{skip} --write"}
    results.parent.mkdir(parents=True, exist_ok=True)

    def save(key: str, value) -> None:  # after each part: a crash later keeps what was measured
        res[key] = value
        res["load_end"] = os.getloadavg()[0]
        results.write_text(json.dumps(res, indent=1))
        print(key, value, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        if "throughput" not in args.skip:
            corpus = write_corpus(Path(tmp), paragraphs[: args.texts])
            save("throughput", throughput(paragraphs[: args.texts], corpus, args.batch_size, args.max_length))
        if "memory" not in args.skip:
            corpus = write_corpus(Path(tmp), paragraphs[: max(args.rss_texts)])
            save("memory", [child_peak_rss(corpus, n, args.batch_size * 2, args.rss_max_length, args.threads)
                            for n in args.rss_texts])
        if "workers" not in args.skip:
            corpus = write_corpus(Path(tmp), paragraphs[: args.worker_texts])
            save("workers", workers(corpus, args.worker_texts, args.batch_size, args.max_length, args.worker_rounds))
    emit("bench_corpus", "Corpus runs (`bench_corpus.py`)", report(res), args.write)


if __name__ == "__main__":
    main()
