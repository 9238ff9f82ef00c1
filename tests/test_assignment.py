"""The nbgrader and otter-grader round trips: the solution passes its hidden tests (which use
``nbmnist.grading``); the student version, made with the grader's own tools, fails each stub
with nbmnist's "fill in line N"; a wrong answer fails with one line the student can act on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbmnist.__main__ import execute_notebook
from tests.conftest import REPO

# one pytest-xdist worker runs this module: its otter tests share one otter assign
pytestmark = pytest.mark.xdist_group("test_assignment")

SOURCE = REPO / "notebooks" / "assignment" / "01_mlp_mnist_assignment.ipynb"
TASKS = ("relu_2h", "relu_3h", "relu_2h_mse")


def student_version(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    notebook, resources = ClearSolutions().preprocess(source, {})
    notebook, _ = ClearHiddenTests().preprocess(notebook, resources)
    return notebook


def task_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("solution"):
            cells[grading["grade_id"]] = cell
    return cells


def test_solution_passes_its_hidden_tests(tmp_path: Path) -> None:
    executed, _ = execute_notebook(SOURCE, tmp_path, fast=True, timeout=300)  # raises on failure
    notebook = nbformat.read(executed, as_version=4)
    hidden = [c for c in notebook.cells if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(hidden) == 3 and all(c.outputs == [] for c in hidden)  # asserts ran, silently


def test_student_version_stubs_ask_to_fill_in_the_line(tmp_path: Path) -> None:
    student = student_version(nbformat.read(SOURCE, as_version=4))
    assert "BEGIN HIDDEN TESTS" not in nbformat.writes(student)
    cells = task_cells(student)
    assert set(cells) == set(TASKS)
    for cell in cells.values():
        assert cell.source.splitlines()[1:] == ["# YOUR CODE HERE", "raise NotImplementedError()"]
    path = tmp_path / "student.ipynb"
    nbformat.write(student, path)
    executed, _ = execute_notebook(path, tmp_path / "out", fast=True, allow_errors=True)
    for name, cell in task_cells(nbformat.read(executed, as_version=4)).items():
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        assert error["ename"] == "PlaceholderError", name
        assert "fill in line 1" in error["evalue"]
        assert len(error["traceback"]) == 1  # one short line, no 40-line traceback


@pytest.mark.parametrize("task", TASKS)
def test_each_task_has_visible_and_hidden_checks(task: str) -> None:
    source = nbformat.read(SOURCE, as_version=4)
    tests = [
        c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{task}"
    ]
    assert len(tests) == 1 and tests[0].metadata["nbgrader"]["grade"]
    visible, hidden = tests[0].source.split("### BEGIN HIDDEN TESTS")
    assert f"assert {task}." in visible
    assert f"check_architecture({task}, " in hidden and f"check_training({task}, " in hidden


# otter-grader: otter assign, otter run (its own command line, as an instructor runs it)
OTTER_SOURCE = REPO / "notebooks" / "assignment" / "01_mlp_mnist_otter.ipynb"
OTTER = Path(sys.executable).with_name("otter")
OTTER_POINTS = {"relu_2h": 2, "relu_3h": 2, "relu_2h_mse": 1}


@pytest.fixture(scope="module")
def otter_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``otter assign``'s output: ``student/`` and ``autograder/`` (the notebook, the zip)."""
    dist = tmp_path_factory.mktemp("otter") / "dist"
    subprocess.run(
        [OTTER, "assign", OTTER_SOURCE, dist], check=True, capture_output=True, cwd=dist.parent
    )
    return dist


def autograder_zip(dist: Path) -> Path:
    (zip_path,) = (dist / "autograder").glob("*.zip")
    return zip_path


def otter_run(dist: Path, submission: Path, out: Path) -> dict[str, dict]:
    """``otter run`` on a submission in fast mode: each question's result, by name."""
    env = {**os.environ, "NBMNIST_FAST": "1"}
    subprocess.run(
        [OTTER, "run", "-a", autograder_zip(dist), "-o", out, submission],
        check=True,
        capture_output=True,
        env=env,
    )
    tests = json.loads((out / "results.json").read_text())["tests"]
    return {test["name"]: test for test in tests}


def model_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        c.source.split()[1]: c
        for c in notebook.cells
        if c.cell_type == "code" and c.source.startswith("%%mlp")
    }


