"""The registered attention function: same outputs as SDPA/eager, statistics equal to those of
the eager attention probabilities, masks (padding, causal, sliding window) kept exact."""

from __future__ import annotations

import math

import pytest
import torch

import headentropy as he
from headentropy.hf.attention import NAME, register

from .conftest import ALL, padded_batch, make_tiny

LENGTHS, TOTAL = [13, 9], 13  # left padding in row 1; longer than the sliding windows (5)


def _reference_impl(kind: str) -> str:
    return "eager" if kind == "gemma2" else "sdpa"  # SDPA cannot soft-cap


def _outputs(model, ids, mask):
    out = model(input_ids=ids, attention_mask=mask)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def _window_of(model, layer: int) -> int | None:
    cfg = model.config
    types = getattr(cfg, "layer_types", None)
    if types is not None:
        return cfg.sliding_window if types[layer] == "sliding_attention" else None
    return getattr(cfg, "sliding_window", None)


def _expected_n_keys(model, mask2d: torch.Tensor, layer: int, causal: bool) -> torch.Tensor:
    """Keys each query may see, written out from the definition. `[B, L]`."""
    B, L = mask2d.shape
    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None, :]
    vis = mask2d.bool()[:, None, :].expand(B, L, L)  # [B, Lq, Lk]
    if causal:
        vis = vis & (j <= i)
        w = _window_of(model, layer)
        if w is not None:
            vis = vis & (i - j < w)
    return vis.sum(-1)


@pytest.mark.parametrize("kind", ALL)
def test_outputs_match_unmonitored_model(kind):
    model = make_tiny(kind, attn=_reference_impl(kind))
    ids, mask = padded_batch(LENGTHS, TOTAL)
    with torch.no_grad():
        ref = _outputs(model, ids, mask)
        with he.monitor(model) as mon:
            got = _outputs(model, ids, mask)
    valid = mask.bool()
    assert ref.shape == got.shape
    err = (ref - got)[valid].abs().max().item()
    assert err < 1e-4, f"{kind}: max |monitored - {_reference_impl(kind)}| = {err}"
    assert mon.trace.shannon.shape == (2, model.config.num_hidden_layers, model.config.num_attention_heads, TOTAL)


@pytest.mark.parametrize("kind", ALL)
def test_statistics_equal_those_of_eager_probabilities(kind):
    model = make_tiny(kind, attn="eager")
    ids, mask = padded_batch(LENGTHS, TOTAL, seed=3)
    with torch.no_grad():
        probs = model(input_ids=ids, attention_mask=mask, output_attentions=True).attentions
        with he.monitor(model) as mon:
            _outputs(model, ids, mask)
    trace = mon.trace
    valid = mask.bool()  # [B, L]
    causal = kind != "bert"
    assert torch.equal(trace.valid, valid)
    for layer, p in enumerate(probs):  # p: [B, H, Lq, Lk]
        p = p.double()
        H = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
        H2 = -torch.log((p * p).sum(-1))
        # Sink mass: the first 4 *real* tokens of each row (left padding shifts them).
        first = mask.argmax(-1)  # [B]
        sink = torch.stack([p[b, ..., int(first[b]) : int(first[b]) + 4].sum(-1) for b in range(p.shape[0])])
        for name, want in (("shannon", H), ("renyi2", H2), ("sink_mass", sink)):
            got = getattr(trace, name)[:, layer].double()  # [B, H, L]
            err = (got - want).abs().permute(0, 2, 1)[valid].max().item()
            assert err < 1e-4, f"{kind} layer {layer} {name}: max error {err}"
        want_n = _expected_n_keys(model, mask, layer, causal)
        assert torch.equal(trace.n_keys[:, layer][valid], want_n[valid].int()), f"{kind} layer {layer} n_keys"
    # Not a vacuous comparison: rows are far from uniform somewhere.
    h = trace.normalized()[:, :, :, 3:]
    assert h[~torch.isnan(h)].min() < 0.9


def test_causal_mask_is_applied():
    """Without the registered mask function HF would pass no mask; the future must not leak."""
    model = make_tiny("llama")
    ids, mask = padded_batch([12, 8], 12, seed=5)
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] % 96) + 1  # only the last token differs
    with torch.no_grad(), he.monitor(model) as mon:
        a = model(input_ids=ids, attention_mask=mask).logits
        b = model(input_ids=changed, attention_mask=mask).logits
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6)
    assert not torch.allclose(a[:, -1], b[:, -1], atol=1e-3)
    t0, t1 = mon.traces
    assert torch.allclose(t0.shannon[..., :-1], t1.shannon[..., :-1], atol=1e-6)


def test_registration_is_visible_to_transformers():
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    register()
    assert NAME in AttentionInterface._global_mapping
    assert NAME in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping


def test_training_dropout_runs_in_the_kernel_and_statistics_are_pre_dropout():
    """Train mode: the kernel applies attention dropout (a hashed mask, seeded from torch's
    generator per layer call); the statistics are the eval ones; torch.manual_seed reproduces."""
    model = make_tiny("bert", attn="eager")
    for m in model.modules():  # no dropout on hidden states: layer 0 then sees the eval input
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    for layer in model.encoder.layer:  # attention-probability dropout only
        layer.attention.self.dropout.p = 0.5
        layer.attention.self.dropout_prob = 0.5
    ids, mask = padded_batch([10, 7], 10, seed=7)
    with torch.no_grad():
        with he.monitor(model) as mon:
            eval_out = model(input_ids=ids, attention_mask=mask).last_hidden_state
            model.train()
            torch.manual_seed(42)
            train_out = model(input_ids=ids, attention_mask=mask).last_hidden_state
            torch.manual_seed(42)
            again = model(input_ids=ids, attention_mask=mask).last_hidden_state
            other = model(input_ids=ids, attention_mask=mask).last_hidden_state  # the next seeds
        model.eval()
    valid = mask.bool()
    assert not torch.allclose(train_out[valid], eval_out[valid], atol=1e-3)  # dropout was applied
    assert torch.equal(train_out, again)  # the same torch seed: the same masks
    assert not torch.allclose(train_out[valid], other[valid], atol=1e-3)  # fresh seeds: fresh masks
    ev, tr = mon.traces[:2]
    for name in ("shannon", "renyi2", "sink_mass"):
        # Layer 0 reads the same input in both modes; later layers see dropped-out outputs.
        assert torch.allclose(getattr(ev, name)[:, 0], getattr(tr, name)[:, 0], atol=1e-5), name
        assert not torch.allclose(getattr(ev, name)[:, 2], getattr(tr, name)[:, 2], atol=1e-3), name
