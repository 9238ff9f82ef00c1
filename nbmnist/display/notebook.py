"""The live dashboard: one widget block per run, built once and updated in place.

Only core ipywidgets (HTML, IntProgress, Image, VBox), so it works in JupyterLab, Notebook 7,
VS Code and Colab without a custom widget manager. The cell is never cleared: the user's own
output before and after training stays. When training ends the final curves and a text line
are also emitted as ordinary outputs (PNG + text), so the saved notebook, its HTML export and
a grader see them without a running kernel.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from nbmnist.display.curves import CurvePlot
from nbmnist.display.text import (
    backend_text,
    caveat_summary,
    duration,
    final_line,
    metrics_line,
    opening_lines,
)

if TYPE_CHECKING:
    from nbmnist.display import TrainingInfo
    from nbmnist.metric_log import MetricLog
    from nbmnist.runs import Run

#: At most this many redraws of the curves per second; the last epoch is always drawn.
MAX_REDRAWS_PER_SECOND = 4.0
#: How often the batch progress within an epoch is read (seconds).
BATCH_POLL_SECONDS = 0.25


class LiveDashboard:
    """Header, epoch progress bar with elapsed time and ETA, batch progress within the
    epoch, curves, latest metrics."""

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.header = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="epoch")
        self.status = widgets.HTML()
        self.batch = widgets.IntProgress(value=0, min=0, max=1, description="batch")
        self.batch_label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.metrics = widgets.HTML()
        self.widget = widgets.VBox(
            [
                self.header,
                widgets.HBox([self.progress, self.status]),
                widgets.HBox([self.batch, self.batch_label]),
                self.image,
                self.metrics,
            ]
        )
        self._batch_progress: Callable[[], tuple[int, int]] | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.redraws = 0
        self._plot: CurvePlot | None = None
        self._started = 0.0
        self._last_draw = 0.0
        self._drawn_epochs = -1
        self._epochs = 0

    def run_started(self, info: TrainingInfo) -> None:
        from IPython.display import display

        self._epochs = info.epochs
        self.progress.max = info.epochs
        self._started = time.perf_counter()
        self._plot = CurvePlot(
            f"{info.name} · {info.data_title}", epochs=info.epochs, validation=info.validation
        )
        sample = ""
        if info.is_sample:
            sample = (
                '<div style="background:#fff3cd;padding:2px 6px">Training on the '
                f"<b>bundled sample</b>: {html.escape(info.data_source)}. Results are not "
                "comparable to full-data results.</div>"
            )
        self.header.value = (
            f"<b>{html.escape(info.name)}</b> · {info.kind} · {info.num_params:,} params · "
            f"{html.escape(info.data_title)}, {info.num_train:,} training images, validation: "
            f"{info.validation} · {html.escape(backend_text(info))}{sample}"
        )
        self.status.value = f"0/{info.epochs} · starting"
        self._batch_progress = info.batch_progress
        if info.batch_progress is not None:
            self._poller = threading.Thread(target=self._poll, name="nbmnist-batches", daemon=True)
            self._poller.start()
        # Text too, so a saved notebook shows what ran even where widgets do not render.
        print("\n".join(opening_lines(info)))
        display(self.widget)

    def poll_batches(self) -> None:
        """Show how far the current epoch is (read from the training loop's step counter)."""
        if self._batch_progress is None:
            return
        done, total = self._batch_progress()
        if total:
            self.batch.max = total
            self.batch.value = done
            self.batch_label.value = f"{done}/{total}"

    def _poll(self) -> None:
        # Widget updates from this thread go out on the kernel's thread-safe IOPub channel.
        while not self._stop.wait(BATCH_POLL_SECONDS):
            try:
                self.poll_batches()
            except Exception:  # the model may be half torn down at the end: stop quietly
                return

    def close(self) -> None:
        """Stop the batch poller (training ended, or failed)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=2)
            self._poller = None

    def epoch_completed(self, log: MetricLog) -> None:
        elapsed = time.perf_counter() - self._started
        self.progress.value = log.epochs
        remaining = self._epochs - log.epochs
        eta = elapsed / log.epochs * remaining
        self.status.value = (
            f"{log.epochs}/{self._epochs} · {duration(elapsed)} elapsed · ETA {duration(eta)}"
        )
        self.metrics.value = f"epoch {log.epochs}: {html.escape(metrics_line(log.last()))}"
        now = time.perf_counter()
        if remaining == 0 or now - self._last_draw >= 1.0 / MAX_REDRAWS_PER_SECOND:
            self._redraw(log)

    def _redraw(self, log: MetricLog) -> None:
        assert self._plot is not None
        self._plot.update(log)
        self.image.value = self._plot.to_png()
        self.redraws += 1
        self._drawn_epochs = log.epochs
        self._last_draw = time.perf_counter()

    def run_finished(self, run: Run) -> None:
        from IPython.display import Image, display

        from nbmnist.metric_log import MetricLog

        self.close()
        log = MetricLog(run.history, run.epoch_seconds)
        marked = run.stopped_epoch is not None or run.kept_epoch is not None
        if self._plot is not None and marked:
            self._plot.mark_end(run.stopped_epoch, run.kept_epoch)
        if self._plot is not None and run.caveats:
            self._plot.note([caveat_summary(caveat) for caveat in run.caveats])
            self._redraw(log)
        elif self._plot is not None and (marked or self._drawn_epochs != log.epochs):
            self._redraw(log)  # the guaranteed final redraw
        self.progress.value = log.epochs
        self.progress.bar_style = {"completed": "success", "interrupted": "warning"}.get(
            run.status, "danger"
        )
        if run.status == "completed":
            self.batch.value = self.batch.max
            self.batch_label.value = f"{self.batch.max}/{self.batch.max}"
            state = "stopped early" if run.stopped_epoch is not None else "completed"
            if run.kept_epoch is not None:
                state += f", weights of epoch {run.kept_epoch} kept"
        elif run.status == "interrupted":
            state = f"interrupted at epoch {log.epochs + 1}"
        else:
            state = f"diverged (loss is NaN) at epoch {log.epochs}"
        self.status.value = f"{log.epochs}/{self._epochs} · {state}"
        # The static copy below replaces the live image in the saved notebook.
        self.image.layout.display = "none"
        if self._plot is not None:
            display(Image(self._plot.to_png()))
        print(final_line(run))
