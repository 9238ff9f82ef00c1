"""How much memory does a kernel keep after a lesson? Lesson 01's model cells in fast mode: nbmnist's cells against
the plain Keras code they mean (``--show-code``), each in a fresh process, per backend.

Each ``%%mlp`` cell of notebooks/01_mlp_mnist.ipynb runs in an IPython shell with
``NBMNIST_FAST=1`` (the bundled sample, at most 2 epochs on 2,000 images); the plain side runs
each cell's printed Keras code, its ``load_data()`` given the same sample. Reported: the
process's resident memory (RSS) at the end, and nbmnist's minus plain Keras'. Target (issue 32):
within 100 MB on every backend.

    make bench BENCH=bench/memory/test_kernel_memory.py

Results: docs/performance.md, "How much memory does a kernel keep after a lesson?".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from bench.harness import Result, rss_mb

REPO = Path(__file__).resolve().parents[2]
MODULE = __spec__.name  # also when run with python -m, where __name__ is "__main__"
LESSON = REPO / "notebooks" / "01_mlp_mnist.ipynb"


def cells() -> list[str]:
    notebook = nbformat.read(LESSON, as_version=4)
    return [  # not a cell whose magic line reads a variable another cell sets ({lr})
        c.source
        for c in notebook.cells
        if c.cell_type == "code"
        and c.source.startswith("%%mlp")
        and "{" not in c.source.split("\n", 1)[0]
    ]


def run_nbmnist() -> dict[str, float]:
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    for source in cells():
        with contextlib.redirect_stdout(io.StringIO()):
            result = shell.run_cell(source)
        if not result.success:
            raise SystemExit(f"cell failed: {source.splitlines()[0]}: {result.error_in_exec}")
    return {"rss_mb": rss_mb()}


def codes() -> list[str]:
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    found = []
    for source in cells():
        first, _, body = source.partition("\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            shell.run_cell(f"{first} --show-code\n{body}")
        found.append(out.getvalue())
    return found


def run_plain(programs: list[str]) -> dict[str, float]:
    import keras

    from nbmnist.data import load_dataset

    sample = load_dataset("mnist", source="sample")
    data = ((sample.x_train, sample.y_train), (sample.x_test, sample.y_test))
    keras.datasets.mnist.load_data = lambda *a, **k: data
    for program in programs:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(program, "<show-code>", "exec"), {})
    return {"rss_mb": rss_mb()}


def child(side: str, env: dict[str, str]) -> str:
    """The last line a fresh process prints for ``side``."""
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--child", side],
        env={**env, "NBMNIST_FAST": "1", "NBMNIST_DOWNLOAD": "0"},
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return result.stdout.strip().splitlines()[-1]


def measure(backend: str, codes_file: Path) -> Result:
    env = {**os.environ, "KERAS_BACKEND": backend}
    codes_file.write_text(child("codes", env))
    env["NBMNIST_BENCH_CODES"] = str(codes_file)
    ours = json.loads(child("nbmnist", env))["rss_mb"]
    plain = json.loads(child("plain", env))["rss_mb"]
    return Result(
        [
            {
                "backend": backend,
                "nbmnist (MiB)": ours,
                "plain Keras (MiB)": plain,
                "difference (MiB)": f"{ours - plain:+,.0f}",
            }
        ],
        ["Target: within 100 MB on every backend."] if backend == "jax" else [],
        backend=backend,
    )


@pytest.mark.benchmark(group="kernel-memory")
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_kernels_memory_after_lesson_01(measured: Any, backend: str, tmp_path: Path) -> None:
    measured(lambda: measure(backend, tmp_path / "codes.json"))


if __name__ == "__main__":
    side = sys.argv[2]
    if side == "codes":
        print(json.dumps(codes()))
    elif side == "plain":
        print(
            json.dumps(run_plain(json.loads(Path(os.environ["NBMNIST_BENCH_CODES"]).read_text())))
        )
    else:
        print(json.dumps(run_nbmnist()))
