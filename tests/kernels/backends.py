"""The backends every kernel test is parametrised over. A new backend joins by adding a name.

Names are those of `he.attention(backend=...)`, plus variants of the blocked torch backend with
tiny blocks so that short test sequences still cross many block boundaries.
"""

from __future__ import annotations

import functools

import pytest
import torch

import headentropy as he
from headentropy.kernels.dispatch import build_problem
from headentropy.kernels.torch_blocked import torch_blocked_attention

# name -> callable(q, k, v, **kwargs) -> AttentionResult
_VARIANTS = {
    "torch-blk16": functools.partial(torch_blocked_attention, block_q=16, block_k=16),
    "torch-blk7x5": functools.partial(torch_blocked_attention, block_q=7, block_k=5),
}

KERNEL_BACKENDS = ["reference", "torch", "torch-blk16", "torch-blk7x5", "cpu"]


def _available(name: str) -> bool:
    if name in _VARIANTS:
        return True
    status = he.backends().get(name)
    return status is not None and status.available


def backend_params(names=None):
    """pytest params over backends; one that is unavailable here is skipped with its reason."""
    params = []
    for name in names or KERNEL_BACKENDS:
        marks = []
        if not _available(name):
            status = he.backends().get(name)
            reason = status.reason if status else "not registered"
            marks.append(pytest.mark.skip(reason=f"backend {name} unavailable: {reason}"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def run_backend(name: str, q: torch.Tensor, k: torch.Tensor, v=None, **kwargs) -> he.AttentionResult:
    if name in _VARIANTS:
        return _VARIANTS[name](build_problem(q, k, v, **kwargs))
    return he.attention(q, k, v, backend=name, **kwargs)
