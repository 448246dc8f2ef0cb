"""Issue 12 item 3: a monitored training step with attention dropout runs dropout inside the kernel.

A tiny random Llama with `attention_dropout = 0.1` in `model.train()` under `he.monitor`: no
tensor of N×N elements is ever created, and its gradients equal those of the same model in fp64
on the materialised `reference` backend, which draws the same per-layer seeds from torch's
generator and so materialises the same keep-masks.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import headentropy as he

from ..hf.conftest import VOCAB, enable_checkpointing, make_tiny, padded_batch

DROPOUT = 0.1


def _llama_with_dropout(p: float = DROPOUT) -> torch.nn.Module:
    model = make_tiny("llama")  # 3 layers, 4 query heads, 2 KV heads, head dim 16
    model.config.attention_dropout = p
    for layer in model.model.layers:
        layer.self_attn.attention_dropout = p  # read per call: dropout=p while training
    return model.train()


def _step_grads(model, backend: str, ids, mask, seed: int) -> dict[str, torch.Tensor]:
    """Gradients of one training step's loss, the monitor on `backend`, torch seeded with `seed`."""
    model.zero_grad(set_to_none=True)
    labels = ids.masked_fill(mask == 0, -100)
    with he.monitor(model, backend=backend) as mon:
        torch.manual_seed(seed)
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    assert set(mon.backend_counts) == {backend}  # every layer call (a checkpointed re-run counts too)
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_training_step_gradients_equal_the_fp64_reference_with_the_same_mask(backend):
    model = _llama_with_dropout()
    ref_model = copy.deepcopy(model).double()
    ids, mask = padded_batch([20, 13], 20, seed=3)  # left padding: fully masked query rows too

    got = _step_grads(model, backend, ids, mask, seed=7)
    ref = _step_grads(ref_model, "reference", ids, mask, seed=7)
    other_seed = _step_grads(model, backend, ids, mask, seed=8)
    no_dropout = _step_grads(model.eval(), backend, ids, mask, seed=7)
    model.train()

    worst = 0.0
    for name, r in ref.items():
        g = got[name].double()
        assert torch.isfinite(g).all(), name
        # fp32 forward+backward through 3 layers vs fp64: relative to the parameter's largest gradient.
        err = float((g - r).abs().max()) / max(float(r.abs().max()), 1e-12)
        worst = max(worst, err)
        assert err < 1e-4, f"{name}: relative error {err:.3g}"
    print(f"worst relative gradient error {worst:.3g}")
    # Not vacuous: another seed (other masks) or no dropout changes the attention weights' gradients
    # by far more than that.
    q_proj = "model.layers.0.self_attn.q_proj.weight"
    for other in (other_seed, no_dropout):
        diff = float((other[q_proj].double() - ref[q_proj]).abs().max()) / float(ref[q_proj].abs().max())
        assert diff > 100 * max(worst, 1e-7), diff


class _LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any aten op returns (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.largest = 0
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def _largest_in_training_step(backend: str, n: int) -> tuple[int, int]:
    model = _llama_with_dropout()
    ids = torch.randint(1, VOCAB, (1, n), generator=torch.Generator().manual_seed(0))
    with he.monitor(model, backend=backend) as mon, _LargestTensor() as seen:
        loss = model(input_ids=ids, labels=ids).loss
        forward_ops = seen.ops
        loss.backward()
    assert seen.ops > forward_ops  # the mode saw the backward too
    assert mon.backend_counts == {backend: len(model.model.layers)}
    assert model.model.layers[0].self_attn.q_proj.weight.grad is not None
    return seen.largest, n * n


def test_the_measurement_sees_a_materialised_matrix():
    largest, n_by_n = _largest_in_training_step("reference", 256)
    assert largest >= n_by_n


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_training_step_with_dropout_never_allocates_n_by_n(backend):
    """N = 2048: one head's N×N is 4 Mi elements; the torch backend's tiles are [1, 4, 512, 512]."""
    largest, n_by_n = _largest_in_training_step(backend, 2048)
    assert largest < n_by_n, f"a tensor of {largest} elements (N×N = {n_by_n})"


def test_gradient_checkpointing_regenerates_the_same_mask():
    """Checkpointing restores torch's RNG state for the re-run, so the layer draws the same seed:
    gradients equal those without checkpointing."""
    model = _llama_with_dropout()
    ids, mask = padded_batch([16, 16], 16, seed=5)
    plain = _step_grads(model, "torch", ids, mask, seed=11)
    enable_checkpointing(model, {"use_reentrant": False})
    model.config.use_cache = False
    ckpt = _step_grads(model, "torch", ids, mask, seed=11)
    for name, g in plain.items():
        torch.testing.assert_close(ckpt[name], g, rtol=1e-5, atol=1e-6)
