"""`monitor(model, backend=...)`, which the CLI's --backend uses, routes attention to that backend."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import headentropy as he
from headentropy.kernels import dispatch


@pytest.fixture(scope="module")
def minilm():
    return he.load_model("minilm")


def _counting(monkeypatch, name: str) -> list:
    calls = []
    backend = dispatch._REGISTRY[name]
    run = backend.run
    monkeypatch.setitem(dispatch._REGISTRY, name, dataclasses.replace(backend, run=lambda p: (calls.append(1), run(p))[1]))
    return calls


@pytest.mark.parametrize("name", ["torch", "reference"])
def test_monitor_backend_runs_every_layer_on_it(monkeypatch, minilm, name):
    model, tok = minilm
    calls = _counting(monkeypatch, name)
    x = tok("The backend choice reaches the kernel.", return_tensors="pt")
    with torch.inference_mode(), he.monitor(model, backend=name) as mon:
        model(**x)
    assert len(calls) == 6  # one call per MiniLM layer
    assert mon.trace.shannon.shape[1] == 6
    # After the context the attention function is back to "auto" (not the backend asked for).
    from headentropy.hf.attention import ACTIVE_BACKEND

    assert ACTIVE_BACKEND.get() == "auto"


def test_monitor_backend_results_agree(minilm):
    model, tok = minilm
    x = tok("Two backends, one model, the same entropy.", return_tensors="pt")
    traces = {}
    for name in ("torch", "reference"):
        with torch.inference_mode(), he.monitor(model, backend=name) as mon:
            model(**x)
        traces[name] = mon.trace.shannon
    torch.testing.assert_close(traces["torch"], traces["reference"], atol=1e-4, rtol=1e-4)


def test_monitor_unknown_backend_fails_on_enter(minilm):
    model, _ = minilm
    with pytest.raises(ValueError, match="unknown"):
        with he.monitor(model, backend="nope"):
            pass
    assert model.config._attn_implementation != "headentropy"  # restored
