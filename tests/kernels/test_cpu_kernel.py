"""`cpu` backend specifics: block boundaries, dtypes, layouts, threads, build cache, fallback.

The shared grid (test_attention.py, properties) already runs the `cpu` backend through
KERNEL_BACKENDS; this file covers what only a compiled, blocked, multi-threaded kernel can get
wrong.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch

import headentropy as he
from headentropy.kernels.cpu import backend as cpu_backend
from headentropy.kernels.cpu import loader
from headentropy.kernels.dispatch import build_problem

from .backends import backend_params
from .tolerance import STATS

pytestmark = backend_params(["cpu"])[0].marks  # skipped with the reason if it cannot build here


def _run_cpu(q, k, v, block_q=None, block_k=512, **kwargs) -> he.AttentionResult:
    return cpu_backend.run(build_problem(q, k, v, **kwargs), block_q=block_q, block_k=block_k)


def _assert_results_close(got, want, atol=2e-5, out_atol=None):
    for name in STATS:
        a, b = getattr(got, name), getattr(want, name)
        torch.testing.assert_close(a, b, rtol=0, atol=atol, equal_nan=True, msg=lambda m: f"{name}: {m}")
    if want.out is None:
        assert got.out is None
    else:
        assert got.out.dtype == want.out.dtype
        torch.testing.assert_close(got.out.float(), want.out.float(), rtol=0,
                                   atol=out_atol or atol, equal_nan=True)


def _inputs(B, Hq, Hkv, Lq, Lk, D, Dv=None, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Hq, Lq, D, generator=gen).to(dtype)
    k = torch.randn(B, Hkv, Lk, D, generator=gen).to(dtype)
    v = torch.randn(B, Hkv, Lk, Dv or D, generator=gen).to(dtype)
    return q, k, v


# Each feature with blocks far smaller than the sequence: every row crosses many key blocks,
# rows of one query block see different numbers of them, and blocks start inside windows.
FEATURES = {
    "plain": dict(),
    "causal": dict(causal=True),
    "window": dict(causal=True, window=9),
    "window-only": dict(window=4),
    "softcap": dict(causal=True, softcap=5.0),
    "scale": dict(scale=3.0),
    "sinks-across-blocks": dict(causal=True, sink_tokens=11),
}


@pytest.mark.parametrize("blocks", [(7, 5), (1, 1), (16, 3)], ids=lambda b: f"blk{b[0]}x{b[1]}")
@pytest.mark.parametrize("feature", list(FEATURES))
def test_tiny_blocks_match_fp64_reference(feature, blocks):
    q, k, v = _inputs(2, 4, 2, 23, 31, 16, Dv=12)
    kwargs = FEATURES[feature]
    got = _run_cpu(q, k, v, block_q=blocks[0], block_k=blocks[1], **kwargs)
    want = he.attention(q, k, v, backend="reference", **kwargs)
    _assert_results_close(got, want, atol=2e-5)


@pytest.mark.parametrize("mask_kind", ["bool-2d", "bool-padding", "additive-full", "additive-broadcast"])
def test_masks_with_tiny_blocks(mask_kind):
    B, Hq, Lq, Lk = 2, 4, 19, 29
    q, k, v = _inputs(B, Hq, 2, Lq, Lk, 16)
    gen = torch.Generator().manual_seed(1)
    if mask_kind == "bool-2d":
        mask = torch.rand(Lq, Lk, generator=gen) > 0.4  # [Lq, Lk], broadcast over B, H
        mask[3] = False  # a fully masked row
    elif mask_kind == "bool-padding":
        mask = torch.ones(B, 1, 1, Lk, dtype=torch.bool)  # key padding, stride 0 over H and Lq
        mask[1, ..., :7] = False
    elif mask_kind == "additive-full":
        mask = torch.randn(B, Hq, Lq, Lk, generator=gen)
        mask[torch.rand(B, Hq, Lq, Lk, generator=gen) < 0.3] = float("-inf")
        mask[0, 1, 2] = float("-inf")
    else:
        mask = torch.randn(1, Hq, 1, Lk, generator=gen).to(torch.float16)
        mask[..., 5] = float("-inf")
    got = _run_cpu(q, k, v, block_q=4, block_k=6, causal=True, attn_mask=mask)
    want = he.attention(q, k, v, backend="reference", causal=True, attn_mask=mask)
    _assert_results_close(got, want, atol=2e-5)


@pytest.mark.parametrize("dtype,atol", [(torch.bfloat16, 2e-2), (torch.float16, 4e-3), (torch.float64, 2e-5)],
                         ids=["bf16", "fp16", "fp64"])
def test_low_precision_inputs_accumulate_in_fp32(dtype, atol):
    """Same (rounded) inputs as the fp32 torch backend: stats agree tightly, out to its dtype."""
    q, k, v = _inputs(1, 4, 2, 97, 131, 32, dtype=dtype)
    got = _run_cpu(q, k, v, block_q=16, block_k=32, causal=True)
    want = he.attention(q, k, v, backend="torch", causal=True)
    assert got.out.dtype == dtype and got.shannon.dtype == torch.float32
    _assert_results_close(got, want, atol=2e-5, out_atol=atol)
    # and the fp32 computation really saw the low-precision values (not some other rounding)
    ref = he.attention(q.double(), k.double(), v.double(), backend="reference", causal=True)
    torch.testing.assert_close(got.shannon, ref.shannon.float(), rtol=0, atol=1e-4)


AMX_CASES = {  # bf16 with key blocks of 64-key multiples: the AMX brgemm path where the CPU has it
    **FEATURES,
    "bool-mask": "mask",
    "dropout": dict(causal=True, dropout_p=0.2, dropout_seed=3),
}


@pytest.mark.parametrize("blocks", [(32, 64), (16, 128), (None, 512)], ids=lambda b: f"blk{b[0]}x{b[1]}")
@pytest.mark.parametrize("case", list(AMX_CASES))
def test_bf16_products_match_fp32_on_the_rounded_inputs(case, blocks):
    """bf16 inputs (GQA, Lq != Lk): S = Q·Kᵀ from the bf16 values (exact products, fp32 sums), statistics from the
    fp32 P; only out sees P rounded to bf16. Dv = 80 gives a 64 + 16 column split of V."""
    q, k, v = _inputs(2, 4, 2, 150, 203, 32, Dv=80, dtype=torch.bfloat16)
    kwargs = AMX_CASES[case]
    if kwargs == "mask":
        mask = torch.rand(150, 203, generator=torch.Generator().manual_seed(2)) > 0.3
        mask[7] = False  # a fully masked row
        kwargs = dict(attn_mask=mask, causal=True)
    got = _run_cpu(q, k, v, block_q=blocks[0], block_k=blocks[1], **kwargs)
    want = he.attention(q.float(), k.float(), v.float(), backend="torch", **kwargs)
    want = dataclasses.replace(want, out=want.out.to(torch.bfloat16))
    _assert_results_close(got, want, atol=2e-5, out_atol=3e-2)


def test_statistics_only_does_no_pv_and_matches():
    q, k, v = _inputs(2, 6, 3, 300, 300, 64)
    full = _run_cpu(q, k, v, causal=True, window=100)
    stats = _run_cpu(q, k, None, causal=True, window=100)
    assert stats.out is None
    for name in STATS:
        assert torch.equal(getattr(stats, name), getattr(full, name)), name


def test_long_causal_gqa_matches_torch_backend():
    """Default (large) blocks on a long input: 256-row query blocks, 512-key blocks, GQA."""
    q, k, v = _inputs(1, 4, 2, 1500, 1500, 64)
    got = he.attention(q, k, v, causal=True, backend="cpu")
    want = he.attention(q, k, v, causal=True, backend="torch")
    assert got.backend == "cpu"
    _assert_results_close(got, want, atol=5e-5)


def test_decode_step_against_long_cache():
    q, k, v = _inputs(3, 8, 2, 1, 2000, 64)
    got = he.attention(q, k, v, causal=True, backend="cpu")
    want = he.attention(q, k, v, causal=True, backend="torch")
    _assert_results_close(got, want, atol=5e-5)


def test_strided_inputs_are_read_in_place_and_correct():
    """HF passes [B, L, H, D] tensors transposed to [B, H, L, D]: not contiguous, rows are."""
    B, L, H, D = 2, 77, 4, 32
    base = [torch.randn(B, L, H, D) for _ in range(3)]
    q, k, v = (x.transpose(1, 2) for x in base)  # [B, H, L, D] views
    assert not q.is_contiguous()
    got = _run_cpu(q, k, v, block_q=8, block_k=16, causal=True)
    want = _run_cpu(q.contiguous(), k.contiguous(), v.contiguous(), block_q=8, block_k=16, causal=True)
    _assert_results_close(got, want, atol=0)
    # A last dim that is not contiguous is copied, not misread.
    q_bad = torch.randn(B, H, L, D * 2)[..., ::2]
    r = _run_cpu(q_bad, k, v, block_q=8, block_k=16)
    ref = he.attention(q_bad.contiguous(), k, v, backend="reference")
    _assert_results_close(r, ref, atol=2e-5)


def test_results_do_not_depend_on_thread_count():
    """Tasks are scheduled dynamically; each row's arithmetic must not depend on who ran it."""
    q, k, v = _inputs(2, 4, 4, 600, 600, 32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run_cpu(q, k, v, causal=True)
        torch.set_num_threads(max(2, before))
        many = _run_cpu(q, k, v, causal=True)
    finally:
        torch.set_num_threads(before)
    _assert_results_close(many, one, atol=0)


def test_kernel_leaves_torch_thread_count_alone():
    before = torch.get_num_threads()
    q, k, v = _inputs(1, 2, 2, 300, 300, 16)
    _run_cpu(q, k, v)
    assert torch.get_num_threads() == before


def test_nonfinite_value_with_low_precision_and_blocks():
    q, k, v = _inputs(1, 2, 1, 20, 20, 8, dtype=torch.bfloat16)
    v[0, 0, 9, 3] = float("inf")
    r = _run_cpu(q, k, v, block_q=3, block_k=4, causal=True)
    assert torch.isfinite(r.out[:, :, :9]).all()
    assert torch.isnan(r.out[:, :, 9:]).all()
    assert torch.isfinite(r.shannon).all()


def test_auto_prefers_cpu_kernel_on_cpu():
    q, k, v = _inputs(1, 2, 2, 10, 10, 8)
    assert he.attention(q, k, v).backend == "cpu"
    assert he.backends()["cpu"].available


# --- build cache and fallback ------------------------------------------------------------------


def test_cached_build_loads_without_compiling(capfd):
    loader.load()
    so_files = list(loader.build_dir().glob(f"{loader.module_name()}*.so"))
    assert so_files, f"no shared object in {loader.build_dir()}"
    loader.reset()
    try:
        module = loader.load()
    finally:
        captured = capfd.readouterr()
    assert "compiling" not in captured.err
    assert hasattr(module, "forward")


def test_build_key_follows_source_and_torch_version(monkeypatch):
    key = loader.build_key()
    assert loader.build_key(source=b"// another kernel") != key
    monkeypatch.setattr(torch, "__version__", "0.0.0-other")
    assert loader.build_key() != key


def test_build_key_follows_the_shared_headers(monkeypatch):
    """Both kernels include vec_math.h: editing it must rebuild both (a new key for each)."""
    keys = loader.KERNEL.build_key(), loader.PAGED.build_key()
    monkeypatch.setattr(loader, "header_bytes", lambda: b"// another vec_math.h")
    assert loader.KERNEL.build_key() != keys[0] and loader.PAGED.build_key() != keys[1]


def test_every_included_local_header_is_hashed():
    import re

    for source in (loader.KERNEL.source, loader.PAGED.source):
        local = set(re.findall(r'^#include "([^"]+)"', source.read_text(), flags=re.M))
        assert local <= set(loader.HEADERS), f"{source.name} includes {local - set(loader.HEADERS)}"
        assert all(source.with_name(name).is_file() for name in local)


@pytest.fixture
def no_compiler(monkeypatch, tmp_path):
    """A fresh, empty build cache and no compiler on PATH; the real state is restored after."""
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("CXX", "definitely-not-a-compiler-xyz")
    loader.reset()
    yield
    loader.reset()


def test_without_compiler_warns_once_and_auto_falls_back(no_compiler, recwarn):
    q, k, v = _inputs(1, 2, 2, 10, 10, 8)
    status = he.backends()["cpu"]
    assert not status.available and "compiler" in status.reason
    r = he.attention(q, k, v, causal=True)  # auto
    assert r.backend == "torch"
    with pytest.raises(he.BackendUnavailable, match="compiler"):
        he.attention(q, k, v, backend="cpu")
    warned = [w for w in recwarn.list if issubclass(w.category, RuntimeWarning)
              and "fused CPU kernel is unavailable" in str(w.message)]
    assert len(warned) == 1, [str(w.message) for w in recwarn.list]


def test_compile_message_goes_to_stderr(no_compiler, monkeypatch, capfd):
    """With a compiler 'present' but failing, the one-line message is printed, then the reason."""
    monkeypatch.setattr(loader, "find_compiler", lambda: sys.executable)

    def failing_load(**kwargs):
        raise RuntimeError("Error building extension 'x': g++: fatal error")

    import torch.utils.cpp_extension as cpp_extension

    monkeypatch.setattr(cpp_extension, "load", failing_load)
    with pytest.warns(RuntimeWarning, match="building the C\\+\\+ extension failed"):
        ok, reason = cpu_backend.probe()
    assert not ok and "fatal error" in reason
    err = capfd.readouterr().err
    assert err.count("compiling the fused CPU kernel") == 1


def test_inputs_requiring_grad_stay_on_the_cpu_backend():
    q, k, v = (x.requires_grad_() for x in _inputs(1, 2, 2, 12, 12, 8))
    r = he.attention(q, k, v, causal=True, backend="cpu")
    # The recomputing autograd Function around the C++ forward/backward: no re-routing to torch.
    assert r.backend == "cpu" and r.shannon.requires_grad and r.out.requires_grad
    (r.out.sum() + r.shannon.sum()).backward()
    assert q.grad is not None and k.grad is not None and v.grad is not None
    with torch.no_grad():
        assert he.attention(q, k, v, causal=True, backend="cpu").out.grad_fn is None


def test_concurrent_calls_from_threads_agree():
    """The kernel runs without the GIL; threads calling it at once get the sequential results."""
    import threading

    inputs = [_inputs(1, 4, 2, 400, 400, 32, seed=s) for s in range(4)]
    expected = [_run_cpu(*x, causal=True) for x in inputs]
    got = [None] * len(inputs)

    def work(i):
        got[i] = _run_cpu(*inputs[i], causal=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, e in zip(got, expected):
        _assert_results_close(g, e, atol=0)
