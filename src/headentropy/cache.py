"""The one cache folder of the project (the de-quantised SmolLM2, the compiled CPU kernel).

`platformdirs.user_cache_dir("headentropy")`, or `$HEADENTROPY_CACHE` when set.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HEADENTROPY_CACHE"


def cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("headentropy"))
