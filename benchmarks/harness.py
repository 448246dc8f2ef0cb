"""What every benchmark script shares: the machine line, peak-RSS sampling, publishing a table.

    from harness import cpu_description, emit, interleaved, peak_rss_during

Ratios are measured side by side in one run (this machine is shared and noisy): `interleaved`
runs the configurations round-robin so slow phases of the machine hit all of them alike. Each
script owns one block of BENCHMARKS.md, which `publish` replaces on rerun.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

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


def interleaved(candidates: dict[str, Callable[..., object]], rounds: int, *,
                prepare: Callable[[str], tuple] | None = None) -> dict[str, list[float]]:
    """Seconds of each candidate over `rounds` round-robin rounds, after one warm-up call each
    (first-use work: kernel loading, allocator pools). `prepare(name)` builds a call's arguments
    outside the timed region (e.g. fresh leaf tensors for a backward)."""
    prepare = prepare or (lambda name: ())
    for name, fn in candidates.items():
        fn(*prepare(name))
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            args = prepare(name)
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(ts) for name, ts in times.items()}


def publish(name: str, heading: str, body: str) -> None:
    """Put `body` (a table with its command and machine line) into BENCHMARKS.md's block `name`."""
    write_block(ROOT / "BENCHMARKS.md", name, heading, body, "Benchmarks")


def emit(name: str, heading: str, body: str, write: bool) -> None:
    """Print a script's result and, with `--write`, publish it as BENCHMARKS.md's block `name`."""
    print(body)
    if write:
        publish(name, heading, body)
