"""The benchmark suite: its harness, a benchmark run end to end into a results file, and the
performance page's tables, which must be what the stored results give (never typed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import harness, tables
from tests.conftest import REPO


def results_file(path: Path, group: str, rows: list[dict[str, object]], notes: list[str]) -> None:
    """A results file as pytest-benchmark writes it, holding one benchmark."""
    path.write_text(
        json.dumps(
            {
                "machine_info": {
                    "nbmnist": {
                        "processor": "Test CPU",
                        "cores": 2,
                        "memory_gib": 24,
                        "python": "3.11.7",
                        "keras": "3.15.1",
                        "keras_backend": "jax",
                        "device": "CPU (2 cores)",
                    }
                },
                "datetime": "2026-12-06T22:00:00+00:00",
                "benchmarks": [
                    {
                        "group": group,
                        "name": "test_x",
                        "fullname": f"bench/display/test_{group}.py::test_x",
                        "extra_info": {"rows": rows, "notes": notes},
                    }
                ],
            }
        )
    )


def test_a_group_becomes_a_table_with_its_command_and_machine(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    rows: list[dict[str, object]] = [
        {"epochs in history": 1000, "nbmnist (ms)": 12.345, "ratio": 0.98765},
        {"epochs in history": 10, "nbmnist (ms)": 123.4, "extra": "text"},
    ]
    results_file(results / "redraw.json", "redraw", rows, ["Target: <= 20 ms."])
    page = tmp_path / "performance.md"
    page.write_text("# Q\n\n<!-- bench:redraw -->\nstale\n<!-- /bench -->\n\nprose kept\n")
    assert tables.main(["--results", str(results), "--page", str(page), "--check"]) == 1
    assert tables.main(["--results", str(results), "--page", str(page)]) == 0
    text = page.read_text()
    assert "stale" not in text and text.endswith("<!-- /bench -->\n\nprose kept\n")
    assert "| epochs in history | nbmnist (ms) | ratio | extra |" in text
    assert "| 1,000 | 12.3 | 0.9877 | - |" in text
    assert "| 10 | 123 | - | text |" in text
    assert "Target: <= 20 ms." in text
    assert "`make bench BENCH=bench/display/test_redraw.py`" in text
    assert "Test CPU, 2 cores, 24 GiB; Python 3.11.7, Keras 3.15.1 on jax" in text
    assert tables.main(["--results", str(results), "--page", str(page), "--check"]) == 0


def test_results_without_a_place_in_the_page_or_a_place_without_results_fail(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    results_file(results / "violins.json", "violins", [{"seconds": 1.0}], [])
    page = tmp_path / "performance.md"
    page.write_text("<!-- bench:redraw -->\n<!-- /bench -->\n")
    with pytest.raises(SystemExit, match="bench:violins"):
        tables.main(["--results", str(results), "--page", str(page)])
    places = [f"<!-- bench:{g} -->\n<!-- /bench -->\n" for g in ("violins", "redraw")]
    page.write_text("".join(places))
    with pytest.raises(SystemExit, match="no results for <!-- bench:redraw -->"):
        tables.main(["--results", str(results), "--page", str(page)])


def test_the_performance_pages_tables_are_the_stored_results() -> None:
    """docs/performance.md's measured tables come from bench/results/ (python -m
    bench.tables writes them): a table edited by hand, or results not written in, fails."""
    assert sorted((REPO / "bench" / "results").glob("*.json"))
    assert tables.main(["--check"]) == 0 or pytest.fail("run: .venv/bin/python -m bench.tables")


def test_the_epoch_clock_times_epochs_and_scores_the_test_set() -> None:
    import keras

    rng = np.random.default_rng(0)
    x = rng.random((64, 4), dtype=np.float32)
    y = keras.utils.to_categorical(x.sum(axis=1) > 2, 2)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    clock = harness.epoch_clock(test_data=(x, y))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25, callbacks=[clock])
    assert len(clock.epochs) == len(clock.cpu) == len(clock.test_accuracy) == 3
    assert all(0 < a <= b for a, b in zip(clock.ends, clock.ends[1:], strict=False))
    assert all(0 <= a <= 1 for a in clock.val_accuracy + clock.test_accuracy)
    assert clock.first_reaching(0.0) == clock.ends[0]
    assert clock.first_reaching(1.01) is None
    wall, cpu = clock.steady_epoch()
    assert wall > 0 and cpu >= 0


def test_alternate_reverses_the_order_each_round() -> None:
    calls: list[str] = []
    results = harness.alternate(
        3, {"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert results == {"a": [1, 1, 1], "b": [2, 2, 2]}


@pytest.mark.slow
def test_a_benchmark_runs_and_writes_its_results(tmp_path: Path) -> None:
    """One benchmark through ``make bench``'s own command, into a results file that the
    tables are written from; the whole suite is collected (every module imports)."""
    out = tmp_path / "redraw.json"
    # under make test's pytest-xdist, pytest-benchmark in a child would see the worker's
    # PYTEST_XDIST_WORKER and measure nothing
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "bench/display/test_redraw.py::test_a_redraw_against_livelossplot[10]",
         "--benchmark-json", str(out)],
        cwd=REPO, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    data = json.loads(out.read_text())
    (bench,) = data["benchmarks"]
    (row,) = bench["extra_info"]["rows"]
    assert row["epochs in history"] == 10
    assert row["nbmnist redraw, median (ms)"] > 0 and row["livelossplot / nbmnist"] > 0
    assert data["machine_info"]["nbmnist"]["cores"] >= 1
    page = tmp_path / "performance.md"
    page.write_text("<!-- bench:redraw -->\n<!-- /bench -->\n")
    assert tables.main(["--results", str(tmp_path), "--page", str(page)]) == 0
    assert "| 10 |" in page.read_text()
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-3000:]
    modules = {path.relative_to(REPO).as_posix() for path in REPO.glob("bench/*/test_*.py")}
    found = {line.split("::")[0] for line in collected.stdout.splitlines() if "::" in line}
    assert found == modules
