"""Every shell command the README and docs/ tell a user to type (in a fenced block or inline)
is accounted for: run here, run as written by the test named in ``RUN_ELSEWHERE``, or (a
full-data run or benchmark of minutes to hours, a make target) its program and every flag it
shows checked against the program's ``--help`` (``make -n`` for a target). ``pip`` commands
need the package registry, which CI does not reach: ``make test`` runs its own install."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO, make_run
from tests.test_assignment import shell_blocks

PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
#: A shell command (after any VAR=value prefixes); other lines of a language-less block are
#: notebook cells, printed errors or output.
COMMAND = re.compile(r"(?:[A-Z_]+=\S*\s+)*(make|python|\.venv/bin/python|otter|cp|mkdir|pip)\s")
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
    """(page, command) for each shell command of the pages (a fenced block's line, or inline
    code outside the blocks), comments and VAR= prefixes off; an elided one (``...``) is
    left out."""
    for page in PAGES:
        lines = [line for block in shell_blocks(page) for line in block.splitlines()]
        prose = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
        lines += re.findall(r"`([^`\n]+)`", prose)
        for line in lines:
            code = re.split(r"\s#\s", line)[0].strip()
            if COMMAND.match(code + " ") and " " in code and "..." not in code:
                yield page.name, re.sub(r"^(?:[A-Z_]+=\S*\s+)+", "", code)


COMMANDS = sorted(set(documented()))


#: Commands that cannot run where the tests run, by their start: why.
NOT_HERE = {"pip ": "needs the package registry, which CI does not reach"}


def elsewhere(command: str) -> str | None:
    """Where ``command`` is run as written (its start is in ``RUN_ELSEWHERE`` as whole words:
    ``make test`` is not ``make test-browser``)."""
    starts = RUN_ELSEWHERE.items()
    return next((w for s, w in starts if re.match(re.escape(s) + r"(?![\w-])", command)), None)


def program_and_flags(command: str) -> tuple[list[str], list[str]]:
    """``.venv/bin/python bench/x.py [--kills 50] --y 2`` -> (the program to ask for --help,
    the flags the command shows)."""
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    flags = [word.split("=")[0] for word in words if word.startswith("--")]
    if words[0] == "make":  # make -n TARGET: the target exists and its recipe expands
        targets = [word for word in words[1:] if not word.startswith("-")]
        return ["make", "-n", "-C", str(REPO), *targets[:1]], []
    python = [sys.executable] if words[0].endswith("python") else words[:1]
    if words[1] == "-m":  # python -m nbmnist run|class, python -m bench.gpu
        command = words[3:4] if len(words) > 3 and not words[3].startswith("-") else []
        return [*python, *words[1:3], *command], flags
    return [*python, str(REPO / words[1])], flags


def test_the_pages_document_commands_and_each_is_accounted_for() -> None:
    assert len(COMMANDS) >= 10  # the parser finds them
    assert ("grading.md", "otter assign notebooks/assignment/01_mlp_mnist_otter.ipynb dist") in (
        COMMANDS
    )
    for page, command in COMMANDS:
        if elsewhere(command) or command.startswith(("python", ".venv/bin/python", "make")):
            continue
        if command.startswith(tuple(NOT_HERE)):
            continue
        raise AssertionError(f"{page}: '{command}' is run by no test; add one")


CHECKED = sorted(
    {
        (tuple(program_and_flags(c)[0]), tuple(program_and_flags(c)[1]), f"{p}: {c}")
        for p, c in COMMANDS
        if elsewhere(c) is None and not c.startswith(tuple(NOT_HERE))
    }
)


def test_each_program_a_page_names_takes_the_flags_it_shows() -> None:
    """Each program once (``--help``; ``make -n`` for a target), with every flag the pages
    show it with."""
    helps: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}
    for program, flags, where in CHECKED:
        if program[-1].endswith("results_table.py"):  # no --help: run on files below
            continue
        if program not in helps:
            asked = list(program) if program[0] == "make" else [*program, "--help"]
            helps[program] = subprocess.run(asked, capture_output=True, text=True, cwd=REPO)
        done = helps[program]
        assert done.returncode == 0, (where, done.stderr[-1000:])
        for flag in flags:
            assert flag in done.stdout, f"{where} shows {flag}, which the program lacks"


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


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """``make docs``' MkDocs build in strict mode: a broken link, a page missing from the
    navigation or a docstring mkdocstrings cannot read fails it. The lessons are the executed
    ones of ``make docs`` where present, else the notebooks as written."""
    import os

    site = tmp_path / "site"
    env = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    home = (site / "index.html").read_text()
    assert 'src="images/dashboard.png"' in home and (site / "images" / "dashboard.png").is_file()
    options = (site / "reference" / "options" / "index.html").read_text()
    assert "--batch-size" in options and "validation_split" in options  # from options.py
    assert "GlobalAveragePooling2D" in (site / "reference" / "layers" / "index.html").read_text()
    assert "nbmnist.train" in (site / "reference" / "api" / "index.html").read_text()
    for lesson in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert (site / "lessons" / lesson.stem / "index.html").is_file()
