"""What happens inside, over epochs: activation quantiles, dead units and gradient norms per
layer, recorded in the run on a fixed held-out batch, and their plots."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from nbmnist import train
from nbmnist.backend import import_keras, probe
from nbmnist.display.console import ConsoleDisplay
from nbmnist.inside import InsideRecorder
from nbmnist.plots import plot_activation_history, plot_gradient_history
from nbmnist.runs import load_runs

pytestmark = pytest.mark.slow


def test_the_backends_probe_gives_the_analytic_gradient() -> None:
    """One linear unit, squared error: d/dw mean((x w - y)^2) = 2 x^T (x w - y) / n."""
    keras = import_keras()
    layer = keras.layers.Dense(1, use_bias=False)
    model = keras.Sequential([keras.Input((3,)), layer])
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    y = np.ones((4, 1), dtype=np.float32)
    w = np.asarray(layer.kernel.numpy())

    def loss(y_pred: object) -> object:
        # y as the backend's tensor: torch's minus hands a NumPy right side to NumPy
        return keras.ops.mean((y_pred - keras.ops.convert_to_tensor(y)) ** 2)

    (output,), (found,) = probe(model, x, loss)
    assert found.shape == (3, 1)
    assert np.allclose(found, 2 * x.T @ (x @ w - y) / 4, atol=1e-5)
    assert np.allclose(output, x @ w, atol=1e-5)  # and the outputs, on the same pass


def test_a_dead_relu_layer_is_counted_and_gradients_vanish_in_a_deep_sigmoid_net(
    tmp_path: Path,
) -> None:
    quiet = ConsoleDisplay(io.StringIO())
    deep = train("dense 32 sigmoid x6", display=quiet, runs_dir=tmp_path, epochs=2,
                 train_size=600, seed=0)  # fmt: skip
    labels = list(deep.gradient_norms)
    assert labels[0] == "Hidden 1 · dense 32" and labels[-1] == "Output · dense 10"
    assert all(len(norms) == 2 for norms in deep.gradient_norms.values())
    first, last = deep.gradient_norms[labels[0]][-1], deep.gradient_norms[labels[-1]][-1]
    assert 0 < first < last / 100  # vanishing: orders of magnitude
    assert all(len(q) == 2 and len(q[0]) == 5 for q in deep.activation_quantiles.values())
    low, *_, high = deep.activation_quantiles[labels[0]][-1]
    assert 0 <= low <= high <= 1  # a sigmoid's
    assert set(deep.dead_units[labels[0]]) == {0.0}
    # a ReLU layer whose bias is far below zero never fires: all its units dead
    keras = import_keras()
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile(loss="categorical_crossentropy")
    model.layers[0].bias.assign(np.full(8, -1e3, dtype=np.float32))
    recorder = InsideRecorder(np.ones((4, 784), np.float32), np.eye(10, dtype=np.float32)[:4])
    recorder.record(model)
    assert recorder.dead == {"Hidden 1 · dense 8": [1.0], "Output · dense 10": [0.0]}
    assert recorder.gradients["Hidden 1 · dense 8"] == [0.0]  # nothing flows through it
    # the record on disk holds them, and the plots draw them
    (stored,) = load_runs(tmp_path)
    assert stored.gradient_norms == deep.gradient_norms
    record = json.loads(next(tmp_path.glob("*/run.json")).read_text())
    assert set(record["dead_units"]) == set(labels)
    figure = plot_gradient_history(deep)
    (axis,) = figure.axes
    assert axis.get_yscale() == "log" and len(axis.lines) == len(labels)
    assert len(plot_activation_history(deep).axes) == len(labels)


def test_the_plots_say_when_a_run_recorded_nothing() -> None:
    from tests.conftest import make_run

    old = make_run("old", 0.9)
    with pytest.raises(ValueError, match="has no gradient history"):
        plot_gradient_history(old)
    with pytest.raises(ValueError, match="has no activation history"):
        plot_activation_history(old)
