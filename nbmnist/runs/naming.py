"""The one rule for run names, and the folders runs are stored in."""

from __future__ import annotations

import hashlib
import keyword
import re
from collections.abc import Mapping

from nbmnist.errors import RunStoreError

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
