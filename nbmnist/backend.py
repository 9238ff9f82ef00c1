"""Everything that depends on the Keras backend or the device, in one place.

nbmnist trains on whichever backend Keras is configured with: TensorFlow, JAX or PyTorch,
chosen by ``KERAS_BACKEND``, by ``$KERAS_HOME/keras.json`` (default ``~/.keras``), or from a
notebook with ``%config NbmnistMagics.backend = "jax"`` / ``nbmnist.use_backend("jax")``
before the first training cell. This module is the only one that imports a backend framework
(TensorFlow, JAX or torch); the rest of nbmnist talks to Keras alone.

For each run it decides, from the backend and the device, how training executes
(``Execution``): the precision policy, XLA compilation, how many batches go into one call
to the backend (``steps_per_execution``) and where the training arrays live. The choices and
their reasons are recorded with the run (``run.json``: ``environment`` and ``execution``).

What it does per backend, and why:

- TensorFlow: Keras' own ``steps_per_execution`` (a ``tf.while_loop`` over the batches of a
  group); the start-up chatter of TensorFlow's C++ side is muted; on a GPU, memory grows as
  needed instead of being taken whole at start-up.
- JAX: the training arrays are put on the device once (``jax.device_put``), not copied from
  host memory for every batch; a group of batches is one compiled call (``jax.lax.scan`` over
  Keras' own ``train_step``: the same updates in the same order as one batch at a time;
  except convolutions on a CPU, which XLA runs far slower inside a loop);
  compiled programs are kept in a persistent cache (``$KERAS_HOME/nbmnist-jax-cache``) so a
  model compiled once is not compiled again, in later cells or kernels; XLA's Triton matrix
  multiplications are off on GPUs (their autotuning doubled the compile time of every model,
  for no faster epochs: ``JAX_XLA_FLAGS``); GPU memory is not preallocated, so two kernels
  can share one GPU; on a CPU a model's weights are initialized by one quickly compiled
  program per layer instead of one program per initializer and shape (building lesson 01's
  MLPs 3.6x faster: ``weights_initialized_per_layer``).
- PyTorch: one batch per call (Keras' PyTorch backend requires ``steps_per_execution=1``);
  on a CUDA GPU the training arrays are put on the GPU once.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import json
import logging
import os
import platform
import signal
import sys
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nbmnist.declaration import ConvSpec
from nbmnist.errors import BackendError, did_you_mean

if TYPE_CHECKING:
    from nbmnist.declaration import Declaration

#: The Keras 3 backends nbmnist trains on, in the order one is picked when the configured
#: backend is not installed (see ``import_keras``).
BACKENDS = ("tensorflow", "jax", "torch")
#: How to install each backend (the extras in pyproject.toml).
INSTALL = {name: f'pip install "nbmnist[{name}]"' for name in BACKENDS}

DeviceKind = Literal["cpu", "gpu", "tpu"]

#: ``steps_per_execution``: the speed a training step is estimated with, in multiply-adds per
#: second (CPU: the Keras example CNN trained at 3.6e10-7.8e10 on this project's 2-core CPU,
#: docs/performance.md; GPU and TPU: a deliberately low figure for small float32 models,
#: whose steps are bound by kernel launches rather than arithmetic), the shortest time a
#: step is assumed to take on an accelerator (seconds), the longest a group of batches
#: should take (seconds: Ctrl-C and the batch progress bar act between groups), and the
#: largest group on a CPU. On an accelerator a group may be a whole epoch.
STEP_RATES: dict[str, float] = {"cpu": 5e10, "gpu": 2e12, "tpu": 2e12}
ACCELERATOR_STEP_FLOOR_S = 2e-4
EXECUTION_BUDGET_S = 0.2
MAX_CPU_STEPS_PER_EXECUTION = 32

#: TensorFlow groups batches in a ``tf.while_loop`` that Keras traces beside the step: on 2 CPU
#: cores 1.65 s more on a run's first call for the Keras example CNN (seed 003), which then
#: saves 35 ms a step (grouping pays from ~48 steps), 0.45 s more for seed 000's first MLP,
#: which saves ~1.3 ms a step (from ~350) (``bench/grouping.py``, docs/performance.md). A run
#: of fewer steps than this, in all its epochs, trains one batch per call on any device: fast
#: mode's runs (lesson 02's largest CNN ~1.4 s sooner); from it on, runs are grouped as before.
#: Measured on a CPU only (no GPU was at hand).
TENSORFLOW_GROUPING_MIN_STEPS = 48

#: XLA flags nbmnist adds for JAX, each unless ``XLA_FLAGS`` already sets it. Triton GEMM
#: fusions off: on one H100 (JAX 0.11.2, docs/performance.md) autotuning them took half of
#: each model's first epoch (seed 000's MLP 9.2 s -> 3.3 s, the fast CNN 7.8 s -> 3.9 s),
#: and the later epochs ran as fast with cuBLAS (0.148 s against 0.156 s). GPU-only flag.
JAX_XLA_FLAGS = {"xla_gpu_enable_triton_gemm": "false"}

#: Mixed precision each device kind wants (``--mixed-precision``): float16 with loss scaling
#: on CUDA GPUs (tensor cores), bfloat16 on TPUs (their native type); none on CPUs.
MIXED_POLICIES: dict[str, str | None] = {
    "gpu": "mixed_float16",
    "tpu": "mixed_bfloat16",
    "cpu": None,
}


def keras_home() -> Path:
    """Keras' configuration folder: ``$KERAS_HOME``, default ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


