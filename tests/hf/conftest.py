"""Tiny randomly initialised models built from configs (no network) and the embedded models."""

from __future__ import annotations

import pytest
import torch

VOCAB = 97


def _common(**kw):
    # initializer_range 0.2 (not 0.02) so attention rows are far from uniform and tests can fail.
    base = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                num_attention_heads=4, initializer_range=0.2, pad_token_id=0)
    base.update(kw)
    return base


def make_tiny(kind: str, attn: str | None = None) -> torch.nn.Module:
    """A tiny random model of the given family, in eval mode, seeded."""
    import transformers as tr

    torch.manual_seed(1234)
    if kind == "gpt2":
        cfg = tr.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=3, n_head=4, n_positions=128,
                            initializer_range=0.2, pad_token_id=0)
        cls = tr.GPT2LMHeadModel
    elif kind == "llama":
        cfg = tr.LlamaConfig(**_common(num_key_value_heads=2))
        cls = tr.LlamaForCausalLM
    elif kind == "qwen2":
        cfg = tr.Qwen2Config(**_common(num_key_value_heads=1))
        cls = tr.Qwen2ForCausalLM
    elif kind == "mistral":
        cfg = tr.MistralConfig(**_common(num_key_value_heads=2, sliding_window=5))
        cls = tr.MistralForCausalLM
    elif kind == "gemma2":
        cfg = tr.Gemma2Config(**_common(num_key_value_heads=2, head_dim=16, num_hidden_layers=4,
                                        sliding_window=5, attn_logit_softcapping=0.5,
                                        final_logit_softcapping=30.0, query_pre_attn_scalar=16))
        cls = tr.Gemma2ForCausalLM
    elif kind == "bert":
        cfg = tr.BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                            intermediate_size=96, initializer_range=0.2, pad_token_id=0)
        cls = tr.BertModel
    else:
        raise ValueError(kind)
    if attn is not None:
        cfg._attn_implementation = attn
    return cls(cfg).eval()


CAUSAL = ["gpt2", "llama", "qwen2", "mistral", "gemma2"]
ALL = CAUSAL + ["bert"]


def padded_batch(lengths: list[int], total: int, seed: int = 0):
    """Left-padded random token ids `[B, total]` and their 2-D mask."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, VOCAB, (len(lengths), total), generator=g)
    mask = torch.zeros(len(lengths), total, dtype=torch.long)
    for b, n in enumerate(lengths):
        mask[b, total - n:] = 1
    ids = ids * mask  # padding id 0
    return ids, mask


def enable_checkpointing(model: torch.nn.Module, checkpoint_kwargs: dict | None = None) -> None:
    """Gradient checkpointing on `model` (`checkpoint_kwargs` go to torch's checkpoint):
    transformers 5's `activation_checkpointing_enable` (the old name warns there), else
    `gradient_checkpointing_enable`."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=checkpoint_kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpoint_kwargs)
