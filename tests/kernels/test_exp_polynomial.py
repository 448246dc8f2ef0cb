"""The CPU kernels' exp (vec_math.h `exp_vec`): its constants, replayed step by step in fp32.

The C++ exp feeds every probability and statistic of the `cpu` backend; the kernel tests judge
its results only through whole attention calls. Here the header's own constants (read from the
source, so an edited coefficient is what gets tested) go through the same steps in numpy fp32,
each FMA rounded once, over the whole domain x ∈ [-87, 0]: the error stays within 2 ulp of the
fp32 result, and the polynomial is at least as accurate as the degree-6 Taylor one it replaced.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from headentropy.kernels.cpu import loader

HEADER = loader.SOURCE.with_name("vec_math.h")


def _constants() -> dict[str, float]:
    text = HEADER.read_text()
    found = dict(re.findall(r"\b(k\w+) = ([-+0-9.e]+)f", text))
    names = ("kLog2e", "kMagic", "kLn2Hi", "kLn2Lo", "kC1", "kC2", "kC3", "kC4", "kC5", "kFlushBelow")
    missing = [n for n in names if n not in found]
    assert not missing, f"constants not found in {HEADER.name}: {missing}"
    return {n: float(np.float32(found[n])) for n in names}


def _fma(a, b, c) -> np.ndarray:
    """fp32 fused multiply-add: the product of two fp32 values is exact in fp64, one rounding."""
    return (np.float64(a) * np.float64(b) + np.float64(c)).astype(np.float32)


def _exp_steps(x: np.ndarray, coeffs: list[float], c: dict[str, float]) -> np.ndarray:
    magic = np.float32(c["kMagic"] + 127.0)  # as exp_parts: n + 127 in t's low mantissa bits
    t = _fma(x, c["kLog2e"], magic)  # n + 1.5·2^23 + 127, rounded to an integer
    n = (t - magic).astype(np.float32)
    r = _fma(-n, c["kLn2Hi"], x)
    r = _fma(-n, c["kLn2Lo"], r)
    p = np.full_like(x, coeffs[-1])
    for coef in reversed(coeffs[:-1]):
        p = _fma(p, r, coef)
    y = np.ldexp(p.astype(np.float64), n.astype(np.int64)).astype(np.float32)
    return np.where(x < c["kFlushBelow"], np.float32(0), y)


def _max_ulp_error(y: np.ndarray, x: np.ndarray) -> float:
    exact = np.exp(x.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(y.astype(np.float64) - exact) / ulp))


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    # The reduced range in fine steps (where the polynomial's error lives) and the whole domain.
    fine = np.linspace(-2.0, 0.0, 400_001, dtype=np.float32)
    wide = np.linspace(-87.0, 0.0, 400_001, dtype=np.float32)
    return np.concatenate([fine, wide, np.float32([0.0, -1e-30, -0.34657359, 0.34657359 - 0.6931472])])


def test_exp_within_two_ulp_over_the_domain(grid):
    c = _constants()
    y = _exp_steps(grid, [1.0, c["kC1"], c["kC2"], c["kC3"], c["kC4"], c["kC5"]], c)
    assert _max_ulp_error(y, grid) <= 2.0
    assert y[grid == 0][0] == 1.0  # e^0 exactly 1: a row's maximum has P ∝ 1 exactly


def test_minimax_polynomial_no_worse_than_taylor(grid):
    c = _constants()
    minimax = _exp_steps(grid, [1.0, c["kC1"], c["kC2"], c["kC3"], c["kC4"], c["kC5"]], c)
    taylor = _exp_steps(grid, [1.0, 1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720], c)
    assert _max_ulp_error(minimax, grid) <= _max_ulp_error(taylor, grid)


def lawson_fit(degree: int = 4, points: int = 4001, iterations: int = 300) -> np.ndarray:
    """Minimax q (increasing powers) of (e^r − 1)/r on |r| ≤ ln2/2 for the relative error of
    1 + r·q(r), by Lawson's iteratively reweighted least squares: how the header's kC1..kC5 were
    made (then rounded to fp32)."""
    half = np.log(2.0) / 2
    r = np.cos(np.linspace(0.0, np.pi, points)) * half
    r = r[np.abs(r) > 1e-12]
    target, weight = np.expm1(r) / r, r / np.exp(r)  # relative error = weight·(q − target)
    powers = np.vander(r, degree + 1, increasing=True)
    u = np.full(r.shape, 1.0 / r.size)
    for _ in range(iterations):
        w = np.sqrt(u) * np.abs(weight)
        q, *_ = np.linalg.lstsq(powers * w[:, None], target * w, rcond=None)
        err = np.abs(weight * (powers @ q - target))
        u = u * err / np.sum(u * err)
    return q


def test_coefficients_are_the_minimax_fit():
    c = _constants()
    header = np.array([c["kC1"], c["kC2"], c["kC3"], c["kC4"], c["kC5"]])
    r = np.linspace(-np.log(2.0) / 2, np.log(2.0) / 2, 100_001)

    def rel_err(q):  # in fp64: the polynomial's own error, without fp32 arithmetic
        p = 1.0 + r * np.polynomial.polynomial.polyval(r, q)
        return np.max(np.abs(p / np.exp(r) - 1.0))

    fit = lawson_fit()
    np.testing.assert_allclose(header, fit, rtol=1e-5)
    assert rel_err(header) <= 1.05 * rel_err(fit) < 1e-7


def test_flushed_below_the_threshold():
    c = _constants()
    x = np.float32([-87.5, -100.0, -1e30])
    with np.errstate(over="ignore", invalid="ignore"):  # -1e30 overflows the replayed steps
        assert not _exp_steps(x, [1.0, c["kC1"], c["kC2"], c["kC3"], c["kC4"], c["kC5"]], c).any()
