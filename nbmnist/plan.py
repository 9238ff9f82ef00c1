"""The training plan: what a cell trains, computed once from its declaration and options.

``train()`` executes a ``TrainingPlan`` and ``keras_code.to_keras_code()`` prints the same
plan, so the code ``--show-code`` shows is the training that runs (``tests/test_plan.py``
builds both and compares models, optimizers and losses). Only how the plan runs on a
backend and device (precision, XLA, grouping of batches) is decided later, by
``backend.plan_execution``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nbmnist.data import data_shape
from nbmnist.declaration import Declaration
from nbmnist.declaration.spec import BatchNormSpec as BN
from nbmnist.declaration.spec import ConvSpec, DenseSpec, flat_layers
from nbmnist.errors import DeclarationError
from nbmnist.options import TrainingOptions, fast_limits

#: ``--optimizer`` name -> class in ``keras.optimizers`` (each with Keras' default settings).
OPTIMIZER_CLASSES = {
    "adam": "Adam",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adagrad": "Adagrad",
    "nadam": "Nadam",
}
#: ``--loss`` name -> Keras' loss name.
KERAS_LOSSES = {"categorical_crossentropy": "categorical_crossentropy", "mse": "mean_squared_error"}


#: The options that decide what a run learns, so identify its plan (``TrainingPlan.identity``)
#: with the layers; the others change how it runs or is shown, not what it learns.
IDENTITY_OPTIONS = (
    "data",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "loss",
    "validation",
    "validation_split",
    "train_size",
    "seed",
    "fast",
    "mixed_precision",
    "early_stopping",
    "monitor",
    "restore_best",
)


#: Output activations whose values Keras' categorical cross-entropy takes as class
#: probabilities (it divides them by their sum: they must be positive) ...
PROBABILITY_OUTPUTS = ("softmax", "sigmoid", "softplus", "exponential")
#: ... and those it takes as logits (``from_logits=True``; log_softmax differs from them by a
#: constant per image, which the softmax inside the loss removes).
LOGIT_OUTPUTS = ("linear", "log_softmax")


def check_output(declaration: Declaration, loss: str) -> None:
    """Refuse, before anything is built, an output layer that cannot give class
    probabilities for the cross-entropy: relu, tanh, ... can be 0 or negative, so the loss
    sees nonsense and the model trains without error to a poor score.

    Raises:
        DeclarationError: one line naming the last layer and the fix.
    """
    activation = declaration.output_activation
    if loss != "categorical_crossentropy" or activation in PROBABILITY_OUTPUTS + LOGIT_OUTPUTS:
        return
    last = declaration.layers[-1]
    units = declaration.output_shapes()[-1][-1]
    raise DeclarationError(
        f"the model ends in {activation} ('{last.describe()}'), which can be 0 or negative, so "
        "it cannot give the class probabilities the cross-entropy needs; end with "
        f"'dense {units} softmax' (or 'dense {units}' for logits), or use --loss mse",
        line=last.line or None,
        column=last.column or None,
    )


def identity_changes(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What differs between two plan identities (``TrainingPlan.identity``), as the words of
    a note: ``["epochs 1 -> 2", "body"]``; empty when they train the same. A ``sample`` of
    None in ``wanted`` (unknown before the data is loaded) is not compared."""
    changes = []
    for key, value in wanted.items():
        old = stored.get(key, "unrecorded")
        if old == value or (key == "sample" and value is None):
            continue
        if key == "body":
            changes.append("body")
        elif key == "sample":
            changes.append("data sample -> full" if old else "data full -> sample")
        else:
            changes.append(f"{key} {old} -> {value}")
    return changes


#: An exponential moving average weighs its starting value at ``momentum ** updates``; after
#: three time constants (``1 / (1 - momentum)`` updates each) that is e**-3, under this.
SETTLED_WEIGHT = 0.05


def settling_updates(momentum: float) -> int:
    """Updates after which a moving average of ``momentum`` weighs its starting value at
    less than ``SETTLED_WEIGHT``: 299 for Keras' 0.99, 29 for 0.9."""
    return math.ceil(math.log(SETTLED_WEIGHT) / math.log(momentum))


def warmup_steps(total_steps: int, schedule: str = "cosine") -> int:
    """Steps of linear warm-up of a ``cosine`` schedule over ``total_steps`` steps (the
    first 10%) or of a ``one_cycle`` one (the first 30%, as fastai's ``pct_start``); at
    least one, and at least one step left to decay over."""
    share = total_steps * 3 // 10 if schedule == "one_cycle" else total_steps // 10
    return max(1, min(share, total_steps - 1))


