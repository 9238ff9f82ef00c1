"""Declaration -> ``keras.Model``. Keras is imported inside the functions, on first use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nbmnist.backend import import_keras, weights_initialized_per_layer
from nbmnist.declaration import Declaration, Kind, LayerSpec, parse_declaration

if TYPE_CHECKING:
    import keras


def _keras_layer(spec: LayerSpec, dtype: str | None = None) -> keras.layers.Layer:
    layer = spec.keras_call().build(import_keras())
    if dtype is not None:  # a layer's dtype policy is fixed when built; set it from the config
        layer = type(layer).from_config({**layer.get_config(), "dtype": dtype})
    return layer


def as_declaration(
    text_or_declaration: str | Declaration,
    kind: Kind = "mlp",
    variables: Mapping[str, object] | None = None,
) -> Declaration:
    """Parse ``text_or_declaration`` if it is text; return it unchanged if already parsed."""
    if isinstance(text_or_declaration, Declaration):
        return text_or_declaration
    return parse_declaration(text_or_declaration, kind, variables)


def build_model(
    text_or_declaration: str | Declaration,
    kind: Kind = "mlp",
    num_classes: int = 10,
    name: str | None = None,
    mixed_precision: bool | str = False,
) -> keras.Sequential:
    """Build the (uncompiled) Keras model a declaration describes.

    The output head ``dense num_classes softmax`` is appended unless the declaration already
    ends with a dense layer of ``num_classes`` units (see ``Declaration.with_head``).

    Args:
        text_or_declaration: a cell body, or a ``Declaration`` from ``parse_declaration``.
        kind: ``"mlp"``: input float32 of shape (batch, 784); ``"cnn"``: (batch, 28, 28, 1).
            Ignored when a ``Declaration`` is passed (it carries its kind).
        num_classes: number of output classes (10 for MNIST and Fashion-MNIST).
        name: the Keras model name; Keras picks one when None.
        mixed_precision: build with a mixed Keras dtype policy (``True``: ``mixed_float16``,
            float16 compute and float32 variables; or a policy name such as
            ``"mixed_bfloat16"``), keeping the output layer in float32 as Keras recommends
            for softmax. Speeds up training on recent GPUs and TPUs; no benefit on CPUs.

    Returns:
        A ``keras.Sequential`` with an ``Input`` of the kind's shape, one Keras layer per spec.

    Raises:
        DeclarationError: the text does not parse (raised before Keras is imported).
    """
    declaration = as_declaration(text_or_declaration, kind).with_head(num_classes)
    keras = import_keras()
    previous = keras.mixed_precision.dtype_policy()
    policy = "mixed_float16" if mixed_precision is True else mixed_precision or None
    if policy == "float32":
        policy = None
    if policy:
        keras.mixed_precision.set_dtype_policy(policy)
    try:
        layers = [keras.Input(shape=declaration.input_shape)]
        last = len(declaration.layers) - 1
        for index, spec in enumerate(declaration.layers):
            float32_output = bool(policy) and index == last
            layers.append(_keras_layer(spec, "float32" if float32_output else None))
        with weights_initialized_per_layer():
            return keras.Sequential(layers, name=name)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def summary_text(declaration: Declaration, model: keras.Model) -> str:
    """A compact model summary: one line per layer, as declared, with Keras' output shape and
    parameter count, and a note on the output head when nbmnist appended it.

    Args:
        declaration: the declaration ``model`` was built from (head included).
        model: the built model (one Keras layer per spec, in order).
    """
    rows = [
        (spec.describe(), str((None, *layer.output.shape[1:])), f"{layer.count_params():,}")
        for spec, layer in zip(declaration.layers, model.layers, strict=True)
    ]
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for index, (text, shape, params) in enumerate(rows):
        note = ""
        if index >= len(rows) - declaration.head_layers:
            note = "  <- output head appended by nbmnist"
        lines.append(f"  {text:<{width[0]}}  {shape:<{width[1]}}  {params:>{width[2]}}{note}")
    total = model.count_params()
    lines.append(f"  total params: {total:,} (non-trainable: {non_trainable_params(model):,})")
    return "\n".join(lines)


def non_trainable_params(model: keras.Model) -> int:
    """Parameters not updated by the optimizer (BatchNormalization's moving statistics)."""
    total = 0
    for weight in model.non_trainable_weights:
        size = 1
        for n in weight.shape:
            size *= int(n)
        total += size
    return total
