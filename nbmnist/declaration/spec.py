"""Frozen specs of the layers a declaration describes; pure data, no Keras."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from nbmnist.declaration.tokens import (
    CONV_OPTIONS,
    DENSE_OPTIONS,
    POOL_OPTIONS,
    Token,
    Tokens,
    amount,
    fraction,
    no_arguments,
    options,
    rate,
    size,
    whole,
)
from nbmnist.errors import DeclarationError

Kind = Literal["mlp", "cnn"]

#: One MNIST or Fashion-MNIST image as a ``%%cnn`` model takes it: (height, width, channels).
MNIST_IMAGE: tuple[int, int, int] = (28, 28, 1)


def input_shape(kind: str, image_shape: tuple[int, int, int] = MNIST_IMAGE) -> tuple[int, ...]:
    """One example as ``kind``'s model takes it, for images of ``image_shape`` (height, width,
    channels): ``%%mlp`` flattens them (784 values for MNIST), ``%%cnn`` keeps them."""
    if kind == "mlp":
        return (image_shape[0] * image_shape[1] * image_shape[2],)
    return tuple(image_shape)


def batch_shape(kind: str, image_shape: tuple[int, int, int] = MNIST_IMAGE) -> tuple[int, ...]:
    """The shape a batch of images is reshaped to for ``kind``: ``(-1, 784)`` or
    ``(-1, 28, 28, 1)`` for MNIST, ``(-1, 3072)`` or ``(-1, 32, 32, 3)`` for CIFAR-10."""
    return (-1, *input_shape(kind, image_shape))


@dataclass(frozen=True)
class KerasCall:
    """A Keras constructor call as data: the one description of a layer that both the
    model builder (``build``) and ``--show-code`` (``code``) read, so they cannot differ.

    Attributes:
        path: the callable under ``keras``, e.g. ``"layers.Dense"``, ``"regularizers.L2"``.
        args: positional arguments (numbers, strings, tuples, nested ``KerasCall``).
        kwargs: keyword arguments; only those that differ from Keras' defaults.
    """

    path: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, keras: Any) -> Any:
        """Call it on the ``keras`` module given."""
        target = keras
        for name in self.path.split("."):
            target = getattr(target, name)

        def value(v: Any) -> Any:
            return v.build(keras) if isinstance(v, KerasCall) else v

        return target(*map(value, self.args), **{k: value(v) for k, v in self.kwargs.items()})

    def code(self) -> str:
        """The call as Python source, e.g. ``layers.Dense(430, activation="relu")`` (with
        ``from keras import layers``; anything else as ``keras.regularizers.L2(0.01)``)."""
        path = self.path if self.path.startswith("layers.") else f"keras.{self.path}"
        parts = [_source(v) for v in self.args]
        parts += [f"{k}={_source(v)}" for k, v in self.kwargs.items()]
        return f"{path}({', '.join(parts)})"


def _source(value: Any) -> str:
    if isinstance(value, KerasCall):
        return value.code()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(_source(v) for v in value) + ")"
    return repr(value)


#: Keras' default momentum of ``BatchNormalization``'s moving averages (keras.io, layers API).
BN_MOMENTUM = 0.99


def _keywords(**values: Any) -> dict[str, Any]:
    """The keyword arguments that are set (not None)."""
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class LayerSpec:
    """Base of every layer spec: one layer kind's whole meaning in one class: how it reads
    (``describe``), its output shape, its parameter and multiply-add counts, and the Keras
    layer it builds (``keras_call``). ``line`` and ``column`` (1-based) locate the token
    that declared it in the cell body (0: added by nbmnist)."""

    #: The layer words (``vocabulary.LAYER_WORDS`` keywords) this class parses.
    WORDS: ClassVar[tuple[str, ...]] = ()

    line: int = field(default=0, compare=False, kw_only=True)
    column: int = field(default=0, compare=False, kw_only=True)

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> LayerSpec:
        """The layer a statement declares: ``word`` (one of ``WORDS``), written as ``head``,
        then its ``tokens``. This default: a layer that takes no arguments.

        Raises:
            DeclarationError: with the line and column of the offending token.
        """
        no_arguments(head, tokens)
        return cls(line=head.line, column=head.column)

    def describe(self) -> str:
        """The layer in the declaration language, e.g. ``dense 430 relu he_normal``."""
        raise NotImplementedError

    def keras_call(self) -> KerasCall:
        """The Keras layer, as a constructor call (``KerasCall``)."""
        raise NotImplementedError

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Output shape for an input of ``shape`` (no batch axis), as Keras computes it
        (this default: unchanged).

        Raises:
            ValueError: the layer cannot take that shape; the message names both.
        """
        return shape

    def parameters(self, shape: tuple[int, ...]) -> int:
        """Parameters for an input of ``shape``, as Keras counts them (this default: 0)."""
        return 0

    def multiply_adds(self, shape: tuple[int, ...]) -> int:
        """Multiply-adds of a forward pass of one example of ``shape`` (this default: 0)."""
        return 0


