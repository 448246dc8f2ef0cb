"""Shared for the confidence tests: a small labelled question set answered once by SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

QUESTIONS = [
    ("e1", "elements", "What is the chemical symbol for gold?", ["Au"]),
    ("e2", "elements", "What is the chemical symbol for tungsten?", ["W"]),
    ("e3", "elements", "What is the atomic number of carbon?", ["6", "six"]),
    ("e4", "elements", "What is the chemical symbol for sodium?", ["Na"]),
    ("a1", "authors", "Who wrote the novel Moby-Dick?", ["Herman Melville", "Melville"]),
    ("a2", "authors", "Who wrote Pride and Prejudice?", ["Jane Austen", "Austen"]),
    ("a3", "authors", "Who wrote The Master and Margarita?", ["Mikhail Bulgakov", "Bulgakov"]),
    ("a4", "authors", "Who wrote the play Hamlet?", ["William Shakespeare", "Shakespeare"]),
    ("g1", "geography", "On which continent is Peru?", ["South America"]),
    ("g2", "geography", "What is the currency of Japan?", ["yen", "Japanese yen"]),
    ("g3", "geography", "What is the longest river in Africa?", ["Nile"]),
    ("g4", "geography", "What is the currency of Switzerland?", ["Swiss franc", "franc"]),
]


@pytest.fixture(scope="session")
def question_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qa") / "questions.jsonl"
    path.write_text("".join(json.dumps({"id": i, "domain": d, "question": q, "answers": a}) + "\n"
                            for i, d, q, a in QUESTIONS))
    return path


@pytest.fixture(scope="session")
def answered(smollm2, question_file):
    """The GenerationSet of SmolLM2 on QUESTIONS (greedy, 16 new tokens)."""
    from headentropy.confidence.qa import answer_questions, load_questions

    model, tok = smollm2
    return answer_questions(model, tok, load_questions(question_file), batch_size=6, max_new_tokens=16, quiet=True)


@pytest.fixture(scope="session")
def fitted(answered):
    from headentropy.confidence import ConfidenceScorer

    y = answered.labels
    assert bool(y.any()) and not bool(y.all()), [r.answer for r in answered.rows]
    return ConfidenceScorer(C=0.1).fit_features(answered.features, y, answered.num_layers, answered.num_heads,
                                                answered.model_name, groups=answered.domains)
