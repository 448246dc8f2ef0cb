"""Taps: what the statistics of each monitored forward are fed to (docs/design.md §3).

The attention function computes the statistics of a layer call once; the model's `Capture`
(capture.py) groups the layer calls of one forward into a `Step` and hands each step of a
sampled call to the monitor's taps:

| tap        | keeps                                                   | for                 |
|------------|---------------------------------------------------------|---------------------|
| `TraceTap` | detached copies, one `EntropyTrace` per call (on CPU)   | reports, analysis   |
| `LossTap`  | device tensors with their autograd graph, this call only | regularisers        |
| `StepTap`  | nothing: calls `callback(StepEvent)` per step           | gates, streaming    |

A *call* is one top-level `model(...)` or one `model.generate(...)` (prefill + every decode
step). Each tap samples calls with `every_n_calls`: it sees calls 0, n, 2n, ... of its monitor;
a call no tap samples costs nothing beyond the attention itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..trace import STATS, TOKEN_STATS, EntropyTrace


@dataclass
class Step:
    """The statistics of one forward of the model (a prefill, a chunk of it, or a decode step)."""

    stats: dict[int, dict[str, torch.Tensor]]  # slot -> name -> [B, H, Lq], on the model's device
    n_keys: dict[int, torch.Tensor]  # slot -> [B, Lq] int32
    input_ids: torch.Tensor | None  # [B, Lq]
    mask2d: torch.Tensor | None  # [B, past + Lq] 2-D padding mask given to the model, or None
    generated: bool  # processed while decoding
    implicit: bool = False  # opened by an attention module called directly, not by the model
    token_stats: dict[str, torch.Tensor] = field(default_factory=dict)  # TOKEN_STATS name -> [B, Lq]

    @property
    def q_len(self) -> int:
        return next(iter(self.n_keys.values())).shape[1]

    def stacked(self, name: str, n_layers: int) -> torch.Tensor:
        """`[B, L, H, Lq]` on the device; NaN for a layer that did not run in this step."""
        if len(self.stats) == n_layers and len({s[name].shape for s in self.stats.values()}) == 1:
            return torch.stack([self.stats[i][name] for i in range(n_layers)], dim=1)
        first = next(iter(self.stats.values()))[name]
        heads = max(s[name].shape[1] for s in self.stats.values())
        block = torch.full((first.shape[0], n_layers, heads, first.shape[2]), float("nan"),
                           dtype=first.dtype, device=first.device)
        for slot, s in self.stats.items():
            block[:, slot, : s[name].shape[1]] = s[name]
        return block

    def stacked_n_keys(self, n_layers: int) -> torch.Tensor:
        """`[B, L, Lq]` int32 (0 for a layer that did not run)."""
        first = next(iter(self.n_keys.values()))
        out = torch.zeros((first.shape[0], n_layers, first.shape[1]), dtype=torch.int32, device=first.device)
        for slot, n in self.n_keys.items():
            out[:, slot] = n
        return out

    def valid(self) -> torch.Tensor:
        """`[B, Lq]` bool: False for padding (from the 2-D mask given to the model)."""
        B, Lq = next(iter(self.n_keys.values())).shape
        if self.mask2d is not None and self.mask2d.dim() == 2 and self.mask2d.shape[1] >= Lq:
            return self.mask2d[:, -Lq:].bool().expand(B, Lq)
        return torch.ones((B, Lq), dtype=torch.bool, device=next(iter(self.n_keys.values())).device)


@dataclass(frozen=True)
class CallInfo:
    """What a tap learns when a sampled call begins."""

    index: int  # 0-based number of the call in this monitor
    layers: list[int]  # model layer of each slot
    stats: tuple[str, ...]
    model_name: str


class Tap:
    """Base class: override the hooks you need. `every_n_calls` picks the calls it sees."""

    keep_graph = False  # True: the statistics keep their autograd graph (LossTap)
    wants_token_stats = True  # False: skip the logits' log-probabilities (LossTap)

    def __init__(self, every_n_calls: int = 1) -> None:
        if isinstance(every_n_calls, bool) or not isinstance(every_n_calls, int) or every_n_calls < 1:
            raise ValueError(f"every_n_calls must be an int >= 1, got {every_n_calls!r}")
        self.every_n_calls = every_n_calls

    def samples(self, call_index: int) -> bool:
        return call_index % self.every_n_calls == 0

    def begin_call(self, call: CallInfo) -> None:
        pass

    def on_step(self, step: Step) -> None:
        pass

    def end_call(self, eos_ids: list[int]) -> None:
        pass


class TraceTap(Tap):
    """Detached statistics, assembled into one `EntropyTrace` (CPU, fp32) per sampled call.

    `token_stats=False` leaves out the logits' per-token log-probability and predictive entropy.
    """

    def __init__(self, every_n_calls: int = 1, token_stats: bool = True) -> None:
        super().__init__(every_n_calls)
        self.wants_token_stats = bool(token_stats)
        self.traces: list[EntropyTrace] = []
        self._steps: list[Step] = []
        self._call: CallInfo | None = None

    def begin_call(self, call: CallInfo) -> None:
        self._call, self._steps = call, []

    def on_step(self, step: Step) -> None:
        detached = {slot: {k: v.detach() for k, v in s.items()} for slot, s in step.stats.items()}
        self._steps.append(Step(detached, step.n_keys, step.input_ids, step.mask2d, step.generated, step.implicit,
                                step.token_stats))

    def end_call(self, eos_ids: list[int]) -> None:
        steps, self._steps = self._steps, []
        if steps and self._call is not None:
            trace = _build_trace(steps, self._call)
            _mark_finished_rows(trace, eos_ids)
            self.traces.append(trace)


def _build_trace(steps: list[Step], call: CallInfo) -> EntropyTrace:
    L = len(call.layers)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in call.stats}
    n_keys, valid, generated, token_ids = [], [], [], []
    token_parts: dict[str, list[torch.Tensor]] = {k: [] for k in TOKEN_STATS}
    has_token_stats = any(step.token_stats for step in steps)
    for step in steps:
        for name in call.stats:  # one stack on the device, one copy to the CPU per statistic
            parts[name].append(step.stacked(name, L).float().cpu())  # [B, L, H, Lq]
        n_keys.append(step.stacked_n_keys(L).cpu())  # [B, L, Lq]
        v = step.valid().cpu()  # [B, Lq]
        B, Lq = v.shape
        valid.append(v)
        generated.append(torch.full((B, Lq), step.generated, dtype=torch.bool))
        ids = step.input_ids
        if ids is not None and ids.dim() == 2 and ids.shape[1] == Lq:
            token_ids.append(ids.cpu().to(torch.int64).expand(B, Lq))
        else:
            token_ids.append(torch.full((B, Lq), -1, dtype=torch.int64))
        for name in TOKEN_STATS:
            value = step.token_stats.get(name)
            token_parts[name].append(value.float().cpu() if value is not None else torch.full((B, Lq), float("nan")))
    cat = lambda xs: torch.cat(xs, dim=-1)  # noqa: E731 -- positions are the last axis
    return EntropyTrace(
        **{name: (cat(parts[name]) if name in call.stats else None) for name in STATS},
        valid=cat(valid),
        generated=cat(generated),
        token_ids=cat(token_ids),
        n_keys=cat(n_keys),
        layers=list(call.layers),
        model_name=call.model_name,
        **{name: (cat(token_parts[name]) if has_token_stats else None) for name in TOKEN_STATS},
    )


def _mark_finished_rows(trace: EntropyTrace, eos_ids: list[int]) -> None:
    """A row that has produced EOS keeps being fed (padding) while others decode: not valid.

    Generated position t is invalid once an EOS was fed at a generated position <= t (the row
    had already finished when its token was processed).
    """
    if not eos_ids:
        return
    fed_eos = torch.isin(trace.token_ids, torch.tensor(eos_ids)) & trace.generated  # [B, N]
    trace.valid &= ~(fed_eos.cumsum(dim=-1) > 0)


def head_means(h: torch.Tensor, n_keys: torch.Tensor, usable: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of `h / log n` over usable positions, per head, and the count per layer.

    h `[B, L, H, N]` (nats, may hold NaN for a layer that did not run), n_keys `[B, L, N]`,
    usable `[B, L, N]` bool. Returns means `[L, H]` (0 where a layer has no usable position, with
    no gradient there) and count `[L]`. Differentiable and NaN-free; keeps fp64 when h is fp64.
    """
    dt = torch.promote_types(h.dtype, torch.float32)
    ok = usable[:, :, None, :]  # [B, L, 1, N]
    log_n = torch.log(n_keys.to(dt).clamp(min=2))[:, :, None, :]  # [B, L, 1, N]
    # where(), not multiply-by-mask: a NaN outside `ok` must not reach the sum or its gradient
    hn = torch.where(ok, h.to(dt) / log_n, torch.zeros((), dtype=dt, device=h.device))  # [B, L, H, N]
    count = usable.sum(dim=(0, 2)).to(dt)  # [L]
    means = hn.sum(dim=(0, 3)) / count.clamp(min=1)[:, None]  # [L, H]
    return means, count


