"""Runs on disk: written every epoch, reloaded after a restart, never torn by a kill."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nbmnist
from nbmnist import RunStore, load_runs, train
from nbmnist.display.console import ConsoleDisplay
from nbmnist.runs import RECORD, RunStoreError, clear, now
from tests.conftest import REPO, TINY_MLP, Shell


def quiet() -> ConsoleDisplay:
    import io

    return ConsoleDisplay(io.StringIO())


def test_a_run_is_saved_with_its_record_and_model(tmp_path: Path) -> None:
    run = train(TINY_MLP, "mlp", "saved", display=quiet(), epochs=2, runs_dir=str(tmp_path))
    folder = tmp_path / "saved"
    record = json.loads((folder / RECORD).read_text())
    assert record["status"] == "completed" and record["declaration"] == TINY_MLP
    assert record["history"]["loss"] == run.history["loss"] and len(record["history"]["loss"]) == 2
    assert record["options"]["epochs"] == 2 and record["test_accuracy"] == run.test_accuracy
    environment = record["environment"]
    assert set(environment) >= {"python", "keras", "backend", "nbmnist", "device"}
    assert environment["backend"] in environment  # the framework's version, e.g. "jax"
    execution = record["execution"]
    assert execution["backend"] == environment["backend"] and execution["device"]
    assert execution["precision"] == "float32" and isinstance(execution["jit_compile"], bool)
    assert execution["steps_per_execution"] == record["plan"]["steps_per_execution"] >= 1
    assert record["wall_time_s"] > 0 and record["created"].endswith("+00:00")
    assert (folder / "model.keras").is_file() and run.model_path == str(folder / "model.keras")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_load_runs_after_a_restart_with_lazy_safe_models(tmp_path: Path) -> None:
    trained = train(TINY_MLP, "mlp", "kept", display=quiet(), epochs=1, runs_dir=str(tmp_path))
    clear()  # as after a kernel restart
    (loaded,) = load_runs(tmp_path)
    assert loaded.name == "kept" and loaded.history == trained.history
    assert loaded.test_accuracy == trained.test_accuracy and loaded.status == "completed"
    assert loaded._model is None  # not loaded until used
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    assert np.allclose(loaded.model.predict(x, verbose=0), trained.model.predict(x, verbose=0))
    assert nbmnist.runs() == [loaded]


def test_names_stay_unique_unless_overwrite(tmp_path: Path) -> None:
    store = str(tmp_path)
    first = train(TINY_MLP, "mlp", "same", display=quiet(), epochs=1, runs_dir=store)
    second = train(TINY_MLP, "mlp", "same", display=quiet(), epochs=1, runs_dir=store)
    assert (first.name, second.name) == ("same", "same_2")
    clear()
    third = train(TINY_MLP, "mlp", "same", display=quiet(), epochs=1, runs_dir=store)
    assert third.name == "same_3"  # the store remembers what the session forgot
    replaced = train(
        TINY_MLP, "mlp", "same", display=quiet(), epochs=2, runs_dir=store, overwrite=True
    )
    assert replaced.name == "same" and RunStore(store).load("same").epochs == 2
    assert RunStore(store).names() == ["same_2", "same_3", "same"]


class FailingAt(ConsoleDisplay):
    """A quiet display that raises ``error`` after epoch ``epoch`` (Ctrl-C, or a crash)."""

    def __init__(self, epoch: int, error: BaseException) -> None:
        import io

        super().__init__(io.StringIO())
        self.epoch, self.error = epoch, error

    def epoch_completed(self, log: Any) -> None:
        super().epoch_completed(log)
        if log.epochs == self.epoch:
            raise self.error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("the kernel broke")])
def test_overwrite_keeps_the_completed_run_until_its_successor_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], error: BaseException
) -> None:
    store = RunStore(tmp_path)
    old = train(TINY_MLP, "mlp", "kept", display=quiet(), epochs=1, runs_dir=str(tmp_path))
    before = (tmp_path / "kept" / "model.keras").read_bytes()
    with pytest.raises(type(error)):
        train(
            "dense 64 relu",
            "mlp",
            "kept",
            display=FailingAt(1, error),
            epochs=3,
            runs_dir=str(tmp_path),
            overwrite=True,
        )
    again = store.load("kept")
    assert again.status == "completed" and again.test_accuracy == old.test_accuracy
    assert (tmp_path / "kept" / "model.keras").read_bytes() == before
    if isinstance(error, KeyboardInterrupt):  # the interrupted successor is kept as well
        assert "the completed run 'kept' is kept; this one is saved as 'kept_2'" in (
            capsys.readouterr().out
        )
        successor = store.load("kept_2")
        assert successor.status == "interrupted" and successor.epochs == 1
        assert successor.model.count_params() == 784 * 64 + 64 + 650
    assert store.names()[0] == "kept"


def test_overwrite_replaces_a_completed_run_once_the_new_one_completes(tmp_path: Path) -> None:
    train(TINY_MLP, "mlp", "swap", display=quiet(), epochs=1, runs_dir=str(tmp_path))
    new = train(
        "dense 8", "mlp", "swap", display=quiet(), epochs=1, runs_dir=str(tmp_path), overwrite=True
    )
    loaded = RunStore(tmp_path).load("swap")
    assert loaded.num_params == new.num_params == 784 * 8 + 8 + 90
    assert new.model_path == str(tmp_path / "swap" / "model.keras")
    assert RunStore(tmp_path).names() == ["swap"]
    assert not any((tmp_path / ".nbmnist-staging").iterdir())  # nothing left aside


def test_interrupted_run_is_on_disk_with_its_epochs(tmp_path: Path) -> None:
    from tests.test_training import Recorder

    with pytest.raises(KeyboardInterrupt):
        train(
            TINY_MLP,
            "mlp",
            "cut",
            display=Recorder(interrupt_at=2),
            epochs=5,
            runs_dir=str(tmp_path),
        )
    run = RunStore(tmp_path).load("cut")
    assert run.status == "interrupted" and run.epochs == 2


def test_bad_names_and_records_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RunStoreError, match="cannot be a folder name"):
        train(TINY_MLP, "mlp", "a/b", display=quiet(), runs_dir=str(tmp_path))
    assert nbmnist.runs() == []
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / RECORD).write_text("{not json")
    with pytest.raises(RunStoreError, match=r"broken/run\.json: unreadable"):
        RunStore(tmp_path).load("broken")


_GOOD: dict[str, Path] = {}


def good_record(tmp_path: Path) -> dict:
    """A store in ``tmp_path`` holding one good run (trained once, then copied)."""
    import shutil

    if "store" not in _GOOD:
        _GOOD["store"] = Path(tempfile.mkdtemp(prefix="nbmnist-good-"))
        train(TINY_MLP, "mlp", "good", display=quiet(), epochs=1, runs_dir=str(_GOOD["store"]))
    shutil.copytree(_GOOD["store"] / "good", tmp_path / "good")
    return json.loads((tmp_path / "good" / RECORD).read_text())


# (what is damaged, how, a fragment of the one line that names it)
DAMAGES = [
    ("not JSON", lambda r: "{not json", "unreadable"),
    ("a list", lambda r: "[]", "not a run record (a JSON object was expected, found list)"),
    ("an empty object", lambda r: "{}", "schema None is not 1"),
    ("only a name", lambda r: '{"schema": 1, "name": "x"}', "the record has no 'kind'"),
    ("another schema", lambda r: json.dumps({**r, "schema": 99}), "schema 99 is not 1"),
    (
        "history of text",
        lambda r: json.dumps({**r, "history": {"loss": "abc"}}),
        "'history'['loss'] is str, expected a list",
    ),
    (
        "options a list",
        lambda r: json.dumps({**r, "options": []}),
        "'options' is list, expected an object",
    ),
    (
        "unknown status",
        lambda r: json.dumps({**r, "status": "exploded"}),
        "'status' is 'exploded', expected one of 'running'",
    ),
    (
        "params as text",
        lambda r: json.dumps({**r, "num_params": "many"}),
        "'num_params' is str, expected an integer",
    ),
    (
        "epoch seconds of text",
        lambda r: json.dumps({**r, "epoch_seconds": ["x"]}),
        "'epoch_seconds'[0] is str, expected a number",
    ),
    ("empty file", lambda r: "", "unreadable"),
    ("binary garbage", lambda r: "\x00\xff\x10", "unreadable"),
    ("name a number", lambda r: json.dumps({**r, "name": 5}), "'name' is int, expected text"),
    (
        "test accuracy as text",
        lambda r: json.dumps({**r, "test_accuracy": "0.98"}),
        "'test_accuracy' is str, expected a number",
    ),
    (
        "dropout rates of text",
        lambda r: json.dumps({**r, "dropout_rates": ["half"]}),
        "'dropout_rates'[0] is str, expected a number",
    ),
    ("writer as text", lambda r: json.dumps({**r, "writer": "me"}), "'writer' is str"),
    (
        "model epoch as text",
        lambda r: json.dumps({**r, "model_epoch": "3"}),
        "'model_epoch' is str, expected an integer",
    ),
]


@pytest.mark.parametrize(("what", "damage", "fragment"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_bad_record_is_skipped_with_one_line_and_the_rest_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, damage: Any, fragment: str
) -> None:
    record = good_record(tmp_path)
    (tmp_path / "bad").mkdir()
    bad = tmp_path / "bad" / RECORD
    bad.write_text(damage(record))
    before = bad.read_bytes()
    capsys.readouterr()
    loaded = load_runs(tmp_path)
    assert [run.name for run in loaded] == ["good"]
    printed = capsys.readouterr()
    assert printed.out == ""  # a notice, never in a script's output
    out = printed.err.splitlines()
    assert len(out) == 1 and out[0].startswith(f"nbmnist: skipped {bad}") and fragment in out[0]
    assert bad.read_bytes() == before  # reading never rewrites or deletes
    with pytest.raises(RunStoreError, match=re.escape(fragment)):
        RunStore(tmp_path).load("bad")


def test_foreign_files_in_the_store_are_ignored_and_listing_still_works(
    tmp_path: Path, shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    good_record(tmp_path)
    (tmp_path / "notes.txt").write_text("a student's file")
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / RECORD).mkdir()  # a folder where the record should be
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / RECORD).write_text("[]")
    table = shell.ip.run_line_magic("nbmnist_runs", str(tmp_path))
    assert [row[0] for row in table.rows] == ["good"]
    assert "nbmnist: skipped" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "a student's file"


def test_a_damaged_model_is_a_one_line_error_and_the_record_still_loads(tmp_path: Path) -> None:
    good_record(tmp_path)
    (tmp_path / "good" / "model.keras").write_bytes(b"PK\x03\x04 not a zip at all")
    run = load_runs(tmp_path)[0]
    assert run.test_accuracy is not None
    with pytest.raises(RunStoreError, match=r"good/model\.keras: cannot load this run's model"):
        _ = run.model
    assert (tmp_path / "good" / "model.keras").is_file()  # kept for the user to look at


def test_a_store_path_that_is_a_file_fails_before_training(tmp_path: Path) -> None:
    store = tmp_path / "runs"
    store.write_text("not a folder")
    with pytest.raises(RunStoreError, match=r"runs: the run store must be a folder"):
        train(TINY_MLP, display=quiet(), runs_dir=str(store / "inner"))
    assert load_runs(store) == []
    assert store.read_text() == "not a folder"


def test_magic_rerun_gets_a_new_name_and_the_cell_name_follows(shell: Shell) -> None:
    shell.run("%%mlp twice --epochs 1 --no-live\ndense 8")
    shell.run("%%mlp twice --epochs 1 --no-live\ndense 16")
    assert shell.ns["twice"].name == "twice_2" and shell.ns["twice_2"] is shell.ns["twice"]
    assert [run.name for run in nbmnist.runs()] == ["twice", "twice_2"]
    shell.run("%%mlp twice --epochs 1 --no-live --overwrite\ndense 4")
    assert shell.ns["twice"].name == "twice" and shell.ns["twice"].num_params == 784 * 4 + 4 + 50


def test_runs_magic_lists_the_store(shell: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run("%%mlp listed --epochs 1 --no-live\ndense 8")
    table = shell.ip.run_line_magic("nbmnist_runs", "")
    assert [row[0] for row in table.rows] == ["listed"]
    assert table.title.startswith("1 runs in ")
    empty = shell.ip.run_line_magic("nbmnist_runs", "/no/such/store")
    assert empty is None and "no runs in /no/such/store" in capsys.readouterr().out


def test_after_a_restart_runs_come_back_by_name(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run("%%mlp solo --epochs 1 --no-live --train-size 500\ndense 8")
    shell.run("%%mlp sw --grid units=4,8 --epochs 1 --no-live --train-size 500\ndense {units}")
    for name in ("solo", "sw"):
        del shell.ns[name]
    clear()  # a restart: the session forgets, the store remembers
    loaded = load_runs()
    assert loaded.names() == ["solo", "sw[units=4]", "sw[units=8]"]
    assert loaded["solo"] is loaded[0] and "sw[units=8]" in loaded and "nope" not in loaded
    assert loaded.by_name()["sw[units=4]"].num_params == 784 * 4 + 4 + 4 * 10 + 10
    with pytest.raises(KeyError, match="no run named 'nope'; the runs are solo, sw"):
        loaded["nope"]
    shell.ns["keep"] = 1
    shell.ip.run_line_magic("nbmnist_runs", "--bind")
    assert "bound 2: solo, sw (2 points)" in capsys.readouterr().out
    assert shell.ns["solo"].name == "solo"
    assert [run.name for run in shell.ns["sw"]] == ["sw[units=4]", "sw[units=8]"]
    assert shell.ns["keep"] == 1


CHILD = textwrap.dedent(
    """
    import os, sys
    import nbmnist
    from nbmnist.display.console import ConsoleDisplay
    store = sys.argv[1]
    quiet = ConsoleDisplay(open(os.devnull, "w"))
    for n in range(1000):
        nbmnist.train("dense 16 relu", "mlp", f"k{n}", display=quiet, epochs=4, batch_size=512,
                      train_size=2000, runs_dir=store, validation="test")
    """
)


@pytest.mark.same_on_every_backend
def test_sigkill_at_random_moments_never_leaves_a_torn_record(tmp_path: Path) -> None:
    """Kill a training process 8 times at random moments; every record stays readable and
    holds whole epochs (tools/stress.py kills 60 times)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    store = tmp_path / "store"
    env = {**os.environ, "NBMNIST_DOWNLOAD": "0", "PYTHONPATH": str(REPO)}
    if importlib.util.find_spec("jax") is not None:
        # The store does not depend on the backend; JAX starts in a third of TensorFlow's
        # time, and each of the 8 children must start before it can be killed.
        env["KERAS_BACKEND"] = "jax"
    rng = random.Random(20261120)
    seen_runs = killed_models = 0
    for _ in range(8):
        child = subprocess.Popen([sys.executable, str(script), str(store)], env=env)
        deadline = time.monotonic() + 60
        while not any(store.glob("*/run.json")) and time.monotonic() < deadline:  # 1st write
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        runs = list(RunStore(store))  # raises on any torn or half-written record
        for run in runs:
            lengths = {len(values) for values in run.history.values()}
            assert len(lengths) <= 1 and lengths <= {0, 1, 2, 3, 4}
            assert run.status in ("killed", "completed")  # never "running": its process died
            assert run.status != "completed" or (run.epochs == 4 and run.test_accuracy is not None)
            assert (run.model_epoch is None) == (run.model_path is None)
            assert run.model_epoch is None or 1 <= run.model_epoch <= run.epochs
            if run.status == "killed" and run.model_path and not killed_models:
                assert run.model.count_params() == run.num_params  # a usable model of epoch k
                killed_models += 1
        seen_runs = max(seen_runs, len(runs))
        # restart from scratch: the next child starts a fresh store
        for path in sorted(store.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        store.rmdir()
    assert seen_runs >= 1


def _as_if_written_by(folder: Path, writer: dict[str, object]) -> None:
    """Make the record in ``folder`` say it is still training, written by ``writer``."""
    record = json.loads((folder / "run.json").read_text())
    record.update(status="running", writer=writer)
    (folder / "run.json").write_text(json.dumps(record))


def _dead_pid() -> int:
    import psutil

    pid = 4_000_000  # above Linux's default pid_max (2**22): no such process
    while psutil.pid_exists(pid):
        pid += 1
    return pid


def test_a_run_whose_writer_is_gone_loads_as_killed_and_the_table_says_so(
    tmp_path: Path,
) -> None:
    import socket

    store = tmp_path / "store"
    for name in ("gone", "alive", "far_fresh", "far_stale"):
        train(TINY_MLP, "mlp", name, epochs=2, runs_dir=str(store), display=quiet())
    host = socket.gethostname()
    long_ago = "2020-01-01T00:00:00+00:00"
    _as_if_written_by(store / "gone", {"host": host, "pid": _dead_pid(), "heartbeat": long_ago})
    parent = os.getppid()  # alive, and not this process
    _as_if_written_by(store / "alive", {"host": host, "pid": parent, "heartbeat": long_ago})
    _as_if_written_by(store / "far_fresh", {"host": "elsewhere", "pid": 1, "heartbeat": now()})
    _as_if_written_by(store / "far_stale", {"host": "elsewhere", "pid": 1, "heartbeat": long_ago})
    status = {run.name: run.status for run in load_runs(store)}
    assert status == {
        "gone": "killed",
        "alive": "running",
        "far_fresh": "running",
        "far_stale": "killed",
    }
    assert json.loads((store / "gone" / "run.json").read_text())["status"] == "running"  # unread
    table = nbmnist.summary_table(nbmnist.load_runs(store))
    assert "status" in table.field_names
    assert table.rows[0][table.field_names.index("status")] == "killed"  # its final model
    (store / "gone" / "model.keras").unlink()
    gone = RunStore(store).load("gone")
    assert gone.model_epoch is None
    assert nbmnist.summary_table([gone], columns=["status"]).rows == [["killed, no model"]]


def test_the_model_is_saved_as_epochs_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed run keeps the model of its last saved epoch: here every epoch is saved (the
    share of time saving may take made unlimited) and read back while training goes on."""
    from nbmnist.runs import store as runs_store

    monkeypatch.setattr(runs_store, "MODEL_SAVE_SHARE", math.inf)
    store = tmp_path / "store"
    on_disk: list[object] = []

    class Peek(ConsoleDisplay):
        def epoch_completed(self, log: object) -> None:  # before the store's writer, each epoch
            record = json.loads((store / "peek" / "run.json").read_text())
            on_disk.append(record["model_epoch"])
            super().epoch_completed(log)  # type: ignore[arg-type]

    run = train(TINY_MLP, "mlp", "peek", epochs=3, runs_dir=str(store), display=Peek(io.StringIO()))
    assert on_disk == [None, 1, 2]  # when epoch k ends, epoch k-1's model is on disk
    assert run.model_epoch == 3 and RunStore(store).load("peek").model_epoch == 3


def test_temporary_files_of_dead_writers_are_removed_by_the_next_run(tmp_path: Path) -> None:
    from nbmnist.runs import TEMPORARY, Writer

    store = tmp_path / "store"
    train(TINY_MLP, "mlp", "first", epochs=1, runs_dir=str(store), display=quiet())
    host = Writer.tag().split("-")[0]
    dead = f"{host}-{_dead_pid()}-1"
    leftovers = [
        store / "first" / f".run.json.{dead}.abc{TEMPORARY}",
        store / "first" / f".model.keras.{dead}{TEMPORARY}.keras",
        store / ".nbmnist-staging" / f"first.{dead}{TEMPORARY}",
    ]
    mine = store / "first" / f".run.json.{Writer.tag()}.xyz{TEMPORARY}"  # this live process
    other_host = store / "first" / f".run.json.w00000000-{_dead_pid()}-1.q{TEMPORARY}"
    leftovers[2].mkdir(parents=True)
    for path in [*leftovers[:2], mine, other_host]:
        path.write_bytes(b"partial")
    train(TINY_MLP, "mlp", "second", epochs=1, runs_dir=str(store), display=quiet())
    assert [path.exists() for path in leftovers] == [False, False, False]
    assert mine.exists() and other_host.exists()  # alive, or not checkable from here


def test_violins_of_a_reloaded_run_are_its_kernels(tmp_path: Path) -> None:
    from nbmnist.plots import weight_arrays

    trained = train(
        "64 32 relu bn dropout=0.2",
        "mlp",
        "bn_run",
        display=quiet(),
        epochs=1,
        runs_dir=str(tmp_path),
    )
    clear()
    (loaded,) = load_runs(tmp_path)
    arrays = weight_arrays(loaded)
    dense = [layer for layer in trained.model.layers if type(layer).__name__ == "Dense"]
    assert [a.label for a in arrays] == [
        "Hidden 1 · dense 64",
        "Hidden 2 · dense 32",
        "Output · dense 10",
    ]
    for array, layer in zip(arrays, dense, strict=True):
        assert np.array_equal(array.values, layer.kernel.numpy().ravel())


CLAIMER = textwrap.dedent(
    """
    import sys
    from nbmnist.runs import RunStore
    store = RunStore(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # all eight claim once all have started
    print(store.claim("same"))
    """
)


def test_folders_are_shell_safe_and_runs_keep_readable_names(tmp_path: Path) -> None:
    from nbmnist.runs import folder_name

    assert folder_name("drop_3") == "drop_3"  # shell-safe names are their own folder
    folder = folder_name("drop[rate=0.1]")
    assert re.fullmatch(r"drop_rate=0\.1-[0-9a-f]{8}", folder)
    assert folder_name(folder) != folder  # a name shaped like a hashed folder gets its own
    names = ["net[rate=0.1,units=8]", "net(rate=0.1,units=8)", "a b", "ünï", "x*"]
    folders = [folder_name(name) for name in names]
    assert len(set(folders)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9_.,=+-]+", f) for f in folders)
    good_record(tmp_path)  # a completed run in tmp_path/good
    store = RunStore(tmp_path)
    for name in ["drop[rate=0.1]", "a b"]:
        run = store.load("good")
        run.name = name
        store.write(run)
    # an earlier nbmnist's folder, named as the run: still found and listed
    legacy = tmp_path / "old[rate=0.2]"
    legacy.mkdir()
    record = json.loads((tmp_path / "good" / RECORD).read_text())
    (legacy / RECORD).write_text(json.dumps({**record, "name": "old[rate=0.2]"}))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["good", folder_name("drop[rate=0.1]"), folder_name("a b"), "old[rate=0.2]"]
    )
    names = ["good", "drop[rate=0.1]", "a b", "old[rate=0.2]"]
    assert sorted(store.names()) == sorted(names)
    assert sorted(run.name for run in store) == sorted(names)
    assert all(name in store and store.load(name).name == name for name in names)
    assert "drop[rate=0.2]" not in store
    assert store.claim("drop[rate=0.1]") == "drop[rate=0.1]_2"
    assert store.claim("old[rate=0.2]") == "old[rate=0.2]_2"


def test_eight_processes_claiming_one_name_at_once_get_eight_folders(tmp_path: Path) -> None:
    store = tmp_path / "store"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(store)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for _ in range(8)
    ]
    for child in children:  # every child has started ...
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:  # ... before any is let go
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    names = [child.communicate(timeout=60)[0].strip() for child in children]
    assert sorted(names) == sorted(["same", *(f"same_{n}" for n in range(2, 9))])
    assert sorted(path.name for path in store.iterdir()) == sorted(names)


def test_a_run_that_fails_before_writing_gives_its_name_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbmnist import training
    from nbmnist.errors import DataError

    def broken(*args: object) -> None:
        raise DataError("the data is broken")

    store = tmp_path / "store"
    with monkeypatch.context() as patch:
        patch.setattr(training, "training_data", broken)
        with pytest.raises(DataError):
            train(TINY_MLP, "mlp", "first_try", runs_dir=str(store), display=quiet())
    assert not (store / "first_try").exists()
    run = train(TINY_MLP, "mlp", "first_try", epochs=1, runs_dir=str(store), display=quiet())
    assert run.name == "first_try"
    assert train(TINY_MLP, "mlp", None, epochs=1, runs_dir=str(store), display=quiet()).name == (
        "mlp_1"
    )


def test_a_full_disk_stops_the_run_in_one_line_and_keeps_the_previous_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    runs_module = sys.modules["nbmnist.runs.store"]  # where the store writes

    store = tmp_path / "store"
    real = runs_module.atomic_write
    writes: list[Path] = []

    def fills_up(path: Path, data: bytes) -> None:
        writes.append(path)
        if len(writes) > 2:  # the start and the first epoch fit; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(runs_module, "atomic_write", fills_up)
    with pytest.raises(RunStoreError) as caught:
        train(TINY_MLP, "mlp", "full", epochs=5, runs_dir=str(store), display=quiet())
    message = str(caught.value)
    assert "No space left on device" in message and "the previous record is intact" in message
    assert "\n" not in message
    monkeypatch.undo()
    kept = RunStore(store).load("full")
    assert kept.epochs == 1 and kept.status == "killed"  # its writer stopped writing it
    assert not [p for p in (store / "full").iterdir() if p.name.startswith(".")]  # no temps


def test_only_the_newest_run_keeps_its_model_in_memory(tmp_path: Path) -> None:
    """A kernel holds the newest model, as plain Keras cells hold their last ``model``; an
    earlier run's comes back from its store on first use (bench/memory/test_kernel_memory.py)."""
    store = str(tmp_path / "store")
    first = train(TINY_MLP, "mlp", "first", epochs=1, runs_dir=store, display=quiet())
    assert first._model is not None
    second = train(TINY_MLP, "mlp", "second", epochs=1, runs_dir=store, display=quiet())
    assert first._model is None and second._model is not None
    assert first.model.count_params() == first.num_params  # loaded again, on first use
    weights = [np.asarray(w) for w in first.model.get_weights()]
    assert all(np.isfinite(w).all() for w in weights)
