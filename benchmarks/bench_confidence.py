"""Cost of streaming confidence during `generate` (issue 14): tokens/s side by side, one process.

Configurations, interleaved over rounds on the same prompts (greedy, SmolLM2, a batch of
questions in the QA chat format), median of the rounds:

* `sdpa`: `model.generate`, no monitor (for reference);
* `monitored`: `he.monitor` with a `TraceTap(token_stats=False)` — the monitored generate without
  the confidence features;
* `monitored + token stats`: the default `TraceTap` (log-probability and predictive entropy from
  the logits, needed by the scorer);
* `streaming confidence`: `he.monitor` with `StreamingConfidence(scorer).tap` (features per
  decode step from the same pass) and the score read at the end;
* `gate (abstain)`: `he.generate(..., gate=ConfidenceGate(scorer, 0.0))` (threshold 0: never
  intervenes, so it measures scoring, not regeneration).

The bar: streaming features and the gate's scoring ≤ 1.05× the time of the monitored generate.

    python benchmarks/bench_confidence.py [--batch 8] [--new-tokens 32] [--rounds 5] [--write]
"""

from __future__ import annotations

import argparse

import torch

from harness import ROOT, cpu_description, emit, interleaved, medians, ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    import headentropy as he
    from headentropy.confidence import ConfidenceGate, ConfidenceScorer, generate
    from headentropy.confidence.qa import chat_prompt, load_questions
    from headentropy.confidence.streaming import StreamingConfidence

    model, tok = he.load_model("smollm2")
    scorer = ConfidenceScorer.load("smollm2")
    questions = [q.question for q in load_questions(ROOT / "data" / "qa" / "questions.jsonl")]
    questions = questions[:: max(1, len(questions) // args.batch)][: args.batch]
    enc = tok([chat_prompt(tok, q) for q in questions], return_tensors="pt", padding=True, add_special_tokens=False)
    # min_new_tokens: every configuration decodes the same number of steps
    kw = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False,
              pad_token_id=tok.pad_token_id)

    def sdpa():
        with torch.no_grad():
            model.generate(**enc, **kw)

    def monitored(token_stats: bool):
        def run():
            with he.monitor(model, taps=[he.TraceTap(token_stats=token_stats)]) as mon, torch.no_grad():
                model.generate(**enc, **kw)
            mon.trace
        return run

    def streaming():
        stream = StreamingConfidence(scorer, eos_ids=[tok.eos_token_id])
        with he.monitor(model, taps=[stream.tap]), torch.no_grad():
            model.generate(**enc, **kw)
        stream.confidence

    gate = ConfidenceGate(scorer, 0.0, "abstain")

    def gated():
        generate(model, tok, questions, gate=gate, max_new_tokens=args.new_tokens,
                 generate_kwargs={"min_new_tokens": args.new_tokens})

    configs = {"sdpa": sdpa, "monitored": monitored(False), "monitored + token stats": monitored(True),
               "streaming confidence": streaming, "gate (abstain, threshold 0)": gated}
    med = medians(interleaved(configs, args.rounds))
    tokens = args.batch * args.new_tokens
    rel = ratios(med, "monitored")
    bars = {"streaming confidence": "≤ 1.05×", "gate (abstain, threshold 0)": "≤ 1.05×"}
    rows = [f"| {k} | {tokens / v:.1f} | {rel[k]:.3f}× | {bars.get(k, '')} |" for k, v in med.items()]
    table = "\n".join([
        f"CPU: {cpu_description()}. SmolLM2-135M-Instruct fp32, batch {args.batch} QA prompts, "
        f"{args.new_tokens} new tokens each (greedy, min_new_tokens = max_new_tokens), median of {args.rounds} "
        "interleaved rounds in one process.",
        "",
        "| configuration | tokens/s | time / monitored | bar |",
        "|---|---:|---:|---|",
        *rows,
        "",
        f"Command: `python benchmarks/bench_confidence.py --batch {args.batch} --new-tokens {args.new_tokens} "
        f"--rounds {args.rounds}`",
    ])
    emit("bench_confidence", "Streaming confidence during generate (`bench_confidence.py`)", table, args.write)


if __name__ == "__main__":
    main()
