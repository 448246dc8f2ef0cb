"""The curated public API is pinned: adding or removing a name is a deliberate change here."""

import subprocess
import sys

import headentropy as he

EXPECTED = {
    "AttentionResult",
    "BackendStatus",
    "BackendUnavailable",
    "ConfidenceGate",
    "ConfidenceScorer",
    "EntropyCallback",
    "EntropyTrace",
    "Finding",
    "LossTap",
    "RegularizerHandle",
    "Retriever",
    "StepEvent",
    "StepTap",
    "Tap",
    "TraceTap",
    "TrainingMonitor",
    "attention",
    "backends",
    "diagnose",
    "generate",
    "load_model",
    "merge_results",
    "monitor",
    "regularize",
    "__version__",
}


def test_all_is_pinned():
    assert set(he.__all__) == EXPECTED
    for name in he.__all__:
        assert hasattr(he, name), name


def test_import_is_cheap_and_has_no_side_effects():
    """`import headentropy` must not pull in transformers or triton, nor compile anything."""
    code = (
        "import sys, headentropy; "
        "print(','.join(m for m in ('transformers', 'triton', 'torch.utils.cpp_extension') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
