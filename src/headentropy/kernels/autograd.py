"""The recomputing backward of `he.attention` (docs/design.md §1, "Gradients"): no N×N, ever.

One `torch.autograd.Function` serves every fused backend. Its forward runs the backend's kernel
(without autograd) and saves only `q, k, v, out` and the per-row statistics `lse, H, H2, sink`
— O(B·H·N·D), never P. Its backward turns the five upstream gradients into per-row constants
(`RowTerms`, O(B·H·N)) and hands them to the backend, which recomputes P tile by tile from the
scores and `lse`, exactly as the flash backward does, and returns `dq, dk, dv`.

Per visible score, with `P = exp(s - lse)` and the upstream gradients g_out (= dO), g_H, g_H2,
g_lse, g_sink (each may be absent):

    dS = P⊙(dP − D) − g_H·P⊙(s − μ) + 2g_H2·P⊙(1 − P/c) + g_lse·P + g_sink·P⊙(1[j<S] − sink)
       = P ⊙ (dP + const − g_H·(s − lse) − k2·P + g_sink·1[j<S])

    dP = dO·vᵀ,  D = rowsum(dO⊙O),  μ = lse − H,  c = e^{−H2},  k2 = 2·g_H2/c,
    const = −D − g_H·H + 2·g_H2 + g_lse − g_sink·sink

`s − μ` is written as `(s − lse) + H`, with `s − lse = log P ≤ 0` already at hand: no
cancellation for logits ×1000. Then `dS` goes through the soft-cap (`1 − tanh²(raw/cap)`) and the
scale: `dq = scale·dS·k`, `dk = scale·dSᵀ·q`, `dv = Pᵀ·dO`, summed over the query heads of a
GQA group for dk/dv.

Documented choices:
* The forward clamps `H ≥ 0` and `H2 ≤ H` (rounding may cross them by an ulp). The gradient is
  that of the unclamped formulas, which the clamps only ever change by rounding.
* `attn_mask` never receives a gradient (an additive float mask is treated as a constant).
* A fully masked row (lse = −inf) contributes exactly zero to every gradient, never NaN.
* A row whose `out` is NaN because it attends to a non-finite value gets NaN gradients; rows
  that cannot see that key are unaffected (the backward reads V with bad rows zeroed, like the
  forward).
* No double backward (the backward is not itself differentiable).

Attention dropout (kernels/dropout.py): the forward computes `out = r·(P⊙Z)·V` with the keep-mask
Z and r = 1/(1 − p); the statistics (and their gradient terms) use P itself. The backward
regenerates Z from the seed and uses, as flash attention's dropout backward does,
`dV = r·(P⊙Z)ᵀ·dO` and `dP̃ = r·Z⊙(dO·vᵀ)` in place of dP; `D = rowsum(dO⊙O)` is unchanged
(O already holds the dropped P), so `dS = P⊙(dP̃ − D) + (entropy terms)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.autograd.function import once_differentiable

from .problem import AttentionProblem
from .result import AttentionResult


@dataclass(frozen=True)
class RowTerms:
    """Everything the backward needs per query row besides q, k, v, dO (all `[B, Hq, Lq]`).

    dtype: that of the saved statistics (fp32; fp64 only in the torch engine's test mode).
    """

    lse: torch.Tensor  # [B, Hq, Lq] log-sum-exp; +inf on fully masked rows so P = e^{s-lse} = 0
    const: torch.Tensor  # [B, Hq, Lq] −D − g_H·H + 2·g_H2 + g_lse − g_sink·sink
    g_h: torch.Tensor  # [B, Hq, Lq] upstream gradient of the Shannon entropy (0 when absent)
    k2: torch.Tensor  # [B, Hq, Lq] 2·g_H2·e^{H2}, the coefficient of −P²
    g_sink: torch.Tensor  # [B, Hq, Lq] upstream gradient of the sink mass
    dout: torch.Tensor | None  # [B, Hq, Lq, Dv] upstream gradient of `out`; None: no P·V terms


class RecomputingEngine(Protocol):
    """What a backend supplies: a forward without autograd and a recomputing backward."""

    name: str  # the backend name the result reports

    def forward(self, problem: AttentionProblem) -> AttentionResult: ...

    def backward(
        self, problem: AttentionProblem, terms: RowTerms
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(dq [B, Hq, Lq, D], dk [B, Hkv, Lk, D], dv [B, Hkv, Lk, Dv] or None), any float dtype."""
        ...


def needs_grad(problem: AttentionProblem) -> bool:
    """True when autograd will want gradients of q, k or v from this call."""
    return torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (problem.q, problem.k, problem.v)
    )


