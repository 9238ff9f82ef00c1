"""Training on an accelerator, per Keras backend, against plain Keras on the same backend.

Usage (any machine; on a CUDA GPU for the issue 12 figures; full MNIST in NBMNIST_DATA):
    NBMNIST_DATA=../shared/data python bench/gpu.py [--backends jax torch] [--lesson]
    make bench-gpu

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
``python -m nbmnist run`` on the first backend and reports its wall time.
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

REPO = Path(__file__).resolve().parent.parent
SEED_MLP = "430 322 relu he_normal bn dropout=0.5"


def probe_callback(keras: Any, x_test: Any, y_test: Any, clock: dict[str, float]) -> Any:
    """A Keras callback: epoch wall times and test accuracy after each epoch, the clock
    paused while testing."""

    class Probe(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[float] = []
            self.tests: list[tuple[float, float, float]] = []  # (fit s, train() s, accuracy)
            self.paused = 0.0

        def on_train_begin(self, logs: Any = None) -> None:
            clock["fit"] = time.perf_counter()

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            self.epochs.append(now - self.began)
            if x_test is not None:
                scores = self.model.evaluate(
                    x_test, y_test, batch_size=1000, verbose=0, return_dict=True
                )
                self.tests.append(
                    (
                        now - clock["fit"] - self.paused,
                        now - clock["call"] - self.paused,
                        float(scores["accuracy"]),
                    )
                )
            self.paused += time.perf_counter() - now

    return Probe()


def run_nbmnist(text: str, kind: str, options: dict[str, Any], probe: Any) -> Any:
    """``nbmnist.train`` with ``probe`` added to the callbacks Keras is given."""
    import nbmnist
    import nbmnist.callbacks as callbacks
    from nbmnist.display.console import ConsoleDisplay

    original = callbacks.TrainingCallback.set_model

    def set_model(self: Any, model: Any) -> None:
        original(self, model)
        probe.set_model(model)

    hooks = ("on_train_begin", "on_epoch_begin", "on_epoch_end")
    saved = {name: getattr(callbacks.TrainingCallback, name) for name in hooks}

    def chained(name: str) -> Any:
        def hook(self: Any, *args: Any, **kwargs: Any) -> None:
            getattr(probe, name)(*args, **kwargs)
            saved[name](self, *args, **kwargs)

        return hook

    callbacks.TrainingCallback.set_model = set_model  # type: ignore[method-assign]
    for name in hooks:
        setattr(callbacks.TrainingCallback, name, chained(name))
    try:
        return nbmnist.train(
            text, kind, display=ConsoleDisplay(io.StringIO()), live=False, overwrite=True, **options
        )
    finally:
        callbacks.TrainingCallback.set_model = original  # type: ignore[method-assign]
        for name in hooks:
            setattr(callbacks.TrainingCallback, name, saved[name])


def run_plain(text: str, kind: str, options: dict[str, Any], data: Any, probe: Any) -> None:
    """The same model and optimizer in plain Keras: NumPy arrays, ``fit``'s defaults."""
    import keras

    import nbmnist
    from nbmnist.training import _loss, _optimizer, make_options

    opts = make_options(**options)
    declaration = nbmnist.parse_declaration(text, kind).with_head()
    x, y = data
    fitted = len(x) if opts.validation != "split" else int(len(x) * (1 - opts.validation_split))
    steps = -(-fitted // opts.batch_size) * opts.epochs
    model = nbmnist.build_model(declaration)
    model.compile(
        optimizer=_optimizer(opts, steps), loss=_loss(opts, declaration), metrics=["accuracy"]
    )
    split = {"validation_split": opts.validation_split} if opts.validation == "split" else {}
    model.fit(
        x, y, batch_size=opts.batch_size, epochs=opts.epochs, verbose=0, callbacks=[probe], **split
    )
    keras.backend.clear_session()


def first_99(tests: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    return next(((fit, call) for fit, call, accuracy in tests if accuracy >= 0.990), None)


def worker(epochs: int, train_size: int | None = None) -> dict[str, Any]:
    """All measurements on this process's backend; returns them as a dict."""
    import nbmnist
    from nbmnist.backend import device_name, import_keras, versions
    from nbmnist.recipes import RECIPES
    from nbmnist.training import prepare_arrays

    keras = import_keras()
    dataset = nbmnist.load_dataset("mnist")
    if dataset.is_sample:
        raise SystemExit("full MNIST not found: set NBMNIST_DATA")
    result: dict[str, Any] = {"device": device_name(), "versions": versions()}
    fast = RECIPES["fast"]
    _, _, x_test, y_test = prepare_arrays(dataset, "cnn")
    x_cnn, y_cnn, _, _ = prepare_arrays(dataset, "cnn", train_size)
    sized = {} if train_size is None else {"train_size": train_size}

    def timed(label: str, plain: bool) -> None:
        clock = {"call": time.perf_counter()}
        probe = probe_callback(keras, x_test, y_test, clock)
        if plain:
            run_plain(fast.declaration, "cnn", fast.options, (x_cnn, y_cnn), probe)
        else:
            options = {**fast.options, **sized, "name": "fast"}
            run = run_nbmnist(fast.declaration, "cnn", options, probe)
            result["fast_execution"] = run.execution
        result[label] = {"tests": probe.tests, "first_99": first_99(probe.tests)}
        print(label, probe.tests, flush=True)

    timed("plain keras", plain=True)
    timed("nbmnist cold", plain=False)
    timed("nbmnist warm", plain=False)

    throughput = {}
    for label, text, kind in (
        ("seed 000 MLP", SEED_MLP, "mlp"),
        ("fast recipe CNN", fast.declaration, "cnn"),
    ):
        options = {"epochs": epochs, "batch_size": 128, "validation": "none", **sized}
        x, y, _, _ = prepare_arrays(dataset, kind, train_size)  # type: ignore[arg-type]
        rows = {}
        for name in ("plain", "nbmnist", "nbmnist, 1 batch per call"):
            clock = {"call": time.perf_counter()}
            probe = probe_callback(keras, None, None, clock)
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


def lesson(backend: str, output: Path) -> dict[str, Any]:
    """Wall time of ``python -m nbmnist run notebooks/01_mlp_mnist.ipynb`` on full data."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbmnist", "run", "notebooks/01_mlp_mnist.ipynb",
         "--output-dir", str(output)],
        cwd=REPO, env=env, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    records = json.loads((output / "01_mlp_mnist.runs.json").read_text())
    return {
        "wall_s": wall,
        "models": len(records),
        "epochs": sum(len(r["history"]["loss"]) for r in records),
        "test_accuracy": [round(r["test_accuracy"], 4) for r in records],
        "sample": any(r["uses_sample"] for r in records),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", nargs="+", default=["jax", "torch"])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per throughput run")
    parser.add_argument("--lesson", action="store_true")
    parser.add_argument("--train-size", type=int, help="train on the first N images (a smoke run)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.epochs, args.train_size)), flush=True)
        return
    results: dict[str, Any] = {}
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "KERAS_BACKEND": backend, "JAX_COMPILATION_CACHE_DIR": cache}
            done = subprocess.run(
                [sys.executable, __file__, "--worker", "--epochs", str(args.epochs)]
                + ([] if args.train_size is None else ["--train-size", str(args.train_size)]),
                env=env, capture_output=True, text=True,
            )  # fmt: skip
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode or not lines:
            print(f"{backend}: failed\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
            continue
        results[backend] = json.loads(lines[-1][len("RESULT ") :])
    if args.lesson:
        with tempfile.TemporaryDirectory() as output:
            results["lesson 01"] = lesson(args.backends[0], Path(output))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    report(results, args.backends)


def report(results: dict[str, Any], backends: list[str]) -> None:
    for backend in backends:
        if backend not in results:
            continue
        found = results[backend]
        print(f"\n### {backend} on {found['device']}\n")
        print(
            "| time to 99% test accuracy | from fit start | from the train() call | epochs: test accuracy |"
        )
        print("| --- | --- | --- | --- |")
        for label in ("plain keras", "nbmnist cold", "nbmnist warm"):
            row = found[label]
            reached = row["first_99"]
            accuracy = ", ".join(f"{t[2]:.4f}" for t in row["tests"])
            if reached:
                print(f"| {label} | {reached[0]:.2f} s | {reached[1]:.2f} s | {accuracy} |")
            else:
                print(f"| {label} | not reached | | {accuracy} |")
        print(
            "\n| model | plain s/epoch | nbmnist s/epoch | ratio | plain compile s | nbmnist compile s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for label, rows in found["throughput"].items():
            plain, ours = rows["plain"], rows["nbmnist"]
            print(
                f"| {label} | {plain['epoch_s']:.3f} | {ours['epoch_s']:.3f} | "
                f"{plain['epoch_s'] / ours['epoch_s']:.2f}x | {plain['compile_s']:.2f} | "
                f"{ours['compile_s']:.2f} |"
            )
        print(f"\nexecution: {found.get('fast_execution')}\nversions: {found['versions']}")
    if "lesson 01" in results:
        print(f"\nlesson 01 on full data: {results['lesson 01']}")


if __name__ == "__main__":
    main()
