"""Plots: violins read kernels by layer; history curves overlay runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nbmnist import build_model, plot_weight_violins
from nbmnist.plots import VIOLIN_POINTS, violin_points, weight_arrays
from tests.conftest import make_run


def test_violin_data_is_each_dense_kernel_even_with_batchnorm() -> None:
    model = build_model("430 322 relu he_normal bn dropout=0.5")
    arrays = weight_arrays(model)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [a.label for a in arrays] == [
        "Hidden 1 · dense 430",
        "Hidden 2 · dense 322",
        "Output · dense 10",
    ]
    for array, layer in zip(arrays, dense, strict=True):
        assert np.array_equal(array.values, layer.kernel.numpy().ravel())
        assert array.shape == tuple(layer.kernel.shape) and array.layer == layer.name
    # what the seed plotted as "Hidden Layer 2": get_weights()[2] is a BatchNorm gamma
    seed_hidden_2 = model.get_weights()[2]
    assert seed_hidden_2.shape == (430,)
    assert arrays[1].values.shape == (430 * 322,)


def test_conv_kernels_and_biases() -> None:
    model = build_model("conv 8 3x3 relu\nmaxpool 2\nflatten\ndense 16 relu", "cnn")
    arrays = weight_arrays(model, include_bias=True)
    assert [a.label for a in arrays] == [
        "Conv 1 · conv 8 3x3",
        "Conv 1 · conv 8 3x3 bias",
        "Hidden 1 · dense 16",
        "Hidden 1 · dense 16 bias",
        "Output · dense 10",
        "Output · dense 10 bias",
    ]
    assert arrays[0].shape == (3, 3, 1, 8) and arrays[1].shape == (8,)


def test_violin_figure_has_one_violin_per_kernel() -> None:
    model = build_model("dense 64 relu | bn\ndense 32 relu")
    figure = plot_weight_violins(model)
    (ax,) = figure.axes
    labels = [tick.get_text().splitlines()[0] for tick in ax.get_xticklabels()]
    assert labels == ["Hidden 1 · dense 64", "Hidden 2 · dense 32", "Output · dense 10"]
    assert len(ax.collections) >= 3
    assert not plt.fignum_exists(figure.number)  # handed to the caller, not left in pyplot


def test_a_large_kernel_is_drawn_from_its_quantiles() -> None:
    values = np.random.default_rng(0).normal(size=337_120).astype(np.float32)  # dense 784x430
    points = violin_points(values)
    assert points.shape == (VIOLIN_POINTS,) and points.dtype == np.float32
    assert (points.min(), points.max()) == (values.min(), values.max())
    quartiles = np.quantile(values, [0.25, 0.5, 0.75])
    assert np.quantile(points, [0.25, 0.5, 0.75]) == pytest.approx(quartiles, abs=1e-3)
    small = values[:VIOLIN_POINTS]
    assert violin_points(small) is small  # drawn from every weight
    # the quartile lines seaborn draws are the whole kernel's
    model = build_model("430 relu")
    figure = plot_weight_violins(model)
    kernel = weight_arrays(model)[0].values
    drawn = [
        line.get_ydata()[0] for line in figure.axes[0].lines if len(set(line.get_ydata())) == 1
    ]
    for quartile in np.quantile(kernel, [0.25, 0.5, 0.75]):
        assert min(abs(y - quartile) for y in drawn) < 1e-4


def test_violins_of_several_models_and_into_a_user_axes() -> None:
    models = [build_model("dense 8"), build_model("dense 8 | dense 8")]
    assert len(plot_weight_violins(models).axes) == 2
    user_figure, user_ax = plt.subplots()
    assert plot_weight_violins(models[0], ax=user_ax) is user_figure
    assert plt.fignum_exists(user_figure.number)  # the user's figure stays open
    plt.close(user_figure)
    with pytest.raises(ValueError, match="single run"):
        plot_weight_violins(models, ax=user_ax)


def test_history_plot_overlays_runs_in_stable_colours() -> None:
    from nbmnist import plot_history

    a = make_run(
        "a",
        0.97,
        history={
            "loss": [0.5, 0.3],
            "val_loss": [0.6, 0.4],
            "accuracy": [0.8, 0.9],
            "val_accuracy": [0.7, 0.85],
        },
    )
    b = make_run(
        "b",
        0.95,
        history={
            "loss": [0.7, 0.2],
            "val_loss": [0.8, 0.5],
            "accuracy": [0.6, 0.95],
            "val_accuracy": [0.65, 0.8],
        },
    )
    loss = plot_history([a, b], "loss")
    accuracy = plot_history([a, b], "accuracy")
    lines = {line.get_label(): line for line in loss.axes[0].get_lines()}
    assert set(lines) == {"a train", "a validation", "a test", "b train", "b validation", "b test"}
    assert lines["a train"].get_linestyle() == "-" and lines["a validation"].get_linestyle() == "--"
    assert list(lines["b validation"].get_ydata()) == [0.8, 0.5]
    assert list(lines["a test"].get_ydata()) == [a.test_loss, a.test_loss]
    colours = {line.get_label(): line.get_color() for line in accuracy.axes[0].get_lines()}
    assert colours["a train"] == lines["a train"].get_color() != lines["b train"].get_color()
    assert list(accuracy.axes[0].get_lines()[2].get_ydata()) == [0.97, 0.97]
    user_figure, user_ax = plt.subplots()
    assert plot_history(a, "loss", ax=user_ax) is user_figure and plt.fignum_exists(
        user_figure.number
    )
    plt.close(user_figure)
    with pytest.raises(ValueError, match="metric must be 'loss' or 'accuracy'"):
        plot_history([a], "val_loss")


def test_validation_on_the_test_set_is_labelled_so() -> None:
    from nbmnist import plot_history
    from nbmnist.display.curves import CurvePlot

    run = make_run("on_test", 0.948, options={"validation": "test", "data": "mnist"})
    labels = [line.get_label() for line in plot_history(run, "accuracy").axes[0].get_lines()]
    assert "on_test validation (test set)" in labels
    live = CurvePlot("x", epochs=3, validation="test")
    assert "validation (test set)" in live.figure.axes[0].get_legend_handles_labels()[1]


def test_closing_figures_say_the_data_and_read_well() -> None:
    from nbmnist import plot_history

    runs = [
        make_run("a", 0.97, history={"loss": [0.5, 0.3, 0.2], "val_loss": [0.6, 0.4, 0.3]}),
        make_run("f", 0.9, history={"loss": [0.7, 0.5, 0.4]}, options={"data": "fashion_mnist"}),
    ]
    ax = plot_history(runs, "loss").axes[0]
    assert ax.get_title().endswith("· mixed datasets: Fashion-MNIST, MNIST")
    assert all(float(tick).is_integer() for tick in ax.get_xticks())  # whole epochs
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1  # outside the axes
    figure = plot_weight_violins([build_model("dense 8"), build_model("dense 16")])
    top, bottom = figure.axes
    assert top.get_shared_y_axes().joined(top, bottom)  # one scale: rows compare
    sample = make_run("s", 0.9, uses_sample=True)
    assert "MNIST (bundled sample)" in plot_history(sample, "loss").axes[0].get_title()


@pytest.mark.parametrize("count", [12, 30])
def test_history_of_many_runs_stays_readable(count: int) -> None:
    """12 runs drew a 36-entry legend that squeezed the plot to a thumbnail, and a title
    listing every name ran off the figure."""
    from nbmnist import plot_history

    history = {"accuracy": [0.8, 0.9], "val_accuracy": [0.7, 0.85]}
    runs = [make_run(f"sweep[rate=0.{i:02d}]", 0.9, history=history) for i in range(count)]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plot_history(runs, "accuracy")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = figure.axes[0]
    legend = ax.get_legend()
    assert len(legend.get_texts()) == count + 3  # a colour per run, train/validation/test
    box, page = ax.get_window_extent(), figure.bbox
    assert box.width >= 0.45 * page.width and box.height >= 0.6 * page.height
    assert legend.get_window_extent(renderer).x0 >= box.x1  # beside the data, never on it
    title = ax.title.get_window_extent(renderer)
    assert title.x0 >= page.x0 and title.x1 <= page.x1
    assert ax.get_title().startswith(f"accuracy: {count} runs")


def test_plot_architecture_draws_each_layer_from_the_declaration() -> None:
    from matplotlib.patches import FancyBboxPatch

    from nbmnist import DeclarationError
    from nbmnist.plots import plot_architecture

    figure = plot_architecture("conv 8 3x3 relu | maxpool 2\nflatten\ndense 32 relu", "cnn")
    (axis,) = figure.axes
    blocks = [patch for patch in axis.patches if isinstance(patch, FancyBboxPatch)]
    assert len(blocks) == 6  # input, conv, maxpool, flatten, dense, the appended output
    texts = [text.get_text() for text in axis.texts]
    assert "conv\n8 3x3 relu" in texts and "dense\n10 softmax" in texts
    assert "26x26x8\n80 p" in texts and "1352" in texts  # shapes and parameters, as Keras
    heights = [block.get_height() for block in blocks]
    assert heights[2] < heights[1] and heights[3] == heights[2]  # pooling shrinks the output
    assert "6 layers" not in axis.get_title() and "5 layers, 43,706 parameters" in axis.get_title()
    with pytest.raises(DeclarationError, match="unknown layer 'dence'"):
        plot_architecture("dence 8")