def _size(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _optional(*words: str | None) -> str:
    return "".join(f" {w}" for w in words if w)


def _l2(factor: float | None) -> str | None:
    return f"l2={factor:g}" if factor is not None else None


def _regularizer(factor: float | None) -> KerasCall | None:
    return KerasCall("regularizers.L2", (factor,)) if factor is not None else None


def _check_feature_map(word: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise ValueError(
            f"'{word}' needs a 2-D feature map but meets a flat vector of shape {shape}; "
            "put convolution and pooling layers before 'flatten' (in a %%cnn cell)"
        )


def _window_output(
    shape: tuple[int, ...],
    window: tuple[int, int],
    strides: tuple[int, int],
    padding: str,
    what: str,
) -> tuple[int, int]:
    """Height and width after a sliding ``window`` (a kernel or a pool)."""
    sizes = []
    for axis in (0, 1):
        size, k, s = shape[axis], window[axis], strides[axis]
        if padding == "same":
            sizes.append(-(-size // s))
            continue
        if k > size:
            raise ValueError(
                f"{what} {window[0]}x{window[1]} is larger than the {shape[0]}x{shape[1]} "
                "feature map it meets; use a smaller size, 'same' padding, or fewer "
                "layers before it"
            )
        sizes.append((size - k) // s + 1)
    return sizes[0], sizes[1]


@dataclass(frozen=True)
class DenseSpec(LayerSpec):
    """``keras.layers.Dense(units, activation, kernel_initializer, kernel_regularizer)``;
    ``l2`` is the factor of an L2 kernel regularizer (``keras.regularizers.L2``)."""

    WORDS = ("dense",)

    units: int
    activation: str | None = None
    kernel_initializer: str | None = None
    l2: float | None = None

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> DenseSpec:
        units = whole(tokens.take("its number of units (e.g. 'dense 128 relu')"), "units")
        keywords = options(tokens, DENSE_OPTIONS, ("l2",))
        return cls(units, line=head.line, column=head.column, **keywords)

    def describe(self) -> str:
        return f"dense {self.units}" + _optional(
            self.activation, self.kernel_initializer, _l2(self.l2)
        )

    def keras_call(self) -> KerasCall:
        return KerasCall(
            "layers.Dense",
            (self.units,),
            _keywords(
                activation=self.activation,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=_regularizer(self.l2),
            ),
        )

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 1:
            raise ValueError(
                f"'dense' needs a flat input but meets a feature map of shape {shape}; "
                "add 'flatten' before it"
            )
        return (self.units,)

    def parameters(self, shape: tuple[int, ...]) -> int:
        return shape[0] * self.units + self.units

    def multiply_adds(self, shape: tuple[int, ...]) -> int:
        return shape[0] * self.units


@dataclass(frozen=True)
class ConvSpec(LayerSpec):
    """``keras.layers.Conv2D(filters, kernel_size, strides, padding, activation, ...)``;
    ``dilation`` is Keras' ``dilation_rate``, ``l2`` an L2 kernel regularizer factor."""

    WORDS = ("conv",)

    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"
    activation: str | None = None
    kernel_initializer: str | None = None
    dilation: tuple[int, int] = (1, 1)
    l2: float | None = None

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> ConvSpec:
        filters = whole(tokens.take("its number of filters (e.g. 'conv 32 3x3 relu')"), "filters")
        kernel = size(tokens.take("its kernel size (e.g. 'conv 32 3x3')"), "a kernel size")
        keywords = options(tokens, CONV_OPTIONS, ("stride", "dilation", "l2"))
        spec = cls(filters, kernel, line=head.line, column=head.column, **keywords)
        if spec.strides != (1, 1) and spec.dilation != (1, 1):
            raise head.error("a conv layer cannot have both stride > 1 and dilation > 1 (Keras)")
        return spec

    @property
    def effective_kernel(self) -> tuple[int, int]:
        """The window the kernel covers once dilated: ``(k - 1) * d + 1`` per axis."""
        k, d = self.kernel_size, self.dilation
        return ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1)

    def describe(self) -> str:
        k = self.kernel_size
        stride = f"stride {_size(self.strides)}" if self.strides != (1, 1) else None
        dilation = f"dilation {_size(self.dilation)}" if self.dilation != (1, 1) else None
        padding = self.padding if self.padding != "valid" else None
        return f"conv {self.filters} {k[0]}x{k[1]}" + _optional(
            stride, dilation, padding, self.activation, self.kernel_initializer, _l2(self.l2)
        )

    def keras_call(self) -> KerasCall:
        return KerasCall(
            "layers.Conv2D",
            (self.filters, self.kernel_size),
            _keywords(
                strides=self.strides if self.strides != (1, 1) else None,
                padding=self.padding if self.padding != "valid" else None,
                dilation_rate=self.dilation if self.dilation != (1, 1) else None,
                activation=self.activation,
                kernel_initializer=self.kernel_initializer,
                kernel_regularizer=_regularizer(self.l2),
            ),
        )

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        _check_feature_map("conv", shape)
        what = "dilated kernel" if self.dilation != (1, 1) else "kernel"
        height, width = _window_output(
            shape, self.effective_kernel, self.strides, self.padding, what
        )
        return (height, width, self.filters)

    def parameters(self, shape: tuple[int, ...]) -> int:
        k_h, k_w = self.kernel_size
        return k_h * k_w * shape[2] * self.filters + self.filters

    def multiply_adds(self, shape: tuple[int, ...]) -> int:
        k_h, k_w = self.kernel_size
        after = self.output_shape(shape)
        return after[0] * after[1] * self.filters * k_h * k_w * shape[2]


@dataclass(frozen=True)
class PoolSpec(LayerSpec):
    """``MaxPooling2D`` (``mode="max"``) or ``AveragePooling2D`` (``mode="avg"``)."""

    WORDS = ("maxpool", "avgpool")

    mode: Literal["max", "avg"]
    pool_size: tuple[int, int]
    strides: tuple[int, int] | None = None  # None: Keras' default, the pool size
    padding: str = "valid"

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> PoolSpec:
        mode: Literal["max", "avg"] = "max" if word == "maxpool" else "avg"
        pool_size = size(tokens.take(f"its pool size (e.g. '{word} 2')"), "a pool size")
        keywords = options(tokens, POOL_OPTIONS, ("stride",))
        return cls(mode, pool_size, line=head.line, column=head.column, **keywords)

    def describe(self) -> str:
        stride = f"stride {_size(self.strides)}" if self.strides is not None else None
        padding = self.padding if self.padding != "valid" else None
        return f"{self.mode}pool {_size(self.pool_size)}" + _optional(stride, padding)

    def keras_call(self) -> KerasCall:
        name = "MaxPooling2D" if self.mode == "max" else "AveragePooling2D"
        padding = self.padding if self.padding != "valid" else None
        return KerasCall(
            f"layers.{name}", (self.pool_size,), _keywords(strides=self.strides, padding=padding)
        )

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        _check_feature_map(f"{self.mode}pool", shape)
        strides = self.strides or self.pool_size
        height, width = _window_output(shape, self.pool_size, strides, self.padding, "pool")
        return (height, width, shape[2])


@dataclass(frozen=True)
class GlobalPoolSpec(LayerSpec):
    """``GlobalAveragePooling2D`` (``mode="avg"``) or ``GlobalMaxPooling2D`` (``"max"``)."""

    WORDS = ("globalavgpool", "globalmaxpool")

    mode: Literal["max", "avg"]

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> GlobalPoolSpec:
        no_arguments(head, tokens)
        return cls("max" if word == "globalmaxpool" else "avg", line=head.line, column=head.column)

    def describe(self) -> str:
        return f"global{self.mode}pool"

    def keras_call(self) -> KerasCall:
        return KerasCall(f"layers.Global{'Max' if self.mode == 'max' else 'Average'}Pooling2D")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        _check_feature_map(self.describe(), shape)
        return (shape[2],)


@dataclass(frozen=True)
class DropoutSpec(LayerSpec):
    """``keras.layers.Dropout(rate)``; ``rate`` is a fraction in [0, 1)."""

    WORDS = ("dropout",)

    rate: float

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> DropoutSpec:
        fraction = rate(tokens.take("its rate (e.g. 'dropout 0.25')"))
        no_arguments(head, tokens)
        return cls(fraction, line=head.line, column=head.column)

    def describe(self) -> str:
        return f"dropout {self.rate:g}"

    def keras_call(self) -> KerasCall:
        return KerasCall("layers.Dropout", (self.rate,))


@dataclass(frozen=True)
class BatchNormSpec(LayerSpec):
    """``keras.layers.BatchNormalization(momentum=...)``: 4 parameters per channel, 2 of them
    non-trainable statistics (moving averages of the batches' mean and variance, updated
    once per training batch)."""

    WORDS = ("bn",)

    #: the moving averages' momentum (Keras' default when None: ``BN_MOMENTUM``)
    momentum: float | None = None

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> LayerSpec:
        momentum = None
        for token in tokens:
            key, eq, value = token.text.lower().partition("=")
            if key != "momentum" or not eq or momentum is not None:
                raise token.error(
                    f"'{head.text}' takes only momentum=M (e.g. 'bn momentum=0.9'), "
                    f"got '{token.text}'"
                )
            at = token.column + len(key) + 1  # the value's column, after 'momentum='
            momentum = fraction(Token(value, token.line, at), "momentum")
        return cls(momentum, line=head.line, column=head.column)

    @property
    def effective_momentum(self) -> float:
        return BN_MOMENTUM if self.momentum is None else self.momentum

    def describe(self) -> str:
        return "bn" + (f" momentum={self.momentum:g}" if self.momentum is not None else "")

    def keras_call(self) -> KerasCall:
        return KerasCall("layers.BatchNormalization", (), _keywords(momentum=self.momentum))

    def parameters(self, shape: tuple[int, ...]) -> int:
        return 4 * shape[-1]


@dataclass(frozen=True)
class FlattenSpec(LayerSpec):
    """``keras.layers.Flatten()``."""

    WORDS = ("flatten",)

    def describe(self) -> str:
        return "flatten"

    def keras_call(self) -> KerasCall:
        return KerasCall("layers.Flatten")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        total = 1
        for n in shape:
            total *= n
        return (total,)


@dataclass(frozen=True)
class ActivationSpec(LayerSpec):
    """``keras.layers.Activation(activation)``."""

    activation: str

    def describe(self) -> str:
        return self.activation

    def keras_call(self) -> KerasCall:
        return KerasCall("layers.Activation", (self.activation,))


@dataclass(frozen=True)
class AugmentationSpec(LayerSpec):
    """A Keras layer that changes the images it is given while training only (``fit`` calls
    it with ``training=True``; ``evaluate`` and ``predict`` pass images through unchanged):
    data augmentation, a new random change for every batch. One ``amount`` in (0, 1]; no
    parameters. Subclasses name the word, the Keras layer and what the amount means."""

    amount: float

    #: the Keras layer (``layers.RandomRotation``) and the amount's meaning, for errors
    LAYER: ClassVar[str] = ""
    WHAT: ClassVar[str] = ""
    EXAMPLE: ClassVar[str] = "0.1"
    #: whether the layer needs an image (height, width, channels) rather than any shape
    IMAGES: ClassVar[bool] = True

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> LayerSpec:
        value = amount(
            tokens.take(f"its {cls.WHAT} (e.g. '{word} {cls.EXAMPLE}')"),
            f"the {cls.WHAT}",
            cls.EXAMPLE,
        )
        no_arguments(head, tokens)
        return cls(value, line=head.line, column=head.column)

    def describe(self) -> str:
        return f"{self.WORDS[0]} {self.amount:g}"

    def keras_call(self) -> KerasCall:
        return KerasCall(self.LAYER, (self.amount,))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.IMAGES and len(shape) != 3:
            raise ValueError(
                f"'{self.WORDS[0]}' changes images, but meets a flat vector of shape {shape}; "
                "use it in a %%cnn cell, before 'flatten'"
            )
        return shape


@dataclass(frozen=True)
class RandomRotationSpec(AugmentationSpec):
    """``keras.layers.RandomRotation(factor)``: each image turned by a random angle of up
    to ``amount`` of a full turn either way (0.05: 18 degrees)."""

    WORDS = ("random_rotation",)
    LAYER = "layers.RandomRotation"
    WHAT = "factor (a fraction of a full turn)"
    EXAMPLE = "0.05"


@dataclass(frozen=True)
class RandomZoomSpec(AugmentationSpec):
    """``keras.layers.RandomZoom(height_factor)``: each image zoomed in or out by up to
    ``amount`` of its size, keeping its aspect."""

    WORDS = ("random_zoom",)
    LAYER = "layers.RandomZoom"
    WHAT = "factor (a fraction of the image's size)"


@dataclass(frozen=True)
class RandomContrastSpec(AugmentationSpec):
    """``keras.layers.RandomContrast(factor)``: each image's contrast scaled by a random
    factor in [1 - amount, 1 + amount] around its mean."""

    WORDS = ("random_contrast",)
    LAYER = "layers.RandomContrast"
    WHAT = "factor (how far the contrast may change)"
    EXAMPLE = "0.2"


@dataclass(frozen=True)
class GaussianNoiseSpec(AugmentationSpec):
    """``keras.layers.GaussianNoise(stddev)``: zero-mean normal noise of standard deviation
    ``amount`` (in units of the [0, 1] pixel values) added to every value; any shape, so
    an MLP can use it too."""

    WORDS = ("gaussian_noise",)
    LAYER = "layers.GaussianNoise"
    WHAT = "standard deviation"
    IMAGES = False


@dataclass(frozen=True)
class RandomTranslationSpec(AugmentationSpec):
    """``keras.layers.RandomTranslation(height_factor, width_factor)``: each image shifted
    by up to ``amount`` of its height and ``width_amount`` of its width (the same when one
    is given) either way."""

    WORDS = ("random_translation",)
    LAYER = "layers.RandomTranslation"
    WHAT = "height factor (a fraction of the image's height)"
    width_amount: float | None = None

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> LayerSpec:
        example = "'random_translation 0.1' or 'random_translation 0.1 0.2'"
        height = amount(tokens.take(f"its {cls.WHAT} (e.g. {example})"), f"the {cls.WHAT}", "0.1")
        width = None
        for token in tokens:
            if width is not None:
                raise token.error(f"'{head.text}' takes at most HEIGHT WIDTH, got '{token.text}'")
            width = amount(token, "the width factor", "0.1")
        return cls(height, width, line=head.line, column=head.column)

    @property
    def width(self) -> float:
        return self.amount if self.width_amount is None else self.width_amount

    def describe(self) -> str:
        return f"random_translation {self.amount:g}" + (
            f" {self.width_amount:g}" if self.width_amount is not None else ""
        )

    def keras_call(self) -> KerasCall:
        return KerasCall(self.LAYER, (self.amount, self.width))


@dataclass(frozen=True)
class ResidualSpec(LayerSpec):
    """A residual block (He et al. 2016, "Deep Residual Learning for Image Recognition"):
    its ``layers`` applied to the input, and the input added to their output
    (``keras.layers.Add``). Where the shapes differ, the input goes through a projection
    first: a 1x1 ``Conv2D`` (with the stride that matches a smaller feature map) or a
    ``Dense`` without activation, so it has the block's output shape. Built with Keras'
    functional API; several Keras layers, one block in the declaration."""

    WORDS = ("residual",)

    layers: tuple[LayerSpec, ...] = ()

    @classmethod
    def parse(cls, word: str, head: Token, tokens: Tokens) -> LayerSpec:
        raise head.error(
            "'residual' takes its layers in parentheses: 'residual(conv 32 3x3 same relu | "
            "conv 32 3x3 same)'"
        )

    def describe(self) -> str:
        return "residual(" + " | ".join(spec.describe() for spec in self.layers) + ")"

    def keras_call(self) -> KerasCall:
        return KerasCall("layers.Add")  # the join; the block's other layers: ``keras_calls``

    def body_shapes(self, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The input shape, then the shape after each layer of the block's body."""
        shapes = [shape]
        for spec in self.layers:
            shapes.append(spec.output_shape(shapes[-1]))
        return shapes

    def projection(self, shape: tuple[int, ...]) -> KerasCall | None:
        """The shortcut's layer for an input of ``shape``: None (the input itself), a 1x1
        ``Conv2D`` or a ``Dense``.

        Raises:
            ValueError: the body's output cannot be added to its input, even projected.
        """
        out = self.body_shapes(shape)[-1]
        if out == shape:
            return None
        if len(shape) == 1 and len(out) == 1:
            return KerasCall("layers.Dense", (out[0],))
        if len(shape) == 3 and len(out) == 3:
            stride = max(1, round(shape[0] / out[0]))
            if all(-(-shape[axis] // stride) == out[axis] for axis in (0, 1)):
                keywords = _keywords(strides=stride if stride > 1 else None, padding="same")
                return KerasCall("layers.Conv2D", (out[2], 1), keywords)
        raise ValueError(
            f"the block's output {_shape(out)} cannot be added to its input {_shape(shape)}: "
            "keep its height and width with 'same' padding (a stride shrinks them by a "
            "whole factor, which the shortcut follows), and do not flatten inside it"
        )

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self.projection(shape)  # raises where the shapes cannot be added
        return self.body_shapes(shape)[-1]

    def parameters(self, shape: tuple[int, ...]) -> int:
        shapes = self.body_shapes(shape)
        total = sum(spec.parameters(s) for spec, s in zip(self.layers, shapes[:-1], strict=True))
        projection = self.projection(shape)
        if projection is not None:
            out = shapes[-1][-1]
            total += shape[-1] * out + out  # a 1x1 kernel or a dense one, and a bias
        return total

    def multiply_adds(self, shape: tuple[int, ...]) -> int:
        shapes = self.body_shapes(shape)
        total = sum(spec.multiply_adds(s) for spec, s in zip(self.layers, shapes[:-1], strict=True))
        if self.projection(shape) is not None:
            positions = 1
            for n in shapes[-1][:-1]:
                positions *= n
            total += positions * shape[-1] * shapes[-1][-1]
        return total


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def flat_layers(layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> list[LayerSpec]:
    """``layers`` with each residual block replaced by the layers of its body, in order."""
    found: list[LayerSpec] = []
    for spec in layers:
        found.extend(flat_layers(spec.layers) if isinstance(spec, ResidualSpec) else [spec])
    return found


#: The layer kinds a keyword declares (an activation alone is an ``ActivationSpec``). A new
#: kind: a class here and its entry in ``vocabulary.LAYER_WORDS`` (and its docs).
LAYER_SPECS: tuple[type[LayerSpec], ...] = (
    DenseSpec,
    ConvSpec,
    PoolSpec,
    GlobalPoolSpec,
    DropoutSpec,
    BatchNormSpec,
    FlattenSpec,
    RandomRotationSpec,
    RandomTranslationSpec,
    RandomZoomSpec,
    RandomContrastSpec,
    GaussianNoiseSpec,
    ResidualSpec,
)


@dataclass(frozen=True)
class Declaration:
    """A parsed cell body: the layers a ``%%mlp`` / ``%%cnn`` cell declares, in order.

    Attributes:
        kind: ``"mlp"`` (input: the image's pixels as one vector, 784 for MNIST) or
            ``"cnn"`` (input: images, 28x28x1 for MNIST).
        layers: the layer specs, including the output head once ``with_head`` added it.
        text: the cell body as written.
        variables: the value, as text, put in for each ``{name}`` placeholder of ``text``
            (e.g. ``{"rate": "0.2"}``); empty when ``text`` has none.
        head_layers: how many layers at the end ``with_head`` appended (0, 1 or 2).
        image_shape: the images the model takes, (height, width, channels): the data's
            (``with_input``); MNIST's 28x28x1 until then.
    """

    kind: Kind
    layers: tuple[LayerSpec, ...]
    text: str = field(default="", compare=False)
    variables: Mapping[str, str] = field(default_factory=dict, compare=False)
    head_layers: int = 0
    image_shape: tuple[int, int, int] = MNIST_IMAGE

    @property
    def head_appended(self) -> bool:
        """True when ``with_head`` appended the output head ``dense N softmax``."""
        return self.head_layers > 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input example, without the batch axis."""
        return input_shape(self.kind, self.image_shape)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape a batch of images is reshaped to (``batch_shape``)."""
        return batch_shape(self.kind, self.image_shape)

    def with_input(self, image_shape: tuple[int, int, int]) -> Declaration:
        """This declaration for images of ``image_shape`` (height, width, channels), its
        layers checked again for that input as the parser checks them.

        Raises:
            DeclarationError: a layer cannot take that input (e.g. a pooling window larger
                than the feature map), with its line and column.
        """
        image_shape = (int(image_shape[0]), int(image_shape[1]), int(image_shape[2]))
        if image_shape == self.image_shape:
            return self
        changed = replace(self, image_shape=image_shape)
        check_shapes(changed)
        return changed

    def has_head(self, num_classes: int) -> bool:
        """True when the layers already end with ``dense num_classes`` (and an activation)."""
        layers = list(self.layers)
        if layers and isinstance(layers[-1], ActivationSpec):
            layers.pop()
        last = layers[-1] if layers else None
        return isinstance(last, DenseSpec) and last.units == num_classes

    def with_head(self, num_classes: int = 10) -> Declaration:
        """This declaration with ``dense num_classes softmax`` appended, unless it has one.

        A ``flatten`` goes first when the last layer still outputs a feature map.

        Raises:
            DeclarationError: the layers already end in a softmax of another size (an output
                layer for other classes): a second one is not silently stacked on it.
        """
        if self.has_head(num_classes):
            return self
        if self.output_activation in ("softmax", "log_softmax"):
            # the last layer with weights; a body of activations alone names its activation
            last = next(
                (s for s in reversed(self.layers) if not isinstance(s, ActivationSpec)),
                self.layers[-1],
            )
            size = self.output_shapes()[-1][-1]
            raise DeclarationError(
                f"the model ends in '{last.describe()}' ({self.output_activation} over {size}), "
                f"but there are {num_classes} classes: end with 'dense {num_classes} softmax', "
                "or drop the softmax and nbmnist appends that output layer",
                line=last.line or None,
                column=last.column or None,
            )
        head: list[LayerSpec] = []
        if len(self.output_shapes()[-1]) != 1:
            head.append(FlattenSpec())
        head.append(DenseSpec(num_classes, "softmax"))
        return replace(self, layers=(*self.layers, *head), head_layers=len(head))

    def output_shapes(self) -> list[tuple[int, ...]]:
        """Shape after each layer (no batch axis); the first entry is the input shape."""
        shapes = [self.input_shape]
        for spec in self.layers:
            shapes.append(spec.output_shape(shapes[-1]))
        return shapes

    def multiply_adds(self) -> int:
        """Multiply-adds of one forward pass for one example (no batch axis): ``in * units``
        per ``dense``, ``out_h * out_w * filters * k_h * k_w * in_channels`` per ``conv``;
        other layers count 0. A rough measure of a training step's cost."""
        shapes = self.output_shapes()
        return sum(
            spec.multiply_adds(shape) for spec, shape in zip(self.layers, shapes[:-1], strict=True)
        )

    def parameter_counts(self) -> list[int]:
        """Parameters of each layer, as Keras counts them: ``dense`` in * units + units,
        ``conv`` k_h * k_w * in_channels * filters + filters, ``bn`` 4 per channel (2 of them
        non-trainable statistics); other layers 0. Python ints (no overflow)."""
        shapes = self.output_shapes()
        return [
            spec.parameters(shape) for spec, shape in zip(self.layers, shapes[:-1], strict=True)
        ]

    def training_bytes(self, batch_size: int) -> tuple[int, int]:
        """An estimate of the memory training needs, in bytes, and the index of the layer
        that needs the most: float32 weights with their gradient and two Adam moments (16
        bytes per parameter), and each layer's output for one batch, kept for the backward
        pass with its gradient (8 bytes per value)."""
        shapes = self.output_shapes()[1:]
        needs = []
        for count, shape in zip(self.parameter_counts(), shapes, strict=True):
            values = batch_size
            for n in shape:
                values *= n
            needs.append(16 * count + 8 * values)
        return sum(needs), max(range(len(needs)), key=needs.__getitem__)

    @property
    def output_activation(self) -> str:
        """Activation of the model's output (``"linear"`` when the last Dense has none)."""
        for spec in reversed(self.layers):
            if isinstance(spec, ActivationSpec):
                return spec.activation
            if isinstance(spec, (DenseSpec, ConvSpec)):
                return spec.activation or "linear"
        return "linear"

    @property
    def uses_batchnorm(self) -> bool:
        return any(isinstance(spec, BatchNormSpec) for spec in flat_layers(self.layers))

    @property
    def dropout_rates(self) -> tuple[float, ...]:
        """Distinct dropout rates in order of first use."""
        rates: list[float] = []
        for spec in flat_layers(self.layers):
            if isinstance(spec, DropoutSpec) and spec.rate not in rates:
                rates.append(spec.rate)
        return tuple(rates)

    @property
    def architecture(self) -> str:
        """Short description for tables: ``dense 430-322-10``, ``conv 32-64 / dense 128-10``."""
        convs = [str(s.filters) for s in flat_layers(self.layers) if isinstance(s, ConvSpec)]
        denses = [str(s.units) for s in flat_layers(self.layers) if isinstance(s, DenseSpec)]
        parts = []
        if convs:
            parts.append("conv " + "-".join(convs))
        if denses:
            parts.append("dense " + "-".join(denses))
        return " / ".join(parts) or "(no layers)"

    def describe(self) -> str:
        """The layers as canonical declaration text, one per line."""
        return "\n".join(spec.describe() for spec in self.layers)


def check_shapes(declaration: Declaration) -> None:
    """Shape-check the declaration's layers for its input, so mistakes surface before Keras
    is imported.

    Raises:
        DeclarationError: the first layer that cannot take its input, with line and column.
    """
    _check_shapes(declaration.layers, declaration.kind, declaration.input_shape, [])


def _check_shapes(
    layers: list[LayerSpec] | tuple[LayerSpec, ...],
    kind: Kind,
    shape: tuple[int, ...],
    flattened: list[int],
) -> tuple[int, ...]:
    """The output shape of ``layers`` for an input of ``shape``, each layer checked where it
    stands (a block's inside too, then whether its shortcut can be added); ``flattened``
    holds the line of a ``flatten`` met so far."""
    for spec in layers:
        if isinstance(spec, ResidualSpec):
            _check_shapes(spec.layers, kind, shape, flattened)
            try:
                shape = spec.output_shape(shape)
            except ValueError as err:
                raise DeclarationError(str(err), line=spec.line, column=spec.column) from err
            continue
        flatten_line = flattened[0] if flattened else None
        if isinstance(spec, FlattenSpec):
            flattened[:] = [spec.line]
        if isinstance(spec, (ConvSpec, PoolSpec)) and kind == "mlp":
            raise DeclarationError(
                f"'{spec.describe()}' needs image input; declare convolutional models in a "
                "%%cnn cell",
                line=spec.line,
                column=spec.column,
            )
        if isinstance(spec, (ConvSpec, PoolSpec)) and flatten_line is not None:
            raise DeclarationError(
                f"'{spec.describe().split()[0]}' after 'flatten' (line {flatten_line}): "
                "the feature map is already flat; move 'flatten' after the last conv/pool",
                line=spec.line,
                column=spec.column,
            )
        try:
            shape = spec.output_shape(shape)
        except ValueError as err:
            raise DeclarationError(str(err), line=spec.line, column=spec.column) from err
    return shape
