"""Start-up, data loading and per-epoch throughput (issue 7).

Usage (full MNIST; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/startup_and_throughput.py

- ``%load_ext nbmnist`` in a fresh IPython process (TensorFlow must not load), median of 5;
- ``load_dataset("mnist")`` from the local IDX files in a fresh process (decompress, check
  headers and SHA-256), median of 5; and whether the MLP and CNN views share one float32 copy;
- throughput: images per second of epochs 2-3 (epoch 1 includes tracing), nbmnist's training
  path (``nbmnist.train``'s fit: its input pipeline and callbacks) vs plain
  ``model.fit(x, y)`` on NumPy arrays, same model, batch size and data, one process,
  alternating, for seed 000's MLP and the Keras example CNN (on 20,000 images to bound time).
Targets: load_ext <= 0.3 s, loading <= 0.5 s with one float32 copy, throughput ratio >= 1.0.
"""

from __future__ import annotations

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
    "seed 000 MLP (430-322, BN, dropout)": ("430 322 relu he_normal bn dropout=0.5", "mlp", None),
    "Keras example CNN": (
        "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
        "dense 128 relu\ndropout 0.5",
        "cnn",
        20_000,
    ),
}


def fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


class EpochTimer:
    """Records each epoch's wall time (a Keras callback with epoch hooks only)."""

    def __new__(cls) -> Any:
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.seconds: list[float] = []

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                self.seconds.append(time.perf_counter() - self._start)

        return Timer()


def throughput(text: str, kind: str, size: int | None, ours: bool) -> float:
    """Images per second over epochs 2-3."""
    dataset = nbmnist.load_dataset("mnist")
    if ours:
        import io

        from nbmnist.display.console import ConsoleDisplay

        run = nbmnist.train(
            text,
            kind,
            display=ConsoleDisplay(io.StringIO()),
            epochs=3,
            batch_size=128,
            validation="none",
            train_size=size,
            runs_dir="/tmp/nbmnist-bench-runs",
            overwrite=True,
        )
        seconds = run.epoch_seconds[1:]
    else:
        x, y, _, _ = prepare_arrays(dataset, kind, size)
        model = nbmnist.build_model(text, kind)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        timer = EpochTimer()
        model.fit(x, y, batch_size=128, epochs=3, verbose=0, callbacks=[timer])
        seconds = timer.seconds[1:]
    images = size or len(dataset.y_train)
    return images / statistics.median(seconds)


def main() -> None:
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
    for name, (text, kind, size) in MODELS.items():
        ratios = []
        for _ in range(2):
            plain = throughput(text, kind, size, ours=False)
            ours = throughput(text, kind, size, ours=True)
            ratios.append(ours / plain)
        print(
            f"| throughput ratio nbmnist / plain fit, {name}, 2 pairs | {statistics.median(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)}) | >= 1.0 |"
        )


if __name__ == "__main__":
    main()
