"""Fused `cpu` backend against PyTorch's fused SDPA, measured side by side (issue 3's bar).

For each length the candidates run interleaved (round-robin, `--reps` rounds) on the same
inputs, so machine noise hits all of them alike; the table reports the median time of each and
the ratio of medians to SDPA. Bar: he.attention(backend="cpu") / SDPA ≤ 1.10, and statistics
only (v=None) / SDPA ≤ 0.75, for B1 H12 D64 causal fp32 at N = 2048 and 4096.

    python benchmarks/bench_cpu_kernel.py [--lengths 2048 4096] [--reps 15] [--write]
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F
from harness import cpu_description, emit, interleaved, medians, ratios

import headentropy as he

BAR_FULL, BAR_STATS = 1.05, 0.75  # fp32 against SDPA: issue 12 (was issue 3's 1.10)
BAR_FULL_LOWP = 1.20  # bf16/fp16 against SDPA in the same dtype (issue 12)


def bench(n: int, *, batch: int, heads: int, dim: int, reps: int, dtype: torch.dtype) -> dict:
    gen = torch.Generator().manual_seed(n)
    q, k, v = (torch.randn(batch, heads, n, dim, generator=gen).to(dtype) for _ in range(3))
    candidates = {
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "cpu": lambda: he.attention(q, k, v, causal=True, backend="cpu"),
        "cpu_stats": lambda: he.attention(q, k, None, causal=True, backend="cpu"),
    }
    med = medians(interleaved(candidates, reps))
    rel = ratios(med, "sdpa")
    return {"n": n, **{f"{k}_ms": 1e3 * v for k, v in med.items()},
            "ratio_full": rel["cpu"], "ratio_stats": rel["cpu_stats"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--write", action="store_true", help="replace this script's block of BENCHMARKS.md")
    args = ap.parse_args(argv)
    dtype = getattr(torch, args.dtype)

    rows = [bench(n, batch=args.batch, heads=args.heads, dim=args.dim, reps=args.reps, dtype=dtype)
            for n in args.lengths]
    cmd = "python " + " ".join(["benchmarks/bench_cpu_kernel.py", *sys.argv[1:]])
    bar_full = BAR_FULL if dtype == torch.float32 else BAR_FULL_LOWP
    lines = [f"CPU: {cpu_description()}. B{args.batch} H{args.heads} D{args.dim} causal {args.dtype}, "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.reps} interleaved rounds.",
             "", f"| N | SDPA ms | cpu ms | cpu v=None ms | cpu / SDPA (≤ {bar_full}) | v=None / SDPA (≤ {BAR_STATS}) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {r['sdpa_ms']:.1f} | {r['cpu_ms']:.1f} | {r['cpu_stats_ms']:.1f} | "
              f"{r['ratio_full']:.3f} | {r['ratio_stats']:.3f} |" for r in rows]
    lines += ["", f"Command: `{cmd}`"]
    body = "\n".join(lines)
    emit("bench_cpu_kernel_" + args.dtype, f"Fused CPU kernel vs SDPA, {args.dtype} (`bench_cpu_kernel.py`)", body, args.write)


if __name__ == "__main__":
    main()
