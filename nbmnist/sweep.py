"""Sweeps: one model per point of a grid of ``{name}`` values, resumable, one live table.

``%%cnn drop --grid rate=0.0,0.1,0.2`` with ``dropout {rate}`` in the body trains
``drop[rate=0.0]``, ``drop[rate=0.1]``, ``drop[rate=0.2]``: each run is named after the values
it actually used, so a label can never disagree with the code (seed 003 labelled runs
0.1 … 0.7 while training 0.01 … 0.07).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from nbmnist.declaration import Kind
from nbmnist.errors import OptionError
from nbmnist.model import as_declaration
from nbmnist.options import fast_points, make_options
from nbmnist.runs import Run, RunStore, point_name, record
from nbmnist.training import train


def parse_grid(specs: list[str]) -> dict[str, list[str]]:
    """``["rate=0.0,0.1", "units=32,64"]`` -> ``{"rate": ["0.0", "0.1"], "units": [...]}``.

    Raises:
        OptionError: a spec is not ``NAME=V1,V2,...`` with a Python name and no empty value,
            or a name is given twice.
    """
    grid: dict[str, list[str]] = {}
    for spec in specs:
        name, eq, values = spec.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise OptionError(f"--grid {spec!r}: write NAME=V1,V2,... e.g. rate=0.0,0.1,0.2")
        items = [value.strip() for value in values.split(",")]
        if not items or any(not item for item in items):
            raise OptionError(f"--grid {spec!r}: a value is empty; write rate=0.0,0.1,0.2")
        if name in grid:
            raise OptionError(f"--grid names {name!r} twice; give all its values at once")
        grid[name] = items
    if not grid:
        raise OptionError("--grid needs at least one NAME=V1,V2,...")
    return grid


def points(grid: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of the grid's values (the product), in order."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def sweep(
    text: str,
    kind: Kind,
    name: str,
    grid: Mapping[str, list[str]],
    *,
    variables: Mapping[str, object] | None = None,
    **options: Any,
) -> list[Run]:
    """Train one model per grid point; skip points already completed in the run store.

    Every point's declaration is checked before the first model trains. After each run the
    results table (shown once, updated in place) says ``k of N done``; at the end the best
    run on validation accuracy is reported. Between runs the previous model is released
    (``backend.release_memory``; the run keeps its saved ``model.keras``).

    Args:
        text: the cell body, with ``{name}`` for each grid name.
        kind: ``"mlp"`` or ``"cnn"``.
        name: base name of the runs (``drop`` gives ``drop[rate=0.3]``).
        grid: name -> values as written (strings); several names take the product.
        variables: other ``{name}`` values (the notebook's namespace); the grid's win.
        **options: training options for every run, as ``train`` takes them.

    Returns:
        The runs in grid order, trained now or loaded from the store.

    Raises:
        OptionError, DeclarationError: before anything trains (a grid name the body does
            not use is an OptionError).
        KeyboardInterrupt: re-raised after recording the run in progress (completed runs stay;
            running the sweep again resumes after them).
    """
    from IPython.display import display

    from nbmnist.backend import release_memory
    from nbmnist.tables import summary_table

    opts = make_options(**options)
    grid_points = points(grid)
    for point in grid_points:  # every point must parse before anything trains
        used = as_declaration(text, kind, {**(variables or {}), **point}).variables
        unused = [name for name in point if name not in used]
        if unused:  # every point would train the same model under different names
            raise OptionError(
                f"--grid {unused[0]}: the cell body does not use {{{unused[0]}}}, so every "
                f"point would train the same model; write {{{unused[0]}}} where its value goes "
                f"(e.g. 'dropout {{{unused[0]}}}')"
            )
    if opts.fast and len(fast_points(len(grid_points))) < len(grid_points):
        keep = fast_points(len(grid_points))
        print(f"fast mode: training {len(keep)} of the {len(grid_points)} grid points")
        grid_points = [grid_points[i] for i in keep]
    store = RunStore.default(opts.runs_dir)
    done: list[Run] = []
    handle = None
    for index, point in enumerate(grid_points, 1):
        run_name = point_name(name, point)
        previous = store.load(run_name) if run_name in store else None
        if previous is not None and previous.status == "completed" and not opts.overwrite:
            print(f"{run_name}: already completed in {store.root}; skipped (resume)")
            run = previous
            record(run)
        else:
            run = train(
                text,
                kind,
                run_name,
                variables={**(variables or {}), **point},
                show_summary=index == 1,
                models_in_cell=len(grid_points),  # fast mode shares its budget among them
                **{**options, "overwrite": True},  # replace an unfinished attempt
            )
        done.append(run)
        run.model = None  # saved as model.keras; loaded again on first use
        release_memory()
        table = summary_table(done, title=f"{name}: {index} of {len(grid_points)} done")
        if handle is None:
            handle = display(table, display_id=True)
        else:
            handle.update(table)
    best = best_run(done)
    if best is not None:
        value = best.best_epoch("val_accuracy")
        assert value is not None  # best_run only returns runs with a validation accuracy
        print(f"best on validation accuracy: {best.name} ({value[1]:.4f} at epoch {value[0]})")
    return done


def best_run(runs: list[Run]) -> Run | None:
    """The run with the highest best-epoch validation accuracy (None if none validated)."""
    scored = [(run.best_epoch("val_accuracy"), run) for run in runs]
    valid = [(best[1], run) for best, run in scored if best is not None and math.isfinite(best[1])]
    return max(valid, key=lambda pair: pair[0])[1] if valid else None
