"""A model's first epoch on TensorFlow: plain ``model.fit`` against the same fit with the
optimizer's and metrics' variables built first (``nbmnist.backend.build_training_state``).

    make bench BENCH=bench/choices/test_tf_first_epoch.py      (full MNIST)

Keras 3 on TensorFlow, without a distribution strategy, creates those variables while it
traces the training step, and a ``tf.function`` that creates variables on its first call is
traced again: the first epoch traces the step twice. For each model (seed 000's MLP, the
fast recipe's CNN, two of lesson 02's CNNs), each side builds it with ``nbmnist.build_model``,
compiles it as plain Keras (Adam, cross-entropy, accuracy, one batch per call) and fits one
epoch of batch 128 on the first ``TRAIN_SIZE`` images, validating on 1,000 test images; the
pairs alternate which side goes first, in one process. Prints, per model, the median first
epoch of each side, their ratio (plain / built first: > 1 means faster) and how many times
each traced ``train_step``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest

import nbmnist
from bench.harness import Result
from nbmnist.backend import build_training_state, import_keras
from nbmnist.declaration import parse_declaration
from nbmnist.training import prepare_arrays

PAIRS = 3
TRAIN_SIZE = 6000
MODELS = {
    "seed 000 MLP": ("430 322 relu he_normal bn dropout=0.5", "mlp"),
    "--recipe fast CNN": (
        "conv 16 5x5 relu | maxpool 2\nconv 32 3x3 relu | maxpool 2\nflatten\n"
        "dense 128 relu | dropout 0.3",
        "cnn",
    ),
    "lesson 02 k3_3": (
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "flatten\ndense 128 relu he_normal | dropout 0.5 | bn",
        "cnn",
    ),
    "lesson 02 k3_7": (
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | dropout 0.25 | bn x5\n"
        "flatten\ndense 128 relu he_normal | dropout 0.5 | bn",
        "cnn",
    ),
}


def first_epoch(text: str, kind: str, data: Any, built_first: bool) -> tuple[float, int]:
    """Seconds of one epoch of a freshly built model, and its ``train_step`` traces."""
    keras = import_keras()
    x, y, x_test, y_test = data
    model = nbmnist.build_model(parse_declaration(text, kind).with_head())
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    traces = []
    step = model.train_step

    def counted(batch: Any) -> Any:
        traces.append(1)
        return step(batch)

    object.__setattr__(model, "train_step", counted)  # as nbmnist's own grouping does
    start = time.perf_counter()
    if built_first:
        build_training_state(model, x, y)
    model.fit(x, y, batch_size=128, epochs=1, verbose=0, validation_data=(x_test, y_test))
    seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return seconds, len(traces)


def measure(name: str, dataset: Any) -> Result:
    text, kind = MODELS[name]
    x, y, x_test, y_test = prepare_arrays(dataset, kind, TRAIN_SIZE)  # type: ignore[arg-type]
    data = (x, y, x_test[:1000], y_test[:1000])
    first_epoch(text, kind, data, True)  # warm-up: TensorFlow's own first-use costs
    seconds: dict[bool, list[float]] = {False: [], True: []}
    traces: dict[bool, set[int]] = {False: set(), True: set()}
    for pair in range(PAIRS):
        for built in (pair % 2 == 0, pair % 2 == 1):
            took, traced = first_epoch(text, kind, data, built)
            seconds[built].append(took)
            traces[built].add(traced)
    plain, built = statistics.median(seconds[False]), statistics.median(seconds[True])
    return Result(
        [
            {
                "model": name,
                "plain fit: first epoch (s)": plain,
                "plain fit: traces": ", ".join(map(str, sorted(traces[False]))),
                "state built first: first epoch (s)": built,
                "state built first: traces": ", ".join(map(str, sorted(traces[True]))),
                "ratio": plain / built,
            }
        ],
        [f"{TRAIN_SIZE:,} training images, batch 128, one epoch; medians of {PAIRS} pairs."]
        if name == list(MODELS)[-1]
        else [],
    )


@pytest.mark.benchmark(group="tf-first-epoch")
@pytest.mark.parametrize("name", list(MODELS))
def test_the_first_epoch_traces_once(measured: Any, full_mnist: Any, name: str) -> None:
    if import_keras().backend.backend() != "tensorflow":
        pytest.fail("this measures TensorFlow: run with KERAS_BACKEND=tensorflow")
    measured(lambda: measure(name, full_mnist))
