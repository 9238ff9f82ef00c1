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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nbmnist.declaration.spec import (
    ActivationSpec,
    BatchNormSpec,
    ConvSpec,
    Declaration,
    DenseSpec,
    DropoutSpec,
    FlattenSpec,
    GlobalPoolSpec,
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
    MAX_LAYERS_REASON,
    MAX_REPEAT,
    PADDINGS,
)
from nbmnist.errors import DeclarationError, PlaceholderError, did_you_mean

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


def _name_option(
    token: Token,
    allowed: dict[str, tuple[str, ...]],
    taken: set[str],
    extra: list[str] | None = None,
) -> str:
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
    keyed = f" (or {', '.join(extra)})" if extra else ""
    raise token.error(
        f"unknown {kinds} '{token.text}'; expected one of {_expected(candidates)}{keyed}."
        + did_you_mean(
            word.partition("=")[0], [*candidates, *(e.split()[0].rstrip("=…") for e in extra or [])]
        )
    )


_DENSE_OPTIONS = {"activation": ACTIVATIONS, "kernel_initializer": INITIALIZERS}
_CONV_OPTIONS = {**_DENSE_OPTIONS, "padding": PADDINGS}
_POOL_OPTIONS = {"padding": PADDINGS}


def _keyed_size(
    token: Token, tokens: _Tokens, taken: set[str], words: tuple[str, ...], option: str
) -> tuple[int, int] | None:
    """``stride N`` / ``stride=N`` (or ``dilation``); None if ``token`` is not one of ``words``."""
    word, _, value = token.text.lower().partition("=")
    if word not in words:
        return None
    if option in taken:
        raise token.error(f"{words[0]} given twice")
    taken.add(option)
    what = f"a {words[0]}"
    if value:
        return _size(Token(value, token.line, token.column + len(word) + 1), what)
    return _size(tokens.take(f"its {words[0]} (e.g. '{words[0]} 2')"), what)


def _l2(token: Token, taken: set[str]) -> float | None:
    """``l2=FACTOR`` (an L2 kernel regularizer); None if ``token`` is not one."""
    word, eq, value = token.text.lower().partition("=")
    if word != "l2":
        return None
    if not eq:
        raise token.error("write the L2 factor as 'l2=0.001'")
    if "l2" in taken:
        raise token.error("l2 given twice")
    taken.add("l2")
    try:
        factor = float(value)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise token.error(f"l2 factor must be a number > 0, e.g. l2=0.001; got '{value}'")
    return factor


_KEYED = {"stride": ("stride", "strides"), "dilation": ("dilation", "dilation_rate")}


def _options(
    tokens: _Tokens, allowed: dict[str, tuple[str, ...]], keyed: tuple[str, ...]
) -> dict[str, Any]:
    """Parse a layer's optional tokens in any order: names (activation, initializer,
    padding) and the keyed options in ``keyed`` (``stride``, ``dilation``, ``l2``)."""
    options: dict[str, Any] = {}
    taken: set[str] = set()
    for token in tokens:
        value: Any = None
        for key in keyed:
            if key == "l2":
                value = _l2(token, taken)
            else:
                value = _keyed_size(token, tokens, taken, _KEYED[key], _KEYED[key][1])
            if value is not None:
                options["strides" if key == "stride" else key] = value
                break
        if value is None:
            extra = [f"{key}=…" if key == "l2" else f"{key} N" for key in keyed]
            options[_name_option(token, allowed, taken, extra)] = token.text.lower()
    return options


def _dense(head: Token, tokens: _Tokens) -> DenseSpec:
    units = _whole(tokens.take("its number of units (e.g. 'dense 128 relu')"), "units")
    return DenseSpec(
        units, line=head.line, column=head.column, **_options(tokens, _DENSE_OPTIONS, ("l2",))
    )


def _conv(head: Token, tokens: _Tokens) -> ConvSpec:
    filters = _whole(tokens.take("its number of filters (e.g. 'conv 32 3x3 relu')"), "filters")
    kernel = _size(tokens.take("its kernel size (e.g. 'conv 32 3x3')"), "a kernel size")
    options = _options(tokens, _CONV_OPTIONS, ("stride", "dilation", "l2"))
    spec = ConvSpec(filters, kernel, line=head.line, column=head.column, **options)
    if spec.strides != (1, 1) and spec.dilation != (1, 1):
        raise head.error("a conv layer cannot have both stride > 1 and dilation > 1 (Keras)")
    return spec


def _pool(head: Token, tokens: _Tokens, mode: str) -> PoolSpec:
    pool_size = _size(tokens.take(f"its pool size (e.g. '{mode}pool 2')"), "a pool size")
    options = _options(tokens, _POOL_OPTIONS, ("stride",))
    return PoolSpec(
        "max" if mode == "max" else "avg", pool_size, line=head.line, column=head.column, **options
    )


def _no_arguments(head: Token, tokens: _Tokens, spec: LayerSpec) -> LayerSpec:
    for token in tokens:
        raise token.error(f"'{head.text}' takes no arguments, got '{token.text}'")
    return spec


def _dropout(head: Token, tokens: _Tokens) -> DropoutSpec:
    spec = DropoutSpec(
        _rate(tokens.take("its rate (e.g. 'dropout 0.25')")), line=head.line, column=head.column
    )
    _no_arguments(head, tokens, spec)
    return spec


