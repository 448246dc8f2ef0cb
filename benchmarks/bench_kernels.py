"""Kernel time and peak memory, as ratios to PyTorch SDPA measured side by side in one run.

    .venv/bin/python benchmarks/bench_kernels.py                 # N = 1024 4096 16384 32768
    .venv/bin/python benchmarks/bench_kernels.py --sizes 1024 --backends torch cpu --write

Setting: B1 H12 D64, causal, fp32 on CPU. For each N, SDPA and every backend are timed
interleaved (sdpa, backend, sdpa, backend, ...) and the ratio of medians is reported, so machine
noise shared by both sides cancels. Peak memory is measured in a fresh subprocess per (backend, N):
peak RSS minus RSS after the inputs were created, i.e. what the attention call itself allocated.
`--write` replaces the kernel table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

import headentropy as he
from harness import child_result, cpu_description, emit, interleaved, medians, peak_rss_during, ratios, run_child

B, H, D = 1, 12, 64


def make_inputs(n: int):
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(B, H, n, D, generator=gen) for _ in range(3))


def run_once(backend: str, q, k, v):
    if backend == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    if backend.endswith(":stats"):  # statistics only: no P·V
        return he.attention(q, k, None, causal=True, backend=backend.removesuffix(":stats"))
    return he.attention(q, k, v, causal=True, backend=backend)


def reference_fits(n: int) -> bool:
    from headentropy.kernels.reference import MAX_REFERENCE_ELEMENTS

    return B * H * n * n <= MAX_REFERENCE_ELEMENTS


def time_ratio(backend: str, n: int, reps: int) -> tuple[float, float, float]:
    """(median seconds of backend, median seconds of SDPA, ratio), interleaved."""
    q, k, v = make_inputs(n)
    candidates = {name: (lambda name=name: run_once(name, q, k, v)) for name in ("sdpa", backend)}
    med = medians(interleaved(candidates, reps))  # warm-up (first-use compiles), then sdpa, backend, ...
    return med[backend], med["sdpa"], ratios(med, "sdpa")[backend]


def peak_memory_child(backend: str, n: int) -> None:
    """Runs in a fresh process: print JSON with the extra peak RSS of one call, in bytes."""
    run_once(backend, *make_inputs(128))  # first-use work (loading a compiled kernel) stays out
    q, k, v = make_inputs(n)
    child_result({"extra_bytes": peak_rss_during(lambda: run_once(backend, q, k, v))})


def peak_memory(backend: str, n: int) -> float:
    return run_child(__file__, ["--child-memory", backend, str(n)])["extra_bytes"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384, 32768])
    ap.add_argument("--backends", nargs="+", default=None,
                    help="default: every available CPU backend, plus ':stats' (v=None) variants")
    ap.add_argument("--write", action="store_true", help="replace the table in BENCHMARKS.md")
    ap.add_argument("--child-memory", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_memory:
        peak_memory_child(args.child_memory[0], int(args.child_memory[1]))
        return

    torch.set_num_threads(torch.get_num_threads())
    if args.backends is None:
        avail = [n for n, s in he.backends().items() if s.available and "cpu" in s.devices]
        args.backends = ["sdpa"] + avail + [f"{n}:stats" for n in avail if n != "reference"]
    rows = []
    for n in args.sizes:
        reps = 7 if n <= 4096 else (3 if n <= 16384 else 1)
        for backend in args.backends:
            if backend.startswith("reference") and not reference_fits(n):
                need = B * H * n * n * 8 / 2**30
                rows.append((n, backend, None, None, None, f"skipped: P alone is {need:.0f} GiB in fp64"))
                continue
            mem = peak_memory(backend, n)
            if backend == "sdpa":
                rows.append((n, backend, None, None, 1.0, f"{mem / 2**20:.0f} MiB"))
                print(rows[-1], flush=True)
                continue
            ours, base, ratio = time_ratio(backend, n, reps)
            rows.append((n, backend, ours, base, ratio, f"{mem / 2**20:.0f} MiB"))
            print(rows[-1], flush=True)

    command = "python benchmarks/bench_kernels.py " + " ".join(sys.argv[1:])
    lines = [
        f"Command: `{command.strip()}` — B{B} H{H} D{D}, causal, fp32, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}. Ratio = median time / median SDPA time, interleaved in one run "
        f"(reps: 7 at N ≤ 4096, 3 at 16384, 1 at 32768). Extra peak RSS of the call in a fresh process.",
        "",
        "| N | backend | time (s) | SDPA time (s) | time / SDPA | extra peak RSS |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for n, backend, ours, base, ratio, mem in rows:
        t = "—" if ours is None else f"{ours:.3f}"
        tb = "—" if base is None else f"{base:.3f}"
        r = "—" if ratio is None else f"{ratio:.2f}×"
        lines.append(f"| {n} | {backend} | {t} | {tb} | {r} | {mem} |")
    table = "\n".join(lines)
    emit("bench_kernels", "Kernels (`bench_kernels.py`)", f"CPU: {cpu_description()}.\n\n{table}", args.write)


if __name__ == "__main__":
    main()
