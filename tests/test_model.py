"""Declaration -> Keras model: exact parameter counts and layer sequences of the seeds."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from nbmnist import build_model, parse_declaration
from nbmnist.declaration.vocabulary import ACTIVATIONS, INITIALIZERS
from nbmnist.model import summary_text

KERAS_EXAMPLE = (
    "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5"
)

# Total / non-trainable parameters as Keras printed them in the seed notebooks.
SEED_MODELS = [
    ("430 322 relu he_normal bn dropout=0.5", "mlp", 482_570, 1_504),
    ("340 190 112 72 38 relu he_normal bn dropout=0.25", "mlp", 367_390, 1_504),
    ("dense 512 relu | dropout 0.4\ndense 128 relu", "mlp", 468_874, 0),
    (KERAS_EXAMPLE, "cnn", 1_199_882, 0),
    (
        "conv 32 7x7 relu\nconv 64 5x5 relu\nmaxpool 2\nconv 128 5x5 relu\nflatten\ndense 128 relu",
        "cnn",
        668_810,
        0,
    ),
    ("dense 196 | relu\ndense 49 | relu\ndense 10 | softmax", "mlp", 164_013, 0),
]


def non_trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


@pytest.mark.parametrize(("text", "kind", "total", "frozen"), SEED_MODELS)
def test_seed_models_have_the_seed_parameter_counts(
    text: str, kind: str, total: int, frozen: int
) -> None:
    model = build_model(text, kind)  # type: ignore[arg-type]
    assert model.count_params() == total
    assert non_trainable(model) == frozen


def test_same_layers_as_the_seed_keras_code() -> None:
    """Seed 000's first model, written in plain Keras as the seed wrote it."""
    seed = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(430, activation="relu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(322, activation="relu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    ours = build_model("430 322 relu he_normal bn dropout=0.5")
    assert [type(layer) for layer in ours.layers] == [type(layer) for layer in seed.layers]
    assert [layer.output.shape for layer in ours.layers] == [
        layer.output.shape for layer in seed.layers
    ]
    assert [layer.count_params() for layer in ours.layers] == [
        layer.count_params() for layer in seed.layers
    ]
    assert ours.layers[0].get_config()["kernel_initializer"]["class_name"] == "HeNormal"
    assert ours.layers[3].get_config()["activation"] == "relu"
    assert ours.layers[-1].get_config()["activation"] == "softmax"


def test_strides_and_padding_reach_keras() -> None:
    model = build_model("conv 16 5x5 stride 2 same relu\navgpool 2\nflatten", "cnn")
    conv, pool = model.layers[0], model.layers[1]
    assert conv.strides == (2, 2) and conv.padding == "same"
    assert tuple(conv.output.shape) == (None, 14, 14, 16)
    assert type(pool).__name__ == "AveragePooling2D"
    assert tuple(pool.output.shape) == (None, 7, 7, 16)


def test_pure_shape_inference_agrees_with_keras() -> None:
    declaration = parse_declaration(
        "conv 8 5 stride 2 | conv 16 3 same | maxpool 3 stride 2 | conv 4 2 | flatten", "cnn"
    ).with_head(10)
    model = build_model(declaration)
    assert [tuple(layer.output.shape[1:]) for layer in model.layers] == (
        declaration.output_shapes()[1:]
    )


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_word_is_a_keras_activation(name: str) -> None:
    assert callable(keras.activations.get(name))


@pytest.mark.parametrize("name", INITIALIZERS)
def test_every_initializer_word_is_a_keras_initializer(name: str) -> None:
    assert keras.initializers.get(name) is not None


def test_summary_marks_the_appended_head() -> None:
    declaration = parse_declaration("conv 8 3 relu\nmaxpool 2", "cnn").with_head(10)
    text = summary_text(declaration, build_model(declaration))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["conv", "8", "3x3"]
    assert "appended" not in lines[1]
    assert lines[2].startswith("  flatten") and lines[2].endswith("appended by nbmnist")
    assert lines[3].startswith("  dense 10 softmax") and lines[3].endswith("appended by nbmnist")
    assert lines[-1] == "  total params: 13,610 (non-trainable: 0)"


@pytest.mark.parametrize("text", ["dense 32 relu | bn", "dense 32 relu\ndense 10 | softmax"])
def test_mixed_precision_keeps_the_output_layer_float32(text: str) -> None:
    model = build_model(text, mixed_precision=True)
    policies = [layer.dtype_policy.name for layer in model.layers]
    assert policies[:-1] == ["mixed_float16"] * (len(policies) - 1)
    assert policies[-1] == "float32"
    assert model.layers[0].kernel.dtype == "float32"  # variables stay float32
    assert keras.mixed_precision.dtype_policy().name == "float32"  # global policy restored
    assert model.count_params() == build_model(text).count_params()
