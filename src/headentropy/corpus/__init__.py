"""Corpus scale: stream a model over many texts into mergeable aggregates, in resumable shards."""

from .runner import CORPUS_FILE, CorpusRun, profile_corpus
from .sources import CorpusError, iter_texts

__all__ = ["CORPUS_FILE", "CorpusError", "CorpusRun", "iter_texts", "profile_corpus"]
