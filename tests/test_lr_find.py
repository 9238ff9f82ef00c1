"""The learning-rate range test (``nbmnist.lr_find``, ``--find-learning-rate``) and the
one-cycle schedule it prepares for."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbmnist import OptionError, train
from nbmnist.display.console import ConsoleDisplay
from nbmnist.lr_range import diverged, lr_find, smooth, steepest
from nbmnist.runs import load_runs


def test_smoothing_is_unbiased_from_the_first_batch() -> None:
    assert smooth([2.0] * 5) == pytest.approx([2.0] * 5)  # no pull towards 0
    noisy = [1.0, 3.0] * 50
    assert np.std(smooth(noisy)[50:]) < 0.2 * np.std(noisy)


def test_the_test_stops_once_the_loss_diverges() -> None:
    falling = [2.0 - 0.01 * i for i in range(100)]
    assert not diverged(falling)
    assert diverged([*falling, math.nan])
    assert not diverged([*falling, 50.0])  # one spike is smoothed away
    assert diverged(falling + [50.0] * 30)  # a loss that stays blown up is not


def test_the_suggestion_is_the_steepest_fall_before_the_lowest_loss() -> None:
    rates = list(np.logspace(-6, 1, 71))
    # flat, then falling fastest around 1e-2, lowest at 1e-1, then rising
    losses = [2 - 1.5 / (1 + math.exp(-3 * (math.log10(r) + 2))) for r in rates]
    losses = [
        loss + max(0.0, math.log10(r) + 1) ** 2 for loss, r in zip(losses, rates, strict=True)
    ]
    assert steepest(rates, losses) == pytest.approx(1e-2, rel=0.2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": 1.0, "end": 0.1}, "needs 0 < start < end"),
        ({"start": 0.0}, "needs 0 < start < end"),
        ({"steps": 5}, "steps must be a whole number, 10 to 10,000"),
        ({"optimizer": "adamw"}, "unknown optimizer 'adamw'"),
    ],
)
def test_a_bad_range_is_an_error_before_anything_trains(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(OptionError, match=message):
        lr_find("dense 8 relu", **options)


@pytest.mark.slow
def test_the_rate_grows_exponentially_until_the_loss_diverges() -> None:
    found = lr_find("dense 32 relu", optimizer="sgd", start=1e-4, end=1e4, steps=100, seed=0)
    rates = np.asarray(found.learning_rates)
    assert rates[0] == pytest.approx(1e-4)
    assert np.allclose(rates[1:] / rates[:-1], (1e4 / 1e-4) ** (1 / 99))
    assert len(found.losses) <= 100 and found.losses[-1] > min(found.losses) + 1  # blew up
    assert 1e-4 < found.suggestion < 100.0
    assert min(found.losses) < found.losses[0] - 0.5  # it learned somewhere in between
    figure = found.plot()
    (axis,) = figure.axes
    assert axis.get_xscale() == "log" and "steepest fall" in axis.get_legend_handles_labels()[1][2]
    assert found._repr_png_().startswith(b"\x89PNG")  # a notebook shows the plot


@pytest.mark.slow
def test_a_runs_model_is_left_untouched(tmp_path: Path) -> None:
    run = train("dense 16 relu", display=ConsoleDisplay(io.StringIO()), runs_dir=tmp_path,
                epochs=1, train_size=500, batch_size=50)  # fmt: skip
    before = [w.copy() for w in run.model.get_weights()]
    found = lr_find(run, steps=30)
    assert found.name == run.name and len(found.losses) <= 30
    assert all(np.array_equal(a, b) for a, b in zip(before, run.model.get_weights(), strict=True))
    assert len(load_runs(tmp_path)) == 1  # nothing recorded


@pytest.mark.slow
def test_the_magic_flag_plots_and_suggests_without_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import IPython.display
    from IPython.testing.globalipapp import start_ipython

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setenv("NBMNIST_RUNS", str(tmp_path))
    from IPython import get_ipython

    shell = start_ipython() or get_ipython()  # one shell a process: another test's, if started
    shell.run_line_magic("load_ext", "nbmnist")
    result = shell.run_cell("%%mlp probe --find-learning-rate --fast\ndense 16 relu")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "probe: the loss fell steepest at learning rate" in out
    assert "try --learning-rate" in out
    assert [type(obj).__name__ for obj in shown] == ["LearningRateTest"]
    assert not any(tmp_path.glob("*/run.json")) and "probe" not in shell.user_ns
    refused = shell.run_cell("%%mlp --find-learning-rate --grid u=8,16\ndense {u} relu")
    assert "--find-learning-rate tests one model" in str(refused.error_in_exec)
