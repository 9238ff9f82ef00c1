"""Where a run's progress is shown: a live widget dashboard in notebooks, text elsewhere.

Every display, and the run store's writer, is a ``Listener``: it receives the same three
events from ``nbmnist.training``, named for what happened to the run (not Keras' callback
hooks, whose signatures differ). What is recorded is kept apart from how it is shown, as in
livelossplot's outputs; the text displays share is in ``nbmnist.display.text``.
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


class Listener(Protocol):
    """Told what happens to a run: it started (``TrainingInfo``), an epoch completed (the
    ``MetricLog`` so far), it finished (the recorded ``Run``, whatever its status). A
    display is one; so is ``runs.StoreWriter``."""

    def run_started(self, info: TrainingInfo) -> None: ...

    def epoch_completed(self, log: MetricLog) -> None: ...

    def run_finished(self, run: Run) -> None: ...


#: A listener that shows progress to the user.
Display = Listener


class Listeners:
    """Tells several listeners each event, in order (e.g. the dashboard, then the store)."""

    def __init__(self, *displays: Listener) -> None:
        self.displays = displays

    def run_started(self, info: TrainingInfo) -> None:
        for display in self.displays:
            display.run_started(info)

    def epoch_completed(self, log: MetricLog) -> None:
        for display in self.displays:
            display.epoch_completed(log)

    def run_finished(self, run: Run) -> None:
        for display in self.displays:
            display.run_finished(run)

    def close(self) -> None:
        """Stop whatever the listeners run in the background (after a failed training)."""
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
