"""Scorer designs for unseen domains: aggregation, top-k heads, stacking, their files, selection.

Synthetic answer features of a 3-layer x 2-head model (fast, no model needed)."""

from __future__ import annotations

import json

import pytest
import torch

from headentropy.confidence import ConfidenceScorer, ScorerError, feature_names
from headentropy.confidence.features import HEAD_GROUPS, LOGIT_FEATURES, aggregate_features, aggregated_names
from headentropy.confidence.logistic import fit_logistic, fit_selected, univariate_auroc
from headentropy.confidence.metrics import auroc

L, H = 3, 2
NAMES = feature_names(L, H)


def toy(n: int = 200, seed: int = 0):
    """Features [n, F], labels driven by shannon/L01/H01 and mean_logprob, 4 domains."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, len(NAMES), generator=g, dtype=torch.float64)
    signal = x[:, NAMES.index("shannon/L01/H01")] + x[:, NAMES.index("mean_logprob")]
    y = (signal + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)) > 0
    groups = ["abcd"[i % 4] for i in range(n)]
    return x, y, groups


def test_aggregate_features_layer_and_model_means():
    x, _, _ = toy(5)
    x[0, NAMES.index("renyi2/L02/H00")] = float("nan")  # a NaN head is left out of its layer's mean
    G = len(HEAD_GROUPS)
    for agg, units in (("head", L * H), ("layer", L), ("model", 1)):
        out = aggregate_features(x, L, H, agg)
        assert out.shape == (5, G * units + len(NAMES) - G * L * H) == (5, len(aggregated_names(L, H, agg)))
    lay = dict(zip(aggregated_names(L, H, "layer"), aggregate_features(x, L, H, "layer").T))
    assert torch.allclose(lay["shannon/L01"], (x[:, NAMES.index("shannon/L01/H00")] + x[:, NAMES.index("shannon/L01/H01")]) / 2)
    assert float(lay["renyi2/L02"][0]) == float(x[0, NAMES.index("renyi2/L02/H01")])
    assert torch.equal(lay["mean_logprob"], x[:, NAMES.index("mean_logprob")])
    mod = dict(zip(aggregated_names(L, H, "model"), aggregate_features(x, L, H, "model").T))
    cols = [NAMES.index(f"sink_mass/L{a:02d}/H{b:02d}") for a in range(L) for b in range(H)]
    assert torch.allclose(mod["sink_mass/all"], x[:, cols].mean(1))
    assert aggregate_features(x, L, H, "head") is x
    with pytest.raises(ValueError, match="3 layers x 2 heads"):
        aggregate_features(x[:, :-1], L, H, "layer")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        aggregated_names(L, H, "token")


def test_univariate_auroc_matches_metrics_auroc():
    x, y, _ = toy(60)
    a = univariate_auroc(x, y)
    for j in (0, 7, NAMES.index("shannon/L01/H01"), len(NAMES) - 1):
        assert abs(float(a[j]) - auroc(x[:, j], y)) < 1e-12


@pytest.mark.parametrize("design", [{"aggregation": "layer"}, {"aggregation": "model"}, {"top_k": 3},
                                    {"aggregation": "layer", "stack": True}, {"top_k": 2, "stack": True},
                                    {"residual": True}, {"aggregation": "layer", "residual": True, "domain_centred": True},
                                    {"top_k": 3, "selection": "stable"},
                                    {"top_k": 3, "selection": "stable", "residual": True, "domain_centred": True}],
                         ids=["layer", "model", "top3", "stack-layer", "stack-top2", "residual", "centred-residual-layer",
                              "stable3", "centred-residual-stable3"])
def test_designs_fit_score_and_round_trip_bit_exactly(design, tmp_path):
    x, y, groups = toy()
    s = ConfidenceScorer(**design).fit_features(x, y, L, H, "toy", groups=groups)
    p = s.score_features(x)  # raw features in, the design's columns chosen inside
    assert p.shape == (len(y),) and bool(((p > 0) & (p < 1)).all())
    assert auroc(p, y) > 0.8  # the planted signal is found
    s.save(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "scorer.json").read_text())
    assert meta["format"] == "headentropy.ConfidenceScorer/2"
    assert {k: meta[k] for k in ("aggregation", "top_k", "stack", "residual", "selection", "domain_centred")} == {
        "aggregation": design.get("aggregation", "head"), "top_k": design.get("top_k"), "stack": design.get("stack", False),
        "residual": design.get("residual", False), "selection": design.get("selection", "auroc"),
        "domain_centred": design.get("domain_centred", False)}
    back = ConfidenceScorer.load(tmp_path / "s")
    assert back.config == s.config and back.names == s.names
    for name in ("mean", "std", "weight", "bias"):
        assert torch.equal(getattr(back, name), getattr(s, name)), name
    assert torch.equal(back.score_features(x), p)


def test_top_k_keeps_k_attention_features_and_every_logit_feature():
    x, y, groups = toy()
    s = ConfidenceScorer(top_k=3).fit_features(x, y, L, H, groups=groups)
    attention = [n for n in s.names if n not in LOGIT_FEATURES]
    assert len(attention) == 3 and "shannon/L01/H01" in attention
    assert [n for n in s.names if n in LOGIT_FEATURES] == list(LOGIT_FEATURES)
    assert s.names == [n for n in NAMES if n in s.names]  # the candidates' order
    # fit_selected leaves the unselected columns at weight 0
    z = (x - x.mean(0)) / x.std(0)
    w, _ = fit_selected(z, y.double(), 0.1, top_k=1, always=torch.zeros(len(NAMES), dtype=torch.bool))
    assert int((w != 0).sum()) == 1


def test_stack_is_the_meta_learner_over_its_two_base_models():
    x, y, groups = toy()
    s = ConfidenceScorer(aggregation="layer", stack=True).fit_features(x, y, L, H, groups=groups)
    st = s.info["stack"]
    assert set(st["C"]) == {"logits", "attention"} and s.C is None
    z = s._standardised(s._design(x))
    is_logit = torch.tensor([n in LOGIT_FEATURES for n in s.names])
    yd = y.double()
    w_l, b_l = fit_logistic(z[:, is_logit], yd, st["C"]["logits"])
    w_a, b_a = fit_logistic(z[:, ~is_logit], yd, st["C"]["attention"])
    a = st["meta_weight"]
    expected = st["meta_bias"] + a["logits"] * (z[:, is_logit] @ w_l + b_l) + a["attention"] * (z[:, ~is_logit] @ w_a + b_a)
    assert torch.allclose(s.logit(s._design(x)), expected, atol=1e-9)


def test_old_files_without_design_fields_load_as_per_head(tmp_path):
    x, y, groups = toy()
    s = ConfidenceScorer(C=0.1).fit_features(x, y, L, H, groups=groups)
    s.save(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "scorer.json").read_text())
    assert meta["format"] == "headentropy.ConfidenceScorer/1"  # a per-head scorer stays readable by old versions
    for key in ("aggregation", "top_k", "stack", "residual", "selection", "domain_centred"):
        del meta[key]
    (tmp_path / "s" / "scorer.json").write_text(json.dumps(meta))
    back = ConfidenceScorer.load(tmp_path / "s")
    assert back.config == {"feature_set": "all", "aggregation": "head", "top_k": None, "stack": False,
                           "residual": False, "selection": "auroc", "domain_centred": False}
    assert torch.equal(back.score_features(x), s.score_features(x))


@pytest.mark.parametrize("damage", ["unknown_aggregation", "not_a_selection", "design_mismatch", "bad_top_k"])
def test_bad_design_fields_give_clear_errors(tmp_path, damage):
    x, y, groups = toy()
    folder = ConfidenceScorer(top_k=3).fit_features(x, y, L, H, groups=groups).save(tmp_path / "s")
    meta = json.loads((folder / "scorer.json").read_text())
    if damage == "unknown_aggregation":
        meta["aggregation"] = "token"
    elif damage == "not_a_selection":
        meta["features"][0] = "shannon/L09/H09"
    elif damage == "design_mismatch":
        meta["aggregation"] = "layer"  # per-head names under a per-layer design
    elif damage == "bad_top_k":
        meta["top_k"] = "three"
    (folder / "scorer.json").write_text(json.dumps(meta))
    with pytest.raises(ScorerError, match="is not a headentropy confidence scorer"):
        ConfidenceScorer.load(folder)


def test_design_arguments_are_checked():
    with pytest.raises(ValueError, match="needs feature_set='all'"):
        ConfidenceScorer("logits", stack=True)
    with pytest.raises(ValueError, match="top_k"):
        ConfidenceScorer(top_k=0)
    with pytest.raises(ValueError, match="aggregation"):
        ConfidenceScorer(aggregation="heads")
    with pytest.raises(ValueError, match="residual=True"):
        ConfidenceScorer("logits", residual=True)
    with pytest.raises(ValueError, match="selection"):
        ConfidenceScorer(top_k=3, selection="best")


def test_select_design_follows_the_declared_rule():
    from headentropy.confidence import evaluate as E
    from headentropy.confidence.qa import Generation, GenerationSet

    x, y, groups = toy(160)
    rows = [Generation(str(i), g, "q", "a", bool(c), 0, float("nan")) for i, (g, c) in enumerate(zip(groups, y.tolist()))]
    gs = GenerationSet(rows, x, L, H, "toy")
    candidates = {"per-head": {"C": 0.1}, "logits only": {"feature_set": "logits", "C": 0.1},
                  "model means": {"aggregation": "model", "C": 0.1}}
    sel = E.select_design(gs, candidates)
    assert set(sel.scores) == set(candidates) and set(sel.folds["per-head"]) == set("abcd")
    assert sel.features == {"per-head": len(NAMES), "logits only": len(LOGIT_FEATURES),
                            "model means": len(aggregated_names(L, H, "model"))}
    # the rule: mean margin over the token log-probability inside each left-out domain minus its standard error
    lp = E.per_domain_auroc(E.baseline_scores(gs)["mean_logprob"], gs.labels, gs.domains)
    value = {}
    for n, s in sel.scores.items():
        m = torch.tensor([a - lp[d] for d, a in E.per_domain_auroc(s, gs.labels, gs.domains).items()], dtype=torch.float64)
        value[n] = float(m.mean() - m.std() / 2)  # 4 domains: standard error = sd / sqrt(4)
    assert sel.value == pytest.approx(value)
    near = [n for n in candidates if value[n] >= max(value.values()) - 0.005]
    assert sel.chosen == min(near, key=lambda n: sel.features[n])
    # the logits-only candidate cannot see the planted attention signal: it must not win
    assert value["logits only"] < value["per-head"]


@pytest.mark.parametrize("design", [{"aggregation": "layer", "stack": True}, {"top_k": 4}], ids=["stack-layer", "top4"])
def test_streaming_and_trace_scores_agree_for_designs(design):
    """A design's scorer during generate (StreamingConfidence) equals its score of the trace."""
    import headentropy as he
    from headentropy.confidence.streaming import StreamingConfidence, confidence_per_token
    from tests.hf.conftest import make_tiny

    model = make_tiny("llama")  # 3 layers x 4 heads
    with he.monitor(model) as mon:
        model.generate(torch.randint(1, 90, (2, 10), generator=torch.Generator().manual_seed(0)),
                       max_new_tokens=5, do_sample=False, pad_token_id=0)
    Lt, Ht = len(mon.trace.layers), mon.trace.num_heads
    g = torch.Generator().manual_seed(1)
    x = torch.randn(120, len(feature_names(Lt, Ht)), generator=g, dtype=torch.float64)
    y = x[:, 0] + x[:, -5] > 0
    s = ConfidenceScorer(**design).fit_features(x, y, Lt, Ht, groups=["abc"[i % 3] for i in range(120)])
    stream = StreamingConfidence(s)
    with he.monitor(model, taps=[he.TraceTap(), stream.tap]) as mon:
        model.generate(torch.randint(1, 90, (2, 10), generator=torch.Generator().manual_seed(0)),
                       max_new_tokens=5, do_sample=False, pad_token_id=0)
    torch.testing.assert_close(stream.confidence, s.score(mon.trace), atol=1e-12, rtol=0)
    torch.testing.assert_close(confidence_per_token(s, mon.trace)[:, -1], s.score(mon.trace), atol=1e-12, rtol=0)


