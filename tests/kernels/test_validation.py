"""Bad input raises a ValueError that names the argument and the expected shape."""

from __future__ import annotations

import pytest
import torch

import headentropy as he


def _qkv(B=1, Hq=4, Hkv=2, Lq=5, Lk=7, D=8, dtype=torch.float32):
    return (torch.randn(B, Hq, Lq, D, dtype=dtype), torch.randn(B, Hkv, Lk, D, dtype=dtype),
            torch.randn(B, Hkv, Lk, D, dtype=dtype))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda q, k, v: (q[0], k, v), r"q must have 4 dims \[B, Hq, Lq, D\], got shape \(4, 5, 8\)"),
        (lambda q, k, v: (q, k[..., :4], v), r"k must be \[B=1, Hkv, Lk, D=8\]"),
        (lambda q, k, v: (q, torch.randn(1, 3, 7, 8), None), r"q heads \(4\) must be a multiple of k/v heads \(3\)"),
        (lambda q, k, v: (q, k, v[:, :, :3]), r"v must be \[B=1, Hkv=2, Lk=7, Dv\]"),
        (lambda q, k, v: (q, k.double(), v), r"k has dtype torch.float64 but q has torch.float32"),
        (lambda q, k, v: (q, k, v.half()), r"v has dtype torch.float16"),
        (lambda q, k, v: (q.long(), k, v), r"q must be float16/bfloat16/float32/float64"),
        (lambda q, k, v: ([1.0], k, v), r"q must be a torch.Tensor"),
    ],
    ids=["q-rank", "k-headdim", "gqa-divisibility", "v-length", "k-dtype", "v-dtype", "int-q", "not-a-tensor"],
)
def test_bad_tensors(make, match):
    q, k, v = make(*_qkv())
    with pytest.raises(ValueError, match=match):
        he.attention(q, k, v)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(attn_mask=torch.ones(1, 4, 5, 6, dtype=torch.bool)), r"attn_mask of shape \(1, 4, 5, 6\) does not broadcast to \[B, Hq, Lq, Lk\] = \[1, 4, 5, 7\]"),
        (dict(attn_mask=torch.ones(2, 1, 1, 7, dtype=torch.bool)), r"does not broadcast"),
        (dict(attn_mask=torch.ones(1, 1, 1, 1, 7, dtype=torch.bool)), r"does not broadcast"),
        (dict(attn_mask=torch.ones(1, 7, dtype=torch.int64)), r"attn_mask must be bool \(True = attend\) or an additive float"),
        (dict(window=0), r"window must be a positive int"),
        (dict(window=-3), r"window must be a positive int"),
        (dict(window=2.5), r"window must be a positive int"),
        (dict(softcap=0.0), r"softcap must be a positive finite number"),
        (dict(softcap=float("inf")), r"softcap must be a positive finite number"),
        (dict(scale=float("nan")), r"scale must be a finite number"),
        (dict(sink_tokens=-1), r"sink_tokens must be an int >= 0"),
        (dict(backend="cuda-magic"), r"backend='cuda-magic' is unknown; expected one of: auto"),
    ],
    ids=["mask-lk", "mask-batch", "mask-rank", "mask-int", "window-0", "window-neg", "window-float",
         "softcap-0", "softcap-inf", "scale-nan", "sinks-neg", "backend-unknown"],
)
def test_bad_arguments(kwargs, match):
    q, k, v = _qkv()
    with pytest.raises(ValueError, match=match):
        he.attention(q, k, v, **kwargs)


def test_broadcastable_masks_are_accepted_in_every_form():
    q, k, v = _qkv()
    base = he.attention(q, k, v, backend="torch", attn_mask=torch.ones(1, 4, 5, 7, dtype=torch.bool))
    for shape in [(7,), (5, 7), (1, 1, 5, 7), (1, 4, 1, 7), (1, 1, 1, 1)]:
        r = he.attention(q, k, v, backend="torch", attn_mask=torch.ones(shape, dtype=torch.bool))
        torch.testing.assert_close(r.shannon, base.shannon, rtol=0, atol=0)


def test_backends_report_availability_and_reason():
    statuses = he.backends()
    assert {"torch", "reference"} <= set(statuses)
    for status in statuses.values():
        assert isinstance(status.available, bool) and status.reason
    assert statuses["torch"].available


def test_forcing_a_backend_on_the_wrong_device_is_a_clear_error():
    from headentropy.kernels import dispatch

    reasons = {name: s for name, s in he.backends().items() if "cpu" not in s.devices}
    for name in reasons:
        with pytest.raises(ValueError, match=f"backend='{name}' runs on"):
            dispatch.resolve_backend(name, torch.device("cpu"))


def test_auto_resolves_to_an_available_backend_and_says_which():
    q, k, v = _qkv()
    r = he.attention(q, k, v)
    assert he.backends()[r.backend].available
    assert r.backend != "reference"


def test_result_is_immutable():
    q, k, v = _qkv()
    r = he.attention(q, k, v, backend="torch")
    with pytest.raises(AttributeError):
        r.shannon = None
