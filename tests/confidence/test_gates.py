"""Streaming confidence equals the trace's score; gates abstain, resample and retrieve as documented."""

from __future__ import annotations

import torch

import headentropy as he
from headentropy.confidence import ConfidenceGate, ConfidenceScorer, Retriever, generate
from headentropy.confidence.features import feature_names
from headentropy.confidence.qa import chat_prompt
from headentropy.confidence.streaming import StreamingConfidence

QUESTIONS = ["What is the chemical symbol for gold?", "Who wrote the novel Moby-Dick?", "What is the currency of Japan?"]


def test_streaming_confidence_equals_score_of_the_trace(smollm2, fitted):
    """During generate, after the last step, and replayed from the recorded trace: the same numbers."""
    from headentropy.confidence.streaming import confidence_per_token

    model, tok = smollm2
    tok.padding_side = "left"
    stream = StreamingConfidence(fitted, eos_ids=[tok.eos_token_id])
    enc = tok([chat_prompt(tok, q) for q in QUESTIONS], return_tensors="pt", padding=True, add_special_tokens=False)
    with he.monitor(model, taps=[he.TraceTap(), stream.tap]) as mon:
        out = model.generate(**enc, max_new_tokens=20, do_sample=False, pad_token_id=tok.pad_token_id)
    torch.testing.assert_close(stream.confidence, fitted.score(mon.trace), atol=1e-12, rtol=0)
    steps = stream.steps()
    torch.testing.assert_close(confidence_per_token(fitted, mon.trace), steps, atol=1e-12, rtol=0)
    assert steps.shape == (len(QUESTIONS), out.shape[1] - enc["input_ids"].shape[1] - 1)  # one per decode step
    assert bool(((steps > 0) & (steps < 1)).all())


def _length_scorer(weight: float, num_layers=30, num_heads=9) -> ConfidenceScorer:
    """A real scorer whose only weight is on one logit feature (so tests can steer it)."""
    names = feature_names(num_layers, num_heads)
    s = ConfidenceScorer()
    s.names, s.num_layers, s.num_heads, s.model_name = names, num_layers, num_heads, "SmolLM2"
    s.mean = torch.zeros(len(names), dtype=torch.float64)
    s.std = torch.ones(len(names), dtype=torch.float64)
    s.weight = torch.zeros(len(names), dtype=torch.float64)
    s.weight[names.index("mean_logprob")] = weight
    s.bias = torch.zeros((), dtype=torch.float64)
    return s


def test_threshold_zero_never_intervenes_and_one_always_does(smollm2, fitted):
    model, tok = smollm2
    never = generate(model, tok, QUESTIONS, gate=ConfidenceGate(fitted, 0.0, "abstain"), max_new_tokens=12)
    always = generate(model, tok, QUESTIONS, gate=ConfidenceGate(fitted, 1.0, "abstain", refusal="No idea."),
                      max_new_tokens=12)
    assert [r.action for r in never] == ["accepted"] * 3 and all(r.accepted for r in never)
    assert [r.action for r in always] == ["abstained"] * 3 and [r.text for r in always] == ["No idea."] * 3
    # the model's own answer is kept, identical with either threshold (same greedy pass)
    assert [r.attempts[0].text for r in always] == [r.text for r in never]
    assert [r.confidence for r in always] == [r.confidence for r in never]


def test_resample_stops_at_the_first_accepted_sample(smollm2):
    model, tok = smollm2
    scorer = _length_scorer(-1.0)
    # threshold 1: nothing is accepted, so all n samples are drawn and the most confident returned
    r = generate(model, tok, QUESTIONS[0], gate=ConfidenceGate(scorer, 1.0, "resample", n_samples=4), max_new_tokens=10)[0]
    assert r.generations == 5 and not r.accepted and [a.sampled for a in r.attempts] == [False] + [True] * 4
    assert r.confidence == max(a.confidence for a in r.attempts)
    greedy, samples = r.attempts[0].confidence, [a.confidence for a in r.attempts[1:]]
    # the same seeds draw the same samples: with the threshold at the best sample, the gate must stop there
    threshold = max(samples)
    assert greedy < threshold, (greedy, samples)
    first = next(i for i, c in enumerate(samples) if c >= threshold)
    r = generate(model, tok, QUESTIONS[0], gate=ConfidenceGate(scorer, threshold, "resample", n_samples=4),
                 max_new_tokens=10)[0]
    assert r.action == "resampled" and r.accepted
    assert r.generations == 2 + first, [a.confidence for a in r.attempts]  # greedy + samples up to the accepted one
    assert r.text == r.attempts[-1].text and r.confidence == samples[first]


def test_retrieved_passages_appear_in_the_regenerated_prompt(smollm2, fitted, tmp_path):
    model, tok = smollm2
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gold.txt").write_text("Gold is a chemical element with the symbol Au and atomic number 79.")
    (docs / "whale.txt").write_text("Moby-Dick is an 1851 novel by the American writer Herman Melville.")
    (docs / "iron.txt").write_text("Iron is a chemical element with the symbol Fe.")
    retriever = Retriever.from_folder(docs, k=1)
    assert retriever("What is the chemical symbol for gold?") == [(docs / "gold.txt").read_text()]
    r = generate(model, tok, QUESTIONS[0], gate=ConfidenceGate(fitted, 1.0, "retrieve", retriever=retriever),
                 max_new_tokens=12)[0]
    assert r.action == "retrieved" and r.passages == [(docs / "gold.txt").read_text()]
    assert r.passages[0] in r.attempts[1].prompt and r.passages[0] not in r.attempts[0].prompt
    assert r.text == r.attempts[1].text


def test_gate_arguments_are_checked(fitted):
    import pytest

    with pytest.raises(ValueError, match="policy"):
        ConfidenceGate(fitted, 0.5, "pray")
    with pytest.raises(ValueError, match="threshold"):
        ConfidenceGate(fitted, 1.5)
    with pytest.raises(ValueError, match="retriever"):
        ConfidenceGate(fitted, 0.5, "retrieve")
