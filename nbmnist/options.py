"""Training options: one home for their names, defaults, checks, help text and fast mode.

``TrainingOptions`` is what ``nbmnist.train`` takes as keywords and what ``%%mlp`` /
``%%cnn`` take as flags: the magics' flags and their help (``%%mlp?``) are generated from its
fields (``flags``), and ``tests/test_options.py`` checks the README's table against them.
Every option is checked here, before Keras is imported or data is read.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nbmnist.data import DATASETS, Dataset, data_names, known_name, use_data
from nbmnist.errors import OptionError, did_you_mean

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adadelta", "adagrad", "nadam")
LOSSES = ("categorical_crossentropy", "mse")
VALIDATIONS = ("split", "test", "none")
LR_SCHEDULES = ("constant", "cosine", "one_cycle")
#: What early stopping and ``restore_best`` watch: a Keras log name of each epoch.
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
#: ``data_source`` values besides a folder.
SOURCES = ("sample", "download")
DATASET_NAMES = tuple(DATASETS)
_LOSS_ALIASES = {"mean_squared_error": "mse", "crossentropy": "categorical_crossentropy"}

#: Fast mode (``NBMNIST_FAST=1``): the bundled sample, at most this many epochs and training
#: images, so a notebook runs top to bottom in CI in seconds per cell (``fast_limits``).
FAST_EPOCHS = 2
FAST_TRAIN_SIZE = 2000
#: Fast mode's budget of forward-pass multiply-adds per model and epoch: 2,000 images of a
#: model of up to 1 M multiply-adds an image (seed 000's MLP: 0.48 M; the fast recipe's CNN:
#: 0.79 M); a costlier model gets fewer images (the Keras example CNN, 12 M: 200).
FAST_MULTIPLY_ADDS = 2_000_000_000
#: In fast mode a sweep trains at most this many of its points (``fast_points``).
FAST_SWEEP_POINTS = 3
#: The fewest images fast mode trains a model on (a sweep's share, a costly model's).
FAST_MIN_TRAIN_SIZE = 200
#: Bounds on options, so that a typo fails at once instead of after loading and building:
#: epochs (the seed notebooks train 10-22), and batch and training sizes (the datasets hold
#: 60,000 training images).
MAX_EPOCHS = 10_000
MAX_TRAIN_SIZE = 60_000


def _option(default: Any, text: str, shown: str | None = None, flag: Any = None) -> Any:
    """A ``TrainingOptions`` field: its default, one line of help, the default as the help
    shows it, and its magic flag's ``argparse`` keywords (None: no flag)."""
    shown = shown if shown is not None else str(default)
    return dataclasses.field(
        default=default, metadata={"help": text, "default": shown, "flag": flag}
    )


