"""Training options: one home for defaults, checks, flags and fast mode."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from IPython.core.magic_arguments import parse_argstring

from nbmnist.errors import OptionError
from nbmnist.magics import NbmnistMagics
from nbmnist.options import (
    FAST_EPOCHS,
    FAST_TRAIN_SIZE,
    TrainingOptions,
    fast_limits,
    fast_points,
    flags,
    make_options,
)
from tests.conftest import REPO


def _guide_flags() -> dict[str, str]:
    """The user guide's magic-line table: flag -> its default column (backticks removed)."""
    text = (REPO / "docs" / "guide.md").read_text()
    table = text[text.index("| flag | default | meaning |") :].split("\n\n")[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]
    ]
    return {row[0].strip("`").split()[0]: row[1].strip("`") for row in rows}


def test_the_guide_table_lists_every_flag_with_the_code_default() -> None:
    readme = _guide_flags()
    parser = NbmnistMagics.mlp.parser  # built by magic_arguments from the generated flags
    magic_flags = {a.option_strings[0] for a in parser._actions if a.option_strings} - {"-h"}
    assert set(readme) == magic_flags
    for flag, keywords in flags():
        option = next(
            f
            for f in dataclasses.fields(TrainingOptions)
            if flag.endswith(f.name.replace("_", "-"))
        )
        shown = "" if "action" in keywords else option.metadata["default"]
        assert readme[flag] == shown, flag
        if "action" not in keywords:  # %%mlp? says the same default
            assert keywords["help"].endswith(f"(default: {shown})".replace("%", "%%"))


def test_every_option_but_the_store_folder_is_a_flag() -> None:
    flagged = {name for name, _ in flags()}
    for option in dataclasses.fields(TrainingOptions):
        name = "--no-live" if option.name == "live" else "--" + option.name.replace("_", "-")
        assert (name in flagged) == (option.name != "runs_dir"), option.name


def test_flags_become_options_as_train_takes_them() -> None:
    args = parse_argstring(
        NbmnistMagics.mlp,
        "net --epochs 3 --learning-rate 0.5 --no-live --jit-compile off --fast --grid r=1",
    )
    assert TrainingOptions.from_flags(vars(args)) == {
        "epochs": 3,
        "learning_rate": 0.5,
        "live": False,
        "jit_compile": False,
        "fast": True,
    }
    args = parse_argstring(NbmnistMagics.mlp, "--jit-compile on")
    assert TrainingOptions.from_flags(vars(args)) == {"jit_compile": True}  # nothing else given


def test_fast_mode_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast_limits(50, None) == (FAST_EPOCHS, FAST_TRAIN_SIZE)
    assert fast_limits(1, 500) == (1, 500)
    assert fast_limits(10, None, models_in_cell=4) == (1, 500)
    assert fast_limits(10, 5000, models_in_cell=100) == (1, 200)  # at least 200 images each
    # a costlier model gets fewer images: the fast recipe's CNN keeps 2,000, Keras' example 200
    assert fast_limits(3, None, multiply_adds=794_880) == (2, 2000)
    assert fast_limits(3, None, multiply_adds=11_992_448) == (2, 200)
    assert fast_limits(3, None, multiply_adds=4_000_000) == (2, 500)
    assert fast_points(2) == [0, 1]
    assert fast_points(8) == [0, 4, 7]  # first, middle, last
    monkeypatch.setenv("NBMNIST_FAST", "1")
    assert make_options().fast is True and make_options(fast=False).fast is False
    monkeypatch.setenv("NBMNIST_FAST", "no")
    assert make_options().fast is False


def test_options_record_as_given() -> None:
    options = make_options(data="Fashion-MNIST", loss="mean_squared_error", optimizer="SGD")
    assert (options.data, options.loss, options.optimizer) == ("fashion_mnist", "mse", "sgd")
    with pytest.raises(OptionError, match="epochs must be at most 10,000"):
        make_options(epochs=10**6)
    with pytest.raises(OptionError, match=r"unknown training option 'epoch'.*epochs"):
        make_options(epoch=3)


def test_a_path_for_the_run_store_is_kept_as_a_string(tmp_path: Path) -> None:
    # a pathlib.Path reached json.dumps in the run record and failed with a TypeError
    options = make_options(runs_dir=tmp_path / "runs")
    assert options.runs_dir == str(tmp_path / "runs")
    assert json.loads(json.dumps(dataclasses.asdict(options)))["runs_dir"] == options.runs_dir
