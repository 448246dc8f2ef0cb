"""`monitor(model, backend=...)`, which the CLI's --backend uses, routes attention to that backend."""

from __future__ import annotations

import pytest
import torch

import headentropy as he
from headentropy.kernels import dispatch


@pytest.mark.parametrize("name", ["torch", "reference"])
def test_monitor_backend_runs_every_layer_on_it(minilm, name):
    model, tok = minilm
    x = tok("The backend choice reaches the kernel.", return_tensors="pt")
    with torch.inference_mode(), he.monitor(model, backend=name) as mon:
        model(**x)
    # r.backend of every layer call names what ran: all 6 MiniLM layers on the backend asked for.
    assert mon.backend_counts == {name: 6}
    assert mon.trace.shannon.shape[1] == 6
    # After the context the model runs unmonitored again (sdpa), on no backend of ours.
    with torch.inference_mode(), he.monitor(model) as mon2:
        model(**x)
    assert set(mon2.backend_counts) == {dispatch.resolve_backend("auto", torch.device("cpu"))}


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
