"""What grouping batches (``steps_per_execution``) costs and saves on the active backend, and
so how long a run must be before it pays (``nbmnist.backend.tensorflow.TENSORFLOW_GROUPING_MIN_STEPS``).

    make bench BENCH=bench/choices/test_grouping.py      (full MNIST)

Part 1, for seed 000's first MLP (430-322, batch norm, dropout) and seed 003's Keras example
CNN (``tests/seed_models.py``) at batch 128: one epoch of 8 and of 400 (MLP) or 120 (CNN)
batches, 10% more images held out to validate on, one batch per call against the automatic
group (``--steps-per-execution`` given explicitly), alternating, in this one process. A run's time is ``fixed + steps x
per_step``: the two lengths give both, and ``(fixed_grouped - fixed_one) / (per_step_one -
per_step_grouped)`` is the number of steps from which grouping pays.

Part 2, fast mode (``fast=True``: the bundled sample, 2 epochs): whole ``train`` calls with
the automatic choice against the group the model would have had before short runs stopped
being grouped, for lesson 02's largest CNN (``k3_7``, 2 batches an epoch) and seed 000's MLP.

Medians over ``REPEAT`` rounds after one warm-up round. Data: part 1 what ``train`` finds
(``$NBMNIST_DATA``, the Keras cache, else the bundled sample, which holds 42 batches; a step's
time does not depend on which images), part 2 the bundled sample.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from bench.harness import Result
from nbmnist import load_dataset, parse_declaration, train
from nbmnist.backend import auto_steps_per_execution, import_keras
from nbmnist.display.console import ConsoleDisplay
from tests.seed_models import SEED_MODELS

REPO = Path(__file__).resolve().parents[2]
REPEAT = 3

SEED_000 = next((m.kind, m.declaration) for m in SEED_MODELS if m.seed == "000")  # 430-322
KERAS_EXAMPLE = next((m.kind, m.declaration) for m in SEED_MODELS if m.seed == "003")
LESSON_02 = nbformat.read(REPO / "notebooks" / "02_cnn_mnist.ipynb", as_version=4)
K3_7 = next(  # lesson 02's largest CNN: the cell's body, without its magic line
    ("cnn", cell.source.split("\n", 1)[1])
    for cell in LESSON_02.cells
    if cell.source.startswith("%%cnn k3_7 ")
)
QUIET = ConsoleDisplay(open(os.devnull, "w"))  # noqa: SIM115


def seconds(model: tuple[str, str], steps_per_execution: int | None, **options: Any) -> float:
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


def epochs_of(
    model: tuple[str, str], lengths: tuple[int, int], steps_per_execution: int
) -> dict[tuple[int, int], float]:
    """Seconds of a one-epoch run of each length (in batches of 128), by (group, length)."""
    return {
        (steps_per_execution, steps): seconds(
            model, steps_per_execution, epochs=1, train_size=128 * steps * 10 // 9, batch_size=128
        )
        for steps in lengths
    }


def whole_runs(
    model: tuple[str, str], options: dict[str, Any], steps_per_execution: int | None
) -> dict[int | None, float]:
    return {steps_per_execution: seconds(model, steps_per_execution, **options)}


def rounds(
    repeat: int, settings: tuple[Any, Any], measure: Callable[[Any], dict[Any, float]]
) -> dict[Any, list[float]]:
    """``measure`` each of two settings once a round, alternating which goes first; the
    seconds of ``repeat`` rounds after one warm-up round, by key."""
    times: dict[Any, list[float]] = {}
    for round_ in range(repeat + 1):
        for setting in settings if round_ % 2 else settings[::-1]:
            for key, took in measure(setting).items():
                if round_:
                    times.setdefault(key, []).append(took)
    return times


def part_1(repeat: int) -> Result:
    available = len(load_dataset("mnist", warn=False).y_train) * 9 // 10 // 128  # 10% validate
    rows = []
    for label, model, most in (
        ("seed 000 MLP", SEED_000, 400),
        ("Keras example CNN", KERAS_EXAMPLE, 120),
    ):
        lengths = (8, min(most, available))
        group = auto_group(model, 128)
        times = rounds(
            repeat,
            (1, group),
            functools.partial(epochs_of, model, lengths),
        )
        fit = {}
        for spe in (1, group):
            short, long = (statistics.median(times[spe, n]) for n in lengths)
            per_step = (long - short) / (lengths[1] - lengths[0])
            fit[spe] = (short - lengths[0] * per_step, per_step)
        (fixed_1, step_1), (fixed_g, step_g) = fit[1], fit[group]
        pays = (fixed_g - fixed_1) / (step_1 - step_g) if step_1 > step_g else float("inf")
        rows.append(
            {
                f"{backend_name()}, batch 128": f"{label} ({lengths[0]} and {lengths[1]} steps)",
                "one batch a call: fixed (s)": fixed_1,
                "one batch a call: ms / step": step_1 * 1000,
                "grouped: size": group,
                "grouped: fixed (s)": fixed_g,
                "grouped: ms / step": step_g * 1000,
                "grouping pays from (steps)": pays if pays != float("inf") else "never",
            }
        )
    return Result(rows)


def part_2(repeat: int) -> Result:
    rows = []
    for label, model, batch_size in (
        ("lesson 02 k3_7 CNN", K3_7, 120),
        ("seed 000 MLP", SEED_000, 128),
    ):
        options = {"epochs": 12, "batch_size": batch_size, "validation": "test", "fast": True}
        before = auto_group(model, batch_size)  # train() caps a group at one epoch
        times = rounds(
            repeat,
            (before, None),
            functools.partial(whole_runs, model, options),
        )
        old, new = statistics.median(times[before]), statistics.median(times[None])
        rows.append(
            {
                f"{backend_name()}, fast mode, whole train()": label,
                "grouped as before: size": before,
                "grouped as before (s)": old,
                "automatic (s)": new,
                "saved (s)": old - new,
            }
        )
    return Result(rows)


@pytest.mark.benchmark(group="grouping")
def test_what_grouping_costs_and_saves(measured: Any, full_mnist: Any) -> None:
    measured(lambda: part_1(REPEAT))


@pytest.mark.benchmark(group="grouping-short-runs")
def test_short_runs_are_not_grouped(measured: Any) -> None:
    measured(lambda: part_2(REPEAT))
