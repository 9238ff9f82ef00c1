"""docs/results.md rows: each seed model's reported test accuracy next to ours on full data.

Usage:
    NBMNIST_DATA=../shared/data .venv/bin/python -m nbmnist run notebooks/01_mlp_mnist.ipynb --output-dir build/full
    .venv/bin/python tools/results_table.py build/full/01_mlp_mnist.runs.json [...]

Reads the runs' records written by ``python -m nbmnist run`` (or a run store folder such as
``build/full/02_cnn_mnist-runs``, for a notebook still running or stopped: its completed runs
only) and prints a Markdown table.
The seeds' figures are their printed "Test accuracy" lines (../shared/seeds).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

#: run name in the lessons -> (seed, the seed's printed test accuracy)
SEED_REPORTED: dict[str, tuple[str, float | None]] = {
    "relu_2h": ("000", 0.9856),
    "relu_3h": ("000", 0.982),
    "relu_5h": ("000", 0.9828),
    "relu_2h_d25": ("000", 0.9838),
    "relu_3h_d25": ("000", 0.9823),
    "relu_5h_d25": ("000", 0.9838),
    "relu_2h_mse": ("000", 0.9819),
    "relu_3h_mse": ("000", 0.98),
    "relu_5h_mse": ("000", 0.9756),
    "wide_2h": ("001", 0.9839),
    "wide_3h": ("001", 0.9843),
    "wide_5h": ("001", 0.9837),
    "k3_3": ("002", 0.9946),
    "k5_3": ("002", 0.9874),
    "k7_3": ("002", 0.9902),
    "mixed_3": ("002", 0.9876),
    "k3_5": ("002", 0.9947),
    "k5_5": ("002", 0.9853),
    "k7_5": ("002", 0.9914),
    "mixed_5": ("002", 0.9894),
    "k3_7": ("002", 0.9953),
    "k5_7": ("002", 0.9838),
    "k7_7": ("002", 0.9888),
    "mixed_7": ("002", 0.988),
    "keras_example": ("003", None),  # the seed printed no test accuracy for it
    "mdl_1": ("003", 0.9938),
    "mdl_3": ("003", 0.9934),
    "mdl_5": ("003", 0.9919),
    "vanilla": ("004", 0.881),
    "dropout": ("004", 0.853),
    "batchnorm": ("004", 0.867),
    # the seed's cell prints "Test Accuracy: 0.768", from an earlier version of its code
    "bn_dropout": ("004", 0.768),
}


#: seed 003's dropout sweep on mdl_1: the i-th model used ``Dropout(rate=i*0.01)`` (labelled
#: "Dropout=0.i") and the seed printed its best validation (= test set) accuracy over 20 epochs.
SEED_SWEEP: list[float] = [0.9941, 0.9936, 0.9940, 0.9929, 0.9933, 0.9932, 0.9934, 0.9934]
SWEEP_BASE = "drop"


def records(path: str) -> list[dict]:
    """The runs in a ``.runs.json`` file, or the completed runs of a run store folder."""
    if Path(path).is_dir():
        from nbmnist import load_runs

        done = [run for run in load_runs(path) if run.status == "completed"]
        return sorted((run.to_record() for run in done), key=lambda r: r["created"])
    return json.loads(Path(path).read_text())


def seconds_per_epoch(record: dict) -> float:
    """Median time per epoch in seconds, from epoch 2 on (epoch 1 includes tracing)."""
    return statistics.median(record["epoch_seconds"][1:] or record["epoch_seconds"])


def sweep_rate(record: dict) -> float | None:
    """The dropout rate of a run of the lesson's sweep (``drop[rate=0.3]``), else None."""
    prefix = f"{SWEEP_BASE}[rate="
    name = record["name"]
    return float(name[len(prefix) : -1]) if name.startswith(prefix) else None


def sweep_rows(runs: list[dict]) -> list[str]:
    """Rows comparing the lesson's dropout sweep with seed 003's, point by point.

    The lesson's point ``rate=0.i`` sits next to the seed's i-th model, which used rate 0.0i.
    """
    sweep = sorted((r for r in runs if sweep_rate(r) is not None), key=sweep_rate)
    rows = [
        "| point | our rate | seed's rate | seed's best val acc. | ours, best val acc. "
        "| ours, test acc. after the last epoch | s / epoch |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for record in sweep:
        point = round(sweep_rate(record) * 10)
        seed = f"{SEED_SWEEP[point]:.4f}" if point < len(SEED_SWEEP) else "n/a"
        rows.append(
            f"| {point} | {sweep_rate(record):.1f} | {point * 0.01:.2f} | {seed} "
            f"| {max(record['history']['val_accuracy']):.4f} "
            f"| {record['test_accuracy']:.4f} | {seconds_per_epoch(record):.1f} |"
        )
    return rows if sweep else []


def main(paths: list[str]) -> None:
    runs = [record for path in paths for record in records(path)]
    print(
        "| seed | run | declaration | epochs | seed's test accuracy | ours | difference | s / epoch |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for record in runs:
        if sweep_rate(record) is not None:
            continue
        seed, reported = SEED_REPORTED.get(record["name"], ("", None))
        ours = record["test_accuracy"]
        declaration = record["declaration"].strip().replace("\n", " / ").replace("|", "\\|")
        cell = f"`{declaration}`"
        if record.get("variables"):  # the values its {name} placeholders had
            cell += " with " + ", ".join(f"{k}={v}" for k, v in record["variables"].items())
        seed_text = f"{reported:.4f}" if reported is not None else "n/a"
        diff = f"{ours - reported:+.4f}" if reported is not None and ours is not None else ""
        print(
            f"| {seed} | {record['name']} | {cell} | {len(record['history']['loss'])} "
            f"| {seed_text} | {ours:.4f} | {diff} | {seconds_per_epoch(record):.1f} |"
        )
    rows = sweep_rows(runs)
    if rows:
        print()
        print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
