"""The nbgrader round trip: the solution passes its hidden tests; the student version, made
with nbgrader's own preprocessors, fails each stub with nbmnist's "fill in line N"."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nbmnist.__main__ import execute_notebook
from tests.conftest import REPO

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
    assert f"assert {task}." in visible and f"assert {task}." in hidden
