"""Build the retrieval corpus in passages/ from the questions (deterministic).

    python data/qa/passages.py [--out data/qa/passages]

For every question, ``passages/<id>.txt`` holds one or two sentences stating the fact; the
sentence contains the question's first alias verbatim (checked here). Distractor passages,
``passages/distractor-NNNN.txt``, state true facts, in the same style, about entities that no
question asks about (other elements, books by other authors, other countries, other units,
scientists and dates). The script fails loudly when

* questions.jsonl is out of date with the tables in sources/ (run build_questions.py),
* a fact does not contain its first alias verbatim, or does not label as correct itself,
* a distractor mentions the subject of a question of its own domain (unless it is listed in that
  domain's ``REVIEWED_RELATED``: checked by hand to state a different, true fact about a different
  entity, e.g. "K2 is the second-highest mountain in the world."), repeats a fact, or is a
  duplicate,
* there are fewer distractors than facts.

Re-running rewrites identical files and removes any other ``*.txt`` file in the folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from build_questions import load_domain, public, records  # noqa: E402
from label import is_correct, normalize  # noqa: E402
from sources import DOMAINS  # noqa: E402


class CorpusError(RuntimeError):
    pass


def _contains(text_norm: str, phrase_norm: str) -> bool:
    return bool(phrase_norm) and f" {phrase_norm} " in f" {text_norm} "


def build(questions_path: Path) -> dict[str, str]:
    """File name -> text for the whole corpus; raises CorpusError on any failed check."""
    recs = records()
    errors: list[str] = []

    on_disk = [json.loads(line) for line in open(questions_path, encoding="utf-8") if line.strip()]
    if on_disk != [public(r) for r in recs]:
        raise CorpusError(f"{questions_path} is out of date with sources/: "
                          "run data/qa/build_questions.py")

    files: dict[str, str] = {}
    facts_norm = set()
    for r in recs:
        fact = r["fact"]
        if r["answers"][0] not in fact:
            errors.append(f"{r['id']}: fact {fact!r} lacks the first alias {r['answers'][0]!r}")
        if not is_correct(fact, r["answers"]):
            errors.append(f"{r['id']}: fact {fact!r} does not label as correct")
        files[f"{r['id']}.txt"] = fact + "\n"
        facts_norm.add(normalize(fact))

    subjects = {d: [(r["id"], normalize(r["subject"])) for r in recs
                    if r["domain"] == d and r["subject"]] for d in DOMAINS}
    seen: dict[str, str] = {}
    n = 0
    for d in DOMAINS:
        mod = load_domain(d)
        reviewed = getattr(mod, "REVIEWED_RELATED", set())
        unused = reviewed - set(mod.DISTRACTORS)
        if unused:
            errors.append(f"{d}: REVIEWED_RELATED names unknown distractors: {sorted(unused)}")
        for text in mod.DISTRACTORS:
            n += 1
            name = f"distractor-{n:04d}.txt"
            t = normalize(text)
            if t in seen:
                errors.append(f"{name}: duplicate of {seen[t]}: {text!r}")
            seen[t] = name
            if t in facts_norm:
                errors.append(f"{name}: repeats a fact: {text!r}")
            for qid, subj in subjects[d]:
                if text not in reviewed and _contains(t, subj):
                    errors.append(f"{name}: mentions the subject of {qid} ({subj!r}): {text!r}")
            files[name] = text + "\n"
    if n < len(recs):
        errors.append(f"only {n} distractors for {len(recs)} facts")
    if errors:
        raise CorpusError("passage checks failed:\n  " + "\n  ".join(errors))
    return files


def write(files: dict[str, str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(out.glob("*.txt")):
        if stale.name not in files:
            stale.unlink()
    for name, text in sorted(files.items()):
        p = out / name
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    ap.add_argument("--out", type=Path, default=HERE / "passages")
    args = ap.parse_args(argv)
    try:
        files = build(args.questions)
    except CorpusError as e:
        print(e, file=sys.stderr)
        return 1
    write(files, args.out)
    n_fact = sum(not k.startswith("distractor-") for k in files)
    print(f"wrote {n_fact} fact passages and {len(files) - n_fact} distractors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
