"""Corpus runs on many workers of a Ray cluster (`pip install 'headentropy[distributed]'`).

The driver streams the corpus and cuts it into shards exactly as a local run does; a pool of
Ray actors, each holding the model once, turns shards into aggregates (`runner.run_shard`), and
the driver writes each returned shard file and merges the files in shard order at the end
(`runner.finish_run`): the result is the local run's, whatever the number of workers or the order
in which shards finish. Scheduling is Ray's (`ray.util.ActorPool`); a worker that dies has its
actor restarted and its shard retried by Ray (`max_restarts`, `max_task_retries`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..files import write_files_atomically
from ..progress import progress
from .runner import CorpusRun, TokenRate, finish_run, prepare_run, run_options, shard_path, shards_of
from .sources import CorpusError, iter_texts

ACTOR_PREFIX = "headentropy-shard-worker-"  # named actors: `ray.get_actor(ACTOR_PREFIX + "0")`
RETRIES = 3


def _import_ray():
    try:
        import ray
    except ImportError:
        raise CorpusError("--workers/--address need Ray: pip install 'headentropy[distributed]'") from None
    return ray


def _worker_class(ray):
    @ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)
    class ShardWorker:
        """Holds one copy of the model; turns a shard's texts into its aggregate file bytes."""

        def __init__(self, model_name: str, backend: str, batch_size: int, max_length: int | None, threads: int):
            import torch

            import headentropy as he
            from ..report.run import context_limit
            from .runner import corpus_monitor, resolve_max_length

            torch.set_num_threads(max(1, threads))
            self.model, self.tokenizer = he.load_model(model_name)
            self.max_length = resolve_max_length(max_length, context_limit(self.model))
            self.batch_size = batch_size
            self.mon = corpus_monitor(self.model, backend)

        def pid(self) -> int:
            return os.getpid()

        def run(self, index: int, texts: list[str]) -> tuple[int, bytes, int]:
            from .runner import run_shard

            agg = run_shard(self.model, self.tokenizer, texts, self.batch_size, self.max_length, self.mon)
            return index, agg.to_bytes(), agg.extra["tokens"]

    return ShardWorker


def profile_corpus_ray(
    model_name: str,
    dataset: str | Path,
    out_dir: str | Path,
    *,
    workers: int = 2,
    address: str | None = None,
    **options,
) -> CorpusRun:
    """Like `profile_corpus`, with `workers` Ray actors (a local cluster, or the one at `address`).

    `options` are `profile_corpus`'s keyword arguments (column, batch_size, max_length, limit,
    shard_size, resume, backend, quiet), with the same defaults.
    """
    ray = _import_ray()
    if workers < 1:
        raise CorpusError("--workers must be >= 1")
    o = run_options(options)
    out, total, bad = prepare_run(dataset, out_dir, column=o.column, batch_size=o.batch_size, max_length=o.max_length,
                                  limit=o.limit, shard_size=o.shard_size, resume=o.resume, model_name=model_name)
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        threads = max(1, (os.cpu_count() or 1) // workers) if not address else 1
        cls = _worker_class(ray)
        actors = [cls.options(name=f"{ACTOR_PREFIX}{i}", num_cpus=1).remote(model_name, o.backend, o.batch_size,
                                                                               o.max_length, threads)
                  for i in range(workers)]
        from ray.util import ActorPool

        start = time.monotonic()
        counts: dict[int, int] = {}

        def todo():
            stream = iter_texts(dataset, o.column, on_bad=lambda record, reason: bad.append((record, reason)))
            for index, texts in shards_of(stream, o.shard_size, o.limit):
                counts[index] = len(texts)
                if o.resume and shard_path(out, index).exists():
                    bar.update(len(texts))
                else:
                    yield index, texts

        computed = 0
        with progress(total, "texts", quiet=o.quiet, unit="texts") as bar:
            rate = TokenRate(bar)
            pool = ActorPool(actors)
            for index, data, tokens in pool.map_unordered(lambda actor, item: actor.run.remote(*item), todo()):
                path = shard_path(out, index)
                write_files_atomically(path.parent, {path.name: data})
                computed += 1
                rate.shard_done(counts[index], tokens)
        for actor in actors:
            ray.kill(actor)
        return finish_run(out, len(counts), computed, bad, start)
    finally:
        if started_here:
            ray.shutdown()
