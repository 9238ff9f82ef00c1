"""How long does the class view take for a course? 300 generated submissions (issue 17):
seconds to read them and write the report.

    make bench BENCH=bench/grading/test_class_view.py

Each generated student folder holds a run store with the three models of lesson 01's
assignment (records only, as a grader collects them), with varied scores and one in ten
flagged (a sample run claimed as full data); architectures are checked against a reference. Target: < 10 s for 300 submissions.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Result
from nbmnist.classview import write_report
from nbmnist.runs import Run

STUDENTS = 300
MODELS = {
    "relu_2h": "430 322 relu he_normal bn dropout=0.5",
    "sigmoid_2h": "430 322 sigmoid bn dropout=0.5",
    "relu_3h": "430 322 164 relu he_normal bn dropout=0.5",
}


def record(name: str, declaration: str, accuracy: float, sample_claimed: bool) -> dict:
    run = Run(
        name=name,
        kind="mlp",
        declaration=declaration,
        options={"data": "mnist", "validation": "split"},
        history={"loss": [0.5, 0.3], "val_accuracy": [accuracy - 0.01, accuracy]},
        test_loss=0.1,
        test_accuracy=accuracy,
        num_params=482_570,
        wall_time_s=30.0,
        data_source="the bundled sample" if sample_claimed else "../shared/data/mnist",
        status="completed",
        plan={"epochs": 2},
    )
    return run.to_record()


def measure() -> Result:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "submissions"
        for student in range(STUDENTS):
            for name, declaration in MODELS.items():
                folder = root / f"student_{student:03d}" / "nbmnist-runs" / name
                folder.mkdir(parents=True)
                accuracy = rng.uniform(0.95, 0.985)
                claimed = rng.random() < 0.1
                (folder / "run.json").write_text(
                    json.dumps(record(name, declaration, accuracy, claimed))
                )
        began = time.perf_counter()
        reference = {
            name: Run.from_record(record(name, declaration, 0.98, False), root)
            for name, declaration in MODELS.items()
        }
        html, _ = write_report(root, Path(tmp) / "report", reference)
        seconds = time.perf_counter() - began
        flagged = html.read_text().split("Flagged (", 1)[1].split(")", 1)[0]
    return Result(
        [
            {
                "submissions": STUDENTS,
                "runs": STUDENTS * len(MODELS),
                "report and CSV (s)": seconds,
                "flagged": int(flagged),
                "target": "< 10 s",
            }
        ]
    )


@pytest.mark.benchmark(group="class-view")
def test_the_class_view_of_300_submissions(measured: Any) -> None:
    measured(measure)
