"""Cell body text -> ``Declaration``. Pure Python: no Keras, nothing evaluated.

Grammar (one layer per line; ``docs/declarations.md`` is the full reference)::

    dense UNITS [ACTIVATION] [INITIALIZER]
    conv FILTERS KxK [stride N] [same|valid] [ACTIVATION] [INITIALIZER]
    maxpool K | avgpool K            (K or KxK, optional [stride N] [same|valid])
    dropout RATE | bn | flatten | ACTIVATION
    A | B | C                        several layers on one line
    ... xN                           the whole line N times
    UNITS UNITS ... [ACTIVATION] [INITIALIZER] [bn] [dropout=RATE]   (%%mlp shorthand)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nbmnist.declaration.spec import (
    ActivationSpec,
    BatchNormSpec,
    ConvSpec,
    Declaration,
    DenseSpec,
    DropoutSpec,
    FlattenSpec,
    Kind,
    LayerSpec,
    PoolSpec,
    output_shape,
)
from nbmnist.declaration.vocabulary import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYER_KEYWORDS,
    LAYER_WORDS,
    MAX_LAYERS,
    MAX_REPEAT,
    PADDINGS,
)
from nbmnist.errors import DeclarationError, did_you_mean

_TOKEN = re.compile(r"\||[^\s|]+")
_WHOLE = re.compile(r"\d+")
_SIZE = re.compile(r"(\d+)(?:x(\d+))?")
_REPEAT = re.compile(r"x(\d+)")
#: Lines that nbgrader and otter leave where a student must write code.
_STUBS = (re.compile(r"\.\.\.|#\s*your code here.*|raise\s+notimplementederror(\(.*\))?", re.I),)


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    column: int

    def error(self, reason: str) -> DeclarationError:
        return DeclarationError(reason, line=self.line, column=self.column, token=self.text)


def _expected(candidates: list[str] | tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(candidates[:limit])
    return shown + (", …" if len(candidates) > limit else "")


class _Tokens:
    """The tokens of one layer statement, consumed left to right."""

    def __init__(self, tokens: list[Token], end: Token) -> None:
        self._tokens = tokens
        self._index = 0
        self._end = end  # where "missing argument" errors point

    def __iter__(self) -> Iterator[Token]:
        while self._index < len(self._tokens):
            self._index += 1
            yield self._tokens[self._index - 1]

    def take(self, what: str) -> Token:
        if self._index >= len(self._tokens):
            raise self._end.error(f"'{self._end.text}' is missing {what}")
        self._index += 1
        return self._tokens[self._index - 1]


def _whole(token: Token, what: str) -> int:
    if not _WHOLE.fullmatch(token.text) or int(token.text) == 0:
        raise token.error(f"expected {what} (a whole number > 0), got '{token.text}'")
    return int(token.text)


def _size(token: Token, what: str) -> tuple[int, int]:
    match = _SIZE.fullmatch(token.text.lower())
    if not match or int(match[1]) == 0 or (match[2] is not None and int(match[2]) == 0):
        raise token.error(f"expected {what} like 3 or 3x3, got '{token.text}'")
    rows = int(match[1])
    return rows, int(match[2]) if match[2] is not None else rows


def _rate(token: Token, text: str | None = None) -> float:
    text = token.text if text is None else text
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not (0.0 <= rate < 1.0):
        raise token.error(f"dropout rate must be a fraction in [0, 1), e.g. 0.25; got '{text}'")
    return rate


def _name_option(token: Token, allowed: dict[str, tuple[str, ...]], taken: set[str]) -> str:
    """Which option (``activation``, ``kernel_initializer``, ``padding``) ``token`` names."""
    word = token.text.lower()
    for option, names in allowed.items():
        if word in names:
            if option in taken:
                raise token.error(f"{option} given twice ('{token.text}')")
            taken.add(option)
            return option
    candidates = [name for names in allowed.values() for name in names]
    words = [option.replace("kernel_", "") for option in allowed]
    kinds = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    raise token.error(
        f"unknown {kinds} '{token.text}'; expected one of {_expected(candidates)}."
        + did_you_mean(word, candidates)
    )


_DENSE_OPTIONS = {"activation": ACTIVATIONS, "kernel_initializer": INITIALIZERS}
_CONV_OPTIONS = {**_DENSE_OPTIONS, "padding": PADDINGS}
_POOL_OPTIONS = {"padding": PADDINGS}


def _stride(token: Token, tokens: _Tokens, taken: set[str]) -> tuple[int, int] | None:
    """``stride N`` / ``strides N`` / ``stride=N``; None if ``token`` is not a stride."""
    word, _, value = token.text.lower().partition("=")
    if word not in ("stride", "strides"):
        return None
    if "strides" in taken:
        raise token.error("stride given twice")
    taken.add("strides")
    if value:
        return _size(Token(value, token.line, token.column + len(word) + 1), "a stride")
    return _size(tokens.take("its stride (e.g. 'stride 2')"), "a stride")


def _dense(head: Token, tokens: _Tokens) -> DenseSpec:
    units = _whole(tokens.take("its number of units (e.g. 'dense 128 relu')"), "units")
    options: dict[str, str] = {}
    taken: set[str] = set()
    for token in tokens:
        options[_name_option(token, _DENSE_OPTIONS, taken)] = token.text.lower()
    return DenseSpec(units, line=head.line, **options)


def _conv(head: Token, tokens: _Tokens) -> ConvSpec:
    filters = _whole(tokens.take("its number of filters (e.g. 'conv 32 3x3 relu')"), "filters")
    kernel = _size(tokens.take("its kernel size (e.g. 'conv 32 3x3')"), "a kernel size")
    options: dict[str, str] = {}
    taken: set[str] = set()
    strides = (1, 1)
    for token in tokens:
        stride = _stride(token, tokens, taken)
        if stride is not None:
            strides = stride
        else:
            options[_name_option(token, _CONV_OPTIONS, taken)] = token.text.lower()
    return ConvSpec(filters, kernel, strides, line=head.line, **options)


def _pool(head: Token, tokens: _Tokens, mode: str) -> PoolSpec:
    pool_size = _size(tokens.take(f"its pool size (e.g. '{mode}pool 2')"), "a pool size")
    taken: set[str] = set()
    strides = None
    padding = "valid"
    for token in tokens:
        stride = _stride(token, tokens, taken)
        if stride is not None:
            strides = stride
        else:
            _name_option(token, _POOL_OPTIONS, taken)
            padding = token.text.lower()
    return PoolSpec("max" if mode == "max" else "avg", pool_size, strides, padding, line=head.line)


def _no_arguments(head: Token, tokens: _Tokens, spec: LayerSpec) -> LayerSpec:
    for token in tokens:
        raise token.error(f"'{head.text}' takes no arguments, got '{token.text}'")
    return spec


def _dropout(head: Token, tokens: _Tokens) -> DropoutSpec:
    spec = DropoutSpec(_rate(tokens.take("its rate (e.g. 'dropout 0.25')")), line=head.line)
    _no_arguments(head, tokens, spec)
    return spec


def _shorthand(tokens: list[Token]) -> list[LayerSpec]:
    """``430 322 relu he_normal bn dropout=0.5`` -> dense, bn, dropout for each width."""
    widths: list[int] = []
    options: dict[str, str] = {}
    taken: set[str] = set()
    batchnorm = False
    rate: float | None = None
    for token in tokens:
        word = token.text.lower()
        if _WHOLE.fullmatch(word) or word.lstrip("-").isdigit():
            if taken or batchnorm or rate is not None:
                raise token.error(
                    f"unexpected number '{token.text}': list all units first, "
                    "then activation, initializer, bn, dropout=RATE"
                )
            widths.append(_whole(token, "units"))
        elif LAYER_KEYWORDS.get(word) == "bn":
            batchnorm = True
        elif word.startswith("dropout"):
            _, eq, value = token.text.partition("=")
            if not eq:
                raise token.error("in the units shorthand write dropout as 'dropout=RATE'")
            rate = _rate(token, value)
        else:
            options[_name_option(token, _DENSE_OPTIONS, taken)] = word
    line = tokens[0].line
    layers: list[LayerSpec] = []
    for units in widths:
        layers.append(DenseSpec(units, line=line, **options))
        if batchnorm:
            layers.append(BatchNormSpec(line=line))
        if rate is not None:
            layers.append(DropoutSpec(rate, line=line))
    return layers


_ParseLayer = Callable[[Token, _Tokens], LayerSpec]
_LAYER_PARSERS: dict[str, _ParseLayer] = {
    "dense": _dense,
    "conv": _conv,
    "maxpool": lambda head, tokens: _pool(head, tokens, "max"),
    "avgpool": lambda head, tokens: _pool(head, tokens, "avg"),
    "dropout": _dropout,
    "bn": lambda head, tokens: _no_arguments(head, tokens, BatchNormSpec(line=head.line)),
    "flatten": lambda head, tokens: _no_arguments(head, tokens, FlattenSpec(line=head.line)),
}


def _statement(tokens: list[Token], kind: Kind) -> list[LayerSpec]:
    head = tokens[0]
    word = head.text.lower()
    if _WHOLE.fullmatch(word) or word.lstrip("-").isdigit():
        if kind != "mlp":
            raise head.error(
                "a line of numbers is the %%mlp units shorthand; in %%cnn write "
                f"'dense {head.text} relu'"
            )
        return _shorthand(tokens)
    rest = _Tokens(tokens[1:], head)
    if word in LAYER_KEYWORDS:
        return [_LAYER_PARSERS[LAYER_KEYWORDS[word]](head, rest)]
    if word in ACTIVATIONS:
        return [_no_arguments(head, rest, ActivationSpec(word, line=head.line))]
    keywords = [w.keyword for w in LAYER_WORDS]
    raise head.error(
        f"unknown layer '{head.text}'; expected one of {', '.join(keywords)} "
        "or an activation (relu, softmax, …)." + did_you_mean(word, [*LAYER_KEYWORDS, *ACTIVATIONS])
    )


def _check_stub(raw: str, line: int) -> None:
    stripped = raw.strip()
    if any(stub.fullmatch(stripped) for stub in _STUBS):
        raise NotImplementedError(
            f"line {line} is a placeholder ({stripped!r}): fill in line {line} with the "
            "layers to build, e.g. 'dense 128 relu'"
        )


def _tokens(raw: str, line: int) -> list[Token]:
    code = raw.split("#", 1)[0]
    return [Token(m.group(), line, m.start() + 1) for m in _TOKEN.finditer(code)]


def _repeat(tokens: list[Token]) -> tuple[list[Token], int]:
    """Strip a trailing ``xN`` repeat token."""
    match = _REPEAT.fullmatch(tokens[-1].text.lower()) if len(tokens) > 1 else None
    if not match:
        return tokens, 1
    count = int(match[1])
    if not 1 <= count <= MAX_REPEAT:
        raise tokens[-1].error(f"repeat count must be between 1 and {MAX_REPEAT}")
    return tokens[:-1], count


def _check_order(layers: list[LayerSpec], kind: Kind) -> None:
    """Shape-check the layer sequence so mistakes surface before Keras is imported."""
    declaration = Declaration(kind, ())
    shape = declaration.input_shape
    flatten_line: int | None = None
    for spec in layers:
        if isinstance(spec, FlattenSpec):
            flatten_line = spec.line
        if isinstance(spec, (ConvSpec, PoolSpec)) and kind == "mlp":
            raise DeclarationError(
                f"'{spec.describe()}' needs image input; declare convolutional models in a "
                "%%cnn cell",
                line=spec.line,
            )
        if isinstance(spec, (ConvSpec, PoolSpec)) and flatten_line is not None:
            raise DeclarationError(
                f"'{spec.describe().split()[0]}' after 'flatten' (line {flatten_line}): "
                "the feature map is already flat; move 'flatten' after the last conv/pool",
                line=spec.line,
            )
        try:
            shape = output_shape(spec, shape)
        except ValueError as err:
            raise DeclarationError(str(err), line=spec.line) from err


def parse_declaration(text: str, kind: Kind = "mlp") -> Declaration:
    """Parse a ``%%mlp`` / ``%%cnn`` cell body into a ``Declaration``.

    Nothing in ``text`` is evaluated; no Keras is imported. The output head is not added
    here (see ``Declaration.with_head``).

    Args:
        text: the cell body, one layer statement per line.
        kind: ``"mlp"`` (input 784 values; enables the units shorthand) or ``"cnn"``
            (input 28x28x1 images).

    Returns:
        The declaration, with one ``LayerSpec`` per layer.

    Raises:
        DeclarationError: with line, column and the offending token, for any mistake.
        NotImplementedError: a line is a grader's placeholder (``...``, ``# YOUR CODE HERE``).
    """
    if kind not in ("mlp", "cnn"):
        raise ValueError(f"kind must be 'mlp' or 'cnn', got {kind!r}")
    layers: list[LayerSpec] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        _check_stub(raw, number)
        tokens = _tokens(raw, number)
        if not tokens:
            continue
        tokens, count = _repeat(tokens)
        statement: list[LayerSpec] = []
        segment: list[Token] = []
        for token in [*tokens, Token("|", number, len(raw) + 1)]:
            if token.text != "|":
                segment.append(token)
                continue
            if not segment:
                raise token.error("empty layer between '|' separators")
            statement.extend(_statement(segment, kind))
            segment = []
        layers.extend(statement * count)
        if len(layers) > MAX_LAYERS:
            raise DeclarationError(f"more than {MAX_LAYERS} layers", line=number)
    if not layers:
        example = "430 322 relu" if kind == "mlp" else "conv 32 3x3 relu"
        raise DeclarationError(f"the cell declares no layers; write one per line, e.g. '{example}'")
    _check_order(layers, kind)
    return Declaration(kind, tuple(layers), text=text)
