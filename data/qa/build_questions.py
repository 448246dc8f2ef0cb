"""Write questions.jsonl from the hand-written tables in sources/ (deterministic).

    python data/qa/build_questions.py [--out data/qa/questions.jsonl]

Ids are ``<domain>-NNNN`` in table order. The records carry ``id``, ``domain``, ``question`` and
``answers`` (aliases, first one canonical); the fact sentences and subjects stay in sources/ and
are used by passages.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sources import DOMAINS  # noqa: E402


def load_domain(domain: str):
    return importlib.import_module(f"sources.{domain}")


def records() -> list[dict]:
    """Every question with its id, in a fixed order, plus the private ``fact`` and ``subject``."""
    out = []
    for domain in DOMAINS:
        for i, item in enumerate(load_domain(domain).QUESTIONS, 1):
            out.append({"id": f"{domain}-{i:04d}", "domain": domain, **item})
    return out


def public(rec: dict) -> dict:
    return {k: rec[k] for k in ("id", "domain", "question", "answers")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "questions.jsonl")
    args = ap.parse_args(argv)
    recs = records()
    with open(args.out, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(public(r), ensure_ascii=False) + "\n")
    print(f"wrote {len(recs)} questions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
