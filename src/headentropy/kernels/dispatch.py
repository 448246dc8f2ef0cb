"""`he.attention()`: argument validation, the backend registry and the one place a backend is chosen.

Every backend answers `supports(problem, needs_grad) -> None | reason` (docs/design.md §3). `"auto"`
takes the first registered backend that supports the call; a forced backend that cannot serve
it raises `BackendUnavailable` (a `ValueError`) with the reason. No backend re-routes
internally, so `AttentionResult.backend` always names the code that ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .triton import backend as _triton_backend  # cheap: imports triton only when it runs
from .cpu import backend as _cpu_backend  # cheap: compiles only when probed
from .autograd import needs_grad
from .dropout import draw_seed
from .problem import SUPPORTED_DTYPES, AttentionProblem, default_scale
from .result import AttentionResult


class BackendUnavailable(ValueError):
    """The backend asked for cannot serve this call here; the message says why."""


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    reason: str  # why it is (not) available, in words
    devices: tuple[str, ...]  # device types it runs on


Supports = Callable[[AttentionProblem, bool], "str | None"]


@dataclass(frozen=True)
class Backend:
    """One attention implementation: where it runs, and which problems it takes.

    `supports(problem, needs_grad)` returns None when `run(problem)` will compute this problem
    itself, or the reason it will not; `run` never hands a problem on to another backend, so
    the result's `backend` always names the code that ran.
    """

    name: str
    devices: tuple[str, ...]
    probe: Callable[[], tuple[bool, str]]  # cheap availability check, may import lazily
    supports: Supports
    run: Callable[[AttentionProblem], AttentionResult]
    auto: bool = True  # whether "auto" may pick it


def _always() -> tuple[bool, str]:
    return True, "pure PyTorch, always available"


def _device_reason(backend: "Backend", problem: AttentionProblem) -> str | None:
    device = problem.q.device
    if device.type == "meta":
        return "meta tensors hold no data to attend over"
    if device.type not in backend.devices:
        return f"it runs on {'/'.join(backend.devices)} tensors, got tensors on {device}"
    ok, reason = backend.probe()
    return None if ok else f"not available here: {reason}"


def _run_reference(problem: AttentionProblem) -> AttentionResult:
    from .reference import reference_attention

    return reference_attention(problem)


def _reference_supports(problem: AttentionProblem, needs_grad: bool) -> str | None:
    from .reference import MAX_REFERENCE_ELEMENTS

    n_scores = problem.batch * problem.q_heads * problem.q_len * problem.k_len
    if n_scores > MAX_REFERENCE_ELEMENTS:
        return (f"it materialises the full B*Hq*Lq*Lk = {n_scores} score matrix in fp64; the limit is "
                f"{MAX_REFERENCE_ELEMENTS}. Use backend='torch' or 'auto'")
    return None


def _run_torch(problem: AttentionProblem) -> AttentionResult:
    from .torch_blocked import torch_blocked_attention

    return torch_blocked_attention(problem)


def _every_problem(problem: AttentionProblem, needs_grad: bool) -> str | None:
    """torch and cpu take every validated problem, with or without gradients (recomputing backward)."""
    return None


# Order matters for "auto": the first backend that supports the problem wins, so fused
# backends are listed before the portable fallback.
_REGISTRY: dict[str, Backend] = {}


def register_backend(backend: Backend) -> None:
    """Add (or replace) a backend; "auto" tries backends in registration order."""
    _REGISTRY[backend.name] = backend


# CPU tensors reach triton only through Triton's interpreter (TRITON_INTERPRET=1, for tests):
# the probe reports unavailable without CUDA or the interpreter.
register_backend(Backend("triton", ("cuda", "cpu"), _triton_backend.probe, _triton_backend.supports, _triton_backend.run))
register_backend(Backend("cpu", ("cpu",), _cpu_backend.probe, _every_problem, _cpu_backend.run))
register_backend(Backend("torch", ("cpu", "cuda", "mps", "xpu"), _always, _every_problem, _run_torch))
# The fp64 reference is ground truth for tests: "auto" never picks it.
register_backend(Backend("reference", ("cpu", "cuda", "mps", "xpu"), _always, _reference_supports, _run_reference,
                         auto=False))
# Preference of "auto" per device type: triton on CUDA, the C++ kernel on CPU; the interpreter
# is for tests only, so "auto" never sends CPU tensors to triton.
_AUTO_SKIP: dict[str, tuple[str, ...]] = {"cpu": ("triton",)}


def backends() -> dict[str, BackendStatus]:
    """Every known backend, whether it is available here and why (not)."""
    statuses = {}
    for b in _REGISTRY.values():
        ok, reason = b.probe()
        statuses[b.name] = BackendStatus(b.name, ok, reason, b.devices)
    return statuses


def _known(backend: str) -> Backend:
    if not isinstance(backend, str):
        raise BackendUnavailable(f"backend must be a string, got {type(backend).__name__}")
    if backend not in _REGISTRY:
        known = ", ".join(["auto", *_REGISTRY])
        raise BackendUnavailable(f"backend={backend!r} is unknown; expected one of: {known}")
    return _REGISTRY[backend]


def _auto_candidates(device: torch.device) -> list[Backend]:
    skip = _AUTO_SKIP.get(device.type, ())
    return [b for b in _REGISTRY.values() if b.auto and b.name not in skip]


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend a call on `device` will use before looking at the problem (what the monitor
    checks on enter and `headentropy backends` prints). Raises `BackendUnavailable`."""
    if backend == "auto":
        for b in _auto_candidates(device):
            if device.type in b.devices and b.probe()[0]:
                return b.name
        raise BackendUnavailable(f"no backend runs on {device} tensors")
    b = _known(backend)
    if device.type not in b.devices:
        raise BackendUnavailable(f"backend={backend!r} runs on {'/'.join(b.devices)} tensors, got tensors on {device}")
    ok, reason = b.probe()
    if not ok:
        raise BackendUnavailable(f"backend={backend!r} is not available here: {reason}")
    return backend


