"""Aggregations of an EntropyTrace and the diagnoses built on them (DESIGN §10)."""

from .diagnose import KINDS, Finding, diagnose
from .heads import HeadStats, head_stats
from .profile import SHAPES, LayerProfile, layer_profile
from .tokens import TokenStats, token_stats

__all__ = ["KINDS", "SHAPES", "Finding", "HeadStats", "LayerProfile", "TokenStats",
           "diagnose", "head_stats", "layer_profile", "token_stats"]
