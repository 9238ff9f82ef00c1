"""The lesson notebooks run headless, top to bottom, in fast mode (as CI and graders run them),
and their model cells are the seed notebooks' models."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import psutil
import pytest

from nbmnist import parse_declaration, train
from nbmnist.__main__ import execute_notebook, main
from nbmnist.runs import RunStore
from tests.conftest import REPO, headless, outputs
from tests.seed_models import SEED_MODELS, SWEEP_RATE

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAGIC = re.compile(r"%%(mlp|cnn) (\w+)(.*)")


#: How each lesson runs here, once: under the CLI (``python -m nbmnist run``: it writes the
#: HTML and the runs' JSON too) or under an outside runner, as a class's grader or CI runs it
#: (what a runner exercises, its kernel, working folder and output, does not depend on the
#: lesson: tests/test_runners.py runs a teacher's notebook under all three).
RUNNERS = {
    "01_mlp_mnist.ipynb": "nbmnist",
    "02_cnn_mnist.ipynb": "papermill",
    "03_fashion_mnist_regularization.ipynb": "nbconvert",
}


# each lesson's tests share one execution: under pytest-xdist (make test) they run in one
# worker, and the lessons in different workers (tests/conftest.py groups them)
@pytest.fixture(scope="module", params=[p.name for p in NOTEBOOKS])
def executed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The lesson executed in fast mode: the notebook, its HTML (the CLI's only, else None)
    and the records of its runs."""
    if request.config.getoption("dist", "no") == "loadgroup":  # make test: one worker a lesson
        assert "@lesson-" in request.node.nodeid, (
            "pytest-xdist did not group this lesson's tests, so each of its workers would run "
            "the lesson again: pytest>=9.2 breaks --dist loadgroup (pytest-xdist #1386); "
            "install pyproject.toml's pytest<9.2"
        )
    out = tmp_path_factory.mktemp("build")
    lesson = REPO / "notebooks" / request.param
    runner = RUNNERS[request.param]
    if runner == "nbmnist":
        notebook_path, html = execute_notebook(lesson, out, fast=True, timeout=300)
        runs = json.loads(notebook_path.with_suffix(".runs.json").read_text())
        return nbformat.read(notebook_path, as_version=4), html, runs
    notebook_path = out / request.param
    if runner == "nbconvert":
        command = ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output",
                   str(notebook_path), str(lesson)]  # fmt: skip
    else:
        command = ["papermill", str(lesson), str(notebook_path), "-k", "python3", "--cwd", str(out)]
    headless(command, out, NBMNIST_FAST="1", NBMNIST_RUNS=str(out / "runs"))
    outputs(notebook_path)  # no cell raised
    runs = [run.to_record() for run in RunStore(out / "runs")]
    return nbformat.read(notebook_path, as_version=4), None, runs


def stream_text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def training_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in notebook.cells if c.cell_type == "code" and MAGIC.match(c.source)]


