"""A sweep point's trainer: a Python process that trains points one at a time
(``python -m nbmnist.sweeps.trainer``), and ``run_point``, which an executor's worker calls to
start one, hand it a point and relay its events (``nbmnist.sweeps.events``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nbmnist.sweeps.dispatch import (
    GPU_MEMORY_ENV,
    LOCAL_TRAINERS,
    LOCAL_TRAINERS_LOCK,
    STDERR_LINES,
    STOP_POLL_S,
    Channel,
    PointResult,
    PointState,
    PointTask,
)
from nbmnist.sweeps.events import (
    EpochEnded,
    Failed,
    Finished,
    Started,
    SweepEvent,
    from_line,
    to_line,
)


class Trainer:
    """A Python process that trains points one at a time (``python -m nbmnist.sweeps.trainer``):
    each point is one JSON line on its stdin; its events are JSON lines on its stdout; its run
    store is a temporary folder of its own. It runs in a session of its own, so Ctrl-C in the
    notebook reaches it only through ``channel.stop`` (as SIGINT: it then stops after its
    current group of batches and records the run as ``interrupted``).

    A trainer serves up to ``TRAINER_POINTS`` points of one executor thread (Keras and the
    framework are imported once, not per point) and is then replaced, so what a framework
    keeps after each model (``bench/sweeps/test_sweep_memory.py``) stays bounded; it exits by
    itself when idle ``TRAINER_IDLE_S``, or when its stdin closes.
    """

    def __init__(self, env: dict[str, str], gpu: str | None) -> None:
        self.key = json.dumps(sorted(env.items()))
        self.gpu = gpu
        self.points = 0
        self.stopped = False  # asked to stop mid-point: not reused
        self.folder = Path(tempfile.mkdtemp(prefix="nbmnist-trainer-"))
        environ = {**os.environ, **GPU_MEMORY_ENV, **env, "NBMNIST_RUNS": str(self.folder)}
        if gpu is not None:
            environ["CUDA_VISIBLE_DEVICES"] = gpu
        self.errors = self.folder / "stderr.txt"
        with open(self.errors, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nbmnist.sweeps.trainer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=environ,
                start_new_session=True,
                text=True,
            )
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        threading.Thread(target=self._read, daemon=True).start()
        with LOCAL_TRAINERS_LOCK:
            LOCAL_TRAINERS.add(self)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def usable(self, env: dict[str, str]) -> bool:
        return (
            not self.stopped
            and self.process.poll() is None
            and self.key == json.dumps(sorted(env.items()))
            and self.points < TRAINER_POINTS
        )

    def train(self, task: PointTask, channel: Channel) -> SweepEvent | None:
        """Send ``task``, forward its events until it ends (or the trainer dies), SIGINT the
        trainer once if the kernel asks to stop. Returns the last event (None: none came).

        The channel is used from this thread only (Dask's ``Event`` and ``Queue`` work in a
        task's own thread); a helper thread only reads the trainer's lines.
        """
        assert self.process.stdin is not None
        self.points += 1
        self.process.stdin.write(json.dumps(task.__dict__) + "\n")
        self.process.stdin.flush()
        last: SweepEvent | None = None
        stopping = False
        while not isinstance(last, Finished | Failed):
            try:
                line = self.lines.get(timeout=STOP_POLL_S)
            except queue.Empty:
                line = ""
            if line is None:  # the trainer died
                self.process.wait()
                break
            if line:
                with contextlib.suppress(ValueError):  # not an event: ignored
                    last = from_line(line)
                    channel.put(task.name, last)
            if not stopping and channel.stop_requested():
                stopping = True
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGINT)
        self.stopped = stopping
        return last

    def take_folder(self, name: str) -> dict[str, bytes]:
        """The files of run ``name``'s folder (``run.json``, ``model.keras``), then delete it."""
        from nbmnist.runs import RunStore

        folder = RunStore(self.folder).folder(name)
        files = RunStore.files(folder)
        shutil.rmtree(folder, ignore_errors=True)
        return files

    def close(self) -> None:
        """Let the trainer exit (stdin closed), killing it if it does not within 10 s."""
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
        with LOCAL_TRAINERS_LOCK:
            LOCAL_TRAINERS.discard(self)


#: Points one trainer process trains before it is replaced.
TRAINER_POINTS = 8
#: Seconds a trainer waits for its next point before it exits.
TRAINER_IDLE_S = 60.0
_THREAD = threading.local()  # this executor thread's trainer


def run_point(task: PointTask, channel: Channel) -> PointResult:
    """Train one point in a trainer process (``Trainer``) and bring back its run folder.

    Called by the executor's worker (a pool thread, a Dask worker, a process): each of its
    threads keeps one trainer for the points it runs, with one GPU where ``channel`` hands
    them out.

    Returns:
        A ``PointResult``; a trainer that raised or was killed gives ``state="failed"`` with
        the reason, and whatever record it had written.
    """
    began = time.perf_counter()
    host = os.uname().nodename
    if channel.stop_requested():
        return PointResult(task.name, "cancelled", "stopped before it started", host=host)
    trainer: Trainer | None = getattr(_THREAD, "trainer", None)
    if trainer is None or not trainer.usable(task.env):
        if trainer is not None:
            trainer.close()
            channel.give_gpu(trainer.gpu)
        trainer = _THREAD.trainer = Trainer(task.env, channel.take_gpu())
    last = trainer.train(task, channel)
    files = trainer.take_folder(task.name)
    code = trainer.process.returncode
    state, reason = _outcome(code, last, trainer.errors, channel.stop_requested())
    if code is not None or trainer.stopped:  # the next point starts another
        trainer.close()
        channel.give_gpu(trainer.gpu)
        _THREAD.trainer = None
    return PointResult(task.name, state, reason, files, host, time.perf_counter() - began)


def _outcome(
    code: int | None, last: SweepEvent | None, errors: Path, stopped: bool
) -> tuple[PointState, str]:
    """The point's state and reason from the trainer's exit status and last event."""
    if isinstance(last, Finished):
        return last.status, ""  # type: ignore[return-value]
    if isinstance(last, Failed):
        return "failed", last.message
    if stopped:
        return ("interrupted" if last else "cancelled"), "stopped by Ctrl-C"
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory, or killed by hand)" if name == "SIGKILL" else ""
        return "failed", f"its process was killed by {name}{hint}"
    tail = errors.read_text(errors="replace").strip().splitlines()[-STDERR_LINES:]
    return "failed", f"its process exited with status {code}: " + (
        tail[-1] if tail else "no message"
    )


