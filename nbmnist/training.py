"""Compile, fit and evaluate a declared model; the result is a recorded ``Run``.

Everything the user wrote is validated (options, then the declaration) before TensorFlow is
imported or data is read, so a mistake costs milliseconds and never a half-trained model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.data import Dataset, load_dataset
from nbmnist.declaration import Declaration, Kind
from nbmnist.errors import OptionError, did_you_mean
from nbmnist.metric_log import MetricLog
from nbmnist.model import as_declaration, build_model, import_keras, non_trainable_params
from nbmnist.runs import Run, RunStore, Status, next_name, now, record, session_names

if TYPE_CHECKING:
    from nbmnist.display import Display

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adadelta", "adagrad", "nadam")
LOSSES = ("categorical_crossentropy", "mse")
VALIDATIONS = ("split", "test", "none")
LR_SCHEDULES = ("constant", "cosine")
DATASET_NAMES = ("mnist", "fashion_mnist")
_LOSS_ALIASES = {"mean_squared_error": "mse", "crossentropy": "categorical_crossentropy"}

#: Fast mode (``NBMNIST_FAST=1``): the bundled sample, at most this many epochs and training
#: images, so a notebook runs top to bottom in CI in seconds per cell.
FAST_EPOCHS = 2
FAST_TRAIN_SIZE = 2000


#: ``auto_steps_per_execution``: the CPU speed a training step is estimated with
#: (multiply-adds per second; the Keras example CNN trained at 3.6e10-7.8e10 on this
#: project's 2-core CPU, docs/performance.md), the longest a group of batches should take
#: (seconds: Ctrl-C and the batch progress bar act between groups) and the largest group.
STEP_RATE = 5e10
EXECUTION_BUDGET_S = 0.2
MAX_STEPS_PER_EXECUTION = 32


def auto_steps_per_execution(declaration: Declaration, batch_size: int) -> int:
    """How many batches to run per call into TensorFlow, from the model's estimated cost.

    A training step costs about 3x the forward pass (forward, and backward for inputs and
    weights): ``3 * declaration.multiply_adds() * batch_size`` multiply-adds, taking
    ``/ STEP_RATE`` seconds. Grouping steps up to ``EXECUTION_BUDGET_S`` saves Keras'
    per-batch Python overhead and lets TensorFlow keep both cores busy across batches (the
    seed MLP's epochs 1.6x faster, the Keras example CNN's ~1.1x, docs/performance.md) while
    a group stays short enough that Ctrl-C still stops at once. The largest seed CNNs get 1.

    Returns:
        An int in 1..``MAX_STEPS_PER_EXECUTION``.
    """
    step_s = 3 * declaration.multiply_adds() * batch_size / STEP_RATE
    groups = int(EXECUTION_BUDGET_S // step_s) if step_s > 0 else MAX_STEPS_PER_EXECUTION
    return max(1, min(MAX_STEPS_PER_EXECUTION, groups))


def fast_mode_from_env() -> bool:
    """True when ``NBMNIST_FAST`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get("NBMNIST_FAST", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class TrainingOptions:
    """How to train; the fields are the magic's flags in snake_case.

    Attributes:
        data: ``"mnist"`` or ``"fashion_mnist"``.
        epochs: passes over the training data (> 0).
        batch_size: examples per gradient step (> 0).
        optimizer: one of ``OPTIMIZERS``, with Keras' default settings.
        learning_rate: overrides the optimizer's default learning rate (> 0); None keeps it.
        loss: ``"categorical_crossentropy"`` or ``"mse"`` (on one-hot labels, as the seeds).
        validation: ``"split"``: hold out the last ``validation_split`` fraction of the
            training images (Keras' ``validation_split``); ``"test"``: validate on the test
            set (as most seed notebooks do; the test score is then not unseen);
            ``"none"``: no validation.
        validation_split: fraction in (0, 1) held out with ``validation="split"``.
        train_size: train on the first N training images; None: all.
        seed: seeds Python, NumPy and Keras (``keras.utils.set_random_seed``); None: random.
        live: show the live dashboard in a notebook (else one text line per epoch).
        fast: use the bundled sample, at most ``FAST_EPOCHS`` epochs and ``FAST_TRAIN_SIZE``
            training images.
        runs_dir: the run store folder; None: ``$NBMNIST_RUNS`` or ``./nbmnist-runs``.
        overwrite: replace a stored run of the same name instead of renaming the new one.
        mixed_precision: on a GPU, train with Keras' ``mixed_float16`` policy (output layer
            in float32); on a CPU it is ignored, with a note.
        lr_schedule: ``"constant"``, or ``"cosine"``: linear warm-up over the first 10% of
            the steps to the learning rate, then cosine decay to 0 at the last step
            (``keras.optimizers.schedules.CosineDecay``).
        steps_per_execution: batches Keras runs per call into TensorFlow (``compile``'s
            ``steps_per_execution``); same updates in the same order, less Python overhead
            per batch. None: ``auto_steps_per_execution`` picks it.
    """

    data: str = "mnist"
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float | None = None
    loss: str = "categorical_crossentropy"
    validation: str = "split"
    validation_split: float = 1 / 6
    train_size: int | None = None
    seed: int | None = None
    live: bool = True
    fast: bool = False
    runs_dir: str | None = None
    overwrite: bool = False
    mixed_precision: bool = False
    lr_schedule: str = "constant"
    steps_per_execution: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise spellings on a frozen dataclass
        set_(self, "data", str(self.data).lower().replace("-", "_"))
        set_(self, "optimizer", str(self.optimizer).lower())
        loss = str(self.loss).lower()
        set_(self, "loss", _LOSS_ALIASES.get(loss, loss))
        set_(self, "validation", str(self.validation).lower())
        set_(self, "lr_schedule", str(self.lr_schedule).lower())
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("data", self.data, DATASET_NAMES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("loss", self.loss, LOSSES)
        _choice("validation", self.validation, VALIDATIONS)
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        if self.train_size is not None:
            _positive_int("train_size", self.train_size)
        if self.steps_per_execution is not None:
            _positive_int("steps_per_execution", self.steps_per_execution)
        if self.seed is not None and (not _is_int(self.seed) or self.seed < 0):
            raise OptionError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float))
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise OptionError(
                f"learning_rate must be a number > 0 (e.g. 0.001), got {self.learning_rate!r}"
            )
        split = self.validation_split
        if not (isinstance(split, (int, float)) and 0 < split < 1):
            raise OptionError(
                f"validation_split must be a fraction between 0 and 1 (e.g. 0.2), got {split!r}"
            )

    @property
    def effective_epochs(self) -> int:
        return min(self.epochs, FAST_EPOCHS) if self.fast else self.epochs


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _positive_int(name: str, value: Any) -> None:
    if not _is_int(value) or value <= 0:
        raise OptionError(f"{name} must be a whole number > 0, got {value!r}")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(
            f"unknown {name} '{value}'; expected one of {', '.join(choices)}."
            + did_you_mean(value, choices)
        )


def make_options(**options: Any) -> TrainingOptions:
    """``TrainingOptions`` from keyword arguments, with a clear error for unknown names."""
    fields = {f.name for f in dataclasses.fields(TrainingOptions)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise OptionError(
            f"unknown training option '{unknown[0]}'." + did_you_mean(unknown[0], fields)
        )
    return TrainingOptions(**options)


def prepare_arrays(
    dataset: Dataset, kind: Kind, train_size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Model-ready arrays: pixels scaled to float32 in [0, 1], labels one-hot float32.

    The float32 copy is made once per dataset and kept (``Dataset._cache``); the per-kind
    shapes are views of it, so MLP and CNN cells share one copy.

    Returns:
        ``x_train`` (N, 784) for ``mlp`` or (N, 28, 28, 1) for ``cnn``, ``y_train`` (N, 10),
        ``x_test`` and ``y_test`` likewise; N = ``train_size`` or all training images.
    """
    cache = dataset._cache
    if "x_train" not in cache:
        for split in ("train", "test"):
            x = np.asarray(getattr(dataset, f"x_{split}"), dtype=np.float32) / np.float32(255)
            y = np.eye(dataset.num_classes, dtype=np.float32)[getattr(dataset, f"y_{split}")]
            cache[f"x_{split}"], cache[f"y_{split}"] = x, y
    shape = (-1, 784) if kind == "mlp" else (-1, 28, 28, 1)
    limit = slice(None, train_size)
    return (
        cache["x_train"][limit].reshape(shape),
        cache["y_train"][limit],
        cache["x_test"].reshape(shape),
        cache["y_test"],
    )


def _optimizer(options: TrainingOptions, total_steps: int = 0) -> Any:
    """The Keras optimizer for ``options``; ``total_steps`` (batches over all epochs) sizes a
    learning-rate schedule."""
    keras = import_keras()
    classes = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adadelta": keras.optimizers.Adadelta,
        "adagrad": keras.optimizers.Adagrad,
        "nadam": keras.optimizers.Nadam,
    }
    cls = classes[options.optimizer]
    peak = options.learning_rate
    if options.lr_schedule == "cosine" and total_steps > 1:
        if peak is None:
            peak = float(cls().learning_rate.numpy())  # the optimizer's own default
        warmup = max(1, total_steps // 10)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            decay_steps=total_steps - warmup,
            warmup_target=peak,
            warmup_steps=warmup,
        )
        return cls(learning_rate=schedule)
    return cls() if peak is None else cls(learning_rate=peak)


def _loss(options: TrainingOptions, declaration: Declaration) -> Any:
    keras = import_keras()
    if options.loss == "mse":
        return "mean_squared_error"
    # A linear output layer produces logits: tell the loss, or it would treat them as
    # probabilities and train badly without any error.
    from_logits = declaration.output_activation == "linear"
    return keras.losses.CategoricalCrossentropy(from_logits=from_logits)


@functools.cache
def device_name() -> str:
    """``GPU (name)`` if TensorFlow sees a GPU, else ``CPU (N cores)``."""
    import_keras()  # starts TensorFlow's devices with its C++ messages muted
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return f"GPU ({gpus[0].name})"
    return f"CPU ({os.cpu_count()} cores)"


@dataclass(frozen=True)
class TrainingInfo:
    """What a display shows before the first epoch."""

    name: str
    kind: str
    num_params: int
    epochs: int
    data_title: str
    data_source: str
    is_sample: bool
    device: str
    summary: str
    num_train: int
    validation: str
    #: returns (batches done in the current epoch, batches per epoch); callable from any thread
    batch_progress: Callable[[], tuple[int, int]] | None = None


class StoreWriter:
    """Keeps a run's record on disk current: written when training starts and after every
    epoch (atomically; see ``RunStore``)."""

    def __init__(self, store: RunStore, run: Run) -> None:
        self.store, self.run = store, run

    def on_train_begin(self, info: TrainingInfo) -> None:
        self.store.write(self.run)

    def on_epoch_end(self, log: MetricLog) -> None:
        self.store.write(self.run)  # run.history is log.history: the new epoch is in it

    def on_train_end(self, run: Run) -> None:
        self.store.write(run)


def environment() -> dict[str, str]:
    """Versions and device, recorded with every run."""
    import platform

    import tensorflow as tf

    from nbmnist import __version__

    keras = import_keras()
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "nbmnist": __version__,
        "platform": platform.platform(),
        "device": device_name(),
    }


def _run_name(name: str | None, kind: str, store: RunStore, overwrite: bool) -> str:
    requested = name or next_name(kind, store)
    store.folder(requested)  # a name that cannot be a folder fails here, before training
    if overwrite:
        return requested
    unique = store.unique_name(requested, session_names())
    if unique != requested:
        print(
            f"nbmnist: a run named {requested!r} exists (in {store.root} or this session); "
            f"this one is {unique!r}. Use --overwrite (overwrite=True) to replace it."
        )
    return unique


def _training_data(
    opts: TrainingOptions, kind: Kind
) -> tuple[Dataset, str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    dataset = load_dataset(opts.data, source="sample" if opts.fast else None, warn=False)
    source = dataset.source
    if opts.fast:
        source = source.replace(": requested", ": fast mode (NBMNIST_FAST)")
    train_size = opts.train_size
    if opts.fast:
        train_size = min(train_size or FAST_TRAIN_SIZE, FAST_TRAIN_SIZE)
    if train_size is not None and train_size > len(dataset.y_train):
        if not (opts.fast or dataset.is_sample):
            raise OptionError(
                f"train_size {train_size:,} exceeds the {len(dataset.y_train):,} training "
                f"images of {dataset.title}"
            )
        train_size = None  # the sample is smaller than a full-data train_size: use it all
    return dataset, source, prepare_arrays(dataset, kind, train_size)


def train(
    text: str | Declaration,
    kind: Kind = "mlp",
    name: str | None = None,
    *,
    variables: Mapping[str, object] | None = None,
    display: Display | None = None,
    show_summary: bool = True,
    **options: Any,
) -> Run:
    """Build, train and evaluate the model a declaration describes; record and return the run.

    The run is saved in the run store (``runs_dir``, ``$NBMNIST_RUNS`` or ``./nbmnist-runs``)
    from its first epoch on, and its model as ``model.keras`` at the end.

    Args:
        text: a cell body (or a parsed ``Declaration``).
        kind: ``"mlp"`` or ``"cnn"``.
        name: the run's name; default ``mlp_1``, ``cnn_1``, ... (first unused). A name the
            store or session already has gets ``_2``, ``_3``... unless ``overwrite=True``.
        variables: values for ``{name}`` placeholders in ``text`` (see ``parse_declaration``).
        display: where progress goes; default the live dashboard in a notebook (``live``),
            else one text line per epoch on stdout.
        show_summary: print the layer-by-layer model summary first (a sweep prints it once).
        **options: ``TrainingOptions`` fields: ``data``, ``epochs``, ``batch_size``,
            ``optimizer``, ``learning_rate``, ``loss``, ``validation``, ``validation_split``,
            ``train_size``, ``seed``, ``live``, ``fast``, ``runs_dir``, ``overwrite``,
            ``mixed_precision``, ``lr_schedule``, ``steps_per_execution``.

    Returns:
        The recorded ``Run`` (also in ``nbmnist.runs()``).

    Raises:
        OptionError: an option is unknown or out of range (before anything is built).
        DeclarationError: the declaration is invalid (before anything is built).
        DataError: the data files are corrupt.
        KeyboardInterrupt: re-raised after recording the run as ``interrupted``.
    """
    if "fast" not in options:
        options["fast"] = fast_mode_from_env()
    opts = make_options(**options)
    declaration = as_declaration(text, kind, variables)
    store = RunStore.default(opts.runs_dir)
    run_name = _run_name(name, declaration.kind, store, opts.overwrite)
    dataset, data_source, arrays = _training_data(opts, declaration.kind)
    x_train, y_train, x_test, y_test = arrays
    declaration = declaration.with_head(dataset.num_classes)

    keras = import_keras()
    if opts.seed is not None:
        keras.utils.set_random_seed(opts.seed)
    mixed = opts.mixed_precision and device_name().startswith("GPU")
    if opts.mixed_precision and not mixed:
        print("nbmnist: --mixed-precision ignored: no GPU here, training in float32")
    model = build_model(declaration, mixed_precision=mixed)
    fitted = len(x_train)
    if opts.validation == "split":
        fitted = int(fitted * (1 - opts.validation_split))  # as Keras splits
    steps_per_epoch = -(-fitted // opts.batch_size)
    steps_per_execution = opts.steps_per_execution or auto_steps_per_execution(
        declaration, opts.batch_size
    )
    model.compile(
        optimizer=_optimizer(opts, steps_per_epoch * opts.effective_epochs),
        loss=_loss(opts, declaration),
        metrics=["accuracy"],
        steps_per_execution=min(steps_per_execution, steps_per_epoch),
    )
    from nbmnist.callbacks import Interrupt, TrainingCallback
    from nbmnist.display import Broadcast, choose_display
    from nbmnist.model import summary_text

    log = MetricLog()
    run = Run(
        name=run_name,
        kind=declaration.kind,
        declaration=declaration.text,
        variables=dict(declaration.variables),
        options={
            **dataclasses.asdict(opts),
            "epochs": opts.effective_epochs,
            "steps_per_execution": model.steps_per_execution,
        },
        history=log.history,
        test_loss=None,
        test_accuracy=None,
        num_params=int(model.count_params()),
        wall_time_s=0.0,
        data_source=data_source,
        status="running",
        uses_sample=dataset.is_sample,
        architecture=declaration.architecture,
        uses_batchnorm=declaration.uses_batchnorm,
        dropout_rates=declaration.dropout_rates,
        head_appended=declaration.head_appended,
        num_non_trainable_params=non_trainable_params(model),
        epoch_seconds=log.epoch_seconds,
        created=now(),
        environment=environment(),
    )
    if opts.overwrite:
        store.remove(run_name)
    display = Broadcast(display or choose_display(opts.live), StoreWriter(store, run))
    interrupt = Interrupt()
    callback = TrainingCallback(log, display, interrupt)
    display.on_train_begin(
        TrainingInfo(
            name=run_name,
            kind=declaration.kind,
            num_params=run.num_params,
            epochs=opts.effective_epochs,
            data_title=dataset.title,
            data_source=data_source,
            is_sample=dataset.is_sample,
            device=run.environment["device"],
            summary=summary_text(declaration, model) if show_summary else "",
            num_train=len(x_train),
            validation=opts.validation,
            batch_progress=callback.batch_progress,
        )
    )
    validation: dict[str, Any] = {}
    if opts.validation == "split":
        validation["validation_split"] = opts.validation_split
    elif opts.validation == "test":
        validation["validation_data"] = (x_test, y_test)

    status: Status = "completed"
    started = time.perf_counter()
    try:
        with interrupt.watch(model):
            model.fit(
                x_train,
                y_train,
                batch_size=opts.batch_size,
                epochs=opts.effective_epochs,
                verbose=0,
                callbacks=[callback],
                **validation,
            )
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException:
        display.close()  # stop any progress thread, then re-raise
        raise
    if interrupt.requested:
        status = "interrupted"
    if log.diverged():
        status = "diverged"
    elif status == "completed":
        scores = model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)
        run.test_loss, run.test_accuracy = float(scores["loss"]), float(scores["accuracy"])
    run.status = status
    run.wall_time_s = time.perf_counter() - started
    run.model = model
    store.save_model(run, model)
    record(run)
    display.on_train_end(run)
    if status == "interrupted":
        raise KeyboardInterrupt
    return run
