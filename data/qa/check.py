"""Self-check of questions.jsonl and passages/ (fast, standard library only).

    python data/qa/check.py [--questions data/qa/questions.jsonl] [--passages data/qa/passages]

Prints the count per domain and exits non-zero on any problem: a malformed record, a duplicate id
or question, an id that does not match its domain, an empty or long alias, any mention of a
"capital" (country capitals are reserved for an independent check), a fact passage missing for a
question or missing its first alias, or fewer distractors than facts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from label import normalize  # noqa: E402

KEYS = ("id", "domain", "question", "answers")
MAX_ALIAS_WORDS = 6
CAPITAL = re.compile(r"capital", re.IGNORECASE)


def check(questions: Path, passages: Path) -> tuple[Counter, list[str]]:
    errors: list[str] = []
    recs = []
    for n, line in enumerate(open(questions, encoding="utf-8"), 1):
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON ({e})")
    ids, qs = Counter(), Counter()
    per_domain: Counter = Counter()
    for r in recs:
        rid = r.get("id", "?")
        if not isinstance(r, dict) or tuple(r) != KEYS:
            errors.append(f"{rid}: keys {list(r)} != {list(KEYS)}")
            continue
        if not all(isinstance(r[k], str) and r[k].strip() for k in KEYS[:3]):
            errors.append(f"{rid}: id, domain and question must be non-empty strings")
            continue
        if not re.fullmatch(rf"{re.escape(r['domain'])}-\d{{4}}", rid):
            errors.append(f"{rid}: id does not match domain {r['domain']!r}")
        if not r["question"].endswith("?"):
            errors.append(f"{rid}: question does not end with '?'")
        ans = r["answers"]
        if not (isinstance(ans, list) and ans and all(isinstance(a, str) for a in ans)):
            errors.append(f"{rid}: answers must be a non-empty list of strings")
            continue
        for a in ans:
            if not normalize(a):
                errors.append(f"{rid}: alias {a!r} is empty after normalisation")
            if len(normalize(a).split()) > MAX_ALIAS_WORDS:
                errors.append(f"{rid}: alias {a!r} is longer than {MAX_ALIAS_WORDS} words")
        if len(set(ans)) != len(ans):
            errors.append(f"{rid}: repeated alias")
        for text in [r["question"], *ans]:
            if CAPITAL.search(text):
                errors.append(f"{rid}: mentions a capital: {text!r}")
        ids[rid] += 1
        qs[normalize(r["question"])] += 1
        per_domain[r["domain"]] += 1
        p = passages / f"{rid}.txt"
        if not p.exists():
            errors.append(f"{rid}: no fact passage {p.name}")
        elif ans[0] not in p.read_text(encoding="utf-8"):
            errors.append(f"{rid}: fact passage lacks the first alias {ans[0]!r}")
    errors += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    errors += [f"duplicate question {q!r}" for q, c in qs.items() if c > 1]
    distractors = sorted(passages.glob("distractor-*.txt"))
    if len(distractors) < len(recs):
        errors.append(f"{len(distractors)} distractors for {len(recs)} facts")
    for p in sorted(passages.glob("*.txt")):
        if CAPITAL.search(p.read_text(encoding="utf-8")):
            errors.append(f"passage {p.name} mentions a capital")
        if not p.name.startswith("distractor-") and p.stem not in ids:
            errors.append(f"passage {p.name} belongs to no question")
    return per_domain, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    ap.add_argument("--passages", type=Path, default=HERE / "passages")
    args = ap.parse_args(argv)
    per_domain, errors = check(args.questions, args.passages)
    for d, n in sorted(per_domain.items()):
        print(f"{d:<12} {n:>4}")
    print(f"{'all':<12} {sum(per_domain.values()):>4}")
    n_dis = len(list(args.passages.glob("distractor-*.txt")))
    print(f"passages: {sum(per_domain.values())} facts, {n_dis} distractors")
    for e in errors:
        print("ERROR", e, file=sys.stderr)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