def row_terms(
    out: torch.Tensor | None,
    shannon: torch.Tensor,
    renyi2: torch.Tensor,
    lse: torch.Tensor,
    sink: torch.Tensor,
    g_out: torch.Tensor | None,
    g_h: torch.Tensor | None,
    g_h2: torch.Tensor | None,
    g_lse: torch.Tensor | None,
    g_sink: torch.Tensor | None,
) -> RowTerms:
    """Fold the upstream gradients of the five outputs into per-row constants (O(B·H·N))."""
    dtype = lse.dtype
    empty = lse == float("-inf")  # [B, Hq, Lq] fully masked rows
    zero = torch.zeros_like(lse)
    const = torch.zeros_like(lse)
    dout = None
    if g_out is not None and out is not None:
        dout = g_out.to(dtype)  # [B, Hq, Lq, Dv]
        const -= torch.linalg.vecdot(dout, out.to(dtype))  # D = rowsum(dO ⊙ O)
    gh = zero if g_h is None else g_h.to(dtype)
    if g_h is not None:
        const -= gh * shannon
    k2 = zero
    if g_h2 is not None:
        g_h2 = g_h2.to(dtype)
        const += 2.0 * g_h2
        k2 = 2.0 * g_h2 * torch.exp(renyi2)  # 2·g_H2 / c with c = Σp² = e^{-H2}
    if g_lse is not None:
        const += g_lse.to(dtype)
    gs = zero if g_sink is None else g_sink.to(dtype)
    if g_sink is not None:
        const -= gs * sink
    # Fully masked rows: every term exactly 0 (and P = 0 through lse = +inf).
    return RowTerms(
        lse=torch.where(empty, torch.full_like(lse, float("inf")), lse),
        const=torch.where(empty, zero, const),
        g_h=torch.where(empty, zero, gh),
        k2=torch.where(empty, zero, k2),
        g_sink=torch.where(empty, zero, gs),
        dout=dout,
    )


class _RecomputingAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, engine: RecomputingEngine, problem: AttentionProblem, q, k, v):
        problem = dataclasses.replace(problem, q=q, k=k, v=v)  # the same tensors, without history
        res = engine.forward(problem)
        ctx.engine = engine
        # Everything but the tensors: q, k, v go through save_for_backward (version-checked).
        ctx.options = {
            "attn_mask": None if problem.attn_mask is None else problem.attn_mask.detach(),
            "scale": problem.scale,
            "causal": problem.causal,
            "window": problem.window,
            "softcap": problem.softcap,
            "sink_tokens": problem.sink_tokens,
            "dropout_p": problem.dropout_p,  # the backward regenerates the same keep-mask
            "dropout_seed": problem.dropout_seed,
        }
        # q, k, v, out: [B, H, L, D]-sized; the statistics: [B, Hq, Lq]. Never P.
        ctx.save_for_backward(q, k, v, res.out, res.shannon, res.renyi2, res.lse, res.sink_mass)
        ctx.set_materialize_grads(False)  # absent upstream gradients stay None: their terms are skipped
        return res.out, res.shannon, res.renyi2, res.lse, res.sink_mass

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_h, g_h2, g_lse, g_sink):
        q, k, v, out, shannon, renyi2, lse, sink = ctx.saved_tensors
        if all(g is None for g in (g_out, g_h, g_h2, g_lse, g_sink)):
            return None, None, None, None, None
        terms = row_terms(out, shannon, renyi2, lse, sink, g_out, g_h, g_h2, g_lse, g_sink)
        problem = AttentionProblem(q=q, k=k, v=v, **ctx.options)
        dq, dk, dv = ctx.engine.backward(problem, terms)
        dq = dq.to(q.dtype) if ctx.needs_input_grad[2] else None
        dk = dk.to(k.dtype) if ctx.needs_input_grad[3] else None
        if v is None or not ctx.needs_input_grad[4]:
            dv = None
        elif dv is None:  # no gradient reached `out`: v does not matter
            dv = torch.zeros_like(v)
        else:
            dv = dv.to(v.dtype)
        return None, None, dq, dk, dv


def run_engine(engine: RecomputingEngine, problem: AttentionProblem) -> AttentionResult:
    """A backend's entry point: the engine's plain forward, or, when autograd wants gradients of
    q, k or v, that forward inside the recomputing Function (the backward is the engine's)."""
    return attention_with_grad(engine, problem) if needs_grad(problem) else engine.forward(problem)


def attention_with_grad(engine: RecomputingEngine, problem: AttentionProblem) -> AttentionResult:
    """Run `engine` forward inside the recomputing Function; gradients reach q, k and v."""
    out, shannon, renyi2, lse, sink = _RecomputingAttention.apply(
        engine, problem, problem.q, problem.k, problem.v
    )
    return AttentionResult(out, shannon, renyi2, lse, sink, backend=engine.name)
