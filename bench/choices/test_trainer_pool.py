"""Trainer processes for sweep points: nbmnist's own (``nbmnist.sweeps.trainer``) against the
standard library's ``ProcessPoolExecutor(max_tasks_per_child=...)`` and loky's reusable
executor (joblib's), side by side.

Both train the same 6 points (a tiny MLP, 3 epochs on the bundled sample) on 2 processes,
each process reused for up to 8 points, twice: undisturbed, and with the process training
the second point killed (SIGKILL, as the out-of-memory killer does) as it starts. Reported:
the wall time, the points that completed, and what happened to the others.

    make bench BENCH=bench/choices/test_trainer_pool.py

Results: docs/performance.md, "Why does nbmnist start its own trainer processes?".
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Result

POINTS = [f"{rate:.1f}" for rate in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)]
VICTIM = "0.1"
BODY = "dense 16 relu\ndropout {rate}"
OPTIONS = {"epochs": 3, "train_size": 500, "live": False}


def train_point(rate: str, store: str, marks: str) -> str:
    """One point in a pool process: note this process's id, then train."""
    from nbmnist.display.console import ConsoleDisplay
    from nbmnist.training import train

    Path(marks, rate).write_text(str(os.getpid()))
    quiet = ConsoleDisplay(open(os.devnull, "w"))  # noqa: SIM115
    run = train(BODY, "mlp", f"p[rate={rate}]", variables={"rate": rate}, runs_dir=store,
                display=quiet, **OPTIONS)  # fmt: skip
    return run.status


def with_process_pool(kill: bool) -> tuple[float, dict[str, str]]:
    pool = concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=8
    )
    return with_pool(pool, kill)


def with_loky(kill: bool) -> tuple[float, dict[str, str]]:
    import loky

    return with_pool(loky.get_reusable_executor(max_workers=2, reuse=False), kill)


def with_pool(pool: Any, kill: bool) -> tuple[float, dict[str, str]]:
    outcome: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as store, tempfile.TemporaryDirectory() as marks:
        began = time.perf_counter()
        futures = {pool.submit(train_point, rate, store, marks): rate for rate in POINTS}
        if kill:
            threading.Thread(target=_kill_when_marked, args=(Path(marks, VICTIM),)).start()
        for future, rate in futures.items():
            try:
                outcome[rate] = future.result()
            except Exception as err:  # BrokenProcessPool, TerminatedWorkerError: one died
                outcome[rate] = f"lost: {type(err).__name__}"
        pool.shutdown()
        return time.perf_counter() - began, outcome


def _kill_when_marked(mark: Path) -> None:
    deadline = time.monotonic() + 120
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(int(mark.read_text()), signal.SIGKILL)


def with_nbmnist_trainers(kill: bool) -> tuple[float, dict[str, str]]:
    from nbmnist.display.sweep_table import SweepTable
    from nbmnist.sweeps import sweep
    from nbmnist.sweeps.events import Started

    original = SweepTable.event

    def event(self: SweepTable, name: str, value: Any) -> None:
        original(self, name, value)
        if kill and isinstance(value, Started) and name == f"p[rate={VICTIM}]":
            os.kill(value.pid, signal.SIGKILL)

    SweepTable.event = event  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as store:
            began = time.perf_counter()
            runs = sweep(BODY, "mlp", "p", {"rate": POINTS}, executor="processes",
                         workers=2, runs_dir=store, **OPTIONS)  # fmt: skip
            seconds = time.perf_counter() - began
            found = {run.name: run.status for run in runs}
            outcome = {rate: found.get(f"p[rate={rate}]", "failed") for rate in POINTS}
            return seconds, outcome
    finally:
        SweepTable.event = original  # type: ignore[method-assign]


def measure() -> Result:
    import io
    from contextlib import redirect_stdout

    rows = []
    for name, way in (
        ("ProcessPoolExecutor(max_tasks_per_child=8)", with_process_pool),
        ("loky's reusable executor", with_loky),
        ("nbmnist's trainers", with_nbmnist_trainers),
    ):
        for kill in (False, True):
            with redirect_stdout(io.StringIO()):
                seconds, outcome = way(kill)
            completed = sum(state == "completed" for state in outcome.values())
            others = sorted({state for state in outcome.values() if state != "completed"})
            rows.append(
                {
                    "trainer processes": name,
                    "run": "one killed" if kill else "undisturbed",
                    "wall time (s)": seconds,
                    "points completed": f"{completed} of {len(POINTS)}",
                    "the others": ", ".join(others) or "-",
                }
            )
    return Result(rows, ["6 points of a tiny MLP, 3 epochs on the bundled sample, 2 processes."])


@pytest.mark.benchmark(group="trainer-pool")
def test_trainers_against_process_pools(measured: Any) -> None:
    measured(measure)
