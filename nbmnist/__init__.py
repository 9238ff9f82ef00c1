"""nbmnist: declare, train and compare small Keras networks on MNIST (and your own images)
from Jupyter cells.

Importing nbmnist (and ``%load_ext nbmnist``) imports neither Keras, its backend nor matplotlib;
they load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbmnist.backend import use_backend
from nbmnist.data import Dataset, SampleDataWarning, load_dataset, use_data
from nbmnist.declaration import Declaration, parse_declaration
from nbmnist.errors import (
    BackendError,
    DataError,
    DeclarationError,
    NbmnistError,
    OptionError,
    PlaceholderError,
)
from nbmnist.runs import Run, RunStore, load_runs, runs

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from nbmnist.display.compare import compare
    from nbmnist.keras_code import to_keras_code
    from nbmnist.lr_range import lr_find
    from nbmnist.model import build_model
    from nbmnist.plots import (
        plot_activation_history,
        plot_architecture,
        plot_augmentations,
        plot_feature_maps,
        plot_filters,
        plot_gradient_history,
        plot_history,
        plot_weight_history,
        plot_weight_violins,
    )
    from nbmnist.predictions import confusion_matrix, misclassified, per_class_accuracy, predict
    from nbmnist.recipes import recipe
    from nbmnist.sweeps import sweep
    from nbmnist.tables import summary_table
    from nbmnist.training import train

__version__ = "0.1.0"

_LAZY = {
    "build_model": "nbmnist.model",
    "compare": "nbmnist.display.compare",
    "to_keras_code": "nbmnist.keras_code",
    "lr_find": "nbmnist.lr_range",
    "train": "nbmnist.training",
    "plot_weight_violins": "nbmnist.plots",
    "plot_history": "nbmnist.plots",
    "plot_weight_history": "nbmnist.plots",
    "plot_filters": "nbmnist.plots",
    "plot_feature_maps": "nbmnist.plots",
    "plot_augmentations": "nbmnist.plots",
    "plot_architecture": "nbmnist.plots",
    "plot_activation_history": "nbmnist.plots",
    "plot_gradient_history": "nbmnist.plots",
    "sweep": "nbmnist.sweeps",
    "recipe": "nbmnist.recipes",
    "summary_table": "nbmnist.tables",
    "predict": "nbmnist.predictions",
    "confusion_matrix": "nbmnist.predictions",
    "per_class_accuracy": "nbmnist.predictions",
    "misclassified": "nbmnist.predictions",
}

__all__ = [
    "BackendError",
    "DataError",
    "Dataset",
    "Declaration",
    "DeclarationError",
    "NbmnistError",
    "OptionError",
    "PlaceholderError",
    "Run",
    "RunStore",
    "SampleDataWarning",
    "build_model",
    "compare",
    "confusion_matrix",
    "load_dataset",
    "load_ipython_extension",
    "load_runs",
    "lr_find",
    "misclassified",
    "parse_declaration",
    "per_class_accuracy",
    "plot_activation_history",
    "plot_architecture",
    "plot_augmentations",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_history",
    "plot_history",
    "plot_weight_history",
    "plot_weight_violins",
    "predict",
    "recipe",
    "runs",
    "summary_table",
    "sweep",
    "to_keras_code",
    "train",
    "use_backend",
    "use_data",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nbmnist' has no attribute {name!r}")


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext nbmnist``: register ``%%mlp`` and ``%%cnn`` and bind ``nbmnist``."""
    import sys

    from nbmnist.completion import register
    from nbmnist.magics import NbmnistMagics, known_flags

    ipython.register_magics(NbmnistMagics)
    register(ipython, known_flags)
    ipython.user_ns.setdefault("nbmnist", sys.modules[__name__])
