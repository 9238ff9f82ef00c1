"""One training plan: what trains is what ``--show-code`` prints."""

from __future__ import annotations

import re
from typing import Any

import pytest

from nbmnist import train
from nbmnist.declaration import parse_declaration
from nbmnist.display.console import ConsoleDisplay
from nbmnist.keras_code import to_keras_code
from nbmnist.options import make_options
from nbmnist.plan import TrainingPlan, warmup_steps
from tests.conftest import TINY_CNN, run_generated_code

# (body, kind, options): each compiles differently (optimizer, schedule, loss, logits).
PLANS = [
    ("dense 32 relu", "mlp", {}),
    ("dense 32 relu\ndense 10", "mlp", {"optimizer": "sgd", "learning_rate": 0.05}),
    # cosine: enough steps (20, 24) for the warm-up to be more than its minimum of one
    (
        "dense 16 relu | bn",
        "mlp",
        {"lr_schedule": "cosine", "learning_rate": 0.01, "train_size": 3000},
    ),
    (
        "dense 16 tanh",
        "mlp",
        {"lr_schedule": "cosine", "validation": "test", "loss": "mse", "train_size": 3000},
    ),
    (TINY_CNN, "cnn", {"optimizer": "adadelta", "learning_rate": 1.0, "batch_size": 64}),
    ("dense 8 relu", "mlp", {"optimizer": "rmsprop", "steps_per_execution": 3, "seed": 4}),
    ("dense 8 relu | bn momentum=0.9\ndense 10 log_softmax", "mlp", {}),
    ("dense 16 relu", "mlp", {"lr_schedule": "one_cycle", "learning_rate": 0.01}),
    ("dense 16 relu", "mlp", {"lr_schedule": "one_cycle", "optimizer": "sgd"}),
    (f"random_rotation 0.05 | random_translation 0.1 | gaussian_noise 0.1\n{TINY_CNN}", "cnn", {}),
]


def _loss(loss: Any) -> Any:
    """A loss as ``compile`` took it, comparable: a name, or a class and its settings."""
    if isinstance(loss, str):
        return loss
    config = loss.get_config()
    return type(loss).__name__, config["from_logits"], config["reduction"]


def _optimizer(optimizer: Any) -> dict[str, Any]:
    config = dict(optimizer.get_config())
    config.pop("name")
    return {"class": type(optimizer).__name__, **config}


@pytest.mark.parametrize(("text", "kind", "options"), PLANS)
def test_printed_code_builds_and_compiles_what_trains(
    text: str, kind: str, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = {"epochs": 1, "train_size": 600, **options}
    run = train(text, kind, display=ConsoleDisplay(), **options)  # type: ignore[arg-type]
    code = to_keras_code(text, kind, **options)  # type: ignore[arg-type]
    calls = run_generated_code(code, monkeypatch, train=False, size=6000)
    printed, trained = calls["model"], run.model
    assert printed.count_params() == trained.count_params() == run.num_params
    assert [layer.get_config() | {"name": ""} for layer in printed.layers] == [
        layer.get_config() | {"name": ""} for layer in trained.layers
    ]
    assert _optimizer(printed.optimizer) == _optimizer(trained.optimizer)
    assert _loss(printed.loss) == _loss(trained.loss)
    assert calls["fit"]["epochs"] == run.plan["epochs"] == run.epochs
    assert calls["fit"]["batch_size"] == run.plan["batch_size"]
    fitted = calls["namespace"]["x_train"]
    assert fitted.shape[1:] == tuple(run.plan["input_shape"])
    assert len(fitted) == run.plan["train_size"] == options["train_size"]


def test_fast_mode_is_one_rule_for_cells_sweeps_and_printed_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NBMNIST_FAST", "1")
    declaration = parse_declaration("dense 8", "mlp")
    cell = TrainingPlan.of(declaration, make_options(epochs=20))
    sweep_point = TrainingPlan.of(declaration, make_options(epochs=20), models_in_cell=3)
    assert (cell.epochs, cell.train_size) == (2, 2000)
    assert (sweep_point.epochs, sweep_point.train_size) == (1, 666)
    assert cell.options.epochs == 20  # what was asked stays
    code = to_keras_code("dense 8", "mlp", epochs=20)
    assert "epochs=2" in code and "x_train[: 2000]" in code and "# fast mode" in code
    assert "epochs=20" in to_keras_code("dense 8", "mlp", epochs=20, fast=False)


def test_the_plan_says_what_compiles() -> None:
    plan = TrainingPlan.of(parse_declaration("dense 16\ndense 10", "mlp"), make_options())
    assert plan.declaration.layers[-1].describe() == "dense 10"  # no head appended: it has one
    assert plan.from_logits and plan.loss == "categorical_crossentropy"
    assert plan.optimizer == "Adam" and plan.batch_shape == (-1, 784)
    assert plan.total_steps(1000) == 8 * 10  # 1000 images in batches of 128, 10 epochs
    assert [warmup_steps(n) for n in (1, 9, 10, 95)] == [1, 1, 1, 9]
    mse = TrainingPlan.of(parse_declaration("dense 16", "mlp"), make_options(loss="mse"))
    assert mse.loss == "mean_squared_error" and not mse.from_logits
    cnn = TrainingPlan.of(parse_declaration(TINY_CNN, "cnn"), make_options(batch_size=32))
    assert cnn.batch_shape == (-1, 28, 28, 1) and cnn.record()["input_shape"] == [28, 28, 1]


@pytest.mark.parametrize(
    ("text", "fragment", "column"),
    [
        ("dense 64 relu\ndense 10 relu", "ends in relu ('dense 10 relu')", 1),
        ("dense 64 relu\ndense 10 | tanh", "ends in tanh ('tanh')", 12),
        ("dense 64 relu\ndense 10 hard_sigmoid", "end with 'dense 10 softmax'", 1),
        ("dense 64 relu\ndense 10 leaky_relu", "or use --loss mse", 1),
    ],
)
def test_an_output_that_cannot_give_probabilities_is_refused(
    text: str, fragment: str, column: int
) -> None:
    """``dense 10 relu`` as the last layer trained silently to ~51%: refused before Keras."""
    import nbmnist
    from nbmnist.errors import DeclarationError

    with pytest.raises(DeclarationError, match=re.escape(f"line 2, col {column}: ")) as error:
        nbmnist.train(text, epochs=1)
    assert fragment in str(error.value) and nbmnist.runs() == []
    TrainingPlan.of(parse_declaration(text), make_options(loss="mse"))  # mse takes any output


@pytest.mark.parametrize(
    ("last", "from_logits"),
    [("softmax", False), ("sigmoid", False), ("", True), ("log_softmax", True)],
)
def test_outputs_the_cross_entropy_takes(last: str, from_logits: bool) -> None:
    plan = TrainingPlan.of(parse_declaration(f"dense 64 relu\ndense 10 {last}"), make_options())
    assert plan.from_logits is from_logits
