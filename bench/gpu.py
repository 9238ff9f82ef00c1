"""Training on an accelerator, per Keras backend, against plain Keras on the same backend.

Usage (any machine; on a CUDA GPU for the issue 12 figures; full MNIST in NBMNIST_DATA):
    NBMNIST_DATA=../shared/data python -m bench.gpu [--backends jax torch] [--lesson]
    make bench-gpu

A program rather than pytest benchmarks: each backend needs a process of its own, and a lent
GPU machine has no registry to install pytest from (``bench/gpu_session.sh`` carries wheels).

For each backend, in a fresh process of its own (a backend is fixed per process) with an
empty JAX compilation cache, on the same device and data:

- time to 99%: ``--recipe fast`` through ``nbmnist.train`` (cold: nothing compiled yet; warm:
  the same cell again, JAX's persistent cache filled) against the same model, optimizer,
  schedule and batch size in plain Keras (``model.fit`` on NumPy arrays, Keras' defaults).
  After every epoch the test set is evaluated with the clock paused, for this measurement
  only. Time = seconds from the start of ``fit`` (and from the ``train`` call, building and
  moving the data included) to the end of the first epoch with test accuracy >= 0.990;
- throughput: median seconds per epoch after the first (the first holds the compilation;
  "compile s" = first epoch - median), seed 000's MLP and the fast recipe's CNN, full MNIST,
  batch 128, nbmnist against plain ``model.fit``; ratio = plain / nbmnist (> 1: faster).

``--lesson`` also executes ``notebooks/01_mlp_mnist.ipynb`` on full data with
``python -m nbmnist run`` on the first backend, twice (JAX's cache empty, then holding the
first execution's programs), and reports the wall times and where they went.
Targets on one H100 (issue 12): 99% within 3 s of the start of training, compilation
included; lesson 01 within 90 s; throughput ratios >= 1.0; the seed MLP's epoch at least 5x
faster than the 0.5-0.8 s measured before.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import REPO, epoch_clock

SEED_MLP = "430 322 relu he_normal bn dropout=0.5"


def run_nbmnist(text: str, kind: str, options: dict[str, Any], probe: Any) -> Any:
    """``nbmnist.train`` with ``probe`` among its callbacks."""
    import nbmnist
    from nbmnist.display.console import ConsoleDisplay

    quiet = ConsoleDisplay(io.StringIO())
    return nbmnist.train(
        text, kind, display=quiet, live=False, overwrite=True, callbacks=[probe], **options
    )


def run_plain(text: str, kind: str, options: dict[str, Any], data: Any, probe: Any) -> None:
    """The same model and optimizer in plain Keras: NumPy arrays, ``fit``'s defaults."""
    import keras

    import nbmnist
    from nbmnist.options import make_options
    from nbmnist.plan import TrainingPlan

    opts = make_options(**options)
    plan = TrainingPlan.of(nbmnist.parse_declaration(text, kind), opts)
    x, y = data
    fitted = len(x) if opts.validation != "split" else int(len(x) * (1 - opts.validation_split))
    model = nbmnist.build_model(plan.declaration)
    model.compile(
        optimizer=plan.keras_optimizer(plan.total_steps(fitted)),
        loss=plan.keras_loss(),
        metrics=["accuracy"],
    )
    split = {"validation_split": opts.validation_split} if opts.validation == "split" else {}
    model.fit(
        x, y, batch_size=opts.batch_size, epochs=opts.epochs, verbose=0, callbacks=[probe], **split
    )
    keras.backend.clear_session()