def _check_name(name: str) -> str:
    name = str(name).strip().lower()
    if name not in BACKENDS:
        raise BackendError(
            f"unknown Keras backend '{name}'; nbmnist trains on {', '.join(BACKENDS)}."
            + did_you_mean(name, BACKENDS)
        )
    return name


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
    name = _check_name(name)
    current = active_backend()
    if current is not None and current != name:
        raise BackendError(
            f"Keras already runs on '{current}' in this kernel and cannot switch to '{name}'; "
            f"restart the kernel, then choose '{name}' before the first training cell"
        )
    os.environ["KERAS_BACKEND"] = name


def _choose_backend() -> str:
    """The configured backend if installed; else, unless it was asked for by name
    (``KERAS_BACKEND``), the first installed one (Colab's TPU runtime has no TensorFlow)."""
    name, source = configured_backend()
    if source == "KERAS_BACKEND":
        name = _check_name(name)
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


def jax_cache_dir() -> Path:
    """Where compiled JAX programs are kept between cells and kernels."""
    return keras_home() / "nbmnist-jax-cache"


def _before_import(name: str) -> None:
    """Settings a framework reads when it loads; each one the user set is left alone."""
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    elif name == "jax":
        # Take GPU memory as needed, not 75% of it at start-up: a second kernel (another
        # notebook, a sweep worker) can then share the GPU.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""))


def xla_flags(given: str) -> str:
    """``given`` (the user's ``XLA_FLAGS``) with each of ``JAX_XLA_FLAGS`` it does not set."""
    flags = given.split()
    for name, value in JAX_XLA_FLAGS.items():
        if not any(flag.lstrip("-").split("=")[0] == name for flag in flags):
            flags.append(f"--{name}={value}")
    return " ".join(flags)


class RetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warnings: each new model traces
    new functions, which is expected here and nothing a student can act on. Other warnings
    pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _after_import(name: str) -> None:
    if name == "tensorflow":
        import tensorflow as tf

        logger = tf.get_logger()
        if not any(isinstance(f, RetracingFilter) for f in logger.filters):
            logger.addFilter(RetracingFilter())
        for gpu in tf.config.list_physical_devices("GPU"):
            with contextlib.suppress(RuntimeError, ValueError):  # devices already started
                tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.list_logical_devices()  # device start-up prints cuInit errors: muted here
    elif name == "jax":
        import jax

        if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
            jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
        if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
            # JAX keeps only compilations over 1 s by default; nbmnist's take 0.1-3 s.
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def import_keras() -> Any:
    """Import Keras on the configured backend (see ``configured_backend``), set up for it.

    Called on the first training cell, not at ``%load_ext``, so loading the extension stays
    fast. Imports no framework but the chosen backend's.

    Raises:
        BackendError: the chosen backend is unknown or not installed, or none is installed.
    """
    if not keras_loaded():
        name = _choose_backend()
        os.environ["KERAS_BACKEND"] = name
        _before_import(name)
        with interrupts_held("Keras and " + name), native_stderr_muted():
            import keras

            _after_import(keras.backend.backend())
            _SET_UP.add(keras.backend.backend())
    import keras

    name = keras.backend.backend()
    if name not in _SET_UP:  # the user imported Keras first: set up what still can be
        _before_import(name)
        with native_stderr_muted():
            _after_import(name)
        _SET_UP.add(name)
    return keras


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


#: Backends ``import_keras`` has set up in this process.
_SET_UP: set[str] = set()


