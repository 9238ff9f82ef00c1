"""Write a lesson notebook's training cells cheapest first, for full-data runs with a deadline.

Usage:
    .venv/bin/python tools/cheapest_first.py notebooks/02_cnn_mnist.ipynb build/02_first.ipynb
    NBMNIST_DATA=../shared/data .venv/bin/python -m nbmnist run build/02_first.ipynb \
        --output-dir build/full --timeout 36000
    .venv/bin/python tools/results_table.py build/full/02_first-runs

To continue after a stop, write the same notebook again with ``--skip-done
build/full/02_first-runs`` and run it with the same command plus ``--keep-runs`` (same name,
so the same run store; read the results from the store folder): cells whose run is completed
are left out,
a run left unfinished is trained again over its record (``--overwrite``), and a ``--grid``
cell resumes after its completed points by itself.

Lesson 02 on full data takes longer than a working session on a 2-core CPU. Every run is
saved to the run store as it completes, so running the cheapest models first gets the most
rows of docs/results.md from whatever time there is. The new notebook keeps the set-up cells
(``%load_ext``, plain assignments such as ``rate = 0.2``) and the ``%%mlp``/``%%cnn`` cells,
ordered by estimated cost: multiply-adds per example x epochs x grid points
(``Declaration.multiply_adds``); plots and tables are left out.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
from typing import Any

import nbformat

from nbmnist.declaration import parse_declaration
from nbmnist.runs import RunStore


def cost(source: str, namespace: dict[str, Any]) -> float:
    line, _, body = source.partition("\n")
    words = shlex.split(line)
    kind = words[0].removeprefix("%%")
    epochs, points = 10, 1
    for flag, value in itertools.pairwise(words):
        if flag == "--epochs":
            epochs = int(value)
        if flag == "--grid":
            name, _, values = value.partition("=")
            points *= len(values.split(","))
            namespace = {**namespace, name: float(values.split(",")[0])}
    declaration = parse_declaration(body, kind, namespace).with_head()  # type: ignore[arg-type]
    return declaration.multiply_adds() * epochs * points


def _assignment(source: str) -> bool:
    name, equals, _ = source.partition(" = ")
    return bool(equals) and "\n" not in source and name.isidentifier()


def run_name(source: str) -> str | None:
    """The NAME a ``%%mlp NAME`` / ``%%cnn NAME`` line gives, if any."""
    words = shlex.split(source.partition("\n")[0])
    return words[1] if len(words) > 1 and not words[1].startswith("-") else None


def main(source: str, target: str, skip_done: str | None = None) -> None:
    notebook = nbformat.read(source, as_version=4)
    setup, training, namespace = [], [], {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.startswith(("%%mlp", "%%cnn")):
            training.append(cell)
        elif _assignment(cell.source):  # e.g. rate = 0.2, for {rate} in a body
            setup.append(cell)
            exec(cell.source, {}, namespace)
        elif not training:  # install cell, %load_ext, %config
            setup.append(cell)
    if skip_done is not None:
        store, remaining = RunStore(skip_done), []
        for cell in training:
            name = run_name(cell.source)
            if name is None or "--grid" in cell.source or name not in store:
                remaining.append(cell)
            elif store.load(name).status != "completed":
                line, _, body = cell.source.partition("\n")
                cell.source = f"{line} --overwrite\n{body}"
                remaining.append(cell)
            else:
                print(f"done     {name}")
        training = remaining
    training.sort(key=lambda cell: cost(cell.source, namespace))
    for cell in training:
        print(f"{cost(cell.source, namespace):.3g}  {cell.source.splitlines()[0]}")
    notebook.cells = setup + training
    nbformat.write(notebook, target)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--skip-done", metavar="RUNS_DIR")
    args = parser.parse_args()
    main(args.source, args.target, args.skip_done)
