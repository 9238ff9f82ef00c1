"""Resident memory across an 8-point sweep (seed 003's dropout sweep on a small CNN).

Usage:
    .venv/bin/python bench/sweep_memory.py [--epochs 2] [--cnn small|large]

Runs ``nbmnist.sweep`` over rate=0.0..0.7 on the bundled sample (a fresh temporary run
store), reading the process's resident set size (VmRSS, /proc/self/status) after each run.
Target (issue 5): growth from run 1 to run 8 < 150 MB. Since issue 16 a sweep trains its
points in worker processes (``bench/sweep_scaling.py``); this measures ``executor="kernel"``,
the points trained in this process one after another.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from typing import Any

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


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cnn", choices=sorted(CNNS), default="small")
    args = parser.parse_args()
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
    with tempfile.TemporaryDirectory() as store, contextlib.redirect_stdout(io.StringIO()):
        runs = sweep(
            CNNS[args.cnn],
            "cnn",
            "drop",
            {"rate": RATES},
            epochs=args.epochs,
            runs_dir=store,
            live=False,
            fast=False,
            validation="split",
            executor="kernel",  # what this measures: points trained in this process
        )
    keras.backend.clear_session = clear_session
    print(f"{args.cnn} CNN: {runs[0].num_params:,} parameters, {args.epochs} epochs per run\n")
    print("| run | test accuracy | resident memory after the run (MB) |")
    print("| --- | --- | --- |")
    print(f"| before | | {start:.0f} |")
    for run, mb in zip(runs, after, strict=True):
        print(f"| {run.name} | {run.test_accuracy:.4f} | {mb:.0f} |")
    print(f"\ngrowth from run 1 to run 8: {after[-1] - after[0]:.0f} MB (target < 150 MB)")


if __name__ == "__main__":
    main()
