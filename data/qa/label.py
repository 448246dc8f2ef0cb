"""Label generated answers to the QA set as correct or wrong by alias matching.

    python data/qa/label.py --generations gens.jsonl --out labelled.jsonl
        [--questions data/qa/questions.jsonl] [--max-words 25]

``gens.jsonl`` holds one ``{"id": ..., "answer": ...}`` per line (other keys are kept). The output
is the same records with ``"domain"`` and ``"correct": true/false`` added; the per-domain accuracy
is printed. The rule itself (normalisation, whole-phrase alias match, guards against hedges,
candidate lists, ranges and long answers) is ``headentropy.confidence.labels``, the same code the
calibration pipeline labels with; see its docstring and data/qa/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

from headentropy.confidence.labels import MAX_WORDS, is_correct, normalize  # noqa: F401 (normalize re-exported)

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "questions.jsonl"


def read_jsonl(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}:{n}: not JSON: {e}") from None
    return out


def label_records(generations: list[dict], questions: list[dict],
                  max_words: int = MAX_WORDS) -> list[dict]:
    """The generation records with ``domain`` and ``correct`` added (unknown ids are an error)."""
    by_id = {q["id"]: q for q in questions}
    out = []
    for g in generations:
        if "id" not in g or "answer" not in g:
            raise SystemExit(f"generation record without 'id' and 'answer': {g!r}")
        q = by_id.get(g["id"])
        if q is None:
            raise SystemExit(f"generation for unknown question id {g['id']!r}")
        out.append({**g, "domain": q["domain"],
                    "correct": is_correct(g["answer"], q["answers"], max_words)})
    return out


def accuracy_table(records: list[dict]) -> str:
    per: OrderedDict[str, list[int]] = OrderedDict()
    for r in records:
        c = per.setdefault(r["domain"], [0, 0])
        c[0] += bool(r["correct"])
        c[1] += 1
    lines = [f"{'domain':<12} {'correct':>7} {'total':>6} {'accuracy':>8}"]
    for d, (k, n) in sorted(per.items()):
        lines.append(f"{d:<12} {k:>7} {n:>6} {k / n:>8.3f}")
    k = sum(v[0] for v in per.values())
    n = sum(v[1] for v in per.values())
    lines.append(f"{'all':<12} {k:>7} {n:>6} {(k / n if n else 0.0):>8.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generations", required=True, type=Path,
                    help='JSONL of {"id", "answer"} records')
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument("--out", required=True, type=Path, help="labelled JSONL to write")
    ap.add_argument("--max-words", type=int, default=MAX_WORDS)
    args = ap.parse_args(argv)
    records = label_records(read_jsonl(args.generations), read_jsonl(args.questions),
                            args.max_words)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(accuracy_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
