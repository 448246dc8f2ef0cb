"""report/build.py without a browser: stacking traces of a dataset, token text of partial characters."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer

from headentropy import EntropyTrace
from headentropy.hf import models
from headentropy.report import build_report, stack_traces
from headentropy.report.build import _byte_pieces


def _trace(n: int, seed: int) -> EntropyTrace:
    B, L, H = 1, 3, 2
    g = torch.Generator().manual_seed(seed)
    n_keys = torch.arange(1, n + 1, dtype=torch.int32).expand(B, L, n).clone()  # [B, L, N]
    h = torch.rand(B, L, H, n, generator=g) * torch.log(n_keys.float())[:, :, None, :]
    return EntropyTrace(shannon=h, renyi2=0.7 * h, sink_mass=torch.rand(B, L, H, n, generator=g),
                        valid=torch.ones(B, n, dtype=torch.bool), generated=torch.zeros(B, n, dtype=torch.bool),
                        token_ids=torch.arange(n)[None].clone(), n_keys=n_keys, layers=[0, 1, 2], model_name="m")


def test_stack_traces_pads_with_invalid_positions():
    # Long enough to be analysed (>= MIN_POSITIONS positions with >= MIN_KEYS keys each).
    a, b = _trace(17, 0), _trace(25, 1)
    s = stack_traces([a, b])
    assert s.shannon.shape == (2, 3, 2, 25)
    assert s.valid[0].tolist() == [True] * 17 + [False] * 8 and bool(s.valid[1].all())
    assert torch.equal(s.shannon[0, ..., :17], a.shannon[0]) and torch.equal(s.shannon[1], b.shannon[0])
    report = build_report(s)
    # Padding is not shown: each sequence lists only its own tokens.
    assert [len(q["tokens"]) for q in report["sequences"]] == [17, 25]
    assert None not in report["profile"]["shannon_normalized"]
    # The per-layer profile equals the mean over both sequences' usable entries.
    single = build_report(stack_traces([b]))
    assert report["profile"]["shannon_normalized"] != single["profile"]["shannon_normalized"]


def test_partial_utf8_tokens_show_their_bytes():
    tok = AutoTokenizer.from_pretrained(models._smollm2_cache_path(models.smollm2_gguf()))
    ids = tok("hi 👋 there")["input_ids"]
    shown = [_byte_pieces(tok, i) for i in ids]
    # 👋 is F0 9F 91 8B in UTF-8, split over byte-level tokens; whole tokens decode as text.
    assert "".join(shown).replace(" ", "").count("<") == len([s for s in shown if s.strip().startswith("<")])
    assert "F0 9F" in "".join(shown) and "8B" in "".join(shown)
    assert shown[0] == "hi" and shown[-1] == " there"
