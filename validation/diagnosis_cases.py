"""Healthy and induced-anomaly runs of real models, shared by validate_diagnosis.py and the tests.

Induced cases (each a documented change to a real model, restored afterwards):
* collapse  — every query projection of SmolLM2 scaled ×30: scores ×30, rows become one-hot.
* overload  — every query projection scaled ×0: all scores equal, rows become uniform.
* locking   — SmolLM2 generation forced to emit the same token at every step (a logits processor
              that leaves one token possible): each decode step sees the same query token, so the
              per-step attention entropy stops moving, as when a KV cache falls into an attractor.
* flat      — a real SmolLM2 trace whose every layer is replaced by the statistics of one middle
              layer: the profile is flat while each layer still looks like a trained layer.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import torch

import headentropy as he

PROMPTS = [
    "Write a short paragraph about the city of Lisbon, its history and its food.",
    "Explain to a ten-year-old why the sky is blue.",
    "List three differences between a violin and a cello.",
]
SENTENCES = [
    "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden porch.",
    "Photosynthesis converts light energy into chemical energy stored in glucose inside plant cells.",
    "The committee will meet again next Tuesday to vote on the revised budget for the new library.",
]


def chat_ids(tok, prompt: str) -> torch.Tensor:
    ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                  return_tensors="pt")
    return ids if isinstance(ids, torch.Tensor) else ids["input_ids"]  # [1, L]


@contextmanager
def scaled_queries(model, factor: float):
    """Multiply every query projection's weight (and bias) by `factor`, restore on exit."""
    projections = [layer.self_attn.q_proj for layer in model.model.layers]
    saved = [(p.weight.data.clone(), None if p.bias is None else p.bias.data.clone()) for p in projections]
    try:
        for p in projections:
            p.weight.data.mul_(factor)
            if p.bias is not None:
                p.bias.data.mul_(factor)
        yield
    finally:
        for p, (w, b) in zip(projections, saved):
            p.weight.data.copy_(w)
            if b is not None:
                p.bias.data.copy_(b)


class ForceToken:
    """A logits processor that makes `token_id` the only possible next token."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.token_id] = 0.0
        return forced


@torch.no_grad()
def generate_trace(model, tok, prompt: str, max_new_tokens: int, **generate_kwargs):
    ids = chat_ids(tok, prompt)
    generate_kwargs.setdefault("do_sample", False)
    with he.monitor(model) as mon:
        out = model.generate(ids, max_new_tokens=max_new_tokens, pad_token_id=tok.eos_token_id, **generate_kwargs)
    return mon.trace, tok.decode(out[0, ids.shape[1]:])


@torch.no_grad()
def forward_trace(model, tok, texts: list[str]):
    enc = tok(texts, return_tensors="pt", padding=True)
    with he.monitor(model) as mon:
        model(**enc)
    return mon.trace


def locking_trace(model, tok, prompt: str, max_new_tokens: int):
    from transformers import LogitsProcessorList

    token = tok.encode(" the", add_special_tokens=False)[0]
    return generate_trace(model, tok, prompt, max_new_tokens,
                          logits_processor=LogitsProcessorList([ForceToken(token)]))


def flat_trace(trace, source_layer: int):
    """Every layer of a real trace replaced by `source_layer`'s statistics."""
    li = trace.layers.index(source_layer)

    def copy_layer(x):
        return None if x is None else x[:, li:li + 1].expand_as(x).clone()

    return dataclasses.replace(
        trace,
        shannon=copy_layer(trace.shannon),
        renyi2=copy_layer(trace.renyi2),
        sink_mass=copy_layer(trace.sink_mass),
        n_keys=trace.n_keys[:, li:li + 1].expand_as(trace.n_keys).clone(),
    )
