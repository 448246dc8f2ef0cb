"""Overhead of training with attention entropy (issue 13 item 6): time per training step.

Per model, four configurations side by side in one process, interleaved (every repetition runs
each configuration once, in a rotating order), median over repetitions:

* plain:      the model's own SDPA attention, forward + backward;
* unsampled:  a `he.TrainingMonitor(model, every_n_steps=10**9)` past its first (sampled) step:
              a step it does not record, timed with its `mon.step()` call;
* sampled:    a step the monitor records (`every_n_steps=1`): the headentropy kernel with its
              fused backward, the statistics, `mon.step()` (scalars, alarms, re-arming);
* regularised: `he.regularize(model, weight=1e-3)` on: every step runs the kernel and adds the
              penalty (from the same forward) to the loss.

A step is `loss = model(ids, labels=ids).loss; loss.backward()` and zero_grad (no optimizer
step: it costs the same in every configuration, so leaving it out makes the ratios stricter).
Bars: unsampled ≤ 1.02×, sampled ≤ 1.10×, regularised ≤ 1.30× the plain step.

    python benchmarks/bench_training.py [--reps 7] [--small-reps 21] [--threads N] [--write]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

import headentropy as he
from harness import cpu_description, emit, interleaved, medians, self_measured
from headentropy.hf.training import _SESSIONS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation"))

MODES = ("plain", "unsampled", "sampled", "regularised")
BARS = {"unsampled": 1.02, "sampled": 1.10, "regularised": 1.30}


def smollm2():
    model, _ = he.load_model("smollm2")
    return model


def small():
    import validate_training as V  # the item-5 model: 4 layers, 4 heads, width 128

    return V.make_model(0)


def timed_step(model, ids, mode: str) -> float:
    """One training step of `mode`; seconds of the part a training run pays at such a step."""
    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)

    if mode == "plain":
        t = time.perf_counter()
        step()
        return time.perf_counter() - t
    if mode == "unsampled":
        mon = he.TrainingMonitor(model, every_n_steps=10 ** 9, warn=False)
        mon.step(0)  # closes step 0 (the sampled one) without a forward: from now on unsampled
        assert model not in _SESSIONS  # nothing of ours on the model: its own attention, no hooks
        t = time.perf_counter()
        step()
        mon.step(1)
        seconds = time.perf_counter() - t
        mon.close()
        return seconds
    if mode == "sampled":
        mon = he.TrainingMonitor(model, every_n_steps=1, warn=False)  # armed for its step 0
        t = time.perf_counter()
        step()
        scalars = mon.step(0)  # scalars + alarms, then re-arms for the next step (every_n_steps=1)
        seconds = time.perf_counter() - t
        mon.close()
        assert scalars, "the sampled step recorded nothing"
        return seconds
    if mode == "regularised":
        reg = he.regularize(model, weight=1e-3)
        t = time.perf_counter()
        step()
        seconds = time.perf_counter() - t
        penalty = reg.last_penalty
        reg.remove()
        assert penalty is not None, "the regulariser saw no forward"
        return seconds
    raise ValueError(mode)


def unsampled_bookkeeping(model, calls: int = 2000) -> float:
    """Seconds of one `mon.step()` on an unsampled step: all an unsampled step adds to the model's own."""
    mon = he.TrainingMonitor(model, every_n_steps=10 ** 9, warn=False)
    mon.step(0)
    t = time.perf_counter()
    for i in range(1, calls + 1):
        mon.step(i)
    seconds = (time.perf_counter() - t) / calls
    mon.close()
    return seconds


def measure(name: str, model, ids: torch.Tensor, reps: int) -> dict:
    model.train()

    def progress(r: int, times: dict[str, list[float]]) -> None:
        print(f"  {name} rep {r + 1}/{reps}: " + ", ".join(f"{m} {times[m][-1]:.3f}s" for m in MODES), flush=True)

    # timed_step returns the seconds of the part a run pays (set-up and tear-down left out);
    # the warm-up keeps first use (kernel load, allocator pools) out; rotate: none always first
    steps = {mode: (lambda mode=mode: timed_step(model, ids, mode)) for mode in MODES}
    times = interleaved(steps, reps, measure=self_measured, rotate=True, after_round=progress)
    med = medians(times)
    spread = {m: (min(v), max(v)) for m, v in times.items()}
    return {"name": name, "tokens": ids.numel(), "shape": list(ids.shape), "median": med, "spread": spread,
            "reps": reps, "bookkeeping": unsampled_bookkeeping(model)}


def noise(result: dict) -> float:
    """Half the plain step's min-to-max spread, relative to its median: ratios closer to 1 than this
    are not resolved by this run."""
    lo, hi = result["spread"]["plain"]
    return (hi - lo) / 2 / result["median"]["plain"]