def test_residual_is_the_logits_model_plus_a_correction_on_its_log_odds():
    """A fixed C (the logits model's): the logit weights are the logits-only model's; the attention
    weights are the fit, at the correction's own C, with that model's log-odds as offset."""
    x, y, groups = toy()
    r = ConfidenceScorer(residual=True, C=0.1).fit_features(x, y, L, H, "toy", groups=groups)
    lo = ConfidenceScorer(feature_set="logits", C=0.1).fit_features(x, y, L, H, "toy", groups=groups)
    is_logit = torch.tensor([n in LOGIT_FEATURES for n in r.names])
    assert torch.allclose(r.weight[is_logit], lo.weight, atol=1e-8)
    z = r._standardised(r._design(x))
    offset = z[:, is_logit] @ lo.weight + lo.bias
    w, b = fit_logistic(z[:, ~is_logit], y, r.info["residual"]["C"]["attention"], offset=offset)
    assert torch.allclose(r.weight[~is_logit], w, atol=1e-8) and abs(float(r.bias - lo.bias - b)) < 1e-8
    tiny = ConfidenceScorer(residual=True).fit_features(x, y, L, H, "toy", groups=groups)
    assert set(tiny.info["residual"]["C"]) == {"logits", "attention"}
    assert float(tiny.weight[~is_logit].abs().max()) > 0  # the planted attention signal is worth keeping
    from headentropy.confidence.scorer import RESIDUAL_C_GRID
    assert tiny.info["residual"]["C"]["attention"] in RESIDUAL_C_GRID


