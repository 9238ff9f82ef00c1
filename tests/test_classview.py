"""python -m nbmnist class: every student's runs read as records, architectures checked
against the reference, implausible numbers flagged, one HTML report and a CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nbmnist.__main__ import main
from nbmnist.classview import implausible
from tests.conftest import make_run


def _submit(root: Path, student: str, *runs: object) -> None:
    folder = root / student / "nbmnist-runs"
    for run in runs:
        (folder / run.name).mkdir(parents=True)  # type: ignore[attr-defined]
        (folder / run.name / "run.json").write_text(json.dumps(run.to_record()))  # type: ignore[attr-defined]


def test_the_class_view_reads_flags_and_writes_html_and_csv(tmp_path: Path) -> None:
    history = {"loss": [0.4, 0.2], "val_accuracy": [0.95, 0.9856]}
    reference = tmp_path / "solution.runs.json"
    reference.write_text(json.dumps([make_run("relu_2h", 0.98).to_record()]))
    submissions = tmp_path / "submissions"
    _submit(submissions, "ada", make_run("relu_2h", 0.97, history=history))
    _submit(submissions, "bob", make_run("relu_2h", 0.96, declaration="430 relu"))
    claimed = make_run("relu_2h", 0.99, data_source="the bundled sample (2,000 images)")
    _submit(submissions, "cy", claimed)
    (submissions / "dee").mkdir()
    out = tmp_path / "report"
    assert (
        main(["class", str(submissions), "--reference", str(reference), "--output-dir", str(out)])
        == 0
    )
    rows = list(csv.DictReader((out / "class.csv").open()))
    by_student = {row["student"]: row for row in rows}
    assert by_student["ada"]["architecture"] == "matches" and by_student["ada"]["flags"] == ""
    assert by_student["bob"]["architecture"].startswith("differs")
    assert "claims full data" in by_student["cy"]["flags"]
    assert by_student["dee"]["status"] == "no runs"
    report = (out / "class.html").read_text()
    assert "4 submissions" in report and "data:image/png;base64," in report
    assert "Flagged (1)" in report


def test_numbers_a_history_cannot_give_are_flagged() -> None:
    run = make_run("r", 0.99, options={"validation": "test", "data": "mnist"})
    assert "is not its last epoch's 0.9856" in implausible(run)[0]
    run = make_run("r", 0.9856, options={"validation": "test", "data": "mnist"})
    assert implausible(run) == []
    far = make_run("r", 0.9990, history={"loss": [0.4], "val_accuracy": [0.80]})
    assert "far above its best validation accuracy 0.8000" in implausible(far)[0]


def test_one_submission_with_its_store_and_runs_json_counts_once(tmp_path: Path) -> None:
    """``python -m nbmnist run --output-dir .`` leaves a run store and a .runs.json beside
    each other: one submission, each run once; a task never run is listed; a wrong
    --epochs is flagged though fast mode ran the same 2 epochs as the task's."""
    solution = [make_run("relu_2h", 0.98, options={**TASK, "epochs": 22}), make_run("deep", 0.97)]
    reference = tmp_path / "solution.runs.json"
    reference.write_text(json.dumps([run.to_record() for run in solution]))
    student = tmp_path / "ada"
    asked = make_run("relu_2h", 0.97, options={**TASK, "epochs": 2}, created="2026-12-06T10:00")
    _submit(student.parent, student.name, asked)
    (student / "nbmnist-runs").rename(student / "01-runs")
    (student / "01.runs.json").write_text(json.dumps([asked.to_record()]))
    out = tmp_path / "report"
    assert (
        main(["class", str(student), "--reference", str(reference), "--output-dir", str(out)]) == 0
    )
    rows = list(csv.DictReader((out / "class.csv").open()))
    assert [(row["student"], row["model"], row["status"]) for row in rows] == [
        ("ada", "relu_2h", "completed"),
        ("ada", "deep", "not run"),
    ]
    assert rows[0]["flags"] == "asked for epochs 2 (the task: 22)"
    assert "1 submission, 1 run" in (out / "class.html").read_text()


TASK = {"optimizer": "adam", "loss": "categorical_crossentropy", "data": "mnist"}
