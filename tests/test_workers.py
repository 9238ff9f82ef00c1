"""Sweeps on the real engines: each point in a trainer process of its own, on the default
local pool and on a Dask ``LocalCluster`` (processes, 2 workers) started here; a trainer
killed mid-point, Ctrl-C, the same seed on 1 or 2 workers, runs coming home to the store."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nbmnist
from nbmnist.display.sweep_table import SweepTable
from nbmnist.runs import RunStore
from nbmnist.sweeps import sweep
from nbmnist.sweeps.dispatch import LocalChannel, ThreadChannel, default_workers, gpu_ids
from nbmnist.sweeps.events import EpochEnded, Failed, Finished, Started, SweepEvent
from nbmnist.sweeps.trainer import _outcome
from tests.conftest import Shell, make_run

# one pytest-xdist worker runs this module: its tests share one Dask cluster
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_workers")]

BODY = "dense 16 relu | dropout {rate}"
#: enough epochs (each short, on 500 images) that a point is still training when the kernel
#: reacts to an early one
EPOCHS = 15
LONG = {"epochs": EPOCHS, "train_size": 500, "live": False}


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")  # the test extra installs it
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


def _on_event(monkeypatch: pytest.MonkeyPatch, act: Any) -> list[tuple[str, SweepEvent]]:
    """Call ``act(name, event, pids)`` on each progress event the kernel draws."""
    seen: list[tuple[str, SweepEvent]] = []
    pids: dict[str, int] = {}
    original = SweepTable.event

    def event(self: SweepTable, name: str, value: SweepEvent) -> None:
        seen.append((name, value))
        if isinstance(value, Started):
            pids[name] = value.pid
        original(self, name, value)
        act(name, value, pids)

    monkeypatch.setattr(SweepTable, "event", event)
    return seen


def test_the_seed_003_sweep_trains_in_worker_processes_and_comes_home(
    shell: Shell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = "conv 4 3x3 relu | maxpool 2 | flatten | dense 16 relu | dropout {rate}"
    cell = (
        "%%cnn drop --grid rate=0.0,0.5 --epochs 2 --train-size 500 --no-live --workers 2 "
        f"--seed 7\n{body}"
    )
    shell.run(cell)
    runs = shell.ns["drop"]
    out = capsys.readouterr().out
    assert "2 of 2 points to train on 2 local processes" in out
    assert [run.name for run in runs] == ["drop[rate=0.0]", "drop[rate=0.5]"]
    assert [run.dropout_rates for run in runs] == [(0.0,), (0.5,)]
    for run in runs:
        assert run.status == "completed" and run.epochs == 2
        assert run.writer["pid"] != os.getpid()  # trained in another process
        folder = Path(run.model_path).parent  # written here, in the kernel's store
        assert folder.parent == RunStore.default().root
        # a folder a shell can type as it is; the run keeps its readable name
        assert re.fullmatch(r"drop_rate=0\.[05]-[0-9a-f]{8}", folder.name)
        assert json.loads((folder / "run.json").read_text())["name"] == run.name
        assert run.model.count_params() == run.num_params  # the model came home whole
    assert "drop[rate=0.0]: completed · best val_accuracy" in out
    assert sorted(nbmnist.runs().names()) == sorted(run.name for run in runs)  # as they came home
    # a second run of the cell trains nothing: both points are in the store
    shell.run(cell)
    assert capsys.readouterr().out.count("already completed") == 2
    # the same seed on one worker: the same history for every point
    again = sweep(
        body,
        "cnn",
        "drop",
        {"rate": ["0.0", "0.5"]},
        workers=1,
        seed=7,
        epochs=2,
        train_size=500,
        live=False,
        runs_dir=str(tmp_path / "one-worker"),
    )
    assert [run.history for run in again] == [run.history for run in runs]
    assert runs[0].history != runs[1].history  # the points differ (their rates do)


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_a_killed_trainer_fails_its_point_and_the_sweep_goes_on(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, shell: Shell
) -> None:
    killed: list[str] = []

    def kill(name: str, event: SweepEvent, pids: dict[str, int]) -> None:
        # at epoch 3's event the records of epochs 1 and 2 are on disk
        at_third = isinstance(event, EpochEnded) and event.epoch == 3
        if name == "k[rate=0.2]" and at_third and not killed:
            os.kill(pids[name], signal.SIGKILL)
            killed.append(name)

    _on_event(monkeypatch, kill)
    executor = "processes"
    if engine == "dask":
        address = request.getfixturevalue("dask_cluster").scheduler_address
        executor = address.replace("tcp://", "dask://")
    line = (
        f"%%mlp k --grid rate=0.1,0.2 --epochs {EPOCHS} --train-size 500 --no-live "
        f"--executor {executor} --workers 2"
    )
    shell.run(f"{line}\n{BODY}")
    assert killed == ["k[rate=0.2]"]
    runs = {run.name: run for run in shell.ns["k"]}
    assert runs["k[rate=0.1]"].status == "completed"
    victim = RunStore.default().load("k[rate=0.2]")  # what it had written came home
    assert victim.status == "killed" and 2 <= victim.epochs < EPOCHS
    if engine == "dask":
        return  # resuming does not depend on the engine
    # running the cell again trains the failed point only
    seen = _on_event(monkeypatch, lambda *_: None)
    shell.run(f"{line}\n{BODY}")
    assert {name for name, _ in seen} == {"k[rate=0.2]"}
    assert RunStore.default().load("k[rate=0.2]").status == "completed"


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_ctrl_c_cancels_queued_points_and_stops_running_ones_after_an_epoch(
    engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def interrupt(name: str, event: SweepEvent, pids: dict[str, int]) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 1:
            raise KeyboardInterrupt  # where Ctrl-C lands: the kernel drawing progress

    _on_event(monkeypatch, interrupt)
    executor = None
    if engine == "dask":
        from distributed import Client

        executor = Client(request.getfixturevalue("dask_cluster"))
    store = RunStore(tmp_path / "runs")
    grid = {"rate": ["0.1", "0.2", "0.3", "0.4"]}
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            sweep(
                BODY,
                "mlp",
                "c",
                grid,
                executor=executor,
                workers=1,
                runs_dir=str(store.root),
                **LONG,
            )
    finally:
        if executor is not None:
            executor.close()
    stored = {run.name: run for run in store}
    assert stored, "the running point was stored"
    assert all(run.status == "interrupted" and run.epochs < EPOCHS for run in stored.values())
    assert any(run.epochs >= 1 for run in stored.values())  # it kept its completed epochs
    assert "c[rate=0.4]" not in stored  # queued: cancelled, never started
    assert [run.name for run in stopped.value.result] == list(stored)  # what the cell binds


def test_outcomes_of_a_trainer(tmp_path: Path) -> None:
    errors = tmp_path / "stderr"
    errors.write_text("Traceback...\nMemoryError: out of memory\n")
    assert _outcome(-9, EpochEnded(1, {}), errors, False) == (
        "failed",
        "its process was killed by SIGKILL (out of memory, or killed by hand)",
    )
    assert _outcome(1, None, errors, False) == (
        "failed",
        "its process exited with status 1: MemoryError: out of memory",
    )
    assert _outcome(0, Finished("diverged"), errors, False)[0] == "diverged"
    assert _outcome(1, Failed("DataError: x"), errors, False) == (
        "failed",
        "DataError: x",
    )
    assert _outcome(-2, None, errors, True)[0] == "cancelled"


def test_gpus_are_found_without_a_framework_and_handed_out_one_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert gpu_ids() == ["2", "5"] and default_workers() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert gpu_ids() == [] and default_workers([]) == max(1, (os.cpu_count() or 1) // 4)
    channel = ThreadChannel(["0", "1"])
    first, second = channel.take_gpu(), channel.take_gpu()
    assert {first, second} == {"0", "1"}
    channel.give_gpu(first)
    assert channel.take_gpu() == first


def test_a_point_that_came_home_replaces_an_unfinished_one_atomically(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    record = make_run("p[a=1]", 0.9).to_record()
    record.update(status="running", writer={"host": "elsewhere", "pid": 1})
    files = {"run.json": json.dumps(record).encode()}
    run = store.receive("p[a=1]", files)
    assert run is not None and run.status == "killed"  # its trainer is gone
    assert store.load("p[a=1]").status == "killed"
    record.update(status="completed")
    assert store.receive("p[a=1]", {"run.json": json.dumps(record).encode()}) is not None
    assert store.load("p[a=1]").status == "completed"
    assert store.names() == ["p[a=1]"] and store.receive("p[a=1]", {}) is None
    assert not list(tmp_path.glob(".nbmnist-staging/*"))  # nothing left beside it


def test_a_local_channel_reaches_across_processes_through_its_manager() -> None:
    channel = LocalChannel()
    try:
        remote = pickle.loads(pickle.dumps(channel))  # as a ProcessPoolExecutor sends it
        remote.put("p[a=1]", EpochEnded(1, {"loss": 0.5}))
        assert channel.events() == [("p[a=1]", EpochEnded(1, {"loss": 0.5}))]
        assert channel.events() == [] and not remote.stop_requested()
        channel.stop()
        assert remote.stop_requested() and remote.stop_requested(0.1)
    finally:
        channel.close()


def test_the_live_table_shows_each_state_and_the_last_finished_curves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import IPython.display

    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(obj)

    def display(obj: Any, display_id: bool = False) -> Handle:
        shown.append(obj)
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    table = SweepTable("d", ["d[r=1]", "d[r=2]", "d[r=3]"], "2 local processes", live=True)
    table.event("d[r=1]", Started(epochs=4, pid=1))
    table.event("d[r=1]", EpochEnded(epoch=2, metrics={"val_accuracy": 0.5}))
    history = {"loss": [0.9, 0.5], "accuracy": [0.7, 0.8], "val_loss": [0.8, 0.6]}
    history["val_accuracy"] = [0.75, 0.82]
    run = make_run("d[r=2]", 0.9, history=history, epoch_seconds=[1.0, 1.0])
    table.point_done("d[r=2]", "completed", run)
    table.point_done("d[r=3]", "failed", None, "its process was killed by SIGKILL")
    states = table.table().get_string()
    assert "epoch 2 of 4" in states and "0.5000" in states
    assert "failed: its process was killed by SIGKILL" in states
    assert "d: 2 of 3 points done · 2 local processes" in states
    images = [obj for obj in shown if type(obj).__name__ == "Image"]
    assert len(images) == 1 and images[0].data[:4] == b"\x89PNG"  # the last finished one
    html = [obj for obj in shown if type(obj).__name__ == "HTML"]
    assert html and "epoch 2 of 4" in html[-1].data and "failed" in html[-1].data


def test_sweep_events_round_trip_and_refuse_what_is_not_one() -> None:
    """One typed event protocol: what a trainer writes is what the table reads, through a
    JSON line and through Dask's msgpack-able form alike."""
    from nbmnist.sweeps import events

    sent = [
        events.Started(epochs=3, pid=42),
        events.EpochEnded(epoch=1, metrics={"loss": 0.5, "val_accuracy": 0.9}),
        events.Finished(status="completed"),
        events.Failed(message="DataError: x"),
    ]
    assert [events.from_line(events.to_line(event)) for event in sent] == sent
    assert [events.from_json(json.loads(json.dumps(events.to_json(e)))) for e in sent] == sent
    for bad in ('{"event": "exploded"}', '{"event": "epoch", "epoch": 1}', "[1, 2]", "nope"):
        with pytest.raises(ValueError):
            events.from_line(bad)
