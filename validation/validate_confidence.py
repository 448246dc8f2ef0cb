"""Calibrate the shipped SmolLM2 confidence scorer and write HALLUCINATION.md (issue 14).

    .venv/bin/python validation/validate_confidence.py [--held-out mythology,food,sports] [--skip-gates]
    .venv/bin/python validation/validate_confidence.py --generate-only   # answer what the cache lacks, accuracies only
    .venv/bin/python validation/validate_confidence.py --select-only     # the selection table, training domains only

1. Answers every question of data/qa/questions.jsonl greedily with the embedded SmolLM2 under
   he.monitor (features from the same pass) and labels them by alias match; the generation set is
   cached in out/confidence/generations and extended by the questions it lacks (delete it to
   regenerate everything).
2. Holds the `--held-out` domains out. On the other domains: 5-fold cross-validation (in-domain)
   and leave-one-domain-out (transfer), for the per-head scorer and every baseline; then model
   selection: every design of `evaluate.CANDIDATES`, leave-one-domain-out, chosen by
   `evaluate.SELECTION_RULE` (`--select-only` prints that table alone and stops before the held-out
   rows are touched; its result is cached in out/confidence/selection and reused).
3. Fits the shipped scorer (the chosen design) on every domain but the held-out ones and saves it into
   src/headentropy/confidence/scorers/smollm2; judges it on each held-out domain (and pooled), with a
   paired bootstrap of its AUROC difference to the token log-probability.
4. Gates on the held-out domains with thresholds chosen on the training domains' out-of-fold
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


def selection(train: GenerationSet) -> E.Selection:
    """`E.select_design(train)`, cached in out/confidence/selection (the LODO scores, sizes and the
    stack's meta weights) under a key of the candidates, the rule, the training rows and their features;
    `--select-only` fills the cache, the full run reuses it when nothing changed."""
    import hashlib
    import json

    from safetensors.torch import load_file, save_file

    folder = CACHE / "selection"
    h = hashlib.sha256(json.dumps([E.CANDIDATES, E.SELECTION_RULE, [r.id for r in train.rows],
                                   [bool(r.correct) for r in train.rows]], sort_keys=True, default=str).encode())
    h.update(train.features.double().contiguous().numpy().tobytes())
    key = h.hexdigest()
    try:
        meta = json.loads((folder / "selection.json").read_text())
        if meta["key"] == key:
            scores = load_file(str(folder / "scores.safetensors"))
            print("model selection: cached", file=sys.stderr)
            return E.Selection({n: scores[str(i)] for i, n in enumerate(meta["names"])}, meta["features"],
                               meta["chosen"], {}, meta["value"], meta.get("meta_weights", {}))
    except (OSError, KeyError, ValueError):
        pass
    sel = E.select_design(train, log=lambda m: print(m, file=sys.stderr, flush=True))
    meta_weights = {n: {d: sc.info["stack"]["meta_weight"] for d, sc in by.items()}
                    for n, by in sel.folds.items() if E.CANDIDATES[n].get("stack")}
    folder.mkdir(parents=True, exist_ok=True)
    names = list(sel.scores)
    save_file({str(i): sel.scores[n].contiguous() for i, n in enumerate(names)}, str(folder / "scores.safetensors"))
    (folder / "selection.json").write_text(json.dumps({"key": key, "names": names, "features": sel.features,
                                                       "chosen": sel.chosen, "value": sel.value,
                                                       "meta_weights": meta_weights}, indent=1))
    sel.meta_weights = meta_weights
    return sel


def paired_difference(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor, n: int = 1000,
                      seed: int = 0) -> tuple[float, float, float]:
    """AUROC(a) - AUROC(b) on the same answers and its 95% interval over paired resamples."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        idx = torch.randint(0, len(y), (len(y),), generator=g)
        v = auroc(a[idx], y[idx]) - auroc(b[idx], y[idx])
        if v == v:
            out.append(v)
    s = torch.tensor(out, dtype=torch.float64)
    return auroc(a, y) - auroc(b, y), float(torch.quantile(s, 0.025)), float(torch.quantile(s, 0.975))


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
           "The per-head design fell below the token log-probability on the first held-out domain (`numbers`); the "
           "second round's choice (*domain-centred residual: logits + per-layer correction*) fell below it on "
           "`animals`. Those domains and `art` have since joined the training domains. The candidate designs below "
           "(`headentropy.confidence.evaluate.CANDIDATES`, with the reasons there; the third round added the "
           "whole-model-means designs) and the rule were written down and committed before this comparison was run "
           f"on these {len(doms)} training domains and before any scorer was run on the fresh held-out domains. "
           f"Each is compared by leave-one-domain-out on the {len(doms)} training domains only ({', '.join(doms)}): "
           f"each domain is scored by a scorer fitted on the other {len(doms) - 1}, with everything the fit chooses "
           f"(C by leave-one-domain-out log loss among those {len(doms) - 1}, the top-k heads, the stack's "
           f"meta-learner, the residual correction's C) chosen without it. Rule: {E.SELECTION_RULE}. The held-out "
           "domains played no part in this table or the choice.\n",
           "| candidate | features | " + " | ".join(doms) + " | mean of domains | domains above log-prob | "
           "criterion (mean margin - SE) | pooled AUROC [95% CI] |",
           "|---|---|" + "---|" * len(doms) + "---|---|---|---|"]

    def line(name: str, s: torch.Tensor, size: str) -> str:
        v, lo, hi = bootstrap(auroc, s, y, 1000)
        per = E.per_domain_auroc(s, y, train.domains)
        above = sum(per[d] > lp_per[d] for d in doms)
        mark = " **(chosen)**" if name == sel.chosen else ""
        crit = E.selection_criterion(per, lp_per)
        return (f"| {name}{mark} | {size} | " + " | ".join(f"{per[d]:.3f}" for d in doms)
                + f" | {sum(per.values()) / len(per):.3f} | {above} of {len(doms)} | {crit:+.3f} | "
                f"{v:.3f} [{lo:.3f}, {hi:.3f}] |")

    for name, s in sel.scores.items():
        out.append(line(name, s, str(sel.features[name])))
    out.append(line("baseline: mean token log-prob (no fit)", lp, "1"))
    out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--held-out", default="mythology,food,sports",
                    help="domains kept out of training, comma-separated (they judge the shipped scorer)")
    ap.add_argument("--skip-gates", action="store_true", help="skip the resample and retrieve gates (they generate "
                    "again); the abstain table needs no generation and is always written")
    ap.add_argument("--resample-n", type=int, default=4)
    ap.add_argument("--generate-only", action="store_true",
                    help="answer the questions the cache lacks, print each domain's accuracy and stop (no scorer is run)")
    ap.add_argument("--select-only", action="store_true",
                    help="print the model-selection table (training domains only, from the cached generations) and stop")
    ap.add_argument("--exclude-domains", default="",
                    help="domains dropped from the data before anything is computed (a dry run of the code path that "
                         "must not see the real held-out domains, neither as held-out nor as training rows)")
    args = ap.parse_args()
    t0 = time.time()
    held_out = [d for d in args.held_out.split(",") if d]
    excluded = {d for d in args.exclude_domains.split(",") if d}

    def drop_excluded(gs: GenerationSet) -> GenerationSet:
        return gs.subset([d not in excluded for d in gs.domains]) if excluded else gs

    if args.select_only:  # never touches the held-out rows: they are removed before anything is computed
        gs = drop_excluded(GenerationSet.load(CACHE / "generations"))
        train = gs.subset([d not in held_out for d in gs.domains])
        sel = selection(train)
        print("\n".join(selection_section(train, sel)))
        print(f"chosen: {sel.chosen} ({time.time() - t0:.0f} s)")
        return
    model, tok = he.load_model("smollm2")
    questions = load_questions(DATA / "questions.jsonl")
    gs = generations(model, tok, questions)
    if not args.generate_only:
        gs = drop_excluded(gs)
        questions = [q for q in questions if q.domain not in excluded] if excluded else questions
    if args.generate_only:
        for d, m in E.domain_masks(gs.domains).items():
            print(f"{d:<12} {int(m.sum()):>4} answers, accuracy {float(gs.labels[m].double().mean()):.2f}")
        print(f"({time.time() - t0:.0f} s)")
        return
    domains = sorted(set(gs.domains))
    if not held_out or set(held_out) - set(domains):
        sys.exit(f"--held-out {args.held_out!r} names no domain or one that is not a domain of the data: {domains}")
    held = torch.tensor([d in held_out for d in gs.domains])
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
    for d, m in E.domain_masks(gs.domains).items():
        w(f"| {d}{' (held out)' if d in held_out else ''} | {int(m.sum())} | {float(gs.labels[m].double().mean()):.2f} |")
    w("")

    # ---- model selection for transfer: training domains only ---------------------------------
    # (run first: the tables of the training domains describe the design it chooses, the one that ships)
    print("model selection ...", file=sys.stderr)
    sel = selection(train)
    previous = "per-head (previous design)"
    design = E.CANDIDATES[sel.chosen]
    doms = sorted(set(train.domains))
    shipped = f"shipped design: {sel.chosen}"

    # ---- in-domain and transfer on the training domains, for the shipped design ---------------
    print("cross-validating ...", file=sys.stderr)
    cv_shipped = E.cross_validated(train, **design)  # also the development scores of the gates' thresholds
    attention_cv = E.cross_validated(train, "attention")
    attention_lodo = E.leave_one_group_out(train, "attention")
    learned_cv = {shipped: cv_shipped, "attention features only (per-head)": attention_cv,
                  "logits only": E.cross_validated(train, "logits")}
    learned_lodo = {shipped: sel.scores[sel.chosen], "attention features only (per-head)": attention_lodo,
                    "logits only": sel.scores["logits only"]}
    if sel.chosen != previous:
        learned_cv[previous] = E.cross_validated(train, **E.CANDIDATES[previous])
        learned_lodo[previous] = sel.scores[previous]
    w("## Scores on the training domains\n")
    w("Confidence = probability of a correct answer; AUROC and PRR (prediction rejection ratio: 0 = random "
      "order, 1 = oracle) with 95% bootstrap intervals (1000 resamples of the questions). "
      f"`{shipped}` is the design that ships (chosen below, `evaluate.CANDIDATES`), refitted in every fold; "
      "`attention features only (per-head)` uses only the per-head attention entropy, Rényi-2 and sink mass over "
      "the answer (no logits); `logits only` only token log-probabilities, predictive entropy and length"
      + (f"; `{previous}` is the design shipped before the second round" if sel.chosen != previous else "")
      + ". Baselines have a fixed orientation (evaluate.py).\n")
    w(f"### In-domain: 5-fold cross-validation over {', '.join(doms)}\n")
    w(table(scores_table(train, learned_cv)) + "\n")
    w("### Transfer: leave one domain out (fit on the others, score the one left out; pooled)\n")
    w(table(scores_table(train, learned_lodo)) + "\n")
    w("Per domain left out (AUROC):\n")
    w("| domain left out | " + " | ".join(learned_lodo) + " | baseline: mean_logprob |\n|---|"
      + "---|" * (len(learned_lodo) + 1))
    lp_train_scores = E.baseline_scores(train)["mean_logprob"]
    for d, m in E.domain_masks(train.domains).items():
        y = train.labels[m]
        w(f"| {d} | " + " | ".join(f"{auroc(v[m], y):.3f}" for v in learned_lodo.values())
          + f" | {auroc(lp_train_scores[m], y):.3f} |")
    w("")

    out.extend(selection_section(train, sel))
    pooled = {n: auroc(v, train.labels) for n, v in sel.scores.items()}
    crit = sel.value  # the rule's criterion
    lp_per = E.per_domain_auroc(lp_train_scores, train.labels, train.domains)
    within = {n: sum(E.per_domain_auroc(v, train.labels, train.domains).values()) / len(doms) for n, v in sel.scores.items()}
    lp_within = sum(lp_per.values()) / len(doms)
    runner_up = max((n for n in crit if n != sel.chosen), key=lambda n: crit[n])
    w(f"The rule chooses **{sel.chosen}** ({sel.features[sel.chosen]} features): lower bound on the margin over the "
      f"token log-probability {crit[sel.chosen]:+.3f}, mean AUROC inside the left-out training domain "
      f"{within[sel.chosen]:.3f} (next by the rule: {runner_up}, {crit[runner_up]:+.3f}; the per-head design "
      f"{crit[previous]:+.3f}; the mean token log-probability alone has mean AUROC {lp_within:.3f}). "
      + ("It becomes the shipped scorer." if sel.chosen != previous else "The shipped design is the per-head design."))
    gaps = [f"{n} {within[n]:.3f} within domains vs {pooled[n]:.3f} pooled" for n in sel.scores
            if within[n] - pooled[n] > 0.05]
    if gaps:
        w("Where the pooled AUROC falls well below the mean within-domain AUROC, a design ranks answers inside a "
          "domain but its scores shift between domains (the pooled column counts that, and so would one threshold "
          "for all domains): " + "; ".join(gaps) + ".")
    for n, by_domain in (sel.meta_weights or {}).items():
        w(f"Meta-learner weights of *{n}* (logits model, attention model) per left-out domain: "
          + "; ".join(f"{d} ({mw['logits']:+.2f}, {mw['attention']:+.2f})" for d, mw in by_domain.items())
          + " (fitted on out-of-domain log-odds of base models that each saw the other training domains but one).")
    w("")

    # ---- the shipped scorer, judged on the held-out domains -----------------------------------
    print("the shipped scorer on the held-out domains ...", file=sys.stderr)
    scorer = he.ConfidenceScorer(**design).fit_features(train.features, train.labels, gs.num_layers, gs.num_heads,
                                                        gs.model_name, groups=train.domains)
    ref = E._fit(train, **E.CANDIDATES[previous]) if sel.chosen != previous else None
    mine = f"shipped scorer: {sel.chosen}"
    per_held: dict[str, list[E.Row]] = {}
    for d in held_out:
        part = test.subset([x == d for x in test.domains])
        hs = {mine: scorer.score_features(part.features)}
        if ref is not None:
            hs[f"{previous} (refitted on the same {len(doms)} domains, for comparison)"] = ref.score_features(part.features)
        per_held[d] = scores_table(part, hs)
    both = {mine: scorer.score_features(test.features)}
    if ref is not None:
        both[f"{previous} (refitted on the same {len(doms)} domains, for comparison)"] = ref.score_features(test.features)
    pooled_rows = scores_table(test, both)

    def ours_lp(rows: list[E.Row]) -> tuple[E.Row, E.Row]:
        return rows[0], next(r for r in rows if r.method == "baseline: mean_logprob")

    bench = {d: {"auroc": round(ours_lp(r)[0].auroc[0], 4), "logprob_auroc": round(ours_lp(r)[1].auroc[0], 4),
                 "answers": r[0].n, "accuracy": round(r[0].accuracy, 4)} for d, r in per_held.items()}
    scorer.info.update({"model": "smollm2", "held_out_domain": ", ".join(held_out), "held_out_domains": held_out,
                        "prompt": he.confidence.qa.PROMPT, "design": sel.chosen,
                        "selection": {"rule": E.SELECTION_RULE,
                                      "criterion": {n: round(v, 4) for n, v in crit.items()},
                                      "lodo_mean_within_domain_auroc": {n: round(v, 4) for n, v in within.items()},
                                      "lodo_pooled_auroc": {n: round(v, 4) for n, v in pooled.items()}},
                        "benchmark": {"held_out": bench, "document": "HALLUCINATION.md"}})
    scorer.save(SHIPPED)
    if scorer.stack:
        how = (f"C per base model {scorer.info['stack']['C']} chosen by leave-one-domain-out log loss, meta-learner on "
               "out-of-domain log-odds")
    elif scorer.residual:
        how = (f"C of the logits model {scorer.info['residual']['C']['logits']} and of the attention correction "
               f"{scorer.info['residual']['C']['attention']}, each chosen by leave-one-domain-out log loss")
    else:
        how = f"C = {scorer.C} chosen by leave-one-domain-out log loss"
    w(f"## The shipped scorer on the fresh held-out domains ({', '.join(f'`{d}`' for d in held_out)}; never seen in "
      "training or selection)\n")
    w(f"`he.ConfidenceScorer.load(\"smollm2\")`: design *{sel.chosen}*, fitted on {len(train)} answers of the "
      f"{len(doms)} training domains ({how}).\n")
    for d, rows in per_held.items():
        w(f"### `{d}`\n")
        w(table(rows) + "\n")
    w(f"### {' and '.join(f'`{d}`' for d in held_out)} pooled\n")
    w(f"(Pooled across {len(held_out)} domains the AUROC also counts how the scores of one domain sit against the others'.)\n")
    w(table(pooled_rows) + "\n")
    verdicts, above, established, goal = [], [], [], []
    for d, rows in list(per_held.items()) + [("pooled", pooled_rows)]:
        o, l = ours_lp(rows)
        part = test if d == "pooled" else test.subset([x == d for x in test.domains])
        diff, lo, hi = paired_difference(scorer.score_features(part.features),
                                         E.baseline_scores(part)["mean_logprob"], part.labels)
        if d != "pooled":
            above.append(diff > 0)
            established.append(lo > 0)
            goal.append(o.auroc[0] >= 0.90)
        verdicts.append(f"* {'all held-out domains pooled' if d == 'pooled' else f'`{d}`'} ({o.n} answers, "
                        f"{round(o.accuracy * o.n)} correct): shipped scorer AUROC "
                        f"**{o.auroc[0]:.3f}** [{o.auroc[1]:.3f}, {o.auroc[2]:.3f}], mean token log-probability "
                        f"**{l.auroc[0]:.3f}** [{l.auroc[1]:.3f}, {l.auroc[2]:.3f}]; difference {diff:+.3f} "
                        f"(paired bootstrap 95% interval [{lo:+.3f}, {hi:+.3f}]): the scorer is "
                        + ("above" if diff > 0 else "**not** above") + " the baseline"
                        + (", and the interval excludes zero" if lo > 0 or hi < 0 else
                           ", but the interval includes no difference, so the order is not established")
                        + ("; the goal of 0.90 is met." if o.auroc[0] >= 0.90 else "; the goal of 0.90 is **not** met."))
    w("Held-out result, per domain (the must-show asks for each), and pooled:\n")
    w("\n".join(verdicts) + "\n")
    n_held = len(above)
    w(f"**Verdict on the bar** (the shipped scorer's AUROC above the token log-probability's on the held-out "
      f"domains): {'**met**' if all(above) else '**not met**'} - above on {sum(above)} of {n_held} held-out domains, "
      f"with a paired 95% interval above zero on {sum(established)} of {n_held}. **Goal AUROC >= 0.90**: "
      f"{'met' if all(goal) else '**not met**'} ({sum(goal)} of {n_held} domains).\n")
    E.plot_risk_coverage({"shipped scorer": both[mine],
                          "mean token log-prob": E.baseline_scores(test)["mean_logprob"],
                          "- mean attention entropy": E.baseline_scores(test)["attention_entropy"]},
                         test.labels, ROOT / "docs" / "risk_coverage.png",
                         f"held-out domains: {', '.join(held_out)} (pooled)")
    w("![risk-coverage on the held-out domains](docs/risk_coverage.png)\n")
    w("How this was developed, in order (so the held-out numbers can be weighed):\n")
    w("1. First held-out domain `numbers`, fixed before the first run. The first per-head design's result there "
      "(0.739 against 0.806 for the token log-probability) was seen; novel-token features were then added (SmolLM2 "
      "answers in sentences that repeat the question) and kept because they did not hurt leave-one-domain-out "
      "scores on the training domains; that design's result (0.742 against 0.806) was seen too. A first model "
      "selection on the 4 training domains (pooled leave-one-domain-out AUROC) kept the per-head design. From then "
      "on `numbers` counted as spent: it has been looked at, so it joined the training domains.")
    w("2. Two fresh held-out domains were written (`data/qa/sources/art.py`, then `animals.py`) and committed before "
      "any scorer was run on them. `animals` was added after the `art` answers had been generated and labelled, "
      "because SmolLM2 names the maker of only 10 of the 160 works of art: a ranking measured on 10 correct "
      "answers has a very wide interval. Only the accuracy of the labels was seen then, no score.")
    w("3. A second set of candidate designs was written into `evaluate.CANDIDATES` with a new rule (the mean "
      "AUROC inside each left-out training domain, because a held-out domain is judged by its own AUROC) and "
      "committed before it was run; it was compared on the 5 training domains only (table above).")
    w("4. A slip to weigh: after the choice had been made and committed, a dry run of this script's code path "
      "(2 candidates, `numbers` and `science` standing in as held-out domains) used `art` and `animals` as "
      "*training* domains, so its leave-one-domain-out table showed how the two designs ranked answers inside "
      "`art` and `animals` when fitted on authors, elements and geography plus the other fresh domain (the chosen "
      "design 0.787 on `art` and 0.579 on `animals`, against 0.733 and 0.692 for the token log-probability). "
      "Nothing was changed after it: the design, features, grids and labels had been fixed and committed before.")
    w("5. The second round's chosen design (*domain-centred residual: logits + per-layer correction*) was fitted on "
      "the 5 training domains and run once on `art` and `animals`: 0.821 against 0.733 for the token "
      "log-probability on `art` (10 correct answers), 0.608 against 0.692 on `animals`; the per-head design, "
      "refitted for comparison, 0.853 and 0.644. The abstain gate aimed at 60% coverage kept 8% of the held-out "
      "answers. `art` and `animals` were then spent and joined the training domains.")
    w("6. Third round. Three fresh domains were written (`data/qa/sources/mythology.py`, `food.py`, then "
      "`sports.py`), answered and labelled, and committed before any scorer was run on them; only their accuracy "
      "was seen (mythology 0.16, food 0.35, sports 0.23; `sports` was written after mythology's 0.16 was seen, to "
      "get more correct answers), and wrong answers were read for missing aliases only. Then, before the "
      "comparison above was run, five whole-model-means candidates and the margin-lower-bound rule were added and "
      "committed, the tables of the training domains were made to describe the shipped design, and the gates' "
      "thresholds were moved to leave-one-domain-out development scores (why: the Gates section). The selection "
      "table was then run on the 7 training domains, and the chosen design fitted on them and run once on the "
      "three fresh held-out domains, for the tables above; nothing (design, features, prompt, grids, labels, "
      "thresholds) was changed after that.\n")
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
    att = auroc(attention_lodo, ty)
    comb, logits_only = auroc(sel.scores[sel.chosen], ty), auroc(sel.scores["logits only"], ty)
    lp_train = auroc(E.baseline_scores(train)["mean_logprob"], ty)
    held_bits = []
    for d, rows in per_held.items():
        o, l = ours_lp(rows)
        held_bits.append(f"`{d}` {o.auroc[0]:.3f} against {l.auroc[0]:.3f}")
    w(f"* *\"Attention entropy can serve as a confidence score\"*: with direction and heads learned from labelled "
      f"answers, attention features alone reach AUROC **{att:.3f}** leave-one-domain-out, pooled (token "
      f"log-probability: {lp_train:.3f}); the shipped design {comb:.3f} against "
      f"{logits_only:.3f} for the logits' features alone. On the fresh held-out domains the shipped scorer "
      f"(*{sel.chosen}*) against the token log-probability: " + "; ".join(held_bits) + ".\n")
    print("gates ...", file=sys.stderr)
    # thresholds from the shipped design's leave-one-domain-out scores on the training domains (each domain
    # scored by a fit that never saw it, as a held-out domain is): see gates()
    gates(model, tok, gs, train, test, sel.scores[sel.chosen], cv_shipped, scorer, questions, args, w)
    w(f"\n_Run time: {time.time() - t0:.0f} s._")
    DOC.write_text("\n".join(out) + "\n")
    print(f"wrote {DOC}", file=sys.stderr)


