"""A teacher's own week-3 notebook (a parameters cell, a sweep, the bundled sample, the
closing helpers), run the three ways a class runs notebooks headless: ``python -m nbmnist
run``, ``jupyter nbconvert --execute`` and papermill (the lessons run under them too:
``tests/test_notebook.py``'s ``executed``). A stop in each is ``tests/test_notebook.py``'s
runner test (a stopped cell fails a papermill run by design)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from tests.conftest import headless, outputs

BIN = Path(sys.executable).parent
#: What a teacher writes in week 3: defaults a grader or papermill may override, a sweep on
#: the sample, and the helpers that close a notebook.
WEEK3 = (
    ("%load_ext nbmnist", []),
    ("epochs = 1\nunits = 32", ["parameters"]),
    (
        "%%mlp sw --grid rate=0.0,0.5 --epochs {epochs} --train-size 600 --executor kernel"
        "  # one model per rate\ndense {units} relu | dropout {rate}",
        [],
    ),
    ("nbmnist.summary_table(sw)", []),
    ("best = nbmnist.misclassified(sw[0], n=4, true='7')\nprint(len(best), 'mistakes')", []),
)


def week3(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    for source, tags in WEEK3:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "week3.ipynb"
    nbformat.write(notebook, path)
    return path


def test_week3_with_nbmnist_run_and_a_parameter(tmp_path: Path) -> None:
    source = week3(tmp_path)
    done = headless(
        [sys.executable, "-m", "nbmnist", "run", str(source), "--output-dir", "out",
         "-p", "epochs", "2", "-p", "units", "16"],
        tmp_path,
    )  # fmt: skip
    runs = json.loads((tmp_path / "out" / "week3.runs.json").read_text())
    assert [(r["name"], len(r["history"]["loss"])) for r in runs] == [
        ("sw[rate=0.0]", 2),
        ("sw[rate=0.5]", 2),
    ]
    assert all(r["num_params"] == 784 * 16 + 16 + 170 and r["uses_sample"] for r in runs)
    assert "4 mistakes" in outputs(tmp_path / "out" / "week3.ipynb")
    assert "bundled sample" in done.stdout
    # the terminal shows nbmnist's lines: no TensorFlow C++ start-up logs (I0000, E0000 ...)
    tcp = "[IPKernelApp] WARNING | Kernel is running over TCP"  # ipykernel's own
    assert [line for line in done.stderr.splitlines() if not line.startswith(tcp)] == []


def test_a_parameter_needs_a_parameters_cell(tmp_path: Path) -> None:
    source = week3(tmp_path)
    notebook = nbformat.read(source, as_version=4)
    notebook.cells[1].metadata["tags"] = []
    nbformat.write(notebook, source)
    done = subprocess.run(
        [sys.executable, "-m", "nbmnist", "run", str(source), "-p", "epochs", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "week3.ipynb has no cell tagged 'parameters'" in done.stderr
    assert not (tmp_path / "build").exists()  # refused before any cell ran


def test_week3_with_nbconvert_then_papermill_changing_the_epochs(tmp_path: Path) -> None:
    """The runs stay in ./nbmnist-runs between the two executions, as in a course folder: the
    papermill run asks for 2 epochs and trains sw_2 instead of resuming the 1-epoch points."""
    source = week3(tmp_path)
    headless(
        ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "nbconvert-week3",
         str(source)],
        tmp_path,
        NBMNIST_RUNS="",  # the default store, ./nbmnist-runs beside the notebook
    )  # fmt: skip
    assert "sw: 2 of 2 done" in outputs(tmp_path / "nbconvert-week3.ipynb")
    headless(
        ["papermill", str(source), "papermill-week3.ipynb", "-p", "epochs", "2", "-k", "python3"],
        tmp_path,
        NBMNIST_RUNS="",
    )
    text = outputs(tmp_path / "papermill-week3.ipynb")
    assert "the cell changed since its stored points (epochs 1 -> 2); training sw_2" in text
    assert "skipped (resume)" not in text
    stored = {p.name for p in (tmp_path / "nbmnist-runs").iterdir() if not p.name.startswith(".")}
    assert len(stored) == 4  # sw's two points kept, sw_2's two beside them
