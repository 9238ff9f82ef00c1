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

import re
from collections.abc import Mapping
from typing import Any

from nbmnist.declaration.spec import (
    LAYER_SPECS,
    MNIST_IMAGE,
    ActivationSpec,
    BatchNormSpec,
    Declaration,
    DenseSpec,
    DropoutSpec,
    Kind,
    LayerSpec,
    ResidualSpec,
    check_shapes,
    flat_layers,
)
from nbmnist.declaration.tokens import (
    DENSE_OPTIONS,
    WHOLE,
    Token,
    Tokens,
    l2,
    name_option,
    no_arguments,
    rate,
    whole,
)
from nbmnist.declaration.vocabulary import (
    ACTIVATIONS,
    LAYER_KEYWORDS,
    LAYER_WORDS,
    MAX_LAYERS,
    MAX_LAYERS_REASON,
    MAX_REPEAT,
)
from nbmnist.errors import DeclarationError, PlaceholderError, did_you_mean

_REPEAT = re.compile(r"x(\d+)")
_TOKEN = re.compile(r"[|()]|[^\s|()]+")
#: Lines that nbgrader and otter leave where a student must write code.
_STUBS = (re.compile(r"\.\.\.|#\s*your code here.*|raise\s+notimplementederror(\(.*\))?", re.I),)
#: Layer keyword -> the spec class that parses it (``LayerSpec.parse``).
_LAYER_PARSERS = {word: spec for spec in LAYER_SPECS for word in spec.WORDS}


def _shorthand(tokens: list[Token]) -> list[LayerSpec]:
    """``430 322 relu he_normal bn dropout=0.5`` -> dense, bn, dropout for each width."""
    widths: list[int] = []
    options: dict[str, Any] = {}
    taken: set[str] = set()
    batchnorm = False
    dropout_rate: float | None = None
    for token in tokens:
        word = token.text.lower()
        if WHOLE.fullmatch(word) or word.lstrip("-").isdigit():
            if taken or batchnorm or dropout_rate is not None:
                raise token.error(
                    f"unexpected number '{token.text}': list all units first, "
                    "then activation, initializer, bn, dropout=RATE"
                )
            widths.append(whole(token, "units"))
        elif LAYER_KEYWORDS.get(word) == "bn":
            batchnorm = True
        elif word.startswith("dropout"):
            _, eq, value = token.text.partition("=")
            if not eq:
                raise token.error("in the units shorthand write dropout as 'dropout=RATE'")
            dropout_rate = rate(token, value)
        elif (factor := l2(token, taken)) is not None:
            options["l2"] = factor
        else:
            options[name_option(token, DENSE_OPTIONS, taken, ["bn", "dropout=…", "l2=…"])] = word
    where: dict[str, Any] = {"line": tokens[0].line, "column": tokens[0].column}
    layers: list[LayerSpec] = []
    for units in widths:
        layers.append(DenseSpec(units, **where, **options))
        if batchnorm:
            layers.append(BatchNormSpec(**where))
        if dropout_rate is not None:
            layers.append(DropoutSpec(dropout_rate, **where))
    return layers


def _split(tokens: list[Token], end: Token) -> list[list[Token]]:
    """``tokens`` split at each ``|`` outside parentheses, each part a statement.

    Raises:
        DeclarationError: an empty statement or unbalanced parentheses.
    """
    parts: list[list[Token]] = []
    segment: list[Token] = []
    depth = 0
    for token in [*tokens, end]:
        if token is end or (token.text == "|" and depth == 0):
            if not segment:
                raise token.error("empty layer between '|' separators")
            parts.append(segment)
            segment = []
            continue
        depth += {"(": 1, ")": -1}.get(token.text, 0)
        if depth < 0:
            raise token.error("')' without its '(': a block is 'residual(LAYER | LAYER ...)'")
        segment.append(token)
    if depth:
        raise end.error("'(' without its ')': close the block, 'residual(LAYER | LAYER ...)'")
    return parts


def _residual(tokens: list[Token], kind: Kind) -> list[LayerSpec]:
    """``residual ( LAYER | LAYER ... )`` -> a ``ResidualSpec`` of those layers."""
    head = tokens[0]
    if len(tokens) < 2 or tokens[1].text != "(":
        raise head.error(
            "'residual' takes its layers in parentheses: 'residual(conv 32 3x3 same relu | "
            "conv 32 3x3 same)'"
        )
    close = next(i for i in range(len(tokens) - 1, 0, -1) if tokens[i].text == ")")
    if close + 1 < len(tokens):
        raise tokens[close + 1].error(
            f"unexpected '{tokens[close + 1].text}' after the block; separate layers with '|'"
        )
    inner = tokens[2:close]
    if not inner:
        raise tokens[close].error("an empty block: 'residual(' needs at least one layer")
    layers = [spec for part in _split(inner, tokens[close]) for spec in _statement(part, kind)]
    return [ResidualSpec(layers=tuple(layers), line=head.line, column=head.column)]


