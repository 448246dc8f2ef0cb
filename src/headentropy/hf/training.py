"""Training with attention entropy (issue 13; design notes §12): a regulariser and a monitor.

* `he.regularize(model, ...)` adds `weight × penalty` to `outputs.loss` of every training-mode
  forward, the penalty computed from that same forward's statistics (a `LossTap` keeps their
  autograd graph; no second forward, no eager attention, no N×N).
* `he.TrainingMonitor(model, every_n_steps=50)` records the training forward(s) of every n-th
  step and turns them into flat scalars and alarms (`Finding`s). Between sampled steps the model
  runs its own attention implementation: unsampled steps cost nothing extra.
* `he.EntropyCallback` (hf/callback.py) is the `transformers.TrainerCallback` built on it.

Both share one `he.monitor` per model (`_Session`): a model has at most one monitor at a time,
and a regulariser and a training monitor on the same model read the same recorded forward.
The `he.monitor` is entered while someone needs it (a regulariser: always; a training monitor:
during a sampled step only) and exited as soon as nobody does, which restores the model.

Statistics: per (layer, head), the mean over valid (non-padding) positions of the normalised
entropy `H / log n` (n = keys the query sees). The regulariser counts positions with n >= 2
(as `LossTap.mean_normalized`); the monitor counts positions with n >= `MIN_KEYS`, as the
analyses whose thresholds it reuses.

Under torch.distributed (DDP/FSDP) the monitor all-reduces (sum, count) per head before it
computes anything, so every rank gets the same scalars and alarms (they stop together) and the
numbers equal a single process over the global batch; log them on rank 0 (the Trainer's
reporting integrations already do).
"""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Any, Iterable, Sequence

import torch

from ..analysis import thresholds as T
from ..analysis.detectors import DETECTORS
from ..analysis.diagnose import Finding
from ..capture import LossTap
from ..capture.taps import head_means
from ..trace import STATS
from .monitor import attention_modules
from .monitor import monitor as _monitor

KINDS = ("band", "max", "target")
ALARMS = ("entropy_collapse", "entropic_overload")
PREFIX = "attention_entropy"

# model -> its _Session while a regulariser or an armed training monitor uses it
_SESSIONS: "weakref.WeakKeyDictionary[torch.nn.Module, _Session]" = weakref.WeakKeyDictionary()


class _Forward:
    """The statistics of one recorded forward, read from the shared tap (computed on demand)."""

    def __init__(self, tap: LossTap):
        self.tap = tap
        self.layers = list(tap.layers)  # model layer of each slot
        self.valid = tap.valid()  # [B, N]
        self.n_keys = tap.n_keys()  # [B, L, N]
        self._stats: dict[str, torch.Tensor] = {}

    def stat(self, name: str) -> torch.Tensor:
        if name not in self._stats:
            # enable_grad: the first reader may be a monitor inside no_grad(); the cached tensor
            # must still carry the graph for a regulariser that reads it after.
            with torch.enable_grad():
                self._stats[name] = self.tap.stat(name)  # [B, L, H, N], with graph
        return self._stats[name]

    def usable(self, min_keys: int) -> torch.Tensor:
        return self.valid[:, None, :] & (self.n_keys >= min_keys)  # [B, L, N]


# ---- one monitor per model, shared ---------------------------------------------------------------

class _SharedTap(LossTap):
    """A `LossTap` that samples a call when the model is in training mode and someone needs it."""

    def __init__(self, session: "_Session"):
        super().__init__(1)
        self.session = session

    def samples(self, call_index: int) -> bool:
        s = self.session
        # Only forwards of the model itself: attention layers re-run by gradient checkpointing
        # during backward are not a forward (recording them would change what they compute).
        return bool(s.in_forward and s.model.training and (s.regularizers or s.monitors))


