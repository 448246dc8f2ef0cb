"""Writing output files so that a failure never leaves a half-written or mixed set behind.

Every file of a set is first written in full to a temporary file in the target folder (same
filesystem, so the final rename is atomic), flushed to disk, and only when all of them are
complete are they renamed over the old ones. A full disk, a read-only mount or Ctrl-C during the
writing leaves the previous files untouched and removes the temporaries.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_temp(folder: Path, name: str, data: bytes, mode: int) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fchmod(fd, mode)  # mkstemp creates 0600; a report is as readable as any file the user writes
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return Path(tmp)


def write_files_atomically(folder: str | Path, files: dict[str, bytes | str]) -> None:
    """Write `files` (name -> content; str is UTF-8) into `folder` (created if needed), all or none."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mode = 0o666 & ~_umask()
    temps: dict[str, Path] = {}
    try:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            temps[name] = _write_temp(folder, name, data, mode)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    for name, tmp in temps.items():
        os.replace(tmp, folder / name)


def check_writable_folder(folder: str | Path) -> None:
    """Raise `OSError` now if `folder` cannot be created or written into (before a slow run).

    Folders created for the check are removed again, so a failed run leaves nothing behind.
    """
    folder = Path(folder)
    created: list[Path] = []
    for parent in reversed([folder, *folder.parents]):
        if not parent.exists():
            parent.mkdir()
            created.append(parent)
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(folder))
        fd, tmp = tempfile.mkstemp(prefix=".headentropy-check.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    finally:
        for path in reversed(created):
            path.rmdir()


# ---- our safetensors files (traces, aggregates): tensors + JSON metadata, no pickle ----------


def safetensors_bytes(tensors: dict, meta: dict) -> bytes:
    """`tensors` as one safetensors file; `meta` (with its "format") is JSON in the header."""
    from safetensors.torch import save

    return save(tensors, metadata={"headentropy": json.dumps(meta)})


def load_safetensors(path: str | Path, fmt: str, what: str, build: Callable[[dict, dict], T]) -> T:
    """`build(meta, tensors)` from a file `safetensors_bytes` wrote with meta["format"] == `fmt`.

    Anything else (no such file, a folder, a truncated or foreign file, a tensor `build` misses)
    raises `ValueError("<path> is not a (complete) headentropy <what>: <reason>")`.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("headentropy", "{}"))
            if meta.get("format") != fmt:
                raise ValueError(f"format {meta.get('format')!r}, expected {fmt!r}")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        return build(meta, tensors)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
        raise ValueError(f"{os.fspath(path)} is not a (complete) headentropy {what}: {reason}") from None
