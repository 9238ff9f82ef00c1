"""The learning-rate range test: which learning rate to train a declared model with.

Smith (2015, "Cyclical Learning Rates for Training Neural Networks", section 3.3) and
fastai's ``lr_find``: train a fresh copy of the model for a few hundred batches while the
learning rate grows exponentially from tiny to large, and plot the loss against it. The loss
falls fastest somewhere in between; beyond, it blows up. The suggested rate is where the
smoothed loss falls steepest. Nothing is recorded and no model of a run is changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.errors import OptionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nbmnist.declaration import Declaration, Kind
    from nbmnist.runs import Run

#: The exponential moving average that smooths the per-batch losses (fastai's ``beta``).
SMOOTHING = 0.98
#: The test stops once the smoothed loss exceeds this many times its lowest (it diverged).
DIVERGED = 4.0
#: Fast mode's most batches (CI and graders: a smoke test, like its 2 epochs of training).
FAST_STEPS = 60


@dataclass
class LearningRateTest:
    """What a range test measured.

    Attributes:
        name: the run or cell it tested.
        learning_rates: the learning rate of each batch trained (growing exponentially).
        losses: each batch's training loss, as the optimizer saw it before its step.
        smoothed: ``losses`` smoothed (exponential moving average, bias-corrected).
        suggestion: the learning rate where the smoothed loss falls steepest (per factor of
            the learning rate); the one to try with ``--learning-rate``.
    """

    name: str
    learning_rates: list[float]
    losses: list[float]
    smoothed: list[float] = field(default_factory=list)
    suggestion: float = math.nan

    def plot(self) -> Figure:
        """The smoothed loss against the learning rate (log scale), the suggestion marked."""
        from nbmnist.plots import _new_figure

        figure, (axis,) = _new_figure(1, width=6.5, height=3.2)
        axis.plot(self.learning_rates, self.losses, color="C0", alpha=0.25, label="each batch")
        axis.plot(self.learning_rates, self.smoothed, color="C0", label="smoothed")
        axis.axvline(self.suggestion, color="C3", linestyle="--",
                     label=f"steepest fall: {self.suggestion:.2g}")  # fmt: skip
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.set_ylabel("training loss")
        low, high = min(self.smoothed), self.smoothed[0]
        axis.set_ylim(low - 0.1 * (high - low), high + 0.5 * (high - low))
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
        axis.set_title(f"{self.name}: learning-rate range test", fontsize=10)
        figure.tight_layout()
        return figure

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.plot().savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

    def __repr__(self) -> str:
        return (
            f"LearningRateTest({self.name!r}, {len(self.losses)} batches from "
            f"{self.learning_rates[0]:.1e} to {self.learning_rates[-1]:.1e}, suggestion "
            f"{self.suggestion:.2g})"
        )


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """Exponential moving average of ``losses`` with bias correction (Adam's), so the first
    values are not pulled towards 0."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, 1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta**step))
    return smoothed


def diverged(losses: list[float]) -> bool:
    """The test should stop: the last loss is not a number, or the smoothed loss went over
    ``DIVERGED`` times its lowest (fastai's rule)."""
    if not math.isfinite(losses[-1]):
        return True
    smoothed = smooth(losses)
    return smoothed[-1] > DIVERGED * min(smoothed)


def steepest(learning_rates: list[float], smoothed: list[float]) -> float:
    """The learning rate where ``smoothed`` falls fastest per factor of the rate (the most
    negative slope against log(learning rate)), before its lowest point."""
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return learning_rates[lowest]
    slopes = np.gradient(np.asarray(smoothed[: lowest + 1]), np.log(learning_rates[: lowest + 1]))
    return learning_rates[int(np.argmin(slopes))]


def lr_find(
    source: str | Declaration | Run,
    kind: Kind = "mlp",
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 200,
    variables: Mapping[str, object] | None = None,
    **options: Any,
) -> LearningRateTest:
    """Run the learning-rate range test on a fresh copy of a declared model.

    Args:
        source: a cell body, a ``Declaration``, or a ``Run`` (its declaration and options;
            its trained model is not touched).
        kind: ``"mlp"`` or ``"cnn"`` (for a cell body).
        start: the first learning rate (0 < start < end).
        end: the largest learning rate.
        steps: batches to train at most (10 to 10,000; ``FAST_STEPS`` in fast mode); the
            test stops sooner once the loss diverges (``diverged``).
        variables: values for ``{name}`` placeholders.
        **options: training options as ``train`` takes them (``optimizer``, ``batch_size``,
            ``loss``, ``data``, ``train_size``, ``fast``, ``seed``...); ``learning_rate``,
            ``lr_schedule`` and the epochs are the test's own.

    Returns:
        A ``LearningRateTest``: per batch its learning rate and loss, the smoothed losses,
        the suggested rate; shown in a notebook as its plot (``.plot()``).

    Raises:
        OptionError: a bad range or option (before anything is built).
        DeclarationError: the declaration is invalid.
    """
    from nbmnist.backend import import_keras, seed_everything
    from nbmnist.data import data_shape
    from nbmnist.model import as_declaration, build_model
    from nbmnist.options import make_options
    from nbmnist.plan import TrainingPlan
    from nbmnist.runs import Run
    from nbmnist.training import training_data

    if not (0 < start < end) or not all(map(math.isfinite, (start, end))):
        raise OptionError(f"lr_find needs 0 < start < end, got start={start!r}, end={end!r}")
    if not (isinstance(steps, int) and 10 <= steps <= 10_000):
        raise OptionError(f"lr_find's steps must be a whole number, 10 to 10,000, got {steps!r}")
    name = "the cell"
    if isinstance(source, Run):
        name, kind, variables = source.name, source.kind, source.variables  # type: ignore[assignment]
        kept = ("data", "optimizer", "batch_size", "loss", "train_size", "seed")
        options = {**{k: source.options[k] for k in kept if k in source.options}, **options}
        source = source.declaration
    options = {k: v for k, v in options.items() if k not in ("learning_rate", "lr_schedule")}
    opts = make_options(**options)
    declared = as_declaration(source, kind, variables, data_shape(opts.data)[0])
    plan = TrainingPlan.of(declared, opts)
    data = training_data(plan)
    if plan.options.fast:
        steps = min(steps, FAST_STEPS)
    keras = import_keras()
    if plan.options.seed is not None:
        seed_everything(plan.options.seed)
    model = build_model(plan.declaration, num_classes=plan.num_classes)
    growth = (end / start) ** (1 / (steps - 1))
    # the rate of step i is start x growth**i, computed inside the compiled step on every
    # backend (a callback setting it between batches would not reach JAX's compiled state)
    rates = keras.optimizers.schedules.ExponentialDecay(start, decay_steps=1, decay_rate=growth)
    model.compile(
        optimizer=getattr(keras.optimizers, plan.optimizer)(learning_rate=rates),
        loss=plan.keras_loss(),
    )
    per_epoch = data.steps_per_epoch(plan.batch_size)
    found = LearningRateTest(name, [], [])

    class RangeTest(keras.callbacks.Callback):  # type: ignore[name-defined,misc]
        """Reads each batch's loss (Keras logs the epoch's running mean, so a batch's own
        loss is what it moved the mean by) and stops once the loss diverged."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.mean, self.seen = 0.0, 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            mean = float((logs or {})["loss"])
            loss = mean * (self.seen + 1) - self.mean * self.seen
            self.mean, self.seen = mean, self.seen + 1
            found.learning_rates.append(start * growth ** len(found.losses))
            found.losses.append(loss)
            if len(found.losses) >= steps or diverged(found.losses):
                self.model.stop_training = True

    model.fit(
        data.x_train[: data.num_fitted],
        data.y_train[: data.num_fitted],
        batch_size=plan.batch_size,
        epochs=-(-steps // per_epoch),
        verbose=0,
        callbacks=[RangeTest()],
    )
    finite = [i for i, loss in enumerate(found.losses) if math.isfinite(loss)]
    found.learning_rates = [found.learning_rates[i] for i in finite]
    found.losses = [found.losses[i] for i in finite]
    found.smoothed = smooth(found.losses)
    found.suggestion = steepest(found.learning_rates, found.smoothed)
    keras.backend.clear_session()
    return found
