"""`Capture`: the per-model state between the attention function and the taps.

One `Capture` per monitored model. The model's forward hooks open and close steps and calls;
the attention function asks `ACTIVE_CAPTURES` for the capture that owns its module, runs
`he.attention` on that capture's backend, and hands the layer's statistics to it. Captures live
in a `ContextVar`, so models monitored in two threads (or nested monitors on two models) never
see each other's statistics, and each model runs on its own backend.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar

import torch

from ..kernels.visibility import first_key_slots
from .logits import LogitCarry, token_logit_stats
from .taps import CallInfo, Step, Tap


class Capture:
    def __init__(self, modules: dict[int, int], layers: list[int], stats: tuple[str, ...], model_name: str,
                 backend: str, taps: list[Tap]):
        self.slots = modules  # id(attention module) -> slot in the layers axis
        self.layers = layers
        self.stats = stats
        self.model_name = model_name
        self.backend = backend
        self.taps = taps
        self.backend_counts: Counter[str] = Counter()  # backend name -> layer calls it ran
        self.calls = 0  # top-level calls begun so far
        self.active: list[Tap] = []  # taps sampling the current call
        self.step: Step | None = None
        self.in_call = False
        self.in_generate = 0
        self.prompt_len: int | None = None  # of the running generate() call, when known
        self.positions_done = 0  # positions processed by earlier steps of the current call
        self.eos_ids: list[int] = []
        self._step_cache: dict = {}  # per-step values shared by the layers (n_keys of a mask, ...)
        self._logit_carry: LogitCarry | None = None  # last-position logits of the previous step

    def owns(self, module: torch.nn.Module) -> bool:
        return id(module) in self.slots

    # ---- calls -----------------------------------------------------------------------------
    def begin_call(self) -> None:
        self.flush_implicit()
        self.active = [t for t in self.taps if t.samples(self.calls)]
        info = CallInfo(self.calls, list(self.layers), self.stats, self.model_name)
        for tap in self.active:
            tap.begin_call(info)
        self.calls += 1
        self.in_call = True
        self.positions_done = 0
        self._logit_carry = None

    def end_call(self) -> None:
        if not self.in_call:
            return
        for tap in self.active:
            tap.end_call(self.eos_ids)
        self.active, self.in_call, self.eos_ids = [], False, []

    def flush_implicit(self) -> None:
        """Close a call opened by a direct submodule call (not through the model's forward)."""
        if self.step is not None and self.step.implicit:
            self.end_step(ok=True)
            self.end_call()

    # ---- steps -----------------------------------------------------------------------------
    def begin_step(self, input_ids: torch.Tensor | None, mask2d: torch.Tensor | None) -> None:
        self.flush_implicit()
        if not self.in_call:
            self.begin_call()
        generated = False
        if self.in_generate > 0 and self.positions_done > 0:
            # Positions at or after the prompt length were produced by the model; a chunked
            # prefill (several forwards over the prompt) stays "prompt".
            generated = self.prompt_len is None or self.positions_done >= self.prompt_len
        self.step = Step({}, {}, input_ids, mask2d, generated)
        self._step_cache = {}

    def per_step(self, key, compute):
        """`compute()` once per step and key (the layers of a step share masks and shapes)."""
        if key not in self._step_cache:
            self._step_cache[key] = compute()
        return self._step_cache[key]

    def record_logits(self, logits: torch.Tensor | None) -> None:
        """The step's output logits `[B, K, V]`: token log-probabilities and predictive entropy.

        Only when a tap of this call asks for them (TraceTap, StepTap; not LossTap in training).
        """
        step = self.step
        if step is None or not step.n_keys or not isinstance(logits, torch.Tensor) or logits.dim() != 3:
            return
        if not any(t.wants_token_stats for t in self.active):
            return
        ids = step.input_ids if isinstance(step.input_ids, torch.Tensor) and step.input_ids.dim() == 2 else None
        step.token_stats, self._logit_carry = token_logit_stats(logits.detach(), ids, step.q_len, self._logit_carry)

    def end_step(self, ok: bool) -> None:
        step, self.step = self.step, None
        self._step_cache = {}
        if step is None or not step.n_keys:
            return
        self.positions_done += step.q_len
        if ok:
            for tap in self.active:
                tap.on_step(step)

    @property
    def recording(self) -> bool:
        """Whether a tap wants this layer call's statistics (False: skip the extra work)."""
        if self.step is None:  # a submodule called directly: it is a call of its own
            return any(t.samples(self.calls) for t in self.taps)
        return bool(self.active)

    @property
    def keeps_graph(self) -> bool:
        """Whether a tap of the current call keeps the autograd graph (LossTap)."""
        return any(t.keep_graph for t in self.active)

    def record(self, module: torch.nn.Module, stats: dict[str, torch.Tensor], n_keys: torch.Tensor) -> None:
        """Called by the attention function for a module this capture owns."""
        if self.step is None:
            self.begin_step(None, None)
            self.step.implicit = True
        keep_graph = self.keeps_graph
        self.step.stats[self.slots[id(module)]] = {
            k: (stats[k] if keep_graph else stats[k].detach()) for k in self.stats
        }
        self.step.n_keys[self.slots[id(module)]] = n_keys.detach()

    def first_key(self, q_len: int, k_len: int) -> torch.Tensor | None:
        """Key slot of each row's first real token `[B]`, or None when it is slot 0 for every row.

        From the 2-D padding mask given to the model (left padding) and the positions processed
        so far in this call (a sliding cache that dropped old keys); see
        `visibility.first_key_slots`.
        """
        step = self.step
        if step is not None and step.mask2d is not None:
            total = step.mask2d.shape[1]  # the 2-D mask spans past + current positions
            first_real = step.mask2d.bool().to(torch.int8).argmax(dim=-1)  # [B] first real token
        else:
            total = self.positions_done + q_len
            if total <= k_len:  # no padding and nothing dropped from the cache
                return None
            first_real = torch.zeros(1, dtype=torch.long)
        slots = first_key_slots(first_real.long(), total, k_len)
        return slots if bool((slots != 0).any()) else None


# The captures active in this context (thread / task). A tuple: immutable, so nested monitors on
# different models each keep their own.
ACTIVE_CAPTURES: ContextVar[tuple[Capture, ...]] = ContextVar("headentropy_captures", default=())


def owner_of(module: torch.nn.Module) -> Capture | None:
    """The active capture that monitors `module`, innermost first."""
    for capture in reversed(ACTIVE_CAPTURES.get()):
        if capture.owns(module):
            return capture
    return None
