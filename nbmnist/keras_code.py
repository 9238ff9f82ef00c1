"""Declaration -> plain Keras 3 code: what a cell means, written out for teaching.

The code builds the same model (``build_model``), compiles it as ``train`` does, loads the data
with ``keras.datasets`` (own data: from the notebook's variable) and fits it. It imports
nothing from nbmnist and uses no Keras internals, so a student can paste it into any notebook.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbmnist.data import data_shape, is_own_data, load_dataset
from nbmnist.declaration import Declaration, Kind, LayerSpec
from nbmnist.declaration.spec import ResidualSpec
from nbmnist.model import as_declaration
from nbmnist.options import make_options
from nbmnist.plan import TrainingPlan


def _text(value: str) -> str:
    return f'"{value}"'


def layer_code(spec: LayerSpec) -> str:
    """One Keras layer constructor call, e.g. ``layers.Dense(430, activation="relu")``:
    the spec's ``keras_call``, which the model builder calls too."""
    return spec.keras_call().code()


def _functional_lines(specs: tuple[LayerSpec, ...], shape: tuple[int, ...], depth: int = 0,
                      first_head: int | None = None) -> list[str]:  # fmt: skip
    """``x = layers.X(...)(x)`` lines for ``specs`` meeting ``shape``; a residual block as its
    body on ``x``, the kept input (projected after the body where the shapes differ) and an
    ``Add``."""
    lines = []
    for index, spec in enumerate(specs):
        note = ""
        if first_head is not None and index >= first_head:
            note = "  # output layer added by nbmnist"
        if isinstance(spec, ResidualSpec):
            kept = "shortcut" if depth == 0 else f"shortcut_{depth + 1}"
            lines.append(f"{kept} = x  # {spec.describe()}")
            lines += _functional_lines(spec.layers, shape, depth + 1)
            projection = spec.projection(shape)
            if projection is not None:
                lines.append(f"{kept} = {projection.code()}({kept})  # to the block's shape")
            lines.append(f"x = layers.Add()([x, {kept}])")
        else:
            lines.append(f"x = {layer_code(spec)}(x){note}")
        shape = spec.output_shape(shape)
    return lines


def model_code(declaration: Declaration, name: str | None = None) -> str:
    """``model = keras.Sequential([...])`` for a declaration (output head included); with a
    residual block, the functional API: ``inputs``, one line per layer, ``keras.Model``."""
    if any(isinstance(spec, ResidualSpec) for spec in declaration.layers):
        first_head = len(declaration.layers) - declaration.head_layers
        body = _functional_lines(declaration.layers, declaration.input_shape, 0, first_head)
        named = f", name={_text(name)}" if name else ""
        return "\n".join(
            [
                f"inputs = keras.Input(shape={declaration.input_shape})",
                "x = inputs",
                *body,
                f"model = keras.Model(inputs, x{named})",
            ]
        )
    lines = [
        "model = keras.Sequential(",
        "    [",
        f"        keras.Input(shape={declaration.input_shape}),",
    ]
    first_head = len(declaration.layers) - declaration.head_layers
    for index, spec in enumerate(declaration.layers):
        note = "  # output layer added by nbmnist" if index >= first_head else ""
        lines.append(f"        {layer_code(spec)},{note}")
    lines.append("    ],")
    if name:
        lines.append(f"    name={_text(name)},")
    lines.append(")")
    return "\n".join(lines)


def to_keras_code(
    text_or_declaration: str | Declaration,
    kind: Kind = "mlp",
    name: str | None = None,
    models_in_cell: int = 1,
    **options: Any,
) -> str:
    """Plain, idiomatic Keras 3 code equivalent to a ``%%mlp`` / ``%%cnn`` cell.

    Args:
        text_or_declaration: the cell body, or a parsed ``Declaration``.
        kind: ``"mlp"`` or ``"cnn"`` (ignored for a ``Declaration``).
        name: the model's name in the code (a run name such as ``relu_2h``).
        models_in_cell: the models the cell trains (a sweep's points; see ``train``).
        **options: the training options, as ``nbmnist.train`` takes them (``epochs``,
            ``batch_size``, ``optimizer``, ``learning_rate``, ``loss``, ``validation``, ...).

    Returns:
        Python source: imports, ``keras.Sequential``, ``compile``, data loading with
        ``keras.datasets`` (pixels scaled to float32 in [0, 1], one-hot labels), ``fit`` and
        ``evaluate``: the ``TrainingPlan`` that ``train`` runs, written out.

    Raises:
        DeclarationError: the declaration is invalid.
        OptionError: an option is unknown or out of range.
    """
    opts = make_options(**options)
    declaration = as_declaration(text_or_declaration, kind, None, data_shape(opts.data)[0])
    return plan_code(TrainingPlan.of(declaration, opts), name)


