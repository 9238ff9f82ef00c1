"""Named presets: a declaration and training options that reach a result fast.

``%%cnn --recipe fast`` with a body of only comments (IPython runs no cell magic with an
empty body) trains the preset model with the preset options; with layers in the body, the
body is the model and the recipe gives the options. Flags given on the
magic line override the recipe's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbmnist.declaration import Kind
from nbmnist.errors import OptionError, did_you_mean


@dataclass(frozen=True)
class Recipe:
    """A preset: the model (declaration text) and the options that train it.

    Attributes:
        name: the recipe's name (``--recipe NAME``).
        kind: ``"mlp"`` or ``"cnn"``.
        declaration: the model, in the declaration language.
        options: training options (as ``nbmnist.train`` takes them).
        description: what it is for, and where its numbers come from.
    """

    name: str
    kind: Kind
    declaration: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


RECIPES: dict[str, Recipe] = {
    "fast": Recipe(
        name="fast",
        kind="cnn",
        declaration=(
            "conv 16 5x5 relu | maxpool 2\n"
            "conv 32 3x3 relu | maxpool 2\n"
            "flatten\n"
            "dense 128 relu | dropout 0.3"
        ),
        options={
            "epochs": 3,
            "batch_size": 125,
            "optimizer": "adam",
            "learning_rate": 5e-3,
            "lr_schedule": "cosine",
            "validation": "split",
            "validation_split": 1 / 12,
        },
        description=(
            "99% test accuracy on MNIST in the least training time: a small CNN without batch "
            "normalization (slow in TensorFlow's CPU kernels), Adam 5e-3 with warm-up and "
            "cosine decay, batch 125 (55,000 "
            "training images in 440 full batches: one program to compile on a GPU, where a "
            "partial last batch is a second), 3 epochs; model, rate and epochs chosen on "
            "validation accuracy (docs/performance.md, bench/training/test_time_to_99.py)."
        ),
    ),
}


def recipe(name: str) -> Recipe:
    """The recipe ``name``.

    Raises:
        OptionError: no such recipe.
    """
    if name not in RECIPES:
        raise OptionError(
            f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)}."
            + did_you_mean(name, RECIPES)
        )
    return RECIPES[name]
