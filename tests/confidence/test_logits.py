"""Token log-probabilities and predictive entropy come from the same forward, aligned with positions."""

from __future__ import annotations

import math

import pytest
import torch

import headentropy as he
from headentropy.capture.logits import token_logit_stats


def _prompts(tok, texts):
    tok.padding_side = "left"
    return tok([tok.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
                for t in texts], return_tensors="pt", padding=True, add_special_tokens=False)


def test_generate_logprobs_match_the_models_own_scores(smollm2):
    model, tok = smollm2
    enc = _prompts(tok, ["What is the chemical symbol for gold?", "Who wrote Hamlet?"])
    with he.monitor(model) as mon:
        out = model.generate(**enc, max_new_tokens=8, do_sample=False, output_logits=True,
                             return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    trace = mon.trace
    P = enc["input_ids"].shape[1]
    logp = torch.stack([torch.log_softmax(x.float(), -1) for x in out.logits], 1)  # [B, T, V]
    chosen = logp.gather(2, out.sequences[:, P:, None])[..., 0]  # [B, T]
    entropy = -(logp.exp() * logp).sum(-1)  # [B, T]
    T = chosen.shape[1] - 1  # the last sampled token is never fed back, so it has no position
    # generated position P + t holds token t of the answer, drawn from the logits of step t
    torch.testing.assert_close(trace.token_logprob[:, P:P + T], chosen[:, :T], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(trace.predictive_entropy[:, P:P + T], entropy[:, :T], atol=1e-4, rtol=1e-4)
    assert torch.isnan(trace.token_logprob[:, 0]).all()  # nothing predicted the first token


def test_full_forward_scores_every_prompt_token(smollm2):
    model, tok = smollm2
    ids = tok("The cat sat on the mat because it was tired.", return_tensors="pt").input_ids
    with he.monitor(model) as mon, torch.no_grad():
        logits = model(ids).logits[0].float()  # [N, V]
    logp = torch.log_softmax(logits, -1)
    expected = logp[:-1].gather(1, ids[0, 1:, None])[:, 0]
    torch.testing.assert_close(mon.trace.token_logprob[0, 1:], expected, atol=1e-5, rtol=1e-5)


def test_saved_trace_keeps_token_stats(smollm2, tmp_path):
    model, tok = smollm2
    ids = tok("Hello there, how are you today?", return_tensors="pt").input_ids
    with he.monitor(model) as mon, torch.no_grad():
        model(ids)
    mon.trace.save(tmp_path / "t.safetensors")
    back = he.EntropyTrace.load(tmp_path / "t.safetensors")
    assert torch.equal(back.token_logprob.nan_to_num(7.0), mon.trace.token_logprob.nan_to_num(7.0))
    assert torch.equal(back.predictive_entropy.nan_to_num(7.0), mon.trace.predictive_entropy.nan_to_num(7.0))


def test_encoder_has_no_token_stats(minilm):
    model, tok = minilm
    with he.monitor(model) as mon, torch.no_grad():
        model(**tok(["A sentence for the encoder."], return_tensors="pt"))
    assert mon.trace.token_logprob is None and mon.trace.predictive_entropy is None


@pytest.mark.parametrize("keep", [1, 3, 5])
def test_carry_and_partial_logits(keep):
    """Chunked calls with `logits_to_keep` give the same values where defined, NaN elsewhere."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=g)  # [B, Lq, V]
    ids = torch.randint(0, 11, (2, 5), generator=g)
    full, carry = token_logit_stats(logits, ids, 5, None)
    part, _ = token_logit_stats(logits[:, -keep:], ids, 5, None)
    lp = torch.log_softmax(logits, -1)
    torch.testing.assert_close(full["token_logprob"][:, 1:], lp[:, :-1].gather(2, ids[:, 1:, None])[..., 0])
    defined = torch.arange(5) >= 5 - keep + 1
    torch.testing.assert_close(part["token_logprob"][:, defined], full["token_logprob"][:, defined])
    assert torch.isnan(part["token_logprob"][:, ~defined]).all()
    nxt, _ = token_logit_stats(torch.randn(2, 1, 11, generator=g), ids[:, :1], 1, carry)
    torch.testing.assert_close(nxt["token_logprob"][:, 0], lp[:, -1].gather(1, ids[:, :1])[:, 0])
    assert math.isclose(float(nxt["predictive_entropy"][0, 0]), float(-(lp[0, -1].exp() * lp[0, -1]).sum()), rel_tol=1e-5)


@pytest.mark.parametrize("path", ["torch", "cpu"])
def test_logit_entropy_matches_fp64_on_both_paths(path):
    """The fused kernel's row pass and the torch fallback agree with fp64 log-softmax, edge rows included."""
    from headentropy.capture import logits as logit_stats
    from headentropy.kernels.cpu import loader

    kernel = None
    if path == "cpu":
        try:
            kernel = loader.load()
        except loader.KernelUnavailable as exc:
            pytest.skip(f"no fused CPU kernel here: {exc}")
    x = torch.randn(3, 21, 1000) * 8  # logits ×8: peaked rows; V not a multiple of the vector width
    x[0, 3, :400] = float("-inf")  # a masked part of the vocabulary
    x[1, 7] = float("-inf")  # an all -inf row: the entropy is undefined
    x[2, 9, 5] = float("nan")  # a NaN logit poisons its row, never a silent number
    lse, h = logit_stats.lse_entropy(x, kernel)
    x64 = x.double()
    lse64 = torch.logsumexp(x64, -1)
    p64 = torch.exp(x64 - lse64[..., None])
    h64 = lse64 - torch.where(p64 > 0, p64 * x64, torch.zeros((), dtype=torch.float64)).sum(-1)
    ok = torch.ones_like(h, dtype=torch.bool)
    ok[1, 7] = ok[2, 9] = False
    torch.testing.assert_close(lse[ok].double(), lse64[ok], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h[ok].double(), h64[ok], atol=1e-4, rtol=1e-5)
    assert torch.isnan(h[1, 7]) and lse[1, 7] == float("-inf")
    assert torch.isnan(h[2, 9]) and torch.isnan(lse[2, 9])
