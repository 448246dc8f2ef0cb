"""The shape label of a layer profile, on profiles with a known answer."""

import pytest
import torch

from headentropy.analysis import thresholds as T
from headentropy.analysis.profile import classify_shape

PROFILES = {
    # The profile DESIGN §10 reports for SmolLM2: high at 0, minimum late (layer 24), rises again.
    "descent_ascent": [0.87, 0.63, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.28, 0.25, 0.3, 0.44],
    "u_shape": [0.8, 0.6, 0.45, 0.3, 0.25, 0.3, 0.45, 0.6, 0.75],
    "descending": [0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.41],
    "ascending": [0.3, 0.35, 0.4, 0.5, 0.6, 0.7],
    "flat": [0.5, 0.52, 0.49, 0.51, 0.5, 0.53],
}


@pytest.mark.parametrize("expected", list(PROFILES))
def test_shape_labels(expected):
    shape, evidence = classify_shape(torch.tensor(PROFILES[expected]))
    assert shape == expected, evidence


def test_flat_threshold_is_the_documented_range():
    just_flat = torch.tensor([0.5, 0.5 + T.FLAT_PROFILE_RANGE * 0.99])
    just_not = torch.tensor([0.5, 0.5 + T.FLAT_PROFILE_RANGE * 1.01])
    assert classify_shape(just_flat)[0] == "flat"
    assert classify_shape(just_not)[0] == "ascending"


def test_nan_layers_are_ignored_and_too_few_layers_is_no_shape():
    assert classify_shape(torch.tensor([0.9, float("nan"), 0.5, 0.3]))[0] == "descending"
    shape, evidence = classify_shape(torch.tensor([float("nan"), 0.4]))
    # One point has no shape; calling it "flat" would raise a flat_profile finding from no data.
    assert shape == "insufficient_data" and "fewer than 2" in evidence["reason"]
