#!/usr/bin/env python
"""GPU benchmark of backend `triton` (issue 4): correctness first, then speed and memory.

    python benchmarks/bench_gpu.py --out benchmarks/bench_gpu.md

1. Runs the GPU tests of the kernel (`pytest -m gpu tests/kernels/test_triton_kernel.py`).
2. For N ∈ {1024, 4096, 16384}, D ∈ {64, 128}, causal and not, bf16, with B·H·N = 16384·32
   (fills an H100/H200), measures side by side in one run:
     * our kernel with the entropy accumulators (ENTROPY=True),
     * the same kernel compiled without them (ENTROPY=False): its own overhead,
     * `F.scaled_dot_product_attention` restricted to the flash backend,
   as median times (triton.testing.do_bench, CUDA events) turned into TFLOP/s
   (4·B·H·N²·D, halved when causal). Our kernel is timed through its launcher with the
   per-call non-finite scan of V switched off (`check_values=False`), i.e. the kernel alone.
3. Checks peak memory of one call of ours: the extra bytes must stay O(N) (out + statistics),
   far from any N×N buffer, and reports max |out − SDPA out| as a sanity check.
4. Forward + backward (issue 12), for N ∈ {1024, 2048, 4096, 8192}, D ∈ {64, 128}, causal and
   not, bf16, same B·H·N: through the public `he.attention(..., backend="triton")` with inputs
   that require grad (the recomputing Triton backward; includes the launchers' non-finite scans
   of V), side by side with SDPA flash forward + backward:
     * ours, loss = Σ out·dO + 0.01·Σ H (gradients from `out` and the Shannon entropy),
     * ours, loss = Σ out·dO only (no entropy terms reach the backward),
     * SDPA flash, loss = Σ out·dO,
   as median ms and TFLOP/s (3.5 × the forward's FLOPs: the backward counted as 2.5×, as
   FlashAttention does), the extra peak memory of one step vs SDPA's, and max |dq − dq_SDPA|
   (out-only loss) as a sanity check.

Writes a markdown table to stdout, with --out to a file, and with --write into its block of
BENCHMARKS.md (benchmarks/harness.py, like every script here; so are the timing loop, the ratios
and the peak-memory measurement).
Bars from the issue: entropy on/off ≤ 1.05× time; ours (entropy) / SDPA flash ≤ 1.20× time.
The backward rows have no bar yet (first measurement; the Triton backward is untuned).
Without CUDA it says so and exits 0. Meant to finish within ~8 minutes on one H200
(`--budget`, `--backward-budget` skip what does not fit and say so).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from harness import cuda_median_ms, cuda_peak_during, emit, interleaved, medians, ratios

ROOT = Path(__file__).resolve().parents[1]
TOKENS_X_HEADS = 16384 * 32  # B·H·N for every row of the table
HEADS = 16
DEVICE = "cuda"


def _import_headentropy():
    if importlib.util.find_spec("headentropy") is None:  # running from a checkout that is not installed
        sys.path.insert(0, str(ROOT / "src"))
    from headentropy.kernels.dispatch import build_problem
    from headentropy.kernels.triton import fwd as triton_fwd

    return triton_fwd, build_problem


def run_gpu_tests(timeout_s: int) -> tuple[bool, str]:
    """pytest -m gpu on the kernel's test file, in a subprocess (compiled mode, no interpreter)."""
    env = dict(os.environ)
    env.pop("TRITON_INTERPRET", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "tests/kernels/test_triton_kernel.py",
           "tests/kernels/test_triton_gradients.py", "-q", "-p", "no:cacheprovider", "--tb=short"]
    print("$", " ".join(cmd), flush=True)
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        print(out[-4000:])
        return False, f"GPU tests timed out after {timeout_s} s"
    tail = (proc.stdout + proc.stderr)[-6000:]
    print(tail, flush=True)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else f"pytest exited {proc.returncode}"
    return proc.returncode == 0, f"{summary} ({time.time() - t0:.0f} s)"


def tflops_of(ms: dict[str, float], flops: float) -> dict[str, float]:
    return {name: flops / (t * 1e-3) / 1e12 for name, t in ms.items()}


