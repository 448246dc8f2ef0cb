"""One SmolLM2 training step (forward + backward) monitored vs plain SDPA: time and extra peak RSS.

Issue 12's end-to-end bar: a monitored training step at 2048 tokens costs at most 1.2× the peak
RSS and 1.3× the time of the plain SDPA step. Each configuration runs in its own process
(`--child`), configurations alternate over rounds, the best time is kept.

    python benchmarks/bench_train_step.py [--tokens 2048] [--rounds 2] [--write]
"""

from __future__ import annotations

import argparse
import time

from harness import child_result, cpu_description, emit, interleaved, peak_rss_during, run_child, self_measured


def child(mode: str, tokens: int) -> None:
    import torch

    import headentropy as he

    torch.manual_seed(0)
    model, tok = he.load_model("smollm2")
    model.train()
    ids = torch.randint(10, 40000, (1, tokens))

    def step(x):
        out = model(input_ids=x, labels=x)
        out.loss.backward()
        model.zero_grad(set_to_none=True)

    def run(x):
        if mode == "sdpa":
            return step(x)
        with he.monitor(model):  # backend "auto": the fused cpu kernel with its backward
            return step(x)

    run(ids[:, :128])  # first-use work (kernel load, allocator pools) stays out, in the same mode
    start = time.perf_counter()
    extra = peak_rss_during(lambda: run(ids))
    seconds = time.perf_counter() - start
    child_result({"mode": mode, "seconds": seconds, "extra_rss": extra})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))
    # each call is a fresh child process that warms itself up and reports {seconds, extra_rss}
    children = {mode: (lambda mode=mode: run_child(__file__, ["--child", mode, str(args.tokens)]))
                for mode in ("sdpa", "monitored")}
    runs = interleaved(children, args.rounds, measure=self_measured, warmup=False)
    s, m = (min(runs[mode], key=lambda r: r["seconds"]) for mode in ("sdpa", "monitored"))  # best round
    mib = 2 ** 20
    table = "\n".join([
        f"CPU: {cpu_description()}. SmolLM2-135M-Instruct fp32, train mode, 1×{args.tokens} tokens, "
        f"loss.backward(); best of {args.rounds} rounds, each configuration in a fresh process.",
        "",
        "| configuration | step s | / sdpa | extra peak RSS MiB | / sdpa | bar |",
        "|---|---:|---:|---:|---:|---|",
        f"| sdpa | {s['seconds']:.2f} | 1.00× | {s['extra_rss'] / mib:.0f} | 1.00× | |",
        f"| monitored (cpu backward) | {m['seconds']:.2f} | {m['seconds'] / s['seconds']:.2f}× | "
        f"{m['extra_rss'] / mib:.0f} | {m['extra_rss'] / max(s['extra_rss'], 1):.2f}× | time ≤ 1.3×, RSS ≤ 1.2× |",
        "",
        f"Command: `python benchmarks/bench_train_step.py --tokens {args.tokens} --rounds {args.rounds}`",
    ])
    emit("bench_train_step", "One monitored training step (`bench_train_step.py`)", table, args.write)


if __name__ == "__main__":
    main()
