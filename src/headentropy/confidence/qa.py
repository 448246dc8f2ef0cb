"""Labelled generations for calibrating and evaluating a confidence score (docs/design.md §13).

A question file is JSON lines: `{"id", "domain", "question", "answers": [aliases]}`. Each
question is put in the model's chat template (`PROMPT`), answered greedily under `he.monitor`
(one pass: attention statistics and the logits' log-probabilities come from the same `generate`),
labelled by alias match (`labels.is_correct`), and reduced to its answer features. A
`GenerationSet` keeps what calibration and evaluation need (answers, labels, features, the
spike detector's output), saved as `generations.jsonl` + `features.safetensors`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..progress import progress
from .features import answer_features, feature_names
from .labels import is_correct

# The question as the user turn; the instruction keeps answers short enough to label by alias.
PROMPT = "{question} Answer in a few words."
FORMAT = "headentropy.GenerationSet/1"


class QuestionFileError(ValueError):
    """A question file that cannot be read (the message names the file and line)."""


@dataclass(frozen=True)
class Question:
    id: str
    domain: str
    question: str
    answers: tuple[str, ...]


def load_questions(path: str | os.PathLike) -> list[Question]:
    path = Path(path)
    if not path.is_file():
        raise QuestionFileError(f"--data {path} does not exist or is not a file")
    questions, seen = [], set()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                q = Question(str(rec["id"]), str(rec.get("domain", "")), str(rec["question"]),
                             tuple(str(a) for a in rec.get("answers", [])))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise QuestionFileError(f"{path}:{number}: not a question record ({type(e).__name__}: {e}); "
                                        'expected {"id", "domain", "question", "answers": [...]}') from None
            if q.id in seen:
                raise QuestionFileError(f"{path}:{number}: duplicate id {q.id!r}")
            seen.add(q.id)
            questions.append(q)
    if not questions:
        raise QuestionFileError(f"{path} holds no questions")
    return questions


def chat_prompt(tokenizer, question: str) -> str:
    """The question as the model's chat template renders a user turn awaiting the answer."""
    messages = [{"role": "user", "content": PROMPT.format(question=question)}]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return messages[0]["content"] + "\n"


@dataclass
class Generation:
    id: str
    domain: str
    question: str
    answer: str
    correct: bool | None  # None: the question has no aliases to check against
    spikes: int  # generated tokens the entropy_spike detector flags (z >= SPIKE_Z over the prompt)
    max_spike_z: float  # the largest such z over the answer (NaN when there is no baseline)


class GenerationSet:
    """Answers, labels and answer features of one model on one question set."""

    def __init__(self, rows: list[Generation], features: torch.Tensor, num_layers: int, num_heads: int,
                 model_name: str):
        self.rows, self.features = rows, features  # features [n, F] float64
        self.num_layers, self.num_heads, self.model_name = num_layers, num_heads, model_name

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([bool(r.correct) for r in self.rows])

    @property
    def domains(self) -> list[str]:
        return [r.domain for r in self.rows]

    def feature(self, name: str) -> torch.Tensor:
        return self.features[:, feature_names(self.num_layers, self.num_heads).index(name)]

    def subset(self, keep: torch.Tensor | Sequence[bool]) -> "GenerationSet":
        keep = torch.as_tensor(keep, dtype=torch.bool)
        rows = [r for r, k in zip(self.rows, keep.tolist()) if k]
        return GenerationSet(rows, self.features[keep], self.num_layers, self.num_heads, self.model_name)

    def save(self, folder: str | os.PathLike) -> Path:
        from safetensors.torch import save

        from ..files import write_files_atomically

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "num_layers": self.num_layers, "num_heads": self.num_heads,
                "model_name": self.model_name, "prompt": PROMPT}
        lines = [json.dumps(meta)] + [json.dumps(asdict(r)) for r in self.rows]
        write_files_atomically(folder, {
            "generations.jsonl": ("\n".join(lines) + "\n").encode(),
            "features.safetensors": save({"features": self.features.double().contiguous()}),
        })
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "GenerationSet":
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            lines = (folder / "generations.jsonl").read_text(encoding="utf-8").splitlines()
            meta = json.loads(lines[0])
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            rows = [Generation(**json.loads(line)) for line in lines[1:] if line.strip()]
            features = load_file(str(folder / "features.safetensors"))["features"]
            if features.shape != (len(rows), len(feature_names(meta["num_layers"], meta["num_heads"]))):
                raise ValueError(f"features have shape {tuple(features.shape)} for {len(rows)} answers")
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            raise QuestionFileError(f"{folder} is not a headentropy generation set: {e}") from None
        return cls(rows, features, int(meta["num_layers"]), int(meta["num_heads"]), str(meta["model_name"]))


def _spikes_per_row(trace) -> tuple[list[int], list[float]]:
    """The entropy_spike detector's output for each row alone (its baseline is that row's prompt)."""
    from ..analysis import token_stats
    from ..analysis.thresholds import SPIKE_MIN_BASELINE

    counts, max_z = [], []
    for b in range(trace.batch):
        row = trace.select(b)
        stats = token_stats(row)
        counts.append(len(stats.spikes))
        pos = stats.per_position  # [1, N] mean normalised entropy per position
        gen = row.valid & row.generated & torch.isfinite(pos)
        prompt = row.valid & ~row.generated & torch.isfinite(pos)
        if int(prompt.sum()) >= SPIKE_MIN_BASELINE and stats.baseline_std > 0 and bool(gen.any()):
            max_z.append(float(((pos[gen] - stats.prompt_mean) / stats.baseline_std).max()))
        else:
            max_z.append(float("nan"))
    return counts, max_z


def answer_questions(model, tokenizer, questions: Sequence[Question], *, batch_size: int = 16,
                     max_new_tokens: int = 24, backend: str = "auto", quiet: bool = False,
                     label: Callable[[str, Sequence[str]], bool] = is_correct) -> GenerationSet:
    """Answer every question greedily under the monitor and label the answers."""
    from ..hf.monitor import monitor

    tokenizer.padding_side = "left"  # decoder-only batch generation: pad on the left
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = [chat_prompt(tokenizer, q.question) for q in questions]
    lengths = [len(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
    order = sorted(range(len(questions)), key=lambda i: lengths[i])  # similar lengths share a batch
    rows: dict[int, Generation] = {}
    feats: dict[int, torch.Tensor] = {}
    num_layers = num_heads = 0
    model_name = ""
    with progress(len(questions), "answering", quiet=quiet, unit="questions") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            with monitor(model, backend=backend) as mon, torch.no_grad():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            trace = mon.trace
            num_layers, num_heads, model_name = len(trace.layers), trace.num_heads, trace.model_name
            x = answer_features(trace)  # [b, F]
            spikes, max_z = _spikes_per_row(trace)
            answers = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for j, i in enumerate(idx):
                q = questions[i]
                answer = answers[j].strip()
                rows[i] = Generation(q.id, q.domain, q.question, answer,
                                     label(answer, q.answers) if q.answers else None, spikes[j], max_z[j])
                feats[i] = x[j]
            bar.update(len(idx))
    ordered = list(range(len(questions)))
    return GenerationSet([rows[i] for i in ordered], torch.stack([feats[i] for i in ordered]),
                         num_layers, num_heads, model_name)
