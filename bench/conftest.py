"""The suite's fixtures: a benchmark's measurement run once under pytest-benchmark's clock and
its figures kept in the results file, the full data, a run store of its own, and the machine
described in every results file."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import harness


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    """pytest-benchmark describes the processor and Python; added: memory, Keras, the device."""
    machine_info["nbmnist"] = harness.machine()


@pytest.fixture
def measured(benchmark: Any) -> Callable[[Callable[[], harness.Result]], harness.Result]:
    """``measured(measure)``: runs ``measure`` once under pytest-benchmark (its wall time is
    the benchmark's time) and keeps the rows and notes it returns in the results file
    (``extra_info``), from which ``tools/bench_tables.py`` writes the performance page's
    tables. The figures are the rows: most benchmarks measure several things side by side
    within one call, which pytest-benchmark's repeated rounds of one callable cannot."""

    def run(measure: Callable[[], harness.Result]) -> harness.Result:
        result: harness.Result = benchmark.pedantic(measure, rounds=1, iterations=1)
        assert result.rows, "a benchmark measured nothing"
        benchmark.extra_info["rows"] = result.rows
        benchmark.extra_info["notes"] = result.notes
        if result.backend is not None:
            benchmark.extra_info["keras_backend"] = result.backend
        return result

    return run


@pytest.fixture(autouse=True)
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Runs go to a store of their own, not the repository's nbmnist-runs/."""
    monkeypatch.setenv("NBMNIST_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "0")
    yield tmp_path / "runs"


@pytest.fixture(scope="session")
def full_mnist() -> Any:
    """Full MNIST (``NBMNIST_DATA``, else ../shared/data, else the Keras cache); a benchmark
    that needs it fails with what to set rather than measure the bundled sample."""
    harness.full_data()
    import nbmnist

    dataset = nbmnist.load_dataset("mnist", warn=False)
    if dataset.is_sample:
        pytest.fail("full MNIST not found: set NBMNIST_DATA to the folder holding mnist/")
    return dataset


@pytest.fixture(scope="session")
def shell() -> Any:
    """An IPython shell with ``%load_ext nbmnist`` and the inline backend, as in a kernel."""
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.run_line_magic("matplotlib", "inline")
    ip.run_line_magic("load_ext", "nbmnist")
    os.environ.setdefault("MPLBACKEND", "Agg")
    return ip
