"""Declaration -> plain Keras code: every layer's call, and code that stands alone."""

from __future__ import annotations

import ast

import pytest

import nbmnist
from nbmnist.declaration import parse_declaration
from nbmnist.declaration.spec import KerasCall
from nbmnist.keras_code import layer_code, model_code, to_keras_code
from tests.conftest import Shell


def test_keras_calls_print_as_python() -> None:
    call = KerasCall(
        "layers.Conv2D",
        (32, (3, 3)),
        {"padding": "same", "kernel_regularizer": KerasCall("regularizers.L2", (0.001,))},
    )
    assert call.code() == (
        'layers.Conv2D(32, (3, 3), padding="same", kernel_regularizer=keras.regularizers.L2(0.001))'
    )


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        (
            "dense 64 relu he_normal l2=0.01",
            "mlp",
            'layers.Dense(64, activation="relu", kernel_initializer="he_normal", '
            "kernel_regularizer=keras.regularizers.L2(0.01))",
        ),
        (
            "conv 8 5x3 stride 2 same",
            "cnn",
            'layers.Conv2D(8, (5, 3), strides=(2, 2), padding="same")',
        ),
        ("conv 8 3 dilation 2", "cnn", "layers.Conv2D(8, (3, 3), dilation_rate=(2, 2))"),
        ("conv 4 3 | maxpool 2", "cnn", "layers.MaxPooling2D((2, 2))"),
        (
            "conv 4 3 | avgpool 3 stride 1 same",
            "cnn",
            'layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")',
        ),
        ("conv 4 3 | globalmaxpool", "cnn", "layers.GlobalMaxPooling2D()"),
        ("dropout 0.25", "mlp", "layers.Dropout(0.25)"),
        ("bn", "mlp", "layers.BatchNormalization()"),
        ("tanh", "mlp", 'layers.Activation("tanh")'),
    ],
)
def test_each_layer_kind_prints_its_keras_call(body: str, kind: str, code: str) -> None:
    spec = parse_declaration(body, kind).layers[-1]  # type: ignore[arg-type]
    assert layer_code(spec) == code


def test_generated_code_is_valid_python_importing_only_keras() -> None:
    code = to_keras_code(
        "conv 8 3 relu | maxpool 2\nflatten\ndense 32 relu", "cnn", name="net", seed=3
    )
    tree = ast.parse(code)
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported == {"keras"}
    assert "keras.utils.set_random_seed(3)" in code and 'name="net"' in code


def test_the_appended_head_is_marked() -> None:
    code = model_code(parse_declaration("dense 16", "mlp").with_head())
    assert 'layers.Dense(10, activation="softmax"),  # output layer added by nbmnist' in code
    assert "added by nbmnist" not in model_code(
        parse_declaration("dense 16 | dense 10 softmax", "mlp").with_head()
    )


def test_steps_per_execution_is_printed_only_when_asked() -> None:
    assert "steps_per_execution" not in to_keras_code("dense 16", "mlp")  # auto: not shown
    assert "    steps_per_execution=8,\n" in to_keras_code("dense 16", "mlp", steps_per_execution=8)


def test_show_code_of_a_sweep_is_the_first_point(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run("%%mlp wide --grid width=32,64 --show-code\ndense {width} relu")
    out = capsys.readouterr().out
    assert out.startswith("# --grid: 2 points; the code of the first, wide[width=32]\n")
    assert 'layers.Dense(32, activation="relu")' in out and "Dense(64" not in out
    assert nbmnist.runs() == []
