"""A default retriever for the `"retrieve"` gate: dense or BM25 search over a folder of text files.

    retriever = Retriever.from_folder("docs/")          # embeds every *.txt / *.md with MiniLM
    retriever("Who wrote Moby-Dick?", partial_answer="")  # -> the k best passages
    Retriever.from_folder("docs/", method="bm25")       # lexical BM25 (the optional `bm25s` package)

Passages are embedded once with the embedded MiniLM (mean-pooled, L2-normalised, as the
sentence-transformers model was trained) and searched by cosine similarity with a matrix
product: a few thousand passages need no index library. The query is the question; the
model's partial answer is appended when `use_answer=True` (it may name the entity it is unsure of).

`method="bm25"` ranks passages by BM25 over words (English stop words removed) with the `bm25s`
package (`pip install bm25s`, or the `retrieval` extra); no embedding model is loaded. Passages
that share no word with the query score 0 and are returned last, in folder order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

SUFFIXES = (".txt", ".md")
METHODS = ("dense", "bm25")


class Retriever:
    def __init__(self, passages: Sequence[str], names: Sequence[str] | None = None, *, k: int = 3,
                 use_answer: bool = False, batch_size: int = 64, method: str = "dense"):
        if not passages:
            raise ValueError("a retriever needs at least one passage")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.passages = [str(p) for p in passages]
        self.names = list(names) if names is not None else [str(i) for i in range(len(passages))]
        self.k, self.use_answer, self.batch_size, self.method = int(k), use_answer, batch_size, method
        if method == "bm25":
            self.model = self.tokenizer = self.index = None
            self._bm25 = _bm25_index(self.passages)
            return
        from ..hf.models import load_model

        self.model, self.tokenizer = load_model("minilm")
        self.index = self.embed(self.passages)  # [P, D] unit rows

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **kwargs) -> "Retriever":
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"--docs {folder} is not a folder")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        texts = [(p, p.read_text(encoding="utf-8", errors="replace").strip()) for p in files]
        texts = [(p, t) for p, t in texts if t]
        if not texts:
            raise ValueError(f"--docs {folder} holds no non-empty {'/'.join(SUFFIXES)} files")
        return cls([t for _, t in texts], [str(p.relative_to(folder)) for p, _ in texts], **kwargs)

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """`[n, D]` L2-normalised mean-pooled MiniLM embeddings."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(list(texts[i:i + self.batch_size]), padding=True, truncation=True,
                                 max_length=256, return_tensors="pt")
            hidden = self.model(**enc).last_hidden_state  # [b, T, D]
            mask = enc["attention_mask"][..., None].to(hidden.dtype)  # [b, T, 1]
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
        return torch.cat(out)

    def search(self, query: str) -> list[tuple[str, float]]:
        """`(passage, score)` of the k best passages, best first: cosine similarity (dense) or the
        BM25 score (bm25)."""
        if self.method == "bm25":
            import bm25s

            k = min(self.k, len(self.passages))
            tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
            idx, scores = self._bm25.retrieve(tokens, k=k, show_progress=False)  # [1, k] each
            return [(self.passages[int(i)], float(s)) for i, s in zip(idx[0], scores[0])]
        sims = self.embed([query])[0] @ self.index.T  # [P]
        top = torch.topk(sims, min(self.k, len(self.passages)))
        return [(self.passages[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]

    def __call__(self, question: str, partial_answer: str = "") -> list[str]:
        query = f"{question} {partial_answer}".strip() if self.use_answer else question
        return [p for p, _ in self.search(query)]


def _bm25_index(passages: list[str]):
    try:
        import bm25s
    except ImportError:
        raise ImportError("Retriever(method='bm25') needs the bm25s package: pip install bm25s "
                          "(or headentropy[retrieval])") from None
    index = bm25s.BM25()
    index.index(bm25s.tokenize(passages, stopwords="en", show_progress=False), show_progress=False)
    return index
