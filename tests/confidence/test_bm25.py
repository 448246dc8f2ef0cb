"""The BM25 option of he.Retriever (the optional bm25s package): ranking, k, no embedding model."""

from __future__ import annotations

import pytest

from headentropy.confidence import Retriever

bm25s = pytest.importorskip("bm25s", reason="the bm25s package (extra 'retrieval', in 'dev') is not installed")

PASSAGES = ["The Nile is the longest river in Africa, flowing north into the Mediterranean.",
            "Herman Melville wrote the novel Moby-Dick, published in 1851.",
            "Gold is a chemical element with the symbol Au and atomic number 79.",
            "The Amazon river carries more water than any other river."]


def test_bm25_ranks_the_passage_sharing_the_rare_words_first(tmp_path):
    for i, text in enumerate(PASSAGES):
        (tmp_path / f"p{i}.txt").write_text(text)
    r = Retriever.from_folder(tmp_path, k=2, method="bm25")
    assert r.model is None and r.index is None  # no MiniLM loaded for a lexical index
    assert r("Who wrote Moby-Dick?")[0] == PASSAGES[1]
    hits = r.search("Which river is the longest in Africa?")
    assert [p for p, _ in hits] == [PASSAGES[0], PASSAGES[3]]  # both mention 'river'; only one 'Africa', 'longest'
    assert hits[0][1] > hits[1][1] > 0


def test_bm25_k_and_queries_without_known_words():
    r = Retriever(PASSAGES, k=10, method="bm25")
    assert len(r("symbol of gold")) == len(PASSAGES)  # k is capped at the number of passages
    hits = Retriever(PASSAGES, k=2, method="bm25").search("xyzzy plugh")
    assert len(hits) == 2 and all(s == 0.0 for _, s in hits)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method must be one of"):
        Retriever(PASSAGES, method="sparse")
