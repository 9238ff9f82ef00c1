"""The device Keras trains on, the versions in use, and the environment a run records."""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

import numpy as np

from nbmnist.backend.choice import current, import_keras

DeviceKind = Literal["cpu", "gpu", "tpu"]


@dataclass(frozen=True)
class Device:
    """The device Keras trains on.

    Attributes:
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        name: e.g. ``"NVIDIA H100 80GB HBM3"``, ``"TPU v5 lite"``, ``"2 cores"``.
        count: devices of that kind visible (Keras trains on the first unless distributed).
    """

    kind: DeviceKind
    name: str
    count: int = 1

    @classmethod
    def cpu(cls) -> Device:
        """This machine's CPU: ``CPU (2 cores)``."""
        return cls("cpu", f"{os.cpu_count()} cores")

    def __str__(self) -> str:
        label = self.kind.upper()
        if self.count > 1:
            label = f"{self.count} {label}s"
        return f"{label} ({self.name})"


@functools.cache
def device() -> Device:
    """The device the active backend trains on (imports Keras)."""
    return current().device()  # type: ignore[no-any-return]


def device_name() -> str:
    """``GPU (NVIDIA H100 80GB HBM3)``, ``TPU (TPU v5 lite)`` or ``CPU (2 cores)``."""
    return str(device())


def nbmnist_version() -> str:
    """The installed nbmnist's version (its package metadata), or ``"unknown"`` for a copy
    run from source without installing it."""
    try:
        return version("nbmnist")
    except PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, Keras, the active backend's framework, NumPy and nbmnist."""
    keras = import_keras()
    found = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        **current().versions(),
    }
    found.update(numpy=np.__version__, nbmnist=nbmnist_version(), platform=platform.platform())
    return found


def environment() -> dict[str, str]:
    """Versions and device, recorded with every run (``Run.environment``)."""
    return {**versions(), "device": device_name()}
