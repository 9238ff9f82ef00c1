"""Summary tables generated from recorded runs (PrettyTable: HTML in notebooks, else text)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prettytable
from prettytable import PrettyTable

from nbmnist.data import DATASETS
from nbmnist.runs import Run
from nbmnist.runs import runs as session_runs

_LOSS_NAMES = {"categorical_crossentropy": "crossentropy", "mse": "mse"}


@dataclass(frozen=True)
class Column:
    """A table column: how to read a run's value, and how to print it."""

    value: Callable[[Run], Any]
    text: Callable[[Any], str] = str


def _data_title(name: object) -> str:
    """``MNIST``, ``Fashion-MNIST``, ``CIFAR-10``, own data's name; "" for no name."""
    if not isinstance(name, str):
        return ""
    return DATASETS[name].title if name in DATASETS else name


def data_label(runs: Iterable[Run], part: str = "test set") -> str:
    """What the runs trained and were scored on, for titles: ``MNIST test set``,
    ``Fashion-MNIST test set (bundled sample)`` (``part=""``: ``MNIST (bundled sample)``),
    or ``mixed datasets: Fashion-MNIST, MNIST`` when they mix datasets."""
    runs = list(runs)
    names = {run.options.get("data", "mnist") for run in runs}
    if len(names) > 1:
        return "mixed datasets: " + ", ".join(
            _data_title(name) or str(name) for name in sorted(names, key=str)
        )
    (name,) = names
    title = " ".join(word for word in (_data_title(name) or str(name), part) if word)
    samples = {run.uses_sample for run in runs}
    # data without a bundled sample trains on its first images in fast mode
    sample = "bundled sample" if name in DATASETS and DATASETS[name].has_sample else "first images"
    if samples == {True}:
        return f"{title} ({sample})"
    if samples == {False}:
        return title
    return f"{title} (some runs on the {sample})"


def validation_text(run: Run) -> str:
    """What the run validated on: ``10,000 held out`` (of the training images; ``split
    1/6`` for a record that does not say how many), ``test set`` (so its best validation
    accuracy is a test score, not a second measure) or ``none``."""
    validation = run.options.get("validation", "split")
    if validation == "test":
        return "test set"
    if validation == "none":
        return "none"
    if isinstance(run.plan.get("held_out"), int):
        return f"{run.plan['held_out']:,} held out"
    split = run.options.get("validation_split", 1 / 6)
    share = "1/6" if isinstance(split, float) and abs(split - 1 / 6) < 1e-9 else f"{split:g}"
    return f"split {share}"


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda value: "n/a" if value is None else f"{value:.{digits}f}"


def _backend(run: Run) -> str:
    """``jax, GPU``: the Keras backend and the kind of device."""
    environment = run.environment
    backend = run.execution.get("backend") or environment.get("backend")
    device = environment.get("device", "").split(" (")[0]
    return ", ".join(part for part in (backend, device) if part)


def _best(run: Run, part: int) -> Any:
    best = run.best_epoch("val_accuracy")
    return None if best is None else best[part]


#: column title -> Column. Printed precision: losses and accuracies 4 decimals, seconds 1.
COLUMNS: dict[str, Column] = {
    "name": Column(lambda run: run.name),
    "architecture": Column(lambda run: run.architecture),
    "optimizer": Column(lambda run: run.options.get("optimizer", "")),
    "loss": Column(
        lambda run: _LOSS_NAMES.get(run.options.get("loss", ""), run.options.get("loss"))
    ),
    "BN": Column(lambda run: run.uses_batchnorm, lambda value: "yes" if value else "no"),
    "dropout": Column(
        lambda run: run.dropout_rates,
        lambda rates: ", ".join(f"{rate:g}" for rate in rates) or "none",
    ),
    "params": Column(lambda run: run.num_params, lambda value: f"{value:,}"),
    "epochs": Column(lambda run: run.epochs),
    "data": Column(
        lambda run: _data_title(run.options.get("data")) + (" (sample)" if run.uses_sample else "")
    ),
    "validation": Column(lambda run: validation_text(run)),
    "test loss": Column(lambda run: run.test_loss, _fixed(4)),
    "test accuracy": Column(lambda run: run.test_accuracy, _fixed(4)),
    "best val accuracy": Column(lambda run: _best(run, 1), _fixed(4)),
    "best epoch": Column(lambda run: _best(run, 0), lambda v: "n/a" if v is None else str(v)),
    "wall time (s)": Column(lambda run: run.wall_time_s, _fixed(1)),
    "backend": Column(_backend),
    "status": Column(lambda run: _status(run)),
    "caveat": Column(lambda run: "; ".join(c.split(":", 1)[0] for c in run.caveats)),
}
DEFAULT_COLUMNS = tuple(name for name in COLUMNS if name not in ("status", "caveat"))


