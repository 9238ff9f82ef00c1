"""Choosing the Keras backend, importing Keras on it, and the module that serves it.

The lowest layer of ``nbmnist.backend``: it imports no other nbmnist module but ``errors``,
and a backend's module (``nbmnist.backend.jax``, ``.tensorflow``, ``.torch``) only when
``module`` is asked for it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from nbmnist.errors import BackendError, did_you_mean

#: The Keras 3 backends nbmnist trains on, in the order one is picked when the configured
#: backend is not installed (see ``import_keras``); each is a module of this package.
BACKENDS = ("tensorflow", "jax", "torch")
#: How to install each backend (the extras in pyproject.toml).
INSTALL = {name: f'pip install "nbmnist[{name}]"' for name in BACKENDS}

#: Backends ``import_keras`` has set up in this process.
_SET_UP: set[str] = set()


def keras_home() -> Path:
    """Keras' configuration folder: ``$KERAS_HOME``, default ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


def check_name(name: str) -> str:
    """``name`` lower-cased, if it is one of ``BACKENDS``.

    Raises:
        BackendError: it is not, with the nearest name.
    """
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise BackendError(
            f"unknown Keras backend '{name}'; nbmnist trains on {', '.join(BACKENDS)}."
            + did_you_mean(name, BACKENDS)
        )
    return name


def module(name: str) -> ModuleType:
    """The nbmnist module that serves backend ``name`` (``nbmnist.backend.jax``...): each
    offers the functions of ``nbmnist.backend.interface.BackendModule``. Importing it imports
    no framework."""
    return importlib.import_module(f"nbmnist.backend.{check_name(name)}")


def current() -> ModuleType:
    """The module of the backend Keras runs on (imports Keras, see ``import_keras``)."""
    return module(import_keras().backend.backend())


def configured_backend() -> tuple[str, str]:
    """The backend Keras will load, and where that was set.

    Returns:
        ``(name, source)``: ``source`` is ``"KERAS_BACKEND"``, the path of ``keras.json``, or
        ``"Keras' default"`` (TensorFlow).
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"].strip().lower(), "KERAS_BACKEND"
    config = keras_home() / "keras.json"
    try:
        name = json.loads(config.read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        name = None
    if name:
        return str(name).strip().lower(), str(config)
    return "tensorflow", "Keras' default"


def installed(name: str) -> bool:
    """True if backend ``name``'s framework (a module of that name) can be imported, checked
    without importing it."""
    return importlib.util.find_spec(name) is not None


def keras_loaded() -> bool:
    """True once Keras has been imported in this process (its backend is then fixed)."""
    return "keras" in sys.modules


def active_backend() -> str | None:
    """The backend Keras runs on in this process, or None before Keras is imported."""
    if not keras_loaded():
        return None
    import keras

    return str(keras.backend.backend())


def use_backend(name: str) -> None:
    """Train on Keras backend ``name`` (``"tensorflow"``, ``"jax"`` or ``"torch"``).

    Call it (or ``%config NbmnistMagics.backend = "jax"``) before the first training cell:
    Keras fixes its backend when it is first imported.

    Raises:
        BackendError: ``name`` is not a backend nbmnist trains on, or Keras already runs on
            another backend in this process (restart the kernel to switch).
    """
    name = check_name(name)
    current = active_backend()
    if current is not None and current != name:
        raise BackendError(
            f"Keras already runs on '{current}' in this kernel and cannot switch to '{name}'; "
            f"restart the kernel, then choose '{name}' before the first training cell"
        )
    os.environ["KERAS_BACKEND"] = name


def choose_backend() -> str:
    """The configured backend if installed; else, unless it was asked for by name
    (``KERAS_BACKEND``), the first installed one (Colab's TPU runtime has no TensorFlow).

    Raises:
        BackendError: ``KERAS_BACKEND`` names an unknown or missing backend, or none is
            installed.
    """
    name, source = configured_backend()
    if source == "KERAS_BACKEND":
        name = check_name(name)
        if not installed(name):
            raise BackendError(
                f"Keras backend '{name}' (KERAS_BACKEND) is not installed; "
                f"install it with {INSTALL[name]}, or choose one of "
                f"{', '.join(b for b in BACKENDS if installed(b)) or 'the others'}"
            )
        return name
    if name in BACKENDS and installed(name):
        return name
    for other in BACKENDS:
        if installed(other):
            print(
                f"nbmnist: Keras backend '{name}' ({source}) is not installed; "
                f"training on '{other}'"
            )
            return other
    raise BackendError(
        "no Keras backend is installed; install one, e.g. "
        + " or ".join(INSTALL[name] for name in ("jax", "tensorflow", "torch"))
    )


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[None]:
    """Mute what C++ code writes to file descriptor 2 (TensorFlow's absl start-up lines:
    oneDNN notices, "Could not find cuda drivers", cuInit errors) unless the user asked for
    TensorFlow's logs with ``TF_CPP_MIN_LOG_LEVEL=0``. Python exceptions are unaffected.
    The device in use is shown in every run's header instead."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def interrupts_held(what: str) -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then raise ``KeyboardInterrupt``.

    For imports: a ``KeyboardInterrupt`` inside ``import tensorflow`` leaves half-imported
    modules behind, and every later training cell fails until the kernel restarts. Held
    here, the stop button takes effect a moment later, with a note. Only in the main
    thread, where Python handles signals, and only over Python's own handler.
    """
    current = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or current in (None,):
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if not held:
            print(f"nbmnist: stopping once {what} have loaded", file=sys.stderr, flush=True)
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, current)
    if held:
        raise KeyboardInterrupt


def import_keras() -> Any:
    """Import Keras on the configured backend (see ``configured_backend``), set up for it by
    its module's ``before_import`` and ``after_import``.

    Called on the first training cell, not at ``%load_ext``, so loading the extension stays
    fast. Imports no framework but the chosen backend's.

    Raises:
        BackendError: the chosen backend is unknown or not installed, or none is installed.
    """
    if not keras_loaded():
        name = choose_backend()
        os.environ["KERAS_BACKEND"] = name
        module(name).before_import()
        with interrupts_held("Keras and " + name), native_stderr_muted():
            import keras

            module(keras.backend.backend()).after_import()
            _SET_UP.add(keras.backend.backend())
    import keras

    name = keras.backend.backend()
    if name not in _SET_UP:  # the user imported Keras first: set up what still can be
        served = module(name)
        served.before_import()
        with native_stderr_muted():
            served.after_import()
        _SET_UP.add(name)
    return keras
