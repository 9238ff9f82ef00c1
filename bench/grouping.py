"""What grouping batches (``steps_per_execution``) costs and saves on the active backend, and
so how long a run must be before it pays (``backend.TENSORFLOW_GROUPING_MIN_STEPS``).

Usage:
    NBMNIST_DATA=../shared/data .venv/bin/python bench/grouping.py [--repeat 3]

Part 1, for seed 000's MLP (512-512) and the Keras example CNN at batch 128: one epoch of 8
and of 400 (MLP) or 120 (CNN) batches, 10% more images held out to validate on, one batch per call against the automatic group (``--steps-per-execution``
given explicitly), alternating, in this one process. A run's time is ``fixed + steps x
per_step``: the two lengths give both, and ``(fixed_grouped - fixed_one) / (per_step_one -
per_step_grouped)`` is the number of steps from which grouping pays.

Part 2, fast mode (``fast=True``: the bundled sample, 2 epochs): whole ``train`` calls with
the automatic choice against the group the model would have had before short runs stopped
being grouped, for lesson 02's largest CNN (``k3_7``, 2 batches an epoch) and seed 000's MLP.

Medians over ``--repeat`` rounds after one warm-up round. Data: part 1 what ``train`` finds
(``$NBMNIST_DATA``, the Keras cache, else the bundled sample, which holds 42 batches; a step's
time does not depend on which images), part 2 the bundled sample.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from nbmnist import load_dataset, parse_declaration, train
from nbmnist.backend import auto_steps_per_execution, import_keras
from nbmnist.display.console import ConsoleDisplay

SEED_000 = ("mlp", "dense 512 relu\ndense 512 relu")
KERAS_EXAMPLE = (
    "cnn",
    "conv 32 3 relu | maxpool 2\nconv 64 3 relu | maxpool 2\nflatten\ndropout 0.5",
)
K3_7 = (
    "cnn",
    "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
    "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
    "conv 64 3x3 same relu he_normal | dropout 0.25 | bn x5\n"
    "flatten\n"
    "dense 128 relu he_normal | dropout 0.5 | bn",
)
QUIET = ConsoleDisplay(open(os.devnull, "w"))  # noqa: SIM115


def seconds(model: tuple[str, str], steps_per_execution: int | None, **options: object) -> float:
    """Wall seconds of one whole ``train`` call (build, compile, fit, record)."""
    kind, text = model
    started = time.perf_counter()
    train(
        text,
        kind=kind,  # type: ignore[arg-type]
        name="bench",
        overwrite=True,
        display=QUIET,
        show_summary=False,
        steps_per_execution=steps_per_execution,
        **options,
    )
    return time.perf_counter() - started


def backend_name() -> str:
    return str(import_keras().backend.backend())


def auto_group(model: tuple[str, str], batch_size: int) -> int:
    kind, text = model
    return auto_steps_per_execution(parse_declaration(text, kind), batch_size)  # type: ignore[arg-type]


def part_1(repeat: int) -> None:
    available = len(load_dataset("mnist", warn=False).y_train) * 9 // 10 // 128  # 10% validate
    print(
        f"| {backend_name()}, batch 128 | one per call: fixed s, ms/step | grouped (size): "
        "fixed s, ms/step | grouping pays from |"
    )
    print("| --- | --- | --- | --- |")
    for label, model, most in (
        ("seed 000 MLP", SEED_000, 400),
        ("Keras example CNN", KERAS_EXAMPLE, 120),
    ):
        lengths = (8, min(most, available))
        group = auto_group(model, 128)
        times: dict[tuple[int, int], list[float]] = {}
        for round_ in range(repeat + 1):
            for spe in (1, group) if round_ % 2 else (group, 1):
                for steps in lengths:
                    took = seconds(
                        model, spe, epochs=1, train_size=128 * steps * 10 // 9, batch_size=128
                    )
                    if round_:  # the first round warms up
                        times.setdefault((spe, steps), []).append(took)
        fit = {}
        for spe in (1, group):
            short, long = (statistics.median(times[spe, n]) for n in lengths)
            per_step = (long - short) / (lengths[1] - lengths[0])
            fit[spe] = (short - lengths[0] * per_step, per_step)
        (fixed_1, step_1), (fixed_g, step_g) = fit[1], fit[group]
        pays = (fixed_g - fixed_1) / (step_1 - step_g) if step_1 > step_g else float("inf")
        print(
            f"| {label} ({lengths[0]} and {lengths[1]} steps) | {fixed_1:.2f}, "
            f"{step_1 * 1000:.1f} | ({group}) {fixed_g:.2f}, {step_g * 1000:.1f} | "
            f"{pays:.0f} steps |"
        )


def part_2(repeat: int) -> None:
    print()
    print(
        f"| {backend_name()}, fast mode, whole train() | grouped as before (size) | "
        "automatic (size) | saved |"
    )
    print("| --- | --- | --- | --- |")
    for label, model, batch_size in (
        ("lesson 02 k3_7 CNN", K3_7, 120),
        ("seed 000 MLP", SEED_000, 128),
    ):
        options = {"epochs": 12, "batch_size": batch_size, "validation": "test", "fast": True}
        before = auto_group(model, batch_size)  # train() caps a group at one epoch
        times: dict[int | None, list[float]] = {}
        for round_ in range(repeat + 1):
            for spe in (before, None) if round_ % 2 else (None, before):
                took = seconds(model, spe, **options)
                if round_:
                    times.setdefault(spe, []).append(took)
        old, new = statistics.median(times[before]), statistics.median(times[None])
        print(f"| {label} | {old:.2f} s ({before}) | {new:.2f} s | {old - new:.2f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("NBMNIST_RUNS", "build/bench-runs")
    part_1(args.repeat)
    part_2(args.repeat)


if __name__ == "__main__":
    main()