#: ``one_cycle``: where the learning rate starts (peak / 25) and ends (peak x 1e-5), as
#: fastai's ``fit_one_cycle`` (``div=25``, ``div_final=1e5``).
ONE_CYCLE_DIVISOR = 25
ONE_CYCLE_END = 1e-5


def schedule_settings(schedule: str, peak: float, total_steps: int) -> dict[str, float | int]:
    """``keras.optimizers.schedules.CosineDecay``'s arguments for a ``cosine`` or
    ``one_cycle`` schedule peaking at ``peak`` over ``total_steps`` steps (> 1)."""
    warmup = warmup_steps(total_steps, schedule)
    one_cycle = schedule == "one_cycle"
    return {
        "initial_learning_rate": peak / ONE_CYCLE_DIVISOR if one_cycle else 0.0,
        "decay_steps": total_steps - warmup,
        **({"alpha": ONE_CYCLE_END} if one_cycle else {}),
        "warmup_target": peak,
        "warmup_steps": warmup,
    }


@dataclass(frozen=True)
class TrainingPlan:
    """What one run trains: the model, and how it is compiled and fitted.

    Attributes:
        declaration: the model, output head included.
        options: the options as the user gave them (recorded in ``run.options``).
        epochs: epochs that run (fast mode lowers them, ``options.fast_limits``).
        train_size: training images used (None: all); fast mode lowers it.
        optimizer: the class in ``keras.optimizers`` (``"Adam"``).
        loss: Keras' loss name: ``"categorical_crossentropy"`` or ``"mean_squared_error"``.
        from_logits: the output layer gives logits (linear or log_softmax), so the
            cross-entropy takes them as such.

    Batches per call into the backend are the backend's to choose, from
    ``options.steps_per_execution`` (``backend.plan_execution``, recorded in
    ``run.execution`` and ``run.plan``).
    """

    declaration: Declaration
    options: TrainingOptions
    epochs: int
    train_size: int | None
    optimizer: str
    loss: str
    from_logits: bool

    @classmethod
    def of(
        cls, declaration: Declaration, options: TrainingOptions, models_in_cell: int = 1
    ) -> TrainingPlan:
        """The plan for ``declaration`` under ``options``, for ``options.data``'s images and
        classes (its head appended if missing); ``models_in_cell``: how many models the cell
        trains (a sweep's points share fast mode's budget).

        Raises:
            DeclarationError: the layers cannot take the data's images, or end in a softmax
                of another size than its classes.
        """
        image_shape, num_classes = data_shape(options.data)
        declaration = declaration.with_input(image_shape).with_head(num_classes)
        epochs, train_size = options.epochs, options.train_size
        if options.fast:
            epochs, train_size = fast_limits(
                epochs, train_size, models_in_cell, declaration.multiply_adds()
            )
        check_output(declaration, options.loss)
        loss = KERAS_LOSSES[options.loss]
        return cls(
            declaration=declaration,
            options=options,
            epochs=epochs,
            train_size=train_size,
            optimizer=OPTIMIZER_CLASSES[options.optimizer],
            loss=loss,
            from_logits=loss == "categorical_crossentropy"
            and declaration.output_activation in LOGIT_OUTPUTS,
        )

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape one batch of images is reshaped to: for MNIST ``(-1, 784)`` for an MLP,
        ``(-1, 28, 28, 1)`` for a CNN (float32 pixels in [0, 1])."""
        return self.declaration.batch_shape

    @property
    def num_classes(self) -> int:
        """The classes of ``options.data``: the output head's units."""
        return data_shape(self.options.data)[1]

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    def total_steps(self, num_fitted: int) -> int:
        """Optimizer steps over all epochs for ``num_fitted`` training images."""
        return -(-num_fitted // self.batch_size) * self.epochs

    def keras_optimizer(self, total_steps: int) -> Any:
        """The Keras optimizer; ``total_steps`` sizes a ``cosine`` or ``one_cycle``
        learning-rate schedule."""
        from nbmnist.backend import import_keras

        keras = import_keras()
        cls = getattr(keras.optimizers, self.optimizer)
        peak = self.options.learning_rate
        if self.options.lr_schedule != "constant" and total_steps > 1:
            if peak is None:
                peak = float(cls().learning_rate.numpy())  # the optimizer's own default
            settings = schedule_settings(self.options.lr_schedule, peak, total_steps)
            return cls(learning_rate=keras.optimizers.schedules.CosineDecay(**settings))
        return cls() if peak is None else cls(learning_rate=peak)

    @property
    def watches(self) -> bool:
        """Early stopping or ``restore_best`` watch ``options.monitor`` (a Keras
        ``EarlyStopping`` joins the callbacks)."""
        return self.options.early_stopping is not None or self.options.restore_best

    def early_stopping_settings(self) -> dict[str, Any]:
        """``keras.callbacks.EarlyStopping``'s arguments for this plan (empty when it does
        not watch): ``restore_best`` without ``early_stopping`` waits all the epochs, so it
        only restores."""
        if not self.watches:
            return {}
        patience = self.options.early_stopping
        return {
            "monitor": self.options.monitor,
            "patience": self.epochs if patience is None else patience,
            "restore_best_weights": self.options.restore_best,
        }

    def keras_callbacks(self) -> list[Any]:
        """The Keras callbacks the plan trains with: an ``EarlyStopping`` when it watches."""
        settings = self.early_stopping_settings()
        if not settings:
            return []
        from nbmnist.backend import import_keras

        return [import_keras().callbacks.EarlyStopping(**settings)]

    def keras_loss(self) -> Any:
        """The Keras loss: a linear output layer produces logits, and the cross-entropy is
        told so (else it would take them as probabilities and train badly, silently)."""
        if self.from_logits:
            from nbmnist.backend import import_keras

            return import_keras().losses.CategoricalCrossentropy(from_logits=True)
        return self.loss

    def caveats(self, steps: int) -> list[str]:
        """Why this model's scores after ``steps`` optimizer steps (one batch each) do not
        represent it, one line each, ``SHORT: what happened and what to do``: batch
        normalization whose moving averages (updated once a batch) saw fewer than
        ``settling_updates`` of their momentum, so the model evaluates with statistics that
        still lean on their starting values (typical of ``bn`` on the bundled sample); fewer
        steps than the model has layers with weights."""
        found = []
        layers = flat_layers(self.declaration.layers)  # a residual block's too
        momenta = [s.effective_momentum for s in layers if isinstance(s, BN)]
        momentum = max(momenta, default=0.0)  # the slowest to settle
        needed = settling_updates(momentum) if momenta else 0
        if steps < needed:
            lower = math.floor(SETTLED_WEIGHT ** (1 / max(steps, 1)) * 100) / 100
            fix = f", or a lower momentum ('bn momentum={lower:g}')" if lower >= 0.5 else ""
            found.append(
                f"batch norm unsettled ({steps} of {needed} updates): its "
                f"moving averages (momentum {momentum:g}) still give their starting values "
                f"{momentum**steps:.0%} of their weight, so the test scores understate the "
                f"model; train on the full data or for more epochs{fix}"
            )
        weighted = sum(isinstance(s, (BN, DenseSpec, ConvSpec)) for s in layers)
        if steps < weighted:
            found.append(
                f"too few steps ({steps} for {weighted} layers with weights): the scores say "
                "little about this model; train on more images or for more epochs"
            )
        return found

    def identity(self, sample: bool | None = None) -> dict[str, Any]:
        """What identifies this plan, for ``run.identity``: the layers after substitution
        (canonical text, output head included), the ``IDENTITY_OPTIONS`` as given, and
        whether the data is the bundled sample (None: not known yet). Two runs with equal
        identities train the same model the same way on the same data: a sweep resumes only
        such a point."""
        options = {name: getattr(self.options, name) for name in IDENTITY_OPTIONS}
        return {**options, "body": self.declaration.describe(), "sample": sample}

    def record(self) -> dict[str, Any]:
        """What ran, for ``run.plan`` (``run.options`` keeps what was asked)."""
        return {
            "epochs": self.epochs,
            "train_size": self.train_size,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "learning_rate": self.options.learning_rate,
            "lr_schedule": self.options.lr_schedule,
            "loss": self.loss,
            "from_logits": self.from_logits,
            "input_shape": list(self.declaration.input_shape),
            "image_shape": list(self.declaration.image_shape),
            "classes": self.num_classes,
            "validation": self.options.validation,
            "validation_split": self.options.validation_split,
            "early_stopping": self.early_stopping_settings() or None,
        }
