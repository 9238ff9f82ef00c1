"""Loss and accuracy curves of one run, rendered to PNG cheaply enough to redraw every epoch.

A full matplotlib draw of this figure and a PNG encode is costly next to a small model's
epoch (``bench/display/test_redraw.py``, docs/performance.md). Most of that is the static
part (axes, ticks, labels, legend), which only changes when an axis limit does. So the limits
are chosen to change rarely (x: the planned number of epochs; y: rounded up to a "nice" number with
headroom), the static part is drawn once per limit change and kept as a pixel buffer, and
each redraw restores that buffer, draws only the line artists onto it (blitting) and encodes
the result with a fast PNG setting.
"""

from __future__ import annotations

import io
import math
from typing import Any

from nbmnist.metric_log import VALIDATION_LABELS, MetricLog

PANELS = (("loss", "loss"), ("accuracy", "accuracy"))


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7 x 10^k that is >= ``value`` (> 0)."""
    exponent = math.floor(math.log10(value))
    for step in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0):
        if step * 10**exponent >= value:
            return step * 10**exponent
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


class CurvePlot:
    """Two panels (loss, accuracy): train solid, validation dashed, best validation epoch
    marked. Built once, redrawn by blitting; never registered with pyplot, so it neither
    leaks nor re-appears at the end of a cell.

    Args:
        title: figure title, e.g. ``relu_2h · MNIST``.
        epochs: planned number of epochs (the x axis is fixed to it while it suffices).
        validation: what validates (``split``, ``test``, ``none``): on the test set the
            dashed curve is labelled so.
    """

    def __init__(
        self, title: str = "", epochs: int = 10, width: float = 9.0, validation: str = "split"
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        self.figure = Figure(figsize=(width, 3.3), dpi=80, layout="constrained")
        self.canvas = FigureCanvasAgg(self.figure)
        self._title = title
        self.figure.suptitle(title, fontsize=11)
        self._axes = self.figure.subplots(1, 2)
        self._lines: dict[str, Any] = {}
        self._best: list[Any] = []
        for ax, (metric, label) in zip(self._axes, PANELS, strict=True):
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            for name, style, colour, text in (
                (metric, "-", "C0", "train"),
                ("val_" + metric, "--", "C1", VALIDATION_LABELS.get(validation, "validation")),
            ):
                # a marker on each epoch: after the first, a curve is a single point
                (line,) = ax.plot(
                    [], [], style, color=colour, label=text, animated=True, marker="o", markersize=3
                )
                self._lines[name] = line
            marker = ax.axvline(0, color="C2", linestyle=":", label="best val epoch")
            marker.set_animated(True)
            self._best.append(marker)
        # one legend under both panels: placed inside, it was placed before the (animated)
        # curves existed and covered the accuracy curve as it rose
        self.figure.legend(
            *self._axes[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncol=3,
            fontsize=8,
            frameon=False,
        )
        for marker in self._best:
            marker.set_visible(False)  # after the legend, which copies its style
        self._epochs = max(int(epochs), 1)
        self._limits: tuple[float, ...] | None = None
        self._background: Any = None
        self.full_draws = 0  # how often the static part was redrawn (for tests and benches)

    def note(self, lines: list[str]) -> None:
        """Show ``lines`` (a run's caveats, in short) under the title; drawn with the static
        part on the next ``update``."""
        if lines:
            self.figure.suptitle(
                "\n".join([self._title, *lines]), fontsize=10, color="darkred", wrap=True
            )
            self._limits = None  # the static part is drawn again

    def mark_end(self, stopped: int | None, kept: int | None) -> None:
        """Mark on both panels the epoch after which early stopping ended training
        (``stopped``) and the epoch whose weights the model kept (``kept``); drawn with the
        static part on the next ``update``."""
        for ax in self._axes:
            if stopped is not None:
                ax.axvline(stopped, color="0.4", linestyle="--", linewidth=1)
                ax.annotate("stopped", (stopped, 1), xycoords=("data", "axes fraction"),
                            xytext=(3, -10), textcoords="offset points", fontsize=8,
                            color="0.3")  # fmt: skip
            if kept is not None:
                ax.axvline(kept, color="C2", linewidth=1.5)
                ax.annotate("kept", (kept, 0), xycoords=("data", "axes fraction"),
                            xytext=(3, 4), textcoords="offset points", fontsize=8,
                            color="C2")  # fmt: skip
        self._limits = None  # the static part is drawn again

    def _wanted_limits(self, log: MetricLog) -> tuple[float, ...]:
        while log.epochs > self._epochs:
            self._epochs *= 2
        losses = [
            v
            for name in ("loss", "val_loss")
            for v in log.history.get(name, [])
            if math.isfinite(v) and v > 0
        ]
        accuracies = [
            v
            for name in ("accuracy", "val_accuracy")
            for v in log.history.get(name, [])
            if math.isfinite(v)
        ]
        loss_top = _nice_ceiling(max(losses) * 1.05) if losses else 1.0
        lowest = min(accuracies) if accuracies else 0.0
        accuracy_bottom = max(0.0, math.floor(lowest * 10 - 0.25) / 10)
        return (0.5, self._epochs + 0.5, 0.0, loss_top, accuracy_bottom, 1.0)

    def _draw_static(self, limits: tuple[float, ...]) -> None:
        x0, x1, loss0, loss1, acc0, acc1 = limits
        loss_ax, accuracy_ax = self._axes
        for ax in self._axes:
            ax.set_xlim(x0, x1)
        loss_ax.set_ylim(loss0, loss1)
        accuracy_ax.set_ylim(acc0, acc1 + 0.005)
        self.canvas.draw()  # animated artists are left out of a full draw
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._limits = limits
        self.full_draws += 1

    def update(self, log: MetricLog) -> None:
        """Set the curves to ``log``'s history and redraw them (the static part only when an
        axis limit changes)."""
        epochs = list(range(1, log.epochs + 1))
        for metric, line in self._lines.items():
            values = log.history.get(metric, [])
            line.set_data(epochs[: len(values)], values)
        best = log.best("val_accuracy")
        for marker in self._best:
            marker.set_visible(best is not None)
            if best is not None:
                marker.set_xdata([best[0], best[0]])
        limits = self._wanted_limits(log)
        if limits != self._limits:
            self._draw_static(limits)
        else:
            self.canvas.restore_region(self._background)
        for artist in [*self._lines.values(), *self._best]:
            artist.axes.draw_artist(artist)

    def to_png(self) -> bytes:
        """The figure as it was last drawn by ``update``, as PNG bytes."""
        from PIL import Image

        if self._background is None:
            self.update(MetricLog())
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw")
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()
