"""`he.monitor(model)`: record attention-entropy statistics of a HuggingFace model (DESIGN §5).

While the context is open the model runs with the `"headentropy"` attention implementation and
every top-level call is recorded as one `EntropyTrace`:

* a `model(...)` / `model.forward(...)` call outside `generate` is one call;
* a `model.generate(...)` call is one call spanning the prefill and every decode step. Decode
  steps (`Lq = 1` against the whole cache) are appended in token order and marked `generated`.

On exit (also by exception) the previous attention implementation of every config of the model
is put back, the hooks are removed and the `generate` wrapper is deleted, so the model holds no
reference to the monitor.

Threads: the active recorder lives in a `contextvars.ContextVar`; a model must run in the thread
(context) that entered its monitor. Calls made in other threads are not recorded.
"""

from __future__ import annotations

import functools
import inspect
import json
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from .attention import ACTIVE_BACKEND, ACTIVE_RECORDERS, NAME, register

STATS = ("shannon", "renyi2", "sink_mass")
_FORMAT = "headentropy.EntropyTrace/1"

# Models currently monitored (weak: a model that is garbage-collected leaves the set by itself).
_MONITORED: "weakref.WeakSet[torch.nn.Module]" = weakref.WeakSet()
# Attention module classes, by whether their forward dispatches through AttentionInterface.
_DISPATCHES: dict[type, bool] = {}


