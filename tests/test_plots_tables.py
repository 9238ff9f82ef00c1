"""Violins read kernels by layer; tables read every cell from the runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from nbmnist import build_model, plot_weight_violins, summary_table
from nbmnist.plots import weight_arrays
from nbmnist.runs import Run, record


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


def test_violins_of_several_models_and_into_a_user_axes() -> None:
    models = [build_model("dense 8"), build_model("dense 8 | dense 8")]
    assert len(plot_weight_violins(models).axes) == 2
    user_figure, user_ax = plt.subplots()
    assert plot_weight_violins(models[0], ax=user_ax) is user_figure
    assert plt.fignum_exists(user_figure.number)  # the user's figure stays open
    plt.close(user_figure)
    with pytest.raises(ValueError, match="single run"):
        plot_weight_violins(models, ax=user_ax)


def make_run(name: str, accuracy: float, **extra: object) -> Run:
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


def test_summary_table_cells_come_from_the_runs() -> None:
    record(make_run("relu_2h", 0.9856))
    record(make_run("relu_3h", 0.982, test_loss=0.0602, uses_sample=True))
    table = summary_table()
    assert table.field_names[:3] == ["name", "architecture", "optimizer"]
    rows = [dict(zip(table.field_names, row, strict=True)) for row in table.rows]
    assert rows[0]["test accuracy"] == "0.9856"  # the seed typed 0.99 for this run
    assert rows[0]["test loss"] == "0.0515"
    assert rows[1]["test loss"] == "0.0602"
    assert rows[0]["params"] == "482,570" and rows[0]["BN"] == "yes"
    assert rows[0]["dropout"] == "0.5" and rows[0]["loss"] == "crossentropy"
    assert rows[0]["epochs"] == 2 and rows[0]["wall time (s)"] == "79.2"
    assert rows[0]["best val accuracy"] == "0.9856" and rows[0]["best epoch"] == "2"
    assert rows[0]["data"] == "MNIST" and rows[1]["data"] == "MNIST (sample)"
    text = table.get_string()
    assert "| relu_2h" in text and "0.9856" in text
    assert "<table>" in table._repr_html_()


def test_summary_table_columns_and_sorting() -> None:
    runs = [make_run("a", 0.97), make_run("b", 0.99), make_run("c", 0.98)]
    table = summary_table(runs, columns=["name", "test accuracy"], sort_by="test accuracy")
    assert [row[0] for row in table.rows] == ["b", "c", "a"]
    with pytest.raises(ValueError, match="unknown column 'acc'"):
        summary_table(runs, columns=["acc"])
