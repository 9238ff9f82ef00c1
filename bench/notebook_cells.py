"""Time and text of every training cell of the lesson notebooks in fast mode (as CI runs them).

Usage:
    .venv/bin/python bench/notebook_cells.py [NOTEBOOK ...]   # default: notebooks/*.ipynb

Executes each notebook headless with NBMNIST_FAST=1 (bundled sample, at most 2 epochs on
2,000 images; sweeps: 3 grid points) and reads each %%mlp / %%cnn cell's wall time from the
kernel's execution timestamps and its lines of text output. Targets (issue 6): every
training cell < 15 s on this 2-core CPU (half of nbgrader's 30 s default) and < 100 lines.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

import nbformat

from nbmnist.__main__ import execute_notebook

REPO = Path(__file__).resolve().parent.parent


def seconds(cell: nbformat.NotebookNode) -> float:
    meta = cell.metadata.get("execution", {})
    start = datetime.datetime.fromisoformat(meta["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(meta["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    paths = parser.parse_args().notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    print("| notebook | training cells | slowest cell (s) | most lines | whole notebook (s) |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as out:
        for path in paths:
            start = time.perf_counter()
            executed, _ = execute_notebook(path, Path(out), fast=True, timeout=600)
            total = time.perf_counter() - start
            cells = [
                c
                for c in nbformat.read(executed, as_version=4).cells
                if c.cell_type == "code" and c.source.startswith(("%%mlp", "%%cnn"))
            ]
            slowest = max(cells, key=seconds)
            lines = max(
                len(
                    "".join(
                        o.get("text", "") for o in c.outputs if o.output_type == "stream"
                    ).splitlines()
                )
                for c in cells
            )
            name = slowest.source.split()[1]
            print(
                f"| {path.name} | {len(cells)} | {seconds(slowest):.1f} ({name}) | {lines} "
                f"| {total:.0f} |"
            )


if __name__ == "__main__":
    main()
