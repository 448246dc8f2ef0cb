"""The `cpu` backend: a fused C++ attention kernel with entropy statistics, built on first use.

Importing this package is cheap; nothing is compiled until the backend is probed or run.
"""

from .backend import probe, run

__all__ = ["probe", "run"]
