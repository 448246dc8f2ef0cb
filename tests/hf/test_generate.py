"""generate(): prefill + decode steps recorded in token order, equal to one full forward pass."""

from __future__ import annotations

import pytest
import torch

import headentropy as he
from headentropy.trace import STATS

from .conftest import make_tiny, padded_batch


def _assert_same_as_full_forward(model, trace, sequences, mask2d, atol=1e-4):
    """One forward over the fed tokens (all but the last generated one) gives the same trace."""
    fed = sequences[:, :-1]
    full_mask = torch.cat([mask2d, torch.ones(mask2d.shape[0], fed.shape[1] - mask2d.shape[1], dtype=mask2d.dtype)], 1)
    # generate() numbers positions from the first real token of each left-padded row.
    position_ids = (full_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad(), he.monitor(model) as mon:
        model(input_ids=fed, attention_mask=full_mask, position_ids=position_ids)
    ref = mon.trace
    assert trace.shannon.shape == ref.shannon.shape
    assert torch.equal(trace.token_ids, fed)
    # Valid: not padding, and (rows that finished with EOS aside) every fed token.
    assert not (trace.valid & ~full_mask.bool()).any()
    assert torch.equal(trace.n_keys[trace.valid[:, None, :].expand_as(trace.n_keys)],
                       ref.n_keys[ref.valid[:, None, :].expand_as(ref.n_keys)])
    v = trace.valid[:, None, None, :].expand_as(trace.shannon)
    for name in STATS:
        err = (getattr(trace, name) - getattr(ref, name))[v].abs().max().item()
        assert err < atol, f"{name}: decode vs full forward differ by {err}"


@pytest.mark.parametrize(
    "kind,sample",
    [("llama", False), ("gpt2", False), ("qwen2", True), ("mistral", True), ("gemma2", False)],
    ids=["llama-greedy", "gpt2-greedy", "qwen2-sample", "mistral-sliding-sample", "gemma2-softcap-sliding-greedy"],
)
def test_generate_left_padded_batch_equals_full_forward(kind, sample):
    model = make_tiny(kind)
    ids, mask = padded_batch([7, 4, 6], 7, seed=11)
    new = 9  # with the prompt, longer than the sliding windows (5)
    kwargs = dict(max_new_tokens=new, min_new_tokens=new, do_sample=sample, pad_token_id=0)
    if sample:
        kwargs.update(top_k=0, temperature=1.0)
    torch.manual_seed(0)
    with torch.no_grad():
        plain = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        torch.manual_seed(0)
        with he.monitor(model) as mon:
            seqs = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
    assert torch.equal(plain, seqs), "monitoring changed the generated tokens"
    trace = mon.trace
    assert len(mon.traces) == 1, "one generate() is one call"
    P = ids.shape[1]
    assert trace.num_positions == P + new - 1
    assert not trace.generated[:, :P].any() and trace.generated[:, P:].all()
    _assert_same_as_full_forward(model, trace, seqs, mask)


def test_rows_that_finished_are_not_valid_after_their_eos():
    model = make_tiny("llama")
    ids, mask = padded_batch([6, 4], 6, seed=2)
    kw = dict(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        free = model.generate(**kw, eos_token_id=None)
        eos = int(free[0, 6 + 2])  # row 0's third new token becomes its end of sequence
        assert eos not in free[1, 6:].tolist(), "pick another seed: row 1 must keep decoding"
        with he.monitor(model) as mon:
            seqs = model.generate(**kw, eos_token_id=eos)
    trace = mon.trace
    assert seqs.shape[1] == 6 + 6 and int(seqs[0, 6 + 2]) == eos
    # Positions 6, 7, 8 of row 0 are fed tokens 1-3 (8 is the EOS itself: already finished).
    assert trace.valid[0, 6:8].all() and not trace.valid[0, 8:].any()
    assert trace.valid[1, 2:].all() and not trace.valid[1, :2].any()


def test_beam_search_is_refused_and_model_restored():
    model = make_tiny("llama")
    ids, mask = padded_batch([5, 5], 5)
    with pytest.raises(NotImplementedError, match="beam search"):
        with he.monitor(model):
            model.generate(input_ids=ids, attention_mask=mask, num_beams=3, max_new_tokens=3, pad_token_id=0)
    assert model.config._attn_implementation == "sdpa"
    assert "generate" not in model.__dict__


def test_generate_then_forward_are_separate_calls():
    model = make_tiny("llama")
    ids, mask = padded_batch([6, 6], 6)
    with torch.no_grad(), he.monitor(model) as mon:
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
        model(input_ids=ids)
    assert len(mon.traces) == 2
    assert mon.traces[0].num_positions == 6 + 2 and mon.traces[0].generated.any()
    assert mon.traces[1].num_positions == 6 and not mon.traces[1].generated.any()


@pytest.mark.slow
def test_smollm2_chat_generation_batch(smollm2):
    model, tok = smollm2
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in ("What is the capital of France?", "Name a colour.")
    ]
    enc = tok(prompts, return_tensors="pt", padding=True)
    assert not enc.attention_mask.all(), "the batch should need left padding"
    with torch.no_grad():
        plain = model.generate(**enc, max_new_tokens=10, min_new_tokens=10, do_sample=False)
        with he.monitor(model) as mon:
            seqs = model.generate(**enc, max_new_tokens=10, min_new_tokens=10, do_sample=False)
    assert torch.equal(plain, seqs)
    assert "Paris" in tok.decode(seqs[0, enc.input_ids.shape[1]:])
    trace = mon.trace
    assert trace.shannon.shape == (2, 30, 9, enc.input_ids.shape[1] + 9)
    assert trace.model_name == "SmolLM2-135M-Instruct"
    _assert_same_as_full_forward(model, trace, seqs, enc.attention_mask, atol=2e-4)


def test_chunked_prefill_stays_prompt_and_equals_full_forward():
    model = make_tiny("llama")
    ids, mask = padded_batch([8], 8, seed=4)
    with torch.no_grad(), he.monitor(model) as mon:
        seqs = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4,
                              do_sample=False, pad_token_id=0, prefill_chunk_size=3)
    trace = mon.trace
    assert trace.num_positions == 8 + 3
    assert not trace.generated[:, :8].any() and trace.generated[:, 8:].all()
    _assert_same_as_full_forward(model, trace, seqs, mask)
    assert "EntropyTrace(" in repr(trace) and "positions=11" in repr(trace)
