"""How fast does a bad cell come back? The parse-and-error path of every seed declaration,
valid and broken, per cell.

    make bench BENCH=bench/cells/test_parsing.py

Measures, in one process and without TensorFlow imported by it (checked): parse_declaration
plus the output head and the shape check for the 37 seed declarations (tests/seed_models.py),
and the same declarations each broken in five ways (a misspelt layer, a bad activation,
dropout 1.5, conv after flatten, an undefined {name}), through the %%mlp / %%cnn magic in a
real IPython shell up to the one-line error. Target (issue 3): a bad cell comes back in under
50 ms without importing TensorFlow.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from bench.harness import Result
from nbmnist import DeclarationError, parse_declaration
from tests.seed_models import SEED_MODELS, SWEEP_RATE

REPEAT = 200
BREAKS = [
    ("misspelt layer", lambda text: "dence 64\n" + text),
    (
        "bad activation",
        lambda text: (
            text.replace("relu", "rellu", 1) if "relu" in text else "dense 8 rellu\n" + text
        ),
    ),
    ("dropout 1.5", lambda text: text + "\ndropout 1.5"),
    ("conv after flatten", lambda text: "flatten\nconv 8 3\n" + text),
    ("undefined name", lambda text: text + "\ndropout {undefined_rate}"),
]
HEAVY = ("tensorflow", "keras", "jax", "torch")


def timed(function: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def row(path: str, times: list[float]) -> dict[str, Any]:
    ms = sorted(t * 1000 for t in times)
    return {
        "path": path,
        "cells timed": len(ms),
        "median (ms)": statistics.median(ms),
        "99th percentile (ms)": ms[int(0.99 * (len(ms) - 1))],
        "worst (ms)": ms[-1],
    }


def expect_error(text: str, kind: str, variables: dict[str, Any]) -> None:
    try:
        parse_declaration(text, kind, variables)  # type: ignore[arg-type]
    except DeclarationError:
        return
    raise AssertionError(f"no error for:\n{text}")


def measure(shell: Any) -> Result:
    already = {name for name in HEAVY if name in sys.modules}
    variables = {"rate": SWEEP_RATE}
    valid: list[float] = []
    for model in SEED_MODELS:
        valid += timed(
            lambda m=model: (
                parse_declaration(m.declaration, m.kind, variables).with_head(10).output_shapes()
            ),
            REPEAT,
        )
    broken: list[float] = []
    for model in SEED_MODELS:
        for _, breaking in BREAKS:
            text = breaking(model.declaration)
            broken += timed(lambda t=text, k=model.kind: expect_error(t, k, variables), REPEAT)
    cells: list[float] = []
    for model in SEED_MODELS:
        for _, breaking in BREAKS:
            cell = f"%%{model.kind}\n{breaking(model.declaration)}"
            for _ in range(max(1, REPEAT // 20)):
                start = time.perf_counter()
                result = shell.run_cell(cell, silent=True)
                cells.append(time.perf_counter() - start)
                assert result.error_in_exec is not None
    heavy = [name for name in HEAVY if name in sys.modules and name not in already]
    assert not heavy, f"the parse path imported {heavy}"
    return Result(
        [
            row(f"parse + head + shapes, {len(SEED_MODELS)} valid seed declarations", valid),
            row(
                f"parse to DeclarationError, {len(SEED_MODELS) * len(BREAKS)} broken cells",
                broken,
            ),
            row("bad cell through the magic in IPython, to the one-line error", cells),
        ],
        ["Target: a bad cell comes back in under 50 ms, TensorFlow not imported."],
    )


@pytest.mark.benchmark(group="parse")
def test_a_bad_cell_comes_back_fast(measured: Any, shell: Any) -> None:
    measured(lambda: measure(shell))
