"""Does nbmnist reproduce seed 000's first MLP? Trained as the seed did, on full MNIST:
accuracy and time per epoch.

    make bench BENCH=bench/training/test_seed_mlp.py      (full MNIST)

Reference: seed 000 reported test accuracy 0.9856 and loss 0.0515 after 22 epochs (Keras 2,
batch 128, validation on the test set; ../shared/seeds/).
"""

from __future__ import annotations

import io
import statistics
from typing import Any

import pytest

import nbmnist
from bench.harness import Result
from nbmnist.display.console import ConsoleDisplay

DECLARATION = "430 322 relu he_normal bn dropout=0.5"
EPOCHS = 22


def measure() -> Result:
    run = nbmnist.train(
        DECLARATION,
        "mlp",
        "relu_2h",
        display=ConsoleDisplay(io.StringIO()),
        live=False,
        epochs=EPOCHS,
        batch_size=128,
        validation="test",
    )
    per_epoch = run.epoch_seconds
    return Result(
        [
            {
                "model": f"`{DECLARATION}` (`--epochs {EPOCHS} --validation test`)",
                "test accuracy": run.test_accuracy,
                "seed 000's": 0.9856,
                "test loss": run.test_loss,
                "seed 000's loss": 0.0515,
                "epoch, median (s)": statistics.median(per_epoch),
                "first epoch (s)": per_epoch[0],
                "wall time (s)": run.wall_time_s,
            }
        ],
        ["Full MNIST (60,000 train / 10,000 test); the first epoch includes tracing."],
    )


@pytest.mark.benchmark(group="seed-mlp")
def test_seed_000s_first_mlp_on_full_mnist(measured: Any, full_mnist: Any) -> None:
    measured(measure)
