#!/usr/bin/env python
"""Where a monitored forward's time goes on the GPU (diagnosis for bench_gpu_model.py's rows).

On a Llama with SmolLM2-135M's shapes (random weights, bf16, batch 4 × 2048), median ms of one
forward (`harness.cuda_median_ms`: triton.testing.do_bench), one after the other:

* `plain`: the model with SDPA;
* `monitored`: `he.monitor(model, taps=[TraceTap(token_stats=False)])`;
* `no tap`: one monitor whose only tap samples its first call (`TraceTap(every_n_calls=10**9)`),
  entered for every call after that one: the headentropy attention with nothing recorded;
* `no V scan`: `no tap`, with the per-call flagging of non-finite V rows switched off (what the
  flags and the kernel's check of them cost);
* `he.attention ×30`: thirty bare `he.attention` calls on one layer's q, k, v (the kernel alone,
  with the launcher's per-call work);
* `sdpa ×30`: thirty bare SDPA calls on the same q, k, v.

Then the host synchronisations of one monitored forward, counted with
`torch.cuda.set_sync_debug_mode("warn")` and grouped by the headentropy line that caused them,
and torch.profiler's top CPU-side operators.

    python benchmarks/gpu_profile.py
"""

from __future__ import annotations

import collections
import importlib.util
import sys
import traceback
import warnings
from pathlib import Path

from harness import cuda_median_ms

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("gpu_profile: no CUDA device on this machine; nothing measured.")
        return 0
    if importlib.util.find_spec("headentropy") is None:
        sys.path.insert(0, str(ROOT / "src"))
    import torch.nn.functional as F
    import bench_gpu_model
    import headentropy as he
    from headentropy.kernels.triton import fwd

    model = bench_gpu_model.build("sdpa").eval()
    ids = torch.randint(10, 40000, (4, 2048), device="cuda")

    def forward(taps):
        quiet = he.monitor(model, taps=[he.TraceTap(every_n_calls=10**9)])  # samples only its first call

        def run():
            with torch.no_grad():
                if taps is None:
                    model(input_ids=ids)
                elif taps == "none":
                    with quiet:
                        model(input_ids=ids)
                else:
                    with he.monitor(model, taps=taps()):
                        model(input_ids=ids)
        return run

    q = torch.randn(4, 9, 2048, 64, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(4, 3, 2048, 64, device="cuda", dtype=torch.bfloat16) for _ in range(2))

    def bare_he():
        for _ in range(30):
            he.attention(q, k, v, causal=True)

    def bare_sdpa():
        for _ in range(30):
            F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    def no_scan(fn):
        def run():
            saved = fwd.value_row_maxabs
            fwd.value_row_maxabs = lambda v: None  # as if V were known finite: no per-key max, no in-kernel check
            try:
                fn()
            finally:
                fwd.value_row_maxabs = saved
        return run

    rows = {
        "plain": forward(None),
        "monitored": forward(lambda: [he.TraceTap(token_stats=False)]),
        "no tap": forward("none"),
        "no V scan": no_scan(forward("none")),
        "monitored, no V scan": no_scan(forward(lambda: [he.TraceTap(token_stats=False)])),
        "he.attention ×30": bare_he,
        "he.attention ×30, no V scan": no_scan(bare_he),
        "sdpa ×30": bare_sdpa,
    }
    for fn in rows.values():
        fn()
    print("| what | median ms |\n|---|---|")
    for name, fn in rows.items():
        print(f"| {name} | {cuda_median_ms(fn, (), warmup_ms=50, rep_ms=300):.2f} |", flush=True)

    # Host synchronisations of one monitored forward, by the headentropy line that caused them.
    sites: collections.Counter[str] = collections.Counter()

    def on_warning(message, category, filename, lineno, file=None, line=None):
        ours = [f for f in traceback.extract_stack() if "/headentropy/" in f.filename]
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno} {ours[-1].line}" if ours else "outside headentropy"
        sites[where] += 1

    warnings.showwarning = on_warning
    warnings.simplefilter("always")
    torch.cuda.set_sync_debug_mode("warn")
    forward(lambda: [he.TraceTap(token_stats=False)])()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("default")
    print("\nHost synchronisations in one monitored forward:")
    for where, n in sites.most_common(15):
        print(f"  {n:4d}  {where}")

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        forward(lambda: [he.TraceTap(token_stats=False)])()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=30, max_name_column_width=60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
