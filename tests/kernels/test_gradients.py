"""The portable torch backend is differentiable (the entropy regulariser will train through it)."""

from __future__ import annotations

import pytest
import torch

import headentropy as he


def naive_entropy_fp64(q, k, causal: bool, softcap: float | None):
    """Shannon entropy per row, written directly, with masked entries excluded explicitly."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # [B, H, Lq, Lk]
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    lq, lk = s.shape[-2:]
    visible = torch.ones(lq, lk, dtype=torch.bool)
    if causal:
        visible = torch.arange(lk)[None, :] <= torch.arange(lq)[:, None] + (lk - lq)
    s = s.masked_fill(~visible, float("-inf"))
    logp = torch.log_softmax(s, dim=-1).masked_fill(~visible, 0.0)  # no -inf to differentiate
    return -(logp.exp().masked_fill(~visible, 0.0) * logp).sum(-1)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("softcap", [None, 5.0], ids=["nocap", "cap5"])
def test_entropy_gradient_matches_a_direct_fp64_implementation(causal, softcap):
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(1, 2, 9, 8, generator=gen, dtype=torch.float64)
    k = torch.randn(1, 2, 13, 8, generator=gen, dtype=torch.float64)
    weights = torch.rand(1, 2, 9, generator=gen, dtype=torch.float64)  # a non-trivial upstream grad

    q1, k1 = q.clone().requires_grad_(), k.clone().requires_grad_()
    r = he.attention(q1, k1, None, causal=causal, softcap=softcap, backend="torch")
    (r.shannon.double() * weights).sum().backward()

    q2, k2 = q.clone().requires_grad_(), k.clone().requires_grad_()
    (naive_entropy_fp64(q2, k2, causal, softcap) * weights).sum().backward()
    torch.testing.assert_close(q1.grad, q2.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(k1.grad, k2.grad, rtol=1e-4, atol=1e-5)


def test_output_gradient_matches_sdpa():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 11, 8, generator=gen) for _ in range(3))
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    he.attention(*leaves, causal=True, backend="torch").out.square().sum().backward()
    ref = [x.clone().requires_grad_() for x in (q, k, v)]
    torch.nn.functional.scaled_dot_product_attention(*ref, is_causal=True).square().sum().backward()
    for ours, theirs in zip(leaves, ref):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-5)
