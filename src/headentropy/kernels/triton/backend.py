"""Backend `triton`: which problems the Triton kernels take, and their entry point.

Forward (fwd.py) and the recomputing backward (bwd.py) are FlashAttention-2-style kernels with
the entropy statistics fused in; nothing of size Lq×Lk is ever stored, in either direction.
With inputs that require grad, `run` wraps the forward in the recomputing autograd Function
(kernels/autograd.py) whose backward is bwd.py's: the result still says "triton".

Where it runs (jit.py): CUDA tensors through `triton.jit`; with `TRITON_INTERPRET=1` set at call
time, the same kernels run through Triton's NumPy interpreter on CPU tensors too (slow; tests).

Inputs the kernels do not cover — float64, head dims above 256, more than 65535 batch·heads —
are refused by `supports()`, so that `backend="auto"` picks another backend and a forced
`backend="triton"` raises `BackendUnavailable` with the reason.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

import torch

from ..autograd import RowTerms, run_engine
from ..problem import AttentionProblem
from ..result import AttentionResult
from . import bwd, fwd
from .jit import interpreter_enabled

MAX_HEAD_DIM = 256
MAX_GRID_HEADS = 65535  # grid axis 1 is B·H; CUDA caps it there


@functools.cache
def _triton_installed() -> bool:
    # find_spec walks the import path (~70 µs measured here): "auto" probes on every attention call
    return importlib.util.find_spec("triton") is not None


def probe() -> tuple[bool, str]:
    """Cheap availability check for `he.backends()`; imports neither triton nor the kernels."""
    if not _triton_installed():
        return False, "triton is not installed (pip install 'headentropy[triton]')"
    if interpreter_enabled():
        return True, "Triton interpreter (TRITON_INTERPRET=1): runs on CPU tensors too, slowly; for tests"
    if torch.cuda.is_available():
        return True, "fused Triton FlashAttention kernels (forward and recomputing backward) on CUDA"
    return False, "no CUDA device (TRITON_INTERPRET=1 runs the kernel on CPU through Triton's interpreter)"


def supports(problem: AttentionProblem, needs_grad: bool) -> str | None:
    """Why the kernels cannot take this problem, or None (dispatch asks before `run`).

    Gradients and dropout are covered: the backward takes every problem the forward takes.
    """
    if problem.q.device.type != "cuda" and not interpreter_enabled():
        return (f"it got tensors on {problem.q.device}; set TRITON_INTERPRET=1 to run the kernel "
                "through Triton's interpreter off-GPU (slow; for tests)")
    if problem.q.dtype == torch.float64:
        return "float64 inputs"
    dv = problem.v.shape[-1] if problem.v is not None else 0
    if problem.q.shape[-1] > MAX_HEAD_DIM or dv > MAX_HEAD_DIM:
        return f"head dims above {MAX_HEAD_DIM}"
    if problem.batch * problem.q_heads > MAX_GRID_HEADS:
        return f"more than {MAX_GRID_HEADS} batch·heads"
    return None


def run(problem: AttentionProblem) -> AttentionResult:
    """The registered entry point of backend 'triton'."""
    return run_engine(TritonEngine(), problem)


@dataclass(frozen=True)
class TritonEngine:
    """The triton backend as a `RecomputingEngine` (kernels/autograd.py).

    `block_m/block_n` override the kernels' block configs (tests: other block edges).
    """

    block_m: int | None = None
    block_n: int | None = None
    name: str = "triton"

    def forward(self, problem: AttentionProblem) -> AttentionResult:
        return fwd.launch(problem, block_m=self.block_m, block_n=self.block_n)

    def backward(self, problem: AttentionProblem, terms: RowTerms):
        return bwd.launch(problem, terms, block_m=self.block_m, block_n=self.block_n)
