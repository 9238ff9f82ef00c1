"""The run store on disk: one folder per run, written so that a kill at any moment loses
nothing but the epoch in progress.

A store is a folder (default ``./nbmnist-runs``, or ``NBMNIST_RUNS``) with one subfolder per
run: ``run.json`` (``RunRecord``) and ``model.keras``, the model of a recent epoch while it
trains and the final model once it ends. ``run.json`` is rewritten after every epoch by an
atomic replace (temporary file, fsync, rename, fsync of the folder), so a kernel killed at
any moment leaves the last completed epoch readable and never a torn file. A run whose
writing process is gone loads as ``killed``; the temporary files such a process left are
removed by the next run written to the store. This module is the only one that knows the
folder's layout (``RECORD``, ``MODEL``, ``TEMPORARY``, ``STAGING``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbmnist.errors import RunStoreError
from nbmnist.runs.liveness import Writer
from nbmnist.runs.naming import check_run_name, folder_name
from nbmnist.runs.run_record import MODEL, RECORD, Run
from nbmnist.runs.session import Runs, record, session_names

if TYPE_CHECKING:
    from nbmnist.display import TrainingInfo
    from nbmnist.metric_log import MetricLog

DEFAULT_STORE = "nbmnist-runs"
#: Where a run that will replace a completed one trains until it completes.
STAGING = ".nbmnist-staging"
#: How temporary files and folders in a store end (see ``RunStore.clean``).
TEMPORARY = ".nbmnist-tmp"
#: The share of training time that saving the model after epochs may take (see
#: ``StoreWriter``): on a CPU, where epochs are long next to a save, after every epoch; on a
#: GPU after every few.
MODEL_SAVE_SHARE = 0.1


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
        ``folder``, and point the run at it, as the model of its last completed epoch (of
        its kept epoch, ``run.kept_epoch``, once ``restore_best`` gave it those weights)."""
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
        run.model_epoch = run.kept_epoch or run.epochs or None

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
            data = json.loads((folder / RECORD).read_text())
        except (OSError, ValueError) as err:
            raise RunStoreError(f"{folder / RECORD}: unreadable ({err})") from err
        return Run.from_record(data, folder)

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

    @staticmethod
    def files(folder: Path) -> dict[str, bytes]:
        """A run folder's files (``run.json``, ``model.keras``: name -> bytes), as
        ``receive`` takes them; the files missing are left out."""
        return {
            path.name: path.read_bytes()
            for path in (folder / RECORD, folder / MODEL)
            if path.is_file()
        }


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


class StoreWriter:
    """Keeps a run's record on disk current: written when training starts and after every
    epoch (atomically; see ``RunStore``), in the run's folder or in ``folder``, with this
    process as its writer and a heartbeat, so a run whose process dies loads as ``killed``.

    After an epoch the model is saved too (atomically), when saving costs at most
    ``MODEL_SAVE_SHARE`` of the training time since the last save: a killed run keeps the
    model of a recent epoch (``run.model_epoch``), every epoch's when epochs are long.
    """

    def __init__(
        self, store: RunStore, run: Run, model: Any = None, folder: Path | None = None
    ) -> None:
        self.store, self.run, self.model, self.folder = store, run, model, folder
        self.where = str(folder or store.folder(run.name))
        self.saved_at = time.perf_counter()
        self.save_seconds = 0.0

    def write(self) -> None:
        self.run.writer = Writer.record()
        self.store.write(self.run, self.folder)

    def run_started(self, info: TrainingInfo) -> None:
        Writer.writing.add(self.where)
        self.store.clean()  # what dead writers left behind
        self.saved_at = time.perf_counter()
        self.write()

    def epoch_completed(self, log: MetricLog) -> None:
        since = time.perf_counter() - self.saved_at
        if self.model is not None and self.save_seconds <= MODEL_SAVE_SHARE * since:
            began = time.perf_counter()
            self.store.save_model(self.run, self.model, self.folder)
            self.saved_at = time.perf_counter()
            self.save_seconds = self.saved_at - began
        self.write()  # run.history is log.history: the epoch is in it

    def run_finished(self, run: Run) -> None:
        self.write()
        self.close()

    def close(self) -> None:
        Writer.writing.discard(self.where)