def _shorthand(tokens: list[Token]) -> list[LayerSpec]:
    """``430 322 relu he_normal bn dropout=0.5`` -> dense, bn, dropout for each width."""
    widths: list[int] = []
    options: dict[str, Any] = {}
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
        elif (factor := _l2(token, taken)) is not None:
            options["l2"] = factor
        else:
            options[_name_option(token, _DENSE_OPTIONS, taken, ["bn", "dropout=…", "l2=…"])] = word
    where: dict[str, Any] = {"line": tokens[0].line, "column": tokens[0].column}
    layers: list[LayerSpec] = []
    for units in widths:
        layers.append(DenseSpec(units, **where, **options))
        if batchnorm:
            layers.append(BatchNormSpec(**where))
        if rate is not None:
            layers.append(DropoutSpec(rate, **where))
    return layers


_ParseLayer = Callable[[Token, _Tokens], LayerSpec]
_LAYER_PARSERS: dict[str, _ParseLayer] = {
    "dense": _dense,
    "conv": _conv,
    "maxpool": lambda head, tokens: _pool(head, tokens, "max"),
    "avgpool": lambda head, tokens: _pool(head, tokens, "avg"),
    "dropout": _dropout,
    "bn": lambda head, tokens: _no_arguments(
        head, tokens, BatchNormSpec(line=head.line, column=head.column)
    ),
    "flatten": lambda head, tokens: _no_arguments(
        head, tokens, FlattenSpec(line=head.line, column=head.column)
    ),
    "globalavgpool": lambda head, tokens: _no_arguments(
        head, tokens, GlobalPoolSpec("avg", line=head.line, column=head.column)
    ),
    "globalmaxpool": lambda head, tokens: _no_arguments(
        head, tokens, GlobalPoolSpec("max", line=head.line, column=head.column)
    ),
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
        return [_no_arguments(head, rest, ActivationSpec(word, line=head.line, column=head.column))]
    keywords = [w.keyword for w in LAYER_WORDS]
    raise head.error(
        f"unknown layer '{head.text}'; expected one of {', '.join(keywords)} "
        "or an activation (relu, softmax, …)." + did_you_mean(word, [*LAYER_KEYWORDS, *ACTIVATIONS])
    )


def _check_stub(raw: str, line: int) -> None:
    stripped = raw.strip()
    if any(stub.fullmatch(stripped) for stub in _STUBS):
        raise PlaceholderError(
            f"line {line} is a placeholder ({stripped!r}): fill in line {line} with the "
            "layers to build, e.g. 'dense 128 relu'"
        )


def _substitute(
    token: Token, variables: Mapping[str, object] | None, used: dict[str, str]
) -> Token:
    """Replace each ``{name}`` in ``token`` with the value of ``name`` in ``variables``,
    noting each substituted value, as text, in ``used``.

    Only plain names are looked up; nothing is evaluated. The value must read as one word
    (a number, an activation, ...), so it cannot change the line's structure.
    """
    if "{" not in token.text and "}" not in token.text:
        return token

    def value_of(match: re.Match[str]) -> str:
        name = match[1]
        if not name.isidentifier():
            raise token.error(f"'{{{name}}}' is not a variable: write {{name}} with a plain name")
        if variables is None or name not in variables:
            raise token.error(
                f"undefined name '{name}' in '{token.text}'; define it in a cell above "
                f"(e.g. {name} = 0.25) or write the value"
            )
        text = str(variables[name])
        if not text or any(ch.isspace() or ch in "|#{}" for ch in text):
            raise token.error(f"{{{name}}} is {text!r}: a variable must hold one word or number")
        used[name] = text
        return text

    text = re.sub(r"\{([^{}]*)\}", value_of, token.text)
    if "{" in text or "}" in text:
        raise token.error(f"unmatched brace in '{token.text}'; write {{name}}")
    return Token(text, token.line, token.column)


def _tokens(
    raw: str, line: int, variables: Mapping[str, object] | None, used: dict[str, str]
) -> list[Token]:
    code = raw.split("#", 1)[0]
    return [
        _substitute(Token(m.group(), line, m.start() + 1), variables, used)
        for m in _TOKEN.finditer(code)
    ]


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
            shape = output_shape(spec, shape)
        except ValueError as err:
            raise DeclarationError(str(err), line=spec.line, column=spec.column) from err


def parse_declaration(
    text: str, kind: Kind = "mlp", variables: Mapping[str, object] | None = None
) -> Declaration:
    """Parse a ``%%mlp`` / ``%%cnn`` cell body into a ``Declaration``.

    Nothing in ``text`` is evaluated; no Keras is imported. The output head is not added
    here (see ``Declaration.with_head``).

    Args:
        text: the cell body, one layer statement per line.
        kind: ``"mlp"`` (input 784 values; enables the units shorthand) or ``"cnn"``
            (input 28x28x1 images).
        variables: values for ``{name}`` placeholders (a magic passes the notebook's
            namespace); looked up by name, never evaluated. The values used are kept in
            ``Declaration.variables``.

    Returns:
        The declaration, with one ``LayerSpec`` per layer.

    Raises:
        DeclarationError: with line, column and the offending token, for any mistake.
        PlaceholderError: (a ``NotImplementedError``) a line is a grader's placeholder
            (``...``, ``# YOUR CODE HERE``, ``raise NotImplementedError()``).
    """
    if kind not in ("mlp", "cnn"):
        raise ValueError(f"kind must be 'mlp' or 'cnn', got {kind!r}")
    layers: list[LayerSpec] = []
    used: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        _check_stub(raw, number)
        tokens = _tokens(raw, number, variables, used)
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
            raise DeclarationError(
                f"more than {MAX_LAYERS} layers; {MAX_LAYERS_REASON}", line=number
            )
    if not layers:
        example = "430 322 relu" if kind == "mlp" else "conv 32 3x3 relu"
        raise DeclarationError(f"the cell declares no layers; write one per line, e.g. '{example}'")
    _check_order(layers, kind)
    return Declaration(kind, tuple(layers), text=text, variables=used)
