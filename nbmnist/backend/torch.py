"""Everything PyTorch-only: one batch per call (Keras' PyTorch backend requires
``steps_per_execution=1``), and on a CUDA GPU the training arrays put on the GPU once.

The functions of ``nbmnist.backend.interface.BackendModule``; torch is imported inside them,
never when this module is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.backend.common import (
    TENSORFLOW_PROBE,
    PrivateName,
    load_model_as_keras_does,
    missing,
    tensorflow_kept_out,
    unchanged,
)
from nbmnist.backend.device import Device, DeviceKind

if TYPE_CHECKING:
    from nbmnist.backend.execution import Execution, Situation

NAME = "torch"
#: Names from Keras' internals this module uses (``nbmnist.backend.common.PrivateName``).
PRIVATE_NAMES: tuple[PrivateName, ...] = (TENSORFLOW_PROBE,)

keras_calls = tensorflow_kept_out
weights_initialized_per_layer = unchanged
load_model = load_model_as_keras_does


def before_import() -> None:
    """Nothing: torch reads no setting nbmnist changes."""


def after_import() -> None:
    """Nothing to set up."""


def device() -> Device:
    import torch

    if torch.cuda.is_available():
        return Device("gpu", torch.cuda.get_device_name(0), torch.cuda.device_count())
    if torch.backends.mps.is_available():
        return Device("gpu", "Apple MPS")
    return Device.cpu()


def versions() -> dict[str, str]:
    import torch

    return {"torch": torch.__version__}


def fallbacks() -> tuple[str, ...]:
    return missing(PRIVATE_NAMES)


def grouping(steps: int, reason: str, situation: Situation) -> tuple[int, str, str]:
    """One batch per call, whatever was asked."""
    reason = "Keras' PyTorch backend runs one batch per call (steps_per_execution must be 1)"
    if situation.requested not in (None, 1):
        reason += f"; --steps-per-execution {situation.requested} not applied"
    return 1, reason, "none"


def data_on_device(kind: DeviceKind) -> bool:
    return kind == "gpu"


def to_device(array: np.ndarray) -> Any:
    """A CUDA tensor on a CUDA GPU; elsewhere ``array`` unchanged."""
    import torch

    if not torch.cuda.is_available():
        return array
    return torch.as_tensor(array, device="cuda")


def group_batches(model: Any, execution: Execution, batch_size: int) -> None:
    """Nothing to do: one batch per call."""


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """The optimizer's variables, by Keras' public ``Optimizer.build``, as every backend has
    them before ``fit`` (nothing is traced on PyTorch, so that is all)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def compile_ahead(model: Any, x: Any, y: Any, **sizes: Any) -> Any:
    """None: nothing is compiled ahead."""
    return None


def probe(
    model: Any, x: Any, loss: Callable[[Any], Any]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """By ``torch.autograd.grad`` over the variables' tensors (their ``.grad`` untouched)."""
    import torch

    variables = model.trainable_variables
    outputs = model(x, training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    found = torch.autograd.grad(loss(outputs[-1]), [v.value for v in variables], allow_unused=True)
    gradients = [
        np.zeros(v.shape) if g is None else g.detach().cpu().numpy()
        for g, v in zip(found, variables, strict=True)
    ]
    return [o.detach().cpu().numpy() for o in outputs], gradients
