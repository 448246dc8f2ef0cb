"""Calibrate the shipped SmolLM2 confidence scorer and write HALLUCINATION.md (issue 14).

    .venv/bin/python validation/validate_confidence.py [--held-out numbers] [--skip-gates]

1. Answers every question of data/qa/questions.jsonl greedily with the embedded SmolLM2 under
   he.monitor (features from the same pass) and labels them by alias match; the generation set is
   cached in out/confidence/generations (delete it to regenerate).
2. Holds one domain out (`--held-out`). On the other domains: 5-fold cross-validation (in-domain)
   and leave-one-domain-out (transfer), for the scorer and every baseline; then model selection:
   every design of `evaluate.CANDIDATES`, leave-one-domain-out, chosen by `evaluate.SELECTION_RULE`
   (`--select-only` prints that table alone and stops before the held-out rows are touched).
3. Fits the shipped scorer (the chosen design) on every domain but the held-out one and saves it into
   src/headentropy/confidence/scorers/smollm2; judges it on the held-out domain only.
4. Gates on the held-out domain with thresholds chosen on the training domains' out-of-fold
   scores: abstain (accuracy vs coverage), resample (rejection sampling vs greedy), retrieve over
   data/qa/passages (never / when triggered / always).
Country capitals are not in the data at all: that domain is reserved for an independent check.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

import headentropy as he
from headentropy.confidence import evaluate as E
from headentropy.confidence.gate import ConfidenceGate, _attempt, _with_passages, generate
from headentropy.confidence.labels import is_correct
from headentropy.confidence.metrics import auroc, bootstrap
from headentropy.confidence.qa import GenerationSet, answer_questions, chat_prompt, load_questions
from headentropy.confidence.retrieval import Retriever

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from harness import cpu_description  # noqa: E402  (the one lscpu summary beside every table)

DATA = ROOT / "data" / "qa"
CACHE = ROOT / "out" / "confidence"
SHIPPED = ROOT / "src" / "headentropy" / "confidence" / "scorers" / "smollm2"
DOC = ROOT / "HALLUCINATION.md"


def generations(model, tok, questions) -> GenerationSet:
    """The cached generation set, extended by the questions it lacks (a question whose text
    changed is answered again); answers already cached are kept, so adding a domain answers only
    that domain's questions (in batches of their own)."""
    folder = CACHE / "generations"
    cached = GenerationSet.load(folder) if (folder / "generations.jsonl").exists() else None
    if cached is not None and [(r.id, r.question) for r in cached.rows] == [(q.id, q.question) for q in questions]:
        return cached
    have: dict[str, int] = {}
    if cached is not None:
        text = {q.id: q.question for q in questions}
        have = {r.id: i for i, r in enumerate(cached.rows) if text.get(r.id) == r.question}
    missing = [q for q in questions if q.id not in have]
    print(f"answering {len(missing)} questions ({len(have)} cached) ...", file=sys.stderr)
    new = answer_questions(model, tok, missing, batch_size=16) if missing else cached
    at = {r.id: i for i, r in enumerate(new.rows)}
    rows, feats = [], []
    for q in questions:
        src, i = (cached, have[q.id]) if q.id in have else (new, at[q.id])
        row = src.rows[i]  # labelled again against the current aliases
        rows.append(dataclasses.replace(row, correct=is_correct(row.answer, q.answers) if q.answers else None))
        feats.append(src.features[i])
    gs = GenerationSet(rows, torch.stack(feats), new.num_layers, new.num_heads, new.model_name)
    gs.save(folder)
    return gs


def table(rows: list[E.Row]) -> str:
    return "\n".join([E.HEADER] + [r.markdown() for r in rows])


def scores_table(gs: GenerationSet, learned: dict[str, torch.Tensor]) -> list[E.Row]:
    scores = dict(learned)
    scores.update({f"baseline: {k}": v for k, v in E.baseline_scores(gs).items()})
    return E.compare(scores, gs.labels)


