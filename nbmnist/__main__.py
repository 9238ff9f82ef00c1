"""``python -m nbmnist run NOTEBOOK [--fast] [--output-dir build] [-p NAME VALUE]``: execute a
notebook headless (``-p``: papermill's parameters, into the cell tagged ``parameters``).
``python -m nbmnist class SUBMISSIONS_DIR [--reference RUNS]``: a class view of submissions.

Writes the executed notebook, its HTML export (nbconvert) and a JSON of all its runs'
metrics to the output folder. Used by ``make demo`` and by graders; needs the ``notebook``
extra (nbclient, nbconvert, ipykernel).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from nbmnist.errors import NotebookStopped

#: What stops a headless run: Ctrl-C in the terminal, and SIGTERM (``timeout``, a grader's or
#: a batch system's time limit).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds the kernel has to end its cell after the interrupt before it is shut down.
STOP_GRACE_S = 15.0


def kernel_manager(asynchronous: bool = False) -> Any:
    """A Jupyter kernel manager whose kernel runs this Python interpreter (the one nbmnist is
    installed in), whatever other "python3" kernel the machine has registered.

    ``asynchronous``: an ``AsyncKernelManager``, as nbclient needs (its clients wait for the
    kernel without blocking the event loop; with a blocking client, nbclient's loop stopped
    in a read while a cell printed nothing, and neither its cell timeout nor a signal was
    handled until the kernel spoke again); else a ``KernelManager`` with blocking calls.
    """
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    manager = (AsyncKernelManager if asynchronous else KernelManager)(kernel_name="python3")
    spec = manager.kernel_spec
    if spec is None:
        raise RuntimeError(
            "no python3 kernel spec: install ipykernel (pip install nbmnist[notebook])"
        )
    spec.argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return manager


def kernel_environment(fast: bool = False) -> dict[str, str]:
    """The kernel's environment: ours, with NBMNIST_FAST=1 for ``fast``, and the folders in
    NBMNIST_DATA and NBMNIST_RUNS made absolute (the kernel runs in the notebook's folder,
    so ``NBMNIST_DATA=../shared/data`` typed in the repository would point elsewhere)."""
    env = dict(os.environ)
    if fast:
        env["NBMNIST_FAST"] = "1"
    for name in ("NBMNIST_DATA", "NBMNIST_RUNS"):
        if env.get(name):
            env[name] = str(Path(env[name]).expanduser().resolve())
    return env


def notebook_client(notebook: Any, manager: Any, **options: Any) -> Any:
    """An ``nbclient.NotebookClient`` for ``notebook`` on ``manager``'s kernel that stops as a
    notebook user would on Ctrl-C or SIGTERM.

    nbclient's own handling of those signals shuts the kernel down in the middle of the cell,
    so the running training is recorded as ``killed`` and execution fails with
    ``AssertionError: assert self.kc is not None``. Here the first signal interrupts the
    kernel (the running cell ends as with the stop button) and no later cell runs; if the cell
    has not ended ``STOP_GRACE_S`` seconds later, or on a second signal, the kernel is shut
    down. ``options`` go to ``NotebookClient``. ``execute()`` then raises: the cell's error,
    ``nbclient.exceptions.DeadKernelError`` or ``NotebookStopped``; ``stopped_by`` says it was
    a stop, and ``stopped()`` gives the ``NotebookStopped`` that says where.
    """
    from nbclient import NotebookClient
    from nbclient.util import ensure_async

    class Client(NotebookClient):  # type: ignore[misc]
        stopped_by: int | None = None  # the signal
        running: int | None = None  # index of the cell running (after a stop: interrupted)
        _stopping: asyncio.Task[None] | None = None

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            # nbclient has just set its handlers (it removes whichever are set when done);
            # ours from here, so that a signal while the kernel starts is handled too
            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                with contextlib.suppress(RuntimeError, NotImplementedError):  # not main thread
                    loop.add_signal_handler(signum, self._stop, signum)
            await super().async_start_new_kernel(**kwargs)

        @contextlib.asynccontextmanager
        async def async_setup_kernel(self, **kwargs: Any) -> AsyncIterator[None]:
            async with super().async_setup_kernel(**kwargs):
                try:
                    yield
                finally:
                    if self._stopping is not None:
                        self._stopping.cancel()

        async def async_execute_cell(
            self, cell: Any, cell_index: int, *args: Any, **kwargs: Any
        ) -> Any:
            if self.stopped_by is not None:
                raise self.stopped()
            self.running = cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

        def _stop(self, signum: int) -> None:
            if self._stopping is not None:  # a second signal: no more waiting
                self._stopping.cancel()
                self._stopping = asyncio.ensure_future(self._shut_down())
                return
            self.stopped_by = signum
            self._stopping = asyncio.ensure_future(self._interrupt_then_shut_down())

        def stopped(self) -> NotebookStopped:
            assert self.stopped_by is not None
            cell = self.running
            first = self.nb.cells[cell].source.split("\n", 1)[0] if cell is not None else ""
            return NotebookStopped(self.stopped_by, cell, first)

        async def _interrupt_then_shut_down(self) -> None:
            if self.km is not None:
                with contextlib.suppress(RuntimeError):  # no kernel running (yet)
                    await ensure_async(self.km.interrupt_kernel())
            await asyncio.sleep(STOP_GRACE_S)
            await self._shut_down()

        async def _shut_down(self) -> None:
            if self.km is not None and await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.shutdown_kernel(now=True))

    return Client(notebook, km=manager, **options)


def parameter_value(text: str) -> Any:
    """A ``-p`` value as papermill's command line reads one: ``True``, ``False``, ``None``, an
    int or a float as such, anything else the text."""
    literals = {"True": True, "False": False, "None": None}
    if text in literals:
        return literals[text]
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def parameterized(notebook: Any, parameters: dict[str, Any], name: str) -> Any:
    """``notebook`` with ``parameters`` set after its cell tagged ``parameters``, as papermill
    does (``papermill.parameterize.parameterize_notebook``: an ``injected-parameters`` cell).

    Raises:
        ParameterError: no cell is tagged ``parameters``, or a name is not a Python name
            (one line, before any cell runs).
    """
    from nbmnist.errors import ParameterError

    tagged = any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)
    if not tagged:
        raise ParameterError(
            f"{name} has no cell tagged 'parameters' for -p to set; tag the cell that sets "
            "the defaults (JupyterLab: the property inspector's cell tags)"
        )
    bad = [key for key in parameters if not key.isidentifier()]
    if bad:
        raise ParameterError(f"-p {bad[0]}: a parameter is a Python name, e.g. -p epochs 2")
    from papermill.parameterize import parameterize_notebook

    notebook.metadata.setdefault("papermill", {})  # where it records them, as papermill does
    return parameterize_notebook(notebook, parameters, kernel_name="python3", language="python")


def execute_notebook(
    path: Path,
    output_dir: Path,
    fast: bool = False,
    timeout: int = 1800,
    allow_errors: bool = False,
    keep_runs: bool = False,
    parameters: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Execute ``path`` top to bottom in a fresh kernel of this Python interpreter.

    Args:
        path: the ``.ipynb`` to run; it runs with its own folder as working directory.
        output_dir: where the executed ``.ipynb`` and ``.html`` go (created if missing), and,
            unless ``NBMNIST_RUNS`` is set, the run store ``<notebook name>-runs``: a new one
            each time; a previous one is moved aside to ``<notebook name>-runs.<time>``
            (never deleted: it holds trained models).
        fast: set ``NBMNIST_FAST=1`` for the kernel (bundled sample, at most 2 epochs).
        timeout: seconds one cell may take before the run fails.
        allow_errors: run every cell even after one fails (as a grader runs a student's
            notebook); the errors stay in the executed copy.
        keep_runs: go on in the existing ``<notebook name>-runs`` instead (e.g. after a
            stopped full-data run: sweeps resume, a name already taken gets ``_2``).
        parameters: values for the notebook's variables, set after its cell tagged
            ``parameters`` as papermill sets them (``parameterized``).

    Returns:
        Paths of the executed notebook and of its HTML export. Beside them,
        ``<name>.runs.json`` holds the record of every run the notebook made.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; the partly executed notebook
            is still written, so the error can be read in it.
        NotebookStopped: Ctrl-C or SIGTERM stopped the execution (see ``notebook_client``);
            the executed part is written as above.
        ParameterError: ``parameters`` for a notebook without a ``parameters`` cell.
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    if parameters:
        notebook = parameterized(notebook, parameters, path.name)
    env = kernel_environment(fast)
    from nbmnist.runs import DEFAULT_STORE, RunStore, now

    started = now()
    if "NBMNIST_RUNS" not in os.environ:
        # Runs go beside the executed copy, fresh each time like it, so a second run of the
        # notebook does not find the first one's names taken; the old ones are kept aside.
        runs = output_dir / f"{path.stem}-runs"
        if not keep_runs and runs.is_dir() and any(runs.iterdir()):
            stamp = started.replace(":", "")[:17]
            aside = runs.with_name(f"{runs.name}.{stamp}")
            for count in range(2, 1000):
                if not aside.exists():
                    break
                aside = runs.with_name(f"{runs.name}.{stamp}-{count}")
            runs.rename(aside)
            print(f"nbmnist: the previous runs of {path.name} are now in {aside}")
        env["NBMNIST_RUNS"] = str(runs.resolve())
    client = notebook_client(
        notebook,
        kernel_manager(asynchronous=True),
        timeout=timeout,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / path.name
    html = executed.with_suffix(".html")
    try:
        client.execute(env=env, cleanup_kc=True)  # the kernel is shut down at the end
    except Exception as error:
        if client.stopped_by is None:
            raise
        raise client.stopped() from error
    finally:
        nbformat.write(notebook, executed)
        body, _ = HTMLExporter().from_notebook_node(notebook)
        html.write_text(body, encoding="utf-8")
        # Every run this execution made, as recorded (metrics, history, status; no models).
        store = RunStore(env.get("NBMNIST_RUNS", DEFAULT_STORE))
        if not store.root.is_absolute():
            store = RunStore(path.parent / store.root)
        records = [run.to_record() for run in store if run.created >= started]
        runs_json = executed.with_suffix(".runs.json")
        runs_json.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return executed, html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbmnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a notebook headless")
    run.add_argument("notebook", type=Path)
    run.add_argument("--fast", action="store_true", help="bundled sample, at most 2 epochs")
    run.add_argument("--output-dir", type=Path, default=Path("build"))
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    run.add_argument(
        "--allow-errors", action="store_true", help="keep going after a failing cell (grading)"
    )
    run.add_argument(
        "--keep-runs",
        action="store_true",
        help="add to the existing <notebook>-runs store (default: move it aside, start anew)",
    )
    run.add_argument(
        "-p",
        "--parameters",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="set a variable of the cell tagged 'parameters', as papermill does (repeatable)",
    )
    view = commands.add_parser(
        "class", help="one HTML report and a CSV of every student's runs (nbmnist.classview)"
    )
    view.add_argument("submissions", type=Path, help="one folder per student")
    view.add_argument(
        "--reference",
        type=Path,
        help="the solution's runs (a .runs.json or a run store): architectures are checked "
        "against the runs of the same name",
    )
    view.add_argument("--output-dir", type=Path, default=Path("build/class"))
    args = parser.parse_args(argv)
    if args.command == "class":
        from nbmnist.classview import reference_runs, write_report

        if not args.submissions.is_dir():
            parser.error(f"{args.submissions}: no such folder")
        report, table = write_report(
            args.submissions, args.output_dir, reference_runs(args.reference)
        )
        print(f"report: {report}\ncsv:    {table}")
        return 0
    if not args.notebook.is_file():
        parser.error(f"{args.notebook}: no such notebook")
    from nbmnist.errors import ParameterError

    parameters = {name: parameter_value(value) for name, value in args.parameters}
    try:
        executed, html = execute_notebook(
            args.notebook, args.output_dir, args.fast, args.timeout, args.allow_errors,
            args.keep_runs, parameters,
        )  # fmt: skip
    except ParameterError as error:  # before any cell ran
        parser.error(str(error))
    except NotebookStopped as stop:
        executed = args.output_dir / args.notebook.name
        print(results_summary(executed.with_suffix(".runs.json")))
        print(
            f"nbmnist: {stop}. The executed part is in {executed} (and .html, .runs.json); "
            "run again with --keep-runs to go on in the same run store.",
            file=sys.stderr,
        )
        return 128 + stop.signum  # as a shell reports a command a signal ended
    print(f"executed: {executed}\nhtml:     {html}\nruns:     {executed.with_suffix('.runs.json')}")
    print(results_summary(executed.with_suffix(".runs.json")))
    return 0


def results_summary(runs_json: Path) -> str:
    """A short table of what an executed notebook trained (from its ``.runs.json``), with a
    note when any run trained on the bundled sample rather than the full data."""
    from nbmnist.runs import Run
    from nbmnist.tables import summary_table

    records = json.loads(runs_json.read_text(encoding="utf-8"))
    runs = [Run.from_record(record, runs_json.parent) for record in records]
    if not runs:
        return "no runs were trained"
    columns = ["name", "architecture", "epochs", "data", "test accuracy", "status"]
    text = str(summary_table(runs, columns=columns, title=f"{len(runs)} runs"))
    sample = [run for run in runs if run.uses_sample]
    if sample:
        text += (
            f"\nNOTE: {len(sample)} of {len(runs)} runs trained on the bundled sample "
            f"({sample[0].data_source}); their scores are not comparable to full-data ones. "
            "Set NBMNIST_DATA to a folder with the official files for the full data."
        )
    return text


if __name__ == "__main__":
    sys.exit(main())
