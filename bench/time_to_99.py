"""Time to 99.0% MNIST test accuracy: nbmnist's ``--recipe fast`` vs the seed's Keras example.

Usage (full MNIST; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/time_to_99.py [--runs 3] [--baseline-epochs 6]

Both run through ``nbmnist.train`` in one process on the same data:
- fast: ``RECIPES["fast"]`` (its model and options; the stopping point, 3 epochs with a
  cosine schedule, was chosen on validation accuracy, never on the test set), ``--runs``
  times;
- baseline: seed 003's Keras example CNN with its recipe (Adadelta, learning rate 1.0 as in
  Keras 2, batch 128), for up to ``--baseline-epochs`` epochs (0: not run).
After every epoch the test set is evaluated for this measurement only (it feeds no training
decision), with the clock paused. Time to 99% = training wall clock from the start of
``fit`` to the end of the first epoch whose test accuracy is >= 0.990.
Targets: fast <= 20 s in every run (issue 12; <= 60 s in issue 7) and >= 3x faster than
the baseline (issue 7).
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

import nbmnist
from nbmnist import backend
from nbmnist.display.console import ConsoleDisplay
from nbmnist.recipes import RECIPES
from nbmnist.training import prepare_arrays

KERAS_EXAMPLE = (
    "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5"
)


def measure(
    text: str, kind: str, options: dict[str, Any], x_test: Any, y_test: Any
) -> list[tuple[float, float, float]]:
    """[(training seconds so far, validation accuracy, test accuracy)] after each epoch, the
    test evaluation itself left out of the time (a callback given to ``train``)."""
    import keras

    probes: list[tuple[float, float, float]] = []

    class Probe(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: Any = None) -> None:
            self.started, self.paused = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            test = self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)
            seconds = now - self.started - self.paused
            probes.append(
                (seconds, float((logs or {}).get("val_accuracy", 0)), float(test["accuracy"]))
            )
            self.paused += time.perf_counter() - now

    nbmnist.train(
        text, kind, display=ConsoleDisplay(io.StringIO()), live=False, callbacks=[Probe()],
        **options,
    )  # fmt: skip
    return probes


def first_99(probes: list[tuple[float, float, float]]) -> float | None:
    return next((seconds for seconds, _, test in probes if test >= 0.990), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-epochs", type=int, default=6)
    parser.add_argument("--runs", type=int, default=1, help="runs of the fast recipe")
    args = parser.parse_args()
    dataset = nbmnist.load_dataset("mnist")
    if dataset.is_sample:
        raise SystemExit("full MNIST not found: set NBMNIST_DATA")
    print(f"backend: {backend.import_keras().backend.backend()} on {backend.device_name()}")
    _, _, x_test, y_test = prepare_arrays(dataset, "cnn")
    fast = RECIPES["fast"]
    rows = {
        f"nbmnist --recipe fast, run {run}": measure(
            fast.declaration, "cnn", dict(fast.options), x_test, y_test
        )
        for run in range(1, args.runs + 1)
    }
    if args.baseline_epochs:
        rows["seed 003 Keras example (Adadelta 1.0, batch 128)"] = measure(
            KERAS_EXAMPLE,
            "cnn",
            {
                "epochs": args.baseline_epochs,
                "batch_size": 128,
                "optimizer": "adadelta",
                "learning_rate": 1.0,
                "validation": "split",
                "validation_split": 1 / 12,
            },
            x_test,
            y_test,
        )
    print("| recipe | epoch: seconds, val acc, test acc | time to 99.0% test accuracy |")
    print("| --- | --- | --- |")
    times = {}
    for name, probes in rows.items():
        epochs = "; ".join(
            f"{i}: {s:.1f} s, {v:.4f}, {t:.4f}" for i, (s, v, t) in enumerate(probes, 1)
        )
        times[name] = first_99(probes)
        reached = f"{times[name]:.1f} s" if times[name] else f"not within {probes[-1][0]:.0f} s"
        print(f"| {name} | {epochs} | {reached} |")
    fast_times = [times[name] for name in rows if name.startswith("nbmnist")]
    slowest = None if None in fast_times else max(fast_times)  # type: ignore[type-var]
    shown = "not reached in every run" if slowest is None else f"{slowest:.1f} s"
    print(f"\nfast recipe, slowest of {len(fast_times)} runs: {shown} (target <= 20 s)")
    base_time = times.get("seed 003 Keras example (Adadelta 1.0, batch 128)")
    if slowest and base_time:
        print(f"speed-up against the Keras example: {base_time / slowest:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
