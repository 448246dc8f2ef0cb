"""Aggregations of an EntropyTrace and the diagnoses built on them (docs/design.md §3)."""

from ._select import DataSufficiency, data_sufficiency
from .detectors import DETECTORS, Detector
from .diagnose import KINDS, Finding, diagnose
from .heads import HeadStats, head_stats
from .profile import SHAPES, LayerProfile, layer_profile
from .tokens import TokenStats, token_stats

__all__ = ["DETECTORS", "KINDS", "SHAPES", "DataSufficiency", "Detector", "Finding", "HeadStats",
           "LayerProfile", "TokenStats", "data_sufficiency", "diagnose", "head_stats", "layer_profile",
           "token_stats"]
