"""The report's "Answer confidence" section on SmolLM2 (shipped scorer), and its absence elsewhere."""

from __future__ import annotations

import torch

from tests.cli.helpers import SMOL_GENERATE, minilm_dataset_report, smollm2_report


def test_smollm2_report_shows_per_token_confidence():
    report = smollm2_report()
    conf = report.data["confidence"]
    assert conf["scorer"] == "smollm2"
    assert len(conf["per_token"]) == 1 and len(conf["per_token"][0]) == SMOL_GENERATE - 1  # the last token is never fed
    assert all(0 < v < 1 for v in conf["per_token"][0]) and conf["final"][0] == conf["per_token"][0][-1]
    assert "outside its evidence" in conf["note"] and "HALLUCINATION.md" in conf["note"]
    html = report.html
    assert '<section id="confidence">' in html and "conf-" in html and 'id="confidence-table"' in html


def test_no_confidence_section_without_a_scorer_for_the_model():
    report, _ = minilm_dataset_report()
    assert "confidence" not in report.data and '<section id="confidence">' not in report.html


def test_section_matches_the_streaming_scores(smollm2):
    import headentropy as he
    from headentropy.confidence.report import confidence_section
    from headentropy.confidence.streaming import StreamingConfidence

    model, tok = smollm2
    scorer = he.ConfidenceScorer.load("smollm2")
    stream = StreamingConfidence(scorer, eos_ids=[tok.eos_token_id])
    tok.padding_side = "left"
    enc = tok(["Q: Who painted the Mona Lisa?\nA:", "Q: What is the boiling point of water?\nA:"], return_tensors="pt", padding=True)
    with he.monitor(model, taps=[he.TraceTap(), stream.tap]) as mon:
        model.generate(**enc, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    section = confidence_section(scorer, mon.trace, threshold=0.5, gate=[{"action": "accepted", "detail": ""}] * 2)
    torch.testing.assert_close(torch.tensor(section["final"], dtype=torch.float64), stream.confidence, atol=1e-4, rtol=0)
