"""headentropy.vllm on the embedded SmolLM2: outputs unchanged, statistics equal to he.monitor.

Runs only in the vLLM environment (`make test-vllm`); elsewhere the module is skipped. Each
engine configuration starts once per module (about 40 s each on 2 cores), one at a time, and is
shut down before the next starts.
"""

from __future__ import annotations

import gc
import os

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: tests/vllm run in .venv-vllm (make test-vllm)")

import torch  # noqa: E402

import headentropy as he  # noqa: E402
import headentropy.vllm as hv  # noqa: E402
from headentropy.hf.models import _smollm2_cache_path, smollm2_gguf  # noqa: E402

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the machine is shared
os.environ["HEADENTROPY_VLLM_STRICT"] = "1"  # a statistics error fails the engine, not just a log line

MAX_TOKENS = 12
BLOCK = 32  # small blocks: several per prompt, prefix-cache hits on short shared prefixes
SHARED = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
          "combined movable metal type, oil-based ink and a wooden press adapted from wine making. "
          "Within fifty years presses were running in more than two hundred cities across Europe, and "
          "the price of books fell so far that ordinary merchants could own them. ")
TEXTS = [
    "Hello",
    "The capital of France is",
    "Write a haiku about the sea.",
    "List three prime numbers greater than ten and explain why each one is prime:",
    SHARED + "Summarise this paragraph in one sentence:",
    SHARED + "What was the most important consequence?",
    SHARED + SHARED + "Translate the first sentence into French:",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
]
TOL = 1e-3  # normalised entropy, the bound
ENGINE = dict(dtype="float32", max_model_len=512, enforce_eager=True, seed=0, block_size=BLOCK,
              max_num_seqs=8)


@pytest.fixture(scope="module")
def hf():
    return he.load_model("smollm2")  # also builds the safetensors folder vLLM loads


@pytest.fixture(scope="module")
def model_path(hf):
    return str(_smollm2_cache_path(smollm2_gguf()))


@pytest.fixture(scope="module")
def prompt_ids(hf):
    _, tok = hf
    ids = [tok(t, add_special_tokens=True)["input_ids"] for t in TEXTS]
    lengths = [len(i) for i in ids]
    assert len(set(lengths)) == len(lengths), lengths  # different lengths
    assert max(lengths) > 3 * BLOCK
    return ids


_RUNS: dict = {}


def _run(model_path, prompt_ids, name, custom, rounds=1, **engine):
    """Generate the prompts `rounds` times in one engine; per round (outputs, traces, head-mean traces)."""
    if name in _RUNS:
        return _RUNS[name]
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    kwargs = {**ENGINE, **engine, **(hv.engine_kwargs() if custom else {})}
    llm = LLM(model=model_path, **kwargs)
    try:
        params = SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
        rounds_out = []
        for _ in range(rounds):
            outs = llm.generate([TokensPrompt(prompt_token_ids=i) for i in prompt_ids], params, use_tqdm=False)
            means = traces = None
            if custom:
                means = hv.collect(llm, outs, heads=False, pop=False)
                traces = hv.collect(llm, outs)
                assert hv.collect(llm, outs) == {}  # popped: nothing stays in the engine
            rounds_out.append((outs, traces, means))
    finally:
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
    _RUNS[name] = rounds_out
    return rounds_out


@pytest.fixture(scope="module")
def default_run(model_path, prompt_ids):
    return _run(model_path, prompt_ids, "default", custom=False)[0]


@pytest.fixture(scope="module")
def entropy_runs(model_path, prompt_ids):
    # Two rounds: the second finds every prompt's full blocks in the prefix cache.
    return _run(model_path, prompt_ids, "entropy", custom=True, rounds=2)


def _tokens(outs):
    return [list(o.outputs[0].token_ids) for o in outs]


def _traces(run):
    outs, traces, _ = run
    return [traces[o.request_id] for o in outs]


def _max_diff(a: he.EntropyTrace, b: he.EntropyTrace) -> dict[str, float]:
    assert a.shannon.shape == b.shannon.shape, (a, b)
    assert torch.equal(a.n_keys, b.n_keys)
    assert torch.equal(a.token_ids, b.token_ids)
    assert torch.equal(a.generated, b.generated)
    out = {}
    for name in ("shannon", "renyi2"):
        na, nb = a.normalized(name), b.normalized(name)
        both = torch.isfinite(na) & torch.isfinite(nb)
        assert torch.equal(torch.isfinite(na), torch.isfinite(nb))
        out[name] = float((na - nb)[both].abs().max())
    out["sink_mass"] = float((a.sink_mass - b.sink_mass).abs().max())
    return out


def _assert_same_statistics(a_traces, b_traces, label, tol=1e-4):
    worst = {}
    for a, b in zip(a_traces, b_traces, strict=True):
        for k, v in _max_diff(a, b).items():
            worst[k] = max(worst.get(k, 0.0), v)
    print(f"max |difference| ({label}):", worst)
    assert max(worst.values()) <= tol, worst


def test_greedy_outputs_identical_to_default_backend(default_run, entropy_runs):
    reference = _tokens(default_run[0])
    for outs, _, _ in entropy_runs:
        assert _tokens(outs) == reference
    assert all(len(t) == MAX_TOKENS or t[-1] in (0, 2) for t in reference)


