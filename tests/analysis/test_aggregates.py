"""Mergeable corpus aggregates: exact and associative merges, agreement with the per-trace analyses."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import headentropy as he
from headentropy.analysis import head_stats, layer_profile
from headentropy.analysis.aggregates import HIST_BINS, EntropyAggregate, position_bucket
from headentropy.trace import EntropyTrace

FIELDS = ("histogram", "co_count", "co_sum", "co_prod", "bucket_count", "bucket_sum")
MOMENTS = ("shannon", "renyi2", "sink_mass", "shannon_generated", "text_means")


def synthetic_trace(lengths: list[int], seed: int, L: int = 3, H: int = 4) -> EntropyTrace:
    """Causal-looking statistics for texts of the given lengths (right-padded)."""
    g = torch.Generator().manual_seed(seed)
    B, N = len(lengths), max(lengths)
    n_keys = torch.arange(1, N + 1, dtype=torch.int32).expand(B, L, N).clone()  # [B, L, N]
    log_n = torch.log(n_keys.float())[:, :, None, :]
    h = torch.rand(B, L, H, N, generator=g) * log_n
    valid = torch.arange(N)[None, :] < torch.tensor(lengths)[:, None]  # [B, N]
    generated = torch.rand(B, N, generator=g) < 0.3
    return EntropyTrace(shannon=h, renyi2=h * torch.rand(B, L, H, N, generator=g), sink_mass=torch.rand(B, L, H, N, generator=g),
                        valid=valid, generated=generated & valid, token_ids=torch.zeros(B, N, dtype=torch.long),
                        n_keys=n_keys, layers=list(range(L)), model_name="synthetic")


def rows(trace: EntropyTrace, idx: list[int]) -> EntropyTrace:
    """The sub-trace of batch rows `idx`."""
    pick = lambda x: None if x is None else x[idx]  # noqa: E731
    return EntropyTrace(pick(trace.shannon), pick(trace.renyi2), pick(trace.sink_mass), trace.valid[idx],
                        trace.generated[idx], trace.token_ids[idx], trace.n_keys[idx], list(trace.layers),
                        trace.model_name)


def assert_same(a: EntropyAggregate, b: EntropyAggregate, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    """Counts equal exactly; means, M2 and sums within (rtol, atol). The default is float64
    round-off (the same numbers merged in another order); across processes with other thread
    counts the model's own fp32 arithmetic differs, so callers pass fp32-sized tolerances."""
    assert a.texts == b.texts
    for name in MOMENTS:
        ma, mb = getattr(a, name), getattr(b, name)
        torch.testing.assert_close(ma.count, mb.count, rtol=0, atol=0)
        torch.testing.assert_close(ma.mean, mb.mean, rtol=rtol, atol=atol)
        torch.testing.assert_close(ma.m2, mb.m2, rtol=rtol, atol=atol)
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if name == "histogram" and rtol > 1e-9:
            # fp32 round-off can move a value that sits on a bin edge into the next bin: the
            # total is exact, and at most one count in a thousand moves.
            assert float(x.sum()) == float(y.sum())
            assert float((x - y).abs().sum()) <= 2 + 2e-3 * float(x.sum())
            continue
        torch.testing.assert_close(x, y, rtol=rtol, atol=max(atol, 1e-9))


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 40), min_size=2, max_size=7), seed=st.integers(0, 1000),
       data=st.data())
def test_merge_of_any_split_equals_the_whole_and_is_associative(lengths, seed, data):
    trace = synthetic_trace(lengths, seed)
    whole = EntropyAggregate.from_trace(trace)
    order = data.draw(st.permutations(range(len(lengths))))
    cut1 = data.draw(st.integers(1, len(lengths) - 1))
    cut2 = data.draw(st.integers(cut1, len(lengths)))
    parts = [EntropyAggregate.from_trace(rows(trace, list(order[a:b])))
             for a, b in ((0, cut1), (cut1, cut2), (cut2, len(lengths))) if b > a]
    left = parts[0]
    for p in parts[1:]:
        left = left.merge(p)  # ((a + b) + c)
    right = parts[-1]
    for p in reversed(parts[:-1]):
        right = p.merge(right)  # (a + (b + c))
    assert_same(left, whole)
    assert_same(right, whole)


