"""The declaration language: pure parsing, no Keras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nbmnist import DeclarationError, parse_declaration
from nbmnist.declaration import (
    ActivationSpec,
    BatchNormSpec,
    ConvSpec,
    DenseSpec,
    DropoutSpec,
    FlattenSpec,
    PoolSpec,
)


def test_mlp_shorthand_expands_to_dense_bn_dropout_per_width() -> None:
    declaration = parse_declaration("430 322 relu he_normal bn dropout=0.5", "mlp")
    assert declaration.layers == (
        DenseSpec(430, "relu", "he_normal"),
        BatchNormSpec(),
        DropoutSpec(0.5),
        DenseSpec(322, "relu", "he_normal"),
        BatchNormSpec(),
        DropoutSpec(0.5),
    )


def test_explicit_form_equals_shorthand() -> None:
    explicit = parse_declaration(
        "dense 430 relu he_normal\nbn\ndropout 0.5\ndense 322 relu he_normal | bn | dropout 0.5"
    )
    assert explicit.layers == parse_declaration("430 322 relu he_normal bn dropout=0.5").layers


def test_cnn_keras_example() -> None:
    text = "conv 32 3x3 relu\nconv 64 3 relu\nmaxpool 2\ndropout 0.25\nflatten\ndense 128 relu"
    declaration = parse_declaration(text, "cnn")
    assert declaration.layers == (
        ConvSpec(32, (3, 3), activation="relu"),
        ConvSpec(64, (3, 3), activation="relu"),
        PoolSpec("max", (2, 2)),
        DropoutSpec(0.25),
        FlattenSpec(),
        DenseSpec(128, "relu"),
    )
    assert declaration.output_shapes()[-1] == (128,)
    assert declaration.output_shapes()[3] == (12, 12, 64)


def test_conv_options_strides_padding_initializer_in_any_order() -> None:
    (spec,) = parse_declaration("conv 16 5x5 same stride 2 he_uniform elu", "cnn").layers
    assert spec == ConvSpec(16, (5, 5), (2, 2), "same", "elu", "he_uniform")
    assert parse_declaration("conv 16 5 stride=2", "cnn").layers[0].strides == (2, 2)
    assert parse_declaration("avgpool 3x3 stride 1 same", "cnn").layers[0] == PoolSpec(
        "avg", (3, 3), (1, 1), "same"
    )


def test_repeat_comments_blank_lines_and_case() -> None:
    text = "# two conv blocks\n\nConv 8 3 ReLU | BN x2   # repeated\n  flatten\n"
    declaration = parse_declaration(text, "cnn")
    assert [type(s) for s in declaration.layers] == [
        ConvSpec,
        BatchNormSpec,
        ConvSpec,
        BatchNormSpec,
        FlattenSpec,
    ]
    assert declaration.layers[0].line == 3
    assert declaration.layers[-1].line == 4


def test_activation_alone_is_a_layer() -> None:
    declaration = parse_declaration("dense 196 | relu\ndense 49 | relu\ndense 10 | softmax")
    assert declaration.layers[1] == ActivationSpec("relu")
    assert declaration.has_head(10)
    assert declaration.with_head(10) is declaration


@pytest.mark.parametrize(
    ("text", "kind", "appended"),
    [
        ("dense 128 relu", "mlp", ["dense 10 softmax"]),
        ("dense 128 relu\ndense 10", "mlp", []),
        ("dense 128 relu\ndense 10 softmax", "mlp", []),
        ("dense 128 relu\ndense 10 | softmax", "mlp", []),
        ("dense 10 relu\ndense 64", "mlp", ["dense 10 softmax"]),
        ("conv 8 3 relu\nflatten", "cnn", ["dense 10 softmax"]),
        ("conv 8 3 relu\nmaxpool 2", "cnn", ["flatten", "dense 10 softmax"]),
    ],
)
def test_output_head_is_appended_unless_present(text: str, kind: str, appended: list[str]) -> None:
    declaration = parse_declaration(text, kind)  # type: ignore[arg-type]
    with_head = declaration.with_head(10)
    added = with_head.layers[len(declaration.layers) :]
    assert [spec.describe() for spec in added] == appended
    assert with_head.head_appended == bool(appended)
    assert with_head.head_layers == len(appended)


def test_linear_output_is_detected() -> None:
    assert parse_declaration("dense 32 relu\ndense 10").output_activation == "linear"
    assert parse_declaration("dense 10 | softmax").output_activation == "softmax"


def test_summary_properties() -> None:
    declaration = parse_declaration("430 322 relu bn dropout=0.5").with_head(10)
    assert declaration.architecture == "dense 430-322-10"
    assert declaration.uses_batchnorm
    assert declaration.dropout_rates == (0.5,)


@pytest.mark.parametrize(
    ("text", "kind", "fragment", "line", "column"),
    [
        ("dense 128\ndence 64", "mlp", "unknown layer 'dence'", 2, 1),
        ("dense 64 relu\n  --epochs 3", "mlp", "'--epochs 3' is a flag of the magic line", 2, 3),
        ("--epochs 3 --batch-size 64", "cnn", "after %%cnn (e.g. '%%cnn my_run --epochs", 1, 1),
        ("model.add(Dense(128, activation='relu'))", "mlp", "here write 'dense 128 relu'", 1, 1),
        ("layers.Conv2D(32, (3, 3), activation='relu')", "cnn", "write 'conv 32 3x3 relu'", 1, 1),
        ("  layers.Dropout(0.25),", "cnn", "this line is Python code; a %%cnn body", 1, 3),
        ("from keras import layers", "mlp", "Python goes in a cell of its own", 1, 1),
        ("model = keras.Sequential()", "mlp", "e.g. 'dense 128 relu'", 1, 1),
        ("dence 64", "mlp", "Did you mean 'dense'?", 1, 1),
        ("dense 128 rellu", "mlp", "Did you mean 'relu'?", 1, 11),
        ("dense 128 relu he_nromal", "mlp", "Did you mean 'he_normal'?", 1, 16),
        ("conv 8 3 sme", "cnn", "Did you mean 'same'?", 1, 10),
        ("dense", "mlp", "'dense' is missing its number of units", 1, 1),
        ("dense many", "mlp", "expected units (a whole number > 0), got 'many'", 1, 7),
        ("dense 0", "mlp", "got '0'", 1, 7),
        ("dense -5", "mlp", "got '-5'", 1, 7),
        ("conv 0 3", "cnn", "expected filters", 1, 6),
        ("conv 8", "cnn", "missing its kernel size", 1, 1),
        ("conv 8 3y3", "cnn", "kernel size like 3 or 3x3", 1, 8),
        ("dropout 1.5", "mlp", "dropout rate must be a fraction in [0, 1)", 1, 9),
        ("dropout 1", "mlp", "[0, 1)", 1, 9),
        ("dropout half", "mlp", "got 'half'", 1, 9),
        ("128 64 relu dropout=2", "mlp", "dropout rate", 1, 13),
        ("128 64 relu dropout 0.5", "mlp", "dropout=RATE", 1, 13),
        ("flatten 3", "cnn", "takes no arguments", 1, 9),
        ("dense 12 relu relu", "mlp", "activation given twice", 1, 15),
        ("dense 12 | | relu", "mlp", "empty layer", 1, 12),
        ("dense 12 x0", "mlp", "repeat count", 1, 10),
        ("128 64", "cnn", "units shorthand", 1, 1),
        ("dense 12 l2=-1", "mlp", "l2 factor must be a number > 0", 1, 10),
        ("dense 12 l2", "mlp", "write the L2 factor as 'l2=0.001'", 1, 10),
        ("conv 8 3 dilaton 2", "cnn", "Did you mean 'dilation'?", 1, 10),
        ("conv 8 3 stride 2 dilation 2", "cnn", "both stride > 1 and dilation > 1", 1, 1),
        ("conv 8 3 stride", "cnn", "missing its stride", 1, 1),
        ("maxpool 2 stride 0", "cnn", "expected a stride like 3 or 3x3, got '0'", 1, 18),
        ("dropout {rate}", "mlp", "undefined name 'rate' in '{rate}'", 1, 9),
        ("dropout {1+2}", "mlp", "'{1+2}' is not a variable", 1, 9),
        ("dropout {rate", "mlp", "unmatched brace", 1, 9),
        ("globalavgpool 2", "cnn", "takes no arguments", 1, 15),
    ],
)
def test_errors_name_line_column_and_token(
    text: str, kind: str, fragment: str, line: int, column: int
) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(text, kind)  # type: ignore[arg-type]
    error = caught.value
    assert fragment in str(error)
    assert (error.line, error.column) == (line, column)
    assert str(error).startswith(f"line {line}, col {column}: ")
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("text", "kind", "fragment", "line", "column"),
    [
        (
            "conv 8 3 relu",
            "mlp",
            "needs image input; declare convolutional models in a %%cnn",
            1,
            1,
        ),
        ("conv 8 3\nflatten\nconv 8 3", "cnn", "'conv' after 'flatten' (line 2)", 3, 1),
        ("conv 8 3 | flatten | conv 8 3", "cnn", "'conv' after 'flatten' (line 1)", 1, 22),
        ("conv 8 3\ndense 10", "cnn", "add 'flatten' before it", 2, 1),
        ("flatten | globalavgpool", "cnn", "'globalavgpool' needs a 2-D feature map", 1, 11),
        ("conv 8 29x29", "cnn", "kernel 29x29 is larger than the 28x28 feature map", 1, 1),
        ("conv 8 7 x5", "cnn", "kernel 7x7 is larger than the 4x4 feature map", 1, 1),
        ("  maxpool 2 x5", "cnn", "pool 2x2 is larger than the 1x1 feature map", 1, 3),
        ("conv 8 9 dilation 4", "cnn", "dilated kernel 33x33 is larger than the 28x28", 1, 1),
    ],
)
def test_structural_errors_are_caught_before_keras(
    text: str, kind: str, fragment: str, line: int, column: int
) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(text, kind)  # type: ignore[arg-type]
    assert fragment in str(caught.value)
    assert (caught.value.line, caught.value.column) == (line, column)


@pytest.mark.parametrize("text", ["", "   \n# only a comment\n"])
def test_empty_body_is_an_error(text: str) -> None:
    with pytest.raises(DeclarationError, match="declares no layers"):
        parse_declaration(text)


@pytest.mark.parametrize(
    "stub", ["...", "# YOUR CODE HERE", "raise NotImplementedError()", "raise NotImplementedError"]
)
def test_grader_stubs_ask_to_fill_in_the_line(stub: str) -> None:
    with pytest.raises(NotImplementedError, match="fill in line 2"):
        parse_declaration(f"dense 128 relu\n{stub}\n")


def test_declaration_error_renders_as_one_line_in_ipython() -> None:
    error = DeclarationError("unknown layer 'dence'", line=2, column=1, token="dence")
    assert error._render_traceback_() == ["DeclarationError: line 2, col 1: unknown layer 'dence'"]


def test_parsing_imports_neither_keras_nor_tensorflow() -> None:
    code = (
        "import sys, nbmnist\n"
        "nbmnist.parse_declaration('430 322 relu he_normal bn dropout=0.5')\n"
        "try:\n    nbmnist.parse_declaration('dence 3')\nexcept nbmnist.DeclarationError:\n"
        "    pass\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_variables_are_looked_up_never_evaluated() -> None:
    declaration = parse_declaration(
        "dense {units} {act}\n128 relu dropout={rate}",
        variables={"units": 64, "act": "tanh", "rate": 0.3},
    )
    assert declaration.layers == (
        DenseSpec(64, "tanh"),
        DenseSpec(128, "relu"),
        DropoutSpec(0.3),
    )
    assert declaration.variables == {"units": "64", "act": "tanh", "rate": "0.3"}
    assert parse_declaration("dense 8", variables={"rate": 0.3}).variables == {}  # unused


@pytest.mark.parametrize("value", ["0.3 | dense 5", "", "relu relu", "{x}"])
def test_a_variable_cannot_change_the_line_structure(value: str) -> None:
    with pytest.raises(DeclarationError, match="must hold one word or number"):
        parse_declaration("dropout {rate}", variables={"rate": value})


def test_new_layers_dilation_l2_and_global_pooling() -> None:
    declaration = parse_declaration(
        "conv 8 3 dilation 2 same l2=0.001 | globalavgpool\ndense 16 relu l2=1e-4", "cnn"
    )
    conv, pool, dense = declaration.layers
    assert conv == ConvSpec(8, (3, 3), padding="same", dilation=(2, 2), l2=0.001)
    assert pool.describe() == "globalavgpool" and dense.l2 == 1e-4
    assert declaration.output_shapes()[1:] == [(28, 28, 8), (8,), (16,)]
    assert conv.describe() == "conv 8 3x3 dilation 2 same l2=0.001"


def test_docs_list_exactly_the_parser_vocabulary() -> None:
    """docs/declarations.md and the parser's vocabulary cannot drift apart: every word is
    documented, its example parses, builds its Keras layer and prints its code."""
    import re

    from nbmnist.declaration.vocabulary import ACTIVATIONS, INITIALIZERS, LAYER_WORDS
    from nbmnist.model import build_model
    from tests.conftest import REPO

    docs = (REPO / "docs" / "declarations.md").read_text()
    table = docs.split("## Layers", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = [row for row in table.splitlines() if row.startswith("| `")]
    documented = {re.match(r"\| `(\w+)`", row)[1] for row in rows}  # type: ignore[index]
    assert documented == {word.keyword for word in LAYER_WORDS}
    for word in LAYER_WORDS:
        row = next(row for row in rows if row.startswith(f"| `{word.keyword}`"))
        assert all(f"`{alias}`" in row for alias in word.aliases)
        assert f"keras.layers.{word.keras_class}" in row
        example = re.findall(r"`([^`]+)`", row)[-1].replace("\\|", "|")  # the example parses
        kind = "mlp" if word.keyword in ("dense", "dropout", "bn") else "cnn"
        declaration = parse_declaration(
            example if kind == "mlp" else f"conv 4 3 | {example}",
            kind,  # type: ignore[arg-type]
        )
        # ... builds the Keras layer the table names, and --show-code prints that call
        spec = declaration.layers[-1]
        model = build_model(declaration)
        layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        built = layers[len(layers) - declaration.with_head().head_layers - 1]  # the last spec's
        assert type(built).__name__ == word.keras_class
        assert spec.keras_call().code().startswith(f"layers.{word.keras_class}(")
    for name in (*ACTIVATIONS, *INITIALIZERS):
        assert f"`{name}`" in docs
    # every keyword is parsed by exactly one spec class, and every class's word is a keyword
    from nbmnist.declaration.spec import LAYER_SPECS

    parsed = [word for spec in LAYER_SPECS for word in spec.WORDS]
    assert sorted(parsed) == sorted(word.keyword for word in LAYER_WORDS)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("dense 64 relu | dense 5 softmax", "line 1, col 17: the model ends in 'dense 5 softmax'"),
        ("dense 64 | softmax", "(softmax over 64), but there are 10 classes"),
        # activations alone (found by the fuzz test: was a StopIteration)
        ("softmax", "the model ends in 'softmax' (softmax over 784)"),
        ("relu | log_softmax", "(log_softmax over 784), but there are 10 classes"),
    ],
)
def test_a_softmax_of_other_classes_is_not_silently_stacked_with_the_head(
    body: str, fragment: str
) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(body, "mlp").with_head()
    assert fragment in str(caught.value)
    # an output layer of 10, or none, is fine
    assert parse_declaration("dense 64 | dense 10 softmax", "mlp").with_head().head_layers == 0
    assert parse_declaration("dense 64 relu", "mlp").with_head().head_layers == 1
