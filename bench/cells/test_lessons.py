"""How long does each lesson take in fast mode (as CI and a grader run it)? Time and text of
every training cell of the lesson notebooks.

    make bench BENCH=bench/cells/test_lessons.py

Executes each notebook headless with ``--fast`` (bundled sample, at most 2 epochs on 2,000
images; sweeps: 3 grid points) and reads each %%mlp / %%cnn cell's wall time from the
kernel's execution timestamps and its lines of text output. Targets (issue 6): every
training cell < 15 s on a 2-core CPU (half of nbgrader's 30 s default) and < 100 lines.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from bench.harness import Result
from nbmnist.__main__ import execute_notebook

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def seconds(cell: nbformat.NotebookNode) -> float:
    meta = cell.metadata.get("execution", {})
    start = datetime.datetime.fromisoformat(meta["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(meta["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def measure(path: Path, out: Path) -> Result:
    start = time.perf_counter()
    executed, _ = execute_notebook(path, out, fast=True, timeout=600)
    total = time.perf_counter() - start
    cells = [
        c
        for c in nbformat.read(executed, as_version=4).cells
        if c.cell_type == "code" and c.source.startswith(("%%mlp", "%%cnn"))
    ]
    slowest = max(cells, key=seconds)
    lines = max(
        len("".join(o.get("text", "") for o in c.outputs if o.output_type == "stream").splitlines())
        for c in cells
    )
    return Result(
        [
            {
                "notebook": path.name,
                "training cells": len(cells),
                "slowest cell (s)": seconds(slowest),
                "slowest cell": slowest.source.split()[1],
                "most lines of text": lines,
                "whole notebook (s)": total,
            }
        ]
    )


@pytest.mark.benchmark(group="lessons-fast")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_lesson_in_fast_mode(measured: Any, path: Path, tmp_path: Path) -> None:
    measured(lambda: measure(path, tmp_path))
