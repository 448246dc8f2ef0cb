"""Do the suggested pruning candidates beat random heads? Measured on the embedded SmolLM2.

    .venv/bin/python validation/validate_pruning.py            # writes its table into VALIDATION.md

1. Monitor SmolLM2 on `validation/calibration.txt` and rank heads with `head_stats()`.
2. On a different text, `validation/heldout.txt` (both written for this project), measure the
   perplexity with no head pruned, with the top-k suggested heads pruned, with the k
   lowest-ranked heads pruned, and with k random heads pruned (several seeds).
Pruning a head = zeroing its slice of the attention output before `o_proj`.
"""

from __future__ import annotations

import math
import random
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

import headentropy as he

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from markdown_block import write_block  # noqa: E402
from headentropy.analysis import head_stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KS = (4, 8, 16, 32)
SEEDS = 8


@contextmanager
def pruned(model, heads: list[tuple[int, int]]):
    """Zero the output of the given (layer, head) pairs for the duration of the block."""
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    handles = []
    for layer, hs in by_layer.items():
        o_proj = model.model.layers[layer].self_attn.o_proj

        def zero_heads(module, args, hs=hs):
            x = args[0].clone()  # [B, L, Hq·D]
            for h in hs:
                x[..., h * head_dim:(h + 1) * head_dim] = 0
            return (x,)

        handles.append(o_proj.register_forward_pre_hook(zero_heads))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def perplexity(model, ids: torch.Tensor) -> float:
    return math.exp(float(model(ids, labels=ids).loss))


def main() -> None:
    model, tok = he.load_model("smollm2")
    calib = tok((HERE / "calibration.txt").read_text(), return_tensors="pt").input_ids
    held = tok((HERE / "heldout.txt").read_text(), return_tensors="pt").input_ids
    with he.monitor(model) as mon, torch.no_grad():
        model(calib)
    stats = head_stats(mon.trace, top_k=10_000)
    ranked = [(c["layer"], c["head"]) for c in stats.pruning_candidates]
    all_heads = [(layer, h) for layer in range(model.config.num_hidden_layers)
                 for h in range(model.config.num_attention_heads)]
    base = perplexity(model, held)
    print(f"baseline perplexity {base:.3f} on {held.shape[1]} tokens", flush=True)

    rows = []
    for k in KS:
        with pruned(model, ranked[:k]):
            top = perplexity(model, held)
        with pruned(model, ranked[-k:]):
            bottom = perplexity(model, held)
        rand = []
        for seed in range(SEEDS):
            with pruned(model, random.Random(seed).sample(all_heads, k)):
                rand.append(perplexity(model, held))
        rand_t = torch.tensor(rand)
        beaten = int((rand_t > top).sum())
        rows.append((k, top, bottom, float(rand_t.median()), float(rand_t.min()), float(rand_t.max()), beaten))
        print(rows[-1], flush=True)

    lines = [
        f"Command: `python validation/validate_pruning.py` — SmolLM2-135M-Instruct, "
        f"{model.config.num_hidden_layers}×{model.config.num_attention_heads} heads; ranking from "
        f"{calib.shape[1]} calibration tokens, perplexity on {held.shape[1]} held-out tokens; "
        f"baseline perplexity **{base:.3f}**. Random: {SEEDS} seeds.",
        "",
        "| k heads pruned | suggested (top-k) | lowest-ranked k | random median | random min – max | random seeds worse than suggested |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for k, top, bottom, med, lo, hi, beaten in rows:
        lines.append(f"| {k} | {top:.3f} ({top / base - 1:+.1%}) | {bottom:.3f} ({bottom / base - 1:+.1%}) | "
                     f"{med:.3f} ({med / base - 1:+.1%}) | {lo:.3f} – {hi:.3f} | {beaten}/{SEEDS} |")
    lines.append("")
    lines.append("Top suggested heads (layer, head, score = mean sink mass + max correlation): " + ", ".join(
        f"L{c['layer']}H{c['head']} ({c['score']:.2f})" for c in stats.pruning_candidates[:8]))
    table = "\n".join(lines)
    print(table)
    if "--no-write" not in sys.argv:
        write_block(ROOT / "VALIDATION.md", "validate_pruning", "Pruning candidates vs random heads", table, "Validation")


if __name__ == "__main__":
    main()