def _statement(tokens: list[Token], kind: Kind) -> list[LayerSpec]:
    head = tokens[0]
    word = head.text.lower()
    if word == "residual":
        return _residual(tokens, kind)
    if head.text in "()":
        raise head.error(
            f"unexpected '{head.text}': parentheses hold a block, 'residual(LAYER | LAYER ...)'"
        )
    if WHOLE.fullmatch(word) or word.lstrip("-").isdigit():
        if kind != "mlp":
            raise head.error(
                "a line of numbers is the %%mlp units shorthand; in %%cnn write "
                f"'dense {head.text} relu'"
            )
        return _shorthand(tokens)
    rest = Tokens(tokens[1:], head)
    if word in LAYER_KEYWORDS:
        keyword = LAYER_KEYWORDS[word]
        return [_LAYER_PARSERS[keyword].parse(keyword, head, rest)]
    if word in ACTIVATIONS:
        no_arguments(head, rest)
        return [ActivationSpec(word, line=head.line, column=head.column)]
    keywords = [w.keyword for w in LAYER_WORDS]
    shown = ", ".join(keywords[:7]) + ", …"  # the rest: docs/declarations.md, %%mlp?
    raise head.error(
        f"unknown layer '{head.text}'; expected one of {shown} "
        "or an activation (relu, softmax, …)." + did_you_mean(word, [*LAYER_KEYWORDS, *ACTIVATIONS])
    )


def _check_stub(raw: str, line: int) -> None:
    stripped = raw.strip()
    if any(stub.fullmatch(stripped) for stub in _STUBS):
        raise PlaceholderError(
            f"line {line} is a placeholder ({stripped!r}): fill in line {line} with the "
            "layers to build, e.g. 'dense 128 relu'"
        )


#: A body line that is Python (a call, an import, an assignment), not a declaration.
_PYTHON = re.compile(r"[\w.]+\s*\(|^\s*(import\s|from\s+\S+\s+import\s|[A-Za-z_]\w*\s*=[^=])")
#: Keras layer calls pasted into a body -> the declaration word that means the same.
_KERAS_CALLS = (
    (re.compile(r"Dense\(\s*(\d+)(?:.*activation\s*=\s*['\"](\w+))?"), "dense {0} {1}"),
    (
        re.compile(r"Conv2D\(\s*(\d+)\s*,\s*\(?\s*(\d+)(?:.*activation\s*=\s*['\"](\w+))?"),
        "conv {0} {1}x{1} {2}",
    ),
    (re.compile(r"Dropout\(\s*([\d.]+)"), "dropout {0}"),
    (re.compile(r"MaxPool(?:ing)?2D\(\s*\(?\s*(\d+)"), "maxpool {0}"),
    (re.compile(r"BatchNormalization\("), "bn"),
    (re.compile(r"Flatten\("), "flatten"),
)


def _check_misplaced(raw: str, line: int, kind: Kind) -> None:
    """A flag or Python code typed in the body: say where it belongs, before the layer words
    would call it an unknown layer.

    Raises:
        DeclarationError: the line is a magic-line flag (``--epochs 3``) or Python code.
    """
    code = raw.split("#", 1)[0].strip()
    code = re.sub(r"\bresidual\s*\(", "residual ", code, flags=re.I)  # a block, not a call
    if code.startswith("--"):
        flags = " ".join(code.split())
        raise DeclarationError(
            f"'{flags}' is a flag of the magic line, not a layer: move it to the first line, "
            f"after %%{kind} (e.g. '%%{kind} my_run {flags}')",
            line=line,
            column=raw.index("--") + 1,
        )
    if not _PYTHON.search(code):
        return
    meant = ""
    for pattern, word in _KERAS_CALLS:
        if match := pattern.search(code):
            meant = " ".join(word.format(*(g or "" for g in match.groups())).split())
            break
    hint = f"; here write '{meant}'" if meant else ", e.g. 'dense 128 relu'"
    raise DeclarationError(
        f"this line is Python code; a %%{kind} body declares one layer per line in nbmnist's "
        f"words{hint} (Python goes in a cell of its own)",
        line=line,
        column=len(raw) - len(raw.lstrip()) + 1,
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


def parse_declaration(
    text: str,
    kind: Kind = "mlp",
    variables: Mapping[str, object] | None = None,
    image_shape: tuple[int, int, int] = MNIST_IMAGE,
) -> Declaration:
    """Parse a ``%%mlp`` / ``%%cnn`` cell body into a ``Declaration``.

    Nothing in ``text`` is evaluated; no Keras is imported. The output head is not added
    here (see ``Declaration.with_head``).

    Args:
        text: the cell body, one layer statement per line.
        kind: ``"mlp"`` (input: the image's pixels as one vector; enables the units
            shorthand) or ``"cnn"`` (input: images).
        variables: values for ``{name}`` placeholders (a magic passes the notebook's
            namespace); looked up by name, never evaluated. The values used are kept in
            ``Declaration.variables``.
        image_shape: the images the model takes, (height, width, channels): MNIST's
            28x28x1 by default (``data.data_shape`` gives another dataset's).

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
        _check_misplaced(raw, number, kind)
        tokens = _tokens(raw, number, variables, used)
        if not tokens:
            continue
        tokens, count = _repeat(tokens)
        statement: list[LayerSpec] = []
        for segment in _split(tokens, Token("|", number, len(raw) + 1)):
            statement.extend(_statement(segment, kind))
        layers.extend(statement * count)
        if len(flat_layers(layers)) > MAX_LAYERS:
            raise DeclarationError(
                f"more than {MAX_LAYERS} layers; {MAX_LAYERS_REASON}", line=number
            )
    if not layers:
        example = "430 322 relu" if kind == "mlp" else "conv 32 3x3 relu"
        raise DeclarationError(f"the cell declares no layers; write one per line, e.g. '{example}'")
    declaration = Declaration(
        kind, tuple(layers), text=text, variables=used, image_shape=image_shape
    )
    check_shapes(declaration)
    return declaration
