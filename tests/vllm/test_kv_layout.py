"""headentropy.vllm reads K back from vLLM's CPU KV cache in each ISA's layout (no engine needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: tests/vllm run in .venv-vllm (make test-vllm)")

import torch  # noqa: E402
from vllm import _custom_ops as ops  # noqa: E402

from headentropy.vllm.backend import _KEY_LAYOUTS  # noqa: E402

ISAS = [("vec", torch.float32), ("vec", torch.bfloat16), ("vec16", torch.float32), ("amx", torch.bfloat16)]
SHAPES = [(32, 64), (128, 128), (64, 80)]
# Only the combinations vLLM uses: vec16 exactly when head_size is not a multiple of 32.
CASES = [(isa, dtype, bs, hs) for isa, dtype in ISAS for bs, hs in SHAPES if (isa == "vec16") == (hs % 32 != 0)]


@pytest.mark.parametrize("isa,dtype,block_size,head_size", CASES)
def test_keys_read_back_exactly(isa, dtype, block_size, head_size):
    if isa == "amx" and not torch.cpu._is_amx_tile_supported():
        pytest.skip("this CPU has no AMX tiles")
    torch.manual_seed(0)
    blocks, kv_heads = 5, 3
    kv_cache = torch.zeros(blocks, kv_heads, block_size, 2 * head_size, dtype=dtype)
    key_cache, value_cache = kv_cache.view(blocks, kv_heads, 2 * block_size, head_size).chunk(2, dim=2)
    n = blocks * block_size - 7
    key = torch.randn(n, kv_heads, head_size).to(dtype)
    slots = torch.randperm(blocks * block_size)[:n]
    ops.cpu_attn_reshape_and_cache(key, torch.randn_like(key), key_cache, value_cache, slots, isa)

    raw = kv_cache.view(blocks, kv_heads, 2 * block_size * head_size)[:, :, : block_size * head_size]
    order = torch.tensor([3, 0, 4, 1, 2])  # a block table in arbitrary order
    keys = _KEY_LAYOUTS[isa](raw, order, block_size, head_size)  # [Hkv, 5*bs, D]
    assert keys.shape == (kv_heads, blocks * block_size, head_size)
    where = (order.argsort()[slots // block_size]) * block_size + slots % block_size
    assert torch.equal(keys[:, where].transpose(0, 1), key)
    # A batch of block tables (decode rows read together) gives each row's keys.
    table = torch.tensor([[3, 0], [4, 1], [2, 2]])
    batched = _KEY_LAYOUTS[isa](raw, table, block_size, head_size)  # [3, Hkv, 2*bs, D]
    for row, blocks_of_row in zip(batched, table):
        assert torch.equal(row, _KEY_LAYOUTS[isa](raw, blocks_of_row, block_size, head_size))
