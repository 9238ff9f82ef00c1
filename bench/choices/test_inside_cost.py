"""What does recording activations and gradients cost an epoch? (``nbmnist.inside``)

    make bench BENCH=bench/choices/test_inside_cost.py

Each epoch nbmnist runs one forward and backward pass over a fixed batch of
``inside.PROBE_IMAGES`` held-out images to record, per layer, activation quantiles, dead
units and gradient norms. Measured here for seed 000's MLP and the Keras example CNN: the
first record (building the probe; on JAX compiling its program) and the median of the next
five, against the same model's training epoch on the full data (``throughput`` in this
page: seconds per epoch), on the suite's backend.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

import nbmnist
from bench.harness import Result
from nbmnist.inside import PROBE_IMAGES, InsideRecorder, probe_batch
from nbmnist.training import prepare_arrays

MODELS = {
    "seed 000 MLP": ("430 322 relu he_normal bn dropout=0.5", "mlp"),
    "Keras example CNN": (
        "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
        "dense 128 relu\ndropout 0.5",
        "cnn",
    ),
}


def measure(name: str, dataset: Any) -> Result:
    text, kind = MODELS[name]
    _, _, x_test, y_test = prepare_arrays(dataset, kind)  # type: ignore[arg-type]
    model = nbmnist.build_model(text, kind)  # type: ignore[arg-type]
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    recorder = InsideRecorder(*probe_batch(x_test, y_test))
    started = time.perf_counter()
    recorder.record(model)
    first = time.perf_counter() - started
    later = []
    for _ in range(5):
        started = time.perf_counter()
        recorder.record(model)
        later.append(time.perf_counter() - started)
    return Result(
        [
            {
                "model": name,
                "first record (s)": first,
                "each later epoch's record (s), median of 5": statistics.median(later),
                "images": PROBE_IMAGES,
            }
        ]
    )


@pytest.mark.benchmark(group="inside-cost")
@pytest.mark.parametrize("name", list(MODELS))
def test_recording_inside_costs_little_an_epoch(measured: Any, full_mnist: Any, name: str) -> None:
    measured(lambda: measure(name, full_mnist))