def test_every_model_cell_trains_and_shows_static_curves(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _, _ = executed
    assert training_cells(notebook)
    for number, cell in enumerate(training_cells(notebook)):
        name = MAGIC.match(cell.source)[2]  # type: ignore[index]
        text = stream_text(cell)
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        # why it is the sample: said in the first training cell, referred to after; own data
        # smaller than fast mode's cut trains whole, and says whose it is
        said = "fast mode (NBMNIST_FAST)" if number == 0 else "bundled sample (see above)"
        if "--data footwear" in cell.source:
            said = f"{name}: cnn, "
            assert "footwear" in text.splitlines()[0] and "NOTE" not in text, cell.source
        assert said in text, cell.source
        kinds = {kind for o in cell.outputs for kind in o.get("data", {})}
        assert "image/png" in kinds  # the curves, readable without a kernel
        if "--grid" in cell.source:  # points train in workers: the live table of their states
            assert "text/html" in kinds and "completed" in str(cell.outputs)
        else:
            assert "application/vnd.jupyter.widget-view+json" in kinds  # the live dashboard
            assert f"{name}: test_loss" in text, cell.source
        stderr = "".join(o.text for o in cell.outputs if o.get("name") == "stderr")
        assert "I0000" not in stderr and "E0000" not in stderr  # TensorFlow's C++ chatter
        assert len(text.splitlines()) < 100


def test_closes_with_violins_table_and_generated_conclusions(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, html, runs = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    violins = next(c for c in code if "plot_weight_violins" in c.source)
    png = base64.b64decode(violins.outputs[0]["data"]["image/png"])
    assert png[:4] == b"\x89PNG" and len(violins.outputs) == 1  # shown exactly once
    table = next(c for c in code if "summary_table" in c.source)
    table_html = table.outputs[0]["data"]["text/html"]
    names = [MAGIC.match(c.source)[2] for c in training_cells(notebook) if "--grid" not in c.source]  # type: ignore[index]
    for name in names:
        assert f"<td>{name}</td>" in table_html
    conclusions = stream_text(code[-1])
    assert conclusions.startswith("Best:  ") and "test accuracy" in conclusions
    assert html is None or html.is_file()
    # the runs' records (the CLI's JSON of them, or the run store an outside runner left)
    assert {run["name"] for run in runs} >= set(names)
    assert all(run["status"] == "completed" for run in runs)
    # the kernel trained on this process's backend (make test: TensorFlow, then JAX)
    import keras

    assert {run["execution"]["backend"] for run in runs} == {keras.backend.backend()}


def test_every_notebook_opens_with_colab_binder_and_an_install_cell() -> None:
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert (
            f"colab.research.google.com/github/nbmnist/nbmnist/blob/main/notebooks/{path.name}"
            in cells[0].source
        )
        assert "mybinder.org" in cells[0].source
        assert (
            'find_spec("nbmnist") is None' in cells[1].source and "%pip install" in cells[1].source
        )
        assert cells[2].source == "%load_ext nbmnist"


# Seed models the lessons leave out, and why.
NOT_IN_LESSONS = {
    "500-400-300-300-200-50 as coded": "the lesson trains what seed 001 printed and ran",
    "mdl_2: mdl_1 with dropout 0.0": "the sweep's rate=0.0 point is the same network",
    "mdl_4: 7 conv, dropout 0.0, BN": "mdl_5 with {rate}; dropout 0 is the identity",
    "dropout sweep on mdl_4 (rate = i*0.01, here i=3)": "one sweep shows the idea",
}


def test_the_lessons_declare_the_seed_models() -> None:
    declared: set[tuple[str, str]] = set()
    for path in NOTEBOOKS:
        for cell in training_cells(nbformat.read(path, as_version=4)):
            kind, _, line = MAGIC.match(cell.source).groups()  # type: ignore[union-attr]
            body = cell.source.split("\n", 1)[1]
            grid = re.search(r"--grid (\w+)=([\w.,]+)", line)
            values = grid[2].split(",") if grid else [None]
            for value in values:
                variables = {"rate": value if value is not None else 0.2}
                declaration = parse_declaration(body, kind, variables).with_head(10)  # type: ignore[arg-type]
                declared.add((kind, declaration.describe()))
    for model in SEED_MODELS:
        variables = {"rate": SWEEP_RATE if "sweep" in model.label else 0.2}
        seed = parse_declaration(model.declaration, model.kind, variables).with_head(10)  # type: ignore[arg-type]
        if model.label in NOT_IN_LESSONS:
            continue
        if "sweep on mdl_1" in model.label:  # the lesson's grid covers rates 0.0-0.7, not i*0.01
            seed = parse_declaration(model.declaration, model.kind, {"rate": "0.3"}).with_head(10)  # type: ignore[arg-type]
        assert (model.kind, seed.describe()) in declared, f"{model.seed}: {model.label}"


def test_cli_rejects_a_missing_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "no-such.ipynb"])
    assert "no such notebook" in capsys.readouterr().err


