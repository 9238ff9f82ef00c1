"""Checks for hidden tests in nbgrader or otter-grader: did the student build the model asked
for, and does it learn.

Each check raises ``GradingError`` (an ``AssertionError``, so a grader marks the test failed)
with one line a student can act on, in the declaration language, never Keras internals::

    from nbmnist.grading import check_architecture, check_training
    check_architecture(relu_2h, "430 322 relu he_normal bn dropout=0.5")
    check_training(relu_2h, min_test_accuracy=0.95, epochs=22)

``fair_threshold`` trains the reference solution with several seeds and says which score a
student's run is unlikely to miss by chance, to paste into those tests.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nbmnist.declaration import Declaration, Kind, parse_declaration
from nbmnist.declaration.spec import ActivationSpec, LayerSpec
from nbmnist.errors import GradingError, NbmnistError
from nbmnist.model import run_declaration
from nbmnist.runs import Run


def _layers(declaration: Declaration, classes: int) -> list[LayerSpec]:
    """The layers the model trains, the output head included (as ``build_model`` adds it)."""
    try:
        return list(declaration.with_head(classes).layers)
    except NbmnistError:
        return list(declaration.layers)


def _without_activations(layers: list[LayerSpec]) -> list[LayerSpec]:
    """``layers`` with every activation ignored: standalone activation layers dropped and
    each layer's own ``activation`` cleared."""
    kept = []
    for spec in layers:
        if isinstance(spec, ActivationSpec):
            continue
        if any(f.name == "activation" for f in dataclasses.fields(spec)):
            spec = dataclasses.replace(spec, activation=None)  # type: ignore[call-arg]
        kept.append(spec)
    return kept


def _expected(expected: str | Declaration | Sequence[LayerSpec], kind: Kind) -> Declaration:
    if isinstance(expected, str):
        return parse_declaration(expected, kind)
    if isinstance(expected, Declaration):
        return expected
    return Declaration(kind, tuple(expected))


def check_architecture(
    run: Run,
    expected: str | Declaration | Sequence[LayerSpec],
    *,
    allow_extra_layers: bool = False,
    any_activation: bool = False,
) -> None:
    """Check that ``run`` trained the model ``expected`` describes, layer by layer.

    Args:
        run: the student's run (the variable a ``%%mlp`` / ``%%cnn`` cell binds).
        expected: a declaration (``"430 322 relu bn dropout=0.5"``), a parsed
            ``Declaration`` or a list of layer specs; the output head (``dense 10 softmax``
            for ten classes) is added as it is for the student's model.
        allow_extra_layers: the student may add layers (e.g. dropout) between and after the
            expected ones, which must still appear in order.
        any_activation: activations are not compared (``dense 128 tanh`` matches
            ``dense 128 relu``).

    Raises:
        GradingError: one line naming the first difference, e.g.
            ``layer 3: expected dropout 0.5, found bn``.
    """
    kind: Kind = "cnn" if run.kind == "cnn" else "mlp"
    declared = run_declaration(run)
    classes = int(run.plan.get("classes") or 10)
    reference = _expected(expected, kind)
    if allow_extra_layers:
        found, wanted = _layers(declared, classes), _layers(reference, classes)
        if any_activation:
            found, wanted = _without_activations(found), _without_activations(wanted)
        _check_in_order(found, wanted, run.name)
        return
    # the layers as written first (so a missing layer is named as such), then with the head
    for found, wanted in (
        (list(declared.layers), list(reference.layers)),
        (_layers(declared, classes), _layers(reference, classes)),
    ):
        if any_activation:
            found, wanted = _without_activations(found), _without_activations(wanted)
        _check_same(found, wanted, run.name)


def _check_same(found: list[Any], wanted: list[Any], name: str) -> None:
    for index, (want, got) in enumerate(zip(wanted, found, strict=False), 1):
        if want != got:
            raise GradingError(
                f"{name}, layer {index}: expected {want.describe()}, found {got.describe()}"
            )
    if len(found) < len(wanted):
        raise GradingError(
            f"{name}: expected {len(wanted)} layers, found {len(found)}; "
            f"add layer {len(found) + 1}: {wanted[len(found)].describe()}"
        )
    if len(found) > len(wanted):
        raise GradingError(
            f"{name}: expected {len(wanted)} layers, found {len(found)}; "
            f"layer {len(wanted) + 1} ({found[len(wanted)].describe()}) is not asked for"
        )


def _check_in_order(found: list[Any], wanted: list[Any], name: str) -> None:
    position = 0
    for number, want in enumerate(wanted, 1):
        while position < len(found) and found[position] != want:
            position += 1
        if position == len(found):
            raise GradingError(
                f"{name}: expected layer {number}, {want.describe()}, after the ones "
                "before it; it is missing or out of order"
            )
        position += 1