class _Session:
    def __init__(self, model: torch.nn.Module, backend: str):
        self.model = model
        self.backend = backend
        self.tap = _SharedTap(self)
        self.regularizers: list[RegularizerHandle] = []
        self.monitors: list[TrainingMonitor] = []  # armed ones
        self._mon: _monitor | None = None
        self._hooks: list = []
        self.in_forward = False  # inside a forward of the model (set before the monitor's hooks run)

    @classmethod
    def of(cls, model: torch.nn.Module, backend: str) -> "_Session":
        s = _SESSIONS.get(model)
        if s is None:
            s = _SESSIONS[model] = cls(model, backend)
        elif backend != "auto" and backend != s.backend:
            if s._mon is not None:  # the shared monitor already runs; it has one backend
                raise ValueError(
                    f"backend={backend!r}: this model's regulariser/monitor already runs on backend {s.backend!r}; "
                    "use the same backend for both (or 'auto' for one of them)"
                )
            s.backend = backend
        return s

    def add(self, group: list, obj: Any) -> None:
        group.append(obj)
        try:
            self._sync()
        except BaseException:
            group.remove(obj)
            if not (self.regularizers or self.monitors) and _SESSIONS.get(self.model) is self:
                del _SESSIONS[self.model]
            raise

    def discard(self, group: list, obj: Any) -> None:
        if obj in group:
            group.remove(obj)
            self._sync()

    def _sync(self) -> None:
        """Enter the `he.monitor` when someone needs it, exit it when nobody does."""
        need = bool(self.regularizers or self.monitors)
        if need and self._mon is None:
            mon = _monitor(self.model, taps=[self.tap], backend=self.backend, stats=STATS)
            mon.__enter__()
            self._mon = mon
            # The pre-hook runs before the monitor's (prepend), so the tap knows it is in a forward
            # when the call begins; the post-hook after the monitor's, so the tap holds this
            # forward's statistics by then.
            self._hooks = [
                self.model.register_forward_pre_hook(self._before_forward, prepend=True),
                self.model.register_forward_hook(self._after_forward, with_kwargs=True, always_call=True),
            ]
        elif not need and self._mon is not None:
            for h in self._hooks:
                h.remove()
            self._hooks = []
            self.in_forward = False
            mon, self._mon = self._mon, None
            self.tap.clear()
            mon.__exit__(None, None, None)
            if _SESSIONS.get(self.model) is self:
                del _SESSIONS[self.model]

    def _before_forward(self, module, args):
        self.in_forward = True
        return None

    def _after_forward(self, module, args, kwargs, output):
        self.in_forward = False
        tap = self.tap
        capture = self._mon._capture if self._mon is not None else None
        if output is None or not tap.recorded or (capture is not None and capture.in_generate):
            tap.clear()  # a failed forward: drop what it recorded
            return None
        try:
            fwd = _Forward(tap)
            penalty = None
            for reg in self.regularizers:
                p = reg._penalty(fwd)  # scalar, with graph
                penalty = p if penalty is None else penalty + p
            for mon in self.monitors:
                mon._accumulate(fwd)  # detached copies
        finally:
            tap.clear()  # the graph now lives only in what was returned (the loss)
        if penalty is not None:
            _add_to_loss(output, penalty)
        return None


def _add_to_loss(output: Any, penalty: torch.Tensor) -> None:
    if isinstance(output, tuple):
        raise ValueError(
            "he.regularize needs the model to return a ModelOutput (return_dict=True, the default): "
            "a tuple output has no named loss to add the penalty to"
        )
    loss = getattr(output, "loss", None)
    if loss is None:  # no labels: nothing to add to
        return
    output.loss = loss + penalty.to(loss.dtype)  # ModelOutput keeps its dict entry in step


# ---- the regulariser -----------------------------------------------------------------------------

def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The HF model inside a DistributedDataParallel / DataParallel wrapper (hooks go on it)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


def _model_shape(model: torch.nn.Module) -> tuple[list[int], int | None]:
    """The model's attention layers and its number of query heads (None when the config does not say)."""
    layers = [layer for layer, _ in attention_modules(model)]
    cfg = getattr(model, "config", None)
    heads = getattr(cfg, "num_attention_heads", None)
    if heads is None:
        heads = getattr(getattr(cfg, "text_config", None), "num_attention_heads", None)
    return layers, heads


