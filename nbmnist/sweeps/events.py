"""What a sweep point's trainer reports while it trains: one typed event each, defined once
and used by both sides (the trainer process writes them, the kernel's table reads them).

They travel as JSON objects (``to_json``/``from_json``): one line each on the trainer's
stdout, and through a ``Channel`` (Dask's queue takes only msgpack-able data). Standard
library only: the executor's workers that relay them never import more.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Started:
    """The point's run started training: ``epochs`` planned, in process ``pid``."""

    KIND: ClassVar[str] = "started"
    epochs: int
    pid: int


@dataclass(frozen=True)
class EpochEnded:
    """Epoch ``epoch`` (1-based) ended with ``metrics`` (Keras' names, finite values only)."""

    KIND: ClassVar[str] = "epoch"
    epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Finished:
    """The run ended: ``status`` is ``"completed"``, ``"interrupted"`` or ``"diverged"``."""

    KIND: ClassVar[str] = "finished"
    status: str


@dataclass(frozen=True)
class Failed:
    """The point failed before or while training: ``message`` is one line."""

    KIND: ClassVar[str] = "error"
    message: str


SweepEvent = Started | EpochEnded | Finished | Failed
_KINDS: dict[str, type[SweepEvent]] = {
    kind.KIND: kind for kind in (Started, EpochEnded, Finished, Failed)
}


def to_json(event: SweepEvent) -> dict[str, Any]:
    """``{"event": KIND, **fields}``."""
    return {"event": event.KIND, **dataclasses.asdict(event)}


def from_json(data: Mapping[str, Any]) -> SweepEvent:
    """The event ``to_json`` wrote.

    Raises:
        ValueError: not an event: an unknown kind, or fields missing or unexpected.
    """
    kind = _KINDS.get(str(data.get("event")))
    if kind is None:
        raise ValueError(f"not a sweep event: {dict(data)!r}")
    fields = {key: value for key, value in data.items() if key != "event"}
    try:
        return kind(**fields)
    except TypeError as err:
        raise ValueError(f"not a {kind.KIND} event: {dict(data)!r} ({err})") from None


def to_line(event: SweepEvent) -> str:
    """The event as one JSON line (with its newline)."""
    return json.dumps(to_json(event)) + "\n"


def from_line(line: str) -> SweepEvent:
    """The event on ``line``.

    Raises:
        ValueError: the line is not JSON, or not an event.
    """
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError(f"not a sweep event: {line.strip()!r}")
    return from_json(data)
