"""Every seed model, declared in nbmnist's language, builds what the seed's own Keras builds;
and the Keras code nbmnist writes for it builds the same model again."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from nbmnist import build_model, parse_declaration
from nbmnist.keras_code import to_keras_code
from tests.conftest import run_generated_code
from tests.seed_models import SEED_MODELS, SWEEP_RATE, SeedModel

IDS = [f"{m.seed}-{n}-{m.label}" for n, m in enumerate(SEED_MODELS)]
VARIABLES = {"rate": SWEEP_RATE}


def seed_keras_model(model: SeedModel) -> keras.Sequential:
    """Run the seed's own model.add(...) lines (Keras 2 style, which Keras 3 still accepts)."""
    from keras.layers import (
        Activation,
        BatchNormalization,
        Conv2D,
        Dense,
        Dropout,
        Flatten,
        MaxPooling2D,
    )

    namespace: dict[str, Any] = {
        "model": keras.Sequential(),
        "Activation": Activation,
        "BatchNormalization": BatchNormalization,
        "Conv2D": Conv2D,
        "Dense": Dense,
        "Dropout": Dropout,
        "Flatten": Flatten,
        "MaxPooling2D": MaxPooling2D,
        "he_normal": keras.initializers.HeNormal,
        "input_dim": 784,
        "input_shape": (28, 28, 1),
        "output_dim": 10,
        "num_classes": 10,
        "num_clas": 10,
        "i": 3,
    }
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 prefers keras.Input to input_shape=
        exec("\n".join(model.keras_lines), namespace)
    return namespace["model"]


def describe_layers(model: keras.Model) -> list[tuple[Any, ...]]:
    """What must agree, layer by layer: type, output shape, parameters and the settings."""
    rows = []
    for layer in model.layers:
        config = layer.get_config()
        settings = {
            key: config[key]
            for key in (
                "units",
                "filters",
                "kernel_size",
                "strides",
                "padding",
                "pool_size",
                "rate",
            )
            if key in config
        }
        if "activation" in config:
            settings["activation"] = config["activation"]
        if "kernel_initializer" in config:
            settings["kernel_initializer"] = config["kernel_initializer"]["class_name"]
        if "dilation_rate" in config:
            settings["dilation_rate"] = config["dilation_rate"]
        if settings.get("rate") is not None:
            settings["rate"] = round(settings["rate"], 10)
        rows.append(
            (type(layer).__name__, tuple(layer.output.shape), layer.count_params(), settings)
        )
    return rows


def frozen_params(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


@pytest.mark.parametrize("model", SEED_MODELS, ids=IDS)
def test_declaration_builds_the_seed_model(model: SeedModel) -> None:
    declaration = parse_declaration(model.declaration, model.kind, VARIABLES)  # type: ignore[arg-type]
    ours = build_model(declaration)
    seed = seed_keras_model(model)
    assert describe_layers(ours) == describe_layers(seed)
    assert ours.count_params() == seed.count_params()
    if model.printed is not None:
        assert (ours.count_params(), frozen_params(ours)) == model.printed


def test_coverage_of_the_five_seeds() -> None:
    seeds = {model.seed for model in SEED_MODELS}
    assert seeds == {"000", "001", "002", "003", "004"}
    assert len(SEED_MODELS) >= 30


@pytest.mark.parametrize("model", SEED_MODELS, ids=IDS)
def test_generated_keras_code_builds_the_same_model(
    model: SeedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    declaration = parse_declaration(model.declaration, model.kind, VARIABLES)  # type: ignore[arg-type]
    code = to_keras_code(declaration, name="seed", epochs=3, batch_size=120, validation="test")
    calls = run_generated_code(code, monkeypatch, train=False)
    assert describe_layers(calls["model"]) == describe_layers(build_model(declaration))
    assert calls["fit"]["batch_size"] == 120 and calls["fit"]["epochs"] == 3
    assert "validation_data" in calls["fit"]


@pytest.mark.parametrize(
    ("text", "kind", "options"),
    [
        ("430 322 relu he_normal bn dropout=0.5", "mlp", {"epochs": 1, "seed": 1}),
        ("dense 32 relu\ndense 10", "mlp", {"epochs": 1, "loss": "mse", "train_size": 100}),
        ("dense 16 relu", "mlp", {"epochs": 2, "lr_schedule": "cosine", "learning_rate": 0.01}),
        ("dense 16 relu", "mlp", {"epochs": 1, "lr_schedule": "cosine", "validation": "test"}),
        ("dense 16 relu", "mlp", {"epochs": 2, "steps_per_execution": 3, "batch_size": 32}),
        (
            "conv 8 3 dilation 2 same l2=0.001 | maxpool 2 | globalavgpool",
            "cnn",
            {"epochs": 1, "optimizer": "adadelta", "learning_rate": 1.0, "data": "fashion_mnist"},
        ),
    ],
)
def test_generated_code_trains_as_written(
    text: str, kind: str, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = to_keras_code(text, kind, **options)  # type: ignore[arg-type]
    namespace = run_generated_code(code, monkeypatch, train=True)["namespace"]
    assert len(namespace["history"].history["loss"]) == options["epochs"]
    assert 0.0 <= namespace["test_accuracy"] <= 1.0
    assert namespace["model"].count_params() == build_model(text, kind).count_params()  # type: ignore[arg-type]
