"""What does a redraw of the live dashboard cost, against livelossplot's PlotLossesKeras?

    make bench BENCH=bench/display/test_redraw.py      (needs livelossplot: the bench extra)

Both run in one IPython shell with the inline backend, as in a notebook kernel, so
livelossplot's plt.show() really renders its PNG. For each history length (10, 100, 1,000
epochs of the same synthetic loss/accuracy history) it times, interleaved:
- nbmnist: one dashboard redraw (``LiveDashboard._redraw``: curves updated, PNG encoded and
  handed to the ``ipywidgets.Image``), the redraw a throttled epoch end triggers;
- livelossplot: one ``PlotLossesKeras.on_epoch_end`` for the last epoch (update + ``send``:
  clear_output, new figure, draw, show).
Target (issue 4): <= 20 ms at every length and at least 10x below livelossplot.
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
from typing import Any

import pytest

from bench.harness import Result

REPEAT = 15
LENGTHS = (10, 100, 1000)


def history(n: int) -> list[dict[str, float]]:
    rows = []
    for epoch in range(n):
        loss = 2.0 * math.exp(-epoch / max(n / 5, 1)) + 0.05 + 0.01 * math.sin(epoch)
        rows.append(
            {
                "loss": loss,
                "accuracy": 1 - loss / 3,
                "val_loss": loss + 0.05,
                "val_accuracy": 1 - loss / 3 - 0.02,
            }
        )
    return rows


def measure(n: int) -> Result:
    from livelossplot import PlotLossesKeras

    from nbmnist.display.notebook import LiveDashboard
    from nbmnist.metric_log import MetricLog
    from nbmnist.training import TrainingInfo

    sink = io.StringIO()
    rows = history(n)
    info = TrainingInfo("bench", "mlp", 1, n, "MNIST", "bench", False, "CPU", "", 1, "split")
    dashboard = LiveDashboard()
    log = MetricLog()
    with contextlib.redirect_stdout(sink):
        dashboard.run_started(info)
        for row in rows:
            log.append(row, 1.0)
        dashboard._redraw(log)  # first draw builds the static part
        baseline = PlotLossesKeras()
        for epoch, row in enumerate(rows[:-1]):
            baseline.liveplot.update(dict(row), epoch)
    ours, theirs = [], []
    for _ in range(REPEAT):
        with contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            dashboard._redraw(log)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            baseline.on_epoch_end(n - 1, dict(rows[-1]))
            theirs.append(time.perf_counter() - start)
        sink.seek(0)
        sink.truncate()
    a, b = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    return Result(
        [
            {
                "epochs in history": n,
                "nbmnist redraw, median (ms)": a,
                "livelossplot redraw, median (ms)": b,
                "livelossplot / nbmnist": b / a,
            }
        ],
        [f"Medians of {REPEAT}. Target: <= 20 ms and >= 10x below livelossplot."]
        if n == LENGTHS[-1]
        else [],
    )


@pytest.mark.benchmark(group="redraw")
@pytest.mark.parametrize("n", LENGTHS)
def test_a_redraw_against_livelossplot(measured: Any, shell: Any, n: int) -> None:
    measured(lambda: measure(n))
