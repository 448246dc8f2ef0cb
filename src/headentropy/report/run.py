"""Running a model over texts under the monitor: the library side of `headentropy report|profile`.

    texts = read_dataset("texts.jsonl")             # or [prompt]
    trace, settings = run_texts(model, tok, texts, generate=32)
    report = build_report(trace, tok, settings=settings)

Inputs are checked before any slow work: a text longer than the model's positions raises
`InputError` naming the limit, unless `max_length` truncates it (with a warning).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch

from ..progress import progress
from ..trace import EntropyTrace

DEFAULT_PROMPT = (
    "Explain in a few sentences how a transformer language model decides which earlier words "
    "to pay attention to, and why that matters for long documents."
)
# A single forward over at least this many tokens reports its progress layer by layer.
LAYER_PROGRESS_MIN_TOKENS = 2048


class InputError(ValueError):
    """Something the user asked for cannot be done (the CLI prints it as one line)."""


def warn(message: str) -> None:
    print(f"headentropy: warning: {message}", file=sys.stderr)


def read_dataset(path: str | Path, on_bad_line: Callable[[str], None] = warn) -> list[str]:
    """Texts of a JSON-lines file (a `text` or `prompt` field per line). Bad lines are reported
    by line number through `on_bad_line` and skipped. (For corpora too large to hold, see
    `headentropy.corpus`, which streams the same records.)"""
    from ..corpus.sources import CorpusError, iter_texts

    try:
        texts = [text for _, text in iter_texts(path, on_bad=lambda n, why: on_bad_line(f"{path}:{n}: skipped, {why}"))]
    except CorpusError as e:
        raise InputError(str(e)) from None
    if not texts:
        raise InputError(f"--dataset {path} has no usable line")
    return texts


def context_limit(model: torch.nn.Module) -> int | None:
    """The most positions the model was built for (`max_position_embeddings` or a sibling), or None."""
    cfg = getattr(model, "config", None)
    cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def can_generate(model: torch.nn.Module) -> bool:
    try:
        return bool(model.can_generate())
    except AttributeError:
        return False


def encode(tokenizer, text: str, chat: bool) -> torch.Tensor:
    """`[1, L]` input ids; the chat template for instruct models when generating."""
    if chat:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                            return_tensors="pt")
        return ids if not hasattr(ids, "keys") else ids["input_ids"]  # transformers 5: BatchEncoding
    return tokenizer(text, return_tensors="pt")["input_ids"]


def _fit_to_context(ids: torch.Tensor, limit: int | None, generate: int, max_length: int | None,
                    label: str, model_name: str) -> torch.Tensor:
    """Truncate to `max_length` (with a warning) and check `ids + generate` fits the model."""
    if max_length is not None and ids.shape[1] > max_length:
        warn(f"{label} has {ids.shape[1]} tokens; keeping the first {max_length} (--max-length)")
        ids = ids[:, :max_length]
    if limit is not None and ids.shape[1] + generate > limit:
        room = limit - generate
        hint = (f"use --max-length {room} to keep the first {room} tokens" if room > 0
                else f"--generate must be below {limit}")
        plus = f" plus {generate} generated" if generate else ""
        raise InputError(f"{label} is {ids.shape[1]} tokens{plus}, but {model_name} has at most {limit} "
                         f"positions; {hint}")
    return ids


class _StepBar:
    """A `generate(streamer=...)` that advances a progress reporter per generated token."""

    def __init__(self, bar) -> None:
        self.bar, self.first = bar, True

    def put(self, value) -> None:
        if self.first:  # generate() first sends the prompt
            self.first = False
            return
        self.bar.update(1)

    def end(self) -> None:
        pass


def _layer_progress(model: torch.nn.Module, bar) -> list:
    """Forward hooks that advance `bar` once per attention layer (a long forward's progress)."""
    from ..hf.monitor import attention_modules

    return [m.register_forward_hook(lambda *_: bar.update(1)) for _, m in attention_modules(model)]


def run_texts(
    model: torch.nn.Module,
    tokenizer,
    texts: list[str],
    *,
    generate: int = 0,
    chat: bool | None = None,
    backend: str = "auto",
    max_length: int | None = None,
    quiet: bool = False,
) -> tuple[EntropyTrace, dict]:
    """Run `model` on every text under `he.monitor`; returns (one stacked trace, settings).

    `chat=None` applies the chat template when generating with a tokenizer that has one.
    Generation is greedy. Raises `InputError` before running anything when a text does not fit.
    """
    from ..hf.monitor import monitor
    from .build import stack_traces

    if generate < 0:
        raise InputError("--generate must be >= 0")
    if max_length is not None and max_length < 1:
        raise InputError("--max-length must be >= 1")
    if not texts or any(not t.strip() for t in texts):
        raise InputError("every text must be non-empty")
    model_name = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
    if generate and not can_generate(model):
        raise InputError(f"--generate needs a causal language model; {model_name!r} "
                         f"({type(model).__name__}) is an encoder. Run it without --generate.")
    if chat is None:
        chat = bool(generate) and bool(getattr(tokenizer, "chat_template", None))
    device = next(model.parameters()).device
    limit = context_limit(model)
    # Encode and check every text before the first forward: a bad line 900 fails now, not later.
    encoded = [_fit_to_context(encode(tokenizer, text, chat), limit, generate, max_length,
                               f"text {i + 1}" if len(texts) > 1 else "the input", model_name)
               for i, text in enumerate(texts)]

    mon = monitor(model, backend=backend)
    traces = []
    with progress(len(texts) if len(texts) > 1 else None, "texts", quiet=quiet or len(texts) == 1, unit="texts") as texts_bar:
        for ids in encoded:
            ids = ids.to(device)  # [1, L]
            with mon, torch.inference_mode():
                if generate:
                    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
                    with progress(generate, "generating", quiet=quiet, unit="tokens") as bar:
                        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=generate,
                                       do_sample=False, pad_token_id=pad, streamer=_StepBar(bar))
                else:
                    long = ids.shape[1] >= LAYER_PROGRESS_MIN_TOKENS
                    with progress(None, f"forward over {ids.shape[1]} tokens", quiet=quiet or not long,
                                  unit="layers") as bar:
                        hooks = _layer_progress(model, bar) if long and not quiet else []
                        try:
                            model(input_ids=ids, attention_mask=torch.ones_like(ids))
                        finally:
                            for h in hooks:
                                h.remove()
            traces.append(mon.trace)
            texts_bar.update()
    settings = {
        "model": model_name,
        "backend": backend,
        "device": str(device),
        "generate": generate,
        "chat_template": chat,
        "texts": len(texts),
    }
    if max_length is not None:
        settings["max_length"] = max_length
    return stack_traces(traces), settings
