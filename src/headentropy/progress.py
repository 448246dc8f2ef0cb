"""Progress for long work: a tqdm bar on a terminal, plain periodic lines in a log.

A `\\r`-redrawn bar written into a file or CI log becomes one long unreadable line; when stderr
is not a terminal, `progress()` prints `desc: n/total` lines at most every `LOG_INTERVAL_S`
seconds (and at the end) instead.
"""

from __future__ import annotations

import sys
import time

LOG_INTERVAL_S = 10.0


class _LogLines:
    """The subset of tqdm's interface the project uses, as periodic plain lines on stderr."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.start = self.last = time.monotonic()
        self.postfix = ""

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= LOG_INTERVAL_S:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.n / max(now - self.start, 1e-9)
        of = f"/{self.total}" if self.total else ""
        eta = ""
        if self.total and 0 < rate and self.n < self.total:
            eta = f", ETA {_clock((self.total - self.n) / rate)}"
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}{of} {self.unit} ({rate:.1f} {self.unit}/s{extra}{eta})", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.n and time.monotonic() - self.start >= LOG_INTERVAL_S:
            self._line(time.monotonic())

    def __enter__(self) -> "_LogLines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class _Silent:
    n = 0

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress(total: int | None, desc: str, *, quiet: bool = False, unit: str = "it"):
    """A context-managed progress reporter with `.update(n)` and `.set_postfix_str(text)` (tqdm's names)."""
    if quiet:
        return _Silent()
    if not sys.stderr.isatty():
        return _LogLines(total, desc, unit)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)
