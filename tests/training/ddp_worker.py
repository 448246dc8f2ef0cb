"""Run by test_ddp.py under `torchrun --nproc_per_node=2` (gloo, CPU); also single-process.

Trains the tiny Llama for a few steps on one global batch of 8 sequences, split over the ranks,
with a `TrainingMonitor` sampling every step, and writes each rank's scalars to OUT/rank{r}.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import headentropy as he
from tests.training.helpers import RandomTokens, tiny_llama

STEPS = 3
GLOBAL_BATCH = 8


def main(out: Path) -> None:
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    torch.manual_seed(0)
    model = tiny_llama().train()
    ids = RandomTokens(GLOBAL_BATCH).ids  # [8, SEQ], the same on every rank
    if os.environ.get("HALF_BATCH"):  # the control: one process over rank 0's half only
        ids = ids[: GLOBAL_BATCH // 2]
    per_rank = len(ids) // world
    mine = ids[rank * per_rank:(rank + 1) * per_rank]  # this rank's share of the global batch
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    history = []
    with he.TrainingMonitor(wrapped, every_n_steps=1, backend="torch") as mon:  # unwraps DDP itself
        for step in range(STEPS):
            loss = wrapped(input_ids=mine, labels=mine).loss  # DDP averages the gradients
            loss.backward()
            opt.step()
            opt.zero_grad()
            history.append(mon.step(step))
    (out / f"rank{rank}.json").write_text(json.dumps({"world": world, "history": history}))
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
