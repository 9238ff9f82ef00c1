"""Time of the parse-and-error path: every seed declaration, valid and broken, per cell.

Usage:
    .venv/bin/python bench/parse_declarations.py [--repeat 200]

Measures, in one process and without TensorFlow imported (checked): parse_declaration plus
the output head and the shape check for the 37 seed declarations (tests/seed_models.py), and
the same declarations each broken in five ways (a misspelt layer, a bad activation, dropout
1.5, conv after flatten, an undefined {name}), through the %%mlp / %%cnn magic in a real
IPython shell up to the one-line error. Prints a Markdown table for docs/performance.md.
Target (issue 3): a bad cell comes back in under 50 ms without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nbmnist import DeclarationError, parse_declaration
from tests.seed_models import SEED_MODELS, SWEEP_RATE

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


def timed(function, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    variables = {"rate": SWEEP_RATE}

    valid: list[float] = []
    for model in SEED_MODELS:
        valid += timed(
            lambda m=model: (
                parse_declaration(m.declaration, m.kind, variables).with_head(10).output_shapes()
            ),
            args.repeat,
        )

    def expect_error(text: str, kind: str) -> None:
        try:
            parse_declaration(text, kind, variables)  # type: ignore[arg-type]
        except DeclarationError:
            return
        raise AssertionError(f"no error for:\n{text}")

    broken: list[float] = []
    for model in SEED_MODELS:
        for _, breaking in BREAKS:
            text = breaking(model.declaration)
            broken += timed(lambda t=text, k=model.kind: expect_error(t, k), args.repeat)

    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    cells: list[float] = []
    for model in SEED_MODELS:
        for _, breaking in BREAKS:
            cell = f"%%{model.kind}\n{breaking(model.declaration)}"
            for _ in range(max(1, args.repeat // 20)):
                start = time.perf_counter()
                result = shell.run_cell(cell, silent=True)
                cells.append(time.perf_counter() - start)
                assert result.error_in_exec is not None
    heavy = [name for name in ("tensorflow", "keras") if name in sys.modules]
    assert not heavy, f"imported {heavy}"

    def row(label: str, times: list[float]) -> str:
        ms = sorted(t * 1000 for t in times)
        return (
            f"| {label} | {len(ms):,} | {statistics.median(ms):.3f} | "
            f"{ms[int(0.99 * (len(ms) - 1))]:.3f} | {ms[-1]:.3f} |"
        )

    print("| path | cells timed | median (ms) | 99th percentile (ms) | worst (ms) |")
    print("| --- | --- | --- | --- | --- |")
    print(row(f"parse + head + shapes, {len(SEED_MODELS)} valid seed declarations", valid))
    print(row(f"parse to DeclarationError, {len(SEED_MODELS) * len(BREAKS)} broken cells", broken))
    print(row("bad cell through the magic in IPython, to the one-line error", cells))
    print("\nTensorFlow imported: no")


if __name__ == "__main__":
    main()
