"""How fast does a model reach 99% on MNIST? nbmnist's ``--recipe fast`` against the seed's
Keras example.

    make bench BENCH=bench/training/test_time_to_99.py      (full MNIST)

Both run through ``nbmnist.train`` in one process on the same data:
- fast: ``RECIPES["fast"]`` (its model and options; the stopping point, 3 epochs with a
  cosine schedule, was chosen on validation accuracy, never on the test set);
- baseline: seed 003's Keras example CNN with its recipe (Adadelta, learning rate 1.0 as in
  Keras 2, batch 128), for up to ``BASELINE_EPOCHS`` epochs.
After every epoch the test set is evaluated for this measurement only (it feeds no training
decision), with the clock paused (``harness.epoch_clock``). Time to 99% = training wall clock
from the start of ``fit`` to the end of the first epoch whose test accuracy is >= 0.990.
Targets: fast <= 20 s (issue 12; <= 60 s in issue 7) and >= 3x faster than the baseline
(issue 7).
"""

from __future__ import annotations

import io
from typing import Any

import pytest

import nbmnist
from bench.harness import Result, epoch_clock
from nbmnist.display.console import ConsoleDisplay
from nbmnist.recipes import RECIPES
from nbmnist.training import prepare_arrays

KERAS_EXAMPLE = (
    "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5"
)
BASELINE_EPOCHS = 6
BASELINE = {
    "epochs": BASELINE_EPOCHS,
    "batch_size": 128,
    "optimizer": "adadelta",
    "learning_rate": 1.0,
    "validation": "split",
    "validation_split": 1 / 12,
}


def train(text: str, options: dict[str, Any], dataset: Any) -> Any:
    """The epoch clock of one training run, the test set evaluated after each epoch."""
    _, _, x_test, y_test = prepare_arrays(dataset, "cnn")
    clock = epoch_clock(test_data=(x_test, y_test))
    quiet = ConsoleDisplay(io.StringIO())
    nbmnist.train(text, "cnn", display=quiet, live=False, callbacks=[clock], **options)
    return clock


def row(label: str, clock: Any) -> dict[str, Any]:
    reached = clock.first_reaching(0.990)
    epochs = "; ".join(
        f"{i}: {s:.1f} s, {v:.4f}, {t:.4f}"
        for i, (s, v, t) in enumerate(
            zip(clock.ends, clock.val_accuracy, clock.test_accuracy, strict=True), 1
        )
    )
    return {
        "recipe": label,
        "epoch: seconds, val acc, test acc": epochs,
        "time to 99.0% test accuracy (s)": reached
        if reached is not None
        else f"not within {clock.ends[-1]:.0f} s",
    }


def measure(dataset: Any) -> Result:
    fast = RECIPES["fast"]
    ours = train(fast.declaration, dict(fast.options), dataset)
    theirs = train(KERAS_EXAMPLE, BASELINE, dataset)
    a, b = ours.first_reaching(0.990), theirs.first_reaching(0.990)
    speedup = f"{b / a:.1f}x" if a and b else "not measured (one did not reach 99%)"
    return Result(
        [
            row("nbmnist --recipe fast", ours),
            row("seed 003 Keras example (Adadelta 1.0, batch 128)", theirs),
        ],
        [
            f"Speed-up against the Keras example: {speedup}. Targets: the fast recipe within "
            "20 s, at least 3x sooner than the Keras example."
        ],
    )


@pytest.mark.benchmark(group="time-to-99")
def test_the_fast_recipe_against_the_seeds_keras_example(measured: Any, full_mnist: Any) -> None:
    measured(lambda: measure(full_mnist))
