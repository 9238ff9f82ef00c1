"""How do sweeps scale on worker processes and on Dask? Points per minute with 1 and 2
workers, and the kernel's memory over a 32-point random search (issue 16).

    make bench BENCH=bench/sweeps/test_sweep_scaling.py

Part 1 runs seed 003's dropout sweep (``dropout {rate}`` on a small CNN, ``POINTS`` rates,
``EPOCHS`` epochs each, on the bundled sample) three ways, side by side in this process, each
into a fresh temporary run store: in this process one point after another (``executor=
"kernel"``, the baseline: how sweeps ran before workers), then on 1 and 2 worker processes.

Part 2 runs a ``TRIALS``-point random search (``units=16..128:log``, ``rate=0.0..0.5``) on 2
workers and reads this process's resident set size (VmRSS, /proc/self/status) as each point
comes home. Target: growth from the first point to the last < 30 MB.

Part 3 runs the same random search on a Dask ``LocalCluster`` (2 worker processes, 1 thread
each) started here, reading the same memory figures.

Part 4 runs the README's two sweep cells as a notebook would (an IPython shell
with ``%load_ext nbmnist``): seed 003's dropout sweep and the 32-point random search, each with
``--workers 2`` and with ``--executor dask://...`` on a ``LocalCluster`` of 2 worker processes,
on the bundled sample (``EPOCHS`` epochs).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from typing import Any

import pytest

from bench.harness import Result, rss_mb
from nbmnist.display.sweep_table import SweepTable
from nbmnist.sweeps import Range, sweep

CNN = "conv 16 3x3 relu | maxpool 2 | conv 32 3x3 relu | maxpool 2\nflatten\ndense 64 relu\ndropout {rate}"
MLP = "dense {units} relu | dropout {rate}"
POINTS = 8
TRIALS = 32
EPOCHS = 2


def timed_sweep(executor: Any, workers: int | None, rates: list[str], epochs: int) -> float:
    with tempfile.TemporaryDirectory() as store, contextlib.redirect_stdout(io.StringIO()):
        began = time.perf_counter()
        runs = sweep(
            CNN,
            "cnn",
            "drop",
            {"rate": rates},
            executor=executor,
            workers=workers,
            epochs=epochs,
            runs_dir=store,
            live=False,
            fast=False,
            seed=1,
        )
        seconds = time.perf_counter() - began
    assert all(run.status == "completed" for run in runs)
    return seconds


def scaling() -> Result:
    rates = [f"{i / 10:.1f}" for i in range(POINTS)]
    rows = []
    baseline = None
    for label, executor, workers in (
        ("in the kernel, one after another (baseline)", "kernel", None),
        ("1 worker process", None, 1),
        ("2 worker processes", None, 2),
    ):
        seconds = timed_sweep(executor, workers, rates, EPOCHS)
        baseline = baseline or seconds
        rows.append(
            {
                "where the points train": label,
                "wall time (s)": seconds,
                "points per minute": POINTS / seconds * 60,
                "speed against the kernel": baseline / seconds,
            }
        )
    return Result(
        rows, [f"{POINTS}-point dropout sweep, small CNN, {EPOCHS} epochs a point, bundled sample."]
    )


SEED_003 = (
    "%%cnn drop --grid rate=0.0,0.1,0.2,0.3,0.4,0.5,0.6,0.7 --epochs {epochs} {where}\n"
    "conv 32 7x7 relu | conv 64 5x5 relu | maxpool 2 | conv 128 5x5 relu\n"
    "flatten\ndense 128 relu\ndropout {{rate}}"
)
SEARCH = (
    "%%mlp search --grid units=16..512:log --grid rate=0.0..0.5 --grid lr=1e-4..1e-2:log "
    "--learning-rate {{lr}} --search random --trials 32 --epochs {epochs} {where}\n"
    "dense {{units}} relu | dropout {{rate}}"
)


def cells() -> Result:
    from distributed import LocalCluster
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        dask = "--executor " + cluster.scheduler_address.replace("tcp://", "dask://")
        for label, cell in (
            ("seed 003 dropout sweep", SEED_003),
            ("32-point random search", SEARCH),
        ):
            for where in ("--workers 2", dask):
                with tempfile.TemporaryDirectory() as store:
                    os.environ["NBMNIST_RUNS"] = store
                    began = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        result = shell.run_cell(cell.format(epochs=EPOCHS, where=where))
                    seconds = time.perf_counter() - began
                    result.raise_error()
                    name = cell.split()[1]  # the run name on the magic line
                    done = sum(run.status == "completed" for run in shell.user_ns[name])
                    rows.append(
                        {
                            "cell": label,
                            "where": "2 local workers"
                            if where == "--workers 2"
                            else "Dask LocalCluster, 2 workers",
                            "points completed": f"{done} of {len(shell.user_ns[name])}",
                            "wall time (s)": seconds,
                        }
                    )
    return Result(rows, [f"The bundled sample, {EPOCHS} epochs a point."])


def random_search(label: str, executor: Any) -> Result:
    after: list[float] = []
    done = SweepTable.point_done

    def point_done(self: SweepTable, *a: Any, **k: Any) -> None:
        done(self, *a, **k)
        after.append(rss_mb())

    SweepTable.point_done = point_done  # type: ignore[method-assign]
    start = rss_mb()
    try:
        with tempfile.TemporaryDirectory() as store, contextlib.redirect_stdout(io.StringIO()):
            began = time.perf_counter()
            runs = sweep(
                MLP,
                "mlp",
                "search",
                {"units": Range(16, 128, log=True, integer=True), "rate": Range(0.0, 0.5)},
                search="random",
                trials=TRIALS,
                workers=2,
                executor=executor,
                epochs=EPOCHS,
                runs_dir=store,
                live=False,
                fast=False,
            )
            seconds = time.perf_counter() - began
    finally:
        SweepTable.point_done = done  # type: ignore[method-assign]
    return Result(
        [
            {
                "where": label,
                "points completed": f"{sum(run.status == 'completed' for run in runs)} of {TRIALS}",
                "points per minute": TRIALS / seconds * 60,
                "kernel memory before (MiB)": start,
                "after the first point (MiB)": after[0],
                "after the last (MiB)": after[-1],
                "growth, first to last (MiB)": after[-1] - after[0],
                "largest (MiB)": max(after),
            }
        ],
        ["Target: growth from the first point to the last < 30 MB."] if executor else [],
    )


@pytest.mark.benchmark(group="sweep-scaling")
def test_points_per_minute_on_workers(measured: Any) -> None:
    measured(scaling)


@pytest.mark.benchmark(group="sweep-search-memory")
def test_the_kernels_memory_over_a_random_search(measured: Any) -> None:
    measured(lambda: random_search("2 local worker processes", None))


@pytest.mark.benchmark(group="sweep-search-memory")
def test_the_kernels_memory_over_a_random_search_on_dask(measured: Any) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        measured(lambda: random_search("a Dask LocalCluster of 2 worker processes", client))


@pytest.mark.benchmark(group="sweep-cells")
def test_the_readmes_sweep_cells(measured: Any) -> None:
    measured(cells)
