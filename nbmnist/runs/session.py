"""The session's runs: every run trained or loaded in this process, by name."""

from __future__ import annotations

from typing import Any

from nbmnist.runs.run_record import Run


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


def release_models(keep: Run) -> int:
    """Let every run of the session but ``keep`` forget its in-memory model where it is saved
    in a store (``Run.release_model``: loaded again on first use), so that a kernel holds the
    newest model, as a notebook of plain Keras cells holds its last ``model``. Returns how
    many were released."""
    return sum(run.release_model() for run in _RUNS.values() if run is not keep)
