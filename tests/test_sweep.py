"""Sweeps: one run per grid point, named from the values used, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

import nbmnist
from nbmnist.runs import point_name
from nbmnist.sweeps import Range, best_run, parse_grid, points, sample
from tests.conftest import Shell

SMALL_CNN = "conv 4 3x3 relu\nmaxpool 2\nflatten\ndense 16 relu\ndropout {rate}"


def test_grids_over_two_names_take_the_product(shell: Shell) -> None:
    shell.run(
        "%%mlp net --grid rate=0.2 --grid units=8,16 --epochs 1 --no-live --train-size 300 "
        "--executor kernel\n"
        "dense {units} relu | dropout {rate}"
    )
    names = [run.name for run in shell.ns["net"]]
    assert names == ["net[rate=0.2,units=8]", "net[rate=0.2,units=16]"]
    assert shell.ns["net"][1].num_params == 784 * 16 + 16 + 16 * 10 + 10
    assert shell.ns["net"][1].variables == {"units": "16", "rate": "0.2"}
    assert points(parse_grid(["rate=0.1,0.2", "units=8,16"]))[1:3] == [
        {"rate": "0.1", "units": "16"},
        {"rate": "0.2", "units": "8"},
    ]


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        ("--grid rate", "write NAME=V1,V2,..."),
        ("--grid 2x=1,2", "write NAME=V1,V2,..."),
        ("--grid rate=0.1,,0.2", "a value is empty"),
        ("--grid rate=0.1 --grid rate=0.2", "names 'rate' twice"),
    ],
)
def test_bad_grids_are_usage_errors(shell: Shell, grid: str, fragment: str) -> None:
    error = shell.run_expecting_error(f"%%mlp g {grid}\ndense 8 | dropout {{rate}}")
    assert isinstance(error, UsageError) and fragment in str(error)
    assert nbmnist.runs() == []


def test_a_bad_grid_value_fails_before_any_training(shell: Shell) -> None:
    error = shell.run_expecting_error("%%mlp g --grid rate=0.1,1.5\ndense 8 | dropout {rate}")
    assert isinstance(error, nbmnist.DeclarationError) and "got '1.5'" in str(error)
    assert nbmnist.runs() == []  # the valid 0.1 point did not train either


def test_grid_helpers() -> None:
    grid = parse_grid(["a=1,2", "b=x"])
    assert points(grid) == [{"a": "1", "b": "x"}, {"a": "2", "b": "x"}]
    assert point_name("s", {"a": "1", "b": "x"}) == "s[a=1,b=x]"
    assert best_run([]) is None


def test_a_grid_name_the_body_does_not_use_is_an_error_before_training(shell: Shell) -> None:
    error = shell.run_expecting_error(
        "%%mlp f4 --grid rate=0.1,0.2 --epochs 1\n128 relu | dropout 0.3"
    )
    assert isinstance(error, UsageError)
    assert "--grid rate: the cell body does not use {rate}" in str(error)
    assert nbmnist.runs() == [] and "f4" not in shell.ns


def test_a_random_search_samples_ranges_into_the_magic_line_and_sorts_on_validation(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    cell = (
        "%%mlp s --grid units=8..64:log --grid lr=1e-3..1e-2:log --learning-rate {lr} "
        "--search random --trials 3 --seed 3 --epochs 1 --train-size 500 --no-live "
        "--executor kernel\ndense {units} relu"
    )
    shell.run(cell)
    runs = shell.ns["s"]
    assert len(runs) == 3 and len({run.name for run in runs}) == 3
    for run in runs:  # each point trained with the values in its name
        assert run.options["learning_rate"] == float(
            run.variables.get("lr", run.name.split("lr=")[1][:-1])
        )
        assert 8 <= int(run.variables["units"]) <= 64
        assert 1e-3 <= run.options["learning_rate"] <= 1e-2
    table = capsys.readouterr().out
    best = [run.best_epoch("val_accuracy")[1] for run in runs]
    rows = [line for line in table.splitlines() if line.startswith("| s[")]
    order = [next(run for run in runs if f"| {run.name} " in row) for row in rows]
    assert [run.best_epoch("val_accuracy")[1] for run in order] == sorted(best, reverse=True)
    # the same cell samples the same points: it resumes instead of training new ones
    shell.run(cell)
    assert capsys.readouterr().out.count("already completed") == 3


def test_sampling_is_seeded_and_distinct() -> None:
    grid = {"units": ["8", "16", "32"], "rate": ["0.1", "0.2"]}
    assert sample(grid, 4, seed=1) == sample(grid, 4, seed=1) != sample(grid, 4, seed=2)
    assert len({tuple(p.items()) for p in sample(grid, 4, seed=1)}) == 4
    assert sample(grid, 10) == points(grid)  # no more points than the grid has
    ranged = {"lr": Range.parse("lr", "1e-4..1e-2:log"), "units": Range.parse("units", "16..256")}
    drawn = sample(ranged, 50, seed=0)
    assert all(1e-4 <= float(p["lr"]) <= 1e-2 and p["units"].isdigit() for p in drawn)
    assert sum(float(p["lr"]) < 1e-3 for p in drawn) > 10  # log-uniform: half below 1e-3


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        ("--grid lr=1e-2..1e-4", "a range needs LOW < HIGH"),
        ("--grid lr=0..1:log", "a range needs 0 < LOW < HIGH"),
        ("--grid lr=a..b", "not a range of numbers"),
        ("--grid lr=1..2:ln", "unknown scale 'ln'"),
        ("--grid rate=0.0..0.5", "is a range: sample it with --search random"),
        ("--grid rate=0.1,0.2 --search random", "--search random needs --trials N"),
        ("--grid rate=0.1,0.2 --trials 3", "use it with --search random"),
        ("--grid rate=0.1 --search random --trials 0", "--trials must be 1 or more"),
        ("--grid rate=0.1 --workers 0", "workers must be 1 or more"),
        ("--grid rate=0.1 --executor spark", "executor 'spark': use 'processes'"),
        ("--workers 2", "are for sweeps; add --grid"),
    ],
)
def test_bad_sweep_flags_are_one_line_errors_before_training(
    shell: Shell, flags: str, fragment: str
) -> None:
    error = shell.run_expecting_error(f"%%mlp g {flags} --epochs 1\ndense 8 | dropout {{rate}}")
    assert isinstance(error, UsageError) and fragment in str(error)
    assert "\n" not in str(error) and nbmnist.runs() == []


def test_config_chooses_where_sweeps_train(shell: Shell) -> None:
    import os

    shell.run('%config NbmnistMagics.executor = "kernel"')
    try:
        shell.run(
            "%%mlp here --grid rate=0.1 --epochs 1 --no-live --train-size 300\n"
            "dense 8 | dropout {rate}"
        )
    finally:
        shell.run("%config NbmnistMagics.executor = None")
    assert shell.ns["here"][0].writer["pid"] == os.getpid()  # trained in this kernel


def test_a_changed_sweep_cell_is_a_rerun_not_a_resume(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    """Changing --epochs and the body of a sweep cell trains the new cell as ``sw_2`` (the
    stored 1-epoch, 64-unit points were resumed as if they were it); the changed cell run
    again resumes ``sw_2``, and the first version still resumes ``sw``."""

    def cell(epochs: int, units: int) -> str:
        return (
            f"%%mlp sw --grid rate=0.0,0.5 --epochs {epochs} --train-size 300 --no-live "
            f"--executor kernel\ndense {units} relu | dropout {{rate}}"
        )

    shell.run(cell(1, 64))
    assert [run.identity["epochs"] for run in shell.ns["sw"]] == [1, 1]
    capsys.readouterr()
    shell.run(cell(2, 256))
    out = capsys.readouterr().out
    assert (
        "sw: the cell changed since its stored points (epochs 1 -> 2, body); training sw_2" in out
    )
    assert "skipped (resume)" not in out
    runs = shell.ns["sw"]
    assert [run.name for run in runs] == ["sw_2[rate=0.0]", "sw_2[rate=0.5]"]
    assert all(run.epochs == 2 and run.num_params == 784 * 256 + 256 + 2570 for run in runs)
    assert shell.ns["sw_2"] is runs
    shell.run(cell(2, 256))
    out = capsys.readouterr().out
    assert "sw_2[rate=0.0]: already completed" in out and "training sw_2" in out
    shell.run(cell(1, 64))
    out = capsys.readouterr().out
    assert "the cell changed" not in out and "sw[rate=0.5]: already completed" in out
    assert [run.epochs for run in shell.ns["sw"]] == [1, 1]


def test_identity_changes_name_what_differs() -> None:
    from nbmnist.plan import identity_changes

    stored = {"epochs": 1, "seed": None, "body": "dense 64 relu", "sample": True}
    assert identity_changes(stored, {**stored, "sample": None}) == []  # data not known yet
    wanted = {**stored, "epochs": 2, "seed": 3, "body": "dense 8 relu", "sample": False}
    assert identity_changes(stored, wanted) == [
        "epochs 1 -> 2",
        "seed None -> 3",
        "body",
        "data sample -> full",
    ]
    assert identity_changes({}, {"epochs": 2}) == ["epochs unrecorded -> 2"]


def test_sample_expected_is_told_from_the_files_present(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    from nbmnist.data import SAMPLE_DIR, sample_expected

    assert sample_expected("mnist", fast=True) is True
    assert sample_expected("mnist") is True  # the tests: nothing local, downloads off
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "1")
    assert sample_expected("mnist") is None  # a download would decide
    shutil.copytree(SAMPLE_DIR / "mnist", tmp_path / "mnist")
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    assert sample_expected("mnist") is False
    assert sample_expected("fashion_mnist") is None  # NBMNIST_DATA lacks it: an error then