def _measurable(model: torch.nn.Module, backend) -> tuple[torch.nn.Module, list[int], int]:
    """The unwrapped model, its attention layers and heads; ValueError when there is nothing to measure."""
    if not isinstance(backend, str):
        raise ValueError(f"backend must be a string, got {type(backend).__name__}")
    model = _unwrap(model)
    layers, heads = _model_shape(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no attention layers that headentropy can measure")
    return model, layers, heads


class RegularizerHandle:
    """What `he.regularize` returns: a context manager; `remove()` restores the model exactly.

    `last_penalty`: the penalty (before `weight`) of the last training forward, a float (None
    before the first). `last_stats`: that forward's per-head mean normalised entropy of the
    penalised layers, `[L, H]` detached on the CPU (NaN for a layer with no usable position).
    """

    def __init__(self, model, weight, kind, band, stat, layers, targets, backend):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if stat not in ("shannon", "renyi2"):
            raise ValueError(f"stat must be 'shannon' or 'renyi2', got {stat!r}")
        try:
            lo, hi = (float(x) for x in band)
        except (TypeError, ValueError):
            raise ValueError(f"band must be a pair (lo, hi) with 0 <= lo < hi <= 1, got {band!r}") from None
        if not (0.0 <= lo < hi <= 1.0):
            raise ValueError(f"band must be a pair (lo, hi) with 0 <= lo < hi <= 1, got {band!r}")
        model, all_layers, heads = _measurable(model, backend)
        if layers is None:
            chosen = list(all_layers)
        else:
            chosen = sorted({int(i) for i in layers})
            missing = [i for i in chosen if i not in all_layers]
            if missing or not chosen:
                raise ValueError(f"layers {missing or chosen!r} do not exist; the model has attention layers {all_layers}")
        if kind == "target":
            if targets is None:
                raise ValueError("kind='target' needs targets: per-head mean normalised entropies [layers, heads]")
            t = torch.as_tensor(targets, dtype=torch.float64)
            expected = (len(chosen), heads if heads is not None else t.shape[-1] if t.dim() == 2 else -1)
            if t.dim() != 2 or tuple(t.shape) != expected:
                raise ValueError(f"targets must have shape [layers, heads] = {list(expected)}, got {list(t.shape)}")
            if not bool(((t >= 0) & (t <= 1)).all()):
                raise ValueError("targets must be normalised entropies in [0, 1]")
            targets = t
        elif targets is not None:
            raise ValueError(f"targets are only used with kind='target', not kind={kind!r}")
        self.model = model
        self.weight = float(weight)
        self.kind, self.band, self.stat, self.layers = kind, (lo, hi), stat, chosen
        self.targets: torch.Tensor | None = targets  # [L, H] fp64 CPU
        self._last_penalty: torch.Tensor | None = None
        self._last_stats: torch.Tensor | None = None
        self._session: _Session | None = _Session.of(model, backend)
        self._session.add(self._session.regularizers, self)

    # ---- results --------------------------------------------------------------------------------
    @property
    def last_penalty(self) -> float | None:
        """The penalty of the last training forward (unweighted). Reading it syncs with the device."""
        return None if self._last_penalty is None else float(self._last_penalty)

    @property
    def last_stats(self) -> torch.Tensor | None:
        return None if self._last_stats is None else self._last_stats.cpu()

    # ---- the penalty ----------------------------------------------------------------------------
    def _penalty(self, fwd: _Forward) -> torch.Tensor:
        slots = [fwd.layers.index(i) for i in self.layers]
        means, count = head_means(fwd.stat(self.stat), fwd.n_keys, fwd.usable(2))  # [L, H], [L]
        means, count = means[slots], count[slots]  # penalised layers
        if self.kind == "band":
            lo, hi = self.band
            excess = torch.relu(lo - means) + torch.relu(means - hi)  # [L, H]
            per_head = excess.square()
        elif self.kind == "max":
            per_head = -means
        else:
            if self.targets.shape[1] != means.shape[1]:
                raise ValueError(f"targets have {self.targets.shape[1]} heads, the model's attention has {means.shape[1]}")
            per_head = (means - self.targets.to(means)).square()
        has = count > 0  # [L]: layers with at least one usable position
        # Mean over the heads of layers with data (a 1-token input has none: penalty 0).
        n_heads = has.sum() * per_head.shape[1]
        penalty = (per_head * has[:, None]).sum() / n_heads.clamp(min=1)
        self._last_penalty = penalty.detach()
        self._last_stats = torch.where(has[:, None], means.detach(), torch.full_like(means.detach(), float("nan")))
        return self.weight * penalty

    # ---- lifetime -------------------------------------------------------------------------------
    def remove(self) -> None:
        """Stop adding the penalty; the model is as before (idempotent)."""
        if self._session is not None:
            session, self._session = self._session, None
            session.discard(session.regularizers, self)

    def __enter__(self) -> "RegularizerHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def regularize(
    model: torch.nn.Module,
    weight: float = 1e-3,
    kind: str = "band",
    band: tuple[float, float] = (0.2, 0.9),
    stat: str = "shannon",
    layers: Iterable[int] | None = None,
    targets: Any = None,
    *,
    backend: str = "auto",
) -> RegularizerHandle:
    """Add an attention-entropy penalty to `outputs.loss` of every training-mode forward.

    Per head, `h` is the mean over valid positions of `stat / log n` (n = visible keys; padding
    and single-key rows excluded) of this forward:

    * `"band"`: mean over heads of `(max(lo - h, 0) + max(h - hi, 0))²` (after Jha & Reagen 2025);
    * `"max"`: `-mean(h)` (entropy-based attention regularisation, Attanasio et al. 2022;
      their strength is about 0.01);
    * `"target"`: mean over heads of `(h - targets)²`, `targets` `[layers, heads]` in [0, 1]
      (e.g. `handle.last_stats` of a reference checkpoint).

    The loss becomes `loss + weight × penalty` on the model's output when it has a loss (labels
    given) and the model is in training mode (evaluation losses stay comparable to runs without
    it). `layers`: model layers to penalise (default all). `backend`: the `he.attention` backend
    (one with gradients: "auto", "cpu" or "torch"). Returns a handle: a context manager,
    `handle.remove()`, `handle.last_penalty`, `handle.last_stats`.
    With gradient accumulation the penalty is added to every micro-batch's loss.
    """
    return RegularizerHandle(model, weight, kind, band, stat, layers, targets, backend)