def first_99(tests: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    return next(((fit, call) for fit, call, accuracy in tests if accuracy >= 0.990), None)


def tests_of(probe: Any) -> list[tuple[float, float, float]]:
    """(seconds from fit, seconds from the train() call, test accuracy) after each epoch."""
    return list(zip(probe.ends, probe.ends_from_call, probe.test_accuracy, strict=True))


def worker(task: str, epochs: int, train_size: int | None = None) -> dict[str, Any]:
    """One measurement on this process's backend: ``nbmnist`` or ``plain`` time to 99%, or
    ``throughput``; returns it as a dict."""
    import nbmnist
    from nbmnist.backend import device_name, import_keras, versions
    from nbmnist.recipes import RECIPES
    from nbmnist.training import prepare_arrays

    import_keras()
    dataset = nbmnist.load_dataset("mnist")
    if dataset.is_sample:
        raise SystemExit("full MNIST not found: set NBMNIST_DATA")
    result: dict[str, Any] = {"device": device_name(), "versions": versions()}
    fast = RECIPES["fast"]
    sized = {} if train_size is None else {"train_size": train_size}
    if task in ("nbmnist", "plain"):
        x, y, x_test, y_test = prepare_arrays(dataset, "cnn", train_size)
        probe = epoch_clock((x_test, y_test), called_at=time.perf_counter())
        if task == "plain":
            run_plain(fast.declaration, "cnn", fast.options, (x, y), probe)
        else:
            options = {**fast.options, **sized, "name": "fast"}
            result["execution"] = run_nbmnist(fast.declaration, "cnn", options, probe).execution
        tests = tests_of(probe)
        result.update(tests=tests, first_99=first_99(tests), epochs=probe.epochs)
        return result
    throughput = {}
    for label, text, kind in (
        ("seed 000 MLP", SEED_MLP, "mlp"),
        ("fast recipe CNN", fast.declaration, "cnn"),
    ):
        options = {"epochs": epochs, "batch_size": 128, "validation": "none", **sized}
        x, y, _, _ = prepare_arrays(dataset, kind, train_size)  # type: ignore[arg-type]
        rows = {}
        for name in ("plain", "nbmnist", "nbmnist, 1 batch per call"):
            probe = epoch_clock()
            if name == "plain":
                run_plain(text, kind, options, (x, y), probe)
            else:
                one = {"steps_per_execution": 1} if name.endswith("per call") else {}
                run_nbmnist(text, kind, {**options, **one, "name": "throughput"}, probe)
            rest = statistics.median(probe.epochs[1:])
            rows[name] = {"epoch_s": rest, "compile_s": probe.epochs[0] - rest}
            print(label, name, probe.epochs, flush=True)
        throughput[label] = rows
    result["throughput"] = throughput
    return result


#: (label, worker task): each in a fresh process, in this order, sharing one JAX cache that
#: starts empty: "cold" compiles everything (CUDA and cuDNN start-up included), "warm" is
#: the same cell in a new kernel once the persistent cache holds its programs.
TASKS = (
    ("nbmnist cold", "nbmnist"),
    ("nbmnist warm", "nbmnist"),
    ("plain keras", "plain"),
    ("throughput", "throughput"),
)


def lesson(backend: str, output: Path, cache: str) -> dict[str, Any]:
    """Wall time of ``python -m nbmnist run notebooks/01_mlp_mnist.ipynb`` on full data, with
    JAX's persistent cache in ``cache``, and where the time went."""
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_COMPILATION_CACHE_DIR": cache}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbmnist", "run", "notebooks/01_mlp_mnist.ipynb",
         "--output-dir", str(output)],
        cwd=REPO, env=env, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    records = json.loads((output / "01_mlp_mnist.runs.json").read_text())
    cells = cell_seconds(output / "01_mlp_mnist.ipynb")
    training = [seconds for source, seconds in cells if source.startswith("%%mlp")]
    return {
        "wall_s": wall,
        "cells_s": sum(seconds for _, seconds in cells),
        "training_cells_s": sum(training),
        "runs_s": sum(r["wall_time_s"] for r in records),
        "first_epochs_s": sum(r["epoch_seconds"][0] for r in records),
        "slowest_other_cells": sorted(
            ((round(s, 2), src[:40]) for src, s in cells if not src.startswith("%%mlp")),
            reverse=True,
        )[:4],
        "models": len(records),
        "epochs": sum(len(r["history"]["loss"]) for r in records),
        "test_accuracy": [round(r["test_accuracy"], 4) for r in records],
        "sample": any(r["uses_sample"] for r in records),
    }


