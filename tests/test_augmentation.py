"""Data augmentation as declaration words: parsed and checked before Keras, built as Keras'
preprocessing layers, active only while training, printed by ``--show-code``, drawn by
``plot_augmentations``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from nbmnist import DeclarationError, OptionError, parse_declaration, train
from nbmnist.display.console import ConsoleDisplay
from nbmnist.keras_code import to_keras_code
from nbmnist.plots import plot_augmentations

AUGMENTED = (
    "random_rotation 0.05 | random_translation 0.1 0.05 | random_zoom 0.1\n"
    "random_contrast 0.2 | gaussian_noise 0.05\n"
    "conv 8 3 relu | maxpool 2\nflatten"
)


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        ("random_rotation 0.05\ndense 8", "mlp", "line 1, col 1: 'random_rotation' changes images"),
        ("random_zoom", "cnn", "'random_zoom' is missing its factor"),
        ("random_rotation 1.5", "cnn", "line 1, col 17: the factor (a fraction of a full turn)"),
        ("random_contrast -0.2", "cnn", "must be a number in (0, 1], e.g. 0.2; got '-0.2'"),
        ("random_translation 0.1 0.1 0.1", "cnn", "takes at most HEIGHT WIDTH, got '0.1'"),
        ("gaussian_noise 0.1 relu", "mlp", "line 1, col 20"),
        ("flatten | random_zoom 0.1", "cnn", "col 11: 'random_zoom' changes images"),
    ],
)
def test_bad_augmentation_is_a_one_line_error_before_keras(
    body: str, kind: str, message: str
) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(body, kind).output_shapes()  # type: ignore[arg-type]
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_augmentation_words_describe_and_print_their_keras_layers() -> None:
    declaration = parse_declaration(AUGMENTED, "cnn")
    described = [spec.describe() for spec in declaration.layers[:5]]
    assert described == [
        "random_rotation 0.05",
        "random_translation 0.1 0.05",
        "random_zoom 0.1",
        "random_contrast 0.2",
        "gaussian_noise 0.05",
    ]
    assert declaration.output_shapes()[5] == (28, 28, 1)  # images pass through unchanged
    assert declaration.parameter_counts()[:5] == [0] * 5
    code = to_keras_code(AUGMENTED, "cnn")
    for call in (
        "layers.RandomRotation(0.05)",
        "layers.RandomTranslation(0.1, 0.05)",
        "layers.RandomZoom(0.1)",
        "layers.RandomContrast(0.2)",
        "layers.GaussianNoise(0.05)",
    ):
        assert call in code
    assert "layers.RandomTranslation(0.1, 0.1)" in to_keras_code("random_translation 0.1", "cnn")


@pytest.mark.slow
def test_an_augmented_model_trains_and_is_evaluated_on_the_real_images(tmp_path: Path) -> None:
    """Augmentation changes training batches only: evaluating or predicting twice gives the
    same scores, which are the test scores the run recorded."""
    run = train(AUGMENTED, "cnn", display=ConsoleDisplay(io.StringIO()), runs_dir=tmp_path,
                epochs=2, train_size=600, validation="test", seed=3)  # fmt: skip
    assert run.status == "completed" and run.test_accuracy is not None
    names = [type(layer).__name__ for layer in run.model.layers[:5]]
    assert names == [
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomContrast",
        "GaussianNoise",
    ]
    from nbmnist import load_dataset
    from nbmnist.training import prepare_arrays

    _, _, x_test, y_test = prepare_arrays(load_dataset("mnist", source="sample"), "cnn")
    first = run.model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)
    second = run.model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)
    assert first["accuracy"] == second["accuracy"] == pytest.approx(run.test_accuracy)
    assert np.array_equal(run.model.predict(x_test[:8], verbose=0),
                          run.model.predict(x_test[:8], verbose=0))  # fmt: skip
    run.release_model()  # saved with its augmentation layers, loaded back
    assert [type(layer).__name__ for layer in run.model.layers[:1]] == ["RandomRotation"]


@pytest.mark.slow
def test_an_mlp_can_add_gaussian_noise(tmp_path: Path) -> None:
    run = train("gaussian_noise 0.1 | dense 16 relu", display=ConsoleDisplay(io.StringIO()),
                runs_dir=tmp_path, epochs=1, train_size=300)  # fmt: skip
    assert run.status == "completed" and run.architecture.startswith("dense 16")


def test_plot_augmentations_shows_the_images_and_their_changed_copies() -> None:
    figure = plot_augmentations("random_rotation 0.1 | random_zoom 0.2\nconv 4 3", n=4, repeats=2)
    axes = np.asarray(figure.axes).reshape(3, 4)
    pixels = [[axis.images[0].get_array() for axis in row] for row in axes]
    assert all(not np.array_equal(pixels[0][i], pixels[1][i]) for i in range(4))
    assert not np.array_equal(pixels[1][0], pixels[2][0])  # every batch drawn anew
    assert "random_rotation 0.1 | random_zoom 0.2" in figure.texts[0].get_text()
    again = plot_augmentations("random_rotation 0.1 | random_zoom 0.2\nconv 4 3", n=4, repeats=2)
    assert np.array_equal(np.asarray(again.axes[5].images[0].get_array()), pixels[1][1])


def test_plot_augmentations_says_when_there_is_nothing_to_show() -> None:
    with pytest.raises(DeclarationError, match="declares no data augmentation"):
        plot_augmentations("conv 4 3 | flatten")
    with pytest.raises(OptionError, match="1-16 images in 1-8 rows"):
        plot_augmentations("random_zoom 0.1", n=40)
