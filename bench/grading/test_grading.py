"""How long does grading one submission take? Lesson 01 in fast mode, end to end (issue 17):
seconds from the grader's command to its scores, as an instructor runs it.

    make bench BENCH=bench/grading/test_grading.py

Measured, each as a fresh command (its own Python, kernel, TensorFlow import):
- ``otter assign`` once, then ``otter run`` on the solved copy of
  ``notebooks/assignment/01_mlp_mnist_otter.ipynb`` (3 MLPs, visible and hidden checks);
- ``python -m nbmnist run --fast`` on the nbgrader source notebook (what nbgrader's
  autograde executes: the same cells and hidden tests);
- ``python -m nbmnist run --fast`` on the whole lesson, ``notebooks/01_mlp_mnist.ipynb``
  (13 MLPs and a learning-rate range test), for scale.
Target: < 60 s per graded submission on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Result

REPO = Path(__file__).resolve().parents[2]
REPEATS = 2
BIN = Path(sys.executable).parent
ASSIGNMENT = REPO / "notebooks" / "assignment"


def timed(command: list[str | Path], cwd: Path) -> float:
    env = {**os.environ, "NBMNIST_FAST": "1", "NBMNIST_DOWNLOAD": "0"}
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=cwd, env=env)
    return time.perf_counter() - started


def measure() -> Result:
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        master = ASSIGNMENT / "01_mlp_mnist_otter.ipynb"
        assign_s = timed([BIN / "otter", "assign", master, work / "dist"], work)
        (zip_path,) = (work / "dist" / "autograder").glob("*.zip")
        solved = work / "dist" / "autograder" / master.name
        for repeat in range(REPEATS):
            out = work / f"otter-{repeat}"
            out.mkdir()  # otter run writes results.json into an existing folder
            otter_s = timed([BIN / "otter", "run", "-a", zip_path, "-o", out, solved], work)
            tests = json.loads((out / "results.json").read_text())["tests"]
            score = sum(t.get("score", 0) for t in tests)
            assert score == 5, f"the solved copy scored {score} of 5"
            rows.setdefault("otter run, solved assignment (3 MLPs)", []).append(otter_s)
            for label, notebook in (
                (
                    "nbmnist run --fast, nbgrader source (3 MLPs)",
                    "assignment/01_mlp_mnist_assignment.ipynb",
                ),
                ("nbmnist run --fast, lesson 01 (13 MLPs)", "01_mlp_mnist.ipynb"),
            ):
                command = [
                    sys.executable,
                    "-m",
                    "nbmnist",
                    "run",
                    REPO / "notebooks" / notebook,
                    "--fast",
                    "--output-dir",
                    work / f"run-{repeat}",
                ]
                rows.setdefault(label, []).append(timed(command, work))
    return Result(
        [
            {
                "grading, end to end": label,
                "runs (s)": ", ".join(f"{s:.1f}" for s in seconds),
                "best (s)": min(seconds),
                "target": "< 60 s" if "3 MLPs" in label else "(for scale)",
            }
            for label, seconds in rows.items()
        ],
        [f"`otter assign`, once: {assign_s:.1f} s."],
    )


@pytest.mark.benchmark(group="grading")
def test_grading_one_submission(measured: Any) -> None:
    measured(measure)
