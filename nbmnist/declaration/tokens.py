"""Tokens of a cell body and the small readers every layer's parsing rule uses (whole
numbers, sizes, rates, named and keyed options). Pure Python: no Keras."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nbmnist.declaration.vocabulary import ACTIVATIONS, INITIALIZERS, PADDINGS
from nbmnist.errors import DeclarationError, did_you_mean

WHOLE = re.compile(r"\d+")
_SIZE = re.compile(r"(\d+)(?:x(\d+))?")


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


class Tokens:
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


def whole(token: Token, what: str) -> int:
    if not WHOLE.fullmatch(token.text) or int(token.text) == 0:
        raise token.error(f"expected {what} (a whole number > 0), got '{token.text}'")
    return int(token.text)


def size(token: Token, what: str) -> tuple[int, int]:
    match = _SIZE.fullmatch(token.text.lower())
    if not match or int(match[1]) == 0 or (match[2] is not None and int(match[2]) == 0):
        raise token.error(f"expected {what} like 3 or 3x3, got '{token.text}'")
    rows = int(match[1])
    return rows, int(match[2]) if match[2] is not None else rows


def _number(text: str) -> float:
    """``text`` as a float; NaN (which every range check refuses) if it is not a number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def rate(token: Token, text: str | None = None) -> float:
    text = token.text if text is None else text
    rate = _number(text)
    if not (0.0 <= rate < 1.0):
        raise token.error(f"dropout rate must be a fraction in [0, 1), e.g. 0.25; got '{text}'")
    return rate


def fraction(token: Token, what: str) -> float:
    """A number strictly between 0 and 1 (``bn momentum=0.9``)."""
    value = _number(token.text)
    if not 0.0 < value < 1.0:
        raise token.error(f"{what} must be a fraction in (0, 1), e.g. 0.9; got '{token.text}'")
    return value


def amount(token: Token, what: str, example: str) -> float:
    """A number in (0, 1]: an augmentation's factor or a noise's standard deviation, both
    fractions of the [0, 1] pixel range or of the image (``random_rotation 0.1``)."""
    value = _number(token.text)
    if not 0.0 < value <= 1.0:
        raise token.error(f"{what} must be a number in (0, 1], e.g. {example}; got '{token.text}'")
    return value


def name_option(
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


DENSE_OPTIONS = {"activation": ACTIVATIONS, "kernel_initializer": INITIALIZERS}
CONV_OPTIONS = {**DENSE_OPTIONS, "padding": PADDINGS}
POOL_OPTIONS = {"padding": PADDINGS}


def _keyedsize(
    token: Token, tokens: Tokens, taken: set[str], words: tuple[str, ...], option: str
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
        return size(Token(value, token.line, token.column + len(word) + 1), what)
    return size(tokens.take(f"its {words[0]} (e.g. '{words[0]} 2')"), what)


def l2(token: Token, taken: set[str]) -> float | None:
    """``l2=FACTOR`` (an L2 kernel regularizer); None if ``token`` is not one."""
    word, eq, value = token.text.lower().partition("=")
    if word != "l2":
        return None
    if not eq:
        raise token.error("write the L2 factor as 'l2=0.001'")
    if "l2" in taken:
        raise token.error("l2 given twice")
    taken.add("l2")
    factor = _number(value)
    if not (math.isfinite(factor) and factor > 0):
        raise token.error(f"l2 factor must be a number > 0, e.g. l2=0.001; got '{value}'")
    return factor


_KEYED = {"stride": ("stride", "strides"), "dilation": ("dilation", "dilation_rate")}


def options(
    tokens: Tokens, allowed: dict[str, tuple[str, ...]], keyed: tuple[str, ...]
) -> dict[str, Any]:
    """Parse a layer's optional tokens in any order: names (activation, initializer,
    padding) and the keyed options in ``keyed`` (``stride``, ``dilation``, ``l2``)."""
    options: dict[str, Any] = {}
    taken: set[str] = set()
    for token in tokens:
        value: Any = None
        for key in keyed:
            if key == "l2":
                value = l2(token, taken)
            else:
                value = _keyedsize(token, tokens, taken, _KEYED[key], _KEYED[key][1])
            if value is not None:
                options["strides" if key == "stride" else key] = value
                break
        if value is None:
            extra = [f"{key}=…" if key == "l2" else f"{key} N" for key in keyed]
            options[name_option(token, allowed, taken, extra)] = token.text.lower()
    return options


def no_arguments(head: Token, tokens: Tokens) -> None:
    """Refuse any token after a layer word that takes none (``bn``, ``flatten``...)."""
    for token in tokens:
        raise token.error(f"'{head.text}' takes no arguments, got '{token.text}'")