@dataclass
class EntropyTrace:
    """Per-token attention statistics of one forward or generate call.

    Statistics are fp32 CPU tensors `[batch, layers, heads, positions]` in nats (None when not
    requested); `layers` names the model layer of each slot of the `layers` axis. Positions are
    the query tokens in the order they were processed (prompt, then decode steps).
    """

    shannon: torch.Tensor | None  # [B, L, H, N] fp32
    renyi2: torch.Tensor | None  # [B, L, H, N] fp32
    sink_mass: torch.Tensor | None  # [B, L, H, N] fp32
    valid: torch.Tensor  # [B, N] bool: False for padding
    generated: torch.Tensor  # [B, N] bool: True for positions processed during decoding
    token_ids: torch.Tensor  # [B, N] int64, -1 where the input was embeddings
    n_keys: torch.Tensor  # [B, L, N] int32: keys visible to each query (sliding layers differ)
    layers: list[int] = field(default_factory=list)
    model_name: str = ""

    def __repr__(self) -> str:
        recorded = [n for n in STATS if getattr(self, n) is not None]
        return (
            f"EntropyTrace(model_name={self.model_name!r}, batch={self.batch}, layers={len(self.layers)}, "
            f"heads={getattr(self, recorded[0]).shape[2] if recorded else 0}, positions={self.num_positions}, "
            f"generated={int(self.generated.any(0).sum())}, stats={recorded})"
        )

    @property
    def batch(self) -> int:
        return self.valid.shape[0]

    @property
    def num_positions(self) -> int:
        return self.valid.shape[1]

    def stat(self, name: str) -> torch.Tensor:
        """One statistic by name; raises if it was not recorded."""
        if name not in STATS:
            raise ValueError(f"unknown statistic {name!r}; expected one of {STATS}")
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"statistic {name!r} was not recorded (monitor(stats=...))")
        return value

    def normalized(self, name: str = "shannon") -> torch.Tensor:
        """`H / log n_keys` in [0, 1], `[B, L, H, N]`; NaN for padding and rows with n_keys <= 1."""
        h = self.stat(name)
        n = self.n_keys.to(torch.float32)[:, :, None, :]  # [B, L, 1, N]
        ok = (n > 1) & self.valid[:, None, None, :]
        return torch.where(ok, h / torch.log(n.clamp(min=2)), torch.full_like(h, float("nan")))

    # --- analyses (headentropy.analysis; imported lazily to keep this module light) -------------

    def layer_profile(self):
        """Per-layer mean entropy and the profile's shape (`analysis.LayerProfile`)."""
        from ..analysis import layer_profile

        return layer_profile(self)

    def head_stats(self, top_k: int = 20):
        """Per-head means, inter-head variance, redundant pairs, pruning candidates."""
        from ..analysis import head_stats

        return head_stats(self, top_k=top_k)

    def token_stats(self, tokenizer=None):
        """Prompt vs generated entropy and spikes; `tokenizer` decodes the spike tokens."""
        from ..analysis import token_stats

        return token_stats(self, tokenizer)

    def non_finite_count(self) -> int:
        """Number of recorded statistics that are NaN/inf at valid positions (e.g. NaN activations)."""
        total = 0
        for name in STATS:
            value = getattr(self, name)
            if value is not None:
                bad = ~torch.isfinite(value) & self.valid[:, None, None, :]
                total += int(bad.sum())
        return total

    def save(self, path: str | Path) -> None:
        """Write one safetensors file; metadata (layers, model name) is JSON in its header."""
        from safetensors.torch import save_file

        tensors = {
            "valid": self.valid.to(torch.uint8),
            "generated": self.generated.to(torch.uint8),
            "token_ids": self.token_ids.to(torch.int64),
            "n_keys": self.n_keys.to(torch.int32),
        }
        for name in STATS:
            value = getattr(self, name)
            if value is not None:
                tensors[name] = value.to(torch.float32)
        meta = {"format": _FORMAT, "layers": list(self.layers), "model_name": self.model_name}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"headentropy": json.dumps(meta)})

    @classmethod
    def load(cls, path: str | Path) -> "EntropyTrace":
        """Read a file written by `save()` (no pickle involved)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("headentropy", "{}"))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a headentropy EntropyTrace file (format {meta.get('format')!r})")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        return cls(
            shannon=tensors.get("shannon"),
            renyi2=tensors.get("renyi2"),
            sink_mass=tensors.get("sink_mass"),
            valid=tensors["valid"].bool(),
            generated=tensors["generated"].bool(),
            token_ids=tensors["token_ids"],
            n_keys=tensors["n_keys"],
            layers=[int(x) for x in meta["layers"]],
            model_name=str(meta.get("model_name", "")),
        )


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


@dataclass
class _Step:
    stats: dict[int, dict[str, torch.Tensor]]  # slot -> name -> [B, H, Lq] (on the model's device)
    n_keys: dict[int, torch.Tensor]  # slot -> [B, Lq]
    input_ids: torch.Tensor | None  # [B, Lq]
    mask2d: torch.Tensor | None  # [B, Lk] 2-D padding mask given to the model, or None
    generated: bool
    implicit: bool = False


class _Recorder:
    """Collects the statistics of one model's attention modules into steps and calls."""

    def __init__(self, modules: dict[int, int], layers: list[int], stats: tuple[str, ...], model_name: str):
        self.slots = modules  # id(attention module) -> slot in the layers axis
        self.layers = layers
        self.stats = stats
        self.model_name = model_name
        self.traces: list[EntropyTrace] = []
        self.step: _Step | None = None
        self.steps: list[_Step] = []
        self.in_generate = 0
        self.prompt_len: int | None = None  # of the running generate() call, when known

    # Called by the attention function, for every attention module of every model in context.
    def record(self, module: torch.nn.Module, stats: dict[str, torch.Tensor], n_keys: torch.Tensor) -> bool:
        slot = self.slots.get(id(module))
        if slot is None:
            return False
        if self.step is None:  # a submodule called directly, not through the model's forward
            self.begin_step(None, None)
            self.step.implicit = True
        self.step.stats[slot] = {k: stats[k].detach() for k in self.stats}
        self.step.n_keys[slot] = n_keys.detach()
        return True

    def begin_step(self, input_ids: torch.Tensor | None, mask2d: torch.Tensor | None) -> None:
        self.flush_implicit()
        generated = False
        if self.in_generate > 0 and self.steps:
            # Positions at or after the prompt length were produced by the model; a chunked
            # prefill (several forwards over the prompt) stays "prompt".
            done = sum(next(iter(st.n_keys.values())).shape[1] for st in self.steps)
            generated = self.prompt_len is None or done >= self.prompt_len
        self.step = _Step({}, {}, input_ids, mask2d, generated)

    def end_step(self, ok: bool) -> None:
        if self.step is not None and ok and self.step.stats:
            self.steps.append(self.step)
        self.step = None

    def flush_implicit(self) -> None:
        """Close a step opened by a direct submodule call as a call of its own."""
        if self.step is not None and self.step.implicit:
            self.end_step(ok=True)
            self.finish_call()

    def finish_call(self) -> None:
        steps, self.steps = self.steps, []
        if steps:
            self.traces.append(_build_trace(steps, self.layers, self.stats, self.model_name))


