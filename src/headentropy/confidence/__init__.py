"""Confidence of generated answers from attention entropy and the logits (docs/design.md §13)."""

from .features import answer_features, feature_names
from .scorer import ConfidenceScorer, ScorerError

__all__ = ["ConfidenceScorer", "ScorerError", "answer_features", "feature_names"]
