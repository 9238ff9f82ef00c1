"""The Keras callbacks of a training run: epoch metrics to the display, Ctrl-C, NaN.

Epoch-level hooks do the work, so nbmnist adds no Python work to a training step (the
issue's budget for the whole dashboard is 2% of training time). Batch progress is one
integer set when Keras starts a group of batches (``on_train_batch_begin``, called once per
call into the backend) and read by the dashboard from another thread (``batch_progress``);
the batch-end hooks stay Keras' defaults, so Keras keeps dispatching them asynchronously.
Ctrl-C is caught by a SIGINT handler that sets ``model.stop_training``, which Keras checks
after every group; a NaN loss is checked once per epoch (Keras' ``TerminateOnNaN`` checks
every batch).
"""

from __future__ import annotations

import functools
import signal
import threading
import time
import warnings
from types import FrameType
from typing import TYPE_CHECKING, Any

from nbmnist.backend import import_keras

if TYPE_CHECKING:
    from nbmnist.display import Listener
    from nbmnist.metric_log import MetricLog


class Interrupt:
    """While active, Ctrl-C (SIGINT) asks training to stop after the current batch.

    With ``steps_per_execution`` > 1, Keras checks between groups of batches, so training
    stops after the current group (``backend.plan_execution`` sizes groups to ~0.2 s).

    A second Ctrl-C raises ``KeyboardInterrupt`` at once, as usual. Outside the main thread
    (where Python cannot install signal handlers) it does nothing.

    Attributes:
        requested: Ctrl-C was pressed while active.
    """

    def __init__(self) -> None:
        self.requested = False
        self.model: Any = None
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.model is not None:
            self.model.stop_training = True

    def watch(self, model: Any) -> Interrupt:
        self.model = model
        return self

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


@functools.cache
def _training_callback_class() -> type:
    """``TrainingCallback``, defined on first use: Keras (and its backend) is imported only
    when a run trains, not when this module is."""
    keras = import_keras()

    class TrainingCallback(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
        """Records each completed epoch in the metric log and hands it to the display.

        A partly trained epoch (stopped by Ctrl-C) is not recorded, and its validation is
        skipped by raising ``KeyboardInterrupt`` when Keras starts it. A NaN or infinite
        training loss stops training after that epoch.

        Args:
            log: where completed epochs are recorded.
            display: told after each epoch.
            interrupt: Ctrl-C while training.
            batches_per_step: the user's batches in one Keras step (JAX groups them).
            batches_per_epoch: the user's batches in one epoch.
            weights: where each epoch's kernel quantiles are added (``run.weight_quantiles``,
                see ``plots.record_weight_quantiles``); None: not recorded.
            inside: records activations and gradients on a fixed batch after each epoch
                (``inside.InsideRecorder``); None: not recorded.
        """

        def __init__(
            self,
            log: MetricLog,
            display: Listener,
            interrupt: Interrupt,
            batches_per_step: int = 1,
            batches_per_epoch: int = 0,
            weights: dict[str, list[list[float]]] | None = None,
            inside: Any = None,
        ) -> None:
            super().__init__()
            self.log = log
            self.display = display
            self.interrupt = interrupt
            self.batches_per_step = batches_per_step
            self.batches_per_epoch = batches_per_epoch
            self.weights = weights
            self.inside = inside
            self._started = 0.0
            self._batches_done = 0
            self._training = False

        def batch_progress(self) -> tuple[int, int]:
            """(batches done in the current epoch, batches per epoch); (0, 0) before training.

            Safe to call from another thread while training runs."""
            if not self._training or not self.batches_per_epoch:
                return 0, 0
            return min(self._batches_done, self.batches_per_epoch), self.batches_per_epoch

        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            self._training = True

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self._started = time.perf_counter()
            self._batches_done = 0

        def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
            self._batches_done = batch * self.batches_per_step

        def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
            if self.interrupt.requested:
                raise KeyboardInterrupt  # do not validate a partial epoch

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            if self.interrupt.requested:
                return
            self._batches_done = self.batches_per_epoch
            self.log.append(logs or {}, time.perf_counter() - self._started)
            if self.weights is not None:
                from nbmnist.plots import record_weight_quantiles

                record_weight_quantiles(self.model, self.weights)
            if self.inside is not None:
                try:
                    self.inside.record(self.model)
                except Exception as err:  # a diagnostic must never end a student's training
                    warnings.warn(
                        f"nbmnist: activations and gradients no longer recorded for this run "
                        f"({type(err).__name__}: {err})",
                        stacklevel=1,
                    )
                    self.inside = None
            self.display.epoch_completed(self.log)
            if self.log.diverged():
                self.model.stop_training = True

    return TrainingCallback


def __getattr__(name: str) -> Any:
    """``TrainingCallback`` (a ``keras.callbacks.Callback``), made when first asked for."""
    if name != "TrainingCallback":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _training_callback_class()