def _build_trace(steps: list[_Step], layers: list[int], stats: tuple[str, ...], model_name: str) -> EntropyTrace:
    n_layers = len(layers)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in stats}
    n_keys, valid, generated, token_ids = [], [], [], []
    for step in steps:
        first = next(iter(step.stats.values()))
        B, _, Lq = first[stats[0]].shape
        heads = max(s[stats[0]].shape[1] for s in step.stats.values())
        complete = len(step.stats) == n_layers and all(s[stats[0]].shape[1] == heads for s in step.stats.values())
        for name in stats:
            if complete:  # the usual case: one stack on the device, one copy to the CPU
                block = torch.stack([step.stats[i][name] for i in range(n_layers)], dim=1).float().cpu()
            else:
                block = torch.full((B, n_layers, heads, Lq), float("nan"))  # NaN: not recorded
                for slot, s in step.stats.items():
                    block[:, slot, : s[name].shape[1]] = s[name].float().cpu()
            parts[name].append(block)  # [B, L, H, Lq]
        nk = torch.zeros((B, n_layers, Lq), dtype=torch.int32)  # [B, L, Lq]
        for slot, n in step.n_keys.items():
            nk[:, slot] = n.cpu().to(torch.int32)
        n_keys.append(nk)
        if step.mask2d is not None and step.mask2d.dim() == 2 and step.mask2d.shape[1] >= Lq:
            valid.append(step.mask2d[:, -Lq:].bool().cpu().expand(B, Lq))
        else:
            valid.append(torch.ones((B, Lq), dtype=torch.bool))
        generated.append(torch.full((B, Lq), step.generated, dtype=torch.bool))
        if step.input_ids is not None and step.input_ids.dim() == 2 and step.input_ids.shape[1] == Lq:
            token_ids.append(step.input_ids.cpu().to(torch.int64).expand(B, Lq))
        else:
            token_ids.append(torch.full((B, Lq), -1, dtype=torch.int64))
    cat = lambda xs: torch.cat(xs, dim=-1)  # noqa: E731 -- positions are the last axis
    return EntropyTrace(
        shannon=cat(parts["shannon"]) if "shannon" in stats else None,
        renyi2=cat(parts["renyi2"]) if "renyi2" in stats else None,
        sink_mass=cat(parts["sink_mass"]) if "sink_mass" in stats else None,
        valid=cat(valid),
        generated=cat(generated),
        token_ids=cat(token_ids),
        n_keys=cat(n_keys),
        layers=list(layers),
        model_name=model_name,
    )


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


