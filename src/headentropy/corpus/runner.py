"""Profile a model over a whole corpus: streaming, in shards, resumable (DESIGN §14).

    agg = profile_corpus(model, tok, "texts.jsonl", "out/")   # -> EntropyAggregate

The corpus is read one record at a time and cut into shards of `shard_size` usable texts. Each
shard is run in length-sorted batches under `he.monitor`; every batch's trace is folded into the
shard's `EntropyAggregate` and dropped, so memory does not grow with the corpus. A finished shard
is written atomically to `out/shards/shard-NNNNN.safetensors`; `resume=True` skips the shards
already there. The corpus aggregate is always the merge of the shard files in shard order, so a
resumed run gives exactly what an uninterrupted one gives.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import torch

from ..analysis.aggregates import EntropyAggregate
from ..files import write_files_atomically
from ..progress import progress
from .sources import CorpusError, iter_texts

SHARD_SIZE = 256
MANIFEST = "manifest.json"
CORPUS_FILE = "corpus.safetensors"
MANIFEST_FORMAT = "headentropy.corpus-run/1"


@dataclass
class CorpusRun:
    """What a run did: the aggregate and the counts a user wants to see."""

    aggregate: EntropyAggregate
    shards: int
    shards_computed: int  # the rest were resumed from files
    texts: int
    tokens: int
    truncated: int
    bad_records: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


def shard_path(out: Path, index: int) -> Path:
    return out / "shards" / f"shard-{index:05d}.safetensors"


def shards_of(texts: Iterator[tuple[int, str]], size: int, limit: int | None) -> Iterator[tuple[int, list[str]]]:
    """`(shard index, its texts)` from the corpus stream, at most `limit` texts in all."""
    shard, index, taken = [], 0, 0
    for _, text in texts:
        if limit is not None and taken >= limit:
            break
        shard.append(text)
        taken += 1
        if len(shard) == size:
            yield index, shard
            shard, index = [], index + 1
    if shard:
        yield index, shard


def _check_manifest(out: Path, settings: dict, resume: bool) -> None:
    path = out / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        if not resume:
            raise CorpusError(f"--out {out} holds a corpus run already; add --resume to continue it, "
                              "or choose another --out")
        changed = [k for k, v in settings.items() if old.get(k) != v]
        if changed:
            raise CorpusError(f"--resume: the run in {out} used other settings ({', '.join(changed)}); "
                              "rerun with the same ones or another --out")
    write_files_atomically(out, {MANIFEST: json.dumps(settings, indent=1)})


def _batches(tokenizer, texts: list[str], batch_size: int, max_length: int | None):
    """Length-sorted batches of `(input_ids [b, L], attention_mask [b, L])`; counts truncations."""
    ids = [tokenizer(t, add_special_tokens=True)["input_ids"] for t in texts]
    truncated = 0
    if max_length is not None:
        truncated = sum(len(x) > max_length for x in ids)
        ids = [x[:max_length] for x in ids]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths: little padding
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    out = []
    for start in range(0, len(order), batch_size):
        rows = [ids[i] for i in order[start:start + batch_size]]
        width = max(len(r) for r in rows)
        batch = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            sl = slice(width - len(r), width) if left else slice(0, len(r))
            batch[b, sl] = torch.tensor(r, dtype=torch.long)
            mask[b, sl] = 1
        out.append((batch, mask))
    return out, truncated


def resolve_max_length(max_length: int | None, model_limit: int | None) -> int | None:
    """`--max-length`, defaulting to (and never beyond) the model's positions."""
    if max_length is None:
        return model_limit
    if model_limit is not None and max_length > model_limit:
        raise CorpusError(f"--max-length {max_length} is beyond the model's {model_limit} positions")
    return max_length


def prepare_run(dataset, out_dir, *, column, batch_size, max_length, limit, shard_size, resume,
                model_name) -> tuple[Path, int, list]:
    """Check the arguments and the corpus, write (or check, on resume) the manifest.

    Returns (out folder, number of texts to profile, the list bad records will be added to).
    """
    if batch_size < 1 or shard_size < 1 or (limit is not None and limit < 1):
        raise CorpusError("--batch-size, --shard-size and --limit must be >= 1")
    out = Path(out_dir)
    settings = {"format": MANIFEST_FORMAT, "dataset": str(Path(dataset).resolve()), "column": column,
                "shard_size": shard_size, "max_length": max_length, "limit": limit, "model": model_name}
    total = sum(1 for _ in iter_texts(dataset, column))  # a cheap first pass: progress and ETA
    if total == 0:
        raise CorpusError(f"--dataset {dataset} has no usable record")
    total = min(total, limit) if limit is not None else total
    _check_manifest(out, settings, resume)
    return out, total, []