def check_training(
    run: Run,
    *,
    min_test_accuracy: float | None = None,
    epochs: int | None = None,
    data: str = "mnist",
    full_data: bool | None = None,
) -> None:
    """Check a run's record: it completed, on the right dataset, for the epochs asked, on the
    full data or the sample as asked, and scored at least ``min_test_accuracy``.

    Args:
        run: the student's run.
        min_test_accuracy: the least test accuracy in [0, 1] (see ``fair_threshold``); None:
            not checked.
        epochs: the epochs the student must ask for (``--epochs``), all completed; in fast
            mode the run trains fewer (its ``plan``) and passes when it asked for these and
            completed those. None: not checked.
        data: ``"mnist"`` or ``"fashion_mnist"``.
        full_data: True: trained on the full dataset; False: on the bundled sample (a grader
            in fast mode); None: either.

    Raises:
        GradingError: one line naming the first check that failed and what to do.
    """
    if run.status != "completed":
        raise GradingError(
            f"{run.name} did not complete (status: {run.status}); run its cell again until "
            "it finishes"
        )
    trained_on = run.options.get("data", "mnist")
    if trained_on != data:
        raise GradingError(
            f"{run.name} trained on {trained_on}; train it on {data} (--data {data})"
        )
    if full_data is True and run.uses_sample:
        raise GradingError(
            f"{run.name} trained on the bundled sample, not the full dataset; run it without "
            "--fast (and without NBMNIST_FAST)"
        )
    if full_data is False and not run.uses_sample:
        raise GradingError(f"{run.name} trained on the full dataset; this check expects --fast")
    if epochs is not None:
        # what the student asked for: fast mode (a grader's) trains fewer, as the plan says
        asked = run.options.get("epochs", run.epochs)
        planned = run.plan.get("epochs", asked)
        if asked != epochs:
            raise GradingError(
                f"{run.name} asked for {asked} epochs; train it for {epochs} (--epochs {epochs})"
            )
        if run.epochs < planned:
            raise GradingError(
                f"{run.name} completed {run.epochs} of its {planned} epochs; run its cell "
                "again until it finishes"
            )
    if min_test_accuracy is not None:
        score = run.test_accuracy
        if score is None or not math.isfinite(score) or score < min_test_accuracy:
            shown = "none" if score is None else f"{score:.4f}"
            raise GradingError(
                f"{run.name} reached test accuracy {shown}, below the {min_test_accuracy:.4f} "
                "asked for; check the layers and options against the task"
            )


@dataclass(frozen=True)
class Threshold:
    """What ``fair_threshold`` found.

    Attributes:
        threshold: the least test accuracy to ask of a student's run (the rule: the lowest
            reference score minus ``margin``, rounded down to 3 decimals).
        scores: the reference runs' test accuracies, one per seed.
        seeds: the seeds they trained with.
        margin: what was taken off the lowest score.
        rule: the rule, in words.
    """

    threshold: float
    scores: tuple[float, ...]
    seeds: tuple[int, ...]
    margin: float
    rule: str

    def report(self) -> str:
        """How the threshold was derived, for the instructor's notes."""
        spread = max(self.scores) - min(self.scores)
        mean = statistics.fmean(self.scores)
        deviation = statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0
        return (
            f"reference test accuracy over seeds {list(self.seeds)}: "
            + ", ".join(f"{score:.4f}" for score in self.scores)
            + f" (mean {mean:.4f}, standard deviation {deviation:.4f}, spread {spread:.4f}); "
            f"threshold {self.threshold:.3f} = {self.rule}"
        )


def fair_threshold(
    declaration: str,
    options: Mapping[str, Any] | None = None,
    *,
    kind: Kind = "mlp",
    seeds: int | Sequence[int] = 5,
    margin: float | None = None,
) -> Threshold:
    """Train the reference solution with several seeds and derive a pass threshold a
    correct student run is unlikely to miss by chance.

    Rule: the lowest reference test accuracy minus ``margin`` (default: two standard
    deviations of the reference scores, at least 0.005), rounded down to 3 decimals. Train
    as the students will be graded (``fast=True`` for a grader in fast mode).

    Args:
        declaration: the reference cell body.
        options: ``train``'s options (``epochs``, ``fast``, ...); ``seed`` is set per run.
        kind: ``"mlp"`` or ``"cnn"``.
        seeds: how many seeds (0, 1, ...) or which.
        margin: what to take off the lowest score.

    Returns:
        A ``Threshold``; ``.report()`` says how it was derived.

    Raises:
        OptionError, DeclarationError: as ``train``.
    """
    from nbmnist.training import train

    chosen = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
    scores = []
    for seed in chosen:
        run = train(
            declaration,
            kind,
            f"reference_seed_{seed}",
            **{**(options or {}), "seed": seed, "live": False, "overwrite": True},
        )
        if run.test_accuracy is None:
            raise GradingError(f"the reference run with seed {seed} did not complete")
        scores.append(run.test_accuracy)
    deviation = statistics.stdev(scores) if len(scores) > 1 else 0.0
    taken = max(0.005, 2 * deviation) if margin is None else margin
    rule = (
        f"lowest reference score {min(scores):.4f} minus "
        + (f"margin {taken:.4f}" if margin is not None else f"max(0.005, 2 x std) = {taken:.4f}")
        + ", rounded down to 3 decimals"
    )
    threshold = math.floor((min(scores) - taken) * 1000) / 1000
    return Threshold(threshold, tuple(scores), chosen, taken, rule)


__all__ = ["GradingError", "Threshold", "check_architecture", "check_training", "fair_threshold"]
