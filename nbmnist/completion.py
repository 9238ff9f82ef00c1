"""Tab completion in ``%%mlp`` / ``%%cnn`` cells: layer words, activations, initializers and
layer options in the body; flags, their values and run names on the magic line.

``complete`` is pure (the cell up to the cursor in, candidates out); ``register`` hooks it
into IPython's completer, which every front end asks through the kernel's
``complete_request`` (JupyterLab, classic Notebook, VS Code, Colab alike).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from nbmnist.data import DATASETS, data_names
from nbmnist.declaration.vocabulary import (
    ACTIVATIONS,
    INITIALIZERS,
    LAYER_KEYWORDS,
    LAYER_WORDS,
    PADDINGS,
)
from nbmnist.options import LOSSES, LR_SCHEDULES, MONITORS, OPTIMIZERS, SOURCES, VALIDATIONS

MAGICS = ("%%mlp", "%%cnn")
#: Words after a layer keyword, by keyword (the rest take a number or nothing).
LAYER_OPTIONS: dict[str, tuple[str, ...]] = {
    "dense": (*ACTIVATIONS, *INITIALIZERS, "l2="),
    "conv": (*PADDINGS, "stride", "dilation", *ACTIVATIONS, *INITIALIZERS, "l2="),
    "maxpool": (*PADDINGS, "stride"),
    "avgpool": (*PADDINGS, "stride"),
    "bn": ("momentum=",),
}
#: Words after the widths of the ``%%mlp`` shorthand (``430 322 relu he_normal bn``).
SHORTHAND_OPTIONS = (*ACTIVATIONS, *INITIALIZERS, "bn", "dropout=", "l2=")
#: Layer words a flat ``%%mlp`` input can take (the others need an image).
MLP_WORDS = ("dense", "dropout", "bn", "gaussian_noise", "residual")
#: The values a flag takes, where they are a closed list.
FLAG_VALUES: dict[str, tuple[str, ...]] = {
    "--data": tuple(DATASETS),
    "--data-source": SOURCES,
    "--optimizer": OPTIMIZERS,
    "--loss": LOSSES,
    "--validation": VALIDATIONS,
    "--lr-schedule": LR_SCHEDULES,
    "--monitor": MONITORS,
    "--jit-compile": ("on", "off"),
    "--search": ("grid", "random"),
    "--executor": ("processes", "kernel", "dask://"),
}


def complete(
    text: str, flags: Sequence[str], names: Sequence[str] = (), recipes: Sequence[str] = ()
) -> list[str] | None:
    """What may follow ``text``, a cell up to the cursor: the candidates that extend the word
    being typed, in order; None when ``text`` is not a ``%%mlp`` / ``%%cnn`` cell (then
    IPython's own completers answer).

    Args:
        text: the cell's text before the cursor.
        flags: the magics' flags (``--epochs``, ...).
        names: run names, offered where the run's name goes (after the magic).
        recipes: ``--recipe`` names.
    """
    first, newline, body = text.partition("\n")
    words = first.split()
    if not words or words[0] not in MAGICS or (not newline and len(words) == 1 and
                                                not first[-1:].isspace()):  # fmt: skip
        return None
    if not newline:
        return _magic_line(first, flags, names, recipes)
    line = body.rsplit("\n", 1)[-1]
    if "#" in line:
        return []  # a comment
    statement = re.split(r"[|(]", line)[-1]  # a block's layers too: residual(conv 8 ...
    words = statement.split()
    current = "" if not statement or statement[-1].isspace() else words[-1]
    before = words[:-1] if current else words
    if "=" in current:
        return []  # a value: l2=0.01, momentum=0.9
    if not before:
        allowed = MLP_WORDS if first.startswith("%%mlp") else [w.keyword for w in LAYER_WORDS]
        candidates: Sequence[str] = [*allowed, *ACTIVATIONS]
    elif before[0].isdigit():
        candidates = SHORTHAND_OPTIONS
    else:
        candidates = LAYER_OPTIONS.get(LAYER_KEYWORDS.get(before[0].lower(), ""), ())
    return [word for word in candidates if word.startswith(current.lower())]


def _magic_line(
    line: str, flags: Sequence[str], names: Sequence[str], recipes: Sequence[str]
) -> list[str]:
    words = line.split()
    current = "" if line[-1].isspace() else words[-1]
    before = words[:-1] if current else words
    if current.startswith("-"):
        return [flag for flag in flags if flag.startswith(current)]
    previous = before[-1]
    values = tuple(recipes) if previous == "--recipe" else FLAG_VALUES.get(previous)
    if previous == "--data":
        values = data_names()  # own data (use_data) too
    if values is not None:
        return [value for value in values if value.startswith(current)]
    if len(before) == 1:  # the run's name
        return [name for name in names if name.startswith(current)]
    return []


def _word_at_cursor(text: str) -> str:
    """The fragment a completion replaces: the text after the last space, ``|``, ``(`` or
    line break (``--epo``, ``rel``)."""
    return re.split(r"[\s|(]", text)[-1]


def register(ipython: Any, flags: Callable[[], Sequence[str]]) -> None:
    """Add nbmnist's completer to ``ipython``'s (once, however often the extension loads).

    IPython 8 and later call it with the whole cell (``context_matcher``); IPython 7 (Colab)
    passes a matcher only the word being typed, so the cell is taken from the public
    ``Completer.completions`` call that asks for it."""
    completer = ipython.Completer
    if any(getattr(m, "_nbmnist", False) for m in completer.custom_matchers):
        return

    def candidates(before: str) -> list[str] | None:
        from nbmnist.recipes import RECIPES
        from nbmnist.runs import runs

        names = [run.name for run in runs()]
        return complete(before, flags(), names, list(RECIPES))

    try:
        from IPython.core.completer import SimpleCompletion, context_matcher
    except ImportError:  # IPython 7
        matcher = _matcher_for_ipython_7(completer, candidates)
    else:

        @context_matcher()  # type: ignore[untyped-decorator]
        def matcher(context: Any) -> dict[str, Any]:
            lines = context.full_text.split("\n")[: context.cursor_line]
            before = "\n".join([*lines, context.text_until_cursor])
            found = candidates(before)
            if found is None:  # not an nbmnist cell
                return {"completions": []}
            return {
                "completions": [SimpleCompletion(text=c, type="nbmnist") for c in found],
                "matched_fragment": _word_at_cursor(before),
                "suppress": True,  # in a declaration, Python's names would only mislead
            }

    matcher._nbmnist = True  # type: ignore[attr-defined]
    completer.custom_matchers.append(matcher)


def _matcher_for_ipython_7(
    completer: Any, candidates: Callable[[str], list[str] | None]
) -> Callable[[str], list[str]]:
    seen = {"before": ""}
    asked = completer.completions

    def completions(text: str, offset: int) -> Any:
        seen["before"] = text[:offset]
        return asked(text, offset)

    completer.completions = completions

    def matcher(text: str) -> list[str]:  # text: the word being typed, as IPython split it
        return candidates(seen["before"]) or []

    return matcher
