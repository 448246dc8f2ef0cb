"""`headentropy.vllm.logits` against a fake model runner (no vLLM needed)."""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import torch

from headentropy.trace import EntropyTrace
from headentropy.vllm import collector, logits


def _runner(req_ids, discard):
    return SimpleNamespace(input_batch=SimpleNamespace(num_reqs=len(req_ids), req_ids=list(req_ids)),
                           discard_request_mask=SimpleNamespace(np=np.array(discard, dtype=bool)))


def test_sampled_token_logprob_and_entropy_from_raw_logits(monkeypatch):
    monkeypatch.setattr(collector.COLLECTOR, "records", OrderedDict((r, None) for r in ("a-12345678", "b-12345678")))
    monkeypatch.setattr(logits, "RECORDS", OrderedDict())
    raw = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    runner = _runner(["a-12345678", "b-12345678", "c-12345678"], [False, True, False])  # b: partial prefill; c: not ours
    pre = logits.before_sample(runner, raw)
    raw.div_(0.1)  # the sampler edits the logits in place: the statistics must not see it
    sampled = torch.tensor([[7], [3], [9]])
    logits.after_sample(pre, sampled)
    ref = torch.log_softmax(raw * 0.1, dim=-1)[0]
    assert list(logits.RECORDS) == ["a-12345678"]
    (lp, h), = logits.RECORDS["a-12345678"]
    assert abs(lp - ref[7].item()) < 1e-5
    assert abs(h - -(ref.exp() * ref).sum().item()) < 1e-5
    assert logits.take("a", pop=False) == [(lp, h)] and logits.take("b") is None
    packed = logits.unpack(logits.pack(logits.take("a")))
    assert np.allclose(packed, [(lp, h)]) and not logits.RECORDS


def test_attach_puts_sample_k_at_prompt_len_plus_k():
    P, N = 4, 7  # 4 prompt positions, 3 fed answer tokens (4 samples: the last is never fed)
    t = EntropyTrace(shannon=torch.zeros(1, 1, 1, N), renyi2=None, sink_mass=None, valid=torch.ones(1, N, dtype=torch.bool),
                     generated=(torch.arange(N) >= P)[None], token_ids=torch.zeros(1, N, dtype=torch.long),
                     n_keys=torch.ones(1, 1, N, dtype=torch.int32))
    logits.attach(t, [(-0.1, 1.0), (-0.2, 2.0), (-0.3, 3.0), (-0.4, 4.0)])
    assert torch.isnan(t.token_logprob[0, :P]).all()
    assert t.token_logprob[0, P:].tolist() == torch.tensor([-0.1, -0.2, -0.3]).tolist()
    assert t.predictive_entropy[0, P:].tolist() == [1.0, 2.0, 3.0]
