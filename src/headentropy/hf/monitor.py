"""`he.monitor(model)`: record attention-entropy statistics of a HuggingFace model (docs/design.md §3).

While the context is open the model runs with the `"headentropy"` attention implementation and
every top-level call is recorded as one `EntropyTrace`:

* a `model(...)` / `model.forward(...)` call outside `generate` is one call;
* a `model.generate(...)` call is one call spanning the prefill and every decode step. Decode
  steps (`Lq = 1` against the whole cache) are appended in token order and marked `generated`.

On exit (also by exception) the previous attention implementation of every config of the model
is put back, the hooks are removed and the `generate` wrapper is deleted, so the model holds no
reference to the monitor.

Taps (`capture/taps.py`) receive the statistics: `TraceTap` (the default: `mon.trace`),
`LossTap` (with autograd graph, for losses), `StepTap` (a callback per step, for gates). Each
monitor owns its model's backend: nested monitors on two models run two backends.

Threads: the active captures live in a `contextvars.ContextVar`; a model must run in the thread
(context) that entered its monitor. Calls made in other threads are not recorded.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Iterable, Sequence

import torch

from ..capture import ACTIVE_CAPTURES, Capture, Tap, TraceTap
from ..trace import STATS, EntropyTrace
from .attention import NAME, register

# Models currently monitored (weak: a model that is garbage-collected leaves the set by itself).
_MONITORED: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()
# Attention module classes, by whether their forward dispatches through AttentionInterface.
_DISPATCHES: dict[type, bool] = {}


def _dispatches_through_interface(cls: type) -> bool:
    """Whether the module class's forward calls an AttentionInterface function (source heuristic)."""
    if cls not in _DISPATCHES:
        try:
            src = inspect.getsource(cls.forward)
        except (OSError, TypeError):
            src = ""
        _DISPATCHES[cls] = "ALL_ATTENTION_FUNCTIONS" in src
    return _DISPATCHES[cls]


def attention_modules(model: torch.nn.Module) -> list[tuple[int, torch.nn.Module]]:
    """`(layer, module)` of every attention module that dispatches through AttentionInterface.

    `layer` is the module's `layer_idx` when these are distinct ints, else its rank in
    `model.modules()` order.
    """
    found = [m for m in model.modules() if _dispatches_through_interface(type(m))]
    ids = [getattr(m, "layer_idx", None) for m in found]
    if all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids):
        pairs = list(zip(ids, found))
    else:
        pairs = list(enumerate(found))
    return sorted(pairs, key=lambda p: p[0])


def _eos_ids(kwargs: dict, cfg: Any) -> list[int]:
    """End-of-sequence ids generate() stops on (kwargs override the generation config)."""
    eos = kwargs.get("eos_token_id")
    if eos is None and kwargs.get("generation_config") is not None:
        eos = kwargs["generation_config"].eos_token_id
    if eos is None and cfg is not None:
        eos = getattr(cfg, "eos_token_id", None)
    if eos is None:
        return []
    if isinstance(eos, torch.Tensor):
        return [int(x) for x in eos.flatten()]
    return [int(eos)] if isinstance(eos, int) else [int(x) for x in eos]


def _configs_of(model: torch.nn.Module) -> list[Any]:
    """Every config object the model's attention implementation may be read from."""
    seen: dict[int, Any] = {}
    queue = [m.config for m in model.modules() if hasattr(m, "config")]
    while queue:
        cfg = queue.pop()
        if id(cfg) in seen or not hasattr(cfg, "_attn_implementation_internal"):
            continue
        seen[id(cfg)] = cfg
        for key in getattr(cfg, "sub_configs", {}) or {}:
            sub = getattr(cfg, key, None)
            if sub is not None:
                queue.append(sub)
    return list(seen.values())