# ---- the training monitor ------------------------------------------------------------------------

_TRAINING_CAUSES = {
    "entropy_collapse": (
        "attention logits grow without bound (learning rate too high or no warm-up; Wortsman et al. 2023, "
        "Zhai et al. 2023)",
    ),
    "entropic_overload": ("attention weights receive (almost) no gradient or a learning rate too low to move them",),
}
_TRAINING_MITIGATIONS = {
    "entropy_collapse": (
        "he.regularize(model, kind='band') (an entropy penalty in the loss)",
        "lower the learning rate or add warm-up",
        "QK-LayerNorm (Dehghani et al. 2023) or σReparam (Zhai et al. 2023)",
    ),
    "entropic_overload": ("check the learning rate and that the attention projections are trainable",),
}


def _is_distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    device = x.device
    if dist.get_backend() == "nccl":
        y = x.to(torch.device("cuda", torch.cuda.current_device()))
    else:
        y = x.cpu()  # gloo and other CPU collectives
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y.to(device)


class TrainingMonitor:
    """Attention entropy of a training run, for plain loops (and `he.EntropyCallback`).

    ```python
    mon = he.TrainingMonitor(model, every_n_steps=50)
    for step, batch in enumerate(loader):
        loss = model(**batch).loss      # steps 0, 50, 100, ... are recorded (this forward, no extra one)
        loss.backward(); opt.step(); opt.zero_grad()
        logs = mon.step(step)           # {} unless the step was sampled; then flat scalars
    mon.close()                         # or use it as a context manager
    ```

    `step(step)` closes the current step: the first call closes step 0, and steps whose count
    is a multiple of `every_n_steps` are recorded (every training-mode forward of the step, so
    gradient-accumulation micro-batches too; evaluation forwards never). The scalars' keys:
    `attention_entropy/mean`, `.../layer_{i:02d}`, `.../head_variance/layer_{i:02d}`,
    `.../min_head`, `.../collapsed_heads`, `.../sink_mass`, `.../alarm/{kind}` (0 or 1).
    Alarms are `Finding`s kept in `findings`, each raised (and warned about) once;
    `last_raised` holds the ones the last `step()` raised.
    """

    def __init__(self, model: torch.nn.Module, every_n_steps: int = 50, *, backend: str = "auto",
                 warn: bool = True, _auto_arm: bool = True):
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an int >= 1, got {every_n_steps!r}")
        model, layers, heads = _measurable(model, backend)
        self.model = model
        self.every_n_steps = every_n_steps
        self.backend = backend
        self.warn = warn
        self.layers = layers
        self._heads = heads
        self.findings: list[Finding] = []
        self.last_raised: list[Finding] = []
        self.history: list[tuple[int, dict[str, float]]] = []  # (step, scalars) of sampled steps
        self._steps_done = 0
        self._armed = False
        self._acc: torch.Tensor | None = None  # [3, L, H]: sum of normalised H, sum of sink mass, count
        self._baseline: torch.Tensor | None = None  # [L] layer means at the first sampled step
        self._overload: list[tuple[bool, float]] = []  # (condition, model mean), the last few samples
        self._auto_arm = _auto_arm
        self._closed = False
        if _auto_arm:
            self._arm()

    # ---- sampling -------------------------------------------------------------------------------
    def samples_next(self) -> bool:
        """Whether the step now running (the `step()` calls so far + 1st) is recorded."""
        return self._steps_done % self.every_n_steps == 0

    def _arm(self) -> None:
        if self._armed or self._closed:
            return
        self._acc = None
        session = _Session.of(self.model, self.backend)
        session.add(session.monitors, self)
        self._armed = True

    def _disarm(self) -> None:
        if not self._armed:
            return
        self._armed = False
        session = _SESSIONS.get(self.model)
        if session is not None:
            session.discard(session.monitors, self)

    def _accumulate(self, fwd: _Forward) -> None:
        with torch.no_grad():
            usable = fwd.usable(T.MIN_KEYS)  # [B, L, N]
            h_mean, count = head_means(fwd.stat("shannon").detach(), fwd.n_keys, usable)  # [L, H], [L]
            sink = fwd.stat("sink_mass").detach()  # [B, L, H, N]
            ok = usable[:, :, None, :]
            sink_sum = torch.where(ok, sink.double(), torch.zeros((), dtype=torch.float64, device=sink.device)).sum(dim=(0, 3))
            count = count.double()[:, None].expand_as(sink_sum)  # [L, H]
            acc = torch.stack([h_mean.double() * count, sink_sum, count])  # [3, L, H]
            self._acc = acc if self._acc is None else self._acc + acc

    # ---- a step ---------------------------------------------------------------------------------
    def step(self, step: int) -> dict[str, float]:
        """Close the current training step; the scalars when it was sampled, else `{}`."""
        self.last_raised = []
        scalars: dict[str, float] = {}
        if self._armed:
            self._disarm()
            acc = self._acc
            self._acc = None
            if _is_distributed():  # every rank reduces at the same sampled steps
                if acc is None:
                    acc = torch.zeros((3, len(self.layers), self._heads or 0), dtype=torch.float64)
                acc = _all_reduce_sum(acc)
            if acc is not None and acc.numel():
                scalars = self._scalars(int(step), acc.cpu())
                self.history.append((int(step), scalars))
        self._steps_done += 1
        if self._auto_arm and self.samples_next():
            self._arm()
        return scalars

    def _scalars(self, step: int, acc: torch.Tensor) -> dict[str, float]:
        h_sum, sink_sum, count = acc  # [L, H] each, fp64
        per_head = h_sum / count  # [L, H]; NaN where a layer had no usable position
        known = count > 0
        nan = float("nan")
        out: dict[str, float] = {}
        heads = per_head[known]
        out[f"{PREFIX}/mean"] = float(heads.mean()) if heads.numel() else nan
        layer_means = torch.full((len(self.layers),), nan, dtype=torch.float64)
        for slot, layer in enumerate(self.layers):
            row = per_head[slot]
            if bool(known[slot].any()):
                layer_means[slot] = row.mean()
            out[f"{PREFIX}/layer_{layer:02d}"] = float(layer_means[slot])
        for slot, layer in enumerate(self.layers):
            row = per_head[slot]
            out[f"{PREFIX}/head_variance/layer_{layer:02d}"] = (
                float(row.var(unbiased=False)) if bool(known[slot].any()) else nan)
        out[f"{PREFIX}/min_head"] = float(heads.min()) if heads.numel() else nan
        collapsed = float((heads < T.COLLAPSE_HEAD_ENTROPY).double().mean()) if heads.numel() else nan
        out[f"{PREFIX}/collapsed_heads"] = collapsed
        out[f"{PREFIX}/sink_mass"] = float(sink_sum.sum() / count.sum()) if bool(known.any()) else nan
        alarms = self._alarms(step, per_head, known, layer_means, out) if heads.numel() else {}
        for kind in ALARMS:
            out[f"{PREFIX}/alarm/{kind}"] = 1.0 if alarms.get(kind) else 0.0
        return out

    # ---- alarms ---------------------------------------------------------------------------------
    def _alarms(self, step: int, per_head: torch.Tensor, known: torch.Tensor, layer_means: torch.Tensor,
                out: dict[str, float]) -> dict[str, bool]:
        heads = per_head[known]
        mean = out[f"{PREFIX}/mean"]
        fired: dict[str, dict] = {}
        first_sample = self._baseline is None
        if first_sample:
            self._baseline = layer_means.clone()

        # entropy_collapse: too many collapsed heads, or a layer fell fast against the baseline
        frac = out[f"{PREFIX}/collapsed_heads"]
        fallen = []
        if not first_sample:
            base = self._baseline
            ok = torch.isfinite(base) & torch.isfinite(layer_means) & (base > 0)
            fallen = [self.layers[i] for i in range(len(self.layers))
                      if bool(ok[i]) and float(layer_means[i]) < T.TRAIN_FALL_RATIO * float(base[i])]
        if frac >= T.COLLAPSE_HEAD_FRACTION or fallen:
            why = []
            if frac >= T.COLLAPSE_HEAD_FRACTION:
                why.append(f"{frac:.0%} of heads below {T.COLLAPSE_HEAD_ENTROPY}")
            if fallen:
                why.append(f"layer(s) {fallen} fell below {T.TRAIN_FALL_RATIO} × their first-sample mean")
            fired["entropy_collapse"] = dict(
                summary=f"attention entropy collapse at step {step}: " + "; ".join(why),
                statistic="fraction of heads with mean normalised Shannon entropy below the head threshold; "
                          "per-layer mean against the run's first sampled step",
                value=round(frac, 4), threshold=T.COLLAPSE_HEAD_FRACTION, head_threshold=T.COLLAPSE_HEAD_ENTROPY,
                fall_ratio=T.TRAIN_FALL_RATIO, fallen_layers=fallen,
                baseline_layer_means=_rounded(self._baseline),
                example_heads=_where(per_head < T.COLLAPSE_HEAD_ENTROPY, known, self.layers))

        # entropic_overload: uniformly high, and staying there
        over = float((heads > T.OVERLOAD_HEAD_ENTROPY).double().mean())
        self._overload = (self._overload + [(over >= T.OVERLOAD_HEAD_FRACTION, mean)])[-T.TRAIN_OVERLOAD_SAMPLES:]
        window = self._overload
        if (len(window) == T.TRAIN_OVERLOAD_SAMPLES and all(c for c, _ in window)
                and window[0][1] - window[-1][1] <= T.TRAIN_OVERLOAD_MIN_FALL):
            fired["entropic_overload"] = dict(
                summary=(f"attention entropy uniformly high for {T.TRAIN_OVERLOAD_SAMPLES} sampled steps up to "
                         f"step {step}: {over:.0%} of heads above {T.OVERLOAD_HEAD_ENTROPY}, model mean "
                         f"{window[0][1]:.3f} -> {window[-1][1]:.3f}"),
                statistic="fraction of heads with mean normalised Shannon entropy above the head threshold, "
                          "on consecutive sampled steps",
                value=round(over, 4), threshold=T.OVERLOAD_HEAD_FRACTION, head_threshold=T.OVERLOAD_HEAD_ENTROPY,
                samples=T.TRAIN_OVERLOAD_SAMPLES, max_fall=T.TRAIN_OVERLOAD_MIN_FALL,
                model_means=[round(m, 4) for _, m in window],
                example_heads=_where(per_head > T.OVERLOAD_HEAD_ENTROPY, known, self.layers))

        for kind, evidence in fired.items():
            evidence.update(step=step, model_mean_normalized_entropy=round(mean, 4),
                            layer_means=_rounded(layer_means))
            if kind in {f.kind for f in self.findings}:
                continue  # raised once
            det = DETECTORS[kind]
            finding = Finding(kind, "critical" if kind == "entropy_collapse" else "warning", evidence,
                              list(_TRAINING_CAUSES[kind]) + list(det.causes),
                              list(_TRAINING_MITIGATIONS[kind]) + list(det.mitigations))
            self.findings.append(finding)
            self.last_raised.append(finding)
            if self.warn:
                warnings.warn(f"headentropy: {evidence['summary']}", RuntimeWarning, stacklevel=4)
        return {kind: True for kind in fired}

    # ---- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop recording; the model is as before (idempotent)."""
        self._closed = True
        self._disarm()

    def __enter__(self) -> "TrainingMonitor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rounded(x: torch.Tensor) -> list[float | None]:
    return [None if v != v else round(float(v), 4) for v in x.tolist()]


def _where(mask: torch.Tensor, known: torch.Tensor, layers: Sequence[int], limit: int = 12) -> list[list[int]]:
    return [[layers[li], hi] for li, hi in (mask & known).nonzero().tolist()[:limit]]
