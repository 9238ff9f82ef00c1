"""The record of a training run, and the session's registry of runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nbmnist.metric_log import MetricLog

Status = Literal["completed", "interrupted", "diverged"]


@dataclass
class Run:
    """One trained model and everything needed to report on it.

    Attributes:
        name: unique name in the session (also the variable a magic binds it to).
        kind: ``"mlp"`` or ``"cnn"``.
        declaration: the cell body as written.
        options: the training options used (snake_case names, as ``nbmnist.train`` takes).
        history: per-epoch metrics, Keras' names: ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy`` (validation entries only when validating); one float per epoch.
        test_loss: loss on the test set after training (None if not evaluated).
        test_accuracy: accuracy in [0, 1] on the test set (None if not evaluated).
        num_params: total parameters; ``num_non_trainable_params`` the BatchNorm statistics.
        wall_time_s: seconds from the start of ``fit`` to the end of the test evaluation.
        data_source: where the data came from; names the bundled sample when it was used.
        uses_sample: trained on the bundled sample, not the full dataset.
        status: ``completed``, ``interrupted`` (Ctrl-C) or ``diverged`` (loss became NaN).
        architecture: short description, e.g. ``dense 430-322-10``.
        uses_batchnorm: the model has BatchNormalization layers.
        dropout_rates: distinct dropout rates, in order of use.
        head_appended: nbmnist appended the output layer ``dense 10 softmax``.
        model: the trained ``keras.Model``.
    """

    name: str
    kind: str
    declaration: str
    options: dict[str, Any]
    history: dict[str, list[float]]
    test_loss: float | None
    test_accuracy: float | None
    num_params: int
    wall_time_s: float
    data_source: str
    status: Status
    uses_sample: bool = False
    architecture: str = ""
    uses_batchnorm: bool = False
    dropout_rates: tuple[float, ...] = ()
    head_appended: bool = False
    num_non_trainable_params: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.history.get("loss", []))

    def best_epoch(self, metric: str = "val_accuracy") -> tuple[int, float] | None:
        """(1-based epoch, value) of the best ``metric`` (highest accuracy, lowest loss)."""
        return MetricLog(self.history, self.epoch_seconds).best(metric)

    def __repr__(self) -> str:
        accuracy = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return (
            f"Run({self.name!r}, {self.kind}, {self.architecture}, {self.num_params:,} params, "
            f"{self.epochs} epochs, test_accuracy={accuracy}, status={self.status!r})"
        )


_RUNS: dict[str, Run] = {}


def record(run: Run) -> None:
    """Add ``run`` to the session's runs; a run of the same name is replaced."""
    _RUNS.pop(run.name, None)
    _RUNS[run.name] = run


def runs() -> list[Run]:
    """The session's runs, in the order they were recorded."""
    return list(_RUNS.values())


def next_name(prefix: str) -> str:
    """The first of ``prefix_1``, ``prefix_2``, ... not yet used in this session."""
    number = 1
    while f"{prefix}_{number}" in _RUNS:
        number += 1
    return f"{prefix}_{number}"


def clear() -> None:
    """Forget the session's runs (the models stay wherever else they are referenced)."""
    _RUNS.clear()
