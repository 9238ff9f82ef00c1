"""The live dashboard, driven through its three calls with a recording display()."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from nbmnist.display import TrainingInfo, curves, notebook
from nbmnist.display.notebook import LiveDashboard
from nbmnist.metric_log import MetricLog
from nbmnist.runs import Run
from tests.conftest import make_run

INFO = TrainingInfo(
    name="demo",
    kind="mlp",
    num_params=1234,
    epochs=3,
    data_title="MNIST (sample)",
    data_source="bundled sample of MNIST (6,000 train / 1,000 test images): requested",
    is_sample=True,
    device="CPU (2 cores)",
    summary="  dense 10 softmax  (None, 10)  7,850",
    num_train=5000,
    validation="split",
    backend="jax",
)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Everything the dashboard hands to IPython's display()."""
    import IPython.display

    outputs: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: outputs.append(obj))
    return outputs


def epoch(log: MetricLog, loss: float, accuracy: float) -> None:
    log.append(
        {
            "loss": loss,
            "accuracy": accuracy,
            "val_loss": loss + 0.1,
            "val_accuracy": accuracy - 0.05,
        },
        seconds=0.5,
    )


def finished(log: MetricLog, status: str = "completed") -> Run:
    """The run the dashboard is told has ended: ``log``'s epochs, scored if completed."""
    scored = status == "completed"
    return make_run(
        "demo",
        0.9 if scored else None,
        test_loss=0.3 if scored else None,
        history=log.history,
        epoch_seconds=log.epoch_seconds,
        status=status,
        data_source=INFO.data_source,
    )


