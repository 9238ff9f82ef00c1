"""Everything that depends on the Keras backend or the device.

nbmnist trains on whichever backend Keras is configured with: TensorFlow, JAX or PyTorch,
chosen by ``KERAS_BACKEND``, by ``$KERAS_HOME/keras.json`` (default ``~/.keras``), or from a
notebook with ``%config NbmnistMagics.backend = "jax"`` / ``nbmnist.use_backend("jax")``
before the first training cell. This package is the only part of nbmnist that imports a
backend framework; the rest talks to Keras and to the functions below.

Layout (as Keras' own ``keras/src/backend/{jax,tensorflow,torch}/``):

- ``choice``: choosing the backend, importing Keras on it, the module that serves it;
- ``device``: the device, the versions, the environment a run records;
- ``execution``: how a run trains (``Execution``) and the pure decisions behind it;
- ``jax``, ``tensorflow``, ``torch``: one module per backend, each offering the functions of
  ``interface.BackendModule``; nothing outside this package tells backends apart;
- ``common``: the fence around Keras' private names (``PrivateName``) and what the backend
  modules share.

For each run it decides, from the backend and the device, how training executes: the
precision policy, XLA compilation, how many batches go into one call to the backend
(``steps_per_execution``) and where the training arrays live; the choices and their reasons
are recorded with the run (``run.json``: ``environment`` and ``execution``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nbmnist.backend.choice import (
    BACKENDS,
    INSTALL,
    active_backend,
    configured_backend,
    current,
    import_keras,
    installed,
    interrupts_held,
    keras_home,
    keras_loaded,
    module,
    native_stderr_muted,
    use_backend,
)
from nbmnist.backend.device import Device, DeviceKind, device, device_name, environment, versions
from nbmnist.backend.execution import (
    MAX_CPU_STEPS_PER_EXECUTION,
    Execution,
    auto_steps_per_execution,
    batch_sizes,
    choose_steps_per_execution,
    plan_execution,
    precision_policy,
)
from nbmnist.errors import BackendError

__all__ = [
    "BACKENDS",
    "INSTALL",
    "MAX_CPU_STEPS_PER_EXECUTION",
    "BackendError",
    "Device",
    "DeviceKind",
    "Execution",
    "active_backend",
    "auto_steps_per_execution",
    "batch_sizes",
    "build_training_state",
    "choose_steps_per_execution",
    "compile_ahead",
    "configured_backend",
    "current",
    "device",
    "device_name",
    "environment",
    "free_memory",
    "group_batches",
    "import_keras",
    "installed",
    "interrupts_held",
    "keras_calls",
    "keras_home",
    "keras_loaded",
    "load_model",
    "module",
    "native_stderr_muted",
    "plan_execution",
    "precision_policy",
    "release_memory",
    "seed_everything",
    "to_device",
    "use_backend",
    "versions",
    "weights_initialized_per_layer",
]


def to_device(array: np.ndarray, cache: dict[Any, Any], key: Any) -> Any:
    """``array`` as the active backend's array on its device, made once per ``key`` and kept
    in ``cache`` (JAX: ``jax.device_put``; PyTorch on a CUDA GPU: a CUDA tensor; otherwise
    ``array`` itself)."""
    served = current()
    full_key = ("device", served.NAME, key)
    if full_key not in cache:
        cache[full_key] = served.to_device(array)
    return cache[full_key]


def group_batches(model: Any, execution: Execution, batch_size: int) -> None:
    """Make one Keras step of compiled ``model`` train ``execution.batches_per_keras_step``
    batches of ``batch_size`` (the backend's way: JAX's ``lax.scan``; nothing elsewhere)."""
    current().group_batches(model, execution, batch_size)


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """Create compiled ``model``'s optimizer (and, on TensorFlow, metrics) variables before
    ``fit``, so that its first step is traced or compiled once; ``x``, ``y``: training images
    and one-hot labels (only the first of each is used)."""
    current().build_training_state(model, x, y)


def compile_ahead(
    model: Any,
    x: Any,
    y: Any,
    *,
    train_sizes: Sequence[int] = (),
    evaluation_sizes: Sequence[int] = (),
    batches_per_epoch: int = 1,
    steps_per_call: int = 1,
) -> Any:
    """A Keras callback that compiles ``model``'s later programs (the epoch's last training
    call, evaluation) while ``fit`` compiles its first step, or None where the backend
    compiles nothing ahead (see ``nbmnist.backend.jax.compile_ahead``)."""
    return current().compile_ahead(
        model,
        x,
        y,
        train_sizes=train_sizes,
        evaluation_sizes=evaluation_sizes,
        batches_per_epoch=batches_per_epoch,
        steps_per_call=steps_per_call,
    )


@contextlib.contextmanager
def weights_initialized_per_layer() -> Iterator[None]:
    """The Keras variables created inside the block are initialized on leaving it, a layer at
    a time where the backend does so (JAX on a CPU); elsewhere the block runs unchanged.

    Raises:
        RuntimeError: the block assigned a variable created before it.
    """
    with current().weights_initialized_per_layer():
        yield


@contextlib.contextmanager
def keras_calls() -> Iterator[None]:
    """A block around nbmnist's own calls into Keras (seeding, saving, loading): on JAX and
    PyTorch, TensorFlow stays unloaded inside it."""
    with current().keras_calls():
        yield


def load_model(path: str | Path) -> Any:
    """Load a ``.keras`` file as ``keras.saving.load_model(path, safe_mode=True)`` does: the
    model, compiled as it was saved, with its optimizer's state.

    Raises:
        ValueError, OSError, KeyError, ...: as ``keras.saving.load_model`` for a missing or
            damaged file.
    """
    return current().load_model(path)


def probe(model: Any, x: Any, loss: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``model``'s outputs on ``x`` (``training=False``; a list, one array per output) and the
    gradient of ``loss(last output)`` (a scalar) with respect to each of
    ``model.trainable_variables``, in their order and shapes, as NumPy arrays: by the
    active backend's own differentiation (``tf.GradientTape``, ``jax.grad``,
    ``torch.autograd``)."""
    return current().probe(model, x, loss)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras (``keras.utils.set_random_seed``) for a repeatable run;
    TensorFlow only when it is the backend (``keras_calls``)."""
    keras = import_keras()
    with keras_calls():
        keras.utils.set_random_seed(seed)


def release_memory() -> None:
    """Free what finished models hold (between the points of a sweep): Keras' session, then
    ``free_memory``."""
    keras = import_keras()
    keras.backend.clear_session()
    free_memory()


def free_memory() -> None:
    """Collect unreachable objects (a Keras model is a web of references) and give the memory
    the C allocator keeps after freeing back to the system (glibc's ``malloc_trim``; elsewhere
    the collection only)."""
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, looked up once (None where the C library has none)."""
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError):  # no C library found, or not glibc
        return None
