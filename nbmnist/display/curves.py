"""Loss and accuracy curves of one run, rendered to PNG on a figure that is built once."""

from __future__ import annotations

import io
from typing import Any

from nbmnist.metric_log import MetricLog

PANELS = (("loss", "loss"), ("accuracy", "accuracy"))


class CurvePlot:
    """Two panels (loss, accuracy): train solid, validation dashed, best validation epoch
    marked. The matplotlib figure and its lines are created once and updated in place; it is
    never registered with pyplot, so it neither leaks nor re-appears at the end of a cell.
    """

    def __init__(self, title: str = "", width: float = 9.0, height: float = 3.0) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.figure = Figure(figsize=(width, height), dpi=80, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.figure.suptitle(title, fontsize=11)
        self._axes = self.figure.subplots(1, 2)
        self._lines: dict[str, Any] = {}
        self._best: list[Any] = []
        for ax, (metric, label) in zip(self._axes, PANELS, strict=True):
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            (self._lines[metric],) = ax.plot([], [], "-", color="C0", label="train")
            (self._lines["val_" + metric],) = ax.plot([], [], "--", color="C1", label="validation")
            self._best.append(
                ax.axvline(0, color="C2", linestyle=":", visible=False, label="best val epoch")
            )
            ax.legend(loc="best", fontsize=8)

    def update(self, log: MetricLog) -> None:
        """Set the curves to ``log``'s history and rescale the axes."""
        epochs = list(range(1, log.epochs + 1))
        for metric, line in self._lines.items():
            values = log.history.get(metric, [])
            line.set_data(epochs[: len(values)], values)
        best = log.best("val_accuracy")
        for marker in self._best:
            marker.set_visible(best is not None)
            if best is not None:
                marker.set_xdata([best[0], best[0]])
        for ax in self._axes:
            ax.relim(visible_only=True)
            ax.autoscale_view()
            ax.set_xlim(0.5, max(log.epochs, 1) + 0.5)

    def to_png(self) -> bytes:
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()
