"""What each backend's module offers: the few functions the rest of nbmnist calls.

A new backend is one new module in this package that offers them (and its name in
``choice.BACKENDS``); ``tests/test_backend.py`` checks every module against this protocol,
mypy checks the types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from nbmnist.backend.common import PrivateName
    from nbmnist.backend.device import Device, DeviceKind
    from nbmnist.backend.execution import Execution, Situation


class BackendModule(Protocol):
    """A backend's module: ``nbmnist.backend.jax``, ``.tensorflow``, ``.torch``.

    Attributes:
        NAME: the Keras backend's name (``keras.backend.backend()``).
        PRIVATE_NAMES: the names from Keras' internals the module uses, each with its
            public fallback (``nbmnist.backend.common.PrivateName``).
    """

    NAME: str
    PRIVATE_NAMES: tuple[PrivateName, ...]

    def before_import(self) -> None:
        """Set what the framework reads when it loads (environment variables)."""

    def after_import(self) -> None:
        """Set the framework up once Keras has loaded it."""

    def device(self) -> Device:
        """The device Keras trains on."""

    def versions(self) -> dict[str, str]:
        """The framework's versions: ``{"jax": ..., "jaxlib": ...}``."""

    def fallbacks(self) -> tuple[str, ...]:
        """One line for each of ``PRIVATE_NAMES`` this Keras lacks."""

    def grouping(self, steps: int, reason: str, situation: Situation) -> tuple[int, str, str]:
        """``(steps, reason, grouping)`` for a group of ``steps`` batches proposed for
        ``reason``; ``grouping``: ``"keras"``, ``"lax.scan"`` or ``"none"``."""

    def data_on_device(self, kind: DeviceKind) -> bool:
        """Whether the training arrays go to a ``kind`` device once, before ``fit``."""

    def to_device(self, array: np.ndarray) -> Any:
        """``array`` as this backend's array on its device."""

    def group_batches(self, model: Any, execution: Execution, batch_size: int) -> None:
        """Make one Keras step train ``execution.batches_per_keras_step`` batches."""

    def build_training_state(self, model: Any, x: Any, y: Any) -> None:
        """Create a compiled model's optimizer (and metrics) variables before ``fit``."""

    def compile_ahead(
        self,
        model: Any,
        x: Any,
        y: Any,
        *,
        train_sizes: Sequence[int] = (),
        evaluation_sizes: Sequence[int] = (),
        batches_per_epoch: int = 1,
        steps_per_call: int = 1,
    ) -> Any:
        """A Keras callback compiling the run's later programs ahead, or None."""

    def weights_initialized_per_layer(self) -> AbstractContextManager[None]:
        """A block whose new Keras variables are initialized on leaving it."""

    def keras_calls(self) -> AbstractContextManager[None]:
        """A block around nbmnist's own calls into Keras (seeding, saving, loading)."""

    def load_model(self, path: str | Path) -> Any:
        """``keras.saving.load_model(path, safe_mode=True)``, compiled, with its optimizer."""

    def probe(
        self, model: Any, x: Any, loss: Callable[[Any], Any]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``model``'s outputs on ``x`` (``training=False``) and the gradient of
        ``loss(last output)`` with respect to each of ``model.trainable_variables``, as
        NumPy arrays."""


if TYPE_CHECKING:  # mypy checks each module against the protocol
    from nbmnist.backend import jax as _jax
    from nbmnist.backend import tensorflow as _tensorflow
    from nbmnist.backend import torch as _torch

    _JAX: BackendModule = _jax
    _TENSORFLOW: BackendModule = _tensorflow
    _TORCH: BackendModule = _torch
