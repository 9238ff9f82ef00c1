"""Whether the process that writes a run's record is still alive.

A record says who writes it (``Writer.record``: host, process id, the process's start time, a
heartbeat). On the same host the process is looked up with psutil (on Linux, macOS and
Windows alike), and a reused process id is told apart by its start time; on another host
the heartbeat's age decides (``STALE_HEARTBEAT_S``).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import psutil

#: A run whose writer is on another host is taken as dead once its heartbeat is this old
#: (seconds); on the same host the process itself is checked.
STALE_HEARTBEAT_S = 6 * 3600


def now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Writer:
    """The process writing records: identified by host, process id and the process's start
    time (so a reused process id is not mistaken for it)."""

    #: Folders whose runs this process is training now.
    writing: ClassVar[set[str]] = set()

    @staticmethod
    def _started(pid: int) -> str | None:
        """When process ``pid`` started (hundredths of a second since the epoch, digits
        only: it goes in file names), or None where it cannot be known."""
        try:
            return str(round(psutil.Process(pid).create_time() * 100))
        except (psutil.Error, OSError):
            return None

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
        """Whether process ``pid`` runs and is the one that started at ``started`` (a
        zombie, ended but not yet reaped by its parent, is dead)."""
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            pass  # someone else's process (access denied): it exists
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
