"""Looking inside a model: predictions, the confusion matrix, per-class accuracy, mistakes."""

from __future__ import annotations

import re

import numpy as np
import pytest

import nbmnist
from nbmnist import OptionError, load_dataset, train
from nbmnist.data import as_model_input
from nbmnist.display.console import ConsoleDisplay
from nbmnist.predictions import scored_predictions
from tests.conftest import TINY_CNN, TINY_MLP

_TRAINED: dict[str, nbmnist.Run] = {}


def trained(kind: str = "mlp") -> nbmnist.Run:
    """One small model per kind, trained once for these tests (1 epoch on the sample)."""
    if kind not in _TRAINED:
        body = TINY_MLP if kind == "mlp" else TINY_CNN
        _TRAINED[kind] = train(body, kind, f"look_{kind}", display=ConsoleDisplay(), epochs=1)  # type: ignore[arg-type]
    return _TRAINED[kind]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_predict_takes_any_image_shape_and_dtype_and_agrees_with_the_test_score(kind: str) -> None:
    run = trained(kind)
    test = load_dataset("mnist", source="sample").x_test[:20]  # uint8 (20, 28, 28)
    expected = nbmnist.predict(run, test)
    assert expected.shape == (20, 10) and expected.dtype == np.float32
    assert np.allclose(expected.sum(axis=1), 1, atol=1e-4)
    for same in (test.reshape(20, 784), test.astype(np.float32) / 255, test[..., None]):
        assert np.allclose(nbmnist.predict(run, same), expected, atol=1e-5)
    one = nbmnist.predict(run, test[0])
    assert one.shape == (1, 10) and np.allclose(one[0], expected[0], atol=1e-5)
    # the test accuracy the run recorded is the one its predictions give
    found = scored_predictions(run)
    assert (found.predicted == found.labels).mean() == pytest.approx(run.test_accuracy, abs=1e-6)


@pytest.mark.parametrize(
    ("images", "fragment"),
    [
        (np.zeros((3, 32, 32), np.uint8), "got (3, 32, 32)"),
        (np.zeros((10,), np.uint8), "got (10,)"),
        (np.full((28, 28), 255.0), "floats in [0, 1]"),
        (np.array([["a"] * 784]), "must be numbers"),
    ],
)
def test_images_of_another_shape_or_scale_are_one_line_errors(
    images: np.ndarray, fragment: str
) -> None:
    with pytest.raises(OptionError, match=re.escape(fragment)):
        as_model_input(images, "mlp")


def test_confusion_matrix_counts_every_test_image_once() -> None:
    run = trained()
    matrix = nbmnist.confusion_matrix(run)
    found = scored_predictions(run)
    assert matrix.counts.shape == (10, 10) and matrix.counts.sum() == len(found.labels)
    assert list(matrix.counts.sum(axis=1)) == list(np.bincount(found.labels, minlength=10))
    assert matrix.accuracy == pytest.approx(run.test_accuracy, abs=1e-6)
    assert np.allclose(matrix.rates.sum(axis=1), 1)
    ax = matrix.figure.axes[0]
    assert "look_mlp" in ax.get_title() and "MNIST test set (bundled sample)" in ax.get_title()
    cells = [text.get_text() for text in ax.texts]
    assert cells[0] == f"{matrix.counts[0, 0]:,}" and len(cells) == 100
    assert matrix._repr_png_().startswith(b"\x89PNG")


def test_per_class_accuracy_has_a_column_per_run() -> None:
    a, b = trained("mlp"), trained("cnn")
    table = nbmnist.per_class_accuracy([a, b])
    assert table.field_names == ["class", "look_mlp", "look_cnn"]
    rows = table.rows
    assert [row[0] for row in rows] == [str(d) for d in range(10)] + ["all"]
    assert float(rows[-1][1]) == pytest.approx(a.test_accuracy, abs=1e-4)
    found = scored_predictions(b)
    threes = found.labels == 3
    assert float(rows[3][2]) == pytest.approx((found.predicted[threes] == 3).mean(), abs=1e-4)