class Events:
    """The trainer's listener (``nbmnist.display.Listener``): each event as one JSON line on
    the events stream."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def emit(self, event: SweepEvent) -> None:
        self.stream.write(to_line(event))
        self.stream.flush()

    def run_started(self, info: Any) -> None:
        self.emit(Started(epochs=info.epochs, pid=os.getpid()))

    def epoch_completed(self, log: Any) -> None:
        last = {key: value for key, value in log.last().items() if value == value}  # no NaN
        self.emit(EpochEnded(epoch=log.epochs, metrics=last))

    def run_finished(self, run: Any) -> None:
        pass  # the final event follows train(): its status is the run's final one


def main() -> None:
    """The trainer (``python -m nbmnist.sweeps.trainer``): read ``PointTask`` s as JSON lines
    on stdin and train each into ``$NBMNIST_RUNS``, writing events as JSON lines on stdout;
    exit when stdin closes or after ``TRAINER_IDLE_S`` without a point. Anything else printed
    goes to stderr."""
    import select

    events = Events(os.fdopen(os.dup(1), "w"))
    os.dup2(2, 1)  # prints, Keras' and the frameworks' included, go to stderr
    from nbmnist.backend import release_memory
    from nbmnist.errors import NbmnistError
    from nbmnist.training import train

    while select.select([sys.stdin], [], [], TRAINER_IDLE_S)[0]:
        line = sys.stdin.readline()
        if not line:
            return
        task = PointTask(**json.loads(line))
        try:
            run = train(
                task.text,
                task.kind,  # type: ignore[arg-type]
                task.name,
                variables=task.variables,
                display=events,
                show_summary=False,
                models_in_cell=task.models_in_cell,
                **{**task.options, "live": False, "overwrite": True, "runs_dir": None},
            )
            events.emit(Finished(status=run.status))
        except KeyboardInterrupt:
            events.emit(Finished(status="interrupted"))
        except NbmnistError as err:
            events.emit(Failed(message=f"{type(err).__name__}: {err}"))
        except Exception as err:
            message = str(err).strip().splitlines()[0] if str(err).strip() else ""
            events.emit(Failed(message=f"{type(err).__name__}: {message[:300]}"))
            raise  # its state is unknown: exit, the next point starts another trainer
        finally:
            from nbmnist.runs import clear

            clear()  # the session's runs: this process keeps none
            release_memory()


if __name__ == "__main__":
    main()
