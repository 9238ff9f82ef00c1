"""Sweeps: one model per point of a grid (or a random search) of ``{name}`` values, trained
in worker processes, resumable, one live table.

- ``grid``: the grid grammar (``rate=0.0,0.1``, ``lr=1e-4..1e-2:log``), its points and samples;
- ``runner``: ``sweep()``, which plans the points, resumes stored ones and collects the runs;
- ``dispatch``: the executors and the channels that carry progress and the request to stop;
- ``trainer``: the trainer processes that train the points (``run_point``);
- ``events``: what a trainer reports, typed, used by the trainer and the kernel's table
  (``nbmnist.display.sweep_table``).

The package is ``sweeps`` where the function is ``nbmnist.sweep``: a package of the same name
would replace the function on ``nbmnist`` once imported (as ``nbmnist.sweep`` the module did).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbmnist.sweeps.grid import SEARCHES, Range, parse_grid, points, sample
    from nbmnist.sweeps.runner import IN_KERNEL, best_run, sweep

# Loaded on first use: importing nbmnist.sweeps.events (the trainer's and the table's) must
# not import the sweep, which imports the table.
_LAZY = {
    "SEARCHES": "nbmnist.sweeps.grid",
    "Range": "nbmnist.sweeps.grid",
    "parse_grid": "nbmnist.sweeps.grid",
    "points": "nbmnist.sweeps.grid",
    "sample": "nbmnist.sweeps.grid",
    "IN_KERNEL": "nbmnist.sweeps.runner",
    "best_run": "nbmnist.sweeps.runner",
    "sweep": "nbmnist.sweeps.runner",
}

__all__ = ["IN_KERNEL", "SEARCHES", "Range", "best_run", "parse_grid", "points", "sample", "sweep"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nbmnist.sweeps' has no attribute {name!r}")
