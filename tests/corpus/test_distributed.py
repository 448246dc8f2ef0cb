"""Corpus runs on a real local Ray cluster: 2 workers equal 1 process, a killed worker's shard is
retried and the merged result is still exact."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from headentropy.corpus import profile_corpus
from headentropy.corpus.distributed import ACTOR_PREFIX, profile_corpus_ray

from ..analysis.test_aggregates import assert_same
from .test_corpus import write_corpus

ray = pytest.importorskip("ray", reason="the distributed extra is part of `make test` (pyproject dev extra)")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, minilm):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root / "c.jsonl", 121, bad=(7,))  # 120 texts: 40 shards, so a kill lands mid-run
    model, tok = minilm
    run = profile_corpus(model, tok, root / "c.jsonl", root / "local", batch_size=3, shard_size=3, quiet=True)
    return root, run


@pytest.fixture
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_two_ray_workers_equal_one_process(local_run, cluster):
    root, local = local_run
    run = profile_corpus_ray("minilm", root / "c.jsonl", root / "ray", workers=2, batch_size=3, shard_size=3, quiet=True)
    assert run.shards == local.shards == 40 and run.shards_computed == 40
    assert [r for r, _ in run.bad_records] == [8]
    assert_same(run.aggregate, local.aggregate, rtol=1e-5, atol=1e-6)  # fp32 round-off


def test_a_worker_killed_mid_run_has_its_shard_retried(tmp_path, smollm2, cluster):
    """SmolLM2 (slow enough per shard that the kill lands mid-run; asserted, not assumed)."""
    write_corpus(tmp_path / "c.jsonl", 40)
    model, tok = smollm2
    local = profile_corpus(model, tok, tmp_path / "c.jsonl", tmp_path / "local", batch_size=2, shard_size=4, quiet=True)
    out = tmp_path / "killed"
    killed = {}

    def kill_a_worker():
        deadline = time.monotonic() + 300
        while "pid" not in killed and time.monotonic() < deadline:
            try:  # the actor exists once the driver created it; pid() answers once the model loaded
                killed["pid"] = ray.get(ray.get_actor(f"{ACTOR_PREFIX}0").pid.remote())
            except ValueError:
                time.sleep(0.05)
        while not (out / "shards" / "shard-00000.safetensors").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        killed["shards_done"] = len(list((out / "shards").glob("shard-*.safetensors")))
        os.kill(killed["pid"], signal.SIGKILL)  # mid-corpus: a worker busy with a shard

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    run = profile_corpus_ray("smollm2", tmp_path / "c.jsonl", out, workers=2, batch_size=2, shard_size=4, quiet=True)
    killer.join()
    assert killed["shards_done"] < 10  # the kill came before the end
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)  # that process is gone; Ray restarted the actor
    assert run.shards_computed == 10
    # Workers run with other thread counts than this process: SmolLM2's 30 fp32 layers then differ
    # in the last bits, which second moments over a few hundred positions show at ~2e-5.
    assert_same(run.aggregate, local.aggregate, rtol=1e-4, atol=1e-6)
