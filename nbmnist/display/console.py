"""Progress as plain text, one line per epoch: for IPython in a terminal, scripts, CI logs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from nbmnist.display.text import duration, final_line, header_line, metrics_line

if TYPE_CHECKING:
    from nbmnist.display import TrainingInfo
    from nbmnist.metric_log import MetricLog
    from nbmnist.runs import Run


class ConsoleDisplay:
    """Writes a header, one line per epoch and a closing line to ``stream`` (stdout)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._name = ""
        self._epochs = 0

    def _print(self, text: str) -> None:
        print(text, file=self._stream or sys.stdout, flush=True)

    def on_train_begin(self, info: TrainingInfo) -> None:
        self._name, self._epochs = info.name, info.epochs
        self._print(header_line(info))
        if info.summary:
            self._print(info.summary)
        if info.is_sample:
            self._print(f"NOTE: training on the {info.data_source}")

    def on_epoch_end(self, log: MetricLog) -> None:
        self._print(
            f"{self._name} epoch {log.epochs}/{self._epochs} - "
            f"{duration(log.epoch_seconds[-1])} - {metrics_line(log.last())}"
        )

    def on_train_end(self, run: Run) -> None:
        self._print(final_line(run))
