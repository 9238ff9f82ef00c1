"""How fast does nbmnist start, load the data and train, against plain Keras?

    make bench BENCH=bench/training/test_throughput.py      (full MNIST)

- ``%load_ext nbmnist`` in a fresh IPython process (TensorFlow must not load), median of 5;
- ``load_dataset("mnist")`` from the local IDX files in a fresh process (decompress, check
  headers and SHA-256), median of 5; and whether the MLP and CNN views share one float32 copy;
- throughput: seconds per epoch after the first (which includes tracing), nbmnist's training
  path (``nbmnist.train``: its grouped steps, callbacks and per-epoch run-store writes) vs
  plain ``model.fit(x, y)`` on NumPy arrays, same model, batch size and data, one process,
  pairs in alternating order, for seed 000's MLP, seed 004's MLP at its batch size 8 and the
  Keras example CNN (the last two on part of the data to bound time). Wall time, and CPU time
  of the process (less disturbed by other tenants of a shared machine).
Targets: load_ext <= 0.3 s, loading <= 0.5 s with one float32 copy, throughput ratio >= 1.0.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import nbmnist
from bench.harness import Result, alternate, epoch_clock
from nbmnist.display.console import ConsoleDisplay
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


def start_up(dataset: Any) -> Result:
    load_ext = statistics.median(fresh(LOAD_EXT) for _ in range(5))
    loading = statistics.median(fresh(LOAD_DATA) for _ in range(5))
    mlp = prepare_arrays(dataset, "mlp")[0]
    cnn = prepare_arrays(dataset, "cnn")[0]
    again = prepare_arrays(dataset, "mlp")[0]
    shared = np.shares_memory(mlp, cnn) and np.shares_memory(mlp, again)
    return Result(
        [
            {
                "measure": "`%load_ext nbmnist`, fresh process, median of 5",
                "value": f"{load_ext * 1000:.0f} ms",
                "target": "<= 300 ms",
            },
            {
                "measure": "import nbmnist + load full MNIST (IDX .gz, checked), median of 5",
                "value": f"{loading * 1000:.0f} ms",
                "target": "<= 500 ms",
            },
            {
                "measure": "float32 copies of the training images across cells",
                "value": "one (shared)" if shared else "several",
                "target": "one",
            },
        ]
    )


def epoch_time(text: str, kind: str, size: int | None, batch_size: int, ours: bool) -> Any:
    """Median wall and CPU seconds of epochs 2-3 of nbmnist's ``train`` or of plain
    ``model.fit(x, y)``."""
    clock = epoch_clock()
    if ours:
        nbmnist.train(
            text,
            kind,
            display=ConsoleDisplay(io.StringIO()),
            live=False,
            callbacks=[clock],
            epochs=EPOCHS,
            batch_size=batch_size,
            validation="none",
            train_size=size,
            overwrite=True,
        )
    else:
        x, y, _, _ = prepare_arrays(nbmnist.load_dataset("mnist"), kind, size)
        model = nbmnist.build_model(text, kind)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=batch_size, epochs=EPOCHS, verbose=0, callbacks=[clock])
    return clock.steady_epoch()


def throughput(name: str) -> Result:
    text, kind, size, batch_size, pairs = MODELS[name]
    times = alternate(
        pairs,
        {
            "plain": lambda: epoch_time(text, kind, size, batch_size, ours=False),
            "nbmnist": lambda: epoch_time(text, kind, size, batch_size, ours=True),
        },
    )
    pairs_ = list(zip(times["plain"], times["nbmnist"], strict=True))
    wall = [plain[0] / ours[0] for plain, ours in pairs_]  # time ratio = throughput ratio
    cpu = [plain[1] / ours[1] for plain, ours in pairs_]
    return Result(
        [
            {
                "model": name,
                "images": f"{size or 60_000:,}",
                "plain fit, s / epoch": statistics.median(p[0] for p, _ in pairs_),
                "nbmnist, s / epoch": statistics.median(o[0] for _, o in pairs_),
                "throughput ratio (wall)": statistics.median(wall),
                "ratio range": f"{min(wall):.2f} - {max(wall):.2f}",
                "throughput ratio (CPU)": statistics.median(cpu),
                "pairs": pairs,
            }
        ],
        ["Ratio = plain seconds / nbmnist seconds per epoch (> 1: nbmnist faster); target >= 1.0."]
        if name == list(MODELS)[-1]
        else [],
    )


@pytest.mark.benchmark(group="start-up")
def test_start_up_and_loading(measured: Any, full_mnist: Any) -> None:
    measured(lambda: start_up(full_mnist))


@pytest.mark.benchmark(group="throughput")
@pytest.mark.parametrize("name", list(MODELS))
def test_throughput_against_plain_fit(measured: Any, full_mnist: Any, name: str) -> None:
    measured(lambda: throughput(name))
