"""Does a sweep in the kernel hold its memory? Resident memory across an 8-point sweep
(seed 003's dropout sweep on a small CNN).

    make bench BENCH=bench/sweeps/test_sweep_memory.py

Runs ``nbmnist.sweep`` over rate=0.0..0.7 on the bundled sample (a fresh temporary run
store), reading the process's resident set size (VmRSS, /proc/self/status) after each run.
Target (issue 5): growth from run 1 to run 8 < 150 MB. Since issue 16 a sweep trains its
points in worker processes (``bench/sweeps/test_sweep_scaling.py``); this measures ``executor="kernel"``,
the points trained in this process one after another.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any

import pytest

from bench.harness import Result, rss_mb
from nbmnist.sweeps import sweep

CNNS = {
    # the benchmark's subject: a small CNN
    "small": "conv 16 3x3 relu | maxpool 2 | conv 32 3x3 relu | maxpool 2\nflatten\n"
    "dense 64 relu\ndropout {rate}",
    # for comparison: the size of the Keras example CNN (1.2M parameters)
    "large": "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\nflatten\ndense 128 relu\n"
    "dropout {rate}",
}
RATES = ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]


EPOCHS = 2


def measure(cnn: str) -> Result:
    after: list[float] = []

    def on_run_done(*a: Any, **k: Any) -> Any:  # wraps clear_session, called after each run
        result = clear_session(*a, **k)
        after.append(rss_mb())
        return result

    from nbmnist.backend import import_keras

    keras = import_keras()
    clear_session = keras.backend.clear_session
    keras.backend.clear_session = on_run_done
    start = rss_mb()
    try:
        with tempfile.TemporaryDirectory() as store, contextlib.redirect_stdout(io.StringIO()):
            runs = sweep(
                CNNS[cnn],
                "cnn",
                "drop",
                {"rate": RATES},
                epochs=EPOCHS,
                runs_dir=store,
                live=False,
                fast=False,
                validation="split",
                executor="kernel",  # what this measures: points trained in this process
            )
    finally:
        keras.backend.clear_session = clear_session
    rows: list[dict[str, Any]] = [{"run": "before", "resident memory after the run (MiB)": start}]
    rows += [
        {
            "run": run.name,
            "test accuracy": run.test_accuracy,
            "resident memory after the run (MiB)": mb,
        }
        for run, mb in zip(runs, after, strict=True)
    ]
    return Result(
        rows,
        [
            f"{cnn.capitalize()} CNN: {runs[0].num_params:,} parameters, {EPOCHS} epochs per run, "
            f"the bundled sample. Growth from run 1 to run 8: {after[-1] - after[0]:.0f} MiB "
            "(target < 150 MB)."
        ],
    )


@pytest.mark.benchmark(group="sweep-memory")
def test_memory_across_a_sweep_in_the_kernel(measured: Any) -> None:
    measured(lambda: measure("small"))
