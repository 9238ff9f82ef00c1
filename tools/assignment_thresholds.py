"""Derive the pass thresholds of lesson 01's assignments with ``nbmnist.grading.fair_threshold``.

Usage:
    NBMNIST_DATA=../shared/data .venv/bin/python tools/assignment_thresholds.py [--seeds 5]
        [--modes fast full]

Trains each task's reference declaration (``tools/build_notebooks.py``'s ``TASKS_01``) with its
magic line's options and seeds 0..N-1, in fast mode (what a grader with NBMNIST_FAST=1 runs)
and on the full data, and prints each ``Threshold.report()``: paste the thresholds into
``TASKS_01`` and the reports into ``docs/grading.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from IPython.core.magic_arguments import parse_argstring

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_notebooks import TASKS_01

from nbmnist.grading import fair_threshold
from nbmnist.magics import NbmnistMagics
from nbmnist.options import TrainingOptions


def options_of(magic: str) -> dict[str, Any]:
    """``train``'s options from a magic line such as ``%%mlp name --epochs 22 --loss mse``,
    parsed by the magic's own flags."""
    kind, line = magic.removeprefix("%%").split(" ", 1)
    flags = parse_argstring(getattr(NbmnistMagics, kind), line)
    return TrainingOptions.from_flags(vars(flags))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        for mode in args.modes:
            for task in TASKS_01:
                if task.thresholds is None:
                    continue
                options = {**options_of(task.magic), "fast": mode == "fast", "runs_dir": runs}
                found = fair_threshold(task.answer, options, seeds=args.seeds)
                print(f"{task.name} ({mode}): {found.report()}", flush=True)


if __name__ == "__main__":
    main()