def test_stable_selection_keeps_only_columns_that_agree_in_every_group():
    from headentropy.confidence.logistic import select_columns, stable_strength

    g = torch.Generator().manual_seed(1)
    n = 400
    groups = ["abcd"[i % 4] for i in range(n)]
    y = torch.rand(n, generator=g) > 0.5
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    sign = torch.tensor([-1.0 if grp == "d" else 1.0 for grp in groups], dtype=torch.float64)
    x[:, 0] += 2.0 * y.double() * sign  # strong, but reversed in one group
    x[:, 1] += 0.5 * y.double()  # weaker, the same direction everywhere
    strength = stable_strength(x, y, groups)
    assert float(strength[0]) == 0.0 and float(strength[1]) > 0
    assert select_columns(x, y, 1).tolist() == [True, False, False]  # pooled: the flip-flopping column
    assert select_columns(x, y, 1, None, groups, "stable").tolist() == [False, True, False]


def test_domain_centred_fit_ignores_shifts_between_domains():
    """Adding a per-domain constant to every feature changes nothing a domain-centred fit learns."""
    x, y, groups = toy()
    shift = torch.tensor([{"a": 0.0, "b": 3.0, "c": -2.0, "d": 5.0}[grp] for grp in groups], dtype=torch.float64)
    a = ConfidenceScorer(domain_centred=True, C=0.1).fit_features(x, y, L, H, "toy", groups=groups)
    b = ConfidenceScorer(domain_centred=True, C=0.1).fit_features(x + shift[:, None], y, L, H, "toy", groups=groups)
    assert torch.allclose(a.weight, b.weight, atol=1e-6) and torch.allclose(a.std, b.std)
    # scoring uses the training rows' overall mean, never statistics of the scored rows
    assert torch.allclose(b.mean, x.mean(0) + shift.mean(), atol=1e-9)
