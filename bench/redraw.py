"""Redraw cost of the live dashboard vs livelossplot's PlotLossesKeras, side by side.

Usage:
    .venv/bin/python bench/redraw.py [--repeat 15]      # needs: pip install livelossplot

Both run in one IPython shell with the inline backend, as in a notebook kernel, so
livelossplot's plt.show() really renders its PNG. For each history length (10, 100, 1,000
epochs of the same synthetic loss/accuracy history) it times, interleaved:
- nbmnist: one dashboard redraw (``LiveDashboard._redraw``: curves updated, PNG encoded and
  handed to the ``ipywidgets.Image``), the redraw a throttled epoch end triggers;
- livelossplot: one ``PlotLossesKeras.on_epoch_end`` for the last epoch (update + ``send``:
  clear_output, new figure, draw, show).
Prints a Markdown table of medians. Target (issue 4): <= 20 ms at every length and at least
10x below livelossplot.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import time

from IPython.testing.globalipapp import start_ipython

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    shell = start_ipython()
    shell.run_line_magic("matplotlib", "inline")

    from livelossplot import PlotLossesKeras

    from nbmnist.display.notebook import LiveDashboard
    from nbmnist.metric_log import MetricLog
    from nbmnist.training import TrainingInfo

    print(
        "| epochs in history | nbmnist redraw, median (ms) "
        "| livelossplot redraw, median (ms) | ratio |"
    )
    print("| --- | --- | --- | --- |")
    sink = io.StringIO()
    for n in LENGTHS:
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
        for _ in range(args.repeat):
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
        print(f"| {n:,} | {a:.1f} | {b:.1f} | {b / a:.0f}x |")


if __name__ == "__main__":
    main()
