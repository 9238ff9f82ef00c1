"""What makes an epoch faster than plain ``model.fit(x, y)`` on a CPU? Variants tried for
issue 7 (TensorFlow).

    make bench BENCH=bench/choices/test_input_pipelines.py      (full MNIST)

Same model (seed 000's MLP, or the Keras example CNN), batch 128, Adam, in one process, each
variant trained for 3 epochs, median wall and CPU seconds of epochs 2-3, two rounds in
alternating order (the CNN on 10,000 images):
- ``plain``: ``model.fit`` on NumPy arrays (Keras' array adapter);
- ``spe8``, ``spe32``: the same with ``compile(steps_per_execution=N)``;
- ``jit``: ``compile(jit_compile=True)`` (XLA; Keras leaves it off on CPU-only machines);
- ``tfdata``: ``tf.data.Dataset.from_tensor_slices`` on the in-memory arrays, shuffled,
  batched, prefetched.
"""

from __future__ import annotations

from typing import Any

import pytest

import nbmnist
from bench.harness import Result, epoch_clock
from nbmnist.training import prepare_arrays

MODELS = {
    "mlp": "430 322 relu he_normal bn dropout=0.5",
    "cnn": "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5",
}
VARIANTS = ("plain", "spe8", "spe32", "jit", "tfdata")


SIZES = {"mlp": None, "cnn": 10_000}


def epoch_seconds(kind: str, variant: str, x: Any, y: Any) -> tuple[float, float]:
    import tensorflow as tf

    clock = epoch_clock()
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
        model.fit(data, epochs=3, verbose=0, callbacks=[clock])
    else:
        model.fit(x, y, batch_size=128, epochs=3, verbose=0, callbacks=[clock])
    return clock.steady_epoch()


def measure(kind: str, dataset: Any) -> Result:
    x, y, _, _ = prepare_arrays(dataset, kind, SIZES[kind])  # type: ignore[arg-type]
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for round_ in range(2):
        for variant in VARIANTS if round_ == 0 else VARIANTS[::-1]:
            results[variant].append(epoch_seconds(kind, variant, x, y))
    return Result(
        [
            {
                "model": kind,
                "variant": variant,
                "wall s / epoch, two rounds": ", ".join(f"{w:.2f}" for w, _ in pairs),
                "CPU s / epoch, two rounds": ", ".join(f"{c:.2f}" for _, c in pairs),
            }
            for variant, pairs in results.items()
        ]
    )


@pytest.mark.benchmark(group="input-pipelines")
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_input_pipeline_variants(measured: Any, full_mnist: Any, kind: str) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.fail("these variants are TensorFlow's: run with KERAS_BACKEND=tensorflow")
    measured(lambda: measure(kind, full_mnist))
