"""A class view of graded submissions: ``python -m nbmnist class SUBMISSIONS_DIR``.

Reads every student's runs (one folder per student: a run store's ``*/run.json`` records
and ``*.runs.json`` files, as ``python -m nbmnist run`` writes them), and writes one HTML
report and a CSV: per student and model its status, data (sample or full), architecture
match against a reference, epochs and test accuracy; the class's test accuracy per model as a
plot; and the numbers that cannot be true, flagged. Nothing from a submission is executed:
records are JSON, and no model is loaded.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from nbmnist.display.text import plural
from nbmnist.errors import NbmnistError
from nbmnist.plan import IDENTITY_OPTIONS
from nbmnist.runs import RECORD, Run, RunStoreError

#: With ``--validation test`` the last epoch's validation accuracy is the test accuracy of the
#: same weights: a record whose two differ by more than this was not produced by that history.
SAME_SCORE = 0.002
#: A test accuracy this far above the run's best validation accuracy is flagged.
FAR_ABOVE = 0.05

COLUMNS = ("student", "model", "status", "data", "architecture", "epochs", "test accuracy", "flags")
#: The options a task sets: those that decide what a run learns (``plan.IDENTITY_OPTIONS``)
#: but the seed and what the grader's machine decides (fast mode, mixed precision). A run that
#: asked for other values than the reference run of its name is flagged (in fast mode too,
#: where the epochs that ran are capped for all).
TASK_OPTIONS = tuple(
    name for name in IDENTITY_OPTIONS if name not in ("seed", "fast", "mixed_precision")
)


@dataclass(frozen=True)
class Row:
    """One student's run, as the report shows it (see ``COLUMNS``)."""

    student: str
    model: str
    status: str
    data: str
    architecture: str
    epochs: int
    test_accuracy: float | None
    flags: str

    def values(self) -> list[object]:
        accuracy = "" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return [
            self.student,
            self.model,
            self.status,
            self.data,
            self.architecture,
            self.epochs,
            accuracy,
            self.flags,
        ]


def submission_runs(folder: Path) -> Iterator[Run]:
    """The runs a student's folder holds (records only), skipping what cannot be read. A run
    found twice (in the run store and in the ``.runs.json`` that ``python -m nbmnist run``
    writes beside it: same name, same start) is given once."""
    seen: set[tuple[str, str]] = set()
    for run in _records(folder):
        key = (run.name, run.created)
        if key not in seen:
            seen.add(key)
            yield run


def _records(folder: Path) -> Iterator[Run]:
    for record_file in sorted(folder.rglob(RECORD)):
        try:
            yield Run.from_record(json.loads(record_file.read_text()), record_file.parent)
        except (OSError, ValueError, RunStoreError):
            continue
    for runs_json in sorted(folder.rglob("*.runs.json")):
        try:
            records = json.loads(runs_json.read_text())
        except (OSError, ValueError):
            continue
        for record in records if isinstance(records, list) else []:
            try:
                yield Run.from_record(record, runs_json.parent)
            except RunStoreError:
                continue


def student_folders(submissions: Path) -> list[Path]:
    """One folder per submission: the folders in ``submissions``, or ``submissions`` itself
    when it is one submission (it holds a ``.runs.json`` or a run store's run folders)."""
    if any(submissions.glob("*.runs.json")) or any(submissions.glob(f"*/{RECORD}")):
        return [submissions]
    return sorted(path for path in submissions.iterdir() if path.is_dir())


def option_differences(run: Run, expected: Run) -> list[str]:
    """The ``TASK_OPTIONS`` a run asked for otherwise than the reference run: ``epochs 2
    (the task: 22)``."""
    return [
        f"{name} {run.options.get(name)} (the task: {expected.options.get(name)})"
        for name in TASK_OPTIONS
        if name in expected.options and run.options.get(name) != expected.options[name]
    ]


def implausible(run: Run) -> list[str]:
    """What in a run's record cannot be true, one short phrase each."""
    flags = []
    if not run.uses_sample and "sample" in run.data_source.lower():
        flags.append("claims full data, but its data source is the bundled sample")
    planned = run.plan.get("epochs")
    if run.status == "completed" and planned is not None and run.epochs != planned:
        flags.append(f"completed with {run.epochs} epochs of history, {planned} planned")
    if run.test_accuracy is not None:
        validation = run.options.get("validation")
        last = (run.history.get("val_accuracy") or [math.nan])[-1]
        best = run.best_epoch("val_accuracy")
        if validation == "test" and math.isfinite(last):
            if abs(last - run.test_accuracy) > SAME_SCORE:
                flags.append(
                    f"test accuracy {run.test_accuracy:.4f} is not its last epoch's "
                    f"{last:.4f} on the same test set"
                )
        elif best is not None and run.test_accuracy > best[1] + FAR_ABOVE:
            flags.append(
                f"test accuracy {run.test_accuracy:.4f} far above its best validation "
                f"accuracy {best[1]:.4f}"
            )
    if run.status == "completed" and run.test_accuracy is None:
        flags.append("completed without a test accuracy")
    return flags


