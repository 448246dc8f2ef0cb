"""Forward+backward of `he.attention` against PyTorch SDPA, side by side in one run (issue 12).

    .venv/bin/python benchmarks/bench_backward.py                   # time at N = 1024 2048 4096, RSS at H4 N8192
    .venv/bin/python benchmarks/bench_backward.py --write           # and replace the block in BENCHMARKS.md

Time: B1 H12 D64 causal fp32. Per N the candidates run interleaved, round-robin, on the same
inputs (machine noise hits all alike); the table shows medians and the ratio of medians to SDPA.
  sdpa        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
  <b>         he.attention(..., backend=b): (out.sum() + 0.01·shannon.sum()).backward()
  <b> no H    he.attention(..., backend=b): out.sum().backward()   (no entropy gradient terms)
Memory: B1 H4 D64 N8192 causal fp32, each configuration in fresh child processes (median of 3): peak
RSS during forward+backward minus RSS once the leaf inputs exist (so it includes the gradients
q.grad, k.grad, v.grad, the same for everyone), sampled every 0.5 ms by a thread; once as is and
once with glibc's mmap threshold fixed (heap fragmentation otherwise moves the torch numbers by
tens of MiB between identical runs).
Bars (issue 12): cpu ≤ 1.3× SDPA time at N = 2048/4096; cpu extra peak RSS ≤ 1.5× SDPA's;
torch extra peak RSS ≤ 2× SDPA's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import headentropy as he
from harness import child_result, cpu_description, emit, interleaved, medians, peak_rss_during, ratios, run_child

ROOT = Path(__file__).resolve().parent.parent
D = 64
BAR_TIME_CPU, BAR_RSS_CPU, BAR_RSS_TORCH = 1.3, 1.5, 2.0


def make_inputs(heads: int, n: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(1, heads, n, D, generator=gen) for _ in range(3)]  # [1, H, N, D] each


def leaves(base: list[torch.Tensor]) -> list[torch.Tensor]:
    return [x.detach().clone().requires_grad_() for x in base]


def step(config: str, inputs: list[torch.Tensor]) -> None:
    """One forward+backward of `config` ("sdpa", "cpu", "cpu:noH", "torch", "torch:noH")."""
    q, k, v = inputs
    if config == "sdpa":
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
        return
    backend, _, variant = config.partition(":")
    r = he.attention(q, k, v, causal=True, backend=backend)
    loss = r.out.sum() if variant == "noH" else r.out.sum() + 0.01 * r.shannon.sum()
    loss.backward()


def bench_time(n: int, heads: int, configs: list[str], reps: int) -> dict[str, float]:
    base = make_inputs(heads, n, seed=n)
    candidates = {c: (lambda inputs, c=c: step(c, inputs)) for c in configs}
    return medians(interleaved(candidates, reps, prepare=lambda c, r: (leaves(base),)))


def rss_child(config: str, heads: int, n: int) -> None:
    """In a fresh process: print JSON with the extra peak RSS of one forward+backward."""
    step(config, leaves(make_inputs(heads, 128)))  # first-use work (kernel load, pools) stays out
    inputs = leaves(make_inputs(heads, n))
    child_result({"extra_bytes": peak_rss_during(lambda: step(config, inputs))})


# glibc's dynamic mmap threshold makes the heap's high-water mark vary run to run (fragmentation);
# with the threshold fixed, large blocks are mmapped and returned, so RSS follows live memory.
FIXED_MMAP_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


def bench_rss(config: str, heads: int, n: int, runs: int, env: dict | None = None) -> float:
    """Median over `runs` fresh child processes of the extra peak RSS, in bytes."""
    return statistics.median(run_child(__file__, ["--child-rss", config, str(heads), str(n)], env=env)["extra_bytes"]
                             for _ in range(runs))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", type=int, nargs="*", default=[1024, 2048, 4096])
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--backends", nargs="+", default=["cpu", "torch"])
    ap.add_argument("--rss-heads", type=int, default=4)
    ap.add_argument("--rss-length", type=int, default=8192)
    ap.add_argument("--rss-runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="replace the block in BENCHMARKS.md")
    ap.add_argument("--child-rss", nargs=3, metavar=("CONFIG", "HEADS", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_rss:
        config, heads, n = args.child_rss
        rss_child(config, int(heads), int(n))
        return

    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    configs = ["sdpa"] + [c for b in args.backends for c in (b, f"{b}:noH")]
    label = {c: c.replace(":noH", " no H") for c in configs}
    lines = [
        f"CPU: {cpu_description()}; torch {torch.__version__}, {torch.get_num_threads()} threads.",
        "",
        f"Time: B1 H{args.heads} D{D} causal fp32, forward+backward, median of {args.reps} interleaved "
        f"rounds. Loss: SDPA `out.sum()`; ours `out.sum() + 0.01·H.sum()` (\"no H\": `out.sum()`).",
        "",
        "| N | " + " | ".join(f"{label[c]} ms" for c in configs) + " | "
        + " | ".join(f"{label[c]} / SDPA" for c in configs if c != "sdpa") + " |",
        "|---" * (2 * len(configs)) + "|",
    ]
    for n in args.lengths:
        med = bench_time(n, args.heads, configs, args.reps)
        rel = ratios(med, "sdpa")
        cells = [f"{1e3 * med[c]:.0f}" for c in configs]
        cells += [f"{rel[c]:.2f}×" for c in configs if c != "sdpa"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)

    lines += [
        "",
        f"Extra peak RSS of forward+backward: B1 H{args.rss_heads} D{D} N{args.rss_length} causal fp32, "
        f"median of {args.rss_runs} fresh processes per configuration (includes q/k/v.grad); "
        "the last two columns with `MALLOC_MMAP_THRESHOLD_=1048576` (no glibc heap fragmentation).",
        "",
        "| configuration | extra peak RSS (MiB) | / SDPA | fixed mmap threshold (MiB) | / SDPA | bar |",
        "|---|---|---|---|---|---|",
    ]
    rss = {c: bench_rss(c, args.rss_heads, args.rss_length, args.rss_runs) for c in configs}
    fixed = {c: bench_rss(c, args.rss_heads, args.rss_length, args.rss_runs, FIXED_MMAP_ENV) for c in configs}
    for c in configs:
        ratio = rss[c] / rss["sdpa"] if rss["sdpa"] else float("nan")
        ratio_fixed = fixed[c] / fixed["sdpa"] if fixed["sdpa"] else float("nan")
        bar = {"cpu": f"≤ {BAR_RSS_CPU}×", "torch": f"≤ {BAR_RSS_TORCH}×"}.get(c, "")
        lines.append(f"| {label[c]} | {rss[c] / 2**20:.0f} | {ratio:.2f}× | {fixed[c] / 2**20:.0f} | "
                     f"{ratio_fixed:.2f}× | {bar} |")
        print(lines[-1], flush=True)

    cmd = " ".join(["python benchmarks/bench_backward.py", *(argv if argv is not None else sys.argv[1:])])
    lines += [
        "",
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after the run "
        f"(other processes share these {os.cpu_count()} CPUs).",
        "",
        f"Bars: cpu time ≤ {BAR_TIME_CPU}× SDPA at N = 2048/4096. Command: `{cmd}`",
    ]
    emit("bench_backward", "Forward+backward (`bench_backward.py`)", "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
