"""The record of a training run, the session's registry, and the run store on disk.

A store is a folder (default ``./nbmnist-runs``, or ``NBMNIST_RUNS``) with one subfolder per
run: ``run.json`` (declaration, options, environment, per-epoch history, final metrics,
status, wall time, who writes it) and ``model.keras``, the model of a recent epoch while it
trains and the final model once it ends. ``run.json`` is rewritten after every epoch by an
atomic replace (temporary file, fsync, rename, fsync of the folder), so a kernel killed at
any moment leaves the last completed epoch readable and never a torn file. A run whose
writing process is gone loads as ``killed``; the temporary files such a process left are
removed by the next run written to the store.
Nothing is pickled: the record is JSON and the model is Keras' own format, loaded with
``safe_mode=True`` on first access.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import keyword
import math
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from nbmnist.errors import RunStoreError
from nbmnist.metric_log import MetricLog

Status = Literal["running", "completed", "interrupted", "diverged", "killed"]
SCHEMA_VERSION = 1
RECORD = "run.json"
MODEL = "model.keras"
DEFAULT_STORE = "nbmnist-runs"
STAGING = ".nbmnist-staging"


@dataclass
class Run:
    """One trained model and everything needed to report on it.

    Attributes:
        name: unique name in the session and the store.
        kind: ``"mlp"`` or ``"cnn"``.
        declaration: the cell body as written.
        variables: the value, as text, put in for each ``{name}`` placeholder of
            ``declaration`` (e.g. ``{"rate": "0.2"}``; a sweep's grid point included).
        options: the training options used (snake_case names, as ``nbmnist.train`` takes).
        history: per-epoch metrics, Keras' names: ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy`` (validation entries only when validating); one float per epoch.
        test_loss: loss on the test set after training (None if not evaluated).
        test_accuracy: accuracy in [0, 1] on the test set (None if not evaluated).
        num_params: total parameters; ``num_non_trainable_params`` the BatchNorm statistics.
        wall_time_s: seconds from the start of ``fit`` to the end of the test evaluation.
        data_source: where the data came from; names the bundled sample when it was used.
        uses_sample: trained on the bundled sample, not the full dataset.
        status: ``running`` (training now), ``completed``, ``interrupted`` (Ctrl-C),
            ``diverged`` (loss became NaN) or ``killed`` (its process ended while it
            trained: the record on disk still says ``running``; see ``Writer``).
        architecture: short description, e.g. ``dense 430-322-10``.
        uses_batchnorm: the model has BatchNormalization layers.
        dropout_rates: distinct dropout rates, in order of use.
        head_appended: nbmnist appended the output layer ``dense 10 softmax``.
        epoch_seconds: wall time of each completed epoch, in seconds.
        created: when training started (ISO 8601, UTC).
        environment: versions (Python, Keras, the backend's framework, NumPy, nbmnist), the
            Keras backend and the device.
        execution: how it trained on that backend and device (``backend.Execution``):
            precision policy, XLA compilation, batches per call and why, data on the device.
        model_path: the saved ``model.keras``, if the run is in a store.
        model_epoch: the epoch (1-based) whose model ``model_path`` holds; the last one once
            training ends, an earlier one for a ``killed`` run; None: no model saved.
        plan: what ran (``TrainingPlan.record``): epochs and training images after fast
            mode, optimizer class, Keras loss, input shape, batches per call; ``options``
            holds the options as the user gave them.
        identity: what identifies the plan (``TrainingPlan.identity``): the layers after
            substitution, the options that decide what is learned, and whether the data was
            the sample. A sweep resumes a stored point only when this equals the cell's.
        caveats: why its scores do not represent the model, one line each (``SHORT:
            explanation and what to do``; ``TrainingPlan.caveats``), e.g. batch
            normalization whose moving averages saw too few updates to settle.
        weight_quantiles: per Dense/Conv2D kernel (labelled as the violins are), one list
            per completed epoch of its 5%, 25%, 50%, 75% and 95% quantiles
            (``plots.WEIGHT_QUANTILES``): how the weights moved, without storing them.
        writer: who writes the record while it trains (``Writer.record``): host, process
            id and start time, heartbeat (ISO 8601, UTC).
        model: the trained ``keras.Model``; loaded from ``model_path`` on first access.
    """

    name: str
    kind: str
    declaration: str
    options: dict[str, Any]
    history: dict[str, list[float]]
    test_loss: float | None
    test_accuracy: float | None
    num_params: int
    wall_time_s: float
    data_source: str
    status: Status
    uses_sample: bool = False
    architecture: str = ""
    uses_batchnorm: bool = False
    dropout_rates: tuple[float, ...] = ()
    head_appended: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    num_non_trainable_params: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    created: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    model_epoch: int | None = None
    writer: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)
    weight_quantiles: dict[str, list[list[float]]] = field(default_factory=dict)
    model_path: str | None = None
    _model: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def model(self) -> Any:
        """The trained ``keras.Model`` (loaded from ``model_path`` with Keras' safe mode)."""
        if self._model is None and self.model_path and Path(self.model_path).is_file():
            from nbmnist.backend import load_model

            try:
                self._model = load_model(self.model_path)
            except Exception as err:  # Keras raises many kinds for a damaged file
                reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise RunStoreError(
                    f"{self.model_path}: cannot load this run's model "
                    f"({type(err).__name__}: {reason[:200]}); the record is still readable"
                ) from err
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.history.get("loss", []))

    def best_epoch(self, metric: str = "val_accuracy") -> tuple[int, float] | None:
        """(1-based epoch, value) of the best ``metric`` (highest accuracy, lowest loss)."""
        return MetricLog(self.history, self.epoch_seconds).best(metric)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record written to ``run.json`` (NaN and infinities as null)."""
        record: dict[str, Any] = {"schema": SCHEMA_VERSION}
        for name in RECORD_FIELDS:
            record[name] = getattr(self, name)
        record["dropout_rates"] = list(self.dropout_rates)
        record["model_path"] = MODEL if self.model_path else None
        safe: dict[str, Any] = _json_safe(record)
        return safe

    @classmethod
    def from_record(cls, record: Any, folder: Path) -> Run:
        """A ``Run`` from a ``run.json`` record found in ``folder``.

        Raises:
            RunStoreError: the record is not a run record of this schema: not a JSON object,
                a field missing or of the wrong type (one line naming the file and field).
        """
        if not isinstance(record, dict):
            raise RunStoreError(
                f"{folder / RECORD}: not a run record (a JSON object was expected, "
                f"found {type(record).__name__})"
            )
        if record.get("schema") != SCHEMA_VERSION:
            raise RunStoreError(
                f"{folder / RECORD}: schema {record.get('schema')!r} is not {SCHEMA_VERSION}; "
                "it was written by another nbmnist version"
            )
        _check_fields(record, folder / RECORD)
        values = {name: record[name] for name in RECORD_FIELDS if name in record}
        values["history"] = {
            key: [math.nan if v is None else float(v) for v in series]
            for key, series in values.get("history", {}).items()
        }
        values["dropout_rates"] = tuple(values.get("dropout_rates", ()))
        model = folder / MODEL
        values["model_path"] = str(model) if model.is_file() else None
        if values["model_path"] is None:
            values["model_epoch"] = None
        run = cls(**values)
        if run.status == "running" and run.writer and not Writer.alive(run.writer, folder):
            run.status = "killed"  # in memory only: reading never rewrites the store
        return run

    def __repr__(self) -> str:
        accuracy = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return (
            f"Run({self.name!r}, {self.kind}, {self.architecture}, {self.num_params:,} params, "
            f"{self.epochs} epochs, test_accuracy={accuracy}, status={self.status!r})"
        )


_NUMBER = (int, float)
#: What each field of a record must be: accepted JSON types, and whether it is required.
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), True),
    "kind": ((str,), True),
    "declaration": ((str,), True),
    "variables": ((dict,), False),
    "options": ((dict,), True),
    "history": ((dict,), True),
    "test_loss": ((*_NUMBER, type(None)), True),
    "test_accuracy": ((*_NUMBER, type(None)), True),
    "num_params": ((int,), True),
    "wall_time_s": ((*_NUMBER, type(None)), True),
    "data_source": ((str,), True),
    "status": ((str,), True),
    "uses_sample": ((bool,), False),
    "architecture": ((str,), False),
    "uses_batchnorm": ((bool,), False),
    "dropout_rates": ((list,), False),
    "head_appended": ((bool,), False),
    "num_non_trainable_params": ((int,), False),
    "epoch_seconds": ((list,), False),
    "created": ((str,), False),
    "environment": ((dict,), False),
    "execution": ((dict,), False),
    "model_epoch": ((int, type(None)), False),
    "writer": ((dict,), False),
    "plan": ((dict,), False),
    "identity": ((dict,), False),
    "caveats": ((list,), False),
    "weight_quantiles": ((dict,), False),
}
#: The fields of ``run.json`` besides ``schema``, in the order they are written.
RECORD_FIELDS = tuple(_FIELD_TYPES)
STATUSES = ("running", "completed", "interrupted", "diverged", "killed")


def _numbers(values: Any, allow_null: bool = False) -> bool:
    """True if ``values`` is a JSON list of numbers (and nulls, if allowed); no booleans."""
    return isinstance(values, list) and all(
        (allow_null and v is None) or (isinstance(v, _NUMBER) and not isinstance(v, bool))
        for v in values
    )


def _check_fields(record: dict[str, Any], path: Path) -> None:
    """Raise ``RunStoreError`` naming the first field of ``record`` that a ``Run`` cannot
    hold: missing, of the wrong JSON type, a history series that is not numbers, or an
    unknown status."""
    for name, (types, required) in _FIELD_TYPES.items():
        if name not in record:
            if required:
                raise RunStoreError(f"{path}: the record has no {name!r}")
            continue
        value = record[name]
        wrong_bool = isinstance(value, bool) and bool not in types
        if not isinstance(value, types) or wrong_bool:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise RunStoreError(f"{path}: {name!r} is {type(value).__name__}, expected {expected}")
    for key, series in record["history"].items():
        if not _numbers(series, allow_null=True):  # null: a NaN or infinite epoch
            raise RunStoreError(f"{path}: history {key!r} is not a list of numbers")
    for name in ("epoch_seconds", "dropout_rates"):
        if not _numbers(record.get(name, [])):
            raise RunStoreError(f"{path}: {name!r} is not a list of numbers")
    if record["status"] not in STATUSES:
        raise RunStoreError(
            f"{path}: status {record['status']!r} is not one of {', '.join(STATUSES)}"
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves the old or the
    new content, never a mix: write a temporary file beside it, fsync, rename, fsync the
    folder."""
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.{Writer.tag()}.", suffix=TEMPORARY, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


_NAME = re.compile(r"[^\x00-\x1f/\\:*?\"<>|]+")
#: The longest run name: a folder name, with room for ``_2`` and temporary-file suffixes.
MAX_NAME_LENGTH = 120
#: Characters a shell takes as they are, unquoted: a folder name made of these can be typed.
_SHELL_SAFE = "A-Za-z0-9_.,=+-"
#: How a folder made by ``folder_name`` from a name with other characters ends.
_HASHED = re.compile(r"-[0-9a-f]{8}$")


def check_run_name(name: str, variable: bool = False) -> None:
    """The one rule for run names. A run name is at most ``MAX_NAME_LENGTH`` characters, does
    not start with ``.`` and holds no control character nor any of ``/ \\ : * ? " < > |``.
    A name given in a cell (``variable``: it becomes the notebook variable holding the run)
    is also a Python name. Derived names keep to the rule: a re-run is ``NAME_2``,
    ``NAME_3``... (``RunStore.claim``), a sweep point ``NAME[rate=0.1,units=64]``
    (``point_name``), stored in a shell-safe folder (``folder_name``).

    Raises:
        RunStoreError: one line saying what is wrong with ``name``.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise RunStoreError(
            f"run name {name[:20]!r}... is {len(name)} characters long; "
            f"use at most {MAX_NAME_LENGTH}"
        )
    if variable and (not name.isidentifier() or keyword.iskeyword(name)):
        raise RunStoreError(
            f"run name {name!r} is not a Python name; use letters, digits and _ (e.g. relu_2h)"
        )
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise RunStoreError(
            f"run name {name!r} cannot be a folder name; use letters, digits, _ . - [ ] ="
        )


def point_name(base: str, point: Mapping[str, str]) -> str:
    """A sweep point's run name: ``drop[rate=0.3]``, ``net[rate=0.3,units=64]``."""
    return f"{base}[{','.join(f'{k}={v}' for k, v in point.items())}]"


def folder_name(name: str) -> str:
    """The folder a run named ``name`` is stored in: ``name`` itself where every character
    is shell-safe (letters, digits, ``_ . , = + -``), else the name with each stretch of
    other characters made ``_`` and an 8-digit hash of the full name added, so that two
    names never share a folder: ``drop[rate=0.1]`` is stored in ``drop_rate=0.1-<hash>``.
    The run keeps its name (in ``run.json``, tables and ``%nbmnist_runs``)."""
    if re.fullmatch(f"[{_SHELL_SAFE}]+", name) and not _HASHED.search(name):
        return name
    readable = re.sub(f"[^{_SHELL_SAFE}]+", "_", name).strip("_") or "run"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


#: How temporary files and folders in a store end (see ``RunStore.clean``).
TEMPORARY = ".nbmnist-tmp"
#: A run whose writer is on another host is taken as dead once its heartbeat is this old
#: (seconds); on the same host the process itself is checked.
STALE_HEARTBEAT_S = 6 * 3600


@contextlib.contextmanager
def _write_errors(path: Path, what: str) -> Iterator[None]:
    """``OSError`` while writing ``path`` as one line, saying the previous one is intact."""
    try:
        yield
    except OSError as err:
        reason = err.strerror or str(err)
        raise RunStoreError(
            f"{path}: cannot write the run's {what} ({reason}); the previous {what} is "
            "intact. Free some space (or choose another runs_dir) and run the cell again"
        ) from err


class Writer:
    """The process writing records: identified by host, process id and the process's start
    time (so a reused process id is not mistaken for it)."""

    #: Folders whose runs this process is training now.
    writing: ClassVar[set[str]] = set()

    @staticmethod
    def _started(pid: int) -> str | None:
        """When process ``pid`` started (clock ticks since boot, Linux), or None."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return stat.rsplit(")", 1)[-1].split()[19]

    @classmethod
    def record(cls) -> dict[str, Any]:
        """This process, with a heartbeat of now."""
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": cls._started(os.getpid()),
            "heartbeat": now(),
        }

    #: A ``tag``: host digest, process id, start time (0: unknown).
    TAG = re.compile(r"w([0-9a-f]{8})-(\d+)-(\d+)")

    @staticmethod
    def _host() -> str:
        """This host in a tag: the first 8 hex digits of its name's SHA-1."""
        return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]

    @classmethod
    def tag(cls) -> str:
        """This process in a file name (``TAG``)."""
        return f"w{cls._host()}-{os.getpid()}-{cls._started(os.getpid()) or 0}"

    @classmethod
    def alive(cls, writer: dict[str, Any], folder: Path | None = None) -> bool:
        """Whether the process ``writer`` (a ``record``) may still be writing ``folder``."""
        if writer.get("host") != socket.gethostname():
            try:
                beat = datetime.fromisoformat(str(writer.get("heartbeat")))
            except ValueError:
                return False
            return (datetime.now(UTC) - beat).total_seconds() < STALE_HEARTBEAT_S
        pid = writer.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return False
        if pid == os.getpid() and writer.get("started") == cls._started(pid):
            return folder is None or str(folder) in cls.writing
        return cls._process_alive(pid, writer.get("started"))

    @classmethod
    def _process_alive(cls, pid: int, started: Any) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # someone else's process: it exists
        current = cls._started(pid)
        return current is None or started is None or current == started

    @classmethod
    def tag_alive(cls, tag: str) -> bool:
        """Whether the writer named by a ``tag`` (in a temporary file's name) is alive; a tag
        from another host counts as alive (it cannot be checked from here)."""
        match = cls.TAG.fullmatch(tag)
        if match is None or match[1] != cls._host():
            return True
        pid, started = int(match[2]), match[3]
        if pid == os.getpid():
            return started == (cls._started(pid) or "0")
        return cls._process_alive(pid, None if started == "0" else started)


class RunStore:
    """A folder of runs, one subfolder each (``run.json`` and ``model.keras``).

    Args:
        root: the folder; created on the first write.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.skipped: list[str] = []  # what the last iteration could not read, one line each

    @classmethod
    def default(cls, root: str | None = None) -> RunStore:
        """``root``, else ``$NBMNIST_RUNS``, else ``./nbmnist-runs`` (beside the notebook)."""
        return cls(root or os.environ.get("NBMNIST_RUNS") or DEFAULT_STORE)

    def check(self) -> None:
        """Raise ``RunStoreError`` if the store cannot be a folder (a file is in the way), so a
        run fails before training rather than when its first epoch is saved."""
        for path in (self.root, *self.root.parents):
            if path.exists():
                if not path.is_dir():
                    raise RunStoreError(
                        f"{path}: the run store must be a folder, and this is a file; "
                        "choose another runs_dir (or NBMNIST_RUNS)"
                    )
                return

    def folder(self, name: str) -> Path:
        """The folder of the run ``name``: ``folder_name(name)`` in the store, or, for a run
        an earlier nbmnist stored under its name as written, that folder if it exists.

        Raises:
            RunStoreError: ``name`` cannot be a run name (characters, length).
        """
        check_run_name(name)
        folder = self.root / folder_name(name)
        legacy = self.root / name
        if folder != legacy and not folder.exists() and (legacy / RECORD).is_file():
            return legacy
        return folder

    def _folders(self) -> list[Path]:
        """The folders holding a ``run.json``, oldest record first."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            record = folder / RECORD
            if record.is_file():
                found.append((record.stat().st_mtime, folder))
        return [folder for _, folder in sorted(found)]

    def names(self) -> list[str]:
        """Names of the runs in the store, oldest first (a folder whose record is unreadable
        is listed under the folder's name)."""
        names = []
        for folder in self._folders():
            name = folder.name
            if folder_name(name) != name:  # the folder of another name: its record says
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    name = str(json.loads((folder / RECORD).read_text()).get("name", name))
            names.append(name)
        return names

    def __contains__(self, name: object) -> bool:
        try:
            return isinstance(name, str) and (self.folder(name) / RECORD).is_file()
        except RunStoreError:
            return False

    def write(self, run: Run, folder: Path | None = None) -> None:
        """Write (or rewrite) ``run``'s record atomically, in its folder or in ``folder``.

        Raises:
            RunStoreError: the disk refused the write (full, read-only, ...); the previous
                record is intact.
        """
        folder = folder or self.folder(run.name)
        data = json.dumps(run.to_record(), indent=1, allow_nan=False).encode()
        with _write_errors(folder / RECORD, "record"):
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / RECORD, data)

    def save_model(self, run: Run, model: Any, folder: Path | None = None) -> None:
        """Save ``model`` as the run's ``model.keras`` (atomically), in its folder or in
        ``folder``, and point the run at it, as the model of its last completed epoch."""
        folder = folder or self.folder(run.name)
        temporary = folder / f".{MODEL}.{Writer.tag()}{TEMPORARY}.keras"
        from nbmnist.backend import keras_calls

        with _write_errors(folder / MODEL, "model"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with keras_calls():
                    model.save(temporary)
                with open(temporary, "rb") as file:
                    os.fsync(file.fileno())
                os.replace(temporary, folder / MODEL)
            finally:
                temporary.unlink(missing_ok=True)
        run.model_path = str(folder / MODEL)
        run.model_epoch = run.epochs or None

    def remove(self, name: str) -> None:
        """Delete a run's folder (``--overwrite`` of a run that never completed)."""
        folder = self.folder(name)
        if folder.is_dir():
            shutil.rmtree(folder)

    def staging(self, name: str) -> Path:
        """Where a run that will replace the completed run ``name`` trains until it completes
        (``STAGING`` in the store, invisible to ``names()``)."""
        folder = self.folder(name)  # the name must be valid
        return self.root / STAGING / f"{folder.name}.{Writer.tag()}{TEMPORARY}"

    def replace(self, name: str, staged: Path, run: Run) -> None:
        """Put the completed ``run``, trained in ``staged``, in place of the run ``name``: the
        old folder is moved aside, the new one renamed in, then the old one deleted, so at
        every moment one complete run is on disk under ``name`` or aside."""
        final = self.folder(name)
        aside = staged.with_name(staged.name + ".replaced")
        if final.is_dir():
            os.replace(final, aside)
        os.replace(staged, final)
        shutil.rmtree(aside, ignore_errors=True)
        if run.model_path:
            run.model_path = str(final / MODEL)

    def keep_as(self, staged: Path, run: Run, name: str) -> None:
        """Store ``run``, trained in ``staged``, as a run of its own named ``name``."""
        final = self.folder(name)
        os.replace(staged, final)
        run.name = name
        self.write(run)
        if run.model_path:
            run.model_path = str(final / MODEL)

    def holds_completed(self, name: str) -> bool:
        """True if the store holds a run ``name`` that completed (or cannot be read): an
        ``--overwrite`` keeps it until its successor completes (``settle``)."""
        if name not in self:
            return False
        try:
            return self.load(name).status == "completed"
        except RunStoreError:
            return True

    def settle(self, name: str, staged: Path, run: Run) -> None:
        """Put ``run``, written in ``staged``, in the store as ``name``: in place of the run
        of that name, unless that one completed and this one did not; this one is then
        stored under a new name (``name_2``...) and the completed one is kept."""
        if run.status == "completed" or not self.holds_completed(name):
            self.replace(name, staged, run)
            return
        kept = self.claim(name, session_names())
        self.keep_as(staged, run, kept)
        print(
            f"nbmnist: {name!r} {run.status}, so the completed run {name!r} is kept; "
            f"this one is saved as {kept!r}"
        )

    def receive(self, name: str, files: Mapping[str, bytes]) -> Run | None:
        """Store a run trained elsewhere (a sweep point's worker) from its folder's files
        (``run.json``, ``model.keras``: name -> bytes), as ``settle`` does: each file written
        atomically in a staging folder, which is then renamed in. A record that still says
        ``running`` (its trainer was killed) is stored as ``killed``.

        Returns:
            The stored run, or None when ``files`` hold no record.

        Raises:
            RunStoreError: the record is unreadable, or the disk refused a write.
        """
        if RECORD not in files:
            return None
        staged = self.staging(name)
        with _write_errors(staged, "run"):
            staged.mkdir(parents=True)
            for file_name in (RECORD, MODEL):
                if file_name in files:
                    atomic_write(staged / file_name, files[file_name])
        run = self._load(staged)
        if run.status in ("running", "killed"):
            run.status = "killed"
            self.write(run, staged)
        run.name = name
        self.settle(name, staged, run)
        return run

    def load(self, name: str) -> Run:
        """The run ``name``.

        Raises:
            RunStoreError: no such run, or its record is unreadable.
        """
        folder = self.folder(name)
        if not (folder / RECORD).is_file():
            raise RunStoreError(f"{folder}: no run named {name!r} in {self.root}")
        return self._load(folder)

    def _load(self, folder: Path) -> Run:
        try:
            record = json.loads((folder / RECORD).read_text())
        except (OSError, ValueError) as err:
            raise RunStoreError(f"{folder / RECORD}: unreadable ({err})") from err
        return Run.from_record(record, folder)

    def __iter__(self) -> Iterator[Run]:
        """The readable runs, oldest first. A record that cannot be read is skipped with one
        line naming it and what is wrong (kept in ``self.skipped``); nothing is changed on
        disk by reading."""
        self.skipped = []
        for folder in self._folders():
            try:
                run = self._load(folder)
            except RunStoreError as err:
                self.skipped.append(str(err))
                print(f"nbmnist: skipped {err}", file=sys.stderr)  # a notice, not output
                continue
            yield run

    def clean(self) -> list[Path]:
        """Remove what writers that are gone left behind: temporary files in run folders and
        staging folders (their names carry the writer's ``Writer.tag``). Returns them."""
        if not self.root.is_dir():
            return []
        found = [*self.root.glob(f"*/.*{TEMPORARY}*"), *self.root.glob(f"{STAGING}/*")]
        removed = []
        for path in found:
            match = re.search(rf"\.({Writer.TAG.pattern})\.", path.name)
            if match is None or Writer.tag_alive(match[1]):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    def claim(self, name: str, taken: Collection[str] = frozenset()) -> str:
        """Claim a folder for a new run: ``name`` if free, else ``name_2``, ``name_3``...

        A name is claimed by creating its folder, an exclusive create: of several processes
        claiming at once (two notebooks in one folder, a sweep's workers) each gets a folder
        of its own. Names in ``taken`` (the session's) are skipped too. ``release`` gives an
        unused claim back.

        Raises:
            RunStoreError: ``name`` cannot be a folder name.
        """
        self.folder(name)
        return self._claim_first(
            itertools.chain([name], (f"{name}_{n}" for n in itertools.count(2))), taken
        )

    def claim_next(self, prefix: str, taken: Collection[str] = frozenset()) -> str:
        """Claim the first free ``prefix_1``, ``prefix_2``... (see ``claim``)."""
        return self._claim_first((f"{prefix}_{n}" for n in itertools.count(1)), taken)

    def _claim_first(self, names: Iterable[str], taken: Collection[str]) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        for candidate in names:
            if candidate in taken:
                continue
            try:
                self.folder(candidate).mkdir()
            except FileExistsError:
                continue
            return candidate
        raise AssertionError("unreachable: the names are endless")

    def release(self, name: str) -> None:
        """Give back the claim on ``name`` if nothing was written in its folder."""
        with contextlib.suppress(OSError):
            self.folder(name).rmdir()  # only an empty folder


class Runs(list[Run]):
    """Runs in order (a list), also found by name: ``runs["relu_2h"]``, ``"relu_2h" in
    runs``, ``runs.names()``; ``runs.by_name()`` is the mapping. A run named twice is found
    as its last one."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for run in reversed(self):
                if run.name == key:
                    return run
            raise KeyError(f"no run named {key!r}; the runs are {', '.join(self.names())}")
        found = super().__getitem__(key)
        return Runs(found) if isinstance(key, slice) else found

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(run.name == item for run in self)
        return super().__contains__(item)

    def names(self) -> list[str]:
        """The runs' names, in order."""
        return [run.name for run in self]

    def by_name(self) -> dict[str, Run]:
        """name -> run (the last run of a name)."""
        return {run.name: run for run in self}


def load_runs(path: str | os.PathLike[str] | None = None) -> Runs:
    """The runs saved in a store, oldest first, also added to the session's runs.

    Models are not loaded until a run's ``model`` is first used (Keras safe mode).

    Args:
        path: the store folder; None: ``$NBMNIST_RUNS`` or ``./nbmnist-runs``.

    Returns:
        ``Runs``: a list, also indexed by name (``load_runs()["relu_2h"]``).
    """
    store = RunStore(path) if path is not None else RunStore.default()
    loaded = Runs(store)
    for run in loaded:
        record(run)
    return loaded


_RUNS: dict[str, Run] = {}


def record(run: Run) -> None:
    """Add ``run`` to the session's runs; a run of the same name is replaced."""
    _RUNS.pop(run.name, None)
    _RUNS[run.name] = run


def runs() -> Runs:
    """The session's runs, in the order they were recorded (``Runs``: also by name)."""
    return Runs(_RUNS.values())


def session_names() -> set[str]:
    """Names of the session's runs."""
    return set(_RUNS)


def clear() -> None:
    """Forget the session's runs (the models stay wherever else they are referenced)."""
    _RUNS.clear()
