"""Start-up, data loading and per-epoch throughput (issue 7).

Usage (full MNIST; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/startup_and_throughput.py

- ``%load_ext nbmnist`` in a fresh IPython process (TensorFlow must not load), median of 5;
- ``load_dataset("mnist")`` from the local IDX files in a fresh process (decompress, check
  headers and SHA-256), median of 5; and whether the MLP and CNN views share one float32 copy;
- throughput: images per second of epochs 2-3 (epoch 1 includes tracing), nbmnist's training
  path (``nbmnist.train``: its grouped steps, callbacks and per-epoch run-store writes) vs
  plain ``model.fit(x, y)`` on NumPy arrays, same model, batch size and data, one process,
  pairs in alternating order, for seed 000's MLP, seed 004's MLP at its batch size 8 and the Keras
  example CNN (the last two on part of the data to bound time). Wall time, and CPU time of
  the process (less disturbed by other tenants of a shared machine).
Targets: load_ext <= 0.3 s, loading <= 0.5 s with one float32 copy, throughput ratio >= 1.0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

import nbmnist
from nbmnist.training import prepare_arrays

LOAD_EXT = """
import sys, time
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
start = time.perf_counter()
ip.run_line_magic("load_ext", "nbmnist")
elapsed = time.perf_counter() - start
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
print(elapsed)
"""
LOAD_DATA = """
import time
start = time.perf_counter()
import nbmnist
dataset = nbmnist.load_dataset("mnist")
elapsed = time.perf_counter() - start
assert not dataset.is_sample, dataset.source
print(elapsed)
"""
MODELS = {
    # name: (declaration, kind, training images (None: all 60,000), batch size, pairs)
    "seed 000 MLP (430-322, BN, dropout), batch 128": (
        "430 322 relu he_normal bn dropout=0.5",
        "mlp",
        None,
        128,
        7,
    ),
    "seed 004 MLP (196-49), batch 8": ("196 49 relu", "mlp", 12_000, 8, 5),
    "Keras example CNN (seed 003), batch 128": (
        "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
        "dense 128 relu\ndropout 0.5",
        "cnn",
        10_000,
        128,
        5,
    ),
}
EPOCHS = 3  # epoch 1 includes tracing; epochs 2 and 3 are timed


def fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


class Stamps:
    """Wall and CPU time at each epoch's end; an nbmnist display, or a Keras callback."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def stamp(self) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def run_started(self, info: Any) -> None:  # nbmnist display hooks
        pass

    def epoch_completed(self, log: Any) -> None:
        self.stamp()

    def run_finished(self, run: Any) -> None:
        pass

    def callback(self) -> Any:
        import keras

        stamps = self

        class EpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                stamps.stamp()

        return EpochEnd()

    def per_epoch(self) -> tuple[float, float]:
        """Median wall and CPU seconds between the ends of epochs 1-2 and 2-3."""
        wall = statistics.median(np.diff(self.wall))
        return float(wall), float(statistics.median(np.diff(self.cpu)))


def epoch_time(text: str, kind: str, size: int | None, batch_size: int, ours: bool) -> Stamps:
    """Time epochs 2-3 of nbmnist's ``train`` or of plain ``model.fit(x, y)``."""
    dataset = nbmnist.load_dataset("mnist")
    stamps = Stamps()
    if ours:
        nbmnist.train(
            text,
            kind,
            display=stamps,
            epochs=EPOCHS,
            batch_size=batch_size,
            validation="none",
            train_size=size,
            runs_dir="/tmp/nbmnist-bench-runs",
            overwrite=True,
        )
    else:
        x, y, _, _ = prepare_arrays(dataset, kind, size)
        model = nbmnist.build_model(text, kind)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(
            x, y, batch_size=batch_size, epochs=EPOCHS, verbose=0, callbacks=[stamps.callback()]
        )
    return stamps


def main() -> None:
    argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0]).parse_args()
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    load_ext = statistics.median(fresh(LOAD_EXT) for _ in range(5))
    print(
        f"| `%load_ext nbmnist`, fresh process, median of 5 | {load_ext * 1000:.0f} ms | <= 300 ms |"
    )
    loading = statistics.median(fresh(LOAD_DATA) for _ in range(5))
    print(
        f"| import nbmnist + load full MNIST (IDX .gz, checked), median of 5 | {loading * 1000:.0f} ms | <= 500 ms |"
    )
    dataset = nbmnist.load_dataset("mnist")
    mlp = prepare_arrays(dataset, "mlp")[0]
    cnn = prepare_arrays(dataset, "cnn")[0]
    again = prepare_arrays(dataset, "mlp")[0]
    shared = np.shares_memory(mlp, cnn) and np.shares_memory(mlp, again)
    print(
        f"| float32 copies of the training images across cells | {'one (shared)' if shared else 'several'} | one |"
    )
    for name, (text, kind, size, batch_size, pairs) in MODELS.items():
        wall, cpu = [], []
        for pair in range(pairs):  # alternating which goes first, so neither gains by order
            first = epoch_time(text, kind, size, batch_size, ours=pair % 2 == 1).per_epoch()
            second = epoch_time(text, kind, size, batch_size, ours=pair % 2 == 0).per_epoch()
            plain, ours = (first, second) if pair % 2 == 0 else (second, first)
            wall.append(plain[0] / ours[0])  # time ratio = throughput ratio ours / plain
            cpu.append(plain[1] / ours[1])
        print(
            f"| throughput ratio nbmnist / plain fit, {name}, median of {pairs} pairs: "
            f"wall (CPU) | {statistics.median(wall):.2f} ({statistics.median(cpu):.2f}); "
            f"pairs {min(wall):.2f}-{max(wall):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) | >= 1.0 |",
            flush=True,
        )


if __name__ == "__main__":
    main()
