"""Confidence of generated answers from attention entropy and the logits (docs/design.md §13)."""

from .features import answer_features, feature_names
from .gate import ConfidenceGate, GatedAnswer, generate
from .retrieval import Retriever
from .scorer import ConfidenceScorer, ScorerError
from .streaming import StreamingConfidence

__all__ = ["ConfidenceGate", "ConfidenceScorer", "GatedAnswer", "Retriever", "ScorerError", "StreamingConfidence",
           "answer_features", "feature_names", "generate"]
