"""Runs: the record of each training run, the session's runs, and the run store on disk.

- ``run_record``: ``Run`` (one trained model and everything needed to report on it) and
  ``RunRecord``, its schema in ``run.json``, validated with pydantic when read;
- ``store``: ``RunStore``, the folder of runs (atomic writes, claims, staging, cleaning),
  ``StoreWriter`` that keeps a training run's record current, ``load_runs``; the only module
  that knows a run folder's layout;
- ``naming``: the one rule for run names and their folders;
- ``liveness``: whether the process writing a record is alive (psutil);
- ``session``: the runs of this process, by name.
"""

from __future__ import annotations

from nbmnist.errors import RunStoreError
from nbmnist.runs.liveness import STALE_HEARTBEAT_S, Writer, now
from nbmnist.runs.naming import MAX_NAME_LENGTH, check_run_name, folder_name, point_name
from nbmnist.runs.run_record import (
    MODEL,
    RECORD,
    RECORD_FIELDS,
    SCHEMA_VERSION,
    STATUSES,
    Run,
    RunRecord,
    Status,
    check_record,
)
from nbmnist.runs.session import Runs, clear, record, release_models, runs, session_names
from nbmnist.runs.store import (
    DEFAULT_STORE,
    MODEL_SAVE_SHARE,
    STAGING,
    TEMPORARY,
    RunStore,
    StoreWriter,
    atomic_write,
    load_runs,
)

__all__ = [
    "DEFAULT_STORE",
    "MAX_NAME_LENGTH",
    "MODEL",
    "MODEL_SAVE_SHARE",
    "RECORD",
    "RECORD_FIELDS",
    "SCHEMA_VERSION",
    "STAGING",
    "STALE_HEARTBEAT_S",
    "STATUSES",
    "TEMPORARY",
    "Run",
    "RunRecord",
    "RunStore",
    "RunStoreError",
    "Runs",
    "Status",
    "StoreWriter",
    "Writer",
    "atomic_write",
    "check_record",
    "check_run_name",
    "clear",
    "folder_name",
    "load_runs",
    "now",
    "point_name",
    "record",
    "release_models",
    "runs",
    "session_names",
]
