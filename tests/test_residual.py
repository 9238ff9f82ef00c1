"""Skip connections: ``residual(LAYER | LAYER ...)`` parsed and shape-checked before Keras,
counted as Keras counts, built and printed with the functional API, trained and reloaded."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from nbmnist import DeclarationError, parse_declaration, train
from nbmnist.declaration.spec import ResidualSpec
from nbmnist.display.console import ConsoleDisplay
from nbmnist.keras_code import to_keras_code
from nbmnist.model import build_model, summary_text
from tests.conftest import run_generated_code

RESNET = (
    "conv 16 3x3 same relu\n"
    "residual(conv 16 3x3 same relu | bn | conv 16 3x3 same) | relu\n"
    "residual(conv 32 3x3 stride 2 same relu | conv 32 3x3 same) | relu\n"
    "globalavgpool"
)


def test_a_block_is_one_spec_of_its_layers() -> None:
    declaration = parse_declaration(RESNET, "cnn")
    block = declaration.layers[1]
    assert isinstance(block, ResidualSpec) and len(block.layers) == 3
    assert block.describe() == "residual(conv 16 3x3 same relu | bn | conv 16 3x3 same)"
    assert (block.line, block.column) == (2, 1)
    assert declaration.output_shapes()[2:5] == [(28, 28, 16), (28, 28, 16), (14, 14, 32)]
    assert declaration.uses_batchnorm  # found inside the block
    assert parse_declaration(declaration.describe(), "cnn") == declaration  # canonical text
    repeated = parse_declaration("residual(dense 64 relu | dense 64) | relu x3", "mlp")
    assert [type(s).__name__ for s in repeated.layers] == ["ResidualSpec", "ActivationSpec"] * 3


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        ("residual(conv 8 3x3 relu)", "cnn", "line 1, col 1: the block's output 26x26x8 cannot"),
        ("conv 8 3 same\nresidual(conv 8 3 same | flatten)", "cnn", "line 2, col 1: the block"),
        ("residual conv 8 3", "cnn", "'residual' takes its layers in parentheses"),
        ("residual()", "cnn", "an empty block"),
        ("residual(dense 8", "mlp", "'(' without its ')'"),
        ("dense 8)", "mlp", "')' without its '('"),
        ("residual(dense 8) dense 4", "mlp", "unexpected 'dense' after the block"),
        ("residual(conv 8 3 same)", "mlp", "line 1, col 10: 'conv 8 3x3 same' needs image input"),
        ("residual(dense 8 | dence 8)", "mlp", "line 1, col 20: unknown layer 'dence'"),
    ],
)
def test_a_block_that_cannot_be_built_is_a_one_line_error(
    body: str, kind: str, message: str
) -> None:
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(body, kind)  # type: ignore[arg-type]
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (RESNET, "cnn"),
        ("residual(dense 64 relu | dense 32) | relu\nresidual(dense 32 relu | dense 32)", "mlp"),
        ("residual(conv 8 3 same relu | residual(conv 8 3 same) | conv 8 3 same)", "cnn"),
    ],
)
def test_parameters_and_shapes_are_keras_own(body: str, kind: str) -> None:
    declaration = parse_declaration(body, kind).with_head()  # type: ignore[arg-type]
    model = build_model(declaration)
    assert sum(declaration.parameter_counts()) == model.count_params()
    assert tuple(model.output.shape[1:]) == declaration.output_shapes()[-1]
    summary = summary_text(declaration, model)
    assert f"total params: {model.count_params():,}" in summary
    assert declaration.layers[0].describe() in summary


def test_the_printed_functional_code_builds_the_same_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = to_keras_code(RESNET, "cnn", name="resnet")
    assert "x = layers.Add()([x, shortcut])" in code
    assert 'shortcut = layers.Conv2D(32, 1, strides=2, padding="same")(shortcut)' in code
    assert 'model = keras.Model(inputs, x, name="resnet")' in code
    printed = run_generated_code(code, monkeypatch, train=False)["model"]
    built = build_model(parse_declaration(RESNET, "cnn"))

    def configs(model: Any) -> list[dict[str, Any]]:
        return [layer.get_config() | {"name": ""} for layer in model.layers[1:]]

    assert configs(printed) == configs(built)
    assert printed.count_params() == built.count_params()


@pytest.mark.slow
def test_a_residual_network_trains_and_reloads(tmp_path: Path) -> None:
    run = train(RESNET, "cnn", display=ConsoleDisplay(io.StringIO()), runs_dir=tmp_path,
                epochs=1, train_size=400, seed=0)  # fmt: skip
    assert run.status == "completed" and run.test_accuracy is not None
    assert run.num_params == sum(parse_declaration(RESNET, "cnn").with_head().parameter_counts())
    run.release_model()
    reloaded = run.model
    assert type(reloaded).__name__ == "Functional"
    assert [type(layer).__name__ for layer in reloaded.layers].count("Add") == 2
    assert set(run.gradient_norms) >= {"Conv 1 · conv 16 3x3", "Output · dense 10"}
    # an MLP's blocks (JAX groups its batches in one compiled loop), with a projection
    blocks = "residual(dense 64 relu | dense 32) | relu x2"
    mlp = train(blocks, display=ConsoleDisplay(io.StringIO()), runs_dir=tmp_path, epochs=2,
                train_size=400, seed=0)  # fmt: skip
    assert mlp.status == "completed" and mlp.epochs == 2
    mlp.release_model()
    assert mlp.model.count_params() == mlp.num_params