def _status(run: Run) -> str:
    """The run's status; for a run that did not complete, which model it kept."""
    if run.status == "completed":
        return run.status
    if run.model_path is None:
        return f"{run.status}, no model"
    if run.model_epoch is not None and run.model_epoch != run.epochs:
        return f"{run.status}, model of epoch {run.model_epoch}"
    return run.status


#: Style names for ``summary_table(style=...)``, as PrettyTable names them.
STYLES = (
    "default",
    "markdown",
    "msword_friendly",
    "plain_columns",
    "orgmode",
    "single_border",
    "double_border",
    "random",
)


def table_style(name: str) -> Any:
    """PrettyTable's style constant ``name`` (e.g. ``markdown``).

    PrettyTable >= 3.12 has them in the ``TableStyle`` enum and deprecates the module
    constants; 3.11 only has the module constants. Both are supported.

    Raises:
        ValueError: an unknown style.
    """
    if name not in STYLES:
        raise ValueError(f"unknown table style {name!r}; expected one of {', '.join(STYLES)}")
    enum = getattr(prettytable, "TableStyle", None)
    if enum is not None:
        return enum[name.upper()]
    return getattr(prettytable, name.upper())


class SummaryTable(PrettyTable):
    """A PrettyTable of runs that also exports the unformatted values.

    Shown as HTML in a notebook (``_repr_html_``) and as text by ``print``.
    """

    def __init__(self, field_names: list[str], records: list[dict[str, Any]]) -> None:
        super().__init__(field_names)
        self.records = records  # raw values, one dict per row: numbers stay numbers

    def to_csv(self, path: str | Path | None = None) -> str:
        """The rows as CSV with full-precision numbers; also written to ``path`` if given."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.field_names, lineterminator="\n")
        writer.writeheader()
        for record in self.records:
            writer.writerow({k: _csv_value(v) for k, v in record.items()})
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_dataframe(self) -> Any:
        """The rows as a ``pandas.DataFrame`` with numeric columns as numbers.

        Raises:
            ImportError: pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        return pd.DataFrame(
            [{k: _csv_value(v) for k, v in record.items()} for record in self.records],
            columns=self.field_names,
        )


def _csv_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value)
    return value


def summary_table(
    runs: Iterable[Run] | None = None,
    columns: Iterable[str] | None = None,
    sort_by: str | None = None,
    style: str | None = None,
    title: str | None = None,
) -> SummaryTable:
    """A table with one row per run, every cell read from the recorded run.

    Args:
        runs: the runs to list; None: the session's runs in order (``nbmnist.runs()``).
        columns: column titles from ``COLUMNS``; None: ``DEFAULT_COLUMNS`` (name,
            architecture, optimizer, loss, BN, dropout, params, epochs, data, test loss, test
            validation, accuracy, best val accuracy, best epoch, wall time, backend), and ``status``
            when a run did not complete (killed, interrupted, diverged, still running), with
            the epoch of the model it kept. Whatever the columns, ``caveat`` is added when a
            run's scores do not represent its model (``run.caveats``). Losses and
            accuracies are printed with 4
            decimals, wall time in seconds with 1.
        sort_by: a column title to sort by (accuracies and ``epochs`` descending, the rest
            ascending); runs without a value go last.
        style: a PrettyTable style name from ``STYLES`` (e.g. ``markdown``); None: default.
        title: a line shown above the table.

    Returns:
        A ``SummaryTable`` (a ``prettytable.PrettyTable``) with ``to_csv()`` and
        ``to_dataframe()``.

    Raises:
        ValueError: an unknown column, ``sort_by`` or style.
    """
    chosen = list(DEFAULT_COLUMNS if columns is None else columns)
    for name in [*chosen, *([sort_by] if sort_by else [])]:
        if name not in COLUMNS:
            raise ValueError(f"unknown column {name!r}; expected one of {', '.join(COLUMNS)}")
    rows = list(session_runs() if runs is None else runs)
    if columns is None and any(run.status != "completed" for run in rows):
        chosen.append("status")
    if "caveat" not in chosen and any(run.caveats for run in rows):
        chosen.append("caveat")  # whatever the columns: a row whose scores mislead says so
    if sort_by:
        descending = "accuracy" in sort_by or sort_by == "epochs"
        present = [run for run in rows if COLUMNS[sort_by].value(run) is not None]
        missing = [run for run in rows if COLUMNS[sort_by].value(run) is None]
        present.sort(key=COLUMNS[sort_by].value, reverse=descending)
        rows = present + missing
    records = [{name: COLUMNS[name].value(run) for name in chosen} for run in rows]
    table = SummaryTable(chosen, records)
    for record in records:
        table.add_row([COLUMNS[name].text(record[name]) for name in chosen])
    table.align = "l"
    if style is not None:
        table.set_style(table_style(style))
    if len({run.options.get("data", "mnist") for run in rows}) > 1:  # not comparable
        mixed = data_label(rows)
        title = f"{title} · {mixed}" if title else mixed
    if title:
        table.title = title
    return table
