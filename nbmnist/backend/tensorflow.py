"""Everything TensorFlow-only: Keras' own ``steps_per_execution`` (a ``tf.while_loop`` over the
batches of a group), TensorFlow's C++ start-up chatter muted, GPU memory taken as needed, and
the training step traced once.

The functions of ``nbmnist.backend.interface.BackendModule``; TensorFlow is imported inside
them, never when this module is.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.backend.common import PrivateName, load_model_as_keras_does, missing, unchanged
from nbmnist.backend.device import Device, DeviceKind

if TYPE_CHECKING:
    from nbmnist.backend.execution import Execution, Situation

NAME = "tensorflow"
#: Names from Keras' internals this module uses: none.
PRIVATE_NAMES: tuple[PrivateName, ...] = ()

#: A run of fewer steps than this, in all its epochs, trains one batch per call: grouping
#: batches in a ``tf.while_loop`` costs tracing the loop beside the step on the run's first
#: call, which a short run does not win back (``bench/choices/test_grouping.py``,
#: docs/performance.md).
TENSORFLOW_GROUPING_MIN_STEPS = 48

keras_calls = unchanged
weights_initialized_per_layer = unchanged
load_model = load_model_as_keras_does


class RetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warnings: each new model traces
    new functions, which is expected here and nothing a student can act on. Other warnings
    pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def before_import() -> None:
    """Settings TensorFlow reads when it loads; each one the user set is left alone."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def after_import() -> None:
    import tensorflow as tf

    logger = tf.get_logger()
    if not any(isinstance(f, RetracingFilter) for f in logger.filters):
        logger.addFilter(RetracingFilter())
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError, ValueError):  # devices already started
            tf.config.experimental.set_memory_growth(gpu, True)
    tf.config.list_logical_devices()  # device start-up prints cuInit errors: muted here


def device() -> Device:
    import tensorflow as tf

    for tf_kind, kind in (("TPU", "tpu"), ("GPU", "gpu")):
        found = tf.config.list_physical_devices(tf_kind)
        if found:
            details = tf.config.experimental.get_device_details(found[0])
            name = details.get("device_name") or found[0].name
            return Device(kind, str(name), len(found))  # type: ignore[arg-type]
    return Device.cpu()


def versions() -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__}


def fallbacks() -> tuple[str, ...]:
    return missing(PRIVATE_NAMES)


def grouping(steps: int, reason: str, situation: Situation) -> tuple[int, str, str]:
    """Keras' ``steps_per_execution``, except for runs too short to pay for it."""
    if steps == 1:
        return 1, reason, "none"
    total = situation.total_steps
    if situation.requested is None and 0 < total < TENSORFLOW_GROUPING_MIN_STEPS:
        reason = (
            f"{total} steps in all: fewer than {TENSORFLOW_GROUPING_MIN_STEPS}, so one batch "
            "per call (tracing TensorFlow's loop over a group would cost more than it saves)"
        )
        return 1, reason, "none"
    return steps, reason, "keras"


def data_on_device(kind: DeviceKind) -> bool:
    return False  # tf.data-free fit: Keras copies each batch to the device itself


def to_device(array: np.ndarray) -> Any:
    return array


def group_batches(model: Any, execution: Execution, batch_size: int) -> None:
    """Nothing to do: Keras groups them (``steps_per_execution``)."""


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """Create the optimizer's and the metrics' variables of compiled ``model`` before ``fit``.

    Keras 3, without a distribution strategy, creates them while it traces its training
    step, and a ``tf.function`` that creates variables on its first call is traced a second
    time without them: every model's first epoch traced its training step twice
    (``bench/choices/test_tf_first_epoch.py``, docs/performance.md). Built here, eagerly,
    the step is traced once. The model is called on one example of ``x`` (``training=False``: no
    dropout, no BatchNorm update) to build the metrics on ``y``'s first label; the metrics
    are then reset, so ``fit`` starts as it would have.
    """
    model.optimizer.build(model.trainable_variables)
    y_pred = model(x[:1], training=False)
    model.compute_metrics(x[:1], y[:1], y_pred, sample_weight=None)
    model.reset_metrics()


def compile_ahead(model: Any, x: Any, y: Any, **sizes: Any) -> Any:
    """None: TensorFlow traces each program when Keras first calls it."""
    return None


def probe(
    model: Any, x: Any, loss: Callable[[Any], Any]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """By ``tf.GradientTape``, which watches the model's trainable variables."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        outputs = model(x, training=False)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        value = loss(outputs[-1])
    found = tape.gradient(value, [v.value for v in model.trainable_variables])
    gradients = [
        np.zeros(v.shape) if g is None else np.asarray(g)
        for g, v in zip(found, model.trainable_variables, strict=True)
    ]
    return [np.asarray(o) for o in outputs], gradients