class monitor:  # noqa: N801 -- used as a function-like context manager: `with he.monitor(model)`
    """Record attention entropy of `model` while the context is open.

    `layers`: model layer indices to record (default all). `stats`: which statistics to keep.
    `backend`: the `he.attention` backend this model's attention runs on while the context is
    open ("auto", "cpu", "torch", "triton", "reference"); checked against the model's device on
    enter; other models keep their own. `taps`: where the statistics go (default one `TraceTap`).
    `mon.trace` is the `EntropyTrace` of the last recorded call, `mon.traces` every one in order
    (both need a `TraceTap`). `mon.backend_counts`: layer calls per backend that ran them.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        layers: Iterable[int] | None = None,
        stats: Sequence[str] = STATS,
        backend: str = "auto",
        taps: Sequence[Tap] | None = None,
    ):
        stats = tuple(stats)
        unknown = [s for s in stats if s not in STATS]
        if unknown or not stats:
            raise ValueError(f"stats must be a non-empty subset of {STATS}, got {stats!r}")
        if not isinstance(backend, str):
            raise ValueError(f"backend must be a string, got {type(backend).__name__}")
        self.taps: list[Tap] = [TraceTap()] if taps is None else list(taps)
        if not self.taps or not all(isinstance(t, Tap) for t in self.taps):
            raise ValueError("taps must be a non-empty sequence of Tap objects (TraceTap, LossTap, StepTap)")
        self.backend = backend
        self.stats = stats
        self.model = model
        self._capture: Capture | None = None
        self._calls_before = 0  # calls of earlier `with` blocks (sampling continues across them)
        self._requested_layers = None if layers is None else [int(i) for i in layers]
        self._active = False
        self.backend_counts: dict[str, int] = {}

    # ---- public results -------------------------------------------------------------------
    @property
    def traces(self) -> list[EntropyTrace]:
        """Every recorded call, in order (a copy of the list)."""
        if self._capture is not None:
            self._capture.flush_implicit()
        tap = next((t for t in self.taps if isinstance(t, TraceTap)), None)
        if tap is None:
            raise RuntimeError("this monitor has no TraceTap: pass taps=[he.TraceTap(), ...] to get traces")
        return list(tap.traces)

    @property
    def trace(self) -> EntropyTrace:
        traces = self.traces
        if not traces:
            raise RuntimeError("no call was recorded yet: run the model inside `with he.monitor(model)`")
        return traces[-1]

    # ---- context management ---------------------------------------------------------------
    def __enter__(self) -> "monitor":
        model = self.model
        if self._active:
            raise RuntimeError("this monitor is already active; create a new one")
        if model in _MONITORED:
            raise RuntimeError(f"{type(model).__name__} is already being monitored; nested monitors on one model are not supported")
        if not hasattr(model, "set_attn_implementation") or not hasattr(model, "config"):
            raise ValueError(
                f"{type(model).__name__} is not a transformers PreTrainedModel; "
                "headentropy.monitor needs a model that dispatches attention through AttentionInterface"
            )
        found = attention_modules(model)
        if not found or not type(model)._can_set_attn_implementation():
            raise ValueError(
                f"{type(model).__name__} does not dispatch its attention through transformers' "
                "AttentionInterface, so headentropy cannot measure it"
            )
        all_layers = [layer for layer, _ in found]
        wanted = all_layers if self._requested_layers is None else self._requested_layers
        missing = sorted(set(wanted) - set(all_layers))
        if missing:
            raise ValueError(f"layers {missing} do not exist; {type(model).__name__} has attention layers {all_layers}")
        layers = sorted(set(wanted))
        slot_of = {layer: i for i, layer in enumerate(layers)}
        modules = {id(m): slot_of[layer] for layer, m in found if layer in slot_of}

        if self.backend != "auto":  # fail here, not in the middle of the first forward
            from ..kernels.dispatch import resolve_backend

            param = next(model.parameters(), None)
            resolve_backend(self.backend, param.device if param is not None else torch.device("cpu"))
        self._capture = Capture(modules, layers, self.stats, self._model_name(), self.backend, self.taps)
        self._capture.calls = self._calls_before
        register()
        self._saved_impl = [(cfg, cfg._attn_implementation_internal) for cfg in _configs_of(model)]
        self._own_generate = model.__dict__.get("generate")  # a user's instance attribute, if any
        self._handles = []
        self._token = None
        _MONITORED.add(model)
        try:
            model.set_attn_implementation(NAME)
            self._install_hooks()
            self._token = ACTIVE_CAPTURES.set(ACTIVE_CAPTURES.get() + (self._capture,))
        except BaseException:
            self._restore()
            raise
        self._active = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._restore()

    def _restore(self) -> None:
        model = self.model
        try:
            if self._token is not None:
                ACTIVE_CAPTURES.reset(self._token)
                self._token = None
            for h in self._handles:
                h.remove()
            self._handles = []
            if self._own_generate is None:
                model.__dict__.pop("generate", None)
            else:
                model.__dict__["generate"] = self._own_generate
            self._own_generate = None
            if self._capture is not None:
                self._capture.flush_implicit()
                self._calls_before = self._capture.calls
                for name, n in self._capture.backend_counts.items():
                    self.backend_counts[name] = self.backend_counts.get(name, 0) + n
                self._capture.backend_counts.clear()
            for cfg, impl in self._saved_impl:
                cfg._attn_implementation_internal = impl
        finally:
            _MONITORED.discard(model)
            self._active = False

    # ---- hooks --------------------------------------------------------------------------
    def _model_name(self) -> str:
        cfg = self.model.config
        return str(getattr(cfg, "_name_or_path", "") or type(self.model).__name__)

    def _install_hooks(self) -> None:
        model, cap = self.model, self._capture
        # The hooks and the wrapper close over the capture, never the monitor.
        forward_params = list(inspect.signature(model.forward).parameters)

        def arg(name: str, args: tuple, kwargs: dict) -> Any:
            if name in kwargs:
                return kwargs[name]
            if name in forward_params:
                i = forward_params.index(name)
                if i < len(args):
                    return args[i]
            return None

        def pre_hook(module, args, kwargs):
            ids = arg("input_ids", args, kwargs)
            mask2d = arg("attention_mask", args, kwargs)
            cap.begin_step(ids if isinstance(ids, torch.Tensor) else None,
                           mask2d if isinstance(mask2d, torch.Tensor) and mask2d.dim() == 2 else None)
            return None

        def post_hook(module, args, kwargs, output):
            # always_call=True: also runs when forward raised (output is then None).
            if output is not None:
                cap.record_logits(getattr(output, "logits", None))
            cap.end_step(ok=output is not None)
            if not cap.in_generate:
                cap.end_call()
            return None

        self._handles.append(model.register_forward_pre_hook(pre_hook, with_kwargs=True))
        self._handles.append(model.register_forward_hook(post_hook, with_kwargs=True, always_call=True))

        if not hasattr(model, "generate"):  # encoders: every forward is a call
            return
        original_generate = model.generate  # bound method (or a user's instance attribute)

        @functools.wraps(original_generate)
        def generate(*args, **kwargs):
            cfg = kwargs.get("generation_config") or getattr(model, "generation_config", None)
            beams = kwargs.get("num_beams", getattr(cfg, "num_beams", 1) or 1)
            if beams and beams > 1:
                raise NotImplementedError(
                    "headentropy.monitor does not support beam search (num_beams > 1): the cache is "
                    "reordered between beams, so per-token statistics would not follow the returned "
                    "sequences. Use greedy or sampling decoding inside the monitor."
                )
            if kwargs.get("assistant_model") is not None or kwargs.get("prompt_lookup_num_tokens"):
                raise NotImplementedError("headentropy.monitor does not support assisted/speculative decoding")
            cap.flush_implicit()
            cap.end_call()
            prompt = kwargs.get("input_ids", args[0] if args else None)
            if not isinstance(prompt, torch.Tensor):
                prompt = kwargs.get("inputs_embeds")
            cap.prompt_len = int(prompt.shape[1]) if isinstance(prompt, torch.Tensor) and prompt.dim() >= 2 else None
            cap.begin_call()
            cap.in_generate += 1
            try:
                return original_generate(*args, **kwargs)
            finally:
                cap.in_generate -= 1
                cap.eos_ids = _eos_ids(kwargs, cfg)
                cap.end_call()  # also a failed generate: what ran is kept, as for forward

        model.generate = generate