def test_dashboard_updates_in_place(
    shown: list[Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notebook, "MAX_REDRAWS_PER_SECOND", 1e9)  # draw every epoch here
    dashboard = LiveDashboard()
    print("before training")
    dashboard.run_started(INFO)
    assert shown == [dashboard.widget]  # one display slot, shown once
    assert "demo" in dashboard.header.value and "1,234 params" in dashboard.header.value
    assert "bundled sample" in dashboard.header.value
    assert "CPU (2 cores) with jax" in dashboard.header.value
    log = MetricLog()
    images = []
    for n, (loss, accuracy) in enumerate([(1.0, 0.6), (0.5, 0.8), (0.3, 0.9)], 1):
        epoch(log, loss, accuracy)
        dashboard.epoch_completed(log)
        assert dashboard.progress.value == n
        assert dashboard.status.value.startswith(f"{n}/3 · ")
        images.append(dashboard.image.value)
    assert len(set(images)) == 3 and all(img[:4] == b"\x89PNG" for img in images)
    assert "val_accuracy 0.8500" in dashboard.metrics.value
    dashboard.run_finished(finished(log))
    # the final state is also emitted once as a static PNG, with a text line
    assert len(shown) == 2 and shown[1].format == "png"
    assert dashboard.progress.bar_style == "success"
    out = capsys.readouterr().out
    assert out.startswith("before training\n")  # the user's output is never cleared
    assert "demo: test_loss 0.3000 · test_accuracy 0.9000" in out


def test_header_names_the_device_backend_and_a_mixed_policy() -> None:
    from nbmnist.display.text import header_line

    assert header_line(INFO) == (
        "demo: mlp, 1,234 params, MNIST (sample), 3 epochs on CPU (2 cores) with jax"
    )
    gpu = replace(INFO, device="GPU (NVIDIA H100 80GB HBM3)", precision="mixed_float16")
    assert header_line(gpu).endswith("on GPU (NVIDIA H100 80GB HBM3) with jax, mixed_float16")


def test_redraws_are_throttled_but_the_last_epoch_is_drawn(shown: list[Any]) -> None:
    dashboard = LiveDashboard()
    dashboard.run_started(INFO)
    dashboard.progress.max = 50
    dashboard._epochs = 50
    log = MetricLog()
    for n in range(50):
        epoch(log, 1.0 / (n + 1), n / 50)
        dashboard.epoch_completed(log)
    assert 1 <= dashboard.redraws < 50
    assert dashboard._drawn_epochs == 50


def shown_epochs(*epochs: tuple[float, float]) -> tuple[LiveDashboard, MetricLog]:
    """A dashboard that was shown INFO's run and these epochs' (loss, accuracy)."""
    dashboard = LiveDashboard()
    dashboard.run_started(INFO)
    log = MetricLog()
    for loss, accuracy in epochs:
        epoch(log, loss, accuracy)
        dashboard.epoch_completed(log)
    return dashboard, log


def test_interrupted_run_is_drawn_and_labelled(
    shown: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard, log = shown_epochs((1.0, 0.5), (0.9, 0.6))  # the second likely throttled
    dashboard.run_finished(finished(log, "interrupted"))
    assert dashboard._drawn_epochs == 2
    assert dashboard.progress.bar_style == "warning"
    assert "interrupted at epoch 3; 2 epochs kept" in capsys.readouterr().out


def test_curve_plot_draws_the_history() -> None:
    plot = curves.CurvePlot("t")
    log = MetricLog()
    epoch(log, 1.0, 0.6)
    epoch(log, 0.5, 0.8)
    plot.update(log)
    assert list(plot._lines["loss"].get_ydata()) == [1.0, 0.5]
    assert list(plot._lines["val_accuracy"].get_ydata()) == pytest.approx([0.55, 0.75])
    assert plot._lines["val_loss"].get_linestyle() == "--"
    assert plot._lines["loss"].get_linestyle() == "-"
    assert list(plot._best[0].get_xdata()) == [2, 2]


def test_metric_log_best_and_divergence() -> None:
    log = MetricLog()
    epoch(log, 0.5, 0.9)
    epoch(log, 0.4, 0.8)
    assert log.best("val_accuracy") == (1, pytest.approx(0.85))
    assert log.best("val_loss") == (2, pytest.approx(0.5))
    assert not log.diverged()
    log.append({"loss": float("nan")}, 0.1)
    assert log.diverged() and len(log.history["accuracy"]) == 3


def test_batch_progress_is_polled_and_the_poller_stops(shown: list[Any]) -> None:

    progress = [(0, 0)]
    dashboard = LiveDashboard()
    dashboard.run_started(replace(INFO, batch_progress=lambda: progress[-1]))
    assert dashboard._poller is not None and dashboard._poller.is_alive()
    progress.append((120, 469))
    dashboard.poll_batches()
    assert (dashboard.batch.value, dashboard.batch.max) == (120, 469)
    assert dashboard.batch_label.value == "120/469"
    dashboard.run_finished(finished(MetricLog(), "interrupted"))
    assert dashboard._poller is None  # joined
    assert "interrupted at epoch 1" in dashboard.status.value


def test_static_part_is_redrawn_rarely() -> None:
    plot = curves.CurvePlot("t", epochs=100)
    log = MetricLog()
    for n in range(100):
        epoch(log, 2.0 / (n + 1), 0.5 + n / 250)
        plot.update(log)
    assert plot.full_draws <= 3  # limits settle early; every other redraw is a blit
    assert plot.to_png()[:4] == b"\x89PNG"


def test_nice_ceiling() -> None:
    assert [curves._nice_ceiling(v) for v in (0.9, 1.0, 1.2, 2.6, 4, 0.031, 68)] == [
        1.0,
        1.0,
        1.5,
        3.0,
        5.0,
        0.05,
        70.0,
    ]


def test_compare_redraws_the_chosen_runs_and_metric() -> None:
    import ipywidgets

    from nbmnist.display.compare import compare

    a = make_run(
        "a", 0.97, history={"loss": [0.5, 0.3], "accuracy": [0.8, 0.9], "val_accuracy": [0.7, 0.85]}
    )
    b = make_run(
        "b",
        0.95,
        history={"loss": [0.7, 0.2], "accuracy": [0.6, 0.95], "val_accuracy": [0.65, 0.8]},
    )
    shown = compare([a, b])
    assert isinstance(shown.widget, ipywidgets.HBox)  # core widgets: ipywidgets 7.7 and 8
    first = shown.png
    assert first.startswith(b"\x89PNG")
    labels = {line.get_label() for line in shown.figure().axes[0].get_lines()}
    assert labels >= {"a train", "b train", "a validation"}
    shown.selector.value = ("b",)  # choosing redraws
    assert shown.png != first
    assert {line.get_label() for line in shown.figure().axes[0].get_lines()} == {
        "b train",
        "b validation",
        "b test",
    }
    shown.metric.value = "loss"
    assert shown.figure().axes[0].get_ylabel() == "loss"
    shown.selector.value = ()
    assert shown.figure() is None and shown.png == b""


def test_the_sample_note_gives_its_reason_once_per_kernel() -> None:
    from dataclasses import replace

    from nbmnist.display import text

    text._NOTED.clear()
    info = replace(INFO, is_sample=True, data_source="bundled sample of MNIST: download failed (x)")
    first, second = text.opening_lines(info), text.opening_lines(info)
    assert first[-1] == "NOTE: training on the bundled sample of MNIST: download failed (x)"
    assert second[-1] == "NOTE: training on the bundled sample (see above)"


def test_curve_plot_legend_is_under_the_panels_not_on_a_curve() -> None:
    plot = curves.CurvePlot("t", epochs=2)
    log = MetricLog()
    epoch(log, 0.3, 0.99)
    epoch(log, 0.1, 0.995)  # accuracy curves end at the top right, where 'best' put it
    plot.update(log)
    renderer = plot.canvas.get_renderer()
    (legend,) = plot.figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["train", "validation", "best val epoch"]
    top = legend.get_window_extent(renderer).y1
    assert all(top <= ax.get_window_extent().y0 for ax in plot._axes)
    assert all(ax.get_legend() is None for ax in plot._axes)


def test_a_run_with_a_caveat_says_so_in_its_line_and_figure(
    shown: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard, log = shown_epochs((1.0, 0.5))
    caveat = (
        "batch norm unsettled (4 of 299 updates): its moving averages ... understate the "
        "model; train on the full data or for more epochs"
    )
    dashboard.run_finished(replace(finished(log), caveats=[caveat]))
    out = capsys.readouterr().out
    assert "demo: test_loss 0.3000 · test_accuracy 0.9000" in out and f"CAVEAT: {caveat}" in out
    title = dashboard._plot.figure._suptitle.get_text()  # type: ignore[union-attr]
    assert title.endswith(
        "CAVEAT: batch norm unsettled (4 of 299 updates): train on the full data or for more epochs"
    )
