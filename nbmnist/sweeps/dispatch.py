"""Where a sweep's points train: in trainer processes, outside the kernel, on any executor.

A sweep hands each point to a ``concurrent.futures.Executor`` as one call of
``nbmnist.sweeps.trainer.run_point``: the default local pool (threads of the kernel, each
driving one trainer process), a ``distributed.Client``'s executor (a Dask cluster), or any
other. ``run_point`` hands the point to a trainer process (``nbmnist.sweeps.trainer``: one per
executor thread, reused for a few points) and watches it, so that

- the process that trains holds the points' memory (Keras, traced graphs) and gives all of it
  back when it is replaced: the notebook's kernel only plans, dispatches, collects and draws;
- a trainer killed mid-point (out of memory, ``kill -9``) is one ``failed`` point with the
  reason, not a broken pool: the executor's own worker only waited on it;
- the run record and saved model come back as bytes (``PointResult.files``), so a worker
  needs no access to the notebook's disk; the kernel writes them to its store.

Progress (``nbmnist.sweeps.events``: started, each epoch, finished) and the request to stop
(Ctrl-C in the notebook) travel through a ``Channel``: a queue and an event in the kernel for
the default pool, a ``multiprocessing`` manager's for another executor on this machine, Dask's
``Queue`` and ``Event`` (through the scheduler) on a cluster.

This module imports only the standard library at module level: an executor's worker that
runs ``run_point`` never imports Keras; the trainer it starts does.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nbmnist.sweeps.events import SweepEvent, from_json, to_json

#: Environment a point's trainer takes from the notebook's kernel (where set there): the
#: Keras backend, the data folder, fast mode, the Keras cache.
FORWARDED_ENV = (
    "KERAS_BACKEND",
    "NBMNIST_DATA",
    "NBMNIST_FAST",
    "NBMNIST_DOWNLOAD",
    "KERAS_HOME",
)
#: Set for every trainer: a GPU's memory is taken as needed, not all at once, so that
#: several points can share one (TensorFlow and JAX preallocate by default).
GPU_MEMORY_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
#: How often a waiting ``run_point`` checks whether the notebook asked to stop (seconds).
STOP_POLL_S = 0.2
#: The trainer's last lines of stderr kept as the reason a point failed.
STDERR_LINES = 20

PointState = Literal["completed", "interrupted", "diverged", "failed", "cancelled"]


#: The trainer processes this process started (``nbmnist.sweeps.trainer.Trainer``), each
#: with a ``close()``: closed at the end of a sweep on the default local pool.
LOCAL_TRAINERS: set[Any] = set()
LOCAL_TRAINERS_LOCK = threading.Lock()


def close_trainers() -> None:
    """Let every trainer this process started exit (at the end of a sweep on a local pool)."""
    with LOCAL_TRAINERS_LOCK:
        trainers = list(LOCAL_TRAINERS)
    for trainer in trainers:
        trainer.close()


@dataclass(frozen=True)
class PointTask:
    """One sweep point to train, as plain data (it may travel to another machine).

    Attributes:
        name: the run's name, e.g. ``drop[rate=0.3]``.
        text: the cell body.
        kind: ``"mlp"`` or ``"cnn"``.
        variables: the ``{name}`` values the body uses, as text (the grid point's included).
        options: ``train``'s keyword options for this point (JSON values).
        models_in_cell: the sweep's number of points (fast mode shares its budget).
        env: environment variables for the trainer (``FORWARDED_ENV`` as the kernel has them).
    """

    name: str
    text: str
    kind: str
    variables: dict[str, str]
    options: dict[str, Any]
    models_in_cell: int = 1
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PointResult:
    """What came back from a point.

    Attributes:
        name: the run's name.
        state: ``completed``, ``interrupted`` (stopped by Ctrl-C after an epoch group),
            ``diverged``, ``failed`` (the trainer raised or was killed; see ``reason``) or
            ``cancelled`` (stopped before it started).
        reason: one line saying why a point failed ("" otherwise).
        files: the run's folder as written by the trainer: file name -> bytes (``run.json``,
            ``model.keras``); empty if it failed before its record was written.
        host: the machine that trained it.
        seconds: wall time of the trainer process, start to exit.
    """

    name: str
    state: PointState
    reason: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    host: str = ""
    seconds: float = 0.0


class Channel:
    """Progress from the points to the kernel, and the kernel's request to stop them.

    ``put`` and ``stop_requested`` are called where the points run; ``events`` and ``stop``
    in the kernel. Subclasses give the transport.
    """

    def put(self, name: str, event: SweepEvent) -> None:
        raise NotImplementedError

    def events(self) -> list[tuple[str, SweepEvent]]:
        """The events received since the last call, oldest first (never blocks)."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def stop_requested(self, timeout: float = 0.0) -> bool:
        raise NotImplementedError

    def take_gpu(self) -> str | None:
        """A GPU index for this point's trainer, or None (no GPUs handed out here)."""
        return None

    def give_gpu(self, gpu: str | None) -> None:
        """Give back what ``take_gpu`` handed out."""

    def close(self) -> None:
        """Free the transport (in the kernel, after the sweep)."""