def _kept_accuracy(labels: torch.Tensor, kept: torch.Tensor) -> str:
    """Accuracy of the answers a gate keeps, for a table cell ("none kept" rather than NaN)."""
    return f"{float(labels[kept].double().mean()):.3f}" if bool(kept.any()) else "none kept"


def gates(model, tok, gs, train, test, dev_scores, cv_scores, scorer, questions, args, w) -> None:
    """`dev_scores`: the shipped design's leave-one-domain-out scores on the training rows (the thresholds come
    from them); `cv_scores`: its in-domain 5-fold scores (the second round's choice, shown for comparison)."""
    by_id = {q.id: q for q in questions}
    test_q = [by_id[r.id] for r in test.rows]
    y_dev = train.labels
    held = sorted(set(test.domains))
    w(f"## Gates on the held-out domains ({', '.join(held)}, {len(test)} questions)\n")
    w("Thresholds are chosen on development data only, the training domains, never on the held-out answers: "
      "each is the quantile of the shipped design's **leave-one-domain-out** scores on the training domains "
      "(every training domain scored by a fit that never saw it) that keeps the target fraction of them. Until the "
      "second round they were quantiles of in-domain 5-fold scores, and on the held-out domains the abstain gate "
      "aimed at 60% coverage kept 8%: a scorer fitted on a domain's own answers learns that domain's base rate, "
      "while a domain it never saw gets probabilities shifted by how the domain's answers differ (a harder domain "
      "has lower log-probabilities throughout, so all its scores move down together). Leave-one-domain-out scores "
      "carry that shift, so their quantiles are the development analogue of a new domain; this alone does not make a "
      "coverage target transfer. A coverage target is a property of the development domains: a new domain where the model is more often wrong should be "
      "kept less often, so the columns below show how far coverage moves between the development domains (each "
      "left out) at the same threshold, and what each held-out domain got.\n")
    conf = scorer.score_features(test.features)
    w("Calibration in the large (mean confidence against accuracy):\n")
    w("| domain | answers | accuracy | mean confidence |\n|---|---|---|---|")
    dev_masks, held_masks = E.domain_masks(train.domains), E.domain_masks(test.domains)
    for d, m in dev_masks.items():
        w(f"| {d} (dev, left out) | {int(m.sum())} | {float(y_dev[m].double().mean()):.2f} | {float(dev_scores[m].mean()):.2f} |")
    for d, m in held_masks.items():
        w(f"| {d} (held out) | {int(m.sum())} | {float(test.labels[m].double().mean()):.2f} | {float(conf[m].mean()):.2f} |")
    w("")
    # abstain: the threshold that keeps a given fraction of the development answers
    w("### Abstain\n")
    w("| target coverage (dev, LODO) | threshold | dev domains' coverage (min-max) | coverage (held-out, pooled) | "
      + " | ".join(f"coverage ({d})" for d in held) + " | accuracy of kept answers (held-out) | accuracy without gate | "
      "coverage with the old in-domain threshold |\n|---|---|---|---|" + "---|" * len(held) + "---|---|---|")
    for keep in (1.0, 0.8, 0.6, 0.4):
        th = 0.0 if keep >= 1 else float(torch.quantile(dev_scores, 1 - keep))
        old = 0.0 if keep >= 1 else float(torch.quantile(cv_scores, 1 - keep))
        kept = conf >= th
        acc = _kept_accuracy(test.labels, kept)
        dev_cov = [float((dev_scores[m] >= th).double().mean()) for m in dev_masks.values()]
        per = [float(kept[m].double().mean()) for m in held_masks.values()]
        w(f"| {keep:.0%} | {th:.3f} | {min(dev_cov):.2f}-{max(dev_cov):.2f} | {float(kept.double().mean()):.2f} | "
          + " | ".join(f"{c:.2f}" for c in per) + f" | {acc} | {float(test.labels.double().mean()):.3f} | "
          f"{float((conf >= old).double().mean()):.2f} |")
    w("")
    w("The same gate set for an accuracy of the kept answers instead of a coverage: the lowest threshold at which "
      "the development answers kept (leave-one-domain-out scores, pooled) reach the target accuracy.\n")
    w("| target accuracy of kept answers (dev, LODO) | threshold | coverage (dev) | accuracy of kept answers (held-out) "
      "| coverage (held-out) |\n|---|---|---|---|---|")
    order = torch.argsort(dev_scores, descending=True)
    run_acc = torch.cumsum(y_dev[order].double(), 0) / torch.arange(1, len(order) + 1, dtype=torch.float64)
    for target in (0.6, 0.7, 0.8):
        ok_k = (run_acc >= target).nonzero().flatten()
        ok_k = ok_k[ok_k >= 19]  # at least 20 kept answers
        if len(ok_k) == 0:
            w(f"| {target:.0%} | - | - | - | - |")
            continue
        k = int(ok_k.max())
        th = float(dev_scores[order[k]])
        kept = conf >= th
        acc = _kept_accuracy(test.labels, kept)
        w(f"| {target:.0%} | {th:.3f} | {float((dev_scores >= th).double().mean()):.2f} | {acc} | "
          f"{float(kept.double().mean()):.2f} |")
    w("")
    # the operating threshold for resample / retrieve: keep 60% on dev
    th = float(torch.quantile(dev_scores, 0.4))
    dev_acc = float(y_dev[dev_scores >= th].double().mean())
    if args.skip_gates:
        w("(Resample and retrieve were skipped in this run: `--skip-gates`.)\n")
        return
    w(f"Resample and retrieve use threshold {th:.3f} (keeps 60% of development answers, leave-one-domain-out, at "
      f"development accuracy {dev_acc:.2f}).\n")

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
