"""Shared test setup: deterministic seeds and a hypothesis profile without deadlines."""

import os
import random

import numpy as np
import pytest
import torch
from hypothesis import settings

# Timing varies on a shared 2-core machine; correctness is what hypothesis checks here.
settings.register_profile("headentropy", deadline=None, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "headentropy"))


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def smollm2():
    import headentropy as he

    return he.load_model("smollm2")


@pytest.fixture(scope="session")
def minilm():
    import headentropy as he

    return he.load_model("minilm")