def tiny_notebook(tmp_path: Path, *cells: str, first: str = "%load_ext nbmnist") -> Path:
    """``tmp_path/tiny.ipynb``: ``first`` (``%load_ext nbmnist``) and then ``cells``."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in (first, *cells)],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    source = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, source)
    return source


def test_cli_writes_the_executed_copy_html_and_runs_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tiny_notebook(tmp_path, "%%mlp tiny --epochs 1\ndense 8")
    assert main(["run", str(source), "--fast", "--output-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out  # the terminal ends with what trained, and on what
    assert "1 runs" in out and "| tiny " in out and "MNIST (sample)" in out
    assert "NOTE: 1 of 1 runs trained on the bundled sample" in out
    (run,) = json.loads((tmp_path / "out" / "tiny.runs.json").read_text())
    assert (
        run["name"] == "tiny"
        and 0 <= run["test_accuracy"] <= 1
        and len(run["history"]["loss"]) == 1
    )


def test_cli_keeps_the_previous_run_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second execution starts a new store and moves the old one aside, or adds to it."""
    monkeypatch.delenv("NBMNIST_RUNS")  # conftest's; the CLI's own <notebook>-runs is tested
    source = tiny_notebook(tmp_path, "%%mlp tiny --epochs 1 --train-size 200\ndense 8")
    out = tmp_path / "out"
    # the store a first execution leaves, made here rather than by starting another kernel
    train("dense 8", "mlp", "tiny", epochs=1, fast=True, runs_dir=out / "tiny-runs")
    for keep in (False, True):
        execute_notebook(source, out, fast=True, keep_runs=keep)
    store = out / "tiny-runs"
    assert sorted(p.name for p in store.iterdir()) == ["tiny", "tiny_2"]  # kept, added to
    (aside,) = [p for p in out.iterdir() if p.name.startswith("tiny-runs.")]
    assert (aside / "tiny" / "run.json").is_file()  # the first execution's run survives
    (run,) = json.loads((out / "tiny.runs.json").read_text())
    assert run["name"] == "tiny_2"  # runs.json: this execution's runs only


