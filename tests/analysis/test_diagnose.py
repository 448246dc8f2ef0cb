"""Detectors on the real embedded models: silent when healthy, firing alone when induced.

The induced cases are documented in validation/diagnosis_cases.py; the fuller table with margins
is produced by validation/validate_diagnosis.py into VALIDATION.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import headentropy as he
from headentropy.analysis import KINDS, diagnose, head_stats, layer_profile, thresholds as T, token_stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))
import diagnosis_cases as cases  # noqa: E402

ANOMALIES = {"entropy_collapse", "entropic_overload", "attention_locking"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def healthy(smollm2):
    model, tok = smollm2
    trace, text = cases.generate_trace(model, tok, cases.PROMPTS[0], 32)
    return trace, text


def kinds(findings):
    return {f.kind for f in findings}


def test_healthy_smollm2_is_silent_about_anomalies(smollm2, healthy):
    trace, _ = healthy
    found = kinds(diagnose(trace, smollm2[1]))
    assert not found & (ANOMALIES | {"flat_profile", "non_finite"}), found


def test_healthy_smollm2_profile_is_descent_ascent_like_design(healthy):
    """DESIGN §10: ~0.87 at layer 0, a minimum late (~layer 24), higher again at layer 29."""
    profile = layer_profile(healthy[0])
    y = profile.shannon_normalized
    assert profile.shape == "descent_ascent"
    assert 0.75 < float(y[0]) < 0.95
    assert 18 <= int(torch.argmin(y)) <= 27
    assert float(y[-1]) > float(y.min()) + 0.1
    assert (profile.renyi2_normalized <= profile.shannon_normalized + 1e-6).all()


def test_healthy_minilm_is_silent_about_anomalies():
    model, tok = he.load_model("minilm")
    trace = cases.forward_trace(model, tok, cases.SENTENCES)
    found = kinds(diagnose(trace, tok))
    assert not found & (ANOMALIES | {"flat_profile", "non_finite"}), found
    assert not trace.generated.any()


def _with_scaled_queries(smollm2, factor: float, kind: str):
    """Findings of SmolLM2 with its query projections scaled; asserts `kind` is the only anomaly."""
    model, tok = smollm2
    with cases.scaled_queries(model, factor):
        trace = cases.forward_trace(model, tok, cases.PROMPTS[:1])
    findings = diagnose(trace, tok)
    assert kinds(findings) & ANOMALIES == {kind}
    return next(f for f in findings if f.kind == kind)


def test_collapse_fires_alone_when_queries_are_scaled_up(smollm2):
    f = _with_scaled_queries(smollm2, 30.0, "entropy_collapse")
    assert f.evidence["value"] >= T.COLLAPSE_HEAD_FRACTION and f.evidence["threshold"] == T.COLLAPSE_HEAD_FRACTION
    assert f.causes and f.mitigations and "entropy regularisation" in " ".join(f.mitigations)


def test_overload_fires_alone_when_queries_are_zeroed(smollm2):
    f = _with_scaled_queries(smollm2, 0.0, "entropic_overload")
    assert f.evidence["value"] == pytest.approx(1.0)


def test_locking_fires_alone_on_a_forced_repetition(smollm2):
    model, tok = smollm2
    trace, text = cases.locking_trace(model, tok, cases.PROMPTS[0], 24)
    assert text.count(" the") >= 20
    findings = diagnose(trace, tok)
    assert kinds(findings) & ANOMALIES == {"attention_locking"}
    f = next(f for f in findings if f.kind == "attention_locking")
    assert f.evidence["value"] < T.LOCKING_STEP_RATIO and f.evidence["generated_steps"] >= T.LOCKING_MIN_STEPS


def test_flat_profile_fires_when_every_layer_looks_alike(healthy):
    flat = cases.flat_trace(healthy[0], 12)
    findings = diagnose(flat)
    assert "flat_profile" in kinds(findings)
    assert not kinds(findings) & ANOMALIES
    f = next(f for f in findings if f.kind == "flat_profile")
    assert f.evidence["value"] < T.FLAT_PROFILE_RANGE


def test_non_finite_statistics_are_reported(healthy):
    import dataclasses

    trace = healthy[0]
    broken = dataclasses.replace(trace, shannon=trace.shannon.clone())
    broken.shannon[0, 3, 1, 10] = float("nan")
    findings = diagnose(broken)
    assert findings[0].kind == "non_finite" and findings[0].evidence["value"] == 1


def test_head_stats_shapes_and_candidates(healthy):
    trace = healthy[0]
    stats = head_stats(trace, top_k=5)
    L, H = len(trace.layers), trace.shannon.shape[2]
    assert stats.mean_normalized.shape == (L, H) and stats.inter_head_variance.shape == (L,)
    assert len(stats.pruning_candidates) == 5
    scores = [c["score"] for c in stats.pruning_candidates]
    assert scores == sorted(scores, reverse=True)
    corr = stats.correlation
    diag = torch.diagonal(corr, dim1=1, dim2=2)
    assert torch.allclose(diag[torch.isfinite(diag)], torch.ones(()), atol=1e-4)


def test_redundant_pair_found_when_two_heads_are_identical(healthy):
    import dataclasses

    trace = healthy[0]
    twin = trace.shannon.clone()
    twin[:, 5, 2] = twin[:, 5, 7]  # head 2 of layer 5 now repeats head 7 exactly
    stats = head_stats(dataclasses.replace(trace, shannon=twin))
    assert any(p["layer"] == trace.layers[5] and p["heads"] == [2, 7] for p in stats.redundant_pairs)


def test_token_stats_split_prompt_and_generated(smollm2, healthy):
    trace, _ = healthy
    stats = token_stats(trace, smollm2[1])
    assert stats.prompt_mean == stats.prompt_mean and stats.generated_mean == stats.generated_mean
    gen = trace.generated[0]
    assert int(gen.sum()) == 31  # 32 new tokens: the last one is produced, never read back
    assert stats.per_position.shape == trace.valid.shape


def test_spike_is_found_at_an_injected_position(smollm2, healthy):
    """A generated position whose entropy is raised far above the prompt baseline is a spike."""
    import dataclasses

    trace, _ = healthy
    pos = int(trace.generated[0].nonzero()[5])
    n = trace.n_keys[0, :, pos].float()  # [L]
    spiked = trace.shannon.clone()
    spiked[0, :, :, pos] = torch.log(n)[:, None]  # uniform attention everywhere at that step
    stats = token_stats(dataclasses.replace(trace, shannon=spiked), smollm2[1])
    assert [s["position"] for s in stats.spikes] == [pos]
    assert stats.spikes[0]["z"] >= T.SPIKE_Z
    assert stats.spikes[0]["text"] == smollm2[1].decode([int(trace.token_ids[0, pos])])


def test_findings_serialise_to_json(healthy):
    for f in diagnose(cases.flat_trace(healthy[0], 12)):
        assert f.kind in KINDS
        json.dumps(f.to_dict())


def test_trace_methods_and_top_level_diagnose_match_the_analysis_functions(smollm2, healthy):
    trace = healthy[0]
    assert trace.layer_profile().shape == layer_profile(trace).shape
    assert torch.equal(trace.head_stats().inter_head_variance, head_stats(trace).inter_head_variance)
    assert trace.token_stats(smollm2[1]).prompt_mean == token_stats(trace).prompt_mean
    assert [f.kind for f in he.diagnose(trace)] == [f.kind for f in diagnose(trace)]