def choose_backend(backend: str, problem: AttentionProblem, needs_grad: bool) -> Backend:
    """The backend that will run `problem`: the forced one if it supports it, else the first
    "auto" candidate that does. Raises `BackendUnavailable` with the reason(s)."""
    if backend != "auto":
        b = _known(backend)
        reason = _device_reason(b, problem) or b.supports(problem, needs_grad)
        if reason is not None:
            raise BackendUnavailable(f"backend={backend!r} cannot run this call: {reason}")
        return b
    reasons = []
    for b in _auto_candidates(problem.q.device):
        reason = _device_reason(b, problem) or b.supports(problem, needs_grad)
        if reason is None:
            return b
        reasons.append(f"{b.name}: {reason}")
    raise BackendUnavailable("no backend can run this call (" + "; ".join(reasons) + ")")


def _check_tensor(name: str, x: object, rank: int, layout: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(f"{name} must have {rank} dims {layout}, got shape {tuple(x.shape)}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} must be float16/bfloat16/float32/float64, got {x.dtype}")
    return x


def build_problem(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor | None = None,
    *,
    causal: bool = False,
    attn_mask: torch.Tensor | None = None,
    scale: float | None = None,
    window: int | None = None,
    softcap: float | None = None,
    sink_tokens: int = 4,
    dropout_p: float = 0.0,
    dropout_seed: int | None = None,
) -> AttentionProblem:
    """Validate the arguments of `attention()`; every error names the argument and what was expected."""
    q = _check_tensor("q", q, 4, "[B, Hq, Lq, D]")
    k = _check_tensor("k", k, 4, "[B, Hkv, Lk, D]")
    B, Hq, Lq, D = q.shape
    _, Hkv, Lk, _ = k.shape
    if k.shape[0] != B or k.shape[3] != D:
        raise ValueError(
            f"k must be [B={B}, Hkv, Lk, D={D}] to match q {tuple(q.shape)}, got {tuple(k.shape)}"
        )
    if Hkv == 0 or Hq % Hkv != 0:
        raise ValueError(
            f"q heads ({Hq}) must be a multiple of k/v heads ({Hkv}) for GQA/MQA; "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}"
        )
    tensors = {"q": q, "k": k}
    if v is not None:
        v = _check_tensor("v", v, 4, "[B, Hkv, Lk, Dv]")
        if v.shape[:3] != k.shape[:3]:
            raise ValueError(
                f"v must be [B={B}, Hkv={Hkv}, Lk={Lk}, Dv] like k, got {tuple(v.shape)}"
            )
        tensors["v"] = v
    for name, x in tensors.items():
        if x.dtype != q.dtype:
            raise ValueError(f"{name} has dtype {x.dtype} but q has {q.dtype}; they must match")
        if x.device != q.device:
            raise ValueError(f"{name} is on {x.device} but q is on {q.device}; they must match")

    if attn_mask is not None:
        if not isinstance(attn_mask, torch.Tensor):
            raise ValueError(f"attn_mask must be a tensor or None, got {type(attn_mask).__name__}")
        if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
            raise ValueError(
                f"attn_mask must be bool (True = attend) or an additive float mask, got {attn_mask.dtype}"
            )
        if attn_mask.device != q.device:
            raise ValueError(f"attn_mask is on {attn_mask.device} but q is on {q.device}")
        target = (B, Hq, Lq, Lk)
        # Right-aligned, each size 1 or the target's (torch.broadcast_shapes costs ~0.2 ms a call).
        shape = tuple(attn_mask.shape)
        ok = len(shape) <= 4 and all(m in (1, t) for m, t in zip(shape[::-1], target[::-1]))
        if not ok:
            raise ValueError(
                f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                f"[B, Hq, Lq, Lk] = {list(target)}"
            )

    if scale is None:
        scale = default_scale(D)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"window must be a positive int (keys (i - window, i]) or None, got {window!r}")
    if softcap is not None and (
        isinstance(softcap, bool) or not isinstance(softcap, (int, float)) or not softcap > 0
        or not math.isfinite(softcap)
    ):
        raise ValueError(f"softcap must be a positive finite number or None, got {softcap!r}")
    if isinstance(sink_tokens, bool) or not isinstance(sink_tokens, int) or sink_tokens < 0:
        raise ValueError(f"sink_tokens must be an int >= 0, got {sink_tokens!r}")
    if (isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float))
            or not 0.0 <= dropout_p < 1.0):
        raise ValueError(f"dropout_p must be a number in [0, 1), got {dropout_p!r}")
    if dropout_seed is not None and (isinstance(dropout_seed, bool) or not isinstance(dropout_seed, int)):
        raise ValueError(f"dropout_seed must be an int or None, got {dropout_seed!r}")
    if dropout_p > 0.0 and v is not None and dropout_seed is None:
        dropout_seed = draw_seed()  # from torch's generator: torch.manual_seed reproduces the mask
    if dropout_p == 0.0 or v is None:
        dropout_p, dropout_seed = 0.0, 0  # no P·V, or no dropout: nothing to seed

    return AttentionProblem(
        q=q,
        k=k,
        v=v,
        attn_mask=attn_mask,
        scale=float(scale),
        causal=bool(causal),
        window=window,
        softcap=None if softcap is None else float(softcap),
        sink_tokens=sink_tokens,
        dropout_p=float(dropout_p),
        dropout_seed=int(dropout_seed),
    )


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor | None = None,
    *,
    causal: bool = False,
    attn_mask: torch.Tensor | None = None,
    scale: float | None = None,
    window: int | None = None,
    softcap: float | None = None,
    sink_tokens: int = 4,
    dropout_p: float = 0.0,
    dropout_seed: int | None = None,
    backend: str = "auto",
) -> AttentionResult:
    """Softmax attention plus per-row entropy statistics, without storing the N×N matrix.

    Shapes: q `[B, Hq, Lq, D]`, k `[B, Hkv, Lk, D]`, v `[B, Hkv, Lk, Dv]` or None (statistics
    only: no P·V work, `out` is None). `Hq % Hkv == 0`; query head h reads KV head h // (Hq/Hkv).

    Scores: `s = scale·q·kᵀ` (scale defaults to 1/√D), then `softcap·tanh(s/softcap)`, then
    `attn_mask` (bool: True = attend; float: added) — all broadcast to `[B, Hq, Lq, Lk]`.

    `causal=True` with Lq < Lk is aligned bottom-right, as when decoding with a KV cache
    (query i sees keys j ≤ i + Lk - Lq). Lq = 2, Lk = 4::

        keys   0 1 2 3
        q0     x x x .
        q1     x x x x

    `window=w` lets query i see keys in (i - w, i] (same alignment; implies no look-ahead).

    Returns an `AttentionResult` with `out` (dtype of v), and fp32 `[B, Hq, Lq]` statistics in
    nats: `shannon`, `renyi2`, `lse`, `sink_mass` (probability on the first `sink_tokens` keys).
    A row with no visible key gets out = 0, H = H2 = sink_mass = 0, lse = -inf.
    NaN/inf inputs make only the rows that depend on them non-finite.

    `dropout_p > 0` applies attention dropout inside the kernel: `out = (P ⊙ Z / (1 - p))·V`
    with a keep-mask `Z` hashed from `(dropout_seed, batch, head, row, key)` (kernels/dropout.py),
    regenerated in the backward, identical on every backend. The statistics still describe P
    before dropout. `dropout_seed=None` draws a seed from torch's default generator (so
    `torch.manual_seed` reproduces the mask). Without v (statistics only) dropout does nothing.
    """
    problem = build_problem(
        q,
        k,
        v,
        causal=causal,
        attn_mask=attn_mask,
        scale=scale,
        window=window,
        softcap=softcap,
        sink_tokens=sink_tokens,
        dropout_p=dropout_p,
        dropout_seed=dropout_seed,
    )
    chosen = choose_backend(backend, problem, needs_grad(problem))
    return chosen.run(problem)
