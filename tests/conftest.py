"""Shared fixtures: an offline, isolated environment and an IPython shell with nbmnist loaded.

Tests never depend on ../shared: data comes from the sample nbmnist ships, downloads are
switched off (NBMNIST_DOWNLOAD=0) and Keras' cache is a temporary folder made for the run (it
holds no datasets; with JAX, compiled programs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# One Keras home for the whole run: made by the first process (pytest, or pytest-xdist's
# controller) and inherited by its workers and by the kernels and subprocesses they start.
# With JAX the persistent compilation cache ($KERAS_HOME/nbmnist-jax-cache) is then shared,
# so a program that one test compiled is loaded, not compiled again, by the next. The run
# store stays one per process: a lesson's runs.json lists the runs of that store.
_OWNS_KERAS_HOME = "NBMNIST_TEST_KERAS_HOME" not in os.environ
if _OWNS_KERAS_HOME:
    os.environ["NBMNIST_TEST_KERAS_HOME"] = tempfile.mkdtemp(prefix="nbmnist-keras-home-")
_KERAS_HOME = os.environ["NBMNIST_TEST_KERAS_HOME"]
_RUNS = tempfile.mkdtemp(prefix="nbmnist-runs-")
os.environ["KERAS_HOME"] = _KERAS_HOME
os.environ["NBMNIST_DOWNLOAD"] = "0"
os.environ["NBMNIST_RUNS"] = _RUNS  # kernels, subprocesses
os.environ.pop("NBMNIST_DATA", None)
os.environ.pop("NBMNIST_FAST", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent

# Small models that train in about a second per epoch on the sample.
TINY_MLP = "dense 32 relu"
TINY_CNN = "conv 8 3x3 relu\nmaxpool 2\nflatten"


# the longest groups of tests, longest first (pytest's --durations in make test), started
# first so that none is left running alone at the end of a parallel run
LONGEST_FIRST = (
    "lesson-02_cnn_mnist",
    "papermill-02_cnn_mnist",  # tests/test_runners.py
    "lesson-01_mlp_mnist",
    "nbconvert-01_mlp_mnist",
    "papermill-01_mlp_mnist",
    "test_workers",
    "test_assignment",
    "test_jupyterlab",
    "lesson-03_fashion_mnist_regularization",
)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Each process removes its run store; the one that made the Keras home removes it once
    every test has run."""
    shutil.rmtree(_RUNS, ignore_errors=True)
    if _OWNS_KERAS_HOME:
        shutil.rmtree(os.environ.pop("NBMNIST_TEST_KERAS_HOME"), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist's ``--dist loadgroup`` (make test), the tests that share a lesson's
    execution (``test_notebook.py``'s ``executed`` fixture) go to one worker, so each lesson
    runs once; modules whose tests share a costly fixture mark themselves ``xdist_group``.
    The longest groups run first."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "executed" in callspec.params:
            lesson = Path(callspec.params["executed"]).stem
            item.add_marker(pytest.mark.xdist_group(f"lesson-{lesson}"))

    def rank(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        name = group.args[0] if group is not None and group.args else None
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a group, and of the rest, is kept


@pytest.fixture(autouse=True)
def _fresh_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with no recorded runs, an empty run store and no datasets in memory."""
    from nbmnist.data import clear_cache
    from nbmnist.runs import clear

    clear()
    clear_cache(own=True)
    monkeypatch.setenv("KERAS_HOME", _KERAS_HOME)
    monkeypatch.setenv("NBMNIST_RUNS", str(tmp_path / "runs"))
    yield
    clear()
    clear_cache(own=True)


class Shell:
    """An IPython shell with nbmnist loaded; ``run`` raises the cell's error."""

    def __init__(self) -> None:
        from IPython import get_ipython
        from IPython.testing.globalipapp import start_ipython

        # start_ipython makes one shell per process and returns None after the first call
        self.ip = start_ipython() or get_ipython()
        self.ip.run_line_magic("load_ext", "nbmnist")

    def run(self, cell: str) -> None:
        result = self.ip.run_cell(cell)
        if result.error_before_exec:
            raise result.error_before_exec
        if result.error_in_exec:
            raise result.error_in_exec

    def run_expecting_error(self, cell: str) -> BaseException:
        result = self.ip.run_cell(cell)
        error = result.error_before_exec or result.error_in_exec
        assert error is not None, f"cell ran without error:\n{cell}"
        return error

    @property
    def ns(self) -> dict:
        return self.ip.user_ns


@pytest.fixture
def shell() -> Shell:
    shell = Shell()
    shell.ip.run_line_magic("config", "NbmnistMagics.fast = False")
    shell.ip.run_line_magic("config", "NbmnistMagics.seed = None")
    shell.ip.run_line_magic("config", "NbmnistMagics.live = True")
    return shell


def run_generated_code(
    code: str,
    monkeypatch: pytest.MonkeyPatch,
    train: bool,
    size: int = 256,
    namespace: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute generated Keras code (``keras_code``) on the bundled sample (no download), in
    ``namespace`` (a notebook's variables: own data); optionally skip fitting (then
    ``fit``'s model and arguments are returned)."""
    import keras

    from nbmnist import load_dataset

    calls: dict[str, Any] = {}

    def load_data() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        sample = load_dataset("mnist", source="sample")
        return (sample.x_train[:size], sample.y_train[:size]), (
            sample.x_test[:64],
            sample.y_test[:64],
        )

    monkeypatch.setattr(keras.datasets.mnist, "load_data", load_data)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", load_data)
    monkeypatch.setattr(keras.Model, "summary", lambda self, **kw: None)
    if not train:

        def fit(self: keras.Model, x: Any, y: Any, **kwargs: Any) -> None:
            calls["model"], calls["fit"] = self, kwargs

        monkeypatch.setattr(keras.Model, "fit", fit)
        monkeypatch.setattr(keras.Model, "evaluate", lambda self, x, y, **kw: (0.0, 0.0))
    namespace = dict(namespace or {})
    exec(compile(code, "<generated>", "exec"), namespace)
    calls.setdefault("model", namespace["model"])
    calls["namespace"] = namespace
    return calls


def make_run(name: str, accuracy: float | None, **extra: object) -> Any:
    """A completed run record (no model), for tables and plots; ``extra`` overrides fields."""
    from nbmnist.runs import Run

    fields: dict = dict(
        name=name,
        kind="mlp",
        declaration="430 322 relu bn dropout=0.5",
        options={"optimizer": "adam", "loss": "categorical_crossentropy", "data": "mnist"},
        history={"loss": [0.4, 0.2], "val_accuracy": [0.95, 0.9856]},
        test_loss=0.051465931,
        test_accuracy=accuracy,
        num_params=482_570,
        wall_time_s=79.24,
        data_source="../shared/data/mnist",
        status="completed",
        architecture="dense 430-322-10",
        uses_batchnorm=True,
        dropout_rates=(0.5,),
    )
    fields.update(extra)
    return Run(**fields)


def headless(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a notebook runner's command (``jupyter nbconvert``, ``papermill``, ``python -m
    nbmnist``; this environment's first on the PATH); fail with its output if it fails."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    environment = {**os.environ, "PATH": path, **env}
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done


def outputs(path: Path) -> str:
    """An executed notebook's outputs as JSON text; fails if a cell raised."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return json.dumps([c.get("outputs", []) for c in notebook.cells])
