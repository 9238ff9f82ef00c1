"""What the backend modules share: the fence around Keras' private names, and keeping
TensorFlow out of a process that trains on another backend.

Keras' public API is preferred. Where nbmnist needs a name from Keras' internals, the backend
module that needs it declares it as a ``PrivateName`` (in its ``PRIVATE_NAMES``) and reaches it
only through ``PrivateName.find``: when a Keras release moves the name, ``find`` returns None,
the module takes its public-Keras way (slower, never wrong), and the run's recorded execution
says so (``Execution.fallbacks``).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class PrivateName:
    """One name from Keras' internals, what nbmnist uses it for, and what happens without it.

    Attributes:
        module: the module that holds it, e.g. ``"keras.src.backend.common.global_state"``.
        attribute: the attribute path in it (``"Model._get_jax_state"``; ``""``: the module).
        used_for: what nbmnist does with it.
        without: what nbmnist does where it is missing (public Keras).
    """

    module: str
    attribute: str
    used_for: str
    without: str

    @property
    def name(self) -> str:
        return ".".join(part for part in (self.module, self.attribute) if part)

    def _lookup(self) -> Any:
        try:
            found: Any = importlib.import_module(self.module)
        except ImportError:
            return _MISSING
        for part in filter(None, self.attribute.split(".")):
            found = getattr(found, part, _MISSING)
            if found is _MISSING:
                break
        return found

    def find(self) -> Any:
        """The object, or None where this Keras release does not have it."""
        found = self._lookup()
        return None if found is _MISSING else found

    def exists(self) -> bool:
        """True where this Keras release has the name (its value may be None)."""
        return self._lookup() is not _MISSING

    def fallback(self) -> str:
        """The line a run records when the name is missing."""
        return f"{self.name} not found in this Keras: {self.without}"


def missing(names: Iterable[PrivateName]) -> tuple[str, ...]:
    """One line for each of ``names`` this Keras does not have (see ``PrivateName``)."""
    return tuple(name.fallback() for name in names if not name.exists())


#: Keras' cached answer to "is TensorFlow installed?", reset after ``tensorflow_kept_out``.
TENSORFLOW_PROBE = PrivateName(
    "keras.src.utils.module_utils",
    "tensorflow._available",
    "keeping TensorFlow unloaded while Keras runs on JAX or PyTorch",
    "TensorFlow loads when Keras asks for it (seeding, saving): seconds more, once per kernel",
)


@contextlib.contextmanager
def tensorflow_kept_out() -> Iterator[None]:
    """Keep TensorFlow from being imported inside this block (the ``keras_calls`` of the
    backends other than TensorFlow).

    Keras probes for TensorFlow whichever the backend, importing it when installed:
    ``keras.utils.set_random_seed`` seeds it for ``tf.data`` (keras/src/utils/rng_utils.py)
    and saving checks for ``tf.TensorShape`` (keras/src/saving/serialization_lib.py).
    nbmnist's own calls need neither on JAX or PyTorch, so inside this block TensorFlow looks
    absent; afterwards Keras' probe is reset (``TENSORFLOW_PROBE``), so a user's own
    ``tf.data`` pipeline still finds TensorFlow. Where the probe cannot be reset, or
    TensorFlow is already loaded, the block runs unchanged.
    """
    if not TENSORFLOW_PROBE.exists() or "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import fails: "not installed"
    try:
        yield
    finally:
        del sys.modules["tensorflow"]
        lazy = importlib.import_module(TENSORFLOW_PROBE.module).tensorflow
        setattr(lazy, TENSORFLOW_PROBE.attribute.split(".")[-1], None)  # probe again next time


@contextlib.contextmanager
def unchanged() -> Iterator[None]:
    """A block that runs as it is: what a backend does where it has nothing to add."""
    yield


def load_model_as_keras_does(path: str | Path) -> Any:
    """``keras.saving.load_model(path, safe_mode=True)``, inside the active backend's
    ``keras_calls``."""
    from nbmnist.backend.choice import current, import_keras

    keras = import_keras()
    with current().keras_calls():
        return keras.saving.load_model(path, safe_mode=True)
