"""Capture: how statistics leave the attention function — taps fed per layer call (docs/design.md §3)."""

from .capture import ACTIVE_CAPTURES, Capture, owner_of
from .taps import CallInfo, LossTap, Step, StepEvent, StepTap, Tap, TraceTap

__all__ = ["ACTIVE_CAPTURES", "CallInfo", "Capture", "LossTap", "Step", "StepEvent", "StepTap", "Tap", "TraceTap",
           "owner_of"]
