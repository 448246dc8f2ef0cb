"""Issue 13 item 5: validation/validate_training.py's code path in miniature (seconds, not minutes).

The full runs (4 cases × 3 seeds, 300 steps) write TRAINING.md; here the same functions run a
few steps on a slice of the same corpus: the induced cause raises the collapse alarm, the
loss-degradation rule and the report writer work, and QK-norm is a real change of the model.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))
import validate_training as V  # noqa: E402

MINI = dict(sample_every=5, eval_every=10, batch=4, seq=64, log=lambda s: None)


@pytest.fixture(scope="module")
def corpus():
    return V.load_corpus(max_bytes=300_000)


@pytest.fixture(scope="module")
def runs(corpus):
    cases = {c.name: c for c in V.cases()}
    out = [V.train(cases[name], 0, corpus, 30, **MINI) for name in ("healthy", "induced")]
    V.judge(out)
    return out


def test_corpus_is_the_standard_library_split_by_file(corpus):
    assert corpus.files > 100 and len(corpus.train) >= 300_000 and len(corpus.val) > 0
    text = bytes(corpus.train[:20_000].tolist()).decode("utf-8", errors="replace")
    assert "def " in text and "import " in text
    batch = corpus.batch(torch.Generator().manual_seed(0), 4, 64)
    assert batch.shape == (4, 64) and batch.dtype == torch.long and int(batch.max()) < 256
    assert torch.equal(corpus.held_out(seq=64), corpus.held_out(seq=64))  # the same windows every run


def test_induced_run_raises_the_collapse_alarm_in_a_few_steps(runs):
    healthy, induced = runs
    assert induced.alarm is not None and induced.alarm <= 25
    assert induced.samples[0][1]["attention_entropy/mean"] > 0.99  # from-scratch: uniform at step 0
    low = min(v for k, v in induced.samples[-1][1].items() if k.startswith("attention_entropy/layer_"))
    assert low < 0.2 * induced.samples[0][1]["attention_entropy/mean"]
    assert healthy.alarm is None
    assert [s for s, _ in induced.evals] == [0, 10, 20, 30]
    assert all(math.isfinite(v) for _, v in induced.evals + healthy.evals)
    assert 0.0 <= induced.final_entropy < healthy.final_entropy <= 1.0


def test_loss_degradation_rule():
    healthy = V.Run("healthy", 0, evals=[(s, 3.0 - 0.01 * s) for s in range(0, 100, 10)])
    late = V.Run("induced", 0, evals=[(s, 3.0 - 0.01 * s + (0.2 if s >= 50 else 0.0)) for s in range(0, 100, 10)])
    blip = V.Run("induced", 0, evals=[(s, 3.0 - 0.01 * s + (0.2 if s in (30, 40) else 0.0)) for s in range(0, 100, 10)])
    nan = V.Run("induced", 0, evals=[(0, 3.0), (10, 2.9), (20, float("nan"))])
    assert V.degradation_step(late, healthy) == 50  # above by > 0.1 for 3 evaluations from step 50
    assert V.degradation_step(blip, healthy) is None  # two evaluations only: not a degradation
    assert V.degradation_step(nan, healthy) == 20  # divergence


def test_report_writes_the_table_the_plots_and_the_verdicts(runs, corpus, tmp_path):
    text = V.write_report(runs, V.cases()[:2], corpus.info(), "cmd", 12.0, md_path=tmp_path / "TRAINING.md",
                          plot_dir=tmp_path / "plots", steps=30)
    assert (tmp_path / "plots" / "entropy_per_layer.png").stat().st_size > 10_000
    assert "![per-layer entropy vs step](plots/entropy_per_layer.png)" in text
    assert "| induced | 0 |" in text and "| healthy | 0 |" in text
    assert "the induced runs raise the collapse alarm" in text
    assert "Model name" not in text and V.cpu_description() in text
    assert "## Notes" in text and "entropic_overload" in text
    # The runs round-trip through the JSON the script saves (TRAINING.md can be rewritten from it).
    V.save_runs(tmp_path / "runs.json", runs, corpus.info(), "cmd", 12.0, 30, 1.0)
    again = V.load_runs(tmp_path / "runs.json")["runs"]
    V.judge(again)
    assert V.table(again) == V.table(runs)


def test_qk_norm_is_a_real_change_that_bounds_the_logits():
    """Scaling q_proj / k_proj by 100 collapses the plain model's attention; with QK-norm the
    normalised q and k (and so the attention) are unchanged, up to the norm's eps."""
    ids = torch.randint(0, 256, (2, 64), generator=torch.Generator().manual_seed(0))
    plain, normed = V.make_model(0, seq=64), V.make_model(0, qk_norm=True, seq=64)
    assert isinstance(normed.model.layers[0].self_attn.q_proj, V.HeadRMSNorm)
    assert sum(p.numel() for p in normed.parameters()) == sum(p.numel() for p in plain.parameters()) + 4 * 2 * 32
    entropy = lambda m: V.mean_entropy(m, ids)  # noqa: E731
    before = entropy(normed)
    for layer in normed.model.layers:
        with torch.no_grad():
            layer.self_attn.q_proj.proj.weight.mul_(100)
            layer.self_attn.k_proj.proj.weight.mul_(100)
    assert entropy(normed) == pytest.approx(before, abs=1e-4)
    plain_before = entropy(plain)
    V.scale_logits(plain, 100.0 ** 2)
    assert plain_before > 0.99 and entropy(plain) < 0.5 * plain_before
