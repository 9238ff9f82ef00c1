"""The Keras callbacks of a run: epochs to the listeners, Ctrl-C, NaN, batch progress."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from nbmnist.callbacks import Interrupt
from nbmnist.metric_log import MetricLog
from tests.conftest import REPO


class Listener:
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def epoch_completed(self, log: MetricLog) -> None:
        self.epochs.append(log.epochs)


class Model:
    stop_training = False


def test_importing_the_module_imports_no_keras() -> None:
    code = "import sys, nbmnist.callbacks; print('keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout
    assert out.split() == ["False"]
    # the callback classes come with their first use (here, where Keras is loaded anyway,
    # not in the subprocess, where it would be a Keras import)
    import keras

    import nbmnist.callbacks

    assert issubclass(nbmnist.callbacks.TrainingCallback, keras.callbacks.Callback)


def test_training_callbacks_add_nothing_per_batch() -> None:
    """Only the batch-begin hook is overridden (one integer per call into the backend); the
    batch-end hooks stay Keras' defaults, so Keras keeps dispatching them asynchronously."""
    from keras.src.utils.python_utils import is_default

    from nbmnist.callbacks import TrainingCallback

    callback = TrainingCallback(MetricLog(), Listener(), Interrupt(), 4, 30)
    for hook in ("on_batch_begin", "on_batch_end", "on_train_batch_end", "on_test_batch_end"):
        assert is_default(getattr(callback, hook)), hook
    assert not is_default(callback.on_epoch_end)
    assert callback.batch_progress() == (0, 0)  # before training
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_begin(5)  # Keras step 5 of groups of 4 batches
    assert callback.batch_progress() == (20, 30)
    callback.on_train_batch_begin(9)
    assert callback.batch_progress() == (30, 30)  # never past the epoch's batches


def test_each_epoch_goes_to_the_log_and_the_listener_and_nan_stops() -> None:
    from nbmnist.callbacks import TrainingCallback

    log, listener, model = MetricLog(), Listener(), Model()
    callback = TrainingCallback(log, listener, Interrupt())
    callback.set_model(model)  # type: ignore[arg-type]
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.9})
    assert log.history == {"loss": [0.5], "accuracy": [0.9]} and listener.epochs == [1]
    assert not model.stop_training
    callback.on_epoch_begin(1)
    callback.on_epoch_end(1, {"loss": math.nan, "accuracy": 0.1})
    assert listener.epochs == [1, 2] and model.stop_training  # diverged: stop


def test_an_interrupted_epoch_is_neither_recorded_nor_validated() -> None:
    from nbmnist.callbacks import TrainingCallback

    log, listener, interrupt = MetricLog(), Listener(), Interrupt()
    callback = TrainingCallback(log, listener, interrupt)
    interrupt.requested = True
    with pytest.raises(KeyboardInterrupt):
        callback.on_test_begin()
    callback.on_epoch_end(0, {"loss": 0.5})
    assert log.epochs == 0 and listener.epochs == []


def test_ctrl_c_asks_to_stop_then_a_second_one_raises_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    model: Any = Model()
    interrupt = Interrupt().watch(model)
    with interrupt:
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested and model.stop_training
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