def test_every_processed_token_has_statistics(entropy_runs, prompt_ids):
    outs, traces, _ = entropy_runs[0]
    for o, ids in zip(outs, prompt_ids):
        t = traces[o.request_id]
        gen = list(o.outputs[0].token_ids)
        n = len(ids) + len(gen) - 1  # the last sampled token is never fed back
        assert (t.batch, len(t.layers), t.num_heads, t.num_positions) == (1, 30, 9, n)
        assert bool(t.valid.all())
        assert t.token_ids[0].tolist() == ids + gen[:-1]
        assert t.generated[0].tolist() == [False] * len(ids) + [True] * (len(gen) - 1)
        assert t.n_keys[0, 0].tolist() == list(range(1, n + 1))
        assert t.non_finite_count() == 0
        h = t.shannon
        assert bool((h >= -1e-5).all()) and bool((h <= torch.log(t.n_keys[:, :, None, :].float()) + 1e-4).all())
        assert bool((t.renyi2 <= h + 1e-4).all())


def test_statistics_equal_hf_monitor(entropy_runs, hf, prompt_ids):
    model, _ = hf
    outs, traces, _ = entropy_runs[0]
    worst = {}
    for o, ids in zip(outs, prompt_ids):
        with he.monitor(model) as mon:
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=MAX_TOKENS, do_sample=False)
        assert gen[0, len(ids):].tolist() == list(o.outputs[0].token_ids)
        ref = mon.trace
        diff = _max_diff(traces[o.request_id], ref)
        for k, v in diff.items():
            worst[k] = max(worst.get(k, 0.0), v)
    print("max |vLLM - HF|:", worst)
    assert worst["shannon"] <= TOL and worst["renyi2"] <= TOL and worst["sink_mass"] <= TOL, worst


def test_head_means_are_computed_in_the_engine(entropy_runs):
    outs, traces, means = entropy_runs[0]
    for o in outs:
        full, mean = traces[o.request_id], means[o.request_id]
        assert mean.num_heads == 1
        torch.testing.assert_close(mean.shannon, full.shannon.mean(dim=2, keepdim=True), rtol=0, atol=1e-5)
        assert o.headentropy is full  # collect() attaches the trace to the RequestOutput


def test_prefix_cache_hits_give_the_same_statistics(entropy_runs, prompt_ids):
    first, second = entropy_runs
    cached = [o.num_cached_tokens or 0 for o in second[0]]
    # The second round reads every full block of its prompts from the cache (never the last token).
    assert cached == [(len(i) - 1) // BLOCK * BLOCK for i in prompt_ids], cached
    assert sum(c > 0 for c in cached) >= 3, cached
    _assert_same_statistics(_traces(first), _traces(second), "prefix-cache hits vs first computation")


def test_prefix_caching_off_gives_the_same_statistics(model_path, prompt_ids, entropy_runs):
    (outs, traces, _), = _run(model_path, prompt_ids, "no-prefix", custom=True, enable_prefix_caching=False)
    assert _tokens(outs) == _tokens(entropy_runs[0][0])
    _assert_same_statistics(_traces(entropy_runs[0]), [traces[o.request_id] for o in outs], "prefix caching off")


def test_chunked_prefill_gives_the_same_statistics(model_path, prompt_ids, entropy_runs):
    # A 48-token budget per step: the long prompts are prefilled in several chunks, each chunk's
    # queries starting at an offset into the keys (bottom-right causal, Lq < Lk).
    assert max(len(i) for i in prompt_ids) > 2 * 48  # the longest prompt takes at least 3 steps
    (outs, traces, _), = _run(model_path, prompt_ids, "chunked", custom=True, enable_prefix_caching=False,
                              enable_chunked_prefill=True, max_num_batched_tokens=48)
    assert _tokens(outs) == _tokens(entropy_runs[0][0])
    _assert_same_statistics(_traces(entropy_runs[0]), [traces[o.request_id] for o in outs], "chunked prefill, 48-token budget")


def test_bfloat16_engine_records_statistics(model_path, prompt_ids, entropy_runs):
    # bf16 is what CPUs with AMX run fast; there vLLM stores K in AMX tiles (ISA "amx"), elsewhere
    # transposed ("vec"). The layout check inside the backend fails the engine if K is misread
    # (HEADENTROPY_VLLM_STRICT=1); bf16 numerics differ from fp32, so the prompt positions are
    # compared loosely.
    (outs, traces, _), = _run(model_path, prompt_ids, "bf16", custom=True, dtype="bfloat16")
    worst_mean, worst_max = 0.0, 0.0
    for o, ref, ids in zip(outs, _traces(entropy_runs[0]), prompt_ids):
        t = traces[o.request_id]
        assert bool(t.valid.all()) and t.non_finite_count() == 0
        P = len(ids)
        a, b = t.normalized()[..., :P], ref.normalized()[..., :P]
        ok = torch.isfinite(a) & torch.isfinite(b)
        d = (a - b)[ok].abs()
        if d.numel() == 0:  # a one-token prompt has no normalised entropy
            continue
        worst_mean, worst_max = max(worst_mean, float(d.mean())), max(worst_max, float(d.max()))
    print(f"bf16 vs fp32 normalised entropy on prompts: mean {worst_mean:.4f}, max {worst_max:.4f}")
    assert worst_mean <= 0.02 and worst_max <= 0.2
