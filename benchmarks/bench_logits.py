"""Cost of the logits' per-token statistics (token log-probability + predictive entropy).

A `TraceTap` records, for every position, the log-probability of the token and the entropy of the
next-token distribution (`headentropy.capture.logits.token_logit_stats`). With SmolLM2's
49,152-token vocabulary that is a softmax-sized pass over logits as large as the model's own LM-head
output. Compared side by side (interleaved, same logits):

* `torch`  — the portable path (logsumexp, exp, product, sum in 8-row chunks that stay in L2);
* `kernel` — the fused CPU kernel's `logit_entropy` (one row at a time: max, then Σe and Σe·d);
* `lm_head` — the model's own LM-head matmul for the same positions, the scale to read them against.

    python benchmarks/bench_logits.py [--positions 2048] [--reps 7] [--write]
"""

from __future__ import annotations

import argparse
import sys

import torch
from harness import cpu_description, emit, interleaved, medians

from headentropy.capture import logits as logit_stats
from headentropy.kernels.cpu import loader

VOCAB, HIDDEN = 49152, 576  # SmolLM2-135M


def bench(positions: int, reps: int) -> dict[str, float]:
    gen = torch.Generator().manual_seed(positions)
    hidden = torch.randn(1, positions, HIDDEN, generator=gen)
    head = torch.randn(VOCAB, HIDDEN, generator=gen) / HIDDEN**0.5
    logits = hidden @ head.T * 4  # [1, N, V]: peaked rows, like a trained model's
    ids = torch.randint(0, VOCAB, (1, positions), generator=gen)
    path = {"kernel": loader.load(), "torch": None}

    def stats(name: str):
        return lambda: logit_stats.token_logit_stats(logits, ids, positions, None, kernel=path[name])

    candidates = {"lm_head": lambda: hidden @ head.T, "torch": stats("torch"), "kernel": stats("kernel")}
    return medians(interleaved(candidates, reps))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--positions", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="replace this script's block of BENCHMARKS.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [
        "| positions | LM head (ms) | torch path (ms) | kernel (ms) | torch / LM head | kernel / LM head |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in args.positions:
        t = bench(n, args.reps)
        print(f"# {n}: {t}", file=sys.stderr, flush=True)
        rows.append(f"| {n} | {1e3 * t['lm_head']:.0f} | {1e3 * t['torch']:.0f} | {1e3 * t['kernel']:.0f} "
                    f"| {t['torch'] / t['lm_head']:.2f}× | {t['kernel'] / t['lm_head']:.2f}× |")
    body = "\n".join([
        f"CPU: {cpu_description()}; torch {torch.__version__}, {args.threads} thread(s); vocabulary {VOCAB}, "
        f"fp32 logits; median of {args.reps} interleaved rounds.",
        "",
        *rows,
        "",
        f"Command: `{' '.join(['python benchmarks/bench_logits.py', *sys.argv[1:]])}`",
    ])
    emit("bench_logits", "Logit statistics (`bench_logits.py`)", body, args.write)


if __name__ == "__main__":
    main()
