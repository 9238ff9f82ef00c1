"""Progress as plain text, one line per epoch: for IPython in a terminal, scripts, CI logs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from nbmnist.display.text import duration, final_line, metrics_line, opening_lines

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

    def run_started(self, info: TrainingInfo) -> None:
        self._name, self._epochs = info.name, info.epochs
        self._print("\n".join(opening_lines(info)))

    def epoch_completed(self, log: MetricLog) -> None:
        self._print(
            f"{self._name} epoch {log.epochs}/{self._epochs} - "
            f"{duration(log.epoch_seconds[-1])} - {metrics_line(log.last())}"
        )

    def run_finished(self, run: Run) -> None:
        self._print(final_line(run))