@contextlib.contextmanager
def tensorflow_kept_out() -> Iterator[None]:
    """Keep TensorFlow from being imported inside this block unless it is the backend.

    Keras probes for TensorFlow whichever the backend, importing it when installed (2-5 s
    and about 0.5 GB): ``keras.utils.set_random_seed`` seeds it for ``tf.data``
    (keras/src/utils/rng_utils.py) and saving checks for ``tf.TensorShape``
    (keras/src/saving/serialization_lib.py). nbmnist's own calls need neither on JAX or
    PyTorch, so inside this block TensorFlow looks absent; afterwards Keras' probe is reset,
    so a user's own ``tf.data`` pipeline on the JAX backend still finds TensorFlow.
    """
    if active_backend() in (None, "tensorflow") or "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import fails: "not installed"
    try:
        yield
    finally:
        del sys.modules["tensorflow"]
        try:
            from keras.src.utils import module_utils

            module_utils.tensorflow._available = None  # probe again next time
        except (ImportError, AttributeError):  # another Keras layout: nothing cached to reset
            pass


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras (``keras.utils.set_random_seed``) for a repeatable run;
    TensorFlow only when it is the backend (``tensorflow_kept_out``)."""
    keras = import_keras()
    with tensorflow_kept_out():
        keras.utils.set_random_seed(seed)


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

    def __str__(self) -> str:
        label = self.kind.upper()
        if self.count > 1:
            label = f"{self.count} {label}s"
        return f"{label} ({self.name})"


def _cpu() -> Device:
    return Device("cpu", f"{os.cpu_count()} cores")


@functools.cache
def device() -> Device:
    """The device the active backend trains on (imports Keras)."""
    keras = import_keras()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        for tf_kind, kind in (("TPU", "tpu"), ("GPU", "gpu")):
            found = tf.config.list_physical_devices(tf_kind)
            if found:
                details = tf.config.experimental.get_device_details(found[0])
                name = details.get("device_name") or found[0].name
                return Device(kind, str(name), len(found))  # type: ignore[arg-type]
        return _cpu()
    if backend == "jax":
        import jax

        platform_name = jax.default_backend()
        if platform_name in ("gpu", "cuda", "rocm", "tpu"):
            devices = jax.devices()
            accelerator: DeviceKind = "tpu" if platform_name == "tpu" else "gpu"
            return Device(accelerator, str(devices[0].device_kind), len(devices))
        return _cpu()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return Device("gpu", torch.cuda.get_device_name(0), torch.cuda.device_count())
        if torch.backends.mps.is_available():
            return Device("gpu", "Apple MPS")
        return _cpu()
    return _cpu()


def device_name() -> str:
    """``GPU (NVIDIA H100 80GB HBM3)``, ``TPU (TPU v5 lite)`` or ``CPU (2 cores)``."""
    return str(device())


def versions() -> dict[str, str]:
    """Versions of Python, Keras, the active backend's framework, NumPy and nbmnist."""
    from nbmnist import __version__

    keras = import_keras()
    backend = keras.backend.backend()
    found = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": backend,
    }
    if backend == "tensorflow":
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax
        import jaxlib

        found["jax"] = jax.__version__
        found["jaxlib"] = jaxlib.__version__
    elif backend == "torch":
        import torch

        found["torch"] = torch.__version__
    found.update(numpy=np.__version__, nbmnist=__version__, platform=platform.platform())
    return found


def environment() -> dict[str, str]:
    """Versions and device, recorded with every run (``Run.environment``)."""
    return {**versions(), "device": device_name()}


@dataclass(frozen=True)
class Execution:
    """How a run trains on this backend and device; recorded as ``Run.execution``.

    Attributes:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``.
        device: e.g. ``"GPU (NVIDIA H100 80GB HBM3)"``.
        precision: the Keras dtype policy: ``"float32"``, ``"mixed_float16"`` or
            ``"mixed_bfloat16"``.
        precision_reason: why that policy.
        jit_compile: ``True``/``False`` as asked, or ``"auto"`` (Keras decides: XLA with JAX
            always, with TensorFlow on a GPU or TPU, never with PyTorch); ``compiled_with``
            records what Keras chose.
        steps_per_execution: batches per call into the backend (each batch is still one
            optimizer step).
        steps_per_execution_reason: why that number.
        grouping: how a group of batches runs as one call: ``"keras"`` (Keras'
            ``steps_per_execution``), ``"lax.scan"`` (JAX: Keras' ``train_step`` scanned
            over the group) or ``"none"`` (one batch per call).
        data_on_device: the training arrays were put on the device once, before ``fit``.
    """

    backend: str
    device: str
    precision: str
    precision_reason: str
    jit_compile: bool | str
    steps_per_execution: int
    steps_per_execution_reason: str
    grouping: str
    data_on_device: bool

    @property
    def keras_steps_per_execution(self) -> int:
        """``compile``'s ``steps_per_execution``."""
        return self.steps_per_execution if self.grouping == "keras" else 1

    @property
    def batches_per_keras_step(self) -> int:
        """How many of the user's batches one Keras step holds (``lax.scan`` groups)."""
        return self.steps_per_execution if self.grouping == "lax.scan" else 1

    def fit_batch_size(self, batch_size: int) -> int:
        """The batch size ``fit`` is given: with ``lax.scan`` grouping, a whole group."""
        return batch_size * self.batches_per_keras_step

    def record(self) -> dict[str, Any]:
        return asdict(self)


