"""Summary tables generated from recorded runs (PrettyTable: HTML in notebooks, else text)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prettytable import PrettyTable

from nbmnist.runs import Run
from nbmnist.runs import runs as session_runs

_LOSS_NAMES = {"categorical_crossentropy": "crossentropy", "mse": "mse"}


def _data(run: Run) -> str:
    name = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}.get(run.options.get("data", ""), "")
    return name + (" (sample)" if run.uses_sample else "")


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _best(run: Run) -> tuple[str, str]:
    best = run.best_epoch("val_accuracy")
    return ("n/a", "n/a") if best is None else (f"{best[1]:.4f}", str(best[0]))


#: column title -> how to read it from a run
COLUMNS: dict[str, Callable[[Run], Any]] = {
    "name": lambda run: run.name,
    "architecture": lambda run: run.architecture,
    "optimizer": lambda run: run.options.get("optimizer", ""),
    "loss": lambda run: _LOSS_NAMES.get(run.options.get("loss", ""), run.options.get("loss")),
    "BN": lambda run: "yes" if run.uses_batchnorm else "no",
    "dropout": lambda run: ", ".join(f"{rate:g}" for rate in run.dropout_rates) or "none",
    "params": lambda run: f"{run.num_params:,}",
    "epochs": lambda run: run.epochs,
    "data": _data,
    "test loss": lambda run: _number(run.test_loss, 4),
    "test accuracy": lambda run: _number(run.test_accuracy, 4),
    "best val accuracy": lambda run: _best(run)[0],
    "best epoch": lambda run: _best(run)[1],
    "wall time (s)": lambda run: f"{run.wall_time_s:.1f}",
    "status": lambda run: run.status,
}
DEFAULT_COLUMNS = tuple(name for name in COLUMNS if name != "status")


def summary_table(
    runs: Iterable[Run] | None = None,
    columns: Iterable[str] | None = None,
    sort_by: str | None = None,
) -> PrettyTable:
    """A table with one row per run, every cell read from the recorded run.

    Args:
        runs: the runs to list; None: the session's runs in order (``nbmnist.runs()``).
        columns: column titles from ``COLUMNS``; None: ``DEFAULT_COLUMNS``. Test loss and
            accuracy are printed with 4 decimals, wall time in seconds with 1 decimal.
        sort_by: a column title to sort by (accuracy columns descending, others ascending).

    Returns:
        A ``prettytable.PrettyTable``: shown as HTML in a notebook, as text by ``print``.

    Raises:
        ValueError: an unknown column or ``sort_by``.
    """
    chosen = list(DEFAULT_COLUMNS if columns is None else columns)
    for name in [*chosen, *([sort_by] if sort_by else [])]:
        if name not in COLUMNS:
            raise ValueError(f"unknown column {name!r}; expected one of {', '.join(COLUMNS)}")
    rows = list(session_runs() if runs is None else runs)
    if sort_by:
        rows.sort(key=lambda run: str(COLUMNS[sort_by](run)), reverse="accuracy" in sort_by)
    table = PrettyTable(chosen)
    for run in rows:
        table.add_row([COLUMNS[name](run) for name in chosen])
    table.align = "l"
    return table