class LossTap(Tap):
    """The statistics of the current sampled call, on the device, with their autograd graph.

    Cleared when the next sampled call begins, so holding it never keeps old graphs alive.
    `stat(name)` `[B, L, H, N]`; `mean_normalized(name)` `[L, H]`, differentiable.
    """

    keep_graph = True
    wants_token_stats = False

    def __init__(self, every_n_calls: int = 1) -> None:
        super().__init__(every_n_calls)
        self.steps: list[Step] = []
        self.layers: list[int] = []

    def begin_call(self, call: CallInfo) -> None:
        self.steps, self.layers = [], list(call.layers)

    def on_step(self, step: Step) -> None:
        self.steps.append(step)

    def clear(self) -> None:
        self.steps = []

    @property
    def recorded(self) -> bool:
        return bool(self.steps)

    def stat(self, name: str = "shannon") -> torch.Tensor:
        """`[B, L, H, N]` over the call's steps, with graph."""
        if not self.steps:
            raise RuntimeError("the LossTap holds no statistics: no sampled forward ran since the last clear()")
        return torch.cat([s.stacked(name, len(self.layers)) for s in self.steps], dim=-1)

    def n_keys(self) -> torch.Tensor:
        return torch.cat([s.stacked_n_keys(len(self.layers)) for s in self.steps], dim=-1)  # [B, L, N]

    def valid(self) -> torch.Tensor:
        return torch.cat([s.valid() for s in self.steps], dim=-1)  # [B, N]

    def mean_normalized(self, name: str = "shannon") -> torch.Tensor:
        """Per-head mean of `H / log n` over valid positions that see >= 2 keys: `[L, H]`.

        NaN-free (a head with no such position gets 0 with no gradient), so it can go in a loss.
        """
        n_keys = self.n_keys()  # [B, L, N]
        usable = self.valid()[:, None, :] & (n_keys > 1)  # [B, L, N]
        return head_means(self.stat(name), n_keys, usable)[0]