def measure(N: int, D: int, causal: bool, triton_fwd, build_problem) -> dict:
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    B = max(1, TOKENS_X_HEADS // (HEADS * N))
    dev = torch.device(DEVICE)
    q, k, v = (torch.randn(B, HEADS, N, D, device=dev, dtype=torch.bfloat16) for _ in range(3))  # [B, H, N, D]
    problem = build_problem(q, k, v, causal=causal)

    def ours(entropy: bool):
        return triton_fwd.launch(problem, entropy=entropy, check_values=False)

    def sdpa():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    # compile / warm up, and a sanity comparison of the outputs
    r = ours(True)
    ours(False)
    ref = sdpa()
    torch.cuda.synchronize()
    max_diff = (r.out.float() - ref.float()).abs().max().item()
    del r

    # memory: extra bytes of one call beyond the inputs
    extra = cuda_peak_during(lambda: ours(True))
    linear = v.numel() * v.element_size() + 4 * B * HEADS * N * 4  # out [B, H, N, D] bf16 + 4 fp32 stats [B, H, N]
    nxn = B * HEADS * N * N * 2  # one bf16 N×N plane per head

    candidates = {"on": lambda: ours(True), "off": lambda: ours(False), "sdpa": sdpa}
    ms = medians(interleaved(candidates, 1, measure=cuda_median_ms, warmup=False))  # warmed up above
    flops = 4.0 * B * HEADS * N * N * D * (0.5 if causal else 1.0)
    return dict(
        N=N, D=D, causal=causal, B=B, H=HEADS, **tflops_of(ms, flops),
        on_off=ratios(ms, "off")["on"], vs_sdpa=ratios(ms, "sdpa")["on"],
        extra_mib=extra / 2**20, linear_ok=extra <= 2 * linear, nxn_mib=nxn / 2**20,
        max_diff=max_diff, ms=(ms["on"], ms["off"], ms["sdpa"]),
    )


def measure_backward(N: int, D: int, causal: bool) -> dict:
    """Forward + backward of ours (with / without the entropy term) and of SDPA flash, one run."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import headentropy as he

    B = max(1, TOKENS_X_HEADS // (HEADS * N))
    dev = torch.device(DEVICE)
    q, k, v = (torch.randn(B, HEADS, N, D, device=dev, dtype=torch.bfloat16).requires_grad_() for _ in range(3))
    do = torch.randn(B, HEADS, N, D, device=dev, dtype=torch.bfloat16)  # upstream gradient of out
    g_h = torch.full((B, HEADS, N), 0.01, device=dev)  # upstream gradient of H: loss += 0.01·ΣH
    leaves = [q, k, v]

    def ours(entropy: bool):
        r = he.attention(q, k, v, causal=causal, backend="triton")
        if entropy:
            torch.autograd.backward([r.out, r.shannon], [do, g_h])
        else:
            r.out.backward(do)

    def sdpa():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        out.backward(do)

    def grads(fn):
        for x in leaves:
            x.grad = None
        fn()
        torch.cuda.synchronize()
        return [x.grad.float().clone() for x in leaves]

    def peak(fn) -> int:
        for x in leaves:
            x.grad = None
        return cuda_peak_during(fn)

    # compile / warm up, and a sanity comparison of the gradients (out-only loss)
    ours(True)
    g_ours, g_sdpa = grads(lambda: ours(False)), grads(sdpa)
    max_diff = max((a - b).abs().max().item() for a, b in zip(g_ours, g_sdpa))
    mem_ours, mem_sdpa = peak(lambda: ours(True)), peak(sdpa)

    candidates = {"on": lambda: ours(True), "off": lambda: ours(False), "sdpa": sdpa}
    timing = partial(cuda_median_ms, grad_to_none=leaves)
    ms = medians(interleaved(candidates, 1, measure=timing, warmup=False))  # warmed up above
    rel = ratios(ms, "sdpa")
    flops = 3.5 * 4.0 * B * HEADS * N * N * D * (0.5 if causal else 1.0)
    return dict(
        N=N, D=D, causal=causal, B=B, H=HEADS, **tflops_of(ms, flops),
        on_sdpa=rel["on"], off_sdpa=rel["off"],
        mem_ours=mem_ours / 2**20, mem_sdpa=mem_sdpa / 2**20, max_diff=max_diff, ms=(ms["on"], ms["off"], ms["sdpa"]),
    )


def backward_table(rows: list[dict]) -> str:
    head = ("| N | D | causal | B×H | ours out+0.01·H TFLOP/s | ours out only TFLOP/s | SDPA flash TFLOP/s "
            "| ours(out+H)/SDPA time | ours(out)/SDPA time | peak extra MiB ours / SDPA | max abs grad diff vs SDPA |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['N']} | {r['D']} | {'yes' if r['causal'] else 'no'} | {r['B']}×{r['H']} "
            f"| {r['on']:.0f} | {r['off']:.0f} | {r['sdpa']:.0f} | {r['on_sdpa']:.3f} | {r['off_sdpa']:.3f} "
            f"| {r['mem_ours']:.0f} / {r['mem_sdpa']:.0f} | {r['max_diff']:.2e} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    head = ("| N | D | causal | B×H | ours+entropy TFLOP/s | ours, no entropy TFLOP/s | SDPA flash TFLOP/s "
            "| on/off time | ours/SDPA time | peak extra MiB (N×N would be) | max abs out diff vs SDPA |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        flag_on_off = "" if r["on_off"] <= 1.05 else " ✗"
        flag_sdpa = "" if r["vs_sdpa"] <= 1.20 else " ✗"
        mem = f"{r['extra_mib']:.1f} ({r['nxn_mib']:.0f}){'' if r['linear_ok'] else ' ✗ not O(N)'}"
        lines.append(
            f"| {r['N']} | {r['D']} | {'yes' if r['causal'] else 'no'} | {r['B']}×{r['H']} "
            f"| {r['on']:.0f} | {r['off']:.0f} | {r['sdpa']:.0f} "
            f"| {r['on_off']:.3f}{flag_on_off} | {r['vs_sdpa']:.3f}{flag_sdpa} | {mem} | {r['max_diff']:.2e} |"
        )
    return "\n".join(lines)


def sweep(prefix: str, sizes: list[int], dims: list[int], deadline: float, measure_one, legend: str,
          skipped: list[str], failed: list[str]) -> list[dict]:
    """`measure_one(N, D, causal)` for every configuration, until `deadline` (time.time()): the ones
    after it go to `skipped`, the ones that raise to `failed` (reported; one bad configuration
    must not hide the rest). Prints each row's `ms` (milliseconds of the `legend` candidates)."""
    rows = []
    for N in sizes:
        for D in dims:
            for causal in (False, True):
                config = f"{prefix}N={N} D={D} causal={causal}"
                if time.time() > deadline:
                    skipped.append(config)
                    continue
                try:
                    row = measure_one(N, D, causal)
                except Exception as exc:
                    failed.append(f"{config}: {type(exc).__name__}: {str(exc)[:300]}")
                    print("FAILED", failed[-1], flush=True)
                    continue
                rows.append(row)
                print(f"{config}: ms {legend} = " + "/".join(f"{t:.3f}" for t in row["ms"]), flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="also write the markdown report to this file")
    ap.add_argument("--write", action="store_true", help="replace this script's block of BENCHMARKS.md")
    ap.add_argument("--skip-tests", action="store_true", help="do not run the GPU tests first")
    ap.add_argument("--test-timeout", type=int, default=300, help="seconds allowed for the GPU tests")
    ap.add_argument("--budget", type=float, default=330.0,
                    help="seconds after which remaining measurements are skipped (reported)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--backward-sizes", type=int, nargs="*", default=[1024, 2048, 4096, 8192],
                    help="N of the forward+backward rows (none: skip them)")
    ap.add_argument("--backward-budget", type=float, default=180.0,
                    help="seconds for the forward+backward rows, after the forward ones")
    args = ap.parse_args()
    t_start = time.time()

    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device on this machine; nothing measured. "
              "Run it on a GPU machine: python benchmarks/bench_gpu.py --out benchmarks/bench_gpu.md")
        return 0
    os.environ.pop("TRITON_INTERPRET", None)  # this benchmark is about the compiled kernel
    import triton

    triton_fwd, build_problem = _import_headentropy()

    tests_ok, tests_line = True, "skipped (--skip-tests)"
    if not args.skip_tests:
        tests_ok, tests_line = run_gpu_tests(args.test_timeout)

    skipped, failed = [], []
    measure_fwd = partial(measure, triton_fwd=triton_fwd, build_problem=build_problem)
    rows = sweep("", args.sizes, args.dims, t_start + args.budget, measure_fwd, "on/off/sdpa", skipped, failed)
    bwd_rows = sweep("backward ", args.backward_sizes, args.dims, time.time() + args.backward_budget,
                     measure_backward, "ours(out+H)/ours(out)/sdpa", skipped, failed)

    props = torch.cuda.get_device_properties(0)
    flags = (f" --out {args.out}" if args.out else "") + (" --write" if args.write else "")
    report = [
        f"`python benchmarks/bench_gpu.py{flags}` — "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {props.name} "
        f"({props.multi_processor_count} SMs), torch {torch.__version__}, triton {triton.__version__}, "
        f"Python {platform.python_version()}. bf16, B·H·N = {TOKENS_X_HEADS}, H = {HEADS}; "
        "median of triton.testing.do_bench; FLOPs 4·B·H·N²·D (halved when causal).",
        "",
        f"GPU tests (`pytest -m gpu tests/kernels/test_triton_kernel.py`): "
        f"{'PASSED' if tests_ok else 'FAILED'} — {tests_line}",
        "",
        table(rows) if rows else "(no measurements)",
        "",
        "Bars (issue 4): on/off ≤ 1.05, ours/SDPA ≤ 1.20 (✗ marks a miss); peak extra memory O(N).",
        "",
        "### Forward + backward (issue 12): `he.attention(..., backend=\"triton\")` with grads vs SDPA flash",
        "",
        "bf16, same B·H·N; loss Σ out·dO (+ 0.01·Σ H); FLOPs 3.5 × 4·B·H·N²·D (halved when causal); "
        "gradient diff on the out-only loss.",
        "",
        backward_table(bwd_rows) if bwd_rows else "(no forward+backward measurements)",
    ]
    if skipped:
        report.append(f"\nSkipped for the time budget ({args.budget:.0f} s): " + "; ".join(skipped))
    if failed:
        report.append("\nFailed configurations:\n" + "\n".join(f"* {f}" for f in failed))
    report.append(f"\nTotal wall time {time.time() - t_start:.0f} s.")
    body = "\n".join(report)
    emit("bench_gpu", "GPU: Triton kernel (`bench_gpu.py`)", body, args.write)
    if args.out:
        args.out.write_text(f"## GPU benchmark: fused Triton attention with entropy (backend `triton`)\n\n{body}\n")
        print(f"written to {args.out}")
    return 0 if tests_ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