def profile_corpus(
    model: torch.nn.Module,
    tokenizer,
    dataset: str | Path,
    out_dir: str | Path,
    *,
    column: str | None = None,
    batch_size: int = 8,
    max_length: int | None = None,
    limit: int | None = None,
    shard_size: int = SHARD_SIZE,
    resume: bool = False,
    backend: str = "auto",
    quiet: bool = False,
) -> CorpusRun:
    """Stream `dataset` through `model` and return the merged corpus aggregate (also written to
    `out_dir/corpus.safetensors`). Raises `CorpusError` for an unreadable or empty corpus."""
    from ..report.run import context_limit

    model_name = str(getattr(model.config, "_name_or_path", type(model).__name__))
    max_length = resolve_max_length(max_length, context_limit(model))
    out, total, bad = prepare_run(dataset, out_dir, column=column, batch_size=batch_size, max_length=max_length,
                                  limit=limit, shard_size=shard_size, resume=resume, model_name=model_name)
    mon = corpus_monitor(model, backend)
    start = time.monotonic()
    shards = computed = 0
    with progress(total, "texts", quiet=quiet, unit="texts") as bar:
        rate = TokenRate(bar)
        stream = iter_texts(dataset, column, on_bad=lambda record, reason: bad.append((record, reason)))
        for index, shard_texts in shards_of(stream, shard_size, limit):
            shards += 1
            path = shard_path(out, index)
            if resume and path.exists():
                bar.update(len(shard_texts))
                continue
            agg = run_shard(model, tokenizer, shard_texts, batch_size, max_length, mon)
            agg.save(path)
            computed += 1
            rate.shard_done(len(shard_texts), agg.extra["tokens"])
    return finish_run(out, shards, computed, bad, start)


def run_options(options: dict) -> SimpleNamespace:
    """`profile_corpus`'s keyword arguments (column, batch_size, ..., quiet) with its defaults filled
    in, for a run that takes them as `**options` (the Ray driver, corpus/distributed.py): the
    options and their defaults are written once, in `profile_corpus`'s signature. An unknown name
    raises TypeError, as it would in a call."""
    keywords = {name: p.default for name, p in inspect.signature(profile_corpus).parameters.items()
                if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - set(keywords))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
    return SimpleNamespace(**{**keywords, **options})


class TokenRate:
    """Adds tokens/s of the shards computed in this run (not resumed ones) to a progress bar."""

    def __init__(self, bar) -> None:
        self.bar, self.tokens, self.start = bar, 0, time.monotonic()

    def shard_done(self, texts: int, tokens: int) -> None:
        self.tokens += tokens
        self.bar.set_postfix_str(f"{self.tokens / max(time.monotonic() - self.start, 1e-9):.0f} tokens/s")
        self.bar.update(texts)


def corpus_monitor(model: torch.nn.Module, backend: str):
    """The monitor a corpus run uses: one TraceTap without the logit statistics (the aggregates
    do not use them, and they would cost a log-softmax over the vocabulary per position)."""
    from ..capture.taps import TraceTap
    from ..hf.monitor import monitor

    return monitor(model, backend=backend, taps=[TraceTap(token_stats=False)])


def profile_batch(model: torch.nn.Module, mon, ids: torch.Tensor, mask: torch.Tensor) -> EntropyAggregate:
    """One batch `[b, L]` under the monitor `mon`, as an aggregate; the trace is dropped."""
    device = next(model.parameters()).device
    with mon, torch.inference_mode():
        model(input_ids=ids.to(device), attention_mask=mask.to(device))
    part = EntropyAggregate.from_trace(mon.trace)
    mon.taps[0].traces.clear()  # the trace is folded in: nothing grows with the corpus
    return part


def run_shard(model: torch.nn.Module, tokenizer, texts: list[str], batch_size: int, max_length: int | None,
              mon) -> EntropyAggregate:
    """The aggregate of one shard: length-sorted batches under the monitor `mon`, folded in."""
    shard_agg = None
    batches, cut = _batches(tokenizer, texts, batch_size, max_length)
    for ids, mask in batches:
        part = profile_batch(model, mon, ids, mask)
        shard_agg = part if shard_agg is None else shard_agg.merge(part)
    shard_agg.extra.update(texts=len(texts), tokens=int(sum(int(m.sum()) for _, m in batches)), truncated=cut)
    return shard_agg


def finish_run(out: Path, shards: int, computed: int, bad: list[tuple[int, str]], start: float) -> CorpusRun:
    """Merge the shard files in shard order (resumed == uninterrupted) into corpus.safetensors."""
    aggregate = None
    for index in range(shards):
        part = EntropyAggregate.load(shard_path(out, index))
        aggregate = part if aggregate is None else aggregate.merge(part)
    aggregate.extra["bad_records"] = len(bad)
    aggregate.save(out / CORPUS_FILE)
    return CorpusRun(aggregate, shards, computed, int(aggregate.extra.get("texts", 0)),
                     int(aggregate.extra.get("tokens", 0)), int(aggregate.extra.get("truncated", 0)), bad,
                     time.monotonic() - start)