def cell_seconds(notebook: Path) -> list[tuple[str, float]]:
    """(source, seconds) of each executed code cell, from nbclient's timing metadata."""
    from datetime import datetime

    cells = []
    for cell in json.loads(notebook.read_text())["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        if cell["cell_type"] == "code" and "shell.execute_reply" in timing:
            began = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            cells.append(("".join(cell["source"]), (ended - began).total_seconds()))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["jax", "torch"])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per throughput run")
    parser.add_argument("--lesson", action="store_true")
    parser.add_argument(
        "--lesson-runs", type=int, default=2, help="executions of lesson 01, one JAX cache"
    )
    parser.add_argument(
        "--tasks", nargs="+", default=[label for label, _ in TASKS], help="of: %(default)s"
    )
    parser.add_argument("--train-size", type=int, help="train on the first N images (a smoke run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.epochs, args.train_size)
        print("RESULT " + json.dumps(result), flush=True)
        return
    results: dict[str, Any] = {}
    for backend in args.backends:
        found: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "KERAS_BACKEND": backend, "JAX_COMPILATION_CACHE_DIR": cache}
            for label, task in TASKS:
                if label not in args.tasks:
                    continue
                command = [sys.executable, "-m", "bench.gpu", "--worker", task]
                command += ["--epochs", str(args.epochs)]
                if args.train_size is not None:
                    command += ["--train-size", str(args.train_size)]
                done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
                lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
                if done.returncode or not lines:
                    print(
                        f"{backend} {label}: failed\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
                    )
                    continue
                found[label] = json.loads(lines[-1][len("RESULT ") :])
                print(backend, label, found[label].get("tests", ""), flush=True)
        results[backend] = found
    if args.lesson:
        with tempfile.TemporaryDirectory() as cache:  # starts empty, then holds the programs
            for label in ("lesson 01, empty cache", "lesson 01, again")[: args.lesson_runs]:
                with tempfile.TemporaryDirectory() as output:
                    results[label] = lesson(args.backends[0], Path(output), cache)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    report(results, args.backends)


def report(results: dict[str, Any], backends: list[str]) -> None:
    for backend in backends:
        found = results.get(backend, {})
        if not found:
            continue
        device = next(iter(found.values()))["device"]
        print(f"\n### {backend} on {device}\n")
        print(
            "| time to 99% test accuracy | from fit start | from the train() call "
            "| first epoch s | epochs: test accuracy |"
        )
        print("| --- | --- | --- | --- | --- |")
        for label in ("nbmnist cold", "nbmnist warm", "plain keras"):
            if label not in found:
                continue
            row = found[label]
            reached = row["first_99"]
            accuracy = ", ".join(f"{t[2]:.4f}" for t in row["tests"])
            times = f"{reached[0]:.2f} s | {reached[1]:.2f} s" if reached else "not reached | "
            print(f"| {label} | {times} | {row['epochs'][0]:.2f} | {accuracy} |")
        if "throughput" in found:
            print(
                "\n| model, full MNIST, batch 128 | plain s/epoch | nbmnist s/epoch | ratio "
                "| plain compile s | nbmnist compile s | nbmnist, 1 batch per call, s/epoch |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for label, rows in found["throughput"]["throughput"].items():
                plain, ours = rows["plain"], rows["nbmnist"]
                single = rows["nbmnist, 1 batch per call"]
                print(
                    f"| {label} | {plain['epoch_s']:.3f} | {ours['epoch_s']:.3f} | "
                    f"{plain['epoch_s'] / ours['epoch_s']:.2f}x | {plain['compile_s']:.2f} | "
                    f"{ours['compile_s']:.2f} | {single['epoch_s']:.3f} |"
                )
        if "nbmnist cold" in found:
            print(f"\nexecution: {found['nbmnist cold']['execution']}")
            print(f"versions: {found['nbmnist cold']['versions']}")
    for label in ("lesson 01, empty cache", "lesson 01, again"):
        if label in results:
            print(f"\n{label}, full data: {results[label]}")


if __name__ == "__main__":
    main()
