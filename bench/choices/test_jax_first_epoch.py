"""Where a model's first epoch goes on JAX: compilation per program and per thread.

    make bench BENCH=bench/choices/test_jax_first_epoch.py      (full MNIST)
    python -m bench.choices.test_jax_first_epoch [VARIANT ...]   (on a CUDA GPU: issue 12)

A VARIANT is ``label=XLA_FLAGS`` (``,`` between flags; ``label=`` for nbmnist's own flags).
For each, in a fresh process with an empty JAX compilation cache: ``--recipe fast`` through
``nbmnist.train`` (the test set evaluated after each epoch, clock paused, as in
``bench/gpu.py``), then seed 000's MLP, the same MLP with another dropout rate, and lesson
01's ``wide_2h``, 3 epochs each, validating on the test set. Reported per model: the epoch
seconds; and the JAX compile events over 0.3 s (``jax.monitoring``: tracing, lowering,
backend compile) with the thread that ran them (``nbmnist-compile-ahead`` or the main one).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import pytest

from bench.harness import REPO, Result, full_data

MLPS = (
    ("seed MLP", "430 322 relu he_normal bn dropout=0.5"),
    ("seed MLP, dropout 0.25", "430 322 relu he_normal bn dropout=0.25"),
    ("wide_2h", "dense 512 relu | dropout 0.4\ndense 128 relu"),
)


def worker() -> dict[str, Any]:
    import nbmnist
    from bench import gpu
    from nbmnist.backend import import_keras
    from nbmnist.display.console import ConsoleDisplay

    started = time.perf_counter()
    import_keras()
    import jax

    phase = ["start-up"]
    events: list[tuple[str, str, float, str, str]] = []

    def listen(event: str, seconds: float, **info: Any) -> None:
        thread = threading.current_thread().name
        events.append(
            (phase[0], event.rsplit("/", 1)[-1], seconds, info.get("fun_name", ""), thread)
        )

    jax.monitoring.register_event_duration_secs_listener(listen)
    result: dict[str, Any] = {"import_s": time.perf_counter() - started}
    phase[0] = "fast recipe"
    size = (
        int(os.environ["NBMNIST_BENCH_TRAIN_SIZE"])
        if "NBMNIST_BENCH_TRAIN_SIZE" in os.environ
        else None
    )
    fast = gpu.worker("nbmnist", 3, size)
    result["fast recipe"] = {"epochs": fast["epochs"], "first_99": fast["first_99"]}
    for label, text in MLPS:
        phase[0] = label
        run = nbmnist.train(
            text, "mlp", display=ConsoleDisplay(io.StringIO()), live=False, overwrite=True,
            name="first_epoch", epochs=3, batch_size=128, validation="test",
            **({} if size is None else {"train_size": size}),
        )  # fmt: skip
        result[label] = {"epochs": run.epoch_seconds}
    result["compiles"] = [
        (where, event, round(seconds, 2), name, thread)
        for where, event, seconds, name, thread in events
        if seconds > 0.3
    ]
    return result


def variant(text: str) -> Result:
    """One variant, ``label=XLA_FLAGS``, in a fresh JAX process with empty caches."""
    label, _, flags = text.partition("=")
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache, "KERAS_HOME": home}
        env.update(NBMNIST_RUNS=home, KERAS_BACKEND="jax")
        if flags:
            env["XLA_FLAGS"] = flags.replace(",", " ")
        done = subprocess.run(
            [sys.executable, "-m", MODULE, "--worker"],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-3000:])
    result = json.loads(lines[-1][len("RESULT ") :])
    rows: list[dict[str, Any]] = [
        {
            "variant": f"{label} (XLA_FLAGS={flags!r})",
            "model": model,
            "epochs (s)": ", ".join(f"{s:.2f}" for s in result[model]["epochs"]),
        }
        for model in ("fast recipe", *(name for name, _ in MLPS))
    ]
    compiles = "; ".join(
        f"{where}: {event} {seconds} s {name} ({thread})"
        for where, event, seconds, name, thread in result["compiles"]
    )
    return Result(
        rows,
        [
            f"Fast recipe, 99% reached (from fit, from train()): {result['fast recipe']['first_99']}.",
            f"Compile events over 0.3 s: {compiles or 'none'}.",
        ],
        backend="jax",
    )


MODULE = __spec__.name  # also when run with python -m, where __name__ is "__main__"


def main() -> None:
    if sys.argv[1:] == ["--worker"]:
        print("RESULT " + json.dumps(worker()), flush=True)
        return
    for text in sys.argv[1:] or ["nbmnist="]:
        result = variant(text)
        print(result.markdown())
        print(result.to_json())


@pytest.mark.benchmark(group="jax-first-epoch")
def test_where_the_first_epoch_goes_on_jax(measured: Any, full_mnist: Any) -> None:
    full_data()
    measured(lambda: variant("nbmnist="))


if __name__ == "__main__":
    main()
