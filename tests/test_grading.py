"""nbmnist.grading: architecture and training checks with one-line student messages, and a
pass threshold derived from seeded reference runs."""

from __future__ import annotations

import pytest

from nbmnist.declaration import parse_declaration
from nbmnist.grading import GradingError, check_architecture, check_training, fair_threshold
from tests.conftest import make_run

REFERENCE = "430 322 relu bn dropout=0.5"  # make_run's declaration (seed 000's relu_2h)


def test_the_model_asked_for_passes() -> None:
    run = make_run("relu_2h", 0.97)
    check_architecture(run, REFERENCE)
    check_architecture(run, "dense 430 relu | bn | dropout 0.5\ndense 322 relu | bn | dropout 0.5")
    check_architecture(run, parse_declaration(REFERENCE).layers)  # a list of layer specs


@pytest.mark.parametrize(
    ("expected", "keywords", "message"),
    [
        (
            "430 322 relu bn dropout=0.3",
            {},
            "relu_2h, layer 3: expected dropout 0.3, found dropout 0.5",
        ),
        ("430 322 relu dropout=0.5", {}, "relu_2h, layer 2: expected dropout 0.5, found bn"),
        (
            REFERENCE + "\ndense 64",
            {},
            "relu_2h: expected 7 layers, found 6; add layer 7: dense 64",
        ),
        (
            "430 relu bn dropout=0.5",
            {},
            "relu_2h: expected 3 layers, found 6; layer 4 (dense 322 relu) is not asked for",
        ),
        (
            "430 322 tanh bn dropout=0.5",
            {},
            "layer 1: expected dense 430 tanh, found dense 430 relu",
        ),
        (
            "dense 322 relu\ndense 430 relu",
            {"allow_extra_layers": True},
            "expected layer 2, dense 430 relu, after the ones before it",
        ),
    ],
)
def test_the_first_difference_is_one_line_a_student_can_act_on(
    expected: str, keywords: dict, message: str
) -> None:
    with pytest.raises(GradingError) as error:
        check_architecture(make_run("relu_2h", 0.97), expected, **keywords)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "keras" not in str(error.value).lower()


def test_options_allow_extra_layers_or_any_activation() -> None:
    run = make_run("relu_2h", 0.97)
    check_architecture(run, "430 322 relu", allow_extra_layers=True)
    check_architecture(run, "430 322 tanh bn dropout=0.5", any_activation=True)


def test_training_checks_read_the_record() -> None:
    run = make_run("relu_2h", 0.97, uses_sample=False)
    run.options["epochs"] = 2
    check_training(run, min_test_accuracy=0.95, epochs=2, data="mnist", full_data=True)
    failures = {
        "below the 0.9800 asked for": dict(min_test_accuracy=0.98),
        "asked for 2 epochs; train it for 22 (--epochs 22)": dict(epochs=22),
        "trained on mnist; train it on fashion_mnist": dict(data="fashion_mnist"),
        "this check expects --fast": dict(full_data=False),
    }
    for message, keywords in failures.items():
        with pytest.raises(GradingError, match=message.replace("(", r"\(").replace(")", r"\)")):
            check_training(run, **keywords)
    with pytest.raises(GradingError, match=r"did not complete .status: interrupted."):
        check_training(make_run("r", 0.9, status="interrupted"))
    with pytest.raises(GradingError, match="bundled sample, not the full dataset"):
        check_training(make_run("r", 0.9, uses_sample=True), full_data=True)


def test_fast_mode_passes_the_epochs_asked_for_when_its_plan_completed() -> None:
    """A grader in fast mode trains 2 of the 22 epochs asked: that run passes ``epochs=22``;
    one that stopped before its plan's end does not."""
    fast = make_run("relu_2h", 0.6, uses_sample=True, plan={"epochs": 2})
    fast.options["epochs"] = 22
    check_training(fast, epochs=22, full_data=False)
    with pytest.raises(GradingError, match=r"asked for 22 epochs; train it for 20 \(--epochs 20\)"):
        check_training(fast, epochs=20)
    short = make_run("relu_2h", 0.6, plan={"epochs": 3}, options={"epochs": 3})
    with pytest.raises(GradingError, match="completed 2 of its 3 epochs; run its cell again"):
        check_training(short, epochs=3)


@pytest.mark.slow
def test_a_fair_threshold_sits_below_every_reference_run() -> None:
    found = fair_threshold(
        "dense 32 relu", {"epochs": 1, "train_size": 500}, seeds=[0, 1], margin=None
    )
    assert len(found.scores) == 2 and found.seeds == (0, 1)
    assert found.threshold <= min(found.scores) - 0.005
    assert found.threshold > min(found.scores) - 0.1
    report = found.report()
    assert "seeds [0, 1]" in report and f"threshold {found.threshold:.3f}" in report
    assert "lowest reference score" in report
