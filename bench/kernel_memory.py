"""Memory a kernel holds after lesson 01's model cells in fast mode: nbmnist's cells against
the plain Keras code they mean (``--show-code``), each in a fresh process, per backend.

Each ``%%mlp`` cell of notebooks/01_mlp_mnist.ipynb runs in an IPython shell with
``NBMNIST_FAST=1`` (the bundled sample, at most 2 epochs on 2,000 images); the plain side runs
each cell's printed Keras code, its ``load_data()`` given the same sample. Reported: the
process's resident memory (RSS) at the end, and nbmnist's minus plain Keras'. Target (issue 32):
within 100 MB on every backend.

    python bench/kernel_memory.py [BACKEND ...]      (default: tensorflow jax)

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

import nbformat

REPO = Path(__file__).resolve().parent.parent
LESSON = REPO / "notebooks" / "01_mlp_mnist.ipynb"


def cells() -> list[str]:
    notebook = nbformat.read(LESSON, as_version=4)
    return [
        c.source for c in notebook.cells if c.cell_type == "code" and c.source.startswith("%%mlp")
    ]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def run_nbmnist() -> dict[str, float]:
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmnist")
    for source in cells():
        with contextlib.redirect_stdout(io.StringIO()):
            result = shell.run_cell(source)
        if not result.success:
            raise SystemExit(f"cell failed: {source.splitlines()[0]}: {result.error_in_exec}")
    return {"rss_mb": _rss_mb()}


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
    return {"rss_mb": _rss_mb()}


def child(side: str) -> dict[str, float]:
    env = {**os.environ, "NBMNIST_FAST": "1", "NBMNIST_DOWNLOAD": "0", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, __file__, "--child", side],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        side = sys.argv[2]
        if side == "codes":
            print(json.dumps(codes()))
            return
        if side == "plain":
            programs = json.loads(Path(os.environ["NBMNIST_BENCH_CODES"]).read_text())
            print(json.dumps(run_plain(programs)))
            return
        print(json.dumps(run_nbmnist()))
        return
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("backends", nargs="*", help="default: tensorflow jax")
    backends = parser.parse_args().backends or ["tensorflow", "jax"]
    print("| backend | nbmnist (MB) | plain Keras (MB) | difference (MB) |")
    print("| --- | --- | --- | --- |")
    for backend in backends:
        os.environ["KERAS_BACKEND"] = backend
        env = {**os.environ, "NBMNIST_FAST": "1", "NBMNIST_DOWNLOAD": "0", "PYTHONPATH": str(REPO)}
        programs = (
            subprocess.run(
                [sys.executable, __file__, "--child", "codes"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        codes_file = REPO / "build" / f"kernel_memory_codes_{backend}.json"
        codes_file.parent.mkdir(exist_ok=True)
        codes_file.write_text(programs)
        os.environ["NBMNIST_BENCH_CODES"] = str(codes_file)
        ours, plain = child("nbmnist")["rss_mb"], child("plain")["rss_mb"]
        print(f"| {backend} | {ours:,.0f} | {plain:,.0f} | {ours - plain:+,.0f} |")


if __name__ == "__main__":
    main()
