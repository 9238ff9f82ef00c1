"""Everything JAX-only.

- The training arrays are put on the device once (``jax.device_put``), not copied from host
  memory for every batch.
- A group of batches is one compiled call (``jax.lax.scan`` over Keras' own ``train_step``:
  the same updates in the same order as one batch at a time), except convolutions on a CPU,
  which XLA runs far slower inside a loop.
- Compiled programs are kept in a persistent cache (``$KERAS_HOME/nbmnist-jax-cache``) so a
  model compiled once is not compiled again, in later cells or kernels, and the programs a
  run will need later are compiled beside its first step (``compile_ahead``).
- XLA's Triton matrix multiplications are off on GPUs (``JAX_XLA_FLAGS``); GPU memory is not
  preallocated, so two kernels can share one GPU.
- On a CPU a model's weights are initialized by one quickly compiled program per layer
  instead of one program per initializer and shape (``weights_initialized_per_layer``).

The functions of ``nbmnist.backend.interface.BackendModule``; JAX is imported inside them,
never when this module is. Keras' internals are reached only through ``PRIVATE_NAMES``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import os
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.backend.choice import import_keras, keras_home
from nbmnist.backend.common import TENSORFLOW_PROBE, PrivateName, missing, tensorflow_kept_out
from nbmnist.backend.device import Device, DeviceKind
from nbmnist.backend.device import device as current_device
from nbmnist.declaration import ConvSpec

if TYPE_CHECKING:
    from nbmnist.backend.execution import Execution, Situation

NAME = "jax"

#: XLA flags nbmnist adds for JAX, each unless ``XLA_FLAGS`` already sets it. Triton GEMM
#: fusions off: on an H100 their autotuning took half of each model's first epoch, for later
#: epochs no faster than cuBLAS' (docs/performance.md, "Why does nbmnist set XLA flags on a
#: GPU?"). GPU-only flag.
JAX_XLA_FLAGS = {"xla_gpu_enable_triton_gemm": "false"}

_PER_LAYER = "weights initialized one compiled program per layer"
_KERAS_INITIALIZES = "Keras initializes each weight itself (one program per initializer and shape)"
GET_GLOBAL = PrivateName(
    "keras.src.backend.common.global_state", "get_global_attribute", _PER_LAYER, _KERAS_INITIALIZES
)
SET_GLOBAL = PrivateName(
    "keras.src.backend.common.global_state", "set_global_attribute", _PER_LAYER, _KERAS_INITIALIZES
)
IN_STATELESS_SCOPE = PrivateName(
    "keras.src.backend.common.stateless_scope",
    "in_stateless_scope",
    _PER_LAYER,
    _KERAS_INITIALIZES,
)
RANDOM_INITIALIZER = PrivateName(
    "keras.src.initializers.random_initializers",
    "RandomInitializer",
    _PER_LAYER,
    _KERAS_INITIALIZES,
)
DRAW_SEED = PrivateName(
    "keras.src.random.seed_generator", "draw_seed", _PER_LAYER, _KERAS_INITIALIZES
)
INITIALIZE = PrivateName("keras", "Variable._initialize", _PER_LAYER, _KERAS_INITIALIZES)
DEFERRED_INITIALIZE = PrivateName(
    "keras", "Variable._deferred_initialize", _PER_LAYER, _KERAS_INITIALIZES
)
GET_JAX_STATE = PrivateName(
    "keras",
    "Model._get_jax_state",
    "the last training call and evaluation compiled beside the first training step",
    "Keras compiles each program when it first calls it",
)
#: The names per-layer initialization takes (``weights_initialized_per_layer``).
_INITIALIZATION = (
    GET_GLOBAL,
    SET_GLOBAL,
    IN_STATELESS_SCOPE,
    RANDOM_INITIALIZER,
    DRAW_SEED,
    INITIALIZE,
    DEFERRED_INITIALIZE,
)
#: Names from Keras' internals this module uses (``nbmnist.backend.common.PrivateName``).
PRIVATE_NAMES: tuple[PrivateName, ...] = (*_INITIALIZATION, GET_JAX_STATE, TENSORFLOW_PROBE)

keras_calls = tensorflow_kept_out


def jax_cache_dir() -> Path:
    """Where compiled JAX programs are kept between cells and kernels."""
    return keras_home() / "nbmnist-jax-cache"


def xla_flags(given: str) -> str:
    """``given`` (the user's ``XLA_FLAGS``) with each of ``JAX_XLA_FLAGS`` it does not set."""
    flags = given.split()
    for name, value in JAX_XLA_FLAGS.items():
        if not any(flag.lstrip("-").split("=")[0] == name for flag in flags):
            flags.append(f"--{name}={value}")
    return " ".join(flags)


def before_import() -> None:
    """Settings JAX reads when it loads; each one the user set is left alone."""
    # Take GPU memory as needed, not 75% of it at start-up: a second kernel (another
    # notebook, a sweep worker) can then share the GPU.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""))


def after_import() -> None:
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
    if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        # JAX keeps only compilations over 1 s by default; most of nbmnist's are shorter.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def device() -> Device:
    import jax

    platform_name = jax.default_backend()
    if platform_name in ("gpu", "cuda", "rocm", "tpu"):
        devices = jax.devices()
        accelerator: DeviceKind = "tpu" if platform_name == "tpu" else "gpu"
        return Device(accelerator, str(devices[0].device_kind), len(devices))
    return Device.cpu()


def versions() -> dict[str, str]:
    import jax
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


def fallbacks() -> tuple[str, ...]:
    return missing(PRIVATE_NAMES)


def grouping(steps: int, reason: str, situation: Situation) -> tuple[int, str, str]:
    """A group is one compiled call (``lax.scan``, see ``group_batches``), except
    convolutions on a CPU.

    With a partial last batch a group of the whole epoch stops before it, so the partial
    batch is a call (and a compiled program) of its own, which ``compile_ahead`` compiles
    beside the group's: one program holding both took twice as long to compile
    (docs/performance.md).
    """
    if steps == 1:
        return 1, reason, "none"
    if situation.kind == "cpu" and any(
        isinstance(spec, ConvSpec) for spec in situation.declaration.layers
    ):
        # XLA:CPU runs convolutions inside a loop several times slower than alone
        # (docs/performance.md): there Keras' own Python loop over the group is kept.
        return steps, reason + "; convolutions on a CPU: Keras' loop, not lax.scan", "keras"
    if situation.partial_last_batch and steps == situation.steps_per_epoch > 2:
        steps -= 1
        reason += "; the last, partial batch a call of its own (compiled beside the group)"
    return steps, reason, "lax.scan"


def data_on_device(kind: DeviceKind) -> bool:
    return True


def to_device(array: np.ndarray) -> Any:
    """``jax.device_put(array)`` (on any device, so Keras slices batches where the data is)."""
    import jax

    return jax.device_put(array)


def group_batches(model: Any, execution: Execution, batch_size: int) -> None:
    """Make one Keras step of ``model`` train ``execution.steps_per_execution`` batches.

    Only with ``grouping == "lax.scan"``: ``fit`` is given groups of
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
    """Create the optimizer's variables of compiled ``model`` before ``fit``, inside
    ``weights_initialized_per_layer``'s block, so that its zero slots are copied from NumPy
    where Keras' ``fit`` would compile one program per weight shape to fill them
    (docs/performance.md)."""
    with weights_initialized_per_layer():
        model.optimizer.build(model.trainable_variables)


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

    With JAX's persistent cache on (``after_import``); otherwise None. Each batch
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
    get_state = GET_JAX_STATE.find()
    if get_state is None or not getattr(model, "jit_compile", False):
        return None
    keras = import_keras()
    if train_sizes and current_device().kind == "gpu" and _has_convolutions(keras, model):
        # Two training programs with convolutions compiling at once on a GPU pick their
        # cuDNN algorithms by timing them side by side, and both slow down (docs/performance.md).
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
                train_state = _abstract(get_state(model,
                    trainable_variables=True,
                    non_trainable_variables=True,
                    optimizer_variables=True,
                    metrics_variables=True,
                    purge_model_variables=False,
                ))  # fmt: skip
                test_state = _abstract(get_state(model,
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
#: costs: ``bench/choices/test_initializers.py``, docs/performance.md). GPUs and TPUs
#: initialize as Keras does.
JAX_INITIALIZER_OPTIONS: dict[str, dict[str, Any]] = {
    "cpu": {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True},
}

#: Compiled weight-initializing programs by the layer layout they fill (this process's).
_INITIALIZERS: dict[str, Any] = {}


@contextlib.contextmanager
def weights_initialized_per_layer() -> Iterator[None]:
    """Initialize the Keras variables created inside the block on leaving it, a layer at a time.

    Keras runs each weight's initializer as soon as the variable exists, and JAX
    compiles a program per initializer and weight shape: building a small MLP on a CPU takes
    seconds, nearly all of it compiling (``bench/choices/test_initializers.py``,
    docs/performance.md). Here the variables are created uninitialized
    (``keras.StatelessScope(initialize_variables=False)``), then each layer's are filled by one
    program, compiled for a quick compile (``JAX_INITIALIZER_OPTIONS``) and taking the
    initializers' seeds as arguments: a layer of the same weights in a later model reuses it,
    in this process and, through JAX's persistent cache, in later kernels. The draws are Keras'
    own (same initializers, same seeds; at -O0 a uniform draw may differ in its last bit).
    Variables whose initializer is not a Keras ``Initializer`` with an integer seed (or none),
    such as a dropout layer's seed state, are initialized as Keras does.

    A variable assigned inside the block (a saved weight being loaded) takes that value and
    runs no initializer. Variables created before the block must not be assigned inside it.

    On devices not in ``JAX_INITIALIZER_OPTIONS``, and where this Keras lacks a private name
    it takes (``_INITIALIZATION``): the block runs unchanged.

    Raises:
        RuntimeError: the block assigned a variable created before it (the value would be
            lost: inside, Keras' stateless scope keeps assignments apart).
    """
    keras = import_keras()
    if _deferral_unsupported(keras):
        yield
        return
    get_global, set_global = GET_GLOBAL.find(), SET_GLOBAL.find()
    before = len(get_global("uninitialized_variables") or [])
    scope = keras.StatelessScope(initialize_variables=False)
    try:
        with scope:
            yield
    finally:
        pending = get_global("uninitialized_variables") or []
        set_global("uninitialized_variables", pending[:before])
    created = pending[before:]
    if set(scope.state_mapping) - {id(variable) for variable in created}:
        raise RuntimeError("a variable created before this block was assigned inside it")
    _initialize(keras, created, scope)


def _deferral_unsupported(keras: Any) -> bool:
    """Devices, settings, scopes, JAX versions and Keras releases where variables are
    initialized as Keras does (nbmnist allows JAX from 0.4.26; a ``jax.jit`` without
    ``compiler_options`` is older than this needs; a Keras without one of the private names
    this takes, ``_INITIALIZATION``)."""
    import jax

    if not all(name.exists() for name in _INITIALIZATION):
        return True
    in_stateless_scope = IN_STATELESS_SCOPE.find()
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

    random_initializer, draw_seed = RANDOM_INITIALIZER.find(), DRAW_SEED.find()
    deferred_initialize = DEFERRED_INITIALIZE.find()
    initialize = INITIALIZE.find()

    def set_first_value(variable: Any, value: Any) -> None:
        # as Keras' _deferred_initialize would with its initializer's draw
        initialize(variable, value)
        variable._initializer = None

    layers: dict[str, list[tuple[Any, Any]]] = {}  # layer path: [(variable, seed)]
    for variable in variables:
        assigned = scope.get_current_value(variable)
        if assigned is not None:
            set_first_value(variable, assigned)
            continue
        initializer = _initializer_of(variable)
        constant = _constant(keras, initializer)
        if constant is not None:  # zeros, ones: copied from NumPy, nothing compiled
            value = np.full(variable.shape, constant, dtype=jax.numpy.dtype(variable.dtype))
            set_first_value(variable, jax.device_put(value))  # (jnp.asarray compiles)
            continue
        random = isinstance(initializer, random_initializer)
        if not isinstance(initializer, keras.initializers.Initializer) or (
            random and not isinstance(initializer.seed, int)
        ):
            deferred_initialize(variable)
            continue
        seed = draw_seed(initializer.seed) if random else None
        layers.setdefault(variable.path.rsplit("/", 1)[0], []).append((variable, seed))
    for weights in layers.values():
        program = _initializer_program([variable for variable, _ in weights])
        values = program([seed for _, seed in weights])
        for (variable, _), value in zip(weights, values, strict=True):
            set_first_value(variable, value)


def _initializer_of(variable: Any) -> Any:
    """The initializer a deferred Keras variable keeps for ``_deferred_initialize`` (None where
    this Keras keeps it elsewhere: the variable is then initialized by Keras)."""
    return getattr(variable, "_initializer", None)


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

    Where ``weights_initialized_per_layer`` applies the weights take the saved values
    directly: Keras first runs every weight's initializer, and on JAX each initializer and
    shape compiles a program (seconds for a small MLP on a CPU), for values the saved ones
    then replace.

    Raises:
        ValueError, OSError, KeyError, ...: as ``keras.saving.load_model`` for a missing or
            damaged file.
    """
    keras = import_keras()
    with keras_calls():
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
            type(_initializer_of(variable)).__qualname__,
            {k: v for k, v in _initializer_of(variable).get_config().items() if k != "seed"},
            variable.shape,
            variable.dtype,
        )
        for variable in variables
    ]
    key = json.dumps(layout, sort_keys=True, default=str)
    if key not in _INITIALIZERS:
        if len(_INITIALIZERS) >= 256:
            _INITIALIZERS.clear()
        initializers = [(_initializer_of(v), v.shape, v.dtype) for v in variables]

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


def probe(
    model: Any, x: Any, loss: Callable[[Any], Any]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """By ``jax.grad`` of the model's stateless call (Keras' public ``stateless_call``), one
    compiled program per model: op by op, JAX would compile and keep a program for every
    operation of the forward and backward passes of every model a kernel trains
    (docs/performance.md, "How much memory does a kernel keep after a lesson?")."""
    import jax

    compiled = _PROBES.get(model)
    if compiled is None:

        def both(trainable: list[Any], fixed: list[Any], x: Any) -> Any:
            def value(weights: list[Any]) -> Any:
                outputs, _ = model.stateless_call(weights, fixed, x, training=False)
                outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
                return loss(outputs[-1]), outputs

            return jax.grad(value, has_aux=True)(trainable)

        compiled = _PROBES[model] = jax.jit(both)
    gradients, outputs = compiled(
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        x,
    )
    return [np.asarray(o) for o in outputs], [np.asarray(g) for g in gradients]


#: ``probe``'s compiled program per probe model, gone with the model.
_PROBES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
