"""headentropy: attention-head entropy measured inside a FlashAttention-style forward pass.

Public API (pinned by tests/test_public_api.py)::

    import headentropy as he
    r = he.attention(q, k, v, causal=True)   # r.out, r.shannon, r.renyi2, r.lse, r.sink_mass
    he.backends()                            # which kernels are available here, and why (not)
    with he.monitor(model) as mon:           # any HF model using AttentionInterface
        model.generate(**inputs)
    mon.trace                                # EntropyTrace [batch, layers, heads, positions]
    he.regularize(model), he.TrainingMonitor(model), he.EntropyCallback()   # training
    model, tok = he.load_model("smollm2")    # embedded default models
    scorer = he.ConfidenceScorer.load("smollm2")                     # confidence of answers
    he.generate(model, tok, "Who wrote Moby-Dick?", gate=he.ConfidenceGate(scorer, 0.5, "abstain"))
"""

from .kernels.dispatch import BackendStatus, BackendUnavailable, attention, backends
from .kernels.result import AttentionResult, merge_results
from .capture import LossTap, StepEvent, StepTap, Tap, TraceTap
from .hf.models import load_model
from .hf.monitor import monitor
from .hf.training import RegularizerHandle, TrainingMonitor, regularize
from .trace import EntropyTrace
from .analysis import Finding, diagnose
from .confidence import ConfidenceGate, ConfidenceScorer, Retriever, generate

__version__ = "0.1.0"


def __getattr__(name: str):
    # EntropyCallback subclasses transformers.TrainerCallback: imported on first use only, so
    # `import headentropy` does not import transformers.
    if name == "EntropyCallback":
        from .hf.callback import EntropyCallback

        return EntropyCallback
    raise AttributeError(f"module 'headentropy' has no attribute {name!r}")


# Grouped by what a user does with them; tests/test_public_api.py pins the same names as one
# sorted list, so adding or removing a name is a deliberate change in both places.
__all__ = [
    # attention with entropy statistics, and its backends
    "attention", "AttentionResult", "merge_results", "backends", "BackendStatus", "BackendUnavailable",
    # capture from a HuggingFace model: monitor, taps, the trace
    "monitor", "Tap", "TraceTap", "LossTap", "StepTap", "StepEvent", "EntropyTrace", "load_model",
    # training
    "regularize", "RegularizerHandle", "TrainingMonitor", "EntropyCallback",
    # analysis and confidence
    "diagnose", "Finding", "ConfidenceScorer", "ConfidenceGate", "Retriever", "generate",
    "__version__",
]