def _mark_finished_rows(trace: EntropyTrace, eos_ids: list[int]) -> None:
    """A row that has produced EOS keeps being fed (padding) while others decode: not valid.

    Generated position t is invalid once an EOS was fed at a generated position <= t (the row
    had already finished when its token was processed).
    """
    if not eos_ids:
        return
    fed_eos = torch.isin(trace.token_ids, torch.tensor(eos_ids)) & trace.generated  # [B, N]
    finished = fed_eos.cumsum(dim=-1) > 0
    trace.valid &= ~finished


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
    `backend`: the `he.attention` backend the model's attention runs on while the context is open
    ("auto", "cpu", "torch", "triton", "reference"); checked against the model's device on enter.
    `mon.trace` is the `EntropyTrace` of the last call, `mon.traces` every call in order.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        layers: Iterable[int] | None = None,
        stats: Sequence[str] = STATS,
        backend: str = "auto",
    ):
        stats = tuple(stats)
        self.backend = backend
        unknown = [s for s in stats if s not in STATS]
        if unknown or not stats:
            raise ValueError(f"stats must be a non-empty subset of {STATS}, got {stats!r}")
        self.stats = stats
        self.model = model
        self._traces: list[EntropyTrace] = []
        self._recorder: _Recorder | None = None
        self._requested_layers = None if layers is None else [int(i) for i in layers]
        self._active = False

    # ---- public results -------------------------------------------------------------------
    @property
    def traces(self) -> list[EntropyTrace]:
        """Every recorded call, in order (a copy of the list)."""
        if self._recorder is not None:
            self._recorder.flush_implicit()
            return list(self._recorder.traces)
        return list(self._traces)

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
        self._recorder = _Recorder(modules, layers, self.stats, self._model_name())
        self._recorder.traces = self._traces  # keeps calls of earlier `with` blocks of this monitor

        if self.backend != "auto":  # fail here, not in the middle of the first forward
            from ..kernels.dispatch import resolve_backend

            param = next(model.parameters(), None)
            resolve_backend(self.backend, param.device if param is not None else torch.device("cpu"))
        register()
        self._saved_impl = [(cfg, cfg._attn_implementation_internal) for cfg in _configs_of(model)]
        self._own_generate = model.__dict__.get("generate")  # a user's instance attribute, if any
        self._handles = []
        self._token = None
        self._backend_token = None
        _MONITORED.add(model)
        try:
            model.set_attn_implementation(NAME)
            self._install_hooks()
            self._token = ACTIVE_RECORDERS.set(ACTIVE_RECORDERS.get() + (self._recorder,))
            self._backend_token = ACTIVE_BACKEND.set(self.backend)
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
                ACTIVE_RECORDERS.reset(self._token)
                self._token = None
            if getattr(self, "_backend_token", None) is not None:
                ACTIVE_BACKEND.reset(self._backend_token)
                self._backend_token = None
            for h in self._handles:
                h.remove()
            self._handles = []
            if self._own_generate is None:
                model.__dict__.pop("generate", None)
            else:
                model.__dict__["generate"] = self._own_generate
            self._own_generate = None
            if self._recorder is not None:
                self._recorder.flush_implicit()
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
        model, rec = self.model, self._recorder
        # The hooks and the wrapper close over the recorder, never the monitor.
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
            rec.begin_step(ids if isinstance(ids, torch.Tensor) else None,
                           mask2d if isinstance(mask2d, torch.Tensor) and mask2d.dim() == 2 else None)
            return None

        def post_hook(module, args, kwargs, output):
            # always_call=True: also runs when forward raised (output is then None).
            rec.end_step(ok=output is not None)
            if not rec.in_generate:
                rec.finish_call()
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
            rec.flush_implicit()
            prompt = kwargs.get("input_ids", args[0] if args else None)
            if not isinstance(prompt, torch.Tensor):
                prompt = kwargs.get("inputs_embeds")
            rec.prompt_len = int(prompt.shape[1]) if isinstance(prompt, torch.Tensor) and prompt.dim() >= 2 else None
            rec.in_generate += 1
            n_before = len(rec.traces)
            try:
                return original_generate(*args, **kwargs)
            finally:
                rec.in_generate -= 1
                rec.finish_call()  # also a failed generate: what ran is kept, as for forward
                if len(rec.traces) > n_before:
                    _mark_finished_rows(rec.traces[-1], _eos_ids(kwargs, cfg))

        model.generate = generate
