"""Sweeps: one model per point of a grid (or a random search) of ``{name}`` values, trained
in worker processes, resumable, one live table.

``%%cnn drop --grid rate=0.0,0.1,0.2`` with ``dropout {rate}`` in the body trains
``drop[rate=0.0]``, ``drop[rate=0.1]``, ``drop[rate=0.2]``: each run is named after the values
it actually used, so a label can never disagree with the code (seed 003 labelled runs
0.1 … 0.7 while training 0.01 … 0.07). ``--search random --trials N`` samples N points from
the grid or from ranges (``lr=1e-4..1e-2:log``).

The points train outside the notebook's kernel, on an executor (``nbmnist.sweeps.dispatch``):
local trainer processes (``nbmnist.sweeps.trainer``) by default, or a Dask cluster. The kernel
plans, dispatches, collects the runs into its store and draws the table
(``nbmnist.display.sweep_table``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

from nbmnist.data import data_shape, is_own_data, sample_expected
from nbmnist.declaration import Kind
from nbmnist.display import in_notebook
from nbmnist.display.sweep_table import SweepTable
from nbmnist.display.text import sample_note
from nbmnist.errors import DeclarationError, OptionError, TrainingInterrupted
from nbmnist.model import as_declaration, run_declaration
from nbmnist.options import fast_points, make_options
from nbmnist.plan import TrainingPlan, identity_changes
from nbmnist.runs import Run, RunStore, RunStoreError, point_name, record
from nbmnist.sweeps.dispatch import (
    DaskChannel,
    Dispatch,
    PointResult,
    PointTask,
    check_executor,
    dispatch,
    forwarded_env,
)
from nbmnist.sweeps.grid import SEARCHES, Grid, points, sample
from nbmnist.sweeps.trainer import run_point

#: Where a sweep's points train when no executor is given: ``"processes"`` (a local pool).
#: ``"kernel"`` trains them one after another in the notebook's kernel.
IN_KERNEL = "kernel"


def best_run(runs: list[Run]) -> Run | None:
    """The run with the highest best-epoch validation accuracy (None if none validated)."""
    scored = [(run.best_epoch("val_accuracy"), run) for run in runs]
    valid = [(best[1], run) for best, run in scored if best is not None and math.isfinite(best[1])]
    return max(valid, key=lambda pair: pair[0])[1] if valid else None


def _check_points(
    text: str,
    kind: Kind,
    grid_points: list[dict[str, str]],
    variables: Mapping[str, object] | None,
    line_names: Collection[str],
    options_at: Callable[[dict[str, str]], dict[str, Any]],
) -> tuple[dict[PointKey, dict[str, str]], dict[PointKey, dict[str, Any]]]:
    """Parse every point's declaration and options before anything trains. Returns, by
    point, its ``{name}`` values as text (what its body used) and the identity of what it
    would train (``TrainingPlan.identity``, the data predicted by ``sample_expected``).

    Raises:
        OptionError, DeclarationError: the first point that cannot train; a grid name used
            neither in the body nor in the magic line.
    """
    used_by: dict[PointKey, dict[str, str]] = {}
    identities: dict[PointKey, dict[str, Any]] = {}
    for point in grid_points:
        image_shape = data_shape(make_options(**options_at(point)).data)[0]
        declaration = as_declaration(text, kind, {**(variables or {}), **point}, image_shape)
        used = declaration.variables
        unused = [name for name in point if name not in used and name not in line_names]
        if unused:  # every point would train the same model under different names
            raise OptionError(
                f"--grid {unused[0]}: the cell body does not use {{{unused[0]}}}, so every "
                f"point would train the same model; write {{{unused[0]}}} where its value goes "
                f"(e.g. 'dropout {{{unused[0]}}}')"
            )
        opts = make_options(**options_at(point))
        key = _key(point)
        used_by[key] = dict(used)
        sample = sample_expected(opts.data, bool(opts.fast), opts.data_source)
        identities[key] = TrainingPlan.of(declaration, opts).identity(sample)
    return used_by, identities


PointKey = tuple[tuple[str, str], ...]


def _key(point: dict[str, str]) -> PointKey:
    return tuple(sorted(point.items()))


def _base_name(
    name: str,
    grid_points: list[dict[str, str]],
    identities: dict[PointKey, dict[str, Any]],
    store: RunStore,
) -> str:
    """The base name the cell's points are stored under: ``name``, unless a point stored
    under it trained something else (another body, plan, data or seed); then, as for a
    re-run single cell, the first of ``name_2``, ``name_3``... whose stored points (if any)
    all match. Says in one line what changed."""
    changes: list[str] = []
    for number in itertools.count(1):
        base = name if number == 1 else f"{name}_{number}"
        changed: list[str] = []
        for point in grid_points:
            run_name = point_name(base, point)
            if run_name not in store:
                continue
            try:
                stored = store.load(run_name)
            except RunStoreError:
                continue  # unreadable: trained again under this name
            stored_identity = stored.identity or _identity_of(stored)
            for change in identity_changes(stored_identity, identities[_key(point)]):
                if change not in changed:
                    changed.append(change)
        if not changed:
            if changes:
                print(
                    f"{name}: the cell changed since its stored points ({', '.join(changes)}); "
                    f"training {base}"
                )
            return base
        changes = changes or changed
    raise AssertionError("unreachable: the names are endless")


def _identity_of(run: Run) -> dict[str, Any]:
    """The identity of a run recorded before ``run.identity`` existed, from its record."""
    try:
        declaration = run_declaration(run)
        options = make_options(**run.options)
    except (OptionError, DeclarationError, TypeError):
        return {}
    return TrainingPlan.of(declaration, options).identity(run.uses_sample)


def sweep(
    text: str,
    kind: Kind,
    name: str,
    grid: Grid,
    *,
    variables: Mapping[str, object] | None = None,
    search: str = "grid",
    trials: int | None = None,
    executor: Any = None,
    workers: int | None = None,
    point_options: Callable[[dict[str, str]], dict[str, Any]] | None = None,
    line_names: Collection[str] = (),
    **options: Any,
) -> list[Run]:
    """Train one model per point; skip points already completed in the run store.

    Every point's declaration and options are checked before the first model trains. Each
    point trains in a trainer process, outside this one, on ``executor``
    (``nbmnist.sweeps.dispatch``); its run record and model come back to this process and are
    written to the run store. A live table shows
    each point's state; at the end the best run on validation accuracy (never on test) is
    reported.

    Args:
        text: the cell body, with ``{name}`` for each grid name.
        kind: ``"mlp"`` or ``"cnn"``.
        name: base name of the runs (``drop`` gives ``drop[rate=0.3]``).
        grid: name -> values as written (strings), or a ``Range`` (random search only);
            several names take the product.
        variables: other ``{name}`` values (the notebook's namespace); the grid's win.
        search: ``"grid"`` (every point) or ``"random"`` (``trials`` points, ``sample``,
            seeded by ``seed`` or 0: the same cell samples the same points, so it resumes).
        trials: points to sample with ``search="random"``.
        executor: where points train: None or ``"processes"`` (a local process pool of
            ``workers``), ``"dask://HOST:8786"`` or a ``distributed.Client`` (a Dask
            cluster), any ``concurrent.futures.Executor``, or ``"kernel"`` (one after
            another in this process, with the live dashboard).
        workers: processes of the local pool; None: one per GPU, else one per 4 CPU cores.
        point_options: a point's own options (e.g. ``{"learning_rate": float(p["lr"])}``),
            over ``options``.
        line_names: grid names the magic line uses (``--learning-rate {lr}``).
        **options: training options for every run, as ``train`` takes them.

    Returns:
        The runs in point order, trained now or loaded from the store (a point that failed
        before its first record, or was cancelled, has none).

    Raises:
        OptionError, DeclarationError: before anything trains (a grid name used nowhere is
            an OptionError).
        TrainingInterrupted: a ``KeyboardInterrupt``, after Ctrl-C has cancelled the queued
            points and the running ones have stopped after their current group of batches
            and been stored; its ``result`` holds the runs so far, in point order (completed
            runs stay; running the sweep again resumes after them).
    """
    if search not in SEARCHES:
        raise OptionError(f"--search must be one of {', '.join(SEARCHES)}, got {search!r}")
    if (trials is None) != (search == "grid"):
        raise OptionError(
            "--search random needs --trials N"
            if trials is None
            else "--trials samples points: use it with --search random"
        )
    opts = make_options(**options)
    if is_own_data(opts.data) and executor != IN_KERNEL:
        if executor is not None:
            raise OptionError(
                f"--data {opts.data}: your own data lives in this kernel only, so its sweep "
                f"trains here: use --executor {IN_KERNEL}"
            )
        executor = IN_KERNEL
    if executor != IN_KERNEL:
        check_executor(executor, workers)

    def options_at(point: dict[str, str]) -> dict[str, Any]:
        return {**options, **(point_options(point) if point_options else {})}

    if search == "random":
        assert trials is not None
        grid_points = sample(grid, trials, opts.seed or 0)
    else:
        grid_points = points(grid)
    used_by, identities = _check_points(text, kind, grid_points, variables, line_names, options_at)
    if opts.fast and len(fast_points(len(grid_points))) < len(grid_points):
        keep = fast_points(len(grid_points))
        print(f"fast mode: training {len(keep)} of the {len(grid_points)} points")
        grid_points = [grid_points[i] for i in keep]
    store = RunStore.default(opts.runs_dir)
    store.check()
    if not opts.overwrite:
        name = _base_name(name, grid_points, identities, store)
    names = [point_name(name, point) for point in grid_points]
    kept: dict[str, Run] = {}
    for run_name in names:
        if opts.overwrite or run_name not in store:
            continue
        try:
            previous = store.load(run_name)
        except RunStoreError:
            continue
        if previous.status == "completed":
            print(f"{run_name}: already completed in {store.root}; skipped (resume)")
            kept[run_name] = previous
            record(previous)
    todo = [
        (run_name, point)
        for run_name, point in zip(names, grid_points, strict=True)
        if run_name not in kept
    ]
    trained: dict[str, Run] = {}
    stopped = False
    try:
        if executor == IN_KERNEL:
            _in_kernel(text, kind, todo, variables, options_at, len(grid_points), trained)
        else:
            _on_executor(
                name,
                names,
                kept,
                todo,
                store,
                executor,
                workers,
                lambda run_name, point: PointTask(
                    run_name,
                    text,
                    kind,
                    used_by[_key(point)],
                    options_at(point),
                    len(grid_points),
                ),
                trained,
            )
    except KeyboardInterrupt:
        stopped = True  # the runs so far are reported, then the cell stops
    done = [run for run_name in names if (run := kept.get(run_name) or trained.get(run_name))]
    _report(name, len(names), done, search)
    if stopped:
        raise TrainingInterrupted(done)
    return done


def _report(name: str, count: int, done: list[Run], search: str) -> None:
    """The sweep's summary table and its best point on validation accuracy."""
    from IPython.display import display

    from nbmnist.tables import summary_table

    title = f"{name}: {len(done)} of {count} done"
    table = summary_table(
        done, title=title, sort_by="best val accuracy" if search == "random" else None
    )
    display(table)
    best = best_run(done)
    if best is not None:
        value = best.best_epoch("val_accuracy")
        assert value is not None  # best_run only returns runs with a validation accuracy
        print(f"best on validation accuracy: {best.name} ({value[1]:.4f} at epoch {value[0]})")


def _in_kernel(
    text: str,
    kind: Kind,
    todo: list[tuple[str, dict[str, str]]],
    variables: Mapping[str, object] | None,
    options_at: Callable[[dict[str, str]], dict[str, Any]],
    models_in_cell: int,
    trained: dict[str, Run],
) -> None:
    """``executor="kernel"``: train the points one after another here, each with the live
    dashboard, releasing each model after it (``backend.release_memory``); each run is put
    in ``trained`` as it ends (an interrupted one too)."""
    from nbmnist.backend import release_memory
    from nbmnist.training import train

    for index, (run_name, point) in enumerate(todo):
        try:
            run = train(
                text,
                kind,
                run_name,
                variables={**(variables or {}), **point},
                show_summary=index == 0,
                models_in_cell=models_in_cell,
                **{**options_at(point), "overwrite": True},  # replace an unfinished attempt
            )
        except TrainingInterrupted as stop:
            trained[run_name] = stop.result
            raise
        trained[run_name] = run
        run.model = None  # saved as model.keras; loaded again on first use
        release_memory()


def _on_executor(
    name: str,
    names: list[str],
    kept: dict[str, Run],
    todo: list[tuple[str, dict[str, str]]],
    store: RunStore,
    executor: Any,
    workers: int | None,
    task_of: Callable[[str, dict[str, str]], PointTask],
    trained: dict[str, Run],
) -> None:
    """Train ``todo`` on the executor, collecting each point's run into ``store`` and
    ``trained`` as it ends; Ctrl-C stops them (see ``sweep``)."""
    if not todo:
        return
    where: Dispatch = dispatch(executor, workers)
    env = forwarded_env(local=not isinstance(where.channel, DaskChannel))
    table = SweepTable(name, names, where.where, live=in_notebook())
    for run_name, previous in kept.items():
        table.kept(run_name, previous)
    print(f"{name}: {len(todo)} of {len(names)} points to train on {where.where}")
    futures: dict[concurrent.futures.Future[PointResult], str] = {}
    try:
        for run_name, point in todo:
            task = dataclasses.replace(task_of(run_name, point), env=env)
            futures[where.executor.submit(run_point, task, where.channel)] = run_name
        pending = set(futures)
        try:
            pending = _collect(pending, futures, where, store, table, trained)
        except KeyboardInterrupt:
            where.channel.stop()
            for run_name, event in where.channel.events():
                table.event(run_name, event)
            # only points that have not started: Dask would also "cancel" a running one by
            # dropping its result, where it should stop after an epoch and come home
            cancelled = sum(
                future.cancel() for future in pending if table.states[futures[future]] == "queued"
            )
            running = len(pending) - cancelled
            print(
                f"\nCtrl-C: {cancelled} queued points cancelled; waiting for {running} running "
                "to stop after their current group of batches (Ctrl-C again: stop waiting)"
            )
            for future in pending:
                if future.cancelled():
                    table.point_done(futures[future], "cancelled", None)
            _collect(
                {f for f in pending if not f.cancelled()}, futures, where, store, table, trained
            )
            raise
    finally:
        where.close()


def _collect(
    pending: set[concurrent.futures.Future[PointResult]],
    futures: dict[concurrent.futures.Future[PointResult], str],
    where: Dispatch,
    store: RunStore,
    table: SweepTable,
    trained: dict[str, Run],
) -> set[concurrent.futures.Future[PointResult]]:
    """Wait for ``pending``, drawing progress events, storing each point's run as it comes
    home. Returns what is still pending (nothing, unless interrupted)."""
    while pending:
        finished, pending = concurrent.futures.wait(
            pending, timeout=0.25, return_when=concurrent.futures.FIRST_COMPLETED
        )
        for run_name, event in where.channel.events():
            table.event(run_name, event)
        for future in finished:
            run_name = futures[future]
            try:
                result = future.result()
            except concurrent.futures.CancelledError:
                table.point_done(run_name, "cancelled", None)
                continue
            except Exception as err:  # the executor lost the point (e.g. Dask's KilledWorker)
                table.point_done(run_name, "failed", None, f"{type(err).__name__}: {err}")
                continue
            run = store.receive(run_name, result.files)
            if run is not None:
                if run.uses_sample and not any(r.uses_sample for r in trained.values()):
                    print(sample_note(run.data_source))  # as a cell training it would say
                record(run)
                trained[run_name] = run
            table.point_done(run_name, result.state, run, result.reason)
    return pending
