"""What every benchmark script shares: the machine line, the timing loop, side-by-side ratios,
peak memory (RSS in a fresh child process, or CUDA's allocator) and publishing a table.

    from harness import cpu_description, emit, interleaved, medians, ratios, run_child

Ratios are measured side by side in one run (this machine is shared and noisy): `interleaved`
runs the configurations round-robin so slow phases of the machine hit all of them alike, and
`ratios` divides their medians by a baseline's. Peak RSS is measured in a fresh process per
configuration (`run_child` starts the script again with its child flag; the child measures with
`peak_rss_during` and answers with `child_result`). Each script owns one block of BENCHMARKS.md,
which `emit(..., write=True)` replaces on rerun: `publish` is the only writer of that file.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from markdown_block import write_block

ROOT = Path(__file__).resolve().parent.parent
ISA_FLAGS = ["avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"]


def cpu_description() -> str:
    """`lscpu` model name and the vector/matrix ISA flags that matter to the kernels."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu unavailable"
    model, flags = "?", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            model = value.strip()
        elif key.strip() == "Flags":
            flags = set(value.split())
    have = [f for f in ISA_FLAGS if f in flags]
    return f"{model}; flags: {', '.join(have) or 'none of ' + '/'.join(ISA_FLAGS)}"


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def peak_rss_during(fn: Callable[[], object]) -> int:
    """Extra peak RSS (bytes) while `fn()` runs, sampled every 0.5 ms by a thread.

    ru_maxrss is a lifetime high-water mark (imports can dominate it); torch kernels release the
    GIL, so the sampler sees the peak. Run it in a fresh process per configuration.
    """
    before = _rss_bytes()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = fn()
    finally:
        done.set()
        sampler.join()
    del result
    return max(0, peak[0] - before)


def cuda_peak_during(fn: Callable[[], object]) -> int:
    """Extra peak CUDA memory (bytes) of `fn()` beyond what was allocated before it: the
    allocator's high-water mark, synchronised on both sides so queued kernels are counted."""
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def run_child(script: str | Path, args: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
              timeout: float | None = None) -> dict:
    """Run `script` again in a fresh Python process (`python script *args`, e.g. its `--child` flag)
    and return the JSON object the child printed last (`child_result`). A fresh process per
    configuration keeps one configuration's allocations, pools and imports out of another's peak
    RSS. `env` is added to this process's environment. Raises CalledProcessError if the child fails,
    TimeoutExpired if it runs past `timeout` seconds."""
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_result(result: dict) -> None:
    """The child's answer to `run_child`: one JSON line, the last on stdout."""
    print(json.dumps(result), flush=True)


def wall_seconds(fn: Callable[..., object], args: tuple) -> float:
    """The default measure of `interleaved`: wall seconds of `fn(*args)`."""
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def cuda_median_ms(fn: Callable[..., object], args: tuple, grad_to_none=None, *, warmup_ms: int = 25,
                   rep_ms: int = 150) -> float:
    """A GPU measure for `interleaved`: triton.testing.do_bench's median ms of `fn(*args)` (CUDA
    events, L2 flushed between calls, `rep_ms` of calls after `warmup_ms` of warm-up)."""
    from triton.testing import do_bench

    return do_bench(lambda: fn(*args), warmup=warmup_ms, rep=rep_ms, grad_to_none=grad_to_none,
                    return_mode="median")


def self_measured(fn: Callable[..., Any], args: tuple) -> Any:
    """A measure for candidates that time (or count) themselves: what `fn(*args)` returns is
    recorded, e.g. the seconds of only the part of the call a configuration pays for."""
    return fn(*args)


def interleaved(candidates: dict[str, Callable[..., object]], rounds: int, *,
                prepare: Callable[[str, int], tuple] | None = None,
                measure: Callable[[Callable[..., object], tuple], Any] = wall_seconds,
                warmup: bool = True, rotate: bool = False,
                after_round: Callable[[int, dict[str, list]], None] | None = None) -> dict[str, list]:
    """The one timing loop: every candidate once per round, `rounds` rounds, so machine noise
    lands on all of them alike. Returns {name: [one measurement per round]}.

    * `warmup`: one untimed call of each first (first-use work: kernel loading, allocator pools).
    * `prepare(name, round)` builds a call's arguments outside the timed region (fresh leaf
      tensors for a backward, the round's prompts); the warm-up call gets round -1.
    * `measure(fn, args)` is what one call records: wall seconds by default; `self_measured` for
      candidates that return their own; bench_gpu passes CUDA-event timing.
    * `rotate`: round r starts at candidate r mod n (with two, the order alternates), so no
      candidate always runs first, right after another's allocations.
    * `after_round(round, results)` is called after each round (progress lines).
    """
    prepare = prepare or (lambda name, r: ())
    names = list(candidates)
    if warmup:
        for name in names:
            candidates[name](*prepare(name, -1))
    results: dict[str, list] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            results[name].append(measure(candidates[name], prepare(name, r)))
        if after_round is not None:
            after_round(r, results)
    return results


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(ts) for name, ts in times.items()}


def ratios(med: dict[str, float], base: str) -> dict[str, float]:
    """Each candidate's median over the baseline's, from one interleaved run (the side-by-side ratio)."""
    return {name: m / med[base] for name, m in med.items()}


def publish(name: str, heading: str, body: str) -> None:
    """Put `body` (a table with its command and machine line) into BENCHMARKS.md's block `name`."""
    write_block(ROOT / "BENCHMARKS.md", name, heading, body, "Benchmarks")


def emit(name: str, heading: str, body: str, write: bool) -> None:
    """Print a script's result and, with `--write`, publish it as BENCHMARKS.md's block `name`."""
    print(body)
    if write:
        publish(name, heading, body)
