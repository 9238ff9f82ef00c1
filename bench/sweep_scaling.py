"""Sweeps on worker processes: points per minute with 1 and 2 workers, and the kernel's memory
over a 32-point random search (issue 16).

Usage:
    .venv/bin/python bench/sweep_scaling.py [--points 8] [--trials 32] [--epochs 2]

Part 1 runs seed 003's dropout sweep (``dropout {rate}`` on a small CNN, ``--points`` rates,
``--epochs`` epochs each, on the bundled sample) three ways, side by side in this process, each
into a fresh temporary run store: in this process one point after another (``executor=
"kernel"``, the baseline: how sweeps ran before workers), then on 1 and 2 worker processes.

Part 2 runs a ``--trials``-point random search (``units=16..128:log``, ``rate=0.0..0.5``) on 2
workers and reads this process's resident set size (VmRSS, /proc/self/status) as each point
comes home. Target: growth from the first point to the last < 30 MB.

Part 3 runs the same random search on a Dask ``LocalCluster`` (2 worker processes, 1 thread
each) started here, reading the same memory figures.

Part 4 (``cells``) runs the README's two sweep cells as a notebook would (an IPython shell
with ``%load_ext nbmnist``): seed 003's dropout sweep and the 32-point random search, each with
``--workers 2`` and with ``--executor dask://...`` on a ``LocalCluster`` of 2 worker processes,
on the bundled sample (``--epochs`` epochs).

``--parts`` picks some: ``--parts dask`` runs part 3 only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from typing import Any

from sweep_memory import rss_mb  # bench/ is on the path when this runs

from nbmnist.display.sweep_table import SweepTable
from nbmnist.sweeps import Range, sweep

CNN = "conv 16 3x3 relu | maxpool 2 | conv 32 3x3 relu | maxpool 2\nflatten\ndense 64 relu\ndropout {rate}"
MLP = "dense {units} relu | dropout {rate}"


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


def scaling(args: argparse.Namespace) -> None:
    rates = [f"{i / 10:.1f}" for i in range(args.points)]
    print(f"## Part 1: {args.points}-point dropout sweep, small CNN, {args.epochs} epochs/point\n")
    print("| where the points train | wall time (s) | points per minute | vs in the kernel |")
    print("| --- | --- | --- | --- |")
    baseline = None
    for label, executor, workers in (
        ("in the kernel, one after another (baseline)", "kernel", None),
        ("1 worker process", None, 1),
        ("2 worker processes", None, 2),
    ):
        seconds = timed_sweep(executor, workers, rates, args.epochs)
        baseline = baseline or seconds
        rate = args.points / seconds * 60
        print(f"| {label} | {seconds:.1f} | {rate:.1f} | {baseline / seconds:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("scaling", "workers", "dask", "cells"),
        default=["scaling", "workers"],
    )
    parser.add_argument(
        "--cells", nargs="+", choices=("seed003", "search"), default=["seed003", "search"]
    )
    args = parser.parse_args()
    args.cells = [{"seed003": SEED_003, "search": SEARCH}[name] for name in args.cells]
    if "scaling" in args.parts:
        scaling(args)
    if "workers" in args.parts:
        random_search(args, "2 workers", None)
    if "cells" in args.parts:
        cells(args)
    if "dask" in args.parts:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            random_search(args, "a Dask LocalCluster of 2 worker processes", client)


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


def cells(args: argparse.Namespace) -> None:
    import os

    from distributed import LocalCluster
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    print("\n## The README's sweep cells\n")
    print("| cell | where | points completed | wall time (s) |")
    print("| --- | --- | --- | --- |")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        dask = "--executor " + cluster.scheduler_address.replace("tcp://", "dask://")
        chosen = (("seed 003 dropout sweep", SEED_003), ("32-point random search", SEARCH))
        for label, cell in [pair for pair in chosen if pair[1] in args.cells]:
            for where in ("--workers 2", dask):
                with tempfile.TemporaryDirectory() as store:
                    os.environ["NBMNIST_RUNS"] = store
                    began = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        result = shell.run_cell(cell.format(epochs=args.epochs, where=where))
                    seconds = time.perf_counter() - began
                    result.raise_error()
                    name = cell.split()[1]  # the run name on the magic line
                    done = sum(run.status == "completed" for run in shell.user_ns[name])
                    shown = (
                        "2 local workers"
                        if where == "--workers 2"
                        else "Dask LocalCluster, 2 workers"
                    )
                    print(
                        f"| {label} | {shown} | {done} of {len(shell.user_ns[name])} | {seconds:.0f} |"
                    )


def random_search(args: argparse.Namespace, label: str, executor: Any) -> None:
    after: list[float] = []
    done = SweepTable.point_done

    def point_done(self: SweepTable, *a: Any, **k: Any) -> None:
        done(self, *a, **k)
        after.append(rss_mb())

    SweepTable.point_done = point_done  # type: ignore[method-assign]
    start = rss_mb()
    with tempfile.TemporaryDirectory() as store, contextlib.redirect_stdout(io.StringIO()):
        began = time.perf_counter()
        runs = sweep(
            MLP,
            "mlp",
            "search",
            {"units": Range(16, 128, log=True, integer=True), "rate": Range(0.0, 0.5)},
            search="random",
            trials=args.trials,
            workers=2,
            executor=executor,
            epochs=args.epochs,
            runs_dir=store,
            live=False,
            fast=False,
        )
        seconds = time.perf_counter() - began
    SweepTable.point_done = done  # type: ignore[method-assign]
    print(f"\n## {args.trials}-point random search on {label} ({seconds:.0f} s)\n")
    print(f"- points completed: {sum(run.status == 'completed' for run in runs)} of {args.trials}")
    print(f"- points per minute: {args.trials / seconds * 60:.1f}")
    print(f"- kernel memory before the sweep: {start:.0f} MB")
    print(
        f"- after the first point came home: {after[0]:.0f} MB; after the last: {after[-1]:.0f} MB"
    )
    print(
        f"- growth from the first point to the last: {after[-1] - after[0]:.1f} MB (target < 30 MB)"
    )
    print(f"- largest during the sweep: {max(after):.0f} MB")


if __name__ == "__main__":
    main()
