"""AUROC, PRR and risk-coverage against their definitions."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given, strategies as st

from headentropy.confidence.metrics import auroc, bootstrap, prr, risk_coverage

scores = st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=30)


@given(scores)
def test_auroc_is_the_pairwise_probability(pairs):
    c = torch.tensor([float(s) for s, _ in pairs])
    y = torch.tensor([b for _, b in pairs])
    pos, neg = c[y].tolist(), c[~y].tolist()
    value = auroc(c, y)
    if not pos or not neg:
        assert value != value  # NaN: undefined with one class
        return
    expected = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)) / (len(pos) * len(neg))
    assert abs(value - expected) < 1e-12


@given(scores)
def test_prr_bounds_and_risk_curve(pairs):
    c = torch.tensor([float(s) for s, _ in pairs])
    y = torch.tensor([b for _, b in pairs])
    cov, risk = risk_coverage(c, y)
    assert torch.allclose(cov[-1], torch.tensor(1.0, dtype=torch.float64))
    assert abs(float(risk[-1]) - float((~y).double().mean())) < 1e-12  # all kept: the base error rate
    if y.all() or (~y).all():
        return
    assert abs(prr(y.double(), y) - 1.0) < 1e-12  # the oracle order
    assert abs(prr(torch.zeros(len(y)), y)) < 1e-12  # a constant score is a random order
    # between the worst order (all wrong answers first) and the oracle; not symmetric around 0
    assert prr((~y).double(), y) - 1e-9 <= prr(c, y) <= 1 + 1e-9


def test_bootstrap_interval_contains_the_value():
    g = torch.Generator().manual_seed(0)
    c = torch.randn(300, generator=g)
    y = (c + torch.randn(300, generator=g)) > 0
    value, low, high = bootstrap(auroc, c, y, n=200)
    assert low < value < high and 0.7 < value < 0.9