def fast_limits(
    epochs: int, train_size: int | None, models_in_cell: int = 1, multiply_adds: int = 0
) -> tuple[int, int]:
    """Fast mode's rule, for cells, sweeps and ``--show-code`` alike: ``(epochs,
    train_size)`` lowered to at most ``FAST_EPOCHS`` epochs (1 when the cell trains several
    models) and ``FAST_TRAIN_SIZE`` images shared among the cell's models, fewer for a model
    whose forward pass costs more than ``FAST_MULTIPLY_ADDS / FAST_TRAIN_SIZE`` per image
    (``multiply_adds``, ``Declaration.multiply_adds``), so each cell stays a few seconds;
    at least ``FAST_MIN_TRAIN_SIZE`` images each."""
    most_epochs = FAST_EPOCHS if models_in_cell == 1 else 1
    share = FAST_TRAIN_SIZE // models_in_cell
    if multiply_adds > 0:
        share = min(share, FAST_MULTIPLY_ADDS // multiply_adds)
    share = max(FAST_MIN_TRAIN_SIZE, share)
    return min(epochs, most_epochs), min(train_size or share, share)


def fast_points(count: int) -> list[int]:
    """Fast mode's rule for sweeps: which of ``count`` grid points train (a smoke test in
    CI): at most ``FAST_SWEEP_POINTS``, spread over the grid, first and last included."""
    if count <= FAST_SWEEP_POINTS:
        return list(range(count))
    last = count - 1
    return sorted({round(i * last / (FAST_SWEEP_POINTS - 1)) for i in range(FAST_SWEEP_POINTS)})


def fast_mode_from_env() -> bool:
    """True when ``NBMNIST_FAST`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get("NBMNIST_FAST", "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class TrainingOptions:
    """How to train; the fields are the magic's flags in snake_case.

    Attributes:
        data: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` or own data's name
            (``data.use_data``); a ``Dataset`` or ``((x_train, y_train), (x_test, y_test))``
            is made own data (named ``my_data`` unless a ``Dataset`` has a name).
        data_source: where the data comes from (``data.load_dataset``'s ``source``):
            ``"sample"``, ``"download"`` or a folder (``str`` or ``pathlib.Path``); None:
            ``NBMNIST_DATA``, Keras' cache, the download, else the bundled sample.
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
            training images (``fast_limits``); None: ``NBMNIST_FAST`` decides.
        runs_dir: the run store folder (a ``str`` or ``pathlib.Path``, kept as a ``str``);
            None: ``$NBMNIST_RUNS`` or ``./nbmnist-runs``.
        overwrite: replace a stored run of the same name instead of renaming the new one.
        mixed_precision: train with the device's mixed Keras policy (``mixed_float16`` on a
            GPU, ``mixed_bfloat16`` on a TPU; output layer in float32); on a CPU it is
            ignored, with a note.
        lr_schedule: ``"constant"``; ``"cosine"``: linear warm-up over the first 10% of
            the steps to the learning rate, then cosine decay to 0 at the last step
            (``keras.optimizers.schedules.CosineDecay``); ``"one_cycle"``: Smith & Topin's
            one-cycle policy (2017, "Super-Convergence"), with fastai's ``fit_one_cycle``
            settings: from the learning rate / 25 up to it over the first 30% of the steps
            (linearly), then cosine decay to the learning rate / 100,000 (the same Keras
            schedule; momentum is not cycled).
        steps_per_execution: batches run per call into the backend (Keras'
            ``steps_per_execution``; with JAX a ``lax.scan`` over the batches); same updates
            in the same order, less Python overhead per batch. None:
            ``backend.auto_steps_per_execution`` picks it. Always 1 with PyTorch.
        jit_compile: compile the training step with XLA (True/False); None lets Keras
            decide (JAX: always; TensorFlow: on a GPU or TPU; PyTorch: never).
        memory_limit_gb: the most memory (gigabytes, 1e9 bytes) a model may need to train
            (``check_size``); None: this machine's physical memory.
        early_stopping: stop after this many epochs in a row without improvement of
            ``monitor`` (Keras' ``EarlyStopping(patience=...)``); None: train every epoch.
        monitor: what early stopping and ``restore_best`` watch, one of ``MONITORS``
            (``val_loss`` by default; lower is better for a loss, higher for an accuracy).
        restore_best: at the end, give the model the weights of its best epoch by
            ``monitor`` (``EarlyStopping(restore_best_weights=True)``); the test scores are
            then that epoch's weights'.
    """

    data: str = _option(
        "mnist",
        "mnist, fashion_mnist, cifar10, or a notebook variable holding "
        "((x_train, y_train), (x_test, y_test))",
        flag={},
    )
    data_source: str | None = _option(
        None,
        "sample (the bundled sample), download (Keras' cache, else the download; never the "
        "sample) or a folder of IDX files",
        "a local copy, else the download, else the sample",
        flag={},
    )
    epochs: int = _option(10, "passes over the training data", flag={"type": int})
    batch_size: int = _option(128, "examples per gradient step", flag={"type": int})
    optimizer: str = _option(
        "adam", "adam, sgd, rmsprop, adadelta, adagrad or nadam (Keras' settings)", flag={}
    )
    learning_rate: float | None = _option(
        None, "the optimizer's learning rate", "the optimizer's", flag={"type": float}
    )
    loss: str = _option(
        "categorical_crossentropy", "categorical_crossentropy or mse (on one-hot labels)", flag={}
    )
    validation: str = _option(
        "split",
        "split (hold out the last --validation-split of the training set), test (validate "
        "on the test set, as the seed notebooks), or none",
        flag={},
    )
    validation_split: float = _option(
        1 / 6, "fraction held out with --validation split", "1/6", flag={"type": float}
    )
    train_size: int | None = _option(
        None, "train on the first N training images", "all", flag={"type": int}
    )
    seed: int | None = _option(
        None,
        f"seed Python, NumPy and Keras for a repeatable run (0 to {2**32 - 1})",
        "random",
        flag={"type": int},
    )
    live: bool = _option(
        True, "no dashboard: one text line per epoch", flag={"action": "store_true"}
    )
    fast: bool | None = _option(
        None,
        f"the bundled sample, at most {FAST_EPOCHS} epochs and {FAST_TRAIN_SIZE:,} images "
        "(default: NBMNIST_FAST)",
        flag={"action": "store_true"},
    )
    runs_dir: str | None = _option(None, "the run store folder", "NBMNIST_RUNS or ./nbmnist-runs")
    overwrite: bool = _option(
        False,
        "replace a stored run of the same name (default: the new run gets _2, _3...)",
        flag={"action": "store_true"},
    )
    mixed_precision: bool = _option(
        False,
        "on a GPU: float16 compute (output layer float32); ignored on CPU",
        flag={"action": "store_true"},
    )
    lr_schedule: str = _option(
        "constant",
        "constant, cosine (10% warm-up, then cosine decay to 0) or one_cycle (from lr/25 up "
        "to lr over 30% of the steps, then cosine decay to lr/1e5)",
        flag={},
    )
    steps_per_execution: int | None = _option(
        None,
        "batches per call into the backend (the same updates; auto: from the model's cost)",
        "auto",
        flag={"type": int},
    )
    jit_compile: bool | None = _option(
        None,
        "compile the training step with XLA (Keras decides: always with JAX, on a GPU or TPU "
        "with TensorFlow, never with PyTorch)",
        "Keras decides",
        flag={"choices": ("on", "off")},
    )
    memory_limit_gb: float | None = _option(
        None,
        "the most memory a model may need to train, in GB; a larger model is refused "
        "before it is built",
        "this machine's memory",
        flag={"type": float},
    )
    early_stopping: int | None = _option(
        None,
        "stop after this many epochs without improvement of --monitor (Keras' EarlyStopping "
        "patience)",
        "off",
        flag={"type": int, "metavar": "PATIENCE"},
    )
    monitor: str = _option(
        "val_loss",
        "what --early-stopping and --restore-best watch: val_loss, val_accuracy, loss or accuracy",
        flag={},
    )
    restore_best: bool = _option(
        False,
        "end with the weights of the best epoch by --monitor; the test scores are theirs",
        flag={"action": "store_true"},
    )

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise spellings on a frozen dataclass
        if self.fast is None:
            set_(self, "fast", fast_mode_from_env())
        if self.runs_dir is not None:  # a pathlib.Path too; the run record keeps a str
            set_(self, "runs_dir", os.fspath(self.runs_dir))
        if self.data_source is not None:
            set_(self, "data_source", os.fspath(self.data_source))
            if self.data_source not in SOURCES and not os.path.isdir(
                os.path.expanduser(self.data_source)
            ):
                raise OptionError(
                    f"data_source {self.data_source!r} is neither {' nor '.join(SOURCES)} nor a "
                    "folder; give a folder that holds mnist/ or fashion-mnist/ IDX files"
                )
        if isinstance(self.data, Dataset):
            set_(
                self,
                "data",
                self.data.name
                if known_name(self.data.name)
                else use_data(self.data, name=self.data.name).name,
            )
        elif not isinstance(self.data, str):
            set_(self, "data", use_data(self.data).name)
        set_(self, "data", known_name(self.data) or self.data)
        set_(self, "optimizer", str(self.optimizer).lower())
        loss = str(self.loss).lower()
        set_(self, "loss", _LOSS_ALIASES.get(loss, loss))
        set_(self, "validation", str(self.validation).lower())
        set_(self, "lr_schedule", str(self.lr_schedule).lower())
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.data not in data_names():
            raise OptionError(
                f"unknown data '{self.data}'; expected one of {', '.join(DATASET_NAMES)}, or "
                "your own: nbmnist.use_data(((x_train, y_train), (x_test, y_test)), name=...) "
                "or, in a cell, --data VARIABLE holding those arrays."
                + did_you_mean(self.data, data_names())
            )
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("loss", self.loss, LOSSES)
        _choice("validation", self.validation, VALIDATIONS)
        set_(self, "monitor", str(self.monitor).lower())
        _choice("monitor", self.monitor, MONITORS)
        if self.early_stopping is not None:
            _positive_int("early_stopping", self.early_stopping, MAX_EPOCHS)
        watching = self.early_stopping is not None or self.restore_best
        if watching and self.monitor.startswith("val_") and self.validation == "none":
            raise OptionError(
                f"monitor {self.monitor!r} needs validation, and validation is 'none'; use "
                f"validation 'split' or 'test', or monitor {self.monitor[4:]!r}"
            )
        if not watching and self.monitor != "val_loss":
            raise OptionError(
                f"monitor {self.monitor!r} is watched only by early_stopping or restore_best; "
                "give one of them, or leave monitor out"
            )
        _positive_int("epochs", self.epochs, MAX_EPOCHS)
        _positive_int("batch_size", self.batch_size, MAX_TRAIN_SIZE)
        if self.train_size is not None:
            _positive_int("train_size", self.train_size, MAX_TRAIN_SIZE)
        if self.steps_per_execution is not None:
            _positive_int("steps_per_execution", self.steps_per_execution)
        if self.jit_compile is not None and not isinstance(self.jit_compile, bool):
            raise OptionError(f"jit_compile must be True, False or None, got {self.jit_compile!r}")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**32):
            raise OptionError(
                f"seed must be a whole number from 0 to {2**32 - 1} (NumPy's range), "
                f"got {self.seed!r}"
            )
        if self.learning_rate is not None and not (
            isinstance(self.learning_rate, (int, float))
            and math.isfinite(self.learning_rate)
            and self.learning_rate > 0
        ):
            raise OptionError(
                f"learning_rate must be a number > 0 (e.g. 0.001), got {self.learning_rate!r}"
            )
        limit = self.memory_limit_gb
        if limit is not None and not (
            isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0
        ):
            raise OptionError(f"memory_limit_gb must be a number > 0, got {limit!r}")
        split = self.validation_split
        if not (isinstance(split, (int, float)) and 0 < split < 1):
            raise OptionError(
                f"validation_split must be a fraction between 0 and 1 (e.g. 0.2), got {split!r}"
            )
        if self.validation == "split" and self.train_size is not None:
            smallest = next(n for n in itertools.count(2) if split_sizes(n, split) >= (1, 1))
            if self.train_size < smallest:
                raise OptionError(
                    f"train_size {self.train_size} leaves no images to train or validate on "
                    f"with validation_split {split:.4g}; use train_size >= {smallest}, or "
                    "validation 'test' or 'none'"
                )

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword options from a magic's parsed flags (``argparse`` names): the flags
        given, converted (the magic line is parsed once with its values as text, ``{name}``
        placeholders included, so ``--epochs 3`` is converted here; ``--no-live`` is
        ``live=False``, ``--jit-compile on`` is ``jit_compile=True``); other entries (the run
        name, ``--grid``...) are left out.

        Raises:
            OptionError: a value that is not of its flag's type (``--epochs abc``).
        """
        options: dict[str, Any] = {}
        for option in dataclasses.fields(cls):
            flag = option.metadata.get("flag")
            value = flags.get(flag_dest(option.name))
            if flag is None or value is None or value is False:
                continue  # not given: the default, or what a recipe or %config sets
            convert = flag.get("type")
            if convert is not None and isinstance(value, str):
                try:
                    value = convert(value)
                except ValueError:
                    name = "--" + flag_dest(option.name).replace("_", "-")
                    raise OptionError(
                        f"argument {name}: invalid {convert.__name__} value: {value!r}"
                    ) from None
            if "choices" in flag:
                value = value == flag["choices"][0]
            options[option.name] = not value if option.name == "live" else value
        return options


def flag_dest(name: str) -> str:
    """The ``argparse`` destination of an option's flag (``live``: ``no_live``)."""
    return "no_live" if name == "live" else name


def flags() -> list[tuple[str, dict[str, Any]]]:
    """The magics' training flags, generated from ``TrainingOptions``: ``(--flag-name,
    argparse keywords)``, the help text ending with the default."""
    found = []
    for option in dataclasses.fields(TrainingOptions):
        flag = option.metadata.get("flag")
        if flag is None:
            continue
        name = "--" + flag_dest(option.name).replace("_", "-")
        text = option.metadata["help"].replace("%", "%%")  # argparse formats help with %
        if "action" not in flag:
            text += f" (default: {option.metadata['default']})".replace("%", "%%")
        # argparse keeps the value as text ({name} placeholders too): from_flags converts it
        keywords = {key: value for key, value in flag.items() if key != "type"}
        found.append((name, {**keywords, "help": text}))
    return found


def split_sizes(count: int, split: float) -> tuple[int, int]:
    """(fitted, held out) of ``count`` images with Keras' ``validation_split``."""
    fitted = int(count * (1 - split))
    return fitted, count - fitted


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _positive_int(name: str, value: Any, most: int | None = None) -> None:
    if not _is_int(value) or value <= 0:
        raise OptionError(f"{name} must be a whole number > 0, got {value!r}")
    if most is not None and value > most:
        raise OptionError(f"{name} must be at most {most:,}, got {value:,}")


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
