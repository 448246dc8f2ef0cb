"""A default retriever for the `"retrieve"` gate: dense search over a folder of text files.

    retriever = Retriever.from_folder("docs/")          # embeds every *.txt / *.md with MiniLM
    retriever("Who wrote Moby-Dick?", partial_answer="")  # -> the k best passages

Passages are embedded once with the embedded MiniLM (mean-pooled, L2-normalised, as the
sentence-transformers model was trained) and searched by cosine similarity with a matrix
product: a few thousand passages need no index library. The query is the question; the
model's partial answer is appended when `use_answer=True` (it may name the entity it is unsure of).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

SUFFIXES = (".txt", ".md")


class Retriever:
    def __init__(self, passages: Sequence[str], names: Sequence[str] | None = None, *, k: int = 3,
                 use_answer: bool = False, batch_size: int = 64):
        if not passages:
            raise ValueError("a retriever needs at least one passage")
        from ..hf.models import load_model

        self.passages = [str(p) for p in passages]
        self.names = list(names) if names is not None else [str(i) for i in range(len(passages))]
        self.k, self.use_answer, self.batch_size = int(k), use_answer, batch_size
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
        """`(passage, cosine similarity)` of the k nearest passages, best first."""
        sims = self.embed([query])[0] @ self.index.T  # [P]
        top = torch.topk(sims, min(self.k, len(self.passages)))
        return [(self.passages[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]

    def __call__(self, question: str, partial_answer: str = "") -> list[str]:
        query = f"{question} {partial_answer}".strip() if self.use_answer else question
        return [p for p, _ in self.search(query)]