def rows(result: dict) -> list[str]:
    med, spread = result["median"], result["spread"]
    base = med["plain"]
    out = []
    for mode in MODES:
        ratio = med[mode] / base
        bar = BARS.get(mode)
        if bar is None:
            verdict = ""
        elif ratio <= bar:
            verdict = f"≤ {bar:.2f}× — holds"
        elif ratio <= 1 + noise(result):
            verdict = f"≤ {bar:.2f}× — above it, but within this run's noise (±{noise(result):.0%}): not resolved"
        else:
            verdict = f"≤ {bar:.2f}× — missed"
        lo, hi = spread[mode]
        out.append(f"| {result['name']} | {mode} | {med[mode]:.3f} | {lo:.3f}–{hi:.3f} | {ratio:.3f}× | {verdict} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=1024, help="SmolLM2 sequence length (batch 1)")
    ap.add_argument("--reps", type=int, default=7, help="repetitions for SmolLM2")
    ap.add_argument("--small-reps", type=int, default=21, help="repetitions for the small model")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's own, one per core); 1 resists other jobs on the cores")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    results = []
    model = small()
    import validate_training as V

    ids = torch.randint(0, 256, (V.BATCH, V.SEQ), generator=g)
    results.append(measure(f"small Llama (validate_training.py), {V.BATCH}×{V.SEQ}", model, ids, args.small_reps))
    del model
    model = smollm2()
    ids = torch.randint(10, 40000, (1, args.tokens), generator=g)
    results.append(measure(f"SmolLM2-135M, 1×{args.tokens}", model, ids, args.reps))

    threads = torch.get_num_threads()
    load = os.getloadavg()
    lines = [
        f"CPU: {cpu_description()}. fp32, train mode, torch threads {threads} "
        f"(load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} over 1 / 5 / 15 min: the machine is "
        "shared, so single steps vary; the ratios compare medians of interleaved repetitions in one process).",
        "A step: forward with labels, `loss.backward()`, `zero_grad` (no optimizer step). Unsampled: a step a "
        "`TrainingMonitor(every_n_steps=10**9)` does not record, with its `mon.step()`; sampled: a recorded step "
        "(backend auto: the fused CPU kernel and its backward) with `mon.step()` (scalars, alarms); regularised: "
        "`he.regularize(model, weight=1e-3)` on.",
        "",
        "| model, batch×tokens | configuration | median s | min–max s | / plain | bar |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines += rows(r)
    spread = max((hi - lo) / r["median"]["plain"] for r in results for lo, hi in [r["spread"]["plain"]])
    disturbed = [(r["name"].split(",")[0], mode, hi / r["median"][mode]) for r in results
                 for mode, (lo, hi) in r["spread"].items() if hi > 1.5 * r["median"][mode]]
    if disturbed:
        worst = max(disturbed, key=lambda d: d[2])
        lines += ["", f"**Disturbed by contention**: {len(disturbed)} configuration(s) had steps over 1.5× their "
                      f"median (worst: {worst[0]} {worst[1]}, {worst[2]:.1f}×) — other jobs took the cores and "
                      "torch's threads waited on each other. The medians resist a few such steps, but read the "
                      "ratios with the min–max column."]
    lines += [
        "",
        "Reading it: the unsampled step runs exactly the plain step's code (the monitor is not entered "
        "between samples: no hook, no kernel of ours) plus one `mon.step()`, measured alone at "
        + " and ".join(f"{r['bookkeeping'] * 1e6:.1f} µs ({r['bookkeeping'] / r['median']['plain']:.1e} of the "
                       f"{r['name'].split(',')[0]} step)" for r in results)
        + f"; its ratio differs from 1 only by noise (plain steps alone spread by up to {spread:.0%} min to max "
        "on this shared machine), so the 1.02× bar holds by construction rather than being resolved by the "
        "timing. The sampled and regularised steps run the fused CPU kernel forward and backward instead of "
        "SDPA's, which on this CPU is faster than SDPA's training path (see `bench_backward.py` above): "
        "that, not the measurement, is why they can come out below 1×.",
    ]
    threads_flag = f" --threads {args.threads}" if args.threads is not None else ""
    lines += ["", f"Command: `python benchmarks/bench_training.py --tokens {args.tokens} --reps {args.reps} "
                  f"--small-reps {args.small_reps}{threads_flag}{' --write' if args.write else ''}` ({args.reps} / {args.small_reps} "
                  "interleaved repetitions)."]
    table = "\n".join(lines)
    emit("bench_training", "Training with attention entropy: overhead per step (`bench_training.py`)", table, args.write)


if __name__ == "__main__":
    main()
