"""Texts of a corpus, streamed with their record numbers: JSONL, CSV, Parquet, a folder of text
files, or a saved HF `datasets` folder.

`iter_texts(path)` yields `(record, text)` one at a time (nothing but the current record is held);
a malformed record is reported through `on_bad(record, reason)` and skipped. Unreadable or empty
sources raise `CorpusError` (one line).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Callable, Iterator

FIELDS = ("text", "prompt")  # the column read when none is named


class CorpusError(ValueError):
    """The corpus cannot be read at all (missing, unreadable, wrong column): one line for the user."""


BadRecord = Callable[[int, str], None]


def _pick(row: dict, column: str | None, record: int, on_bad: BadRecord) -> str | None:
    names = (column,) if column else FIELDS
    text = next((row[n] for n in names if n in row), None)
    if not isinstance(text, str) or not text.strip():
        on_bad(record, f"no non-empty {' or '.join(repr(n) for n in names)} string field")
        return None
    return text


def _jsonl(path: Path, column: str | None, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="strict") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                on_bad(number, f"not JSON ({getattr(e, 'msg', e)})")
                continue
            if not isinstance(row, dict):
                on_bad(number, "not a JSON object")
                continue
            text = _pick(row, column, number, on_bad)
            if text is not None:
                yield number, text


def _csv(path: Path, column: str | None, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        names = (column,) if column else FIELDS
        if reader.fieldnames is None or not any(n in reader.fieldnames for n in names):
            raise CorpusError(f"{path}: no column {' or '.join(repr(n) for n in names)} "
                              f"(columns: {', '.join(reader.fieldnames or [])}); use --column")
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            text = _pick(row, column, number, on_bad)
            if text is not None:
                yield number, text


def _table_rows(table, path: Path, column: str | None, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    names = (column,) if column else FIELDS
    name = next((n for n in names if n in table.column_names), None)
    if name is None:
        raise CorpusError(f"{path}: no column {' or '.join(repr(n) for n in names)} "
                          f"(columns: {', '.join(table.column_names)}); use --column")
    for number, text in enumerate(table[name], start=1):
        text = text.as_py() if hasattr(text, "as_py") else text
        if not isinstance(text, str) or not text.strip():
            on_bad(number, f"empty or non-string {name!r}")
            continue
        yield number, text


def _parquet(path: Path, column: str | None, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CorpusError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    yield from _table_rows(pq.read_table(path), path, column, on_bad)


def _hf_dataset(path: Path, column: str | None, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    try:
        from datasets import load_from_disk
    except ImportError:
        raise CorpusError(f"{path}: a saved datasets folder needs the datasets package (pip install datasets)") from None
    ds = load_from_disk(str(path))
    if hasattr(ds, "keys"):  # a DatasetDict: its first split
        ds = ds[next(iter(ds.keys()))]
    yield from _table_rows(ds.data.table if hasattr(ds, "data") else ds, path, column, on_bad)


def _text_folder(path: Path, on_bad: BadRecord) -> Iterator[tuple[int, str]]:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise CorpusError(f"{path}: a folder corpus needs .txt files (one text each), or a saved datasets folder")
    for number, file in enumerate(files, start=1):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            on_bad(number, f"{file.name}: {e}")
            continue
        if not text.strip():
            on_bad(number, f"{file.name}: empty")
            continue
        yield number, text


def iter_texts(path: str | Path, column: str | None = None,
               on_bad: BadRecord = lambda record, reason: None) -> Iterator[tuple[int, str]]:
    """`(record number, text)` of every usable record, in order."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"--dataset {path} does not exist")
    try:
        if path.is_dir():
            if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
                yield from _hf_dataset(path, column, on_bad)
            else:
                yield from _text_folder(path, on_bad)
        elif path.suffix.lower() == ".csv":
            yield from _csv(path, column, on_bad)
        elif path.suffix.lower() in (".parquet", ".pq"):
            yield from _parquet(path, column, on_bad)
        else:  # .jsonl, .json, anything else: JSON lines
            yield from _jsonl(path, column, on_bad)
    except UnicodeDecodeError as e:
        raise CorpusError(f"--dataset {path} is not UTF-8 text: {e.reason} at byte {e.start}") from None
    except OSError as e:
        raise CorpusError(f"cannot read --dataset {path}: {e.strerror or e}") from None
