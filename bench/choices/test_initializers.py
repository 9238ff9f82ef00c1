"""Building the lessons' models on JAX: Keras' own weight initialization (one compiled program
per initializer and weight shape) against nbmnist's (``backend.weights_initialized_per_layer``:
one program per layer layout, compiled at -O0 on a CPU).

    make bench BENCH=bench/choices/test_initializers.py
    python -m bench.choices.test_initializers [--part builds|first-cells|loads] [--repeat 3]

Builds, in notebook order, the models of lesson 01's MLP cells and lesson 02's CNN
cells, as ``nbmnist.build_model`` does for a training cell, three ways, alternating, in this
one process: Keras' own initialization; nbmnist's, a program per layer, at XLA's default
options; nbmnist's at ``JAX_INITIALIZER_OPTIONS["cpu"]`` (-O0). On a GPU or TPU, where nbmnist
leaves initialization to Keras, the last two measure what it would take there. Before each
way JAX's in-memory caches are cleared (``jax.clear_caches``) and its persistent cache is off,
so each starts cold, as a new kernel on a new machine does. Reported: the median seconds per
lesson (all its models) and the ratio to Keras' own. Then, each way in a
fresh process with an empty JAX cache (a new kernel), the first two training cells of a
notebook, whole ``nbmnist.train`` calls in fast mode on the bundled sample: seed 000's first
MLP and lesson 01's ``relu_3h``. Last, loading every model of each lesson saved (compiled,
optimizer built), from cold caches in this process: ``keras.saving.load_model``, which runs
every weight's initializer first, against ``backend.load_model`` (``Run.model``), which gives
the weights their saved values directly. Runs on JAX whatever ``KERAS_BACKEND`` says (the
other backends initialize and load as Keras does): each part runs as a program, in a process
of its own (the second program shown, which prints a table and the result's JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import nbformat
import pytest

from bench.harness import Result, child
from nbmnist import backend, build_model, parse_declaration
from nbmnist.backend import jax as backend_jax
from nbmnist.declaration import Declaration

REPO = Path(__file__).resolve().parents[2]
MODULE = __spec__.name  # also when run with python -m, where __name__ is "__main__"


def lesson_models(notebook: str) -> list[Declaration]:
    """The model of each ``%%mlp`` / ``%%cnn`` cell of ``notebooks/<notebook>`` (a sweep's
    cell once, its ``{rate}`` as 0.25: its points share one layout)."""
    cells = nbformat.read(REPO / "notebooks" / notebook, as_version=4).cells
    return [
        parse_declaration(cell.source.split("\n", 1)[1], cell.source[2:5], {"rate": 0.25})  # type: ignore[arg-type]
        for cell in cells
        if cell.cell_type == "code" and cell.source.startswith(("%%mlp ", "%%cnn "))
    ]


LESSONS = {
    f"lesson {number} ({len(models)} {kind} cells)": models
    for number, kind, models in (
        ("01", "MLP", lesson_models("01_mlp_mnist.ipynb")),
        ("02", "CNN", lesson_models("02_cnn_mnist.ipynb")),
    )
}


@contextlib.contextmanager
def keras_own() -> Iterator[None]:
    """Keras initializes the model's weights and, in ``fit``, the optimizer's slots."""
    with (
        mock.patch("nbmnist.model.weights_initialized_per_layer", contextlib.nullcontext),
        mock.patch.object(backend, "weights_initialized_per_layer", contextlib.nullcontext),
    ):
        yield


def per_layer(options: dict[str, object] | None) -> Callable[[], Any]:
    """nbmnist's initialization on this device, its programs compiled with ``options``. JAX is
    imported when the way is used, after nbmnist has set its XLA flags (``import_keras``)."""

    @contextlib.contextmanager
    def way() -> Iterator[None]:
        import jax

        with mock.patch.object(
            backend_jax, "JAX_INITIALIZER_OPTIONS", {jax.default_backend(): options}
        ):
            yield

    return way


CPU_OPTIONS = backend_jax.JAX_INITIALIZER_OPTIONS["cpu"]
WAYS: dict[str, Callable[[], Any]] = {
    "Keras' own": keras_own,
    "per layer, XLA's default options": per_layer(None),
    "per layer, -O0 (nbmnist on a CPU)": per_layer(CPU_OPTIONS),
}


def cold_seconds(items: list[Any], step: Callable[[Any], Any]) -> float:
    """Seconds to run ``step`` on each of ``items`` one after another, from cold caches
    (Keras' session, JAX's in-memory caches, nbmnist's initializer programs)."""
    import jax

    backend.import_keras().backend.clear_session()
    jax.clear_caches()
    backend_jax._INITIALIZERS.clear()
    started = time.perf_counter()
    for item in items:
        step(item)
    return time.perf_counter() - started


def build_all(models: list[Declaration]) -> float:
    """Seconds to build ``models`` one after another from cold caches."""
    return cold_seconds(models, build_model)


FIRST_CELLS = ("430 322 relu he_normal bn dropout=0.5", "320 270 162 relu he_normal bn dropout=0.5")


def first_cells(way: str) -> tuple[float, float]:
    """In this (fresh) process, with an empty JAX cache: seconds of ``nbmnist.train`` in fast
    mode for seed 000's first MLP then lesson 01's ``relu_3h``, ``way`` initializing, and the
    seconds of that spent building the two models."""
    import io
    import tempfile

    import nbmnist
    from nbmnist import training
    from nbmnist.display.console import ConsoleDisplay

    os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="nbmnist-bench-")
    backend.import_keras()
    building = [0.0]

    def timed_build(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return build_model(*args, **kwargs)
        finally:
            building[0] += time.perf_counter() - started

    with WAYS[way](), mock.patch.object(training, "build_model", timed_build):
        started = time.perf_counter()
        for text in FIRST_CELLS:
            nbmnist.train(text, display=ConsoleDisplay(io.StringIO()), fast=True, overwrite=True)
        return time.perf_counter() - started, building[0]


def first_cells_table(repeat: int) -> Result:
    """A new kernel's first two training cells, each way in a fresh process, alternating."""
    import subprocess

    ways = ["Keras' own", "per layer, -O0 (nbmnist on a CPU)"]
    seconds: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for round_ in range(repeat):
        for way in ways if round_ % 2 == 0 else reversed(ways):
            out = subprocess.run(
                [sys.executable, "-m", MODULE, "--first-cells", way],
                capture_output=True, text=True, check=True, cwd=REPO,
            ).stdout  # fmt: skip
            cells, building = out.split()[-2:]
            seconds[way].append((float(cells), float(building)))
    return Result(
        [
            {
                "initialization": way,
                "the two cells, each round (s)": " / ".join(f"{c:.1f}" for c, _ in seconds[way]),
                "building their models (s)": " / ".join(f"{b:.1f}" for _, b in seconds[way]),
            }
            for way in ways
        ],
        ["A new kernel's first two cells (fast mode), a fresh process each, every round."],
    )


def medians(
    seconds: dict[tuple[str, str], list[float]], lessons: list[str], ways: list[str], note: str
) -> Result:
    """The median seconds per lesson and way, and the ratio to the first way (Keras')."""
    rows = []
    for lesson in lessons:
        base = statistics.median(seconds[(lesson, ways[0])])
        row: dict[str, Any] = {"lesson": lesson}
        for way in ways:
            median = statistics.median(seconds[(lesson, way)])
            row[way] = f"{median:.2f} s ({base / median:.1f}x)"
        rows.append(row)
    return Result(rows, [note])


def save_all(models: list[Declaration], folder: Path) -> list[Path]:
    """Save each of ``models`` compiled, with its optimizer built (its state is saved, as
    after training), in ``folder``."""
    paths = []
    for index, declaration in enumerate(models):
        model = build_model(declaration)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)
        paths.append(folder / f"{index}.keras")
        model.save(paths[-1])
    return paths