@dataclass(frozen=True)
class StepEvent:
    """One forward/decode step, as `StepTap` hands it to its callback (device tensors, no sync)."""

    call_index: int
    step_index: int  # 0 = prefill, then one per decode step
    generated: bool
    stats: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> [B, L, H, Lq]
    n_keys: torch.Tensor | None = None  # [B, L, Lq]
    input_ids: torch.Tensor | None = None  # [B, Lq]
    layers: list[int] = field(default_factory=list)
    token_stats: dict[str, torch.Tensor] = field(default_factory=dict)  # TOKEN_STATS name -> [B, Lq]
    valid: torch.Tensor | None = None  # [B, Lq] bool: False for padding

    def last(self, name: str = "shannon") -> torch.Tensor:
        """The newest token's statistic `[B, L, H]` (the whole step when decoding, Lq = 1)."""
        return self.stats[name][..., -1]


class StepTap(Tap):
    """Calls `callback(StepEvent)` after every forward/decode step of a sampled call.

    The tensors are on the model's device and detached; nothing is copied to the host unless
    the callback asks (e.g. `float(...)`).
    """

    def __init__(self, callback: Callable[[StepEvent], None], every_n_calls: int = 1) -> None:
        super().__init__(every_n_calls)
        if not callable(callback):
            raise ValueError("StepTap needs a callable callback(StepEvent)")
        self.callback = callback
        self._call: CallInfo | None = None
        self._step_index = 0

    def begin_call(self, call: CallInfo) -> None:
        self._call, self._step_index = call, 0

    def on_step(self, step: Step) -> None:
        call = self._call
        L = len(call.layers)
        stats = {name: step.stacked(name, L).detach() for name in call.stats}
        ids = step.input_ids if step.input_ids is not None and step.input_ids.dim() == 2 else None
        self.callback(StepEvent(call.index, self._step_index, step.generated, stats, step.stacked_n_keys(L),
                                ids, list(call.layers), dict(step.token_stats), step.valid()))
        self._step_index += 1
