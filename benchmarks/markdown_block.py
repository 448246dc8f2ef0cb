"""Replace (or append) one generated table in a markdown file, between HTML-comment markers.

Used by the scripts under benchmarks/ and validation/ so each owns one block of
BENCHMARKS.md / VALIDATION.md and reruns replace it instead of appending.
"""

from __future__ import annotations

from pathlib import Path


def write_block(path: Path, name: str, heading: str, body: str, title: str) -> None:
    """Put `body` between `<!-- name:begin -->` and `<!-- name:end -->` in `path`.

    A new block is appended under `## heading`; a file that does not exist starts with `# title`.
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else f"# {title}\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text += f"\n## {heading}\n\n{block}\n"
    path.write_text(text)
