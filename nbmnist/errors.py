"""The nbmnist error family: mistakes a user can fix, shown as one short line.

IPython prints a full traceback for ordinary exceptions. For the mistakes a student makes
(a misspelt layer, a corrupt data file, an out-of-range option) that traceback hides the one
line that matters, so every error here implements IPython's ``_render_traceback_`` hook and
renders as ``ErrorName: message``. Bugs in nbmnist itself are not in this family and keep
their full traceback.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Iterable
from typing import Any


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'dense'?`` for the closest candidate (difflib), or ``""``."""
    close = difflib.get_close_matches(word.lower(), list(candidates), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class NbmnistError(Exception):
    """Base class of every error a user can act on; renders as one line in IPython."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DeclarationError(NbmnistError):
    """A cell body (the layer declaration) is not valid.

    Attributes:
        line: 1-based line number in the cell body, or None for whole-body errors.
        column: 1-based column of the offending token, or None.
        token: the offending token as written, or None.
        reason: the message without its location prefix.
    """

    def __init__(
        self,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.token = token
        where = ""
        if line is not None:
            where = f"line {line}, col {column}: " if column is not None else f"line {line}: "
        super().__init__(where + reason)


class PlaceholderError(NbmnistError, NotImplementedError):
    """A cell body line is a grader's placeholder (``...``, ``# YOUR CODE HERE``) to fill in."""


class DataError(NbmnistError):
    """A dataset file is missing, truncated, corrupt or not the file it claims to be."""


class OptionError(NbmnistError, ValueError):
    """A training option (epochs, batch size, optimizer, ...) has a value nbmnist cannot use."""


class ParameterError(NbmnistError, ValueError):
    """A notebook parameter (``python -m nbmnist run -p NAME VALUE``) cannot be set."""


class RunStoreError(NbmnistError):
    """A run store or a record in it cannot be read or written."""


class GradingError(AssertionError):
    """A student's run does not meet a check; the message says what to change.

    An ``AssertionError``, so a grader (nbgrader, otter, pytest) marks the test failed."""


class NotebookStopped(Exception):
    """A headless execution was stopped by a signal (Ctrl-C, SIGTERM).

    The cell that was running was interrupted as a notebook's stop button does (a training
    run keeps its completed epochs, recorded as ``interrupted``) and no later cell ran; the
    executed part, its HTML and its runs' JSON are written as after a finished execution.

    Attributes:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
        cell: 0-based index of the cell that was running in the notebook, or None (the kernel
            was starting).
        source: that cell's first line.
    """

    def __init__(self, signum: int, cell: int | None, source: str) -> None:
        self.signum, self.cell, self.source = signum, cell, source
        name = signal.Signals(signum).name
        if cell is None:
            super().__init__(f"stopped by {name} while the kernel started; no cell ran")
        else:
            super().__init__(f"stopped by {name} in cell {cell + 1} ({source}); no later cell ran")


class BackendError(NbmnistError):
    """The Keras backend asked for is unknown, not installed, or cannot be switched to now."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (a notebook's stop button) stopped a training cell; what it trained is kept.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C still does, and a notebook run
    headless stops at this cell; rendered by IPython as one line instead of a traceback
    through nbmnist.

    Attributes:
        result: the interrupted ``Run`` (``train``), or a sweep's runs so far (``sweep``: a
            list, in point order).
        name: the notebook variable that the magic binds ``result`` to (None outside a
            magic).
    """

    def __init__(self, result: Any, name: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.name = name

    def __str__(self) -> str:
        if isinstance(self.result, list):
            what = f"the {len(self.result)} runs it stored"
        else:
            epochs = len(getattr(self.result, "history", {}).get("loss", []))
            what = f"the interrupted run ({epochs} epoch{'' if epochs == 1 else 's'} kept)"
        if self.name is None:
            return f"stopped; {what} is in nbmnist.runs()"
        return f"stopped; {self.name} holds {what}"

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]