def test_one_trace_agrees_with_the_per_trace_analyses(smollm2):
    model, tok = smollm2
    texts = ["Attention entropy measures how focused each head is across the context window of a model.",
             "A short line.",
             "Corpus statistics merge exactly when every shard keeps counts, means and second moments."]
    traces = []
    for text in texts:
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode(), he.monitor(model) as mon:
            model(input_ids=ids)
        traces.append(mon.trace)
    from headentropy.report import stack_traces

    stacked = stack_traces(traces)
    merged = EntropyAggregate.from_trace(traces[0])
    for t in traces[1:]:
        merged = merged.merge(EntropyAggregate.from_trace(t))
    assert_same(merged, EntropyAggregate.from_trace(stacked))
    # The corpus view of the stacked trace equals the per-trace analyses (enough data: not gated).
    heads = head_stats(stacked)
    torch.testing.assert_close(merged.shannon.value().float(), heads.mean_normalized, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(merged.layer_profile().float(), layer_profile(stacked).shannon_normalized,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(merged.inter_head_variance().float(), heads.inter_head_variance, rtol=1e-4, atol=1e-7)
    corr = merged.head_correlation().float()
    ok = torch.isfinite(heads.correlation)
    torch.testing.assert_close(corr[ok], heads.correlation[ok], rtol=1e-4, atol=1e-4)
    assert int(merged.histogram.sum()) == int(merged.shannon.count.sum())
    # "A short line." has no position that sees MIN_KEYS keys: counted as a text, no text mean.
    assert merged.texts == 3 and merged.text_means.count.tolist() == [2.0] * 30


def test_save_load_roundtrip_and_bad_files(tmp_path):
    agg = EntropyAggregate.from_trace(synthetic_trace([12, 30, 7], 3))
    agg.extra["skipped_lines"] = 2
    agg.save(tmp_path / "agg.safetensors")
    back = EntropyAggregate.load(tmp_path / "agg.safetensors")
    assert_same(agg, back)
    assert back.extra == {"skipped_lines": 2} and back.layers == agg.layers
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "agg.safetensors").read_bytes()[:100])
    import pytest

    with pytest.raises(ValueError, match="not a \\(complete\\) headentropy aggregate"):
        EntropyAggregate.load(tmp_path / "cut.safetensors")
    with pytest.raises(ValueError, match="different shapes"):
        agg.merge(EntropyAggregate.from_trace(synthetic_trace([9], 1, L=2)))


def test_position_buckets_are_log_spaced():
    assert position_bucket(torch.tensor([0, 1, 2, 3, 4, 7, 8, 1023, 1024])).tolist() == [0, 1, 2, 2, 3, 3, 4, 10, 11]
    assert HIST_BINS == 20


def test_corpus_findings_match_the_trace_findings_on_an_induced_collapse(smollm2):
    """The aggregate's diagnosis (no per-token data) agrees with diagnose() on the same trace."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))
    import diagnosis_cases as cases

    model, tok = smollm2
    with cases.scaled_queries(model, 30.0):
        trace = cases.forward_trace(model, tok, cases.PROMPTS[:1])
    agg = EntropyAggregate.from_trace(trace)
    kinds = {f.kind for f in agg.diagnose()}
    assert "entropy_collapse" in kinds
    assert kinds == {f.kind for f in he.diagnose(trace)} - {"non_finite", "attention_locking", "entropy_spike"}
    assert agg.data().enough and agg.profile().shape == layer_profile(trace).shape
    empty = EntropyAggregate.from_trace(synthetic_trace([3], 0))
    assert not empty.data().enough and empty.diagnose() == [] and empty.profile().shape == "insufficient_data"
