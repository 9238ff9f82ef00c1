"""Hostile cells (``tests/hostile_cells.py``): each a one-line error before anything trains,
nothing run as Python, nothing written outside the run store. ``tools/stress.py``
times them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nbmnist
from tests.conftest import Shell
from tests.hostile_cells import SENTINEL, cells

CELLS = cells()


def test_there_are_over_a_hundred() -> None:
    assert len(CELLS) >= 100


@pytest.mark.parametrize(("kind", "line", "body"), CELLS, ids=range(len(CELLS)))
def test_a_hostile_cell_is_one_line_and_touches_nothing(
    shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, line: str, body: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = Path(os.environ["NBMNIST_RUNS"])
    shell.ns["units"] = 8
    error = shell.run_expecting_error(f"%%{kind} {line}\n{body}")
    assert type(error).__name__ in ("UsageError", "DeclarationError", "PlaceholderError",
                                    "RunStoreError", "OptionError")  # fmt: skip
    message = str(error)
    assert message and "\n" not in message and len(message) < 400
    assert nbmnist.runs() == []
    assert list(work.iterdir()) == []  # nothing written here, the sentinel included
    assert not store.exists() or list(store.iterdir()) == []
    assert not Path(SENTINEL).exists()