class ThreadChannel(Channel):
    """A queue and an event in the kernel's memory: for the default local pool, whose
    workers are the kernel's threads, each starting and watching one trainer process. With
    ``gpus``, each trainer takes a GPU index and gives it back after, so that each GPU trains
    one point at a time."""

    def __init__(self, gpus: list[str] | None = None) -> None:
        self._queue: queue.SimpleQueue[tuple[str, SweepEvent]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._gpus: queue.SimpleQueue[str] | None = queue.SimpleQueue() if gpus else None
        for gpu in gpus or []:
            assert self._gpus is not None
            self._gpus.put(gpu)

    def put(self, name: str, event: SweepEvent) -> None:
        self._queue.put((name, event))

    def events(self) -> list[tuple[str, SweepEvent]]:
        found = []
        with contextlib.suppress(queue.Empty):
            while True:
                found.append(self._queue.get_nowait())
        return found

    def stop(self) -> None:
        self._stop.set()

    def stop_requested(self, timeout: float = 0.0) -> bool:
        return bool(self._stop.wait(timeout) if timeout else self._stop.is_set())

    def take_gpu(self) -> str | None:
        return None if self._gpus is None else self._gpus.get()

    def give_gpu(self, gpu: str | None) -> None:
        if self._gpus is not None and gpu is not None:
            self._gpus.put(gpu)


class LocalChannel(ThreadChannel):
    """A ``multiprocessing`` manager's queue and event: for an executor of other processes
    on this machine (e.g. a ``ProcessPoolExecutor`` passed in)."""

    def __init__(self) -> None:
        import multiprocessing

        # spawn: the kernel may hold TensorFlow's or JAX's threads, which fork would copy
        # in an unknown state; the manager's process ignores Ctrl-C (bpo-36368)
        self._manager: Any = multiprocessing.get_context("spawn").Manager()
        self._queue = self._manager.Queue()  # type: ignore[assignment]  # a proxy, same methods
        self._stop = self._manager.Event()
        self._gpus = None

    def __getstate__(self) -> dict[str, Any]:  # the proxies travel; the manager stays home
        return {key: value for key, value in self.__dict__.items() if key != "_manager"}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._manager.shutdown()


class DaskChannel(Channel):
    """Dask's ``Queue`` and ``Event``, held by the scheduler: for points on a Dask cluster,
    whose workers may not reach the kernel's machine but always reach the scheduler.

    Only their names travel with a task; each side opens them with its own client (a
    ``Queue`` passed in a task's arguments would be unpickled by the scheduler too, which
    deadlocks a ``LocalCluster`` whose scheduler runs in the kernel).
    """

    def __init__(self, client: Any) -> None:
        import uuid

        self._client = client
        self._name = f"nbmnist-sweep-{uuid.uuid4().hex}"
        self._opened: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"_name": self._name, "_client": None, "_opened": {}}

    def _open(self, kind: str) -> Any:
        if kind not in self._opened:
            from distributed import Event, Queue, get_client

            client = self._client or get_client()
            make = Queue if kind == "queue" else Event
            self._opened[kind] = make(name=f"{self._name}-{kind}", client=client)
        return self._opened[kind]

    def put(self, name: str, event: SweepEvent) -> None:
        self._open("queue").put([name, to_json(event)])  # Dask's queue takes msgpack-able data

    def events(self) -> list[tuple[str, SweepEvent]]:
        waiting = self._open("queue").qsize()
        if not waiting:
            return []
        items = self._open("queue").get(batch=waiting)
        return [(str(name), from_json(event)) for name, event in items]

    def stop(self) -> None:
        self._open("event").set()

    def stop_requested(self, timeout: float = 0.0) -> bool:
        if timeout:
            return bool(self._open("event").wait(timeout))
        return bool(self._open("event").is_set())


def gpu_ids() -> list[str]:
    """The indices of this machine's NVIDIA GPUs (``CUDA_VISIBLE_DEVICES`` where set, else
    ``nvidia-smi -L``), without importing a framework; [] where there are none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip() and gpu.strip() != "-1"]
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def default_workers(gpus: list[str] | None = None) -> int:
    """Points trained at once by default: one per GPU where there are GPUs, else one per
    4 CPU cores (1 on a 2-core machine: a Keras model already uses every core)."""
    gpus = gpu_ids() if gpus is None else gpus
    return len(gpus) if gpus else max(1, (os.cpu_count() or 1) // 4)


@dataclass
class Dispatch:
    """The executor a sweep runs on and the channel its points report through.

    Attributes:
        executor: a ``concurrent.futures.Executor``.
        channel: the ``Channel`` for that executor.
        workers: points trained at once (as far as known; informative).
        where: one line for the user, e.g. ``"a local process pool of 2 workers"``.
        close_executor: what frees the executor after the sweep, if the sweep made it (a
            local pool: shut down, queued points cancelled; a Dask client: closed).
    """

    executor: concurrent.futures.Executor
    channel: Channel
    workers: int
    where: str
    close_executor: Callable[[], None] | None = None

    def close(self) -> None:
        if self.close_executor is not None:
            self.close_executor()
        self.channel.close()


def executor_workers(executor: concurrent.futures.Executor) -> int:
    """How many tasks a user's ``concurrent.futures`` executor runs at once: the standard
    library says so only in the private ``_max_workers`` (set by its thread and process
    pools); another executor counts as this machine's cores."""
    count = getattr(executor, "_max_workers", None)
    return count if isinstance(count, int) and count > 0 else os.cpu_count() or 1