def test_otter_assign_strips_the_declarations_and_hides_the_checks(otter_dist: Path) -> None:
    student = nbformat.read(otter_dist / "student" / OTTER_SOURCE.name, as_version=4)
    cells = model_cells(student)
    assert set(cells) == set(TASKS)
    assert all(cell.source.splitlines()[1:] == ["..."] for cell in cells.values())
    assert "check_architecture" not in nbformat.writes(student)  # hidden tests stay hidden
    assert "NbmnistMagics.seed = 0" in nbformat.writes(student)  # otter's seeding skips %%


@pytest.mark.slow
def test_a_solved_copy_passes_otter_run(otter_dist: Path, tmp_path: Path) -> None:
    results = otter_run(otter_dist, otter_dist / "autograder" / OTTER_SOURCE.name, tmp_path)
    for name, points in OTTER_POINTS.items():
        assert results[name]["score"] == points, results[name]["output"]


@pytest.mark.slow
def test_a_wrong_copy_fails_otter_run_with_one_line_to_act_on(
    otter_dist: Path, tmp_path: Path
) -> None:
    solved = nbformat.read(otter_dist / "autograder" / OTTER_SOURCE.name, as_version=4)
    cells = model_cells(solved)
    cells["relu_2h"].source = cells["relu_2h"].source.replace(" bn ", " ")  # no BatchNorm
    cells["relu_2h_mse"].source = cells["relu_2h_mse"].source.replace("--epochs 22", "--epochs 2")
    wrong = tmp_path / "submission" / OTTER_SOURCE.name
    wrong.parent.mkdir()
    nbformat.write(solved, wrong)
    results = otter_run(otter_dist, wrong, tmp_path)
    assert results["relu_3h"]["score"] == 2
    # otter shares a question's points among its test cases: the visible one still passes
    assert results["relu_2h"]["score"] < 2
    said = results["relu_2h"]["output"]
    assert "GradingError: relu_2h, layer 2: expected bn, found dropout 0.5" in said
    assert results["relu_2h_mse"]["score"] < 1
    said = results["relu_2h_mse"]["output"]
    assert "relu_2h_mse asked for 2 epochs; train it for 22 (--epochs 22)" in said


@pytest.mark.slow
def test_the_unsolved_copy_fails_with_the_placeholder_message(
    otter_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from otter.api import grade_submission

    monkeypatch.setenv("NBMNIST_FAST", "1")
    student = otter_dist / "student" / OTTER_SOURCE.name
    results = grade_submission(str(student), str(autograder_zip(otter_dist)), quiet=True)
    assert results.total == 0 and results.possible == sum(OTTER_POINTS.values())
    for name, cell in model_cells(results.notebook).items():
        (error,) = [o for o in cell.outputs if o.output_type == "error"]
        assert error["ename"] == "PlaceholderError", name
        assert "line 1 is a placeholder ('...'): fill in line 1" in error["evalue"]


def shell_blocks(markdown: Path) -> list[str]:
    """The fenced blocks without a language (the shell commands) of a Markdown page."""
    blocks: list[str] = []
    language, lines = None, []
    for line in markdown.read_text().splitlines():
        if not line.startswith("```"):
            lines.append(line)
        elif language is None:  # an opening fence
            language, lines = line[3:].strip(), []
        else:
            if language == "":
                blocks.append("\n".join(lines) + "\n")
            language = None
    return blocks


@pytest.mark.slow
def test_the_grading_page_otter_commands_run_as_written(tmp_path: Path) -> None:
    """docs/grading.md's otter block, typed at the repository's root (here a copy of its
    assignment folder): otter run's output folder is made, and an unsolved task's tests
    fail in results.json with the cell's PlaceholderError, not NameError."""
    (block,) = [b for b in shell_blocks(REPO / "docs" / "grading.md") if "otter assign" in b]
    shutil.copytree(REPO / "notebooks" / "assignment", tmp_path / "notebooks" / "assignment")
    env = {**os.environ, "PATH": f"{OTTER.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    tests = json.loads((tmp_path / "results" / "results.json").read_text())["tests"]
    hidden = [test for test in tests if test["name"] in OTTER_POINTS]
    assert len(hidden) == len(OTTER_POINTS)
    for test in hidden:
        assert (
            f"PlaceholderError: {test['name']} was not trained: line 1 is a placeholder"
            in (test["output"])
        ), test["output"][-500:]
        assert "NameError" not in test["output"]
