"""headentropy: attention-head entropy measured inside a FlashAttention-style forward pass.

Public API (pinned by tests/test_public_api.py)::

    import headentropy as he
    r = he.attention(q, k, v, causal=True)   # r.out, r.shannon, r.renyi2, r.lse, r.sink_mass
    he.backends()                            # which kernels are available here, and why (not)
"""

from .kernels.dispatch import BackendStatus, attention, backends
from .kernels.result import AttentionResult, merge_results

__version__ = "0.1.0"

__all__ = [
    "AttentionResult",
    "BackendStatus",
    "attention",
    "backends",
    "merge_results",
    "__version__",
]