def dispatch(executor: Any = None, workers: int | None = None) -> Dispatch:
    """The executor and channel for a sweep.

    Args:
        executor: None or ``"processes"``: ``workers`` trainer processes at a time on this
            machine (started and watched by a ``ThreadPoolExecutor``), each GPU handed to
            one point at a time; a
            ``"dask://HOST:PORT"`` (or ``"tcp://..."``) address: the Dask cluster whose
            scheduler is there; a ``distributed.Client``: its cluster; any other
            ``concurrent.futures.Executor``: used as it is (points report progress through
            a ``multiprocessing`` manager, so it must run them on this machine).
        workers: processes of the local pool; None: ``default_workers()``.

    Raises:
        OptionError: ``workers`` below 1, an executor that is none of the above, or a Dask
            address without ``distributed`` installed.
    """
    check_executor(executor, workers)
    if isinstance(executor, str) and executor.startswith(DASK_PREFIXES):
        try:
            from distributed import Client
        except ImportError as err:
            from nbmnist.errors import OptionError

            raise OptionError(
                f"executor {executor!r} needs Dask: pip install 'nbmnist[dask]'"
            ) from err
        address = "tcp://" + executor.removeprefix("dask://").removeprefix("tcp://")
        if executor.startswith("tls://"):
            address = executor
        client = Client(address)
        return Dispatch(
            client.get_executor(pure=False),
            DaskChannel(client),
            len(client.scheduler_info()["workers"]),
            f"the Dask cluster at {executor}",
            client.close,
        )
    if _is_dask_client(executor):
        workers = len(executor.scheduler_info()["workers"])
        return Dispatch(
            executor.get_executor(pure=False),
            DaskChannel(executor),
            workers,
            f"the Dask cluster of {executor.scheduler.address} ({workers} workers)",
        )
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        count = executor_workers(executor)
        return Dispatch(executor, ThreadChannel(), count, f"{count} threads")
    if isinstance(executor, concurrent.futures.Executor):
        count = executor_workers(executor)
        return Dispatch(executor, LocalChannel(), count, type(executor).__name__)
    gpus = gpu_ids()
    count = workers or default_workers(gpus)
    # The pool's workers only start and watch the trainer processes (``run_point``), so
    # they are the kernel's threads: no idle Python process per worker, and no
    # ``if __name__ == "__main__"`` needed in a script, as a spawned pool would need.
    pool = concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="nbmnist-point")
    per = f", one GPU each of {len(gpus)}" if gpus else ""
    plural = "es" if count > 1 else ""
    return Dispatch(
        pool,
        ThreadChannel(gpus),
        count,
        f"{count} local process{plural}{per}",
        lambda: _close_pool(pool),
    )


DASK_PREFIXES = ("dask://", "tcp://", "tls://")


def check_executor(executor: Any, workers: int | None) -> None:
    """Refuse, before anything trains, what ``dispatch`` cannot use.

    Raises:
        OptionError: ``workers`` below 1, or an executor that is not ``"processes"``, a Dask
            address, a ``distributed.Client`` or a ``concurrent.futures.Executor``.
    """
    from nbmnist.errors import OptionError

    if workers is not None and workers < 1:
        raise OptionError(f"workers must be 1 or more, got {workers}")
    usable = (
        executor in (None, "processes")
        or (isinstance(executor, str) and executor.startswith(DASK_PREFIXES))
        or _is_dask_client(executor)
        or isinstance(executor, concurrent.futures.Executor)
    )
    if not usable:
        raise OptionError(
            f"executor {executor!r}: use 'processes', 'dask://HOST:8786', 'kernel', a "
            "distributed.Client or a concurrent.futures.Executor"
        )


def _close_pool(pool: concurrent.futures.ThreadPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    close_trainers()


def _is_dask_client(value: Any) -> bool:
    return type(value).__name__ == "Client" and type(value).__module__.startswith("distributed")


def forwarded_env(local: bool) -> dict[str, str]:
    """The kernel's ``FORWARDED_ENV``; for a trainer on this machine also the folder nbmnist
    is imported from (``PYTHONPATH``), so a source checkout trains the same code."""
    env = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
    if local:
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    return env
