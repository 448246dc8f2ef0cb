"""Shared pieces of the training tests: a tiny dataset, a Trainer run, reading TensorBoard files."""

from __future__ import annotations

import glob
import math
import os

import torch

from ..hf.conftest import VOCAB, make_tiny

SEQ = 24  # tokens per example: every layer has 24 - 8 + 1 = 17 positions that see >= 8 keys


class RandomTokens(torch.utils.data.Dataset):
    """`n` examples of `SEQ` random token ids (labels = inputs: a causal LM loss)."""

    def __init__(self, n: int = 32, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, VOCAB, (n, SEQ), generator=g)  # [n, SEQ]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i].clone()}


def scale_qk(model: torch.nn.Module, factor: float) -> torch.nn.Module:
    """Induce collapse (factor >> 1: logits ×factor², rows one-hot) or uniform rows (factor 0)."""
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(factor)
            layer.self_attn.k_proj.weight.mul_(factor)
    return model


def trainer_for(model, tmp_path, *, max_steps: int, report_to=("tensorboard",), lr: float = 1e-3, **kw):
    import transformers as tr

    args = tr.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=max_steps, per_device_train_batch_size=4,
        learning_rate=lr, lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
        report_to=list(report_to), use_cpu=True, disable_tqdm=True, dataloader_pin_memory=False, seed=0,
        **kw)
    return tr.Trainer(model=model.train(), args=args, train_dataset=RandomTokens())


def read_tensorboard(logdir) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] from every event file under `logdir` (the tensorboard reader)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = glob.glob(os.path.join(str(logdir), "**", "events.out.tfevents.*"), recursive=True)
    assert files, f"no event files under {logdir}"
    out: dict[str, list[tuple[int, float]]] = {}
    for path in files:
        acc = EventAccumulator(path, size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def tiny_llama():
    return make_tiny("llama")