def _architecture(run: Run, reference: Mapping[str, Run]) -> str:
    if run.name not in reference:
        return "n/a"
    from nbmnist.grading import GradingError, check_architecture

    expected = reference[run.name]
    try:
        check_architecture(run, expected.declaration)
    except GradingError as err:
        return f"differs: {str(err).split(', ', 1)[-1] if ', layer' in str(err) else err}"
    except NbmnistError as err:
        return f"unreadable: {err}"
    return "matches"


def class_rows(submissions: Path, reference: Mapping[str, Run] | None = None) -> list[Row]:
    """One row per submission (``student_folders``) and run in it: a folder without runs
    gives one row saying so, and each task of ``reference`` a student did not run one row
    ``not run``. A run that asked for other options than the task is flagged."""
    rows = []
    reference = reference or {}
    for folder in student_folders(submissions):
        runs = list(submission_runs(folder))
        if not runs:
            rows.append(Row(folder.name, "", "no runs", "", "", 0, None, ""))
            continue
        for run in runs:
            expected = reference.get(run.name)
            differences = option_differences(run, expected) if expected else []
            flags = [*implausible(run)]
            if differences:
                flags.append("asked for " + ", ".join(differences))
            rows.append(
                Row(
                    folder.name,
                    run.name,
                    run.status,
                    "sample" if run.uses_sample else "full",
                    _architecture(run, reference or {}),
                    run.epochs,
                    run.test_accuracy,
                    "; ".join(flags),
                )
            )
        ran = {run.name for run in runs}
        for name in reference:
            if name not in ran:
                rows.append(Row(folder.name, name, "not run", "", "", 0, None, ""))
    return rows


def _plot(rows: list[Row]) -> str:
    """The class's test accuracy per model (one point per student), as a PNG in base64."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    scored = [row for row in rows if row.test_accuracy is not None]
    figure, ax = plt.subplots(figsize=(max(5.0, 1.2 * len({r.model for r in scored})), 4))
    if scored:
        data = {
            "model": [r.model for r in scored],
            "test accuracy": [r.test_accuracy for r in scored],
        }
        sns.stripplot(data=data, x="model", y="test accuracy", ax=ax, size=4, alpha=0.6)
    ax.set_title("test accuracy per model, one point per student")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def write_report(
    submissions: Path, output_dir: Path, reference: Mapping[str, Run] | None = None
) -> tuple[Path, Path]:
    """Write ``class.html`` and ``class.csv`` for ``submissions`` into ``output_dir``.

    Returns:
        The two paths.
    """
    rows = class_rows(submissions, reference)
    output_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = output_dir / "class.csv", output_dir / "class.html"
    with open(csv_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(row.values() for row in rows)
    students = len({row.student for row in rows})
    trained = [row for row in rows if row.status not in ("no runs", "not run")]
    flagged = [row for row in rows if row.flags]
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row.values()) + "</tr>"
        for row in rows
    )
    header = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    flagged_items = "".join(
        f"<li>{html.escape(row.student)} / {html.escape(row.model)}: {html.escape(row.flags)}</li>"
        for row in flagged
    )
    html_path.write_text(
        "<!doctype html><meta charset='utf-8'><title>nbmnist class view</title>"
        f"<h1>{plural(students, 'submission')}, {plural(len(trained), 'run')}</h1>"
        f"<img alt='test accuracy per model' src='data:image/png;base64,{_plot(rows)}'>"
        f"<h2>Flagged ({len(flagged)})</h2><ul>{flagged_items or '<li>none</li>'}</ul>"
        f"<h2>Every run</h2><table border='1'><tr>{header}</tr>{table}</table>",
        encoding="utf-8",
    )
    return html_path, csv_path


def reference_runs(path: Path | None) -> dict[str, Run]:
    """The reference solution's runs by name: a ``.runs.json`` or a folder of runs."""
    if path is None:
        return {}
    runs = submission_runs(path) if path.is_dir() else _runs_json(path)
    return {run.name: run for run in runs}


def _runs_json(path: Path) -> Iterator[Run]:
    for record in json.loads(path.read_text()):
        yield Run.from_record(record, path.parent)
