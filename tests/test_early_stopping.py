"""Stop early, keep the best: ``--early-stopping PATIENCE``, ``--monitor``, ``--restore-best``
(Keras' ``EarlyStopping``), from the options to the record, the scores, the dashboard and
the printed code."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbmnist import OptionError, train
from nbmnist.display.console import ConsoleDisplay
from nbmnist.display.curves import CurvePlot
from nbmnist.display.text import final_line
from nbmnist.keras_code import to_keras_code
from nbmnist.metric_log import MetricLog
from nbmnist.options import TrainingOptions, make_options
from nbmnist.runs import load_runs
from tests.conftest import run_generated_code

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"early_stopping": 0}, "early_stopping must be a whole number > 0, got 0"),
        ({"early_stopping": 2.5}, "early_stopping must be a whole number > 0"),
        (
            {"early_stopping": 3, "validation": "none"},
            "monitor 'val_loss' needs validation, and validation is 'none'; use validation "
            "'split' or 'test', or monitor 'loss'",
        ),
        ({"restore_best": True, "monitor": "val_acc"}, "unknown monitor 'val_acc'"),
        ({"monitor": "val_accuracy"}, "monitor 'val_accuracy' is watched only by"),
    ],
)
def test_bad_stopping_options_are_one_line_errors_before_training(
    options: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train("dense 8 relu", runs_dir=tmp_path, **options)
    assert not any(tmp_path.iterdir())  # nothing claimed, nothing written


def test_the_magic_flags_become_the_options() -> None:
    flags = {"early_stopping": "3", "monitor": "val_accuracy", "restore_best": True}
    options = TrainingOptions.from_flags(flags)
    assert options == {"early_stopping": 3, "monitor": "val_accuracy", "restore_best": True}
    assert make_options(**options).early_stopping == 3


def _kept(history: list[float], monitor: str) -> int:
    """The 1-based epoch Keras' EarlyStopping calls best: the first lowest loss, or the
    first highest accuracy."""
    values = np.asarray(history)
    return int(np.argmax(values) if "accuracy" in monitor else np.argmin(values)) + 1


def test_early_stopping_stops_and_the_best_epochs_weights_are_scored(tmp_path: Path) -> None:
    """A small sample over-fits within 40 epochs, so its validation loss stops improving:
    training ends early, the model gets its best epoch's weights back, and the test scores
    are those weights' (with validation on the test set, that epoch's val_loss)."""
    out = io.StringIO()
    run = train(
        "dense 64 relu",
        name="stopper",
        display=ConsoleDisplay(out),
        runs_dir=tmp_path,
        epochs=40,
        train_size=300,
        batch_size=32,
        validation="test",
        seed=1,
        early_stopping=2,
        restore_best=True,
    )
    assert run.status == "completed"
    assert run.stopped_epoch == run.epochs < 40
    assert run.plan["epochs"] == 40 and run.epochs == len(run.epoch_seconds)
    val_loss = run.history["val_loss"]
    assert run.kept_epoch == _kept(val_loss, "val_loss") == run.epochs - 2  # patience 2
    assert run.test_loss == pytest.approx(val_loss[run.kept_epoch - 1], rel=1e-4)
    assert run.test_accuracy == pytest.approx(
        run.history["val_accuracy"][run.kept_epoch - 1], abs=1e-6
    )
    assert run.model_epoch == run.kept_epoch
    assert run.plan["early_stopping"] == {
        "monitor": "val_loss",
        "patience": 2,
        "restore_best_weights": True,
    }
    line = final_line(run)
    assert f"stopped early: no val_loss improvement in 2 epochs ({run.epochs} of 40)" in line
    assert f"weights of epoch {run.kept_epoch} kept (best val_loss)" in line
    assert "stopped early" in out.getvalue()
    (stored,) = load_runs(tmp_path)  # the record says so too, and its model is the kept one
    assert (stored.stopped_epoch, stored.kept_epoch) == (run.stopped_epoch, run.kept_epoch)
    record = json.loads(next(tmp_path.glob("*/run.json")).read_text())
    assert record["kept_epoch"] == run.kept_epoch and record["model_epoch"] == run.kept_epoch
    reloaded = stored.model.evaluate(*_test_arrays(), batch_size=1000, verbose=0, return_dict=True)
    assert reloaded["loss"] == pytest.approx(run.test_loss, rel=1e-4)


def _test_arrays() -> tuple[np.ndarray, np.ndarray]:
    from nbmnist import load_dataset
    from nbmnist.training import prepare_arrays

    _, _, x_test, y_test = prepare_arrays(load_dataset("mnist", source="sample"), "mlp")
    return x_test, y_test


def test_restore_best_alone_trains_every_epoch_and_keeps_the_best(tmp_path: Path) -> None:
    run = train(
        "dense 32 relu",
        display=ConsoleDisplay(io.StringIO()),
        runs_dir=tmp_path,
        epochs=5,
        train_size=300,
        batch_size=32,
        validation="test",
        seed=2,
        restore_best=True,
        monitor="val_accuracy",
    )
    assert run.epochs == 5 and run.stopped_epoch is None
    assert run.kept_epoch == _kept(run.history["val_accuracy"], "val_accuracy")
    assert run.test_accuracy == pytest.approx(
        run.history["val_accuracy"][run.kept_epoch - 1], abs=1e-6
    )
    assert "stopped early" not in final_line(run)


def test_without_validation_the_training_loss_can_be_watched(tmp_path: Path) -> None:
    run = train(
        "dense 16 relu",
        display=ConsoleDisplay(io.StringIO()),
        runs_dir=tmp_path,
        epochs=3,
        train_size=200,
        validation="none",
        early_stopping=5,
        monitor="loss",
    )
    assert run.status == "completed" and run.epochs == 3
    assert run.stopped_epoch is None and run.kept_epoch is None  # no restore asked


def test_the_printed_code_stops_as_the_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {
        "epochs": 3,
        "train_size": 300,
        "early_stopping": 2,
        "monitor": "val_accuracy",
        "restore_best": True,
    }
    run = train("dense 16 relu", display=ConsoleDisplay(io.StringIO()), runs_dir=tmp_path,
                **options)  # fmt: skip
    code = to_keras_code("dense 16 relu", "mlp", **options)
    assert (
        'callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2, '
        "restore_best_weights=True)]" in code
    )
    calls = run_generated_code(code, monkeypatch, train=False, size=600)
    (printed,) = calls["fit"]["callbacks"]
    settings = {
        "monitor": printed.monitor,
        "patience": printed.patience,
        "restore_best_weights": printed.restore_best_weights,
    }
    assert settings == run.plan["early_stopping"]


def test_the_curves_mark_where_training_stopped_and_which_weights_were_kept() -> None:
    log = MetricLog()
    for epoch in range(6):
        log.append({"loss": 1 / (epoch + 1), "val_loss": 0.5 + abs(epoch - 3) / 10}, 1.0)
    plot = CurvePlot("run", epochs=20)
    plot.update(log)
    before = plot.to_png()
    lines = [len(ax.lines) for ax in plot.figure.axes]
    plot.mark_end(stopped=6, kept=4)
    plot.update(log)
    assert [len(ax.lines) for ax in plot.figure.axes] == [n + 2 for n in lines]
    texts = {t.get_text() for ax in plot.figure.axes for t in ax.texts}
    assert texts == {"stopped", "kept"}
    assert plot.to_png() != before


def test_the_dashboard_says_it_stopped_early_and_shows_the_marked_curves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import IPython.display

    from nbmnist.display.notebook import LiveDashboard
    from tests.test_display import INFO, epoch, finished

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    dashboard = LiveDashboard()
    dashboard.run_started(INFO)
    log = MetricLog()
    for loss, accuracy in ((1.0, 0.5), (0.8, 0.6), (0.9, 0.55)):
        epoch(log, loss, accuracy)
        dashboard.epoch_completed(log)
    run = finished(log)
    run.stopped_epoch, run.kept_epoch = 3, 2
    run.options = {"monitor": "val_loss", "early_stopping": 1}
    run.plan = {"epochs": 10}
    dashboard.run_finished(run)
    assert dashboard.status.value == "3/3 · stopped early, weights of epoch 2 kept"
    assert dashboard._plot is not None
    assert {t.get_text() for ax in dashboard._plot.figure.axes for t in ax.texts} == {
        "stopped",
        "kept",
    }
    assert any(isinstance(obj, IPython.display.Image) for obj in shown)  # the static copy


def test_a_sweep_passes_early_stopping_to_every_point(tmp_path: Path) -> None:
    from nbmnist.sweeps import sweep

    runs = sweep(
        "dense {units} relu",
        "mlp",
        "stop",
        {"units": ["8", "16"]},
        executor="kernel",
        runs_dir=tmp_path,
        live=False,
        epochs=3,
        train_size=200,
        early_stopping=1,
        restore_best=True,
    )
    assert len(runs) == 2
    for run in runs:
        assert run.plan["early_stopping"] == {
            "monitor": "val_loss",
            "patience": 1,
            "restore_best_weights": True,
        }
        assert run.kept_epoch == _kept(run.history["val_loss"], "val_loss")