def selection_section(train: GenerationSet, sel: E.Selection) -> list[str]:
    """HALLUCINATION.md's model-selection section: every candidate design, leave-one-domain-out on
    the training domains (the held-out domain is not in `train`)."""
    y = train.labels
    doms = sorted(set(train.domains))
    lp = E.baseline_scores(train)["mean_logprob"]
    lp_per = E.per_domain_auroc(lp, y, train.domains)
    out = ["## Model selection for unseen domains (training domains only)\n",
           "The per-head design fell below the token log-probability on the first held-out domain (`numbers`), "
           "which has since joined the training domains. The candidate designs below were written down "
           "(`headentropy.confidence.evaluate.CANDIDATES`, with the reasons there) before any of them was run on "
           f"these {len(doms)} training domains and before any scorer was run on the fresh held-out domains, and "
           f"compared by leave-one-domain-out on the {len(doms)} training domains only ({', '.join(doms)}): each "
           f"domain is scored by a scorer fitted on the other {len(doms) - 1}, with everything the fit chooses (C by "
           f"leave-one-domain-out log loss among those {len(doms) - 1}, the top-k heads, the stack's meta-learner, "
           f"the residual correction's C) chosen without it. Rule: {E.SELECTION_RULE}. The held-out domains played "
           "no part in this table or the choice.\n",
           "| candidate | features | " + " | ".join(doms) + " | mean of domains | domains above log-prob | "
           "pooled AUROC [95% CI] |",
           "|---|---|" + "---|" * len(doms) + "---|---|---|"]

    def line(name: str, s: torch.Tensor, size: str) -> str:
        v, lo, hi = bootstrap(auroc, s, y, 1000)
        per = E.per_domain_auroc(s, y, train.domains)
        above = sum(per[d] > lp_per[d] for d in doms)
        mark = " **(chosen)**" if name == sel.chosen else ""
        return (f"| {name}{mark} | {size} | " + " | ".join(f"{per[d]:.3f}" for d in doms)
                + f" | {sum(per.values()) / len(per):.3f} | {above} of {len(doms)} | {v:.3f} [{lo:.3f}, {hi:.3f}] |")

    for name, s in sel.scores.items():
        out.append(line(name, s, str(sel.features[name])))
    out.append(line("baseline: mean token log-prob (no fit)", lp, "1"))
    out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--held-out", default="art,animals",
                    help="domains kept out of training, comma-separated (they judge the shipped scorer)")
    ap.add_argument("--skip-gates", action="store_true")
    ap.add_argument("--resample-n", type=int, default=4)
    ap.add_argument("--generate-only", action="store_true",
                    help="answer the questions the cache lacks, print each domain's accuracy and stop (no scorer is run)")
    ap.add_argument("--select-only", action="store_true",
                    help="print the model-selection table (training domains only, from the cached generations) and stop")
    args = ap.parse_args()
    t0 = time.time()
    held_out = [d for d in args.held_out.split(",") if d]
    if args.select_only:  # never touches the held-out rows: they are removed before anything is computed
        gs = GenerationSet.load(CACHE / "generations")
        train = gs.subset([d not in held_out for d in gs.domains])
        sel = E.select_design(train, log=lambda m: print(m, file=sys.stderr, flush=True))
        print("\n".join(selection_section(train, sel)))
        print(f"chosen: {sel.chosen} ({time.time() - t0:.0f} s)")
        return
    model, tok = he.load_model("smollm2")
    questions = load_questions(DATA / "questions.jsonl")
    gs = generations(model, tok, questions)
    if args.generate_only:
        for d in sorted(set(gs.domains)):
            m = torch.tensor([x == d for x in gs.domains])
            print(f"{d:<12} {int(m.sum()):>4} answers, accuracy {float(gs.labels[m].double().mean()):.2f}")
        print(f"({time.time() - t0:.0f} s)")
        return
    domains = sorted(set(gs.domains))
    if args.held_out not in domains:
        sys.exit(f"--held-out {args.held_out!r} is not a domain of the data: {domains}")
    held = torch.tensor([d == args.held_out for d in gs.domains])
    train, test = gs.subset(~held), gs.subset(held)
    out: list[str] = []
    w = out.append
    w("# Hallucination benchmark: attention entropy as a confidence score (SmolLM2-135M-Instruct)\n")
    w("Written by `python validation/validate_confidence.py` "
      f"(this run: {time.strftime('%Y-%m-%d')}, {cpu_description()}). Do not edit by hand.\n")
    w("## Data\n")
    w(f"{len(gs)} short factual questions written by the project (`data/qa/`, {len(domains)} domains; "
      "country capitals are deliberately absent), each answered greedily by the embedded SmolLM2 with its chat "
      f"template (`{he.confidence.qa.PROMPT}`), up to 24 new tokens, and labelled correct when the answer "
      "contains one of the question's aliases (`data/qa/label.py`). Attention statistics and the token "
      "log-probabilities come from the same `generate` pass (`he.monitor`, no second forward).\n")
    w("| domain | questions | answered correctly |\n|---|---|---|")
    for d in domains:
        m = torch.tensor([x == d for x in gs.domains])
        w(f"| {d}{' (held out)' if d == args.held_out else ''} | {int(m.sum())} | {float(gs.labels[m].double().mean()):.2f} |")
    w("")

    # ---- in-domain and transfer on the training domains --------------------------------------
    print("cross-validating ...", file=sys.stderr)
    learned_cv = {f"scorer ({fs})": E.cross_validated(train, fs) for fs in ("all", "attention", "logits")}
    learned_lodo = {f"scorer ({fs})": E.leave_one_group_out(train, fs) for fs in ("all", "attention", "logits")}
    w("## Scores on the training domains\n")
    w("Confidence = probability of a correct answer; AUROC and PRR (prediction rejection ratio: 0 = random "
      "order, 1 = oracle) with 95% bootstrap intervals (1000 resamples of the questions). `scorer (all)` uses "
      "per-head attention entropy, Rényi-2 and sink mass over the answer plus the logits' features; "
      "`(attention)` only the attention features; `(logits)` only token log-probabilities, predictive "
      "entropy and length. Baselines have a fixed orientation (evaluate.py).\n")
    w(f"### In-domain: 5-fold cross-validation over {', '.join(d for d in domains if d != args.held_out)}\n")
    w(table(scores_table(train, learned_cv)) + "\n")
    w("### Transfer: leave one domain out (fit on the others, score the one left out; pooled)\n")
    w(table(scores_table(train, learned_lodo)) + "\n")
    w("Per domain left out (AUROC):\n")
    w("| domain left out | scorer (all) | scorer (attention) | baseline: mean_logprob |\n|---|---|---|---|")
    for d in sorted(set(train.domains)):
        m = torch.tensor([x == d for x in train.domains])
        y = train.labels[m]
        w(f"| {d} | {auroc(learned_lodo['scorer (all)'][m], y):.3f} | {auroc(learned_lodo['scorer (attention)'][m], y):.3f} | "
          f"{auroc(E.baseline_scores(train)['mean_logprob'][m], y):.3f} |")
    w("")

    # ---- model selection for transfer: training domains only ---------------------------------
    print("model selection ...", file=sys.stderr)
    sel = E.select_design(train)
    out.extend(selection_section(train, sel))
    previous = "per-head (previous design)"
    design = E.CANDIDATES[sel.chosen]
    values = {n: auroc(v, train.labels) for n, v in sel.scores.items()}
    doms = sorted(set(train.domains))
    per_domain = {n: sum(auroc(v[m], train.labels[m]) for m in
                         (torch.tensor([x == d for x in train.domains]) for d in doms)) / len(doms)
                  for n, v in sel.scores.items()}
    if sel.chosen == previous:
        w(f"The rule keeps the previous design: no candidate beats its pooled leave-one-domain-out AUROC "
          f"({values[previous]:.3f}); by the mean of the per-domain AUROCs it is also first "
          f"({per_domain[previous]:.3f})." if per_domain[previous] >= max(per_domain.values()) else
          f"The rule keeps the previous design: no candidate beats its pooled leave-one-domain-out AUROC "
          f"({values[previous]:.3f}).")
    else:
        w(f"The rule chooses **{sel.chosen}** (pooled {values[sel.chosen]:.3f} against {values[previous]:.3f} for "
          "the previous design); it becomes the shipped scorer.")
    gaps = [f"{n} {per_domain[n]:.3f} within domains vs {values[n]:.3f} pooled" for n in sel.scores
            if per_domain[n] - values[n] > 0.05]
    if gaps:
        w("Where the pooled AUROC falls well below the mean within-domain AUROC, a design ranks answers inside a "
          "domain but its scores shift between domains (the pooled table counts that, and so would one threshold "
          "for all domains): " + "; ".join(gaps) + ".")
    for n, by_domain in sel.folds.items():
        if E.CANDIDATES[n].get("stack"):
            w(f"Meta-learner weights of *{n}* (logits model, attention model) per left-out domain: "
              + "; ".join(f"{d} ({s.info['stack']['meta_weight']['logits']:+.2f}, "
                          f"{s.info['stack']['meta_weight']['attention']:+.2f})" for d, s in by_domain.items())
              + " (fitted on out-of-domain log-odds of base models that saw two domains each).")
    w("")

    # ---- the shipped scorer, judged on the held-out domain ------------------------------------
    scorer = he.ConfidenceScorer(**design).fit_features(train.features, train.labels, gs.num_layers, gs.num_heads,
                                                        gs.model_name, groups=train.domains)
    held_scores = {f"shipped scorer: {sel.chosen}": scorer.score_features(test.features)}
    if sel.chosen != previous:
        held_scores[f"{previous}, seen once before"] = E._fit(train, **E.CANDIDATES[previous]).score_features(test.features)
    rows = scores_table(test, held_scores)
    ours, lp = rows[0].auroc[0], next(r for r in rows if r.method == "baseline: mean_logprob").auroc[0]
    scorer.info.update({"model": "smollm2", "held_out_domain": args.held_out, "prompt": he.confidence.qa.PROMPT,
                        "design": sel.chosen,
                        "selection": {"rule": E.SELECTION_RULE, "lodo_auroc": {n: round(v, 4) for n, v in values.items()}},
                        "benchmark": {"held_out_auroc": round(ours, 4), "held_out_logprob_auroc": round(lp, 4),
                                      "document": "HALLUCINATION.md"}})
    scorer.save(SHIPPED)
    how = (f"C = {scorer.C} chosen by leave-one-domain-out log loss" if not scorer.stack else
           f"C per base model {scorer.info['stack']['C']} chosen by leave-one-domain-out log loss, meta-learner on "
           "out-of-domain log-odds")
    w(f"## The shipped scorer on the held-out domain `{args.held_out}` (never seen in training)\n")
    w(f"`he.ConfidenceScorer.load(\"smollm2\")`: design *{sel.chosen}*, fitted on {len(train)} answers of the other "
      f"domains ({how}).\n")
    w(table(rows) + "\n")
    w(f"Held-out AUROC: shipped scorer **{ours:.3f}** vs token log-probability **{lp:.3f}** — "
      + ("the scorer is above the baseline." if ours > lp else "the scorer is **not** above the baseline.")
      + (" The goal of 0.90 is met." if ours >= 0.90 else " The goal of 0.90 is not met.") + "\n")
    E.plot_risk_coverage({"shipped scorer": held_scores[f"shipped scorer: {sel.chosen}"],
                        "mean token log-prob": E.baseline_scores(test)["mean_logprob"],
                        "- mean attention entropy": E.baseline_scores(test)["attention_entropy"]},
                       test.labels, ROOT / "docs" / "risk_coverage.png", f"held-out domain: {args.held_out}")
    w("![risk-coverage on the held-out domain](docs/risk_coverage.png)\n")
    w("How this was developed (so the held-out number can be weighed): the held-out domain was fixed before the "
      "first run. The first run's features had no novel-token group; its held-out result (0.739 against 0.806) "
      "was seen, after which the novel-token features were added because SmolLM2 answers in sentences that repeat "
      "the question, and kept because they did not hurt leave-one-domain-out scores on the training domains. "
      "That per-head design's held-out result (0.742 against 0.806) was then seen too. The model selection above "
      "came after it, so the held-out domain had been looked at once before the selection: the candidates were "
      "motivated by that failure, but compared and chosen on the training domains alone. "
      + ("The selection kept the per-head design, so the number above is that same model again, not a new look."
         if sel.chosen == previous else
         "The chosen design was evaluated on the held-out domain once, for the table above.")
      + " No other choice (prompt, model, regularisation grid, feature set) was changed after seeing the held-out domain.\n")
    w("What carries the weight (standardised log-odds per standard deviation; positive = more likely correct):\n")
    w("| feature | weight |\n|---|---|")
    for e in scorer.explain(12):
        w(f"| `{e['feature']}` | {e['weight']:+.3f} |")
    share = scorer.weight_by_group()
    w("\nShare of total |weight|: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(share.items(), key=lambda kv: -kv[1])) + ".\n")

    # ---- the seed's claims ------------------------------------------------------------------
    base = E.baseline_scores(gs)
    y = gs.labels
    raw = auroc(base["attention_entropy"], y)
    fired = torch.tensor([r.spikes > 0 for r in gs.rows])
    w("## The seed's claims, measured\n")
    w(f"* *\"Higher attention entropy means the model is confused (wrong)\"*: mean normalised attention entropy over "
      f"the answer, oriented that way, has AUROC **{raw:.3f}** over all {len(gs)} answers. "
      + ("It holds weakly." if raw > 0.55 else "It does **not** hold: wrong answers do not have higher entropy"
         + (" — the relation runs the other way." if raw < 0.45 else " — there is no usable relation.")))
    w(f"* *\"Entropy spikes precede hallucinated entities\"*: the `entropy_spike` detector fires on "
      f"{int(fired.sum())} of {len(gs)} answers ({int((fired & ~y).sum())} wrong, {int((fired & y).sum())} correct); "
      f"as a score its AUROC is **{auroc(base['spike_detector'], y):.3f}**. "
      + ("It does **not** hold on this model." if auroc(base['spike_detector'], y) < 0.6 else "It holds partly."))
    ty = train.labels
    att = auroc(learned_lodo["scorer (attention)"], ty)
    both, logits_only = auroc(learned_lodo["scorer (all)"], ty), auroc(learned_lodo["scorer (logits)"], ty)
    lp_train = auroc(E.baseline_scores(train)["mean_logprob"], ty)
    w(f"* *\"Attention entropy can serve as a confidence score\"*: with direction and heads learned from labelled "
      f"answers, attention features alone reach AUROC **{att:.3f}** leave-one-domain-out (token log-probability: "
      f"{lp_train:.3f}); adding them to the logits' features gives {both:.3f} against {logits_only:.3f} for the "
      f"logits' features alone — on the training domains, each left out in turn, attention entropy "
      + ("adds to the logits." if both > logits_only + 0.005 else "adds nothing measurable to the logits.")
      + (f" On the held-out domain `{args.held_out}`, though, the combined scorer ({ours:.3f}) is below the token "
         f"log-probability alone ({lp:.3f}): what the attention features learned on the other domains does not "
         "transfer to this one, so the transfer claim holds for some domains and not others."
         if ours < lp else f" On the held-out domain `{args.held_out}` the combined scorer ({ours:.3f}) is above the "
         f"token log-probability alone ({lp:.3f}).")
      + "\n")
    if not args.skip_gates:
        dev = learned_cv["scorer (all)"] if sel.chosen == previous else E.cross_validated(train, **design)
        gates(model, tok, gs, train, test, dev, scorer, questions, args, w)
    w(f"\n_Run time: {time.time() - t0:.0f} s._")
    DOC.write_text("\n".join(out) + "\n")
    print(f"wrote {DOC}", file=sys.stderr)


def gates(model, tok, gs, train, test, dev_scores, scorer, questions, args, w) -> None:
    by_id = {q.id: q for q in questions}
    test_q = [by_id[r.id] for r in test.rows]
    y_dev = train.labels
    w("## Gates on the held-out domain\n")
    w("Thresholds are chosen on the training domains' out-of-fold scores (development data), never on the "
      "held-out answers.\n")
    # abstain: the threshold that keeps a given fraction of the development answers
    w("### Abstain\n")
    w("| target coverage (dev) | threshold | coverage (held-out) | accuracy of kept answers | accuracy without gate |\n|---|---|---|---|---|")
    conf = scorer.score_features(test.features)
    for keep in (1.0, 0.8, 0.6, 0.4):
        th = 0.0 if keep >= 1 else float(torch.quantile(dev_scores, 1 - keep))
        kept = conf >= th
        acc = float(test.labels[kept].double().mean()) if bool(kept.any()) else float("nan")
        w(f"| {keep:.0%} | {th:.3f} | {float(kept.double().mean()):.2f} | {acc:.3f} | {float(test.labels.double().mean()):.3f} |")
    w("")
    # the operating threshold for resample / retrieve: keep 60% on dev
    th = float(torch.quantile(dev_scores, 0.4))
    dev_acc = float(y_dev[dev_scores >= th].double().mean())
    w(f"Resample and retrieve use threshold {th:.3f} (keeps 60% of development answers, at development accuracy {dev_acc:.2f}).\n")

    print("gates: resample ...", file=sys.stderr)
    gate = ConfidenceGate(scorer, th, "resample", n_samples=args.resample_n, temperature=0.7)
    results = generate(model, tok, [q.question for q in test_q], gate=gate, max_new_tokens=24)
    ok = lambda text, q: is_correct(text, q.answers)  # noqa: E731
    greedy = torch.tensor([ok(r.attempts[0].text, q) for r, q in zip(results, test_q)])
    gated = torch.tensor([ok(r.text, q) for r, q in zip(results, test_q)])
    calls = sum(r.generations for r in results)
    triggered = sum(r.action == "resampled" for r in results)
    # same sample budget, no confidence: every triggered question gets its first sample instead
    first_sample = torch.tensor([ok(r.attempts[1].text, q) if r.action == "resampled" else ok(r.text, q)
                                 for r, q in zip(results, test_q)])
    w("### Resample (rejection sampling)\n")
    w(f"Up to {args.resample_n} samples at temperature 0.7 for answers below the threshold; the first accepted sample is "
      "returned, else the most confident attempt.\n")
    w("| policy | accuracy | generations | triggered |\n|---|---|---|---|")
    w(f"| greedy only | {float(greedy.double().mean()):.3f} | {len(test_q)} | 0 |")
    w(f"| replace low-confidence greedy answers by one sample (no selection) | {float(first_sample.double().mean()):.3f} | "
      f"{len(test_q) + triggered} | {triggered} |")
    w(f"| resample gate | {float(gated.double().mean()):.3f} | {calls} | {triggered} |\n")

    print("gates: retrieve ...", file=sys.stderr)
    retriever = Retriever.from_folder(DATA / "passages", k=3)
    rgate = ConfidenceGate(scorer, th, "retrieve", retriever=retriever)
    results = generate(model, tok, [q.question for q in test_q], gate=rgate, max_new_tokens=24)
    when = torch.tensor([ok(r.text, q) for r, q in zip(results, test_q)])
    n_calls = sum(r.action == "retrieved" for r in results)
    prompts = [chat_prompt(tok, _with_passages(q.question, retriever(q.question))) for q in test_q]
    always = []
    for i in range(0, len(prompts), 16):
        always += _attempt(model, tok, scorer, prompts[i:i + 16], max_new_tokens=24, sample=False)
    always_ok = torch.tensor([ok(a.text, q) for a, q in zip(always, test_q)])
    hit = sum(any(a.lower() in " ".join(retriever(q.question)).lower() for a in q.answers[:1]) for q in test_q)
    w("### Retrieve\n")
    w(f"Passages: `data/qa/passages/` (one fact per question plus distractors), top-3 by MiniLM cosine similarity; "
      f"the top 3 hold the answer for {hit} of {len(test_q)} held-out questions.\n")
    w("| policy | accuracy | retrieval calls |\n|---|---|---|")
    w(f"| never retrieve | {float(greedy.double().mean()):.3f} | 0 |")
    w(f"| retrieve when the gate triggers | {float(when.double().mean()):.3f} | {n_calls} |")
    w(f"| always retrieve | {float(always_ok.double().mean()):.3f} | {len(test_q)} |")


if __name__ == "__main__":
    main()
