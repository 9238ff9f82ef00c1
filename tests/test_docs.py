"""Every shell command the README and docs/ tell a user to type is accounted for: run here,
run as written by the test named in ``RUN_ELSEWHERE``, or (a full-data run of minutes to
hours) its program and every flag it shows checked against the program's ``--help``."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, make_run
from tests.test_assignment import shell_blocks

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: A shell command (after any VAR=value prefixes); other lines of a language-less block are
#: notebook cells, printed errors or output.
COMMAND = re.compile(r"(?:[A-Z_]+=\S*\s+)*(make|python|\.venv/bin/python|otter|cp|mkdir)\s")
#: Commands run as written elsewhere, by their start: where.
RUN_ELSEWHERE = {
    "make test": ".ci/run runs it on every submission (test_packaging checks .ci/run)",
    "make demo": "its recipe, python -m nbmnist run on lesson 01 (test_notebook, fast mode)",
    "otter assign": "test_assignment.py::test_the_grading_page_otter_commands_run_as_written",
    "cp dist/student": "test_assignment.py::test_the_grading_page_otter_commands_run_as_written",
    "mkdir -p results": "test_assignment.py::test_the_grading_page_otter_commands_run_as_written",
    "otter run": "test_assignment.py::test_the_grading_page_otter_commands_run_as_written",
}


def documented() -> Iterator[tuple[str, str]]:
    """(page, command) for each shell command of the pages, comments and VAR= prefixes off."""
    for page in PAGES:
        for block in shell_blocks(page):
            for line in block.splitlines():
                code = re.split(r"\s#\s", line)[0].strip()
                if COMMAND.match(code + " "):
                    yield page.name, re.sub(r"^(?:[A-Z_]+=\S*\s+)+", "", code)


COMMANDS = sorted(set(documented()))


def elsewhere(command: str) -> str | None:
    return next(
        (where for start, where in RUN_ELSEWHERE.items() if command.startswith(start)), None
    )


def program_and_flags(command: str) -> tuple[list[str], list[str]]:
    """``.venv/bin/python bench/x.py [--kills 50] --y 2`` -> (the program to ask for --help,
    the flags the command shows)."""
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    flags = [word.split("=")[0] for word in words if word.startswith("--")]
    if words[0] == "make":
        return words[:2], flags
    python = [sys.executable] if words[0].endswith("python") else words[:1]
    if words[1] == "-m":
        return [*python, *words[1:4]], flags  # python -m nbmnist run|class
    return [*python, str(REPO / words[1])], flags


def test_the_pages_document_commands_and_each_is_accounted_for() -> None:
    assert len(COMMANDS) >= 10  # the parser finds them
    assert ("grading.md", "otter assign notebooks/assignment/01_mlp_mnist_otter.ipynb dist") in (
        COMMANDS
    )
    for page, command in COMMANDS:
        if elsewhere(command) or command.startswith(("python", ".venv/bin/python")):
            continue
        raise AssertionError(f"{page}: '{command}' is run by no test; add one")


@pytest.mark.parametrize(
    ("page", "command"),
    [(p, c) for p, c in COMMANDS if elsewhere(c) is None],
    ids=[f"{p}:{c[:60]}" for p, c in COMMANDS if elsewhere(c) is None],
)
def test_each_program_a_page_names_takes_the_flags_it_shows(page: str, command: str) -> None:
    program, flags = program_and_flags(command)
    done = subprocess.run([*program, "--help"], capture_output=True, text=True, cwd=REPO)
    if "results_table.py" in command:  # takes files, no --help: run it on a runs.json below
        return
    assert done.returncode == 0, (page, command, done.stderr[-1000:])
    for flag in flags:
        assert flag in done.stdout, f"{page}: '{command}' shows {flag}, which the program lacks"


def test_the_class_view_and_results_table_commands_run_as_written(tmp_path: Path) -> None:
    """``python -m nbmnist class ...`` (docs/grading.md) and ``tools/results_table.py``
    (docs/results.md), with their placeholders given real files."""
    (command,) = [c for _, c in COMMANDS if c.startswith("python -m nbmnist class")]
    runs = [
        make_run("relu_2h", 0.98, created="2026-12-06T10:00:00+00:00", epoch_seconds=[1.5, 1.4])
    ]
    (tmp_path / "solution.runs.json").write_text(json.dumps([r.to_record() for r in runs]))
    (tmp_path / "SUBMISSIONS_DIR" / "ada").mkdir(parents=True)
    (tmp_path / "SUBMISSIONS_DIR" / "ada" / "01.runs.json").write_text(
        json.dumps([r.to_record() for r in runs])
    )
    words = shlex.split(re.sub(r"\[(.*?)\]", r"\1", command))
    done = subprocess.run(
        [sys.executable, *words[1:]], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-1000:]
    assert (tmp_path / "build" / "class" / "class.csv").is_file()
    tables = [c for _, c in COMMANDS if "tools/results_table.py" in c]
    assert tables
    for command in tables:
        target = tmp_path / shlex.split(command)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".json":
            target.write_text(json.dumps([r.to_record() for r in runs]))
        else:  # a run store
            (target / "relu_2h").mkdir(parents=True)
            (target / "relu_2h" / "run.json").write_text(json.dumps(runs[0].to_record()))
        done = subprocess.run(
            [sys.executable, str(REPO / "tools" / "results_table.py"), str(target)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 0 and "relu_2h" in done.stdout, (command, done.stderr)
