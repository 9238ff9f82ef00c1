"""Declaration -> ``keras.Model``. Keras is imported inside the functions, on first use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbmnist.backend import import_keras, weights_initialized_per_layer
from nbmnist.declaration import Declaration, Kind, LayerSpec, parse_declaration
from nbmnist.declaration.spec import MNIST_IMAGE, ResidualSpec

if TYPE_CHECKING:
    import keras


def _keras_layer(spec: LayerSpec, dtype: str | None = None) -> keras.layers.Layer:
    layer = spec.keras_call().build(import_keras())
    if dtype is not None:  # a layer's dtype policy is fixed when built; set it from the config
        layer = type(layer).from_config({**layer.get_config(), "dtype": dtype})
    return layer


def _applied(spec: LayerSpec, x: keras.KerasTensor, dtype: str | None = None) -> Any:
    """``x`` through ``spec``'s Keras layer; for a residual block, through its body, plus
    its input (projected where the shapes differ: after the body, as ``--show-code``
    writes it, so both build their layers in the same order)."""
    if not isinstance(spec, ResidualSpec):
        return _keras_layer(spec, dtype)(x)
    shape = tuple(int(n) for n in x.shape[1:])
    y = x
    for inner in spec.layers:
        y = _applied(inner, y)
    projection = spec.projection(shape)
    shortcut = x if projection is None else projection.build(import_keras())(x)
    return import_keras().layers.Add()([y, shortcut])


def as_declaration(
    text_or_declaration: str | Declaration,
    kind: Kind = "mlp",
    variables: Mapping[str, object] | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> Declaration:
    """Parse ``text_or_declaration`` if it is text; return it unchanged if already parsed.
    ``image_shape`` (height, width, channels; None: the declaration's, MNIST's for text): the
    images the model takes (``data.data_shape``), its layers checked for them.

    Raises:
        DeclarationError: the text does not parse, or its layers cannot take ``image_shape``.
    """
    if isinstance(text_or_declaration, Declaration):
        if image_shape is None:
            return text_or_declaration
        return text_or_declaration.with_input(image_shape)
    return parse_declaration(text_or_declaration, kind, variables, image_shape or MNIST_IMAGE)


def run_image_shape(run: Any) -> tuple[int, int, int]:
    """The images ``run`` trained on, (height, width, channels): recorded in its plan
    (``image_shape``); MNIST's 28x28x1 for a run recorded before other data existed."""
    shape = (getattr(run, "plan", None) or {}).get("image_shape") or MNIST_IMAGE
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def run_declaration(run: Any) -> Declaration:
    """``run``'s declaration, parsed for the images it trained on (``run_image_shape``).

    Raises:
        DeclarationError: the recorded text no longer parses (a newer vocabulary).
    """
    return parse_declaration(run.declaration, run.kind, run.variables, run_image_shape(run))


def build_model(
    text_or_declaration: str | Declaration,
    kind: Kind = "mlp",
    num_classes: int = 10,
    name: str | None = None,
    mixed_precision: bool | str = False,
    image_shape: tuple[int, int, int] | None = None,
) -> keras.Model:
    """Build the (uncompiled) Keras model a declaration describes.

    The output head ``dense num_classes softmax`` is appended unless the declaration already
    ends with a dense layer of ``num_classes`` units (see ``Declaration.with_head``).

    Args:
        text_or_declaration: a cell body, or a ``Declaration`` from ``parse_declaration``.
        kind: ``"mlp"``: input float32 of shape (batch, H*W*C), (batch, 784) for MNIST;
            ``"cnn"``: (batch, H, W, C), (batch, 28, 28, 1) for MNIST. Ignored when a
            ``Declaration`` is passed (it carries its kind).
        num_classes: number of output classes (10 for MNIST, Fashion-MNIST and CIFAR-10).
        name: the Keras model name; Keras picks one when None.
        mixed_precision: build with a mixed Keras dtype policy (``True``: ``mixed_float16``,
            float16 compute and float32 variables; or a policy name such as
            ``"mixed_bfloat16"``), keeping the output layer in float32 as Keras recommends
            for softmax. Speeds up training on recent GPUs and TPUs; no benefit on CPUs.
        image_shape: the images the model takes, (height, width, channels); None: the
            declaration's (MNIST's 28x28x1 for text).

    Returns:
        A ``keras.Sequential`` with an ``Input`` of the kind's shape, one Keras layer per
        spec; with a residual block, a functional ``keras.Model`` (the block's layers, its
        projection and ``Add`` in place of the block).

    Raises:
        DeclarationError: the text does not parse, or its layers cannot take
            ``image_shape`` (raised before Keras is imported).
    """
    declaration = as_declaration(text_or_declaration, kind, None, image_shape)
    declaration = declaration.with_head(num_classes)
    keras = import_keras()
    previous = keras.mixed_precision.dtype_policy()
    policy = "mixed_float16" if mixed_precision is True else mixed_precision or None
    if policy == "float32":
        policy = None
    if policy:
        keras.mixed_precision.set_dtype_policy(policy)
    try:
        last = len(declaration.layers) - 1
        dtypes = ["float32" if policy and i == last else None for i in range(last + 1)]
        if any(isinstance(spec, ResidualSpec) for spec in declaration.layers):
            with weights_initialized_per_layer():  # a block joins two paths: functional API
                inputs = keras.Input(shape=declaration.input_shape)
                x = inputs
                for spec, dtype in zip(declaration.layers, dtypes, strict=True):
                    x = _applied(spec, x, dtype)
                return keras.Model(inputs, x, name=name)
        layers = [keras.Input(shape=declaration.input_shape)]
        for spec, dtype in zip(declaration.layers, dtypes, strict=True):
            layers.append(_keras_layer(spec, dtype))
        with weights_initialized_per_layer():
            return keras.Sequential(layers, name=name)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def summary_text(declaration: Declaration, model: keras.Model) -> str:
    """A compact model summary: one line per layer, as declared, with Keras' output shape and
    parameter count, and a note on the output head when nbmnist appended it.

    Args:
        declaration: the declaration ``model`` was built from (head included).
        model: the built model (one Keras layer per spec, in order; a residual block's
            several).
    """
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    rows = []
    for spec, given in zip(declaration.layers, declaration.output_shapes(), strict=False):
        count = keras_layers(spec, given)
        taken, layers = layers[:count], layers[count:]
        params = sum(layer.count_params() for layer in taken)
        rows.append((spec.describe(), str((None, *taken[-1].output.shape[1:])), f"{params:,}"))
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


def keras_layers(spec: LayerSpec, shape: tuple[int, ...]) -> int:
    """How many Keras layers ``spec`` builds for an input of ``shape``: 1, or for a residual
    block its body's, its projection and the ``Add``."""
    if not isinstance(spec, ResidualSpec):
        return 1
    shapes = spec.body_shapes(shape)
    body = sum(keras_layers(inner, s) for inner, s in zip(spec.layers, shapes, strict=False))
    return body + (spec.projection(shape) is not None) + 1


def non_trainable_params(model: keras.Model) -> int:
    """Parameters not updated by the optimizer (BatchNormalization's moving statistics)."""
    total = 0
    for weight in model.non_trainable_weights:
        size = 1
        for n in weight.shape:
            size *= int(n)
        total += size
    return total
