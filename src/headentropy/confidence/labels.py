"""Label an answer correct when it contains one of the question's aliases (placeholder rule)."""

from __future__ import annotations

import re
import unicodedata


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_correct(answer: str, aliases) -> bool:
    a = f" {normalize(answer)} "
    return any(f" {normalize(x)} " in a for x in aliases if normalize(x))
