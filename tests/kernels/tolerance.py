"""The tolerance rule of docs/design.md §1 / DESIGN §7, in one place for every kernel test.

A backend's max error against the fp64 oracle must be at most 2× the error of a naive PyTorch
implementation in the same dtype (`oracle.naive_same_dtype`), plus a floor that scales with the
magnitude of the reference; non-finite entries must match the oracle's exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .oracle import naive_same_dtype  # noqa: F401 -- re-exported: the baseline of the rule

STATS = ("shannon", "renyi2", "lse", "sink_mass")  # the fp32 per-row statistics of a result
# dtype -> absolute floor added to 2× the naive same-dtype error (scaled by max(1, |ref| max))
FLOORS = {torch.float32: 2e-5, torch.bfloat16: 2e-3, torch.float16: 1e-3}


def first_mismatches(got: torch.Tensor, want: np.ndarray, tol: float) -> str:
    """The first five entries farther than `tol` from the oracle, for failure messages."""
    g = got.double().cpu().numpy()
    idx = np.argwhere(np.nan_to_num(np.abs(g - want), nan=np.inf) > tol)[:5]
    return ", ".join(f"{tuple(int(j) for j in i)}: got {g[tuple(i)]:.7g} want {want[tuple(i)]:.7g}" for i in idx)


def max_error(name: str, got: torch.Tensor, want: np.ndarray) -> float:
    """Max |got - want| where want is finite; non-finite entries must match the oracle exactly."""
    g = got.double().cpu().numpy()
    finite = np.isfinite(want)
    mism = np.argwhere(np.isfinite(g) != finite)
    assert mism.size == 0, f"{name}: non-finite pattern differs from the oracle at {mism[:5].tolist()}"
    assert np.array_equal(g[~finite], want[~finite]), f"{name}: non-finite values differ"
    return float(np.abs(g[finite] - want[finite]).max()) if finite.any() else 0.0


def assert_within_tolerance(got, want: dict, naive: dict, dtype: torch.dtype, names) -> None:
    """`got` (an AttentionResult) against the oracle `want` and the same-dtype `naive`, per name."""
    finite_rows = np.isfinite(want["lse"])  # the naive softmax gives NaN on fully masked rows
    for name in names:
        w = want[name]
        err = max_error(name, getattr(got, name), w)
        finite = np.isfinite(w)
        if not finite.any():
            continue
        ref = w[finite_rows]
        naive_err = 0.0
        if ref.size:
            nv = naive[name].double().cpu().numpy()[finite_rows]
            naive_err = float(np.nanmax(np.abs(nv - ref)))
            naive_err = naive_err if math.isfinite(naive_err) else 0.0  # naive fp16 overflow: floor only
        allowed = 2.0 * naive_err + FLOORS[dtype] * max(1.0, float(np.abs(w[finite]).max()))
        assert err <= allowed, (
            f"{name}: max error {err:.3g} > allowed {allowed:.3g} (naive {dtype} error {naive_err:.3g}); "
            f"first mismatches: {first_mismatches(getattr(got, name), w, allowed)}"
        )
