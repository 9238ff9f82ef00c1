"""What every benchmark of the suite shares: a clock for epochs, the machine it ran on,
alternating measurements and a resident-memory reading.

pytest-benchmark runs the suite (``bench/conftest.py``: its fixtures, the machine
description added to each results file); this module holds what pytest-benchmark does not
know about Keras and what ``bench/gpu.py`` needs too, where no pytest is installed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Where the full datasets are looked for when ``NBMNIST_DATA`` is not set: the project's
#: machines keep them beside the repository.
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")


def epoch_clock(test_data: tuple[Any, Any] | None = None, called_at: float | None = None) -> Any:
    """A Keras callback that times each epoch: ``.epochs`` wall seconds, ``.cpu`` this
    process's CPU seconds, ``.ends`` seconds from the start of ``fit`` to each epoch's end
    (and ``.ends_from_call`` from ``called_at``, a ``time.perf_counter()`` reading taken
    before the model was built). With ``test_data`` (images, one-hot labels) it evaluates the
    test set after each epoch with the clock paused, for the measurement only:
    ``.test_accuracy`` per epoch; ``.val_accuracy`` holds the logs' validation accuracy."""
    import keras

    class EpochClock(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[float] = []
            self.cpu: list[float] = []
            self.ends: list[float] = []
            self.ends_from_call: list[float] = []
            self.test_accuracy: list[float] = []
            self.val_accuracy: list[float] = []
            self.paused = 0.0

        def on_train_begin(self, logs: Any = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.began = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            self.epochs.append(now - self.began[0])
            self.cpu.append(time.process_time() - self.began[1])
            self.ends.append(now - self.started - self.paused)
            if called_at is not None:
                self.ends_from_call.append(now - called_at - self.paused)
            self.val_accuracy.append(float((logs or {}).get("val_accuracy", float("nan"))))
            if test_data is not None:
                scores = self.model.evaluate(
                    *test_data, batch_size=1000, verbose=0, return_dict=True
                )
                self.test_accuracy.append(float(scores["accuracy"]))
            self.paused += time.perf_counter() - now

        def first_reaching(self, accuracy: float) -> float | None:
            """Seconds from the start of ``fit`` to the end of the first epoch whose test
            accuracy is at least ``accuracy``; None if none was."""
            reached = (
                end for end, a in zip(self.ends, self.test_accuracy, strict=True) if a >= accuracy
            )
            return next(reached, None)

        def steady_epoch(self) -> tuple[float, float]:
            """Median wall and CPU seconds of the epochs after the first (which holds the
            tracing or compilation)."""
            return statistics.median(self.epochs[1:]), statistics.median(self.cpu[1:])

    return EpochClock()


def alternate(rounds: int, sides: Mapping[str, Callable[[], T]]) -> dict[str, list[T]]:
    """Each side measured once a round, in the given order on even rounds and reversed on
    odd ones, so neither gains by going first: ``{side: [result per round]}``."""
    results: dict[str, list[T]] = {name: [] for name in sides}
    for round_ in range(rounds):
        names = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
        for name in names:
            results[name].append(sides[name]())
    return results


def timed(function: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def rss_mb() -> float:
    """This process's resident memory, MiB."""
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


def machine() -> dict[str, Any]:
    """The machine and software a result came from: processor, cores, memory (GiB), Python,
    the Keras backend and version, the device it trains on. Keras is imported here."""
    import psutil

    from nbmnist import backend

    keras = backend.import_keras()
    return {
        "processor": _processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "device": backend.device_name(),
    }


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def full_data() -> str | None:
    """The folder of the full datasets: ``NBMNIST_DATA``, else the project machines'
    ``../shared/data`` where it exists; None where neither is (nbmnist then looks in the
    Keras cache and falls back to its bundled sample, which the benchmarks refuse)."""
    found = os.environ.get("NBMNIST_DATA") or (SHARED_DATA if os.path.isdir(SHARED_DATA) else None)
    if found:
        os.environ["NBMNIST_DATA"] = found
    return found


@dataclass
class Result:
    """What one benchmark measured: table rows (column title: value; numbers as measured,
    formatted by ``tools/bench_tables.py``) and notes printed under the table (targets,
    what the rows mean)."""

    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    #: the Keras backend the figures come from, where not the suite's own process's (a
    #: measurement run in a process of its own on another backend)
    backend: str | None = None

    def markdown(self) -> str:
        """The rows as a Markdown table, the notes under it."""
        columns: list[str] = []
        for row in self.rows:
            columns += [key for key in row if key not in columns]
        lines = [
            "| " + " | ".join(columns) + " |",
            "|" + " --- |" * len(columns),
            *("| " + " | ".join(number(row.get(c)) for c in columns) + " |" for row in self.rows),
        ]
        return "\n".join(lines + (["", *self.notes] if self.notes else [])) + "\n"

    def to_json(self) -> str:
        return json.dumps({"rows": self.rows, "notes": self.notes, "backend": self.backend})

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        return cls(data["rows"], data["notes"], data.get("backend"))


def number(value: Any) -> str:
    """A measured value as a table shows it: integers with thousands separators, floats to
    about three significant figures (four below 1: accuracies), text as it is."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        size = abs(value)
        if size >= 100:
            return f"{value:,.0f}"
        if size >= 10:
            return f"{value:.1f}"
        if size >= 1 or size == 0:
            return f"{value:.2f}"
        return f"{value:.4g}"
    return str(value)


def child(module: str, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run a benchmark module as a program in a fresh process (``python -m MODULE ARGS`` from
    the repository's root: a backend of its own, empty caches) and read the Result its last
    line prints."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return Result.from_json(done.stdout.strip().splitlines()[-1])
