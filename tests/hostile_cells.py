"""Hostile training cells: what a student (or a fuzzer) may type into ``%%mlp`` / ``%%cnn``.

Each must end in a one-line error before anything trains, evaluate nothing as Python and
write nothing outside the run store. Used by ``tests/test_hostile_cells.py`` and
``tools/stress.py`` (which also times them).
"""

from __future__ import annotations

#: Running any of these as Python would create this file in the working folder.
SENTINEL = "HOSTILE_CELL_RAN"

NAMES = [
    "x" * 300,
    "é" * 130,
    "../evil",
    "a/b",
    "nbmnist",
    "print",
    "In",
    "get_ipython",
    "class",
    "1abc",
    "a-b",
    "__import__('os')",
]

FLAGS = [
    "--epochs 99999999999999999999",
    "--epochs 0",
    "--epochs -1",
    "--epochs 1e3",
    "--epochs nan",
    "--seed 4294967296",
    "--seed -5",
    "--batch-size 0",
    "--batch-size 10000000",
    "--train-size 1",
    "--train-size 0",
    "--learning-rate nan",
    "--learning-rate inf",
    "--learning-rate -1",
    "--validation-split 1",
    "--validation-split 0",
    "--data svhn",
    "--optimizer sgdd",
    "--loss hinge",
    "--memory-limit-gb 0",
    "--steps-per-execution 0",
    "--foo 3",
    "--validation tset",
    "--lr-schedule cosin",
    "--jit-compile maybe",
    "--grid =",
    "--grid rate=",
    "--recipe fastest",
]

BODIES = [
    "dense 99999999999",
    "dense {__import__('os').system('touch " + SENTINEL + "')}",
    "dense {open('" + SENTINEL + "', 'w')}",
    "dense {units.__class__.__mro__}",
    "dense {undefined_name}",
    "dense 8\x00",
    "\x00",
    "dense -8",
    "dense 8.5",
    "dense 1e309",
    "dense 8 relu relu",
    "dropout 2",
    "dropout nan",
    "dense 8 | | dense 8",
    "\n".join(["dense 8"] * 10_000),
    "dense 8 x1001",
    "ℌ𝔢𝔩𝔩𝔬 𝔴𝔬𝔯𝔩𝔡",
    "'; import os; os.system('touch " + SENTINEL + "') #",
    "__import__('os').system('touch " + SENTINEL + "')",
    "exec('open(\"" + SENTINEL + '", "w")\')',
    "dense 8\n" * 600,
    "conv 999999999 3x3",
    "conv 8 99x99",
    "maxpool 0",
    "",
]


def cells() -> list[tuple[str, str, str]]:
    """(kind, magic line, body) of every hostile cell: each name with a valid body and each
    body in both magics, each flag on a named cell with a valid body."""
    valid = {"mlp": "dense 8", "cnn": "conv 8 3x3"}
    found = [(kind, f"{name} --epochs 1", valid[kind]) for kind in valid for name in NAMES]
    found += [("mlp", f"hostile {flag}", "dense 8") for flag in FLAGS]
    found += [(kind, "hostile --epochs 1", body) for kind in ("mlp", "cnn") for body in BODIES]
    return found