def precision_policy(mixed_precision: bool, where: Device) -> tuple[str, str]:
    """The Keras dtype policy for ``--mixed-precision`` on ``where``, and why.

    Returns:
        ``(policy, reason)``, e.g. ``("mixed_float16", "--mixed-precision on a GPU")``.
    """
    if not mixed_precision:
        return "float32", "default (results comparable across devices)"
    policy = MIXED_POLICIES[where.kind]
    if policy is None:
        return "float32", "--mixed-precision ignored: no GPU or TPU here"
    return policy, f"--mixed-precision on a {where.kind.upper()}"


def auto_steps_per_execution(
    declaration: Declaration, batch_size: int, kind: DeviceKind = "cpu"
) -> int:
    """How many batches to run per call into the backend, from the model's estimated cost.

    A training step costs about 3x the forward pass (forward, and backward for inputs and
    weights): ``3 * declaration.multiply_adds() * batch_size`` multiply-adds, taking
    ``/ STEP_RATES[kind]`` seconds (on an accelerator at least ``ACCELERATOR_STEP_FLOOR_S``).
    Grouping steps up to ``EXECUTION_BUDGET_S`` saves Keras' per-batch Python overhead and
    lets the backend keep the device busy across batches (on 2 CPU cores the seed MLP's
    epochs run 1.6x faster, the Keras example CNN's ~1.1x, docs/performance.md) while a group
    stays short enough that Ctrl-C still stops at once. The largest seed CNNs get 1 on a CPU.

    Returns:
        An int >= 1: at most ``MAX_CPU_STEPS_PER_EXECUTION`` on a CPU; unbounded on an
        accelerator (the caller caps it at the batches of one epoch).
    """
    step_s = 3 * declaration.multiply_adds() * batch_size / STEP_RATES[kind]
    if kind != "cpu":
        step_s = max(step_s, ACCELERATOR_STEP_FLOOR_S)
    groups = int(EXECUTION_BUDGET_S // step_s) if step_s > 0 else MAX_CPU_STEPS_PER_EXECUTION
    if kind == "cpu":
        groups = min(MAX_CPU_STEPS_PER_EXECUTION, groups)
    return max(1, groups)


def choose_steps_per_execution(
    backend: str,
    kind: DeviceKind,
    declaration: Declaration,
    batch_size: int,
    steps_per_epoch: int,
    requested: int | None = None,
    partial_last_batch: bool = False,
    epochs: int | None = None,
) -> tuple[int, str, str]:
    """Batches per call into ``backend`` on a ``kind`` device, why, and how they are grouped.

    ``epochs``: how many the run trains (None: not known); on TensorFlow a run of fewer than
    ``TENSORFLOW_GROUPING_MIN_STEPS`` steps in all is not grouped (unless ``requested``).

    ``partial_last_batch``: the epoch ends with a smaller batch. With ``lax.scan`` a group
    of the whole epoch then stops before it, so the partial batch is a call (and a compiled
    program) of its own, which ``compile_ahead`` compiles beside the group's: one program
    holding both took twice as long to compile (the fast recipe on an H100: 3.0 s against
    1.45 s, docs/performance.md).

    Returns:
        ``(steps, reason, grouping)``; ``grouping`` is ``"keras"`` (Keras'
        ``steps_per_execution``), ``"lax.scan"`` (JAX, see ``group_batches``) or ``"none"``.
    """
    if backend == "torch":
        reason = "Keras' PyTorch backend runs one batch per call (steps_per_execution must be 1)"
        if requested not in (None, 1):
            reason += f"; --steps-per-execution {requested} not applied"
        return 1, reason, "none"
    if requested is not None:
        steps, reason = requested, "as asked (--steps-per-execution)"
    else:
        steps = auto_steps_per_execution(declaration, batch_size, kind)
        reason = (
            f"auto: about {EXECUTION_BUDGET_S:g} s of training per call on the "
            f"{kind.upper()}, from the model's multiply-adds"
        )
    if steps >= steps_per_epoch > 0:
        steps, reason = steps_per_epoch, reason + "; at most one epoch per call"
    if steps == 1:
        return 1, reason, "none"
    if backend != "jax":
        total = steps_per_epoch * (epochs or 0)
        if (
            backend == "tensorflow"
            and requested is None
            and 0 < total < TENSORFLOW_GROUPING_MIN_STEPS
        ):
            reason = (
                f"{total} steps in all: fewer than {TENSORFLOW_GROUPING_MIN_STEPS}, so one batch "
                "per call (tracing TensorFlow's loop over a group would cost more than it saves)"
            )
            return 1, reason, "none"
        return steps, reason, "keras"
    if kind == "cpu" and any(isinstance(spec, ConvSpec) for spec in declaration.layers):
        # XLA:CPU runs convolutions inside a loop ~5x slower than alone (the fast recipe's
        # CNN: 46 s against 10 s an epoch on 2 cores; docs/performance.md): there Keras'
        # own Python loop over the group is kept.
        return steps, reason + "; convolutions on a CPU: Keras' loop, not lax.scan", "keras"
    if partial_last_batch and steps == steps_per_epoch > 2:
        steps -= 1
        reason += "; the last, partial batch a call of its own (compiled beside the group)"
    return steps, reason, "lax.scan"


def plan_execution(
    declaration: Declaration,
    batch_size: int,
    steps_per_epoch: int,
    *,
    steps_per_execution: int | None = None,
    mixed_precision: bool = False,
    jit_compile: bool | None = None,
    partial_last_batch: bool = False,
    epochs: int | None = None,
) -> Execution:
    """Choose how a run trains on the active backend and device; flags given win.

    Args:
        declaration: the model (its multiply-adds size the groups of batches).
        batch_size: examples per optimizer step.
        steps_per_epoch: batches in one epoch (groups never span epochs).
        steps_per_execution: as asked (``--steps-per-execution``), or None for automatic.
        mixed_precision: ``--mixed-precision``: the device's mixed policy.
        jit_compile: ``--jit-compile``: True/False, or None to let Keras decide.
        partial_last_batch: the epoch ends with a smaller batch (see
            ``choose_steps_per_execution``).
        epochs: epochs the run trains (a short run on TensorFlow is not grouped).

    Raises:
        BackendError: no usable Keras backend (see ``import_keras``).
    """
    keras = import_keras()
    backend = str(keras.backend.backend())
    where = device()
    precision, precision_reason = precision_policy(mixed_precision, where)
    steps, reason, grouping = choose_steps_per_execution(
        backend,
        where.kind,
        declaration,
        batch_size,
        steps_per_epoch,
        steps_per_execution,
        partial_last_batch,
        epochs,
    )
    return Execution(
        backend=backend,
        device=str(where),
        precision=precision,
        precision_reason=precision_reason,
        jit_compile="auto" if jit_compile is None else bool(jit_compile),
        steps_per_execution=steps,
        steps_per_execution_reason=reason,
        grouping=grouping,
        data_on_device=backend == "jax" or (backend == "torch" and where.kind == "gpu"),
    )


def to_device(array: np.ndarray, cache: dict[Any, Any], key: Any) -> Any:
    """``array`` as the active backend's array on its device, made once per ``key``.

    JAX: ``jax.device_put`` (on any device, so Keras slices batches where the data is);
    PyTorch on a CUDA GPU: a CUDA tensor. Anything else: ``array`` unchanged.
    """
    backend = active_backend()
    if backend not in ("jax", "torch"):
        return array
    full_key = ("device", backend, key)
    if full_key not in cache:
        if backend == "jax":
            import jax

            cache[full_key] = jax.device_put(array)
        else:
            import torch

            if not torch.cuda.is_available():
                return array
            cache[full_key] = torch.as_tensor(array, device="cuda")
    return cache[full_key]


def group_batches(model: Any, execution: Execution, batch_size: int) -> None:
    """Make one Keras step of ``model`` train ``execution.steps_per_execution`` batches.

    JAX only (``grouping == "lax.scan"``): ``fit`` is given groups of
    ``batch_size * steps_per_execution`` examples; the model's ``train_step`` cuts each group
    into batches of ``batch_size`` and runs Keras' own ``train_step`` on each in turn inside
    one ``jax.lax.scan``, so the group is one compiled call (Keras' JAX backend otherwise
    runs its ``steps_per_execution`` as a Python loop of calls). A last group with fewer
    examples ends with a partial batch, as ``fit`` with ``batch_size`` would. The updates,
    the metrics and the random streams are those of one batch at a time.
    """
    if execution.grouping != "lax.scan":
        return
    import jax
    import keras

    keras_train_step = type(model).train_step

    def train_step(state: Any, data: Any) -> Any:
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        count = x.shape[0]
        full = count // batch_size
        logs = None
        if full:

            def one_batch(carry: Any, batch: Any) -> Any:
                batch_logs, carry = keras_train_step(model, carry, batch)
                return carry, batch_logs

            batches = (
                x[: full * batch_size].reshape((full, batch_size, *x.shape[1:])),
                y[: full * batch_size].reshape((full, batch_size, *y.shape[1:])),
            )
            state, all_logs = jax.lax.scan(one_batch, state, batches)
            logs = jax.tree.map(lambda values: values[-1], all_logs)
        if count > full * batch_size:
            rest = (x[full * batch_size :], y[full * batch_size :])
            logs, state = keras_train_step(model, state, rest)
        return logs, state

    # An instance attribute, not a subclass: the saved model stays a plain keras.Sequential
    # that loads on any backend. object.__setattr__ skips Keras' attribute tracking.
    object.__setattr__(model, "train_step", train_step)


def build_training_state(model: Any, x: Any, y: Any) -> None:
    """Create the optimizer's and the metrics' variables of compiled ``model`` before ``fit``.

    TensorFlow: Keras 3, without a distribution strategy, creates them while it traces
    its training step, and a ``tf.function`` that creates variables on its first call is
    traced a second time without them: every model's first epoch traced its training step
    twice (lesson 02's ``k3_3``, one epoch on 6,000 images: 13.4 s, built first 7.1 s;
    ``bench/tf_first_epoch.py``, docs/performance.md). Built here, eagerly, the step is
    traced once. The model is called on one example of ``x``
    (``training=False``: no dropout, no BatchNorm update) to build the metrics on
    ``y``'s first label; the metrics are then reset, so ``fit`` starts as it would have.

    JAX: only the optimizer's variables, created inside ``weights_initialized_per_layer``'s
    block, so that its zero slots are copied from NumPy where Keras' ``fit`` would compile
    one program per weight shape to fill them (lesson 01's 12 models: 44 programs, 1.3 s of
    compiling on 2 CPU cores). PyTorch: nothing.

    Args:
        model: a compiled Keras model.
        x, y: training images and one-hot labels (only the first of each is used).
    """
    if active_backend() == "jax":
        with weights_initialized_per_layer():
            model.optimizer.build(model.trainable_variables)
        return
    if active_backend() != "tensorflow":
        return
    model.optimizer.build(model.trainable_variables)
    y_pred = model(x[:1], training=False)
    model.compute_metrics(x[:1], y[:1], y_pred, sample_weight=None)
    model.reset_metrics()


def batch_sizes(counts: Iterable[int], batch_size: int) -> list[int]:
    """The distinct batch sizes that going through sets of ``counts`` examples in batches of
    ``batch_size`` takes (a last partial batch has its own size), in order."""
    sizes: list[int] = []
    for count in counts:
        for size in (min(count, batch_size), count % batch_size if count > batch_size else 0):
            if size and size not in sizes:
                sizes.append(size)
    return sizes


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
    """A Keras callback that compiles ``model``'s other programs while ``fit`` compiles its
    first training step.

    JAX only, with its persistent cache on (``import_keras``); otherwise None. Each batch
    shape a program runs on is a compilation of its own; Keras compiles each when it first
    meets it: the last (partial) training call at the end of the first epoch, then the
    evaluation step. Here, at the start of ``fit``, the training step (``model.train_step``
    jitted as Keras jits it) is traced for calls of ``train_sizes`` examples and the
    evaluation step for batches of ``evaluation_sizes`` examples, shaped like ``x`` and
    ``y``, and they are compiled on a background thread, side by side with the first
    training step. Keras' own calls then find them in the cache (where one comes before its
    compilation ends, it waits for it). A failure here only means Keras compiles them
    itself, as it would have.

    Args:
        model: a compiled Keras model, before ``fit``.
        x, y: arrays shaped like one example's batch (the first axis is replaced).
        train_sizes: examples in training calls other than the first (the epoch's last).
        evaluation_sizes: batch sizes of evaluation (validation and test).
        batches_per_epoch, steps_per_call: the batches of an epoch as Keras counts them (of
            the size ``fit`` is given), and how many one call runs (its
            ``steps_per_execution``): the epoch's last call is where the training programs
            compiled here are needed.
    """
    if active_backend() != "jax" or not getattr(model, "jit_compile", False):
        return None
    keras = import_keras()
    if train_sizes and device().kind == "gpu" and _has_convolutions(keras, model):
        # Two training programs with convolutions compiling at once on a GPU pick their
        # cuDNN algorithms by timing them side by side, and both slow down: the fast
        # recipe's 1.4 s each took 3.7 s and 19.7 s (H100, docs/performance.md).
        train_sizes = ()
    if not (train_sizes or evaluation_sizes):
        return None
    import jax

    if not getattr(jax.config, "jax_compilation_cache_dir", None):
        return None

    def batch(size: int) -> Any:
        return (_abstract(x, size), _abstract(y, size))

    class CompileAhead(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.trained = threading.Event()  # the training programs are compiled
            self.done = threading.Event()  # all are

        def on_train_begin(self, logs: Any = None) -> None:
            try:  # the states Keras' fit and evaluate pass their steps
                train_state = _abstract(model._get_jax_state(
                    trainable_variables=True,
                    non_trainable_variables=True,
                    optimizer_variables=True,
                    metrics_variables=True,
                    purge_model_variables=False,
                ))  # fmt: skip
                test_state = _abstract(model._get_jax_state(
                    trainable_variables=True,
                    non_trainable_variables=True,
                    metrics_variables=True,
                    purge_model_variables=False,
                ))  # fmt: skip
                train = jax.jit(model.train_step, donate_argnums=0)
                test = jax.jit(model.test_step, donate_argnums=0)
                trains = [train.lower(train_state, batch(n)) for n in train_sizes]
                tests = [test.lower(test_state, batch(n)) for n in evaluation_sizes]
            except Exception:  # an optimization only: Keras compiles these itself later
                self.trained.set()
                self.done.set()
                return

            def compile_all() -> None:
                for programs, finished in ((trains, self.trained), (tests, self.done)):
                    for program in programs:
                        with contextlib.suppress(Exception):
                            program.compile()  # into the persistent cache, for Keras' call
                    finished.set()

            threading.Thread(target=compile_all, name="nbmnist-compile-ahead", daemon=True).start()

        # Where Keras is about to compile what is being compiled here, it waits for it
        # instead: never slower than compiling it a second time.
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if batch + steps_per_call >= batches_per_epoch:  # the epoch's last call
                self.trained.wait()

        def on_test_begin(self, logs: Any = None) -> None:
            self.done.wait()

        def on_train_end(self, logs: Any = None) -> None:
            self.done.wait()

    return CompileAhead()


#: Devices on which JAX initializes a model's weights one program per layer
#: (``weights_initialized_per_layer``), with the XLA options each program is compiled with:
#: LLVM at -O0 without its costly passes (the program runs once per layer; its compile is what
#: costs). Building from cold caches on 2 CPU cores, Keras' own initialization -> per layer at
#: XLA's defaults -> per layer at these options: lesson 01's 12 MLPs 17.0 -> 13.9 -> 4.7 s,
#: lesson 02's 17 CNNs 18.2 -> 16.9 -> 6.6 s (``bench/initializers.py``, docs/performance.md).
#: GPUs and TPUs initialize as Keras does: not measured there.
JAX_INITIALIZER_OPTIONS: dict[str, dict[str, Any]] = {
    "cpu": {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True},
}

#: Compiled weight-initializing programs by the layer layout they fill (this process's).
_INITIALIZERS: dict[str, Any] = {}


@contextlib.contextmanager
def weights_initialized_per_layer() -> Iterator[None]:
    """Initialize the Keras variables created inside the block on leaving it, a layer at a time.

    On JAX, Keras runs each weight's initializer as soon as the variable exists, and JAX
    compiles a program per initializer and weight shape: building a lesson 01 MLP took 1-4 s
    on 2 CPU cores, nearly all of it compiling. Here the variables are created uninitialized
    (``keras.StatelessScope(initialize_variables=False)``), then each layer's are filled by one
    program, compiled for a quick compile (``JAX_INITIALIZER_OPTIONS``) and taking the
    initializers' seeds as arguments: a layer of the same weights in a later model reuses it,
    in this process and, through JAX's persistent cache, in later kernels. The draws are Keras'
    own (same initializers, same seeds; at -O0 a uniform draw may differ in its last bit).
    Variables whose initializer is not a Keras ``Initializer`` with an integer seed (or none),
    such as a dropout layer's seed state, are initialized as Keras does.

    A variable assigned inside the block (a saved weight being loaded) takes that value and
    runs no initializer. Variables created before the block must not be assigned inside it.

    Other backends, and JAX on devices not in ``JAX_INITIALIZER_OPTIONS``: the block runs
    unchanged.

    Raises:
        RuntimeError: the block assigned a variable created before it (the value would be
            lost: inside, Keras' stateless scope keeps assignments apart).
    """
    keras = import_keras()
    if _deferral_unsupported(keras):
        yield
        return
    from keras.src.backend.common import global_state

    before = len(global_state.get_global_attribute("uninitialized_variables") or [])
    scope = keras.StatelessScope(initialize_variables=False)
    try:
        with scope:
            yield
    finally:
        pending = global_state.get_global_attribute("uninitialized_variables") or []
        global_state.set_global_attribute("uninitialized_variables", pending[:before])
    created = pending[before:]
    if set(scope.state_mapping) - {id(variable) for variable in created}:
        raise RuntimeError("a variable created before this block was assigned inside it")
    _initialize(keras, created, scope)


def _deferral_unsupported(keras: Any) -> bool:
    """Backends, devices, settings, scopes and JAX versions where variables are initialized
    as Keras does (nbmnist allows JAX from 0.4.26; a ``jax.jit`` without ``compiler_options``
    is older than this needs)."""
    if keras.backend.backend() != "jax":
        return True
    import inspect

    import jax
    from keras.src.backend.common.stateless_scope import in_stateless_scope

    nnx = getattr(keras.config, "is_nnx_enabled", lambda: False)()
    return (
        jax.default_backend() not in JAX_INITIALIZER_OPTIONS
        or "compiler_options" not in inspect.signature(jax.jit).parameters
        or nnx
        or in_stateless_scope()
    )


def _initialize(keras: Any, variables: list[Any], scope: Any) -> None:
    """Fill ``variables`` (uninitialized Keras variables): with the value assigned to them in
    ``scope`` (a ``keras.StatelessScope``), else one compiled program per layer for those with
    a Keras initializer, else Keras' own initialization."""
    import jax
    from keras.src.initializers.random_initializers import RandomInitializer
    from keras.src.random.seed_generator import draw_seed

    layers: dict[str, list[tuple[Any, Any]]] = {}  # layer path: [(variable, seed)]
    for variable in variables:
        assigned = scope.get_current_value(variable)
        if assigned is not None:
            _set_first_value(variable, assigned)
            continue
        initializer = variable._initializer
        constant = _constant(keras, initializer)
        if constant is not None:  # zeros, ones: copied from NumPy, nothing compiled
            value = np.full(variable.shape, constant, dtype=jax.numpy.dtype(variable.dtype))
            _set_first_value(variable, jax.device_put(value))  # (jnp.asarray compiles)
            continue
        random = isinstance(initializer, RandomInitializer)
        if not isinstance(initializer, keras.initializers.Initializer) or (
            random and not isinstance(initializer.seed, int)
        ):
            variable._deferred_initialize()
            continue
        seed = draw_seed(initializer.seed) if random else None
        layers.setdefault(variable.path.rsplit("/", 1)[0], []).append((variable, seed))
    for weights in layers.values():
        program = _initializer_program([variable for variable, _ in weights])
        values = program([seed for _, seed in weights])
        for (variable, _), value in zip(weights, values, strict=True):
            _set_first_value(variable, value)


def _set_first_value(variable: Any, value: Any) -> None:
    """Initialize a deferred Keras variable with ``value`` (a JAX array of its shape and
    dtype), as Keras' ``_deferred_initialize`` would with its initializer's draw."""
    variable._initialize(value)
    variable._initializer = None


def _constant(keras: Any, initializer: Any) -> Any:
    """The scalar a Keras ``Zeros``, ``Ones`` or scalar ``Constant`` initializer fills with
    (None for any other initializer)."""
    kind = type(initializer)
    if kind is keras.initializers.Zeros:
        return 0
    if kind is keras.initializers.Ones:
        return 1
    if kind is keras.initializers.Constant and np.ndim(initializer.value) == 0:
        return initializer.value
    return None


def load_model(path: str | Path) -> Any:
    """Load a ``.keras`` file as ``keras.saving.load_model(path, safe_mode=True)`` does: the
    model, compiled as it was saved, with its optimizer's state.

    On JAX (where ``weights_initialized_per_layer`` applies) the weights take the saved values
    directly: Keras first runs every weight's initializer, and on JAX each initializer and
    shape compiles a program (a 5-layer MLP took 3.8 s to load on 2 CPU cores), for values
    the saved ones then replace.

    Raises:
        ValueError, OSError, KeyError, ...: as ``keras.saving.load_model`` for a missing or
            damaged file.
    """
    keras = import_keras()
    with tensorflow_kept_out():
        if _deferral_unsupported(keras):
            return keras.saving.load_model(path, safe_mode=True)
        with weights_initialized_per_layer():  # the optimizer is not built in there
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        with zipfile.ZipFile(path) as archive:  # Keras' format: config.json, model.weights.h5
            compile_config = json.loads(archive.read("config.json")).get("compile_config")
        if compile_config:
            model.compile_from_config(compile_config)  # builds the optimizer, as Keras does
            model.load_weights(path)  # and loads its state (the weights again: the same)
    return model


def _initializer_program(variables: list[Any]) -> Any:
    """The compiled function ``seeds -> values`` that initializes ``variables`` (one layer's)
    as their initializers would, each seed an argument (``None`` for an unseeded one)."""
    import jax

    layout = [
        (
            type(variable._initializer).__qualname__,
            {k: v for k, v in variable._initializer.get_config().items() if k != "seed"},
            variable.shape,
            variable.dtype,
        )
        for variable in variables
    ]
    key = json.dumps(layout, sort_keys=True, default=str)
    if key not in _INITIALIZERS:
        if len(_INITIALIZERS) >= 256:
            _INITIALIZERS.clear()
        initializers = [(v._initializer, v.shape, v.dtype) for v in variables]

        def fill(seeds: list[Any]) -> list[Any]:
            values = []
            for (initializer, shape, dtype), seed in zip(initializers, seeds, strict=True):
                if seed is not None:  # traced: the program does not depend on its value
                    initializer = copy.copy(initializer)
                    initializer.seed = seed
                values.append(initializer(shape, dtype=dtype))
            return values

        options = JAX_INITIALIZER_OPTIONS[jax.default_backend()]
        _INITIALIZERS[key] = jax.jit(fill, compiler_options=options)
    return _INITIALIZERS[key]


def _has_convolutions(keras: Any, model: Any) -> bool:
    return any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


def _abstract(tree: Any, batch_size: int | None = None) -> Any:
    """Shapes and dtypes of ``tree``'s arrays (with a first axis of ``batch_size``)."""
    import jax

    def shape(array: Any) -> Any:
        dims = array.shape if batch_size is None else (batch_size, *array.shape[1:])
        return jax.ShapeDtypeStruct(dims, array.dtype)

    return jax.tree.map(shape, tree)


def release_memory() -> None:
    """Free what finished models hold (between the points of a sweep)."""
    import gc

    keras = import_keras()
    keras.backend.clear_session()
    gc.collect()
