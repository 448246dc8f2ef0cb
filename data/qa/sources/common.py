"""Small helpers shared by the domain tables."""

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def words(n: int) -> list[str]:
    """English spellings of 0 <= n < 10000 (with and without the British "and")."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        t, o = divmod(n, 10)
        return [_TENS[t] if o == 0 else f"{_TENS[t]}-{_ONES[o]}"]
    if n < 1000:
        h, r = divmod(n, 100)
        head = f"{_ONES[h]} hundred"
        if r == 0:
            return [head]
        return [f"{head} {w}" for w in words(r)] + [f"{head} and {w}" for w in words(r)]
    if n < 10000:
        th, r = divmod(n, 1000)
        head = f"{_ONES[th]} thousand"
        if r == 0:
            return [head]
        out = []
        for w in words(r):
            out.append(f"{head} {w}")
            if r < 100:
                out.append(f"{head} and {w}")
        return out
    raise ValueError(n)


def num(n: int, *extra: str, spell: bool = True) -> list[str]:
    """Aliases for a number: digits first, then the words (unless ``spell`` is False)."""
    out = [str(n)]
    if n >= 1000 and spell:
        out.append(f"{n:,}")
    if spell:
        out += words(n)
    out += list(extra)
    seen, uniq = set(), []
    for a in out:
        if a not in seen:
            seen.add(a)
            uniq.append(a)
    return uniq


def q(question: str, answers, fact: str, subject: str | None = None) -> dict:
    if isinstance(answers, str):
        answers = [answers]
    return {"question": question, "answers": list(answers), "fact": fact, "subject": subject}


def as_written(names: list[str], fact: str) -> list[str]:
    """The aliases with the first capitalised when the fact writes it at a sentence's start
    (so the passage names the canonical alias exactly as the question's first answer)."""
    if names[0] in fact:
        return list(names)
    return [names[0][0].upper() + names[0][1:]] + list(names[1:])
