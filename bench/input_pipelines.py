"""What makes an epoch faster than plain ``model.fit(x, y)``? Variants tried for issue 7.

Usage (full MNIST; ../shared/data on the project's machines):
    NBMNIST_DATA=../shared/data .venv/bin/python bench/input_pipelines.py mlp
    NBMNIST_DATA=../shared/data .venv/bin/python bench/input_pipelines.py cnn 10000

Same model (seed 000's MLP, or the Keras example CNN), batch 128, Adam, in one process, each
variant trained for 3 epochs, median wall and CPU seconds of epochs 2-3, two rounds in
alternating order:
- ``plain``: ``model.fit`` on NumPy arrays (Keras' array adapter);
- ``spe8``, ``spe32``: the same with ``compile(steps_per_execution=N)``;
- ``jit``: ``compile(jit_compile=True)`` (XLA; Keras leaves it off on CPU-only machines);
- ``tfdata``: ``tf.data.Dataset.from_tensor_slices`` on the in-memory arrays, shuffled,
  batched, prefetched.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import nbmnist
from nbmnist.training import prepare_arrays

MODELS = {
    "mlp": "430 322 relu he_normal bn dropout=0.5",
    "cnn": "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5",
}
VARIANTS = ("plain", "spe8", "spe32", "jit", "tfdata")


def epoch_seconds(kind: str, variant: str, x: Any, y: Any) -> tuple[float, float]:
    import keras
    import tensorflow as tf

    wall: list[float] = []
    cpu: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            wall.append(time.perf_counter() - self.start[0])
            cpu.append(time.process_time() - self.start[1])

    model = nbmnist.build_model(MODELS[kind], kind)  # type: ignore[arg-type]
    options: dict[str, Any] = {}
    if variant.startswith("spe"):
        options["steps_per_execution"] = int(variant[3:])
    if variant == "jit":
        options["jit_compile"] = True
    model.compile(
        optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"], **options
    )
    if variant == "tfdata":
        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x))
        data = data.batch(128).prefetch(tf.data.AUTOTUNE)
        model.fit(data, epochs=3, verbose=0, callbacks=[Timer()])
    else:
        model.fit(x, y, batch_size=128, epochs=3, verbose=0, callbacks=[Timer()])
    return statistics.median(wall[1:]), statistics.median(cpu[1:])


def main(kind: str, size: int | None) -> None:
    x, y, _, _ = prepare_arrays(nbmnist.load_dataset("mnist"), kind, size)  # type: ignore[arg-type]
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for round_ in range(2):
        for variant in VARIANTS if round_ == 0 else VARIANTS[::-1]:
            results[variant].append(epoch_seconds(kind, variant, x, y))
    print(f"| {kind} variant | wall s / epoch | CPU s / epoch |")
    print("| --- | --- | --- |")
    for variant, pairs in results.items():
        wall = ", ".join(f"{w:.2f}" for w, _ in pairs)
        cpu = ", ".join(f"{c:.2f}" for _, c in pairs)
        print(f"| {variant} | {wall} | {cpu} |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
