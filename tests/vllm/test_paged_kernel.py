"""The paged-cache statistics kernel (kernels/cpu/paged_entropy.cpp) equals he.attention.

Caches are written by vLLM's own `cpu_attn_reshape_and_cache` in each ISA's K layout, with block
tables in random order; each request's keys are known, so the reference is `he.attention` on
them (fp64 `reference` backend) with bottom-right causal alignment. No engine is started.
"""

from __future__ import annotations

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: tests/vllm run in .venv-vllm (make test-vllm)")

import torch  # noqa: E402
from vllm import _custom_ops as ops  # noqa: E402

import headentropy as he  # noqa: E402
from headentropy.kernels.cpu import loader  # noqa: E402
from headentropy.vllm.backend import LAYOUT_CODES  # noqa: E402


@pytest.fixture(scope="module")
def ext():
    try:
        return loader.PAGED.load()
    except loader.KernelUnavailable as e:
        pytest.skip(f"paged kernel unavailable: {e}")


def _amx():
    return torch.cpu._is_amx_tile_supported()


def _build(isa, dtype, block_size, D, Hkv, requests, seed=0, extra_blocks=3):
    """A paged cache holding each request's keys; requests = [(Lq, Lk)] in metadata order."""
    g = torch.Generator().manual_seed(seed)
    need = sum((lk + block_size - 1) // block_size for _, lk in requests)
    num_blocks = need + extra_blocks
    kv_cache = torch.zeros(num_blocks, Hkv, block_size, 2 * D, dtype=dtype)
    # Garbage everywhere first: the kernel must read only the request's own slots.
    kv_cache.copy_(torch.randn(kv_cache.shape, generator=g).to(dtype) * 50)
    key_cache, value_cache = kv_cache.view(num_blocks, Hkv, 2 * block_size, D).chunk(2, dim=2)
    perm = torch.randperm(num_blocks, generator=g)
    max_blocks = max((lk + block_size - 1) // block_size for _, lk in requests)
    table = torch.full((len(requests), max_blocks + 2), -1, dtype=torch.int32)  # unused tail: -1
    keys, used = [], 0
    for i, (_, lk) in enumerate(requests):
        nb = (lk + block_size - 1) // block_size
        blocks = perm[used: used + nb]
        used += nb
        table[i, :nb] = blocks.to(torch.int32)
        k = (torch.randn(lk, Hkv, D, generator=g) * 1.5).to(dtype)
        slots = blocks[torch.arange(lk) // block_size] * block_size + torch.arange(lk) % block_size
        ops.cpu_attn_reshape_and_cache(k, torch.zeros_like(k), key_cache, value_cache, slots, isa)
        keys.append(k)
    qsl = torch.tensor([0] + [lq for lq, _ in requests], dtype=torch.int32).cumsum(0).to(torch.int32)
    seq_lens = torch.tensor([lk for _, lk in requests], dtype=torch.int32)
    return kv_cache, table, qsl, seq_lens, keys


def _reference(q, keys, qsl, scale, softcap=None, window=None, sinks=4):
    T, H, _ = q.shape
    stats = torch.zeros(T, H, 3)
    for i, k in enumerate(keys):
        qs, qe = int(qsl[i]), int(qsl[i + 1])
        if qe == qs:
            continue
        r = he.attention(q[qs:qe].permute(1, 0, 2)[None].float(), k.permute(1, 0, 2)[None].float(), None,
                         causal=True, scale=scale, softcap=softcap, window=window, sink_tokens=sinks,
                         backend="reference")
        stats[qs:qe] = torch.stack([r.shannon[0], r.renyi2[0], r.sink_mass[0]], dim=-1).transpose(0, 1)
    return stats


def _run(ext, isa, dtype, block_size, D, H, Hkv, requests, seed=0, softcap=None, window=None, sinks=4,
         scale=None):
    kv_cache, table, qsl, seq_lens, keys = _build(isa, dtype, block_size, D, Hkv, requests, seed)
    T = int(qsl[-1])
    g = torch.Generator().manual_seed(seed + 1)
    # query as the engine hands it: a [T, H, D] view with a padded token stride (q of a qkv split)
    qkv = (torch.randn(T + 2, H + 2 * Hkv, D, generator=g) * 1.5).to(dtype)
    q = qkv[:T, :H]
    scale = D ** -0.5 if scale is None else scale
    out = torch.full((T, H, 3), float("nan"))
    n_keys = torch.zeros(T, dtype=torch.int32)
    ext.paged_stats(q, kv_cache, table, qsl, seq_lens, LAYOUT_CODES[isa], scale, softcap or 0.0,
                    window or 0, sinks, out, n_keys)
    ref = _reference(q, keys, qsl, scale, softcap, window, sinks)
    pos = torch.cat([torch.arange(lk - lq, lk) for lq, lk in requests])
    expected_keys = pos + 1 if window is None else torch.clamp(pos + 1, max=window)
    assert torch.equal(n_keys, expected_keys.to(torch.int32))
    return out, ref


ISAS = [("vec", torch.float32), ("vec", torch.bfloat16), ("vec", torch.float16), ("amx", torch.bfloat16)]
SHAPES = [(32, 64), (128, 64), (64, 128), (32, 80)]  # (block_size, head_size); 80 -> vec16
CASES = []
for isa, dtype in ISAS:
    for bs, hs in SHAPES:
        if hs % 32 != 0:
            if isa == "amx":
                continue
            isa_ = "vec16"
        else:
            isa_ = isa
        CASES.append((isa_, dtype, bs, hs))

# decode rows (Lq = 1), whole prompts (Lq = Lk), prefill chunks (Lq < Lk), block boundaries
REQUESTS = [(1, 1), (1, 31), (1, 32), (1, 33), (1, 300), (5, 5), (17, 17), (1, 64), (1, 65), (40, 97),
            (1, 128), (3, 129), (1, 257), (0, 7), (1, 200)]


@pytest.mark.parametrize("isa,dtype,block_size,head_size", CASES)
def test_paged_stats_equal_attention(ext, isa, dtype, block_size, head_size):
    if isa == "amx" and not _amx():
        pytest.skip("this CPU has no AMX tiles")
    out, ref = _run(ext, isa, dtype, block_size, head_size, H=9, Hkv=3, requests=REQUESTS)
    torch.testing.assert_close(out, ref, rtol=0, atol=3e-5)


@pytest.mark.parametrize("H,Hkv", [(4, 4), (8, 4), (8, 1), (14, 2)])  # G = 1, 2, 8 (tiles split a token), 7
@pytest.mark.parametrize("isa,dtype", [("vec", torch.float32), ("amx", torch.bfloat16)])
def test_gqa_groups(ext, isa, dtype, H, Hkv):
    if isa == "amx" and not _amx():
        pytest.skip("this CPU has no AMX tiles")
    out, ref = _run(ext, isa, dtype, 32, 64, H=H, Hkv=Hkv, requests=[(1, 45), (9, 70), (1, 1), (33, 33)], seed=3)
    torch.testing.assert_close(out, ref, rtol=0, atol=3e-5)


@pytest.mark.parametrize("length", [1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 299, 300])
def test_every_length_decode_and_prefill(ext, length):
    isa, dtype = ("amx", torch.bfloat16) if _amx() else ("vec", torch.float32)
    out, ref = _run(ext, isa, dtype, 32, 64, H=6, Hkv=2, requests=[(1, length), (length, length)], seed=length)
    torch.testing.assert_close(out, ref, rtol=0, atol=3e-5)


@pytest.mark.parametrize("isa,dtype", [("vec", torch.float32), ("amx", torch.bfloat16)])
def test_window_softcap_sinks(ext, isa, dtype):
    if isa == "amx" and not _amx():
        pytest.skip("this CPU has no AMX tiles")
    req = [(1, 300), (50, 120), (1, 20), (7, 7)]
    for kw in (dict(window=37), dict(window=1), dict(softcap=5.0), dict(sinks=0), dict(sinks=40, window=100)):
        out, ref = _run(ext, isa, dtype, 32, 64, H=6, Hkv=2, requests=req, seed=7, **kw)
        torch.testing.assert_close(out, ref, rtol=0, atol=3e-5, msg=lambda m, kw=kw: f"{kw}: {m}")


def _naive_fp32(q, keys, qsl, scale, sinks=4):
    """Statistics of a materialised fp32 softmax: the §7 tolerance yardstick."""
    T, H, _ = q.shape
    stats = torch.zeros(T, H, 3)
    for i, k in enumerate(keys):
        qs, qe = int(qsl[i]), int(qsl[i + 1])
        Lq, Lk = qe - qs, k.shape[0]
        G = H // k.shape[1]
        kk = k.float().repeat_interleave(G, dim=1).permute(1, 2, 0)  # [H, D, Lk]
        s = scale * (q[qs:qe].float().permute(1, 0, 2) @ kk)  # [H, Lq, Lk]
        pos = torch.arange(Lk - Lq, Lk)[:, None]
        s = s.masked_fill(torch.arange(Lk)[None] > pos, float("-inf"))
        p = torch.softmax(s, dim=-1)
        logp = torch.log_softmax(s, dim=-1)
        h = -(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum(-1)
        h2 = -torch.log((p * p).sum(-1))
        stats[qs:qe] = torch.stack([h, h2, p[..., :sinks].sum(-1)], dim=-1).transpose(0, 1)
    return stats


def test_large_logits_and_threads(ext):
    # Peaked rows (scores ×100 of the usual) and a call large enough to run on several threads:
    # the §7 rule, error ≤ 2 × that of a naive fp32 implementation + a small floor.
    torch.set_num_threads(2)
    try:
        requests = [(1, 300)] * 8 + [(200, 260)]
        out, ref = _run(ext, "vec", torch.float32, 32, 64, H=9, Hkv=3, scale=8.0, requests=requests, seed=11)
    finally:
        torch.set_num_threads(1)
    assert torch.isfinite(out).all()
    # the same inputs again, for the yardstick
    kv_cache, table, qsl, seq_lens, keys = _build("vec", torch.float32, 32, 64, 3, requests, 11)
    T = int(qsl[-1])
    g = torch.Generator().manual_seed(12)
    q = (torch.randn(T + 2, 9 + 6, 64, generator=g) * 1.5)[:T, :9]
    naive = _naive_fp32(q, keys, qsl, 8.0)
    err, naive_err = (out - ref).abs().amax(dim=(0, 1)), (naive - ref).abs().amax(dim=(0, 1))
    assert (err <= 2 * naive_err + 1e-5).all(), (err, naive_err)
    assert float(err.max()) < 1e-4


def test_bad_block_table_raises(ext):
    kv_cache, table, qsl, seq_lens, _ = _build("vec", torch.float32, 32, 64, 1, [(1, 40)])
    table[0, 1] = kv_cache.shape[0]  # past the cache
    q = torch.randn(1, 2, 64)
    with pytest.raises(RuntimeError, match="block-table entry out of range"):
        ext.paged_stats(q, kv_cache, table, qsl, seq_lens, 0, 0.125, 0.0, 0, 4, torch.zeros(1, 2, 3),
                        torch.zeros(1, dtype=torch.int32))


@pytest.mark.parametrize("isa,dtype", [("vec", torch.float32), ("amx", torch.bfloat16)])
def test_fallback_without_kernel_agrees(ext, isa, dtype):
    """The per-request he.attention path (no compiler) gives the kernel's statistics."""
    from types import SimpleNamespace

    from headentropy.vllm.backend import _KEY_LAYOUTS, EntropyCPUAttentionImpl

    if isa == "amx" and not _amx():
        pytest.skip("this CPU has no AMX tiles")
    requests = [(1, 70), (12, 40), (1, 1), (5, 5)]
    kv_cache, table, qsl, seq_lens, _ = _build(isa, dtype, 32, 64, 3, requests, seed=5)
    T = int(qsl[-1])
    q = torch.randn(T, 9, 64).to(dtype)
    out, n_keys = torch.empty(T, 9, 3), torch.empty(T, dtype=torch.int32)
    ext.paged_stats(q, kv_cache, table, qsl, seq_lens, LAYOUT_CODES[isa], 0.125, 0.0, 0, 4, out, n_keys)
    raw = kv_cache.view(kv_cache.shape[0], 3, -1)[:, :, : 32 * 64]
    meta = SimpleNamespace(query_start_loc=qsl, seq_lens=seq_lens, block_table=table)
    stats, keys = EntropyCPUAttentionImpl._record_per_request(SimpleNamespace(scale=0.125), raw, _KEY_LAYOUTS[isa],
                                                              q, meta, 32, None, None)
    assert torch.equal(keys, n_keys)
    torch.testing.assert_close(stats, out, rtol=0, atol=3e-5)


def test_backend_falls_back_when_the_kernel_cannot_be_built(monkeypatch):
    import headentropy.vllm.backend as backend

    def unavailable():
        raise loader.KernelUnavailable("no C++ compiler found")

    monkeypatch.setattr(loader.PAGED, "load", unavailable)
    monkeypatch.setattr(backend, "KERNEL", "auto")
    assert backend._paged_kernel() is None
    monkeypatch.setattr(backend, "KERNEL", "paged")
    with pytest.raises(loader.KernelUnavailable):
        backend._paged_kernel()
    monkeypatch.setattr(backend, "KERNEL", "torch")  # an he.attention backend: the per-request path
    assert backend._paged_kernel() is None
