"""The words of the declaration language, in one table.

The parser reads its keywords, aliases and option words from here; each keyword is parsed and
built by one spec class (``spec.LAYER_SPECS``: its ``WORDS``, ``parse`` and ``keras_call``);
``%%mlp?`` shows the syntax. A drift test (``tests/test_declaration.py``) ties this table to
those classes, to the Keras layer each builds and prints, and to ``docs/declarations.md``, so
a keyword cannot exist in one place and be missing from another.
Names are spelled as Keras spells them (``he_normal``, ``glorot_uniform``, ``same``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerWord:
    """One layer keyword: the Keras layer it builds and how a user writes it."""

    keyword: str
    keras_class: str
    syntax: str
    aliases: tuple[str, ...] = ()


LAYER_WORDS: tuple[LayerWord, ...] = (
    LayerWord("dense", "Dense", "dense UNITS [ACTIVATION] [INITIALIZER] [l2=FACTOR]"),
    LayerWord(
        "conv",
        "Conv2D",
        "conv FILTERS KxK [stride N] [dilation N] [same|valid] [ACTIVATION] [INITIALIZER] "
        "[l2=FACTOR]",
        aliases=("conv2d",),
    ),
    LayerWord(
        "maxpool",
        "MaxPooling2D",
        "maxpool K|KxK [stride N] [same|valid]",
        aliases=("maxpool2d", "maxpooling", "maxpooling2d"),
    ),
    LayerWord(
        "avgpool",
        "AveragePooling2D",
        "avgpool K|KxK [stride N] [same|valid]",
        aliases=("avgpool2d", "averagepooling", "averagepooling2d"),
    ),
    LayerWord(
        "globalavgpool",
        "GlobalAveragePooling2D",
        "globalavgpool",
        aliases=("globalaveragepooling", "globalaveragepooling2d"),
    ),
    LayerWord(
        "globalmaxpool",
        "GlobalMaxPooling2D",
        "globalmaxpool",
        aliases=("globalmaxpooling", "globalmaxpooling2d"),
    ),
    LayerWord("dropout", "Dropout", "dropout RATE"),
    LayerWord(
        "bn",
        "BatchNormalization",
        "bn [momentum=M]",
        aliases=("batchnorm", "batchnormalization"),
    ),
    LayerWord("flatten", "Flatten", "flatten"),
    LayerWord("random_rotation", "RandomRotation", "random_rotation FACTOR"),
    LayerWord("random_translation", "RandomTranslation", "random_translation HEIGHT [WIDTH]"),
    LayerWord("random_zoom", "RandomZoom", "random_zoom FACTOR"),
    LayerWord("random_contrast", "RandomContrast", "random_contrast FACTOR"),
    LayerWord("gaussian_noise", "GaussianNoise", "gaussian_noise STDDEV"),
    LayerWord("residual", "Add", "residual(LAYER | LAYER ...)"),
)

#: keyword or alias -> canonical keyword
LAYER_KEYWORDS: dict[str, str] = {
    name: word.keyword for word in LAYER_WORDS for name in (word.keyword, *word.aliases)
}

#: Activation names Keras 3 accepts as strings (``keras.activations.get``).
ACTIVATIONS: tuple[str, ...] = (
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "tanh",
    "exponential",
    "linear",
)

#: Kernel initializer names Keras 3 accepts as strings (``keras.initializers.get``).
INITIALIZERS: tuple[str, ...] = (
    "glorot_uniform",
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "orthogonal",
    "zeros",
    "ones",
)

PADDINGS: tuple[str, ...] = ("valid", "same")

#: Largest repeat count of a trailing ``xN``, so any input parses in bounded time and memory.
MAX_REPEAT = 1000
#: The most layers a model may have, refused while parsing (at the line that declares one
#: too many), well below the depth where Keras' recursive build raises RecursionError
#: (docs/performance.md, "How deep can a declared model be?").
MAX_LAYERS = 500
#: Why, in the error a student sees.
MAX_LAYERS_REASON = (
    f"a model trains here with at most {MAX_LAYERS} (Keras builds it recursively: 1,000 "
    "exceeded Python's recursion limit)"
)
