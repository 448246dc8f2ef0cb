"""SmolLM2 end-to-end cost of monitoring: forward time and peak RSS, decode tokens/s.

Every configuration runs in its own subprocess, so its peak RSS (`ru_maxrss`) is its own.
Configurations, for each prompt length:

* `sdpa`     — the plain model (`attn_implementation="sdpa"`), no statistics;
* `monitor`  — inside `he.monitor(model)` (the `"headentropy"` attention, backend "auto");
* `eager`    — today's usual way: `attn_implementation="eager"`, `output_attentions=True`, then
               Shannon/Rényi-2 entropy computed from the returned probability matrices. Skipped
               when those matrices cannot fit in the memory available (the table says so).

Decode: greedy `generate()` of a 128-token prompt, tokens/s over the decode steps only
(`(N - 1) / (t(N new tokens) - t(1 new token))`), plain and monitored alternated in one process.

Ratios are measured side by side in one run on a shared, noisy machine: read them, not the
absolute times. Prints a markdown table; `--write` replaces this script's block of BENCHMARKS.md.

    python benchmarks/bench_model.py                        # all lengths (16384 takes many minutes)
    python benchmarks/bench_model.py --lengths 512 1024 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from harness import child_result, cpu_description, emit, interleaved, run_child, self_measured

HERE = os.path.abspath(__file__)
LAYERS, HEADS = 30, 9  # SmolLM2-135M


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _prompt_ids(tok, length: int):
    import torch

    text = (
        "Attention heads distribute probability over earlier tokens; their entropy tells how "
        "focused each head is. "
    )
    ids = tok(text * (length // 8 + 1), return_tensors="pt").input_ids[:, :length]
    assert ids.shape[1] == length, ids.shape
    return ids.to(torch.long)


# ----------------------------------------------------------------------------- workers
def worker_forward(mode: str, length: int) -> dict:
    """One timed forward (after a short warm-up) in a fresh process."""
    import torch

    import headentropy as he
    from headentropy.kernels.dispatch import resolve_backend

    torch.manual_seed(0)
    model, tok = he.load_model("smollm2")
    if mode == "eager":
        model.set_attn_implementation("eager")
    ids = _prompt_ids(tok, length)
    rss_loaded = _peak_rss_gib()

    def run(x):
        if mode == "sdpa":
            model(input_ids=x)
            return None
        if mode == "monitor":
            with he.monitor(model) as mon:
                model(input_ids=x)
            return float(mon.trace.shannon.mean())
        if mode == "eager":
            out = model(input_ids=x, output_attentions=True)
            hs = []
            for p in out.attentions:  # [1, H, L, L] per layer
                h = -(torch.special.xlogy(p, p)).sum(-1)  # [1, H, L] Shannon
                h2 = -torch.log((p * p).sum(-1))  # [1, H, L] Rényi-2
                hs.append((h, h2))
            return float(torch.stack([h for h, _ in hs]).mean())
        raise ValueError(mode)

    with torch.inference_mode():
        run(ids[:, :16])  # warm-up: lazy imports, kernel loading
        t0 = time.perf_counter()
        check = run(ids)
        seconds = time.perf_counter() - t0
    return {
        "kind": "forward",
        "mode": mode,
        "length": length,
        "seconds": seconds,
        "peak_rss_gib": _peak_rss_gib(),
        "rss_after_load_gib": rss_loaded,
        "mean_shannon": check,
        "backend": resolve_backend("auto", ids.device) if mode == "monitor" else None,
    }


def worker_paired(length: int, rounds: int) -> dict:
    """Plain and monitored forwards interleaved in one process: their ratio under the same noise.

    Fresh processes (worker_forward) give each configuration its own peak RSS, but on a shared
    machine two processes minutes apart see different loads; here every round runs both back to
    back on one loaded model, and the ratio is the median of the per-round ratios.
    """
    import statistics

    import torch

    import headentropy as he

    model, tok = he.load_model("smollm2")
    ids = _prompt_ids(tok, length)

    def plain() -> None:
        model(input_ids=ids)

    def monitored() -> None:
        with he.monitor(model):
            model(input_ids=ids)

    with torch.inference_mode():
        times = interleaved({"sdpa": plain, "monitor": monitored}, rounds)
    ratios = [m / s for s, m in zip(times["sdpa"], times["monitor"])]
    return {"kind": "paired", "length": length, "ratio": statistics.median(ratios), "ratios": ratios,
            "seconds": times}


def worker_decode(prompt: int, new_tokens: int, repeats: int) -> dict:
    """Plain and monitored greedy decoding, alternated in one process (same model, same noise)."""
    import torch

    import headentropy as he

    model, tok = he.load_model("smollm2")
    ids = _prompt_ids(tok, prompt)
    mask = torch.ones_like(ids)

    def gen(mode: str, n: int) -> float:
        kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
        t0 = time.perf_counter()
        if mode == "monitor":
            with he.monitor(model) as mon:
                model.generate(input_ids=ids, attention_mask=mask, **kw)
            assert mon.trace.num_positions == prompt + n - 1
        else:
            model.generate(input_ids=ids, attention_mask=mask, **kw)
        return time.perf_counter() - t0

    def decode_rate(mode: str) -> float:
        """Tokens/s of the decode steps only: the prefill (and one step) is in both and cancels."""
        t1, tn = gen(mode, 1), gen(mode, new_tokens)
        return (new_tokens - 1) / (tn - t1)

    with torch.inference_mode():
        gen("sdpa", 2), gen("monitor", 2)  # warm-up
        rates = interleaved({mode: (lambda mode=mode: decode_rate(mode)) for mode in ("sdpa", "monitor")}, repeats,
                            measure=self_measured, warmup=False)
    return {
        "kind": "decode",
        "prompt": prompt,
        "new_tokens": new_tokens,
        # Best of the repeats: on a shared machine, noise only ever adds time.
        "tokens_per_s": {mode: max(r) for mode, r in rates.items()},
        "all_tokens_per_s": rates,
    }


# ----------------------------------------------------------------------------- driver
def _run_worker(args: list[str], threads: int, timeout: float) -> dict:
    """A worker's result in a fresh process (its peak RSS is its own), or {"error": why}."""
    env = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    try:
        return run_child(HERE, ["--threads", str(threads), "--worker", *args], env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as e:
        lines = [ln for ln in (e.stderr or e.stdout).strip().splitlines() if "%|" not in ln]
        return {"error": " | ".join(lines[-2:]) or f"exit code {e.returncode}"}


def _eager_bytes(length: int) -> float:
    # output_attentions keeps every layer's [1, H, L, L] fp32 matrix, plus one layer's temporaries.
    return (LAYERS + 3) * HEADS * length * length * 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 16384])
    ap.add_argument("--repeats", type=int, default=3, help="rounds per configuration (best is reported)")
    ap.add_argument("--long-repeats", type=int, default=1, help="repeats for lengths > 4096")
    ap.add_argument("--decode-prompt", type=int, default=128)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--decode-repeats", type=int, default=3)
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--paired-rounds", type=int, default=5,
                    help="interleaved plain/monitored rounds in one process per length (0: skip)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per worker (1: stable ratios on a shared machine)")
    ap.add_argument("--write", action="store_true", help="replace this script's block of BENCHMARKS.md")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        w = args.worker
        if w[0] == "forward":
            res = worker_forward(w[1], int(w[2]))
        elif w[0] == "paired":
            res = worker_paired(int(w[1]), int(w[2]))
        else:
            res = worker_decode(int(w[1]), int(w[2]), int(w[3]))
        child_result(res)
        return

    import headentropy as he

    he.load_model("smollm2")  # builds the safetensors cache once, outside the timed workers
    from headentropy.kernels.dispatch import resolve_backend
    import torch

    backend = resolve_backend("auto", torch.device("cpu"))
    command = "python benchmarks/bench_model.py " + " ".join(sys.argv[1:])
    rows = []
    for length in args.lengths:
        reps = args.repeats if length <= 4096 else args.long_repeats
        runs: dict[str, list[dict]] = {"sdpa": [], "monitor": [], "eager": []}
        res = {}
        need = _eager_bytes(length) / 2**30
        avail = _mem_available_gib()
        if need > 0.7 * avail:
            res["eager"] = {"skipped": f"needs ~{need:.0f} GiB for the attention matrices, {avail:.0f} GiB available"}
        def forward(mode: str, length: int = length) -> None:
            """One fresh worker; a failed or skipped mode is not run again."""
            if mode in res:
                return
            r = _run_worker(["forward", mode, str(length)], args.threads, timeout=7200)
            print(f"# {length} {mode}: {json.dumps(r)}", file=sys.stderr, flush=True)
            if "error" in r:
                res[mode] = r
            else:
                runs[mode].append(r)

        # Rounds alternate the configurations, so slow phases of the shared machine hit all of them.
        interleaved({mode: (lambda mode=mode: forward(mode)) for mode in runs}, reps,
                    measure=self_measured, warmup=False)
        for mode, rs in runs.items():
            if mode not in res and rs:
                # Best of the rounds: on a shared machine, noise only ever adds time.
                res[mode] = dict(min(rs, key=lambda r: r["seconds"]), peak_rss_gib=max(r["peak_rss_gib"] for r in rs),
                                 all_seconds=[r["seconds"] for r in rs])
        if args.paired_rounds > 0:
            paired = _run_worker(["paired", str(length), str(args.paired_rounds)], args.threads, timeout=7200)
            print(f"# {length} paired: {json.dumps(paired)}", file=sys.stderr, flush=True)
            res["paired"] = paired
        rows.append((length, res))
    decode = None
    if not args.skip_decode:
        decode = _run_worker(
            ["decode", str(args.decode_prompt), str(args.decode_tokens), str(args.decode_repeats)],
            args.threads,
            timeout=3600,
        )
        print(f"# decode: {json.dumps(decode)}", file=sys.stderr, flush=True)

    def t(r):
        return f"{r['seconds']:.2f}" if "seconds" in r else "—"

    def rss(r):
        return f"{r['peak_rss_gib']:.2f}" if "peak_rss_gib" in r else "—"

    def ratio(r, base):
        return f"{r['seconds'] / base['seconds']:.2f}×" if "seconds" in r and "seconds" in base else "—"

    lines = [
        f"SmolLM2-135M-Instruct (fp32), CPU: {cpu_description()}, {os.cpu_count()} cores ({args.threads} torch thread(s) "
        f"per run), torch {torch.__version__}; "
        f"monitored backend: `{backend}`; best of {args.repeats} rounds "
        f"({args.long_repeats} above 4096 tokens), each configuration in a fresh process, rounds alternating"
        + (f"; *interleaved*: plain and monitored forwards back to back in one process, median of "
           f"{args.paired_rounds} per-round ratios (the steadier ratio on a shared machine)."
           if args.paired_rounds > 0 else "."),
        "",
        "| tokens | sdpa s | monitored s | monitored / sdpa | interleaved | eager+output_attentions s "
        "| eager / sdpa | peak RSS GiB sdpa / monitored / eager |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    notes = []
    for length, res in rows:
        s, m, e = res["sdpa"], res["monitor"], res["eager"]
        for name, r in (("sdpa", s), ("monitored", m), ("eager", e)):
            if "skipped" in r:
                notes.append(f"* {length} tokens, {name}: skipped — {r['skipped']}.")
            elif "error" in r:
                notes.append(f"* {length} tokens, {name}: failed — {r['error']}.")
        paired = res.get("paired", {})
        if "error" in paired:
            notes.append(f"* {length} tokens, interleaved: failed — {paired['error']}.")
        side_by_side = f"{paired['ratio']:.2f}×" if "ratio" in paired else "—"
        lines.append(
            f"| {length} | {t(s)} | {t(m)} | {ratio(m, s)} | {side_by_side} | {t(e)} | {ratio(e, s)} | "
            f"{rss(s)} / {rss(m)} / {rss(e) if 'skipped' not in e else 'skipped'} |"
        )
    if decode is not None:
        lines += ["", "| decode (greedy) | plain tok/s | monitored tok/s | monitored / plain |", "|---|---:|---:|---:|"]
        if "tokens_per_s" in decode:
            s, m = decode["tokens_per_s"]["sdpa"], decode["tokens_per_s"]["monitor"]
            lines.append(
                f"| {args.decode_prompt}-token prompt, {args.decode_tokens} new | {s:.2f} | {m:.2f} | {m / s:.2f}× |"
            )
        else:
            notes.append(f"* decode failed: {decode.get('error')}")
    if notes:
        lines += [""] + notes
    lines += ["", f"Command: `{command.strip()}`"]
    text = "\n".join(lines)
    emit("bench_model", "SmolLM2 end to end (`bench_model.py`)", text, args.write)


if __name__ == "__main__":
    main()