def plan_code(plan: TrainingPlan, name: str | None = None) -> str:
    """A ``TrainingPlan`` as plain Keras 3 code (see ``to_keras_code``)."""
    opts = plan.options
    lr = f"learning_rate={opts.learning_rate!r}" if opts.learning_rate is not None else ""
    loss = _text(plan.loss)
    if plan.from_logits:
        loss = "keras.losses.CategoricalCrossentropy(from_logits=True)"
    shape = "(" + ", ".join(str(n) for n in plan.batch_shape) + ")"
    fit = [f"batch_size={plan.batch_size}", f"epochs={plan.epochs}"]
    split = "1 / 6" if abs(opts.validation_split - 1 / 6) < 1e-12 else repr(opts.validation_split)
    if opts.validation == "split":
        fit.append(f"validation_split={split}")
    elif opts.validation == "test":
        fit.append("validation_data=(x_test, y_test)")
    stopping = plan.early_stopping_settings()
    if stopping:
        shown = {k: _text(v) if isinstance(v, str) else repr(v) for k, v in stopping.items()}
        settings = ", ".join(f"{key}={value}" for key, value in shown.items())
        fit.append(f"callbacks=[keras.callbacks.EarlyStopping({settings})]")
    lines = ["import keras", "from keras import layers", ""]
    if opts.fast:
        lines += [
            f"# fast mode: nbmnist trains {plan.epochs} epoch(s) on {plan.train_size:,} images "
            "of its bundled sample",
            "",
        ]
    if opts.seed is not None:
        lines += [f"keras.utils.set_random_seed({opts.seed})", ""]
    classes = data_shape(opts.data)[1]
    scale = " / 255"
    if is_own_data(opts.data):
        lines.append(
            f"(x_train, y_train), (x_test, y_test) = {opts.data}  # your arrays (--data "
            f"{opts.data}), labels 0-{classes - 1}"
        )
        if load_dataset(opts.data).x_train.dtype != np.uint8:
            scale = ""  # floats in [0, 1] already
    else:
        lines.append(
            f"(x_train, y_train), (x_test, y_test) = keras.datasets.{opts.data}.load_data()"
        )
    lines += [
        f'x_train = x_train.reshape{shape}.astype("float32"){scale}',
        f'x_test = x_test.reshape{shape}.astype("float32"){scale}',
        f"y_train = keras.utils.to_categorical(y_train, {classes})",
        f"y_test = keras.utils.to_categorical(y_test, {classes})",
    ]
    if plan.train_size is not None:
        lines.append(
            f"x_train, y_train = x_train[: {plan.train_size}], y_train[: {plan.train_size}]"
        )
    lines += ["", model_code(plan.declaration, name), "model.summary()", ""]
    if opts.lr_schedule != "constant":
        peak = (
            repr(opts.learning_rate)
            if opts.learning_rate is not None
            else f"float(keras.optimizers.{plan.optimizer}().learning_rate.numpy())"
        )
        fitted = "len(x_train)"
        if opts.validation == "split":
            fitted = f"int(len(x_train) * (1 - {split}))"
        one_cycle = opts.lr_schedule == "one_cycle"
        lines += [
            f"peak = {peak}",
            f"steps = -(-{fitted} // {plan.batch_size}) * {plan.epochs}  # batches in all",
            "warmup = max(1, min(steps * 3 // 10, steps - 1))"
            if one_cycle
            else "warmup = max(1, steps // 10)",
        ]
        if one_cycle:
            lines += [
                "# one cycle (Smith & Topin 2017, fastai's settings): peak / 25 up to peak over",
                "# 30% of the steps, then cosine decay to peak / 1e5",
                "schedule = keras.optimizers.schedules.CosineDecay(",
                "    peak / 25, decay_steps=steps - warmup, alpha=1e-05, warmup_target=peak,",
                "    warmup_steps=warmup,",
                ")",
            ]
        else:
            lines += [
                "schedule = keras.optimizers.schedules.CosineDecay(",
                "    0.0, decay_steps=steps - warmup, warmup_target=peak, warmup_steps=warmup",
                ")",
            ]
        lr = "learning_rate=schedule"
    group = opts.steps_per_execution or 1  # only when asked: it means nothing to a student
    lines += [
        "model.compile(",
        f"    optimizer=keras.optimizers.{plan.optimizer}({lr}),",
        f"    loss={loss},",
        '    metrics=["accuracy"],',
        *([f"    steps_per_execution={group},"] if group > 1 else []),
        *([f"    jit_compile={opts.jit_compile},"] if opts.jit_compile is not None else []),
        ")",
        f"history = model.fit(x_train, y_train, {', '.join(fit)})",
        "test_loss, test_accuracy = model.evaluate(x_test, y_test)",
    ]
    return "\n".join(lines) + "\n"
