"""`he.EntropyCallback`: a `transformers.TrainerCallback` on top of `he.TrainingMonitor`.

Imports `transformers` (so `import headentropy` does not import this module; `he.EntropyCallback`
is resolved on first use).

Logging. The scalars must reach every reporting integration (TensorBoard, W&B, MLflow,
trackio, ...). The Trainer calls its callbacks in order and the integrations come before user
callbacks, so adding keys to `logs` in our `on_log` would be too late for them. The callback
therefore logs through the Trainer itself (`trainer.log(scalars)`, the path the Trainer's own
loss takes): pass it as `he.EntropyCallback(...).attach(trainer)` (or `trainer=` at construction
time). Without a trainer it falls back to adding the keys to the next `logs` it sees, which
reaches `state.log_history` and callbacks after it only, and says so once.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import TrainerCallback

from .training import TrainingMonitor

logger = logging.getLogger("headentropy")
ON_ALARM = ("warn", "save", "stop")


class EntropyCallback(TrainerCallback):
    """Attention entropy of a `Trainer` run: scalars every `every_n_steps`, alarms, actions.

    ```python
    trainer = Trainer(model=model, args=args, train_dataset=ds)
    cb = he.EntropyCallback(every_n_steps=50, on_alarm="stop").attach(trainer)
    trainer.train()
    cb.findings                 # [Finding]: entropy_collapse / entropic_overload, each once
    ```

    Sampled steps: global steps 1, n + 1, 2n + 1, ... (the step's own training forward(s);
    the first step gives the run's baseline). `on_alarm`: "warn" (a warning on the "headentropy"
    logger when an alarm is first raised), "save" (also `control.should_save`: a checkpoint at the
    end of that step, whatever `save_strategy` says), "stop" (also `control.should_training_stop`). Under DDP every rank computes the same all-reduced
    numbers, so all ranks stop together; the Trainer's integrations write on rank 0.
    """

    def __init__(self, every_n_steps: int = 50, on_alarm: str = "warn", *, backend: str = "auto",
                 trainer: Any = None):
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError(f"every_n_steps must be an int >= 1, got {every_n_steps!r}")
        if on_alarm not in ON_ALARM:
            raise ValueError(f"on_alarm must be one of {ON_ALARM}, got {on_alarm!r}")
        self.every_n_steps = every_n_steps
        self.on_alarm = on_alarm
        self.backend = backend
        self.monitor: TrainingMonitor | None = None
        self._trainer = None
        self._pending: dict[str, float] = {}  # scalars waiting for an on_log (no trainer attached)
        self._told_fallback = False
        if trainer is not None:
            self.attach(trainer)

    def attach(self, trainer: Any) -> "EntropyCallback":
        """Add this callback to `trainer` (once) and log through `trainer.log`. Returns self."""
        if not hasattr(trainer, "log") or not hasattr(trainer, "callback_handler"):
            raise ValueError(f"attach() needs a transformers.Trainer, got {type(trainer).__name__}")
        self._trainer = trainer
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        return self

    @property
    def findings(self) -> list:
        return [] if self.monitor is None else list(self.monitor.findings)

    # ---- events ---------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is None:
            raise ValueError("EntropyCallback needs the Trainer's model")
        if self.monitor is not None:
            self.monitor.close()
        self.monitor = TrainingMonitor(model, self.every_n_steps, backend=self.backend, warn=False, _auto_arm=False)
        if self._trainer is None and not self._told_fallback:
            self._told_fallback = True
            logger.warning(
                "headentropy.EntropyCallback is not attached to the Trainer: its scalars reach only "
                "state.log_history and callbacks after it, not the reporting integrations (TensorBoard, W&B, ...). "
                "Use he.EntropyCallback(...).attach(trainer)."
            )

    def on_step_begin(self, args, state, control, **kwargs):
        mon = self.monitor
        if mon is not None and mon.samples_next():
            mon._arm()  # this step's training forward(s) are recorded

    def on_step_end(self, args, state, control, **kwargs):
        mon = self.monitor
        if mon is None:
            return control
        scalars = mon.step(state.global_step)
        if not scalars:
            return control
        for finding in mon.last_raised:
            logger.warning("headentropy alarm (%s): %s", finding.kind, finding.summary)
            if self.on_alarm == "save":
                control.should_save = True
            elif self.on_alarm == "stop":
                control.should_training_stop = True
        if self._trainer is not None:
            # Through the Trainer's own logging path: every reporting integration receives them.
            # trainer.log() runs the handler's on_log, which clears control.should_log: restore it,
            # or the Trainer would skip its own loss log of this step (and average it into the next).
            should_log = control.should_log
            self._trainer.log(dict(scalars))
            control.should_log = should_log
        else:
            self._pending.update(scalars)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._pending and logs is not None:
            logs.update(self._pending)  # for the callbacks after this one
            history = state.log_history
            if history and history[-1].get("step") == state.global_step:
                history[-1].update(self._pending)  # the Trainer copied `logs` there before on_log
            self._pending = {}
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.monitor is not None:
            self.monitor.close()  # the model is as before; findings stay readable
        return control
