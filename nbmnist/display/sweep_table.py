"""The live table of a sweep: one row per point, redrawn in place as its trainers report
(``nbmnist.sweeps.events``), and the curves of the point that finished last."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbmnist.display.text import caveat_summary
from nbmnist.sweeps.events import EpochEnded, Started, SweepEvent

if TYPE_CHECKING:
    from nbmnist.runs import Run

#: Seconds between redraws of the live table (a point's epochs may come faster).
REDRAW_S = 0.5


class SweepTable:
    """The live table of a sweep: one row per point and its state (queued, epoch k of n,
    completed, failed: reason...), redrawn in place in a notebook; in a terminal one line per
    point that ends. Under it, in a notebook, the curves of the point that finished last.
    """

    COLUMNS = ("point", "state", "val accuracy", "test accuracy")

    def __init__(self, name: str, names: Sequence[str], where: str, live: bool) -> None:
        self.name, self.where = name, where
        self.states = dict.fromkeys(names, "queued")
        self.epochs: dict[str, int] = {}
        self.val_accuracy: dict[str, float] = {}
        self.test_accuracy: dict[str, float] = {}
        self.live = live  # in a notebook: redrawn in place; else a line per point
        self._handle: Any = None
        self._curves: Any = None
        self._drawn = 0.0

    def finished(self) -> int:
        return sum(
            state != "queued" and not state.startswith("epoch") for state in self.states.values()
        )

    def event(self, name: str, event: SweepEvent) -> None:
        """A point's trainer reported ``event`` (``nbmnist.sweeps.events``)."""
        if isinstance(event, Started):
            self.epochs[name] = event.epochs
            self.states[name] = f"epoch 0 of {event.epochs}"
        elif isinstance(event, EpochEnded):
            self.states[name] = f"epoch {event.epoch} of {self.epochs.get(name, '?')}"
            if "val_accuracy" in event.metrics:
                self.val_accuracy[name] = float(event.metrics["val_accuracy"])
        self.draw()

    def kept(self, name: str, run: Run) -> None:
        """A point completed by an earlier run of the cell (resumed, not trained again)."""
        self.states[name] = "completed before"
        self._note_scores(name, run)

    def _note_scores(self, name: str, run: Run) -> None:
        best = run.best_epoch("val_accuracy")
        if best is not None:
            self.val_accuracy[name] = best[1]
        if run.test_accuracy is not None:
            self.test_accuracy[name] = run.test_accuracy

    def point_done(self, name: str, state: str, run: Run | None, reason: str = "") -> None:
        """A point ended: ``state`` with its ``run`` as stored (None: nothing stored)."""
        self.states[name] = f"{state}: {reason}" if reason else state
        if run is not None:
            self._note_scores(name, run)
        if not self.live:
            scores = self._scores(name)
            print(f"{name}: {self.states[name]}" + (f" · {scores}" if scores else ""))
        self.draw(force=True)
        if self.live and run is not None and run.epochs:
            self._draw_curves(run)

    def _scores(self, name: str) -> str:
        parts = []
        if name in self.val_accuracy:
            parts.append(f"best val_accuracy {self.val_accuracy[name]:.4f}")
        if name in self.test_accuracy:
            parts.append(f"test_accuracy {self.test_accuracy[name]:.4f}")
        return " · ".join(parts)

    def table(self) -> Any:
        from prettytable import PrettyTable

        table = PrettyTable(list(self.COLUMNS))
        for name, state in self.states.items():
            val, test = self.val_accuracy.get(name), self.test_accuracy.get(name)
            table.add_row(
                [
                    name,
                    state,
                    "" if val is None else f"{val:.4f}",
                    "" if test is None else f"{test:.4f}",
                ]
            )
        table.align = "l"
        table.title = (
            f"{self.name}: {self.finished()} of {len(self.states)} points done · {self.where}"
        )
        return table

    def draw(self, force: bool = False) -> None:
        """Redraw the table in place (notebooks only; at most every ``REDRAW_S``)."""
        if not self.live or (not force and time.monotonic() - self._drawn < REDRAW_S):
            return
        from IPython.display import HTML, display

        html = HTML(self.table().get_html_string())
        if self._handle is None:
            self._handle = display(html, display_id=True)
        else:
            self._handle.update(html)
        self._drawn = time.monotonic()

    def _draw_curves(self, run: Run) -> None:
        """The dashboard's curves (``CurvePlot``) of ``run``, as a static PNG in place."""
        from IPython.display import Image, display

        from nbmnist.display.curves import CurvePlot
        from nbmnist.metric_log import MetricLog

        validation = str(run.options.get("validation", "split"))
        plot = CurvePlot(f"last finished: {run.name}", max(run.epochs, 1), validation=validation)
        plot.note([caveat_summary(caveat) for caveat in run.caveats])
        plot.update(MetricLog(run.history, run.epoch_seconds))
        image = Image(plot.to_png())
        if self._curves is None:
            self._curves = display(image, display_id=True)
        else:
            self._curves.update(image)
