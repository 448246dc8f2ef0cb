#!/usr/bin/env python
"""A monitored HF model on the GPU: correctness first, then cost vs plain SDPA (issues 4 and 12).

The embedded SmolLM2 weights (a 98 MB GGUF) cannot travel to a lent GPU machine, so this builds a
Llama with SmolLM2-135M's shapes (30 layers, 9 query / 3 key-value heads of 64, hidden 576) from
its config and random weights, in bf16 on CUDA. Timing does not depend on the weights' values.

1. Correctness, failing fast: the monitored forward runs on backend `triton` for every layer call
   (`mon.backend_counts`), its logits match the plain SDPA model's within bf16 rounding, and a
   training step with attention dropout 0.1 gives finite gradients.
2. Side by side in one process, each pair interleaved over 3 rounds (`harness.interleaved`; per round
   the median of `triton.testing.do_bench`, CUDA events):
   * forward at batch 4 × 2048 tokens: monitored / plain SDPA;
   * one training step (forward + backward, dropout 0) at batch 4 × 2048: monitored / SDPA, and
     the extra peak memory of each;
   * greedy decode of 64 tokens after a 128-token prompt, batch 8: tokens/s monitored / plain.

    python benchmarks/bench_gpu_model.py [--write]

Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import sys
import time
from functools import partial
from pathlib import Path

from harness import (cuda_median_ms, cuda_peak_during, emit, interleaved, medians, ratios, self_measured,
                     wall_seconds)

ROOT = Path(__file__).resolve().parents[1]
SMOLLM2_135M = dict(  # SmolLM2-135M-Instruct's config.json, the shapes that set the cost
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
    num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
    rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
)


DEVICE = "cuda"
SHAPES = dict(SMOLLM2_135M)


def build(attn: str, dropout: float = 0.0):
    import torch
    import transformers as tr

    torch.manual_seed(0)
    cfg = tr.LlamaConfig(**SHAPES, attention_dropout=dropout)
    cfg._attn_implementation = attn
    return tr.LlamaForCausalLM(cfg).to(DEVICE, torch.bfloat16)


ROUNDS = 3  # interleaved rounds of every side-by-side pair


def ms_measure(rep_ms: int):
    """The `interleaved` measure: do_bench's median ms on CUDA; one wall-clock call in the CPU
    dry run (which only exercises this script)."""
    if DEVICE == "cuda":
        return partial(cuda_median_ms, warmup_ms=50, rep_ms=rep_ms)
    return lambda fn, args: wall_seconds(fn, args) * 1e3


def side_by_side(candidates: dict, rep_ms: int) -> dict[str, list[float]]:
    """{name: ms per round}, the pair interleaved over ROUNDS rounds with the order alternating."""
    return interleaved(candidates, ROUNDS, measure=ms_measure(rep_ms), rotate=True)


def spread(times: list[float]) -> str:
    return f"{min(times):.1f}–{max(times):.1f}"


def peak_bytes(fn) -> int:
    return cuda_peak_during(fn) if DEVICE == "cuda" else (fn(), 1)[1]


def correctness(lines: list[str]) -> None:
    import torch

    import headentropy as he

    model = build("sdpa").eval()
    ids = torch.randint(10, SHAPES["vocab_size"], (2, 777), device=DEVICE)
    with torch.no_grad():
        plain = model(input_ids=ids).logits.float()
        with he.monitor(model) as mon:
            monitored = model(input_ids=ids).logits.float()
    counts = dict(mon.backend_counts)
    expected = "triton" if DEVICE == "cuda" else "cpu"
    assert set(counts) == {expected}, f"layer calls ran on {counts}, expected {expected} only"
    diff = float((monitored - plain).abs().max())
    scale = float(plain.abs().max())
    assert diff <= 0.05 * scale, f"monitored logits differ from SDPA's by {diff:.3g} (scale {scale:.3g})"
    trace = mon.trace
    assert torch.isfinite(trace.shannon).all()
    lines.append(f"* forward, batch 2 × 777 tokens: {counts[expected]} layer calls on `{expected}`; "
                 f"max |logits − SDPA logits| = {diff:.3g} (max |logit| {scale:.3g}); trace {tuple(trace.shannon.shape)}")

    train = build("sdpa", dropout=0.1).train()
    tap = he.LossTap()
    with he.monitor(train, taps=[tap]) as mon:
        out = train(input_ids=ids, labels=ids)
    loss = out.loss - 0.01 * tap.mean_normalized("shannon").mean()
    loss.backward()
    bad = [n for n, p in train.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, f"missing or non-finite gradients: {bad[:5]}"
    assert set(mon.backend_counts) == {expected}, mon.backend_counts
    lines.append(f"* training step with attention dropout 0.1 and the entropy regulariser: "
                 f"{mon.backend_counts[expected]} layer calls on `{expected}`, every gradient finite")


def forward_and_step(lines: list[str], batch: int, tokens: int) -> None:
    import torch

    import headentropy as he

    plain, monitored = build("sdpa").eval(), build("sdpa").eval()
    ids = torch.randint(10, SHAPES["vocab_size"], (batch, tokens), device=DEVICE)

    def fwd_plain():
        with torch.no_grad():
            plain(input_ids=ids)

    def fwd_monitored():  # a fresh monitor per call, as a user writes it (traces do not pile up)
        with torch.no_grad(), he.monitor(monitored, taps=[he.TraceTap(token_stats=False)]):
            monitored(input_ids=ids)

    rounds = side_by_side({"plain": fwd_plain, "monitored": fwd_monitored}, 300)
    ms = medians(rounds)
    lines.append(f"| forward, {batch} × {tokens} | {ms['plain']:.1f} ({spread(rounds['plain'])}) "
                 f"| {ms['monitored']:.1f} ({spread(rounds['monitored'])}) "
                 f"| {ratios(ms, 'plain')['monitored']:.3f} | |")

    plain.train(), monitored.train()

    def step_plain():
        plain.zero_grad(set_to_none=True)
        plain(input_ids=ids, labels=ids).loss.backward()

    def step_monitored():
        monitored.zero_grad(set_to_none=True)
        tap = he.LossTap()
        with he.monitor(monitored, taps=[tap]):
            out = monitored(input_ids=ids, labels=ids)
        (out.loss - 0.01 * tap.mean_normalized("shannon").mean()).backward()

    # ~100 ms a step: 300 ms of repeats would be 3 samples (two runs on the H200 differed by 30%)
    rounds = side_by_side({"plain": step_plain, "monitored": step_monitored}, 1000)
    ms = medians(rounds)
    mem_plain, mem_mon = peak_bytes(step_plain), peak_bytes(step_monitored)
    lines.append(f"| training step, {batch} × {tokens} (loss + 0.01·H̄ for ours) | {ms['plain']:.1f} "
                 f"({spread(rounds['plain'])}) | {ms['monitored']:.1f} ({spread(rounds['monitored'])}) "
                 f"| {ratios(ms, 'plain')['monitored']:.3f} "
                 f"| {mem_plain / 2**20:.0f} / {mem_mon / 2**20:.0f} ({mem_mon / mem_plain:.2f}×) |")


def decode(lines: list[str], batch: int, prompt: int, new_tokens: int) -> None:
    import torch

    import headentropy as he

    model = build("sdpa").eval()
    ids = torch.randint(10, SHAPES["vocab_size"], (batch, prompt), device=DEVICE)

    def tokens_per_s(monitored: bool, n: int) -> float:  # seconds of one generate of n tokens
        def gen():
            model.generate(input_ids=ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)

        sync()
        t0 = time.perf_counter()
        if monitored:
            with he.monitor(model):
                gen()
        else:
            gen()
        sync()
        return time.perf_counter() - t0

    def sync():
        if DEVICE == "cuda":
            torch.cuda.synchronize()

    def decode_rate(monitored: bool) -> float:  # tokens/s of the decode steps alone
        full, one = tokens_per_s(monitored, new_tokens), tokens_per_s(monitored, 1)
        return batch * (new_tokens - 1) / (full - one)

    candidates = {"plain": lambda: decode_rate(False), "monitored": lambda: decode_rate(True)}
    best = {k: max(v) for k, v in interleaved(candidates, ROUNDS, measure=self_measured, rotate=True).items()}
    lines.append(f"| decode, batch {batch}, {prompt}-token prompt, {new_tokens} new (tokens/s, best of {ROUNDS}) "
                 f"| {best['plain']:.0f} | {best['monitored']:.0f} | {best['plain'] / best['monitored']:.3f} | |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="replace this script's block of BENCHMARKS.md")
    ap.add_argument("--out", type=Path, help="also write the markdown to this file")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--check-only", action="store_true", help="only the correctness checks (step 1)")
    ap.add_argument("--cpu-dry-run", action="store_true",
                    help="tiny shapes on the CPU, to check this script's logic; its numbers mean nothing")
    args = ap.parse_args()
    import torch

    global DEVICE
    if args.cpu_dry_run:
        DEVICE = "cpu"
        SHAPES.update(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=1000)
        args.batch, args.tokens = 1, 64
    elif not torch.cuda.is_available():
        print("bench_gpu_model: no CUDA device on this machine; nothing measured.")
        return 0
    if importlib.util.find_spec("headentropy") is None:
        sys.path.insert(0, str(ROOT / "src"))
    import transformers

    t0 = time.time()
    checks: list[str] = []
    correctness(checks)
    print("\n".join(checks), flush=True)
    if args.check_only:
        return 0
    rows = ["| what | plain SDPA ms (rounds) | monitored ms (rounds) | monitored / plain | peak extra MiB plain / monitored |",
            "|---|---|---|---|---|"]
    forward_and_step(rows, args.batch, args.tokens)
    print("\n".join(rows), flush=True)
    decode(rows, 8, 128, 64)
    if args.cpu_dry_run:
        print("\n".join(rows))
        return 0
    import triton

    props = torch.cuda.get_device_properties(0)
    body = "\n".join([
        f"`python benchmarks/bench_gpu_model.py{' --write' if args.write else ''}` — "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {props.name}, torch {torch.__version__}, "
        f"triton {triton.__version__}, transformers {transformers.__version__}. A Llama with SmolLM2-135M's shapes, "
        "random weights, bf16; monitored = `he.monitor(model)` (backend auto → triton; the forward rows with "
        "`TraceTap(token_stats=False)`, the training step with a `LossTap` regulariser); decode uses the default "
        f"`TraceTap`. Each pair interleaved over {ROUNDS} rounds, order alternating (`harness.interleaved`): median "
        "of the rounds' `triton.testing.do_bench` medians, with the rounds' range; decode: wall clock, best round.",
        "",
        "Checks:",
        *checks,
        "",
        *rows,
        "",
        f"Total wall time {time.time() - t0:.0f} s.",
    ])
    emit("bench_gpu_model", "GPU: a monitored model (`bench_gpu_model.py`)", body, args.write)
    if args.out:
        args.out.write_text(body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
