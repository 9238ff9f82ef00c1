"""The per-epoch record of a training run: pure data, no plotting, no Keras."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Metrics that are better when higher; everything else (losses) is better when lower.
HIGHER_IS_BETTER = ("accuracy",)
#: What the ``val_`` curves are called, by what validates (the ``validation`` option).
VALIDATION_LABELS = {"split": "validation", "test": "validation (test set)"}


@dataclass
class MetricLog:
    """Metrics after each epoch, under Keras' names (``loss``, ``accuracy``, ``val_loss``, ...).

    Attributes:
        history: metric name -> one float per completed epoch, in epoch order.
        epoch_seconds: wall time of each completed epoch, in seconds.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.epoch_seconds)

    def append(self, logs: Mapping[str, float], seconds: float) -> None:
        """Record one completed epoch: its metrics and its wall time in seconds."""
        for name, value in logs.items():
            self.history.setdefault(name, [math.nan] * self.epochs).append(float(value))
        self.epoch_seconds.append(float(seconds))
        for values in self.history.values():  # a metric missing this epoch stays aligned
            if len(values) < self.epochs:
                values.append(math.nan)

    def last(self) -> dict[str, float]:
        """The latest epoch's metrics (empty before the first epoch)."""
        return {name: values[-1] for name, values in self.history.items() if values}

    def best(self, metric: str = "val_accuracy") -> tuple[int, float] | None:
        """(1-based epoch, value) where ``metric`` was best, or None if never recorded.

        Accuracy-like metrics are best when highest, losses when lowest; NaN never wins.
        """
        values = self.history.get(metric, [])
        finite = [(value, epoch) for epoch, value in enumerate(values, 1) if math.isfinite(value)]
        if not finite:
            return None
        higher = any(metric.endswith(name) for name in HIGHER_IS_BETTER)
        value, epoch = (max if higher else min)(finite, key=lambda pair: pair[0])
        return epoch, value

    def diverged(self) -> bool:
        """True when the latest training loss is NaN or infinite."""
        loss = self.history.get("loss", [])
        return bool(loss) and not math.isfinite(loss[-1])
