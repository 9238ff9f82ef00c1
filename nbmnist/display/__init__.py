"""Where a run's progress is shown: a live widget dashboard in notebooks, text elsewhere.

Every display receives the same three calls from ``nbmnist.training`` (what is recorded is
kept apart from how it is shown, as in livelossplot's outputs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nbmnist.metric_log import MetricLog
    from nbmnist.runs import Run


@dataclass(frozen=True)
class TrainingInfo:
    """What a display shows before the first epoch.

    Attributes:
        name: the run's name.
        kind: ``"mlp"`` or ``"cnn"``.
        num_params: parameters of the model.
        epochs: planned epochs.
        data_title: ``"MNIST"`` or ``"Fashion-MNIST"``.
        data_source: where the data came from (names the bundled sample when used).
        is_sample: trained on the bundled sample.
        device: e.g. ``"CPU (2 cores)"``.
        summary: the layer-by-layer summary ("" to show none).
        num_train: training images, validation split included.
        validation: ``"split"``, ``"test"`` or ``"none"``.
        backend: the Keras backend, e.g. ``"jax"``.
        precision: the Keras dtype policy, e.g. ``"float32"``.
        batch_progress: returns (batches done in the current epoch, batches per epoch);
            callable from any thread.
    """

    name: str
    kind: str
    num_params: int
    epochs: int
    data_title: str
    data_source: str
    is_sample: bool
    device: str
    summary: str
    num_train: int
    validation: str
    backend: str = ""
    precision: str = "float32"
    batch_progress: Callable[[], tuple[int, int]] | None = None


class Display(Protocol):
    """Receives a run's progress."""

    def on_train_begin(self, info: TrainingInfo) -> None: ...

    def on_epoch_end(self, log: MetricLog) -> None: ...

    def on_train_end(self, run: Run) -> None: ...


class Broadcast:
    """Hands every call to several displays, in order (e.g. the dashboard and the store)."""

    def __init__(self, *displays: Display) -> None:
        self.displays = displays

    def on_train_begin(self, info: TrainingInfo) -> None:
        for display in self.displays:
            display.on_train_begin(info)

    def on_epoch_end(self, log: MetricLog) -> None:
        for display in self.displays:
            display.on_epoch_end(log)

    def on_train_end(self, run: Run) -> None:
        for display in self.displays:
            display.on_train_end(run)

    def close(self) -> None:
        """Stop whatever the displays run in the background (after a failed training)."""
        for display in self.displays:
            getattr(display, "close", lambda: None)()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab) that shows widgets."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and (
        type(shell).__name__ == "ZMQInteractiveShell" or "google.colab" in sys.modules
    )


def choose_display(live: bool = True) -> Display:
    """The live dashboard in a notebook when ``live``, else one text line per epoch."""
    if live and in_notebook():
        from nbmnist.display.notebook import LiveDashboard

        return LiveDashboard()
    from nbmnist.display.console import ConsoleDisplay

    return ConsoleDisplay()
