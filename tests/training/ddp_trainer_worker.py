"""Run by test_ddp.py: a `Trainer` with `he.EntropyCallback` under `torchrun` (gloo, CPU) or alone.

One optimizer step over a dataset of GLOBAL examples (the whole global batch), TensorBoard on;
each rank writes its callback's scalars to OUT/trainer_rank{r}.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import headentropy as he
from tests.training.helpers import RandomTokens, tiny_llama

GLOBAL = 8


def main(out: Path) -> None:
    import transformers as tr

    world = int(os.environ.get("WORLD_SIZE", "1"))
    args = tr.TrainingArguments(
        output_dir=str(out / "run"), max_steps=1, per_device_train_batch_size=GLOBAL // world, learning_rate=1e-3,
        logging_steps=1, save_strategy="no", report_to=["tensorboard"], use_cpu=True, disable_tqdm=True,
        dataloader_pin_memory=False, seed=0, ddp_backend="gloo" if world > 1 else None)
    trainer = tr.Trainer(model=tiny_llama().train(), args=args, train_dataset=RandomTokens(GLOBAL))
    cb = he.EntropyCallback(every_n_steps=1, backend="torch").attach(trainer)
    trainer.train()
    rank = trainer.args.process_index
    (out / f"trainer_rank{rank}.json").write_text(json.dumps([s for _, s in cb.monitor.history]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
