"""The error family: one line a student can act on, never a traceback."""

from __future__ import annotations

import pytest

from nbmnist.errors import (
    BackendError,
    DataError,
    DeclarationError,
    NbmnistError,
    OptionError,
    PlaceholderError,
    did_you_mean,
)
from tests.conftest import Shell


def test_did_you_mean_suggests_the_closest_word_or_nothing() -> None:
    assert did_you_mean("dence", ["dense", "conv", "dropout"]) == " Did you mean 'dense'?"
    assert did_you_mean("DENCE", ["dense"]) == " Did you mean 'dense'?"  # case-blind
    assert did_you_mean("xyzzy", ["dense", "conv"]) == ""


def test_declaration_errors_say_where() -> None:
    error = DeclarationError("unknown layer 'x'", line=2, column=5, token="x")
    assert str(error) == "line 2, col 5: unknown layer 'x'"
    assert (error.line, error.column, error.token, error.reason) == (2, 5, "x", "unknown layer 'x'")
    assert str(DeclarationError("too many", line=7)) == "line 7: too many"
    assert str(DeclarationError("empty body")) == "empty body"


@pytest.mark.parametrize(
    "error",
    [
        DeclarationError("bad", line=1, column=1),
        PlaceholderError("fill in line 1"),
        DataError("mnist/train-images-idx3-ubyte.gz: truncated"),
        OptionError("epochs must be a whole number > 0, got 0"),
        BackendError("unknown backend 'tf'"),
    ],
)
def test_every_error_renders_as_one_line(error: NbmnistError) -> None:
    assert error._render_traceback_() == [f"{type(error).__name__}: {error}"]


def test_option_and_placeholder_errors_are_also_the_builtin_kinds() -> None:
    assert isinstance(OptionError("x"), ValueError)  # code catching ValueError still works
    assert isinstance(PlaceholderError("x"), NotImplementedError)


def test_ipython_shows_the_line_not_a_traceback(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.ip.run_cell("%%mlp\ndence 10")
    assert isinstance(result.error_in_exec, DeclarationError)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "DeclarationError: line 1, col 1: unknown layer 'dence'" in text
    assert "Traceback" not in text