def test_misclassified_are_wrong_and_most_confident_first() -> None:
    run = trained()
    mistakes = nbmnist.misclassified(run, n=8)
    found = scored_predictions(run)
    assert 0 < len(mistakes) <= 8
    assert all(found.predicted[i] != found.labels[i] for i in mistakes.indices)
    assert list(mistakes.confidence) == sorted(mistakes.confidence, reverse=True)
    titles = [ax.get_title() for ax in mistakes.figure.axes if ax.get_title()]
    t, p = mistakes.true[0], mistakes.predicted[0]
    assert titles[0] == f"{t} → {p} ({mistakes.confidence[0]:.0%})"
    pair = nbmnist.misclassified(run, n=50, true=int(t), predicted=int(p))
    assert set(pair.true) == {t} and set(pair.predicted) == {p}
    with pytest.raises(OptionError, match="true must be a class from 0 to 9"):
        nbmnist.misclassified(run, true=10)


def test_classes_are_taken_by_name_wherever_by_index() -> None:
    from nbmnist.data import DATASETS
    from nbmnist.predictions import class_index

    names = DATASETS["fashion_mnist"].class_names
    assert class_index("Shirt", names) == 6 == class_index(" shirt ", names)
    assert class_index(6, names) == class_index(np.int64(6), names) == 6
    assert class_index("3", DATASETS["mnist"].class_names) == 3
    with pytest.raises(OptionError, match=r"or its name \('T-shirt/top'.*Did you mean 'Shirt'"):
        class_index("Shirts", names, "true")
    with pytest.raises(OptionError, match="true must be a class from 0 to 9"):
        class_index(True, names, "true")
    run = trained()
    by_name = nbmnist.misclassified(run, n=50, true="7")
    assert list(by_name.indices) == list(nbmnist.misclassified(run, n=50, true=7).indices)


def test_kernel_quantiles_are_recorded_every_epoch_and_plotted() -> None:
    from nbmnist.plots import WEIGHT_QUANTILES, weight_arrays

    run = train("dense 16 relu | bn", "mlp", "moving", display=ConsoleDisplay(), epochs=2)
    assert list(run.weight_quantiles) == ["Hidden 1 · dense 16", "Output · dense 10"]
    assert all(len(rows) == 2 for rows in run.weight_quantiles.values())  # one per epoch
    final = weight_arrays(run)[0].values  # the last epoch's quantiles are the final kernel's
    expected = np.quantile(final.astype(np.float64), WEIGHT_QUANTILES)
    assert np.allclose(run.weight_quantiles["Hidden 1 · dense 16"][-1], expected, atol=1e-6)
    assert nbmnist.load_runs()["moving"].weight_quantiles == run.weight_quantiles  # on disk
    figure = nbmnist.plot_weight_history(run)
    assert [ax.get_title() for ax in figure.axes] == list(run.weight_quantiles)
    median = figure.axes[0].get_lines()[0]
    assert list(median.get_xdata()) == [1, 2]
    assert list(median.get_ydata()) == [q[2] for q in run.weight_quantiles["Hidden 1 · dense 16"]]


def test_filters_and_feature_maps_of_a_cnn() -> None:
    run = trained("cnn")  # conv 8 3x3
    figure = nbmnist.plot_filters(run)
    images = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    kernel = np.asarray(run.model.layers[0].kernel.numpy())
    assert len(images) == 8 and np.allclose(images[0], kernel[:, :, 0, 0], atol=1e-6)
    image = load_dataset("mnist", source="sample").x_test[0]
    maps = nbmnist.plot_feature_maps(run, image)
    drawn = [ax.images[0].get_array() for ax in maps.axes if ax.images]
    assert len(drawn) == 1 + 8 and drawn[1].shape == (26, 26)  # the image, then 8 maps
    with pytest.raises(ValueError, match="has no convolution layer"):
        nbmnist.plot_filters(trained("mlp"))


def test_violins_of_a_run_name_its_data() -> None:
    title = nbmnist.plot_weight_violins(trained()).axes[0].get_title()
    assert title == "look_mlp: trained weights per layer · MNIST (bundled sample)"


def test_a_rerun_of_a_name_gets_its_own_predictions() -> None:
    first = train(TINY_MLP, "mlp", "again", display=ConsoleDisplay(), epochs=1, seed=1)
    before = scored_predictions(first)
    assert scored_predictions(first) is before  # computed once per model
    second = train(
        TINY_MLP, "mlp", "again", display=ConsoleDisplay(), epochs=1, seed=2, overwrite=True
    )
    after = scored_predictions(second)
    assert after.run is second and after is not before
    assert np.allclose(after.probabilities, nbmnist.predict(second, after.dataset.x_test))
