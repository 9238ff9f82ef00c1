"""Property: any text parses to a Declaration or raises DeclarationError / PlaceholderError.

The default run tries a few hundred inputs per property; ``make fuzz`` (or
``NBMNIST_FUZZ_EXAMPLES=10000``) runs 10,000+ and docs/performance.md records the count.
The deadline is a generous bound against pathological (super-linear) parsing, not a speed
target.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbmnist import Declaration, DeclarationError, PlaceholderError, parse_declaration
from nbmnist.declaration.vocabulary import ACTIVATIONS, INITIALIZERS, LAYER_KEYWORDS
from tests.seed_models import SEED_MODELS

EXAMPLES = int(os.environ.get("NBMNIST_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # milliseconds
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = [
    *LAYER_KEYWORDS,
    *ACTIVATIONS,
    *INITIALIZERS,
    "same",
    "valid",
    "stride",
    "dilation",
    "l2=0.01",
    "dropout=0.5",
    "|",
    "x3",
    "x1000",
    "#",
    "{rate}",
    "{",
    "}",
    "...",
    "0",
    "-1",
    "1e9",
    "nan",
    "3x3",
    "0x3",
    "99999999999999999999",
    "é",
    "\u200b",
    "😀",
]
token = st.one_of(
    st.sampled_from(WORDS),
    st.integers(min_value=-5, max_value=100_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
)
line = st.lists(token, max_size=12).map(" ".join)
body = st.lists(line, max_size=30).map("\n".join)
kind = st.sampled_from(["mlp", "cnn"])
variables = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["rate", "n", "x"]), st.one_of(st.floats(), token), max_size=3),
)


def check(text: str, kind: str, variables: dict | None = None) -> None:
    try:
        result = parse_declaration(text, kind, variables)  # type: ignore[arg-type]
    except (DeclarationError, PlaceholderError) as err:
        assert "\n" not in str(err)  # always one line
        return
    assert isinstance(result, Declaration) and result.layers
    try:  # a parsed declaration always has valid shapes, or ends in a softmax of another size
        result.with_head(10).output_shapes()
    except DeclarationError as err:
        assert "\n" not in str(err) and "softmax" in str(err)


@FUZZ
@given(body, kind, variables)
def test_random_token_soup(text: str, kind: str, variables: dict | None) -> None:
    check(text, kind, variables)


@FUZZ
@given(st.text(max_size=400), kind)
def test_arbitrary_unicode(text: str, kind: str) -> None:
    check(text, kind)


@FUZZ
@given(
    st.sampled_from(SEED_MODELS),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(["insert", "delete", "replace"]),
            st.text(max_size=3),
        ),
        max_size=6,
    ),
)
def test_mutated_seed_declarations(model, edits) -> None:  # type: ignore[no-untyped-def]
    text = model.declaration
    for position, action, chars in edits:
        at = position % (len(text) + 1)
        if action == "insert":
            text = text[:at] + chars + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + len(chars) + 1 :]
        else:
            text = text[:at] + chars + text[at + len(chars) :]
    check(text, model.kind, {"rate": 0.03})


@settings(max_examples=20, deadline=5000)
@given(st.integers(1, 5000), st.sampled_from(["dense 8 relu", "bn", "dropout 0.1", "relu | bn"]))
def test_thousands_of_layers_and_long_lines(count: int, layer: str) -> None:
    check("\n".join([layer] * count), "mlp")
    check(" | ".join([layer] * count), "mlp")
    check(f"{layer} x1000\n" * 11, "mlp")  # over the 10,000-layer limit: an error, not a hang
