"""The per-epoch record of a run: epochs stay aligned, best epochs, divergence."""

from __future__ import annotations

import math

from nbmnist.metric_log import MetricLog


def test_epochs_append_in_order_and_stay_aligned() -> None:
    log = MetricLog()
    assert log.epochs == 0 and log.last() == {} and log.best() is None
    log.append({"loss": 0.5, "accuracy": 0.8}, 1.25)
    log.append({"loss": 0.3, "accuracy": 0.9, "val_accuracy": 0.85}, 1.5)  # a new metric
    log.append({"loss": 0.2}, 1.0)  # one missing
    assert log.epochs == 3 and log.epoch_seconds == [1.25, 1.5, 1.0]
    assert all(len(values) == 3 for values in log.history.values())
    assert math.isnan(log.history["val_accuracy"][0]) and math.isnan(log.history["accuracy"][2])
    assert log.last() == {
        "loss": 0.2,
        "accuracy": log.history["accuracy"][2],
        "val_accuracy": log.history["val_accuracy"][2],
    }


def test_best_is_highest_for_accuracies_lowest_for_losses_and_never_nan() -> None:
    log = MetricLog(
        {"val_accuracy": [0.5, 0.9, math.nan, 0.8], "val_loss": [0.9, math.nan, 0.2, 0.4]},
        [1.0] * 4,
    )
    assert log.best("val_accuracy") == (2, 0.9)
    assert log.best("val_loss") == (3, 0.2)
    assert log.best("missing") is None
    assert MetricLog({"val_accuracy": [math.nan]}, [1.0]).best() is None


def test_diverged_when_the_last_loss_is_not_finite() -> None:
    assert not MetricLog().diverged()
    assert not MetricLog({"loss": [math.nan, 0.5]}, [1.0, 1.0]).diverged()
    assert MetricLog({"loss": [0.5, math.inf]}, [1.0, 1.0]).diverged()
    assert MetricLog({"loss": [0.5, math.nan]}, [1.0, 1.0]).diverged()
