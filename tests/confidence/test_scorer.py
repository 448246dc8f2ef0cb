"""ConfidenceScorer: probabilities, bit-exact files, clear errors for bad files and other models."""

from __future__ import annotations

import json

import pytest
import torch

import headentropy as he
from headentropy.confidence import ConfidenceScorer, ScorerError, answer_features


def test_scores_are_probabilities_and_follow_the_fit(answered, fitted):
    p = fitted.score_features(answered.features)
    assert p.shape == (len(answered),) and p.dtype == torch.float64
    assert bool(((p > 0) & (p < 1)).all())
    # fitted on these rows: correct answers score higher on average than wrong ones
    y = answered.labels
    assert float(p[y].mean()) > float(p[~y].mean())


def test_save_load_round_trips_bit_exactly(answered, fitted, tmp_path):
    fitted.save(tmp_path / "s")
    back = ConfidenceScorer.load(tmp_path / "s")
    for name in ("mean", "std", "weight", "bias"):
        assert torch.equal(getattr(back, name), getattr(fitted, name)), name
    assert back.names == fitted.names and back.C == fitted.C
    assert torch.equal(back.score_features(answered.features), fitted.score_features(answered.features))
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["scorer.json", "scorer.safetensors"]


def test_score_of_a_trace_equals_score_of_its_features(smollm2, fitted):
    model, tok = smollm2
    tok.padding_side = "left"
    enc = tok(["Q: Who wrote Hamlet?\nA:", "Q: What is 2 + 2?\nA:"], return_tensors="pt", padding=True)
    with he.monitor(model) as mon:
        model.generate(**enc, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    p = fitted.score(mon.trace)
    assert torch.equal(p, fitted.score_features(answer_features(mon.trace)))


@pytest.mark.parametrize("damage", ["missing_json", "missing_tensors", "garbage", "wrong_format", "short_weight", "nan"])
def test_bad_scorer_files_give_clear_errors(fitted, tmp_path, damage):
    folder = fitted.save(tmp_path / "s")
    meta = json.loads((folder / "scorer.json").read_text())
    if damage == "missing_json":
        (folder / "scorer.json").unlink()
    elif damage == "missing_tensors":
        (folder / "scorer.safetensors").unlink()
    elif damage == "garbage":
        (folder / "scorer.safetensors").write_bytes(b"not a safetensors file at all")
    elif damage == "wrong_format":
        meta["format"] = "something/else"
        (folder / "scorer.json").write_text(json.dumps(meta))
    elif damage == "short_weight":
        meta["num_heads"] = meta["num_heads"] - 1
        (folder / "scorer.json").write_text(json.dumps(meta))
    elif damage == "nan":
        from safetensors.torch import save_file

        save_file({"mean": fitted.mean, "std": fitted.std, "weight": fitted.weight * float("nan"),
                   "bias": fitted.bias.reshape(1)}, str(folder / "scorer.safetensors"))
    with pytest.raises(ScorerError, match="is not a headentropy confidence scorer"):
        ConfidenceScorer.load(folder)


def test_unknown_name_lists_the_shipped_scorers(tmp_path):
    with pytest.raises(ScorerError, match="shipped scorers: .*smollm2"):
        ConfidenceScorer.load("no-such-scorer")


def test_scorer_for_another_model_is_refused(fitted):
    from tests.hf.conftest import make_tiny

    model = make_tiny("llama")
    with he.monitor(model) as mon:
        model.generate(torch.randint(1, 90, (1, 12)), max_new_tokens=3, do_sample=False, pad_token_id=0)
    with pytest.raises(ScorerError, match=r"30 layers x 9 heads; the trace has 3 layers x 4 heads"):
        fitted.score(mon.trace)


def test_shipped_scorer_loads_and_was_not_fitted_on_its_held_out_domains():
    from headentropy.confidence import evaluate as E

    scorer = ConfidenceScorer.load("smollm2")
    assert (scorer.num_layers, scorer.num_heads) == (30, 9)
    held = scorer.info["held_out_domains"]
    assert held and not set(held) & set(scorer.info["groups"]) and len(scorer.info["groups"]) >= 5
    assert "numbers" in scorer.info["groups"]  # the first held-out domain, spent, is now a training domain
    # the shipped design is the candidate the declared selection chose, with exactly its settings
    design = E.CANDIDATES[scorer.info["design"]]
    assert scorer.config == {**ConfidenceScorer().config, **design}
    assert set(scorer.names) <= set(scorer._candidates()) and scorer.names == [
        n for n in scorer._candidates() if n in set(scorer.names)]
    assert set(scorer.info["benchmark"]["held_out"]) == set(held)
    assert scorer.explain(5)[0]["feature"] in scorer.names


def test_fit_refuses_one_class_and_mismatched_labels(answered):
    s = ConfidenceScorer(C=1.0)
    with pytest.raises(ValueError, match="all the same"):
        s.fit_features(answered.features, [True] * len(answered), answered.num_layers, answered.num_heads)
    with pytest.raises(ValueError, match="labels for"):
        s.fit_features(answered.features, [True, False], answered.num_layers, answered.num_heads)