def signalled_runner(
    source: Path,
    out: Path,
    env: dict[str, str],
    ready: Callable[[subprocess.Popen[str]], bool],
    signals: list[signal.Signals],
    options: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], str, str]:
    """``python -m nbmnist run source --output-dir out`` with ``env`` added, sent ``signals`` a
    second apart once ``ready(runner)``; the runner (ended with status 128 + the first signal),
    its stdout and its stderr."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "nbmnist", "run", str(source), "--output-dir", str(out), *options],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not ready(runner) and time.monotonic() < deadline:
        time.sleep(0.2)
    for signum in signals:
        runner.send_signal(signum)
        time.sleep(1)
    stdout, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signals[0], (stdout, stderr)
    return runner, stdout, stderr


def stopped_run(
    tmp_path: Path,
    cell: str,
    ready: Callable[[subprocess.Popen[str]], bool],
    signals: list[signal.Signals],
    options: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], str, str, nbformat.NotebookNode]:
    """``python -m nbmnist run`` on ``%load_ext nbmnist`` (printing the kernel's pid), ``cell``
    and ``print('after')``, sent ``signals`` once ``ready(runner)`` (run store: ``tmp_path/runs``);
    the runner, its stdout, its stderr and the executed copy. Checks what every stop shares:
    status 128 + the first signal, one last line naming the cell, no traceback, no later cell,
    the HTML written, the kernel gone."""
    first = "%load_ext nbmnist\nimport os\nprint(os.getpid())"
    source = tiny_notebook(tmp_path, cell, "print('after')", first=first)
    out = tmp_path / "out"
    env = {"NBMNIST_RUNS": str(tmp_path / "runs")}
    runner, stdout, stderr = signalled_runner(source, out, env, ready, signals, options)
    first_line = cell.split("\n")[0]
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"nbmnist: stopped by {signals[0].name} in cell 2 ({first_line}); no later cell ran."
        )
    )
    assert "Traceback" not in stderr
    executed = nbformat.read(out / "tiny.ipynb", as_version=4)
    assert executed.cells[2].execution_count is None and not executed.cells[2].outputs
    assert (out / "tiny.html").is_file()
    kernel = int(executed.cells[0].outputs[-1]["text"].split()[-1])
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)
    return runner, stdout, stderr, executed


@pytest.mark.parametrize(
    ("signum", "options"),
    [(signal.SIGTERM, ()), (signal.SIGINT, ()), (signal.SIGTERM, ("--allow-errors",))],
    ids=["SIGTERM", "SIGINT", "SIGTERM-allow-errors"],
)
def test_a_signal_stops_the_runner_as_the_stop_button_does(
    tmp_path: Path, signum: signal.Signals, options: tuple[str, ...]
) -> None:
    """SIGTERM (a grader's time limit) or Ctrl-C during a training cell: the kernel is
    interrupted, the run keeps its epochs as ``interrupted``, no later cell runs (also where a
    grader lets cells fail: the interrupted cell's error does not let the next one run), the
    executed part is written, the kernel is gone, and the runner ends with one line and
    128 + signal (nbclient alone recorded the run as killed and failed with an
    AssertionError)."""
    record = tmp_path / "runs" / "long" / "run.json"

    def two_epochs(runner: subprocess.Popen[str]) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return len(json.loads(record.read_text())["epoch_seconds"]) >= 2
        return False

    cell = "%%mlp long --epochs 500 --no-live\ndense 16 relu"
    _, stdout, _, executed = stopped_run(tmp_path, cell, two_epochs, [signum], options)
    assert "| long " in stdout  # the table of what trained
    (error,) = [o for o in executed.cells[1].outputs if o.output_type == "error"]
    (line,) = error["traceback"]  # the stop's one line, no traceback through nbmnist
    assert line.startswith("KeyboardInterrupt: stopped; long holds the interrupted run (")
    (run,) = json.loads((tmp_path / "out" / "tiny.runs.json").read_text())
    assert run["status"] == "interrupted" and 2 <= len(run["history"]["loss"]) < 500


def test_a_signal_during_a_worker_sweep_leaves_no_process(tmp_path: Path) -> None:
    """The sweep's points, training in worker processes (in sessions of their own, beyond the
    runner's process group), come home as interrupted, and no worker is left running."""
    seen: list[psutil.Process] = []

    def both_points_trained_an_epoch(runner: subprocess.Popen[str]) -> bool:
        with contextlib.suppress(psutil.Error, OSError, ValueError):
            seen[:] = psutil.Process(runner.pid).children(recursive=True)
            stores = [
                Path(p.environ()["NBMNIST_RUNS"])
                for p in seen
                if "nbmnist.sweeps.trainer" in " ".join(p.cmdline())
            ]
            return len(stores) == 2 and all(
                any(
                    json.loads(record.read_text()).get("epoch_seconds")
                    for record in store.glob("*/run.json")
                )
                for store in stores
            )
        return False

    cell = "%%mlp sw --grid units=8,16 --epochs 400 --workers 2\ndense {units} relu"
    _, _, _, executed = stopped_run(tmp_path, cell, both_points_trained_an_epoch, [signal.SIGTERM])
    (error,) = [o for o in executed.cells[1].outputs if o.output_type == "error"]
    # one line, where a 13-line concurrent.futures traceback was
    assert error["traceback"] == ["KeyboardInterrupt: stopped; sw holds the 2 runs it stored"]
    assert len(seen) >= 3  # the kernel and the two workers
    _, alive = psutil.wait_procs(seen, timeout=10)
    assert not [process for process in alive if still_running(process)]
    records = json.loads((tmp_path / "out" / "tiny.runs.json").read_text())
    assert sorted(r["name"] for r in records) == ["sw[units=16]", "sw[units=8]"]
    assert all(r["status"] == "interrupted" and r["history"]["loss"] for r in records)


def still_running(process: psutil.Process) -> bool:
    """Running, not merely a zombie that a container's init has not reaped yet."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_second_signal_shuts_down_a_kernel_that_ignores_the_interrupt(tmp_path: Path) -> None:
    started = tmp_path / "started"
    cell = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"open({str(started)!r}, 'w').close()\ntime.sleep(120)"
    )
    _, _, _, executed = stopped_run(
        tmp_path, cell, lambda runner: started.exists(), [signal.SIGTERM, signal.SIGTERM]
    )
    assert not executed.cells[1].outputs  # shut down, not interrupted: no error in the cell


def test_a_signal_while_the_kernel_starts_stops_before_the_first_cell(tmp_path: Path) -> None:
    started = tmp_path / "started"  # the kernel is starting: an IPython startup file
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-slow.py").write_text(
        f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(10)\n"
    )
    source = tiny_notebook(tmp_path, "print('ran')")
    env = {"IPYTHONDIR": str(tmp_path / "ipython")}
    _, _, stderr = signalled_runner(
        source, tmp_path, env, lambda runner: started.exists(), [signal.SIGTERM]
    )
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith("nbmnist: stopped by SIGTERM while the kernel started; no cell ran.")
    )
    executed = nbformat.read(tmp_path / "tiny.ipynb", as_version=4)
    assert all(cell.execution_count is None for cell in executed.cells)


def test_the_cell_timeout_holds_for_a_cell_that_prints_nothing(tmp_path: Path) -> None:
    """A grader's per-cell limit (``--timeout``) stops a silent cell (with a blocking kernel
    client, nbclient waited for the kernel's next message and ran it to its end)."""
    from nbclient.exceptions import CellTimeoutError

    source = tiny_notebook(tmp_path, "import time\ntime.sleep(60)", "print('after')")
    with pytest.raises(CellTimeoutError, match="after 2 seconds"):
        execute_notebook(source, tmp_path / "out", timeout=2)
    executed = nbformat.read(tmp_path / "out" / "tiny.ipynb", as_version=4)
    (error,) = executed.cells[1].outputs  # interrupted, as nbclient does on a timeout
    assert error["ename"] == "KeyboardInterrupt" and executed.cells[2].execution_count is None


def test_kernel_environment_resolves_relative_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbmnist.__main__ import kernel_environment

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("NBMNIST_DATA", "../shared/data")
    monkeypatch.delenv("NBMNIST_FAST", raising=False)
    env = kernel_environment(fast=True)
    assert env["NBMNIST_DATA"] == str((REPO.parent / "shared" / "data").resolve())
    assert env["NBMNIST_FAST"] == "1" and "NBMNIST_FAST" not in __import__("os").environ


LOOKING_INSIDE = (
    "confusion_matrix",
    "misclassified",
    "plot_weight_history",
    "plot_filters",
    "plot_feature_maps",
    "compare",
)


def test_looking_inside_cells_leave_figures_and_tables(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _, _ = executed
    code = [c for c in notebook.cells if c.cell_type == "code"]
    inside = [c for c in code if any(f"nbmnist.{name}(" in c.source for name in LOOKING_INSIDE)]
    assert inside  # every lesson has some
    for cell in inside:
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source
        kinds = {kind for o in cell.outputs for kind in o.get("data", {})}
        assert "image/png" in kinds, cell.source  # a static figure stays in the notebook
    for cell in code:
        if "per_class_accuracy(" in cell.source:
            assert "<td>all</td>" in cell.outputs[0]["data"]["text/html"]
