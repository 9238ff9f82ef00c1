"""``nbmnist.compare()``: choose runs and a metric; one figure of overlaid curves redraws.

Core ipywidgets only (``SelectMultiple``, ``ToggleButtons``, ``HBox``), which ipywidgets 7.7
(Colab) and 8 both have. The figure is a regular display output updated in place (a PNG),
so the last choice stays in the saved notebook where widgets do not render.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbmnist.runs import Run, Runs
from nbmnist.runs import runs as session_runs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS = ("accuracy", "loss")


class Comparison:
    """A run selector and a metric choice over one figure (``plot_history``).

    Args:
        runs: the runs to choose from; None: the session's (``nbmnist.runs()``).
        metric: ``"accuracy"`` or ``"loss"`` to start with.

    Attributes:
        selector: the ``SelectMultiple`` of run names (all chosen to start with).
        metric: the ``ToggleButtons`` of metrics.
        widget: both, side by side.
        png: the figure last drawn, as PNG bytes.

    Raises:
        ValueError: no runs, or an unknown metric.
    """

    def __init__(self, runs: Sequence[Run] | None = None, metric: str = "accuracy") -> None:
        import ipywidgets as widgets

        self.runs = Runs(session_runs() if runs is None else runs)
        if not self.runs:
            raise ValueError("no runs to compare: train some, or pass nbmnist.load_runs()")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        names = self.runs.names()
        self.selector = widgets.SelectMultiple(
            options=names, value=tuple(names), rows=min(8, len(names)), description="runs"
        )
        self.metric = widgets.ToggleButtons(options=list(METRICS), value=metric)
        self.widget = widgets.HBox([self.selector, self.metric])
        self.png = b""
        self._handle: Any = None
        self.selector.observe(self.redraw, names="value")
        self.metric.observe(self.redraw, names="value")
        self.redraw()

    def chosen(self) -> list[Run]:
        """The runs chosen in the selector, in their order."""
        return [self.runs[name] for name in self.selector.value]

    def figure(self) -> Figure | None:
        """The overlaid curves of the chosen runs for the chosen metric (None: no run)."""
        from nbmnist.plots import plot_history

        chosen = self.chosen()
        return plot_history(chosen, str(self.metric.value)) if chosen else None

    def redraw(self, change: Any = None) -> None:
        """Draw the figure for the current choice, in place of the last one."""
        figure = self.figure()
        buffer = io.BytesIO()
        if figure is not None:
            figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        self.png = buffer.getvalue()
        if self._handle is not None:
            self._handle.update(self._image())

    def _image(self) -> Any:
        from IPython.display import HTML, Image

        return Image(self.png) if self.png else HTML("<i>no run chosen</i>")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self._handle = display(self._image(), display_id=True)


def compare(runs: Sequence[Run] | None = None, metric: str = "accuracy") -> Comparison:
    """Compare runs' curves: a run selector and a metric choice over one figure that
    redraws in place; shown when it is a cell's last value (or with ``display``).

    Args:
        runs: the runs; None: the session's (``nbmnist.runs()``, or ``load_runs()``'s).
        metric: ``"accuracy"`` or ``"loss"`` to start with.
    """
    return Comparison(runs, metric)
