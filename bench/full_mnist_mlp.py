"""Seed 000's first MLP trained as the seed did, on full MNIST: accuracy and time per epoch.

Usage (needs the full data; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/full_mnist_mlp.py [--epochs 22]

Prints a Markdown block for docs/performance.md. Reference: seed 000 reported test accuracy
0.9856 after 22 epochs (Keras 2, batch 128, validation on the test set).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import nbmnist
from nbmnist.display.console import ConsoleDisplay

DECLARATION = "430 322 relu he_normal bn dropout=0.5"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=22)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    run = nbmnist.train(
        DECLARATION,
        "mlp",
        "relu_2h",
        display=ConsoleDisplay(),
        epochs=args.epochs,
        batch_size=128,
        validation="test",
        seed=args.seed,
    )
    if "bundled sample" in run.data_source:
        raise SystemExit("full MNIST not found: set NBMNIST_DATA (this figure needs full data)")
    per_epoch = run.epoch_seconds
    print()
    print(f"| model | `{DECLARATION}` (`--epochs {args.epochs} --validation test`) |")
    print("| --- | --- |")
    print(f"| data | {run.data_source} (60,000 train / 10,000 test) |")
    print(f"| test accuracy | {run.test_accuracy:.4f} (seed 000 reported 0.9856) |")
    print(f"| test loss | {run.test_loss:.4f} (seed: 0.0515) |")
    print(
        f"| time per epoch | median {statistics.median(per_epoch):.2f} s, first "
        f"{per_epoch[0]:.2f} s (includes tracing) |"
    )
    print(
        f"| wall time | {run.wall_time_s:.1f} s for {run.epochs} epochs and the test evaluation |"
    )
    print(
        f"| machine | {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{nbmnist.backend.device_name()} |"
    )


if __name__ == "__main__":
    main()
