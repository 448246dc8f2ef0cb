"""The alias labeller: is a generated answer correct? (the rule of data/qa/label.py)

Pure Python (standard library only). `data/qa/label.py` runs it over a generations file::

    python data/qa/label.py --generations gens.jsonl --out labelled.jsonl
        [--questions data/qa/questions.jsonl] [--max-words 25]

``gens.jsonl`` holds one ``{"id": ..., "answer": ...}`` per line (other keys are kept). The output
is the same records with ``"domain"`` and ``"correct": true/false`` added; the per-domain accuracy
is printed.

The rule (see README.md):

1. Both the answer and every alias go through :func:`normalize`: Unicode NFKC, accents dropped,
   case folded, possessive ``'s`` and apostrophes removed, thousands separators removed
   (``5,280`` -> ``5280``), every other punctuation mark a space (a decimal point between digits is
   kept), the articles *a*, *an*, *the* dropped, whitespace collapsed.
2. The answer is correct when some normalised alias occurs in the normalised answer as a whole
   phrase (token boundaries on both sides), so ``18`` does not match ``1812`` and ``tin`` does not
   match ``latin``.
3. Guards, each making the answer wrong even when an alias occurs in it:

   * **too long**: more than ``max_words`` (25) words after normalisation. A short-answer item is
     judged on short answers; a long one can list enough candidates to contain the right one.
   * **candidate list**: the answer, split on ``, ; / |``, new lines and the word *or*, has at
     least three short pieces (1-3 words), of which at least one matches an alias and another
     matches none (``Au, Ag, Cu``). Pieces that all match (``Mark Twain, Samuel Clemens``) are
     fine.
   * **either/or hedge**: around some *or*, the (up to) three words on one side name an alias and
     the three on the other side do not (``Au or Ag``, ``it is either Au or Ag``); ``Mark Twain
     or Samuel Clemens`` is fine. (A gloss such as ``Au, or gold`` for "symbol for gold" is
     therefore wrong too: the rule prefers false negatives to rewarding hedges.)
   * **numeric range**: a range such as ``1914-1918``, ``8 to 10`` or ``between 6 and 8`` is not an
     answer; it is replaced by a placeholder before matching, so the alias must occur elsewhere.

Known limits: negation (``not Au``) is not detected, and an answer that names the right entity
while answering a different question (``Gold has symbol Au, not Ag`` for "symbol for silver")
can match. Questions are written so that their answers avoid such ambiguity; symbols that are
English words (He, Be, As, I) are never an expected answer.

>>> normalize("  The Adventures of Huckleberry Finn!  ")
'adventures of huckleberry finn'
>>> normalize("Schrödinger's   cat")
'schrodinger cat'
>>> normalize("5,280 feet, or 1.5 km")
'5280 feet or 1.5 km'
>>> is_correct("Mark Twain.", ["Mark Twain", "Samuel Clemens"])
True
>>> is_correct("It was written by SAMUEL CLEMENS", ["Mark Twain", "Samuel Clemens"])
True
>>> is_correct("The war ended in 1812.", ["18", "eighteen"])
False
>>> is_correct("Au, Ag, Cu", ["Au"])
False
>>> is_correct("1914-1918", ["1914"])
False
"""

from __future__ import annotations

import re
import unicodedata

MAX_WORDS = 25
SHORT_PIECE_WORDS = 3
ARTICLES = frozenset({"a", "an", "the"})

# Letters that NFKD does not split into a base letter and a mark.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe",
                       "ı": "i", "ħ": "h"})
_APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
_POSSESSIVE = re.compile(rf"(?<=\w)[{_APOSTROPHES}]s\b")
_APOSTROPHE = re.compile(rf"[{_APOSTROPHES}]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[^\W_]+")
_RANGE = re.compile(
    r"\bbetween\s+\d+(?:[.,]\d+)*\s+and\s+\d+(?:[.,]\d+)*"
    r"|\d+(?:[.,]\d+)*\s*(?:-|\u2013|\u2014|\bto\b)\s*\d+(?:[.,]\d+)*",
    re.IGNORECASE)
_SPLIT = re.compile(r"[,;/|\n]|\bor\b", re.IGNORECASE)
RANGE_TOKEN = "numrange"


def normalize(text: str) -> str:
    """Lower-case, accent-free, punctuation-free, article-free form of ``text`` (see module doc)."""
    s = unicodedata.normalize("NFKC", text)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.casefold().translate(_FOLD)
    s = _POSSESSIVE.sub("", s)
    s = _APOSTROPHE.sub("", s)
    s = _THOUSANDS.sub("", s)
    return " ".join(t for t in _TOKEN.findall(s) if t not in ARTICLES)


def _contains(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


def _matches_any(text_norm: str, aliases_norm: list[str]) -> bool:
    return any(_contains(text_norm, a) for a in aliases_norm)


def _is_candidate_list(answer: str, aliases_norm: list[str]) -> bool:
    """True when ``answer`` reads as a list of candidates that mixes right and wrong ones."""
    pieces = [normalize(p) for p in _SPLIT.split(answer)]
    short = [p for p in pieces if 1 <= len(p.split()) <= SHORT_PIECE_WORDS]
    if len(short) >= 3:
        hits = [_matches_any(p, aliases_norm) for p in short]
        if any(hits) and not all(hits):
            return True
    # "X or Y": the words just before and just after an "or" (up to three each side) must
    # both name the answer or both not; "Au or Ag", "it is either Au or Ag" are hedges.
    tokens = normalize(answer).split()
    for i, t in enumerate(tokens):
        if t == "or":
            left = " ".join(tokens[max(0, i - SHORT_PIECE_WORDS):i])
            right = " ".join(tokens[i + 1:i + 1 + SHORT_PIECE_WORDS])
            if left and right and (_matches_any(left, aliases_norm)
                                   != _matches_any(right, aliases_norm)):
                return True
    return False


def is_correct(answer_text: str, aliases: list[str], max_words: int = MAX_WORDS) -> bool:
    """Whether ``answer_text`` gives one of ``aliases`` (whole-phrase match, with guards).

    >>> is_correct("Spiders have eight legs.", ["8", "eight"])
    True
    >>> is_correct("8 or 10", ["8", "eight"])
    False
    >>> is_correct("Tin", ["Sn"])
    False
    """
    if not isinstance(answer_text, str):
        return False
    aliases_norm = [a for a in (normalize(x) for x in aliases) if a]
    if not aliases_norm:
        raise ValueError(f"no usable alias in {aliases!r}")
    answer = _RANGE.sub(f" {RANGE_TOKEN} ", answer_text)
    norm = normalize(answer)
    if not norm or len(norm.split()) > max_words:
        return False
    if not _matches_any(norm, aliases_norm):
        return False
    return not _is_candidate_list(answer, aliases_norm)