def load_all(paths: list[Path], loader: Callable[[Path], Any]) -> float:
    """Seconds to load the models at ``paths`` one after another from cold caches."""
    return cold_seconds(paths, loader)


def loads_table(repeat: int) -> Result:
    """Each lesson's saved models loaded both ways, alternating, in this process."""
    import tempfile

    import jax

    keras = backend.import_keras()
    loaders: dict[str, Callable[[Path], Any]] = {
        "keras.saving.load_model": lambda path: keras.saving.load_model(path, safe_mode=True),
        "backend.load_model (nbmnist)": backend.load_model,
    }
    folder = Path(tempfile.mkdtemp(prefix="nbmnist-bench-"))
    saved = {}
    for index, (lesson, models) in enumerate(LESSONS.items()):
        (folder / str(index)).mkdir()
        saved[lesson] = save_all(models, folder / str(index))
    seconds: dict[tuple[str, str], list[float]] = {}
    for round_ in range(repeat):
        order = list(loaders) if round_ % 2 == 0 else list(reversed(loaders))
        for lesson, paths in saved.items():
            for way in order:
                seconds.setdefault((lesson, way), []).append(load_all(paths, loaders[way]))
    note = f"Loading the saved models, cold caches (JAX {jax.__version__}; median of {repeat})."
    return medians(seconds, list(saved), list(loaders), note)


def builds_table(repeat: int) -> Result:
    import jax

    seconds: dict[tuple[str, str], list[float]] = {}
    for round_ in range(repeat):
        order = list(WAYS) if round_ % 2 == 0 else list(reversed(WAYS))
        for lesson, models in LESSONS.items():
            for way in order:
                with WAYS[way]():
                    seconds.setdefault((lesson, way), []).append(build_all(models))
    note = f"JAX {jax.__version__} on {jax.devices()[0].device_kind}; median of {repeat}."
    return medians(seconds, list(LESSONS), list(WAYS), note)


PARTS = {"builds": builds_table, "first-cells": first_cells_table, "loads": loads_table}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--part", choices=list(PARTS), default="builds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--first-cells", metavar="WAY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_cells:
        print(*first_cells(args.first_cells))
        return
    if args.part != "first-cells":
        backend.import_keras()  # first: nbmnist's XLA settings, read when JAX starts
        import jax

        jax.config.update("jax_enable_compilation_cache", False)
    result = PARTS[args.part](args.repeat)
    result.backend = "jax"
    print(result.markdown())
    print(result.to_json())


JAX = {"KERAS_BACKEND": "jax"}


@pytest.mark.benchmark(group="jax-initializers")
def test_building_the_lessons_models(measured: Any) -> None:
    measured(lambda: child(MODULE, "--part", "builds", env=JAX))


@pytest.mark.benchmark(group="jax-first-cells")
def test_a_new_kernels_first_two_cells(measured: Any) -> None:
    measured(lambda: child(MODULE, "--part", "first-cells", env=JAX))


@pytest.mark.benchmark(group="jax-loads")
def test_loading_the_lessons_saved_models(measured: Any) -> None:
    measured(lambda: child(MODULE, "--part", "loads", env=JAX))


if __name__ == "__main__":
    os.environ["KERAS_BACKEND"] = "jax"
    main()
