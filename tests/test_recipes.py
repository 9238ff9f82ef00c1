"""Recipes: presets of a model and its options, checked like any cell."""

from __future__ import annotations

import pytest

from nbmnist.declaration import parse_declaration
from nbmnist.errors import OptionError
from nbmnist.options import make_options
from nbmnist.plan import TrainingPlan
from nbmnist.recipes import RECIPES, recipe


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_parses_and_its_options_are_valid(name: str) -> None:
    preset = recipe(name)
    assert preset.name == name and preset.description
    plan = TrainingPlan.of(
        parse_declaration(preset.declaration, preset.kind), make_options(**preset.options)
    )
    assert plan.epochs == preset.options["epochs"]


def test_fast_recipe_batches_split_the_training_images_evenly() -> None:
    """55,000 fitted images in full batches: one compiled program per epoch on a GPU."""
    options = make_options(**recipe("fast").options)
    fitted = int(60_000 * (1 - options.validation_split))
    assert fitted % options.batch_size == 0


def test_an_unknown_recipe_names_the_known_ones() -> None:
    with pytest.raises(
        OptionError, match=r"unknown recipe 'fsat'; expected one of fast\. Did you mean 'fast'\?"
    ):
        recipe("fsat")
