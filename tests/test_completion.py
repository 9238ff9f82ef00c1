"""Tab completion in ``%%mlp`` / ``%%cnn`` cells: the pure rule, IPython's completer (the
Colab pass runs this module with IPython 7.34), and a real kernel's ``complete_request``."""

from __future__ import annotations

from typing import Any

import pytest

from nbmnist.completion import complete
from nbmnist.declaration.vocabulary import ACTIVATIONS

FLAGS = ["--epochs", "--early-stopping", "--optimizer", "--recipe", "--show-code"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%%mlp a --e", ["--epochs", "--early-stopping"]),
        ("%%mlp a --optimizer ad", ["adam", "adadelta", "adagrad"]),
        ("%%mlp a --monitor val", ["val_loss", "val_accuracy"]),
        ("%%cnn k --recipe ", ["fast"]),
        ("%%mlp re", ["relu_2h", "relu_3h"]),  # the run's name: names of runs
        ("%%cnn\nconv 8 3x3 sa", ["same"]),
        ("%%cnn\nconv 8 3x3 st", ["stride"]),
        ("%%cnn\nran", ["random_rotation", "random_translation", "random_zoom", "random_contrast"]),
        ("%%mlp\ng", ["gaussian_noise", "gelu"]),  # no image words in an MLP
        ("%%mlp x\n430 322 relu he_normal b", ["bn"]),
        ("%%mlp\ndense 64 relu | drop", ["dropout"]),
        ("%%cnn\nresidual(conv 8 3x3 sa", ["same"]),
        ("%%cnn\nresidual(co", ["conv"]),
        ("%%mlp\nres", ["residual"]),
        ("%%mlp\ndense 64 he_u", ["he_uniform"]),
        ("%%cnn\nbn mom", ["momentum="]),
        ("%%mlp\ndense 64 l2=0.0", []),  # a value
        ("%%mlp\n# a comment d", []),
        ("%%mlp\nflatten ", []),  # takes nothing more
    ],
)
def test_what_completes_where(text: str, expected: list[str]) -> None:
    assert complete(text, FLAGS, ["relu_2h", "relu_3h", "cnn_1"], ["fast"]) == expected


def test_other_cells_are_left_to_ipython() -> None:
    assert complete("import o", FLAGS) is None
    assert complete("%%ml", FLAGS) is None  # the magic's own name: IPython completes it
    assert complete("%%time\nx = 1", FLAGS) is None
    assert complete("%%mlp\n", FLAGS)[:4] == ["dense", "dropout", "bn", "gaussian_noise"]  # type: ignore[index]
    assert set(ACTIVATIONS) <= set(complete("%%cnn\n", FLAGS) or [])


def completions(shell: Any, code: str) -> list[str]:
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        return [c.text for c in shell.Completer.completions(code, len(code))]


def test_ipythons_completer_offers_them_once(tmp_path: Any, monkeypatch: Any) -> None:
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # one shell a process: another test's, if started
    shell.run_line_magic("load_ext", "nbmnist")
    shell.run_line_magic("reload_ext", "nbmnist")  # registered once, however often loaded
    assert sum(getattr(m, "_nbmnist", False) for m in shell.Completer.custom_matchers) == 1
    assert "--epochs" in completions(shell, "%%mlp a --epo")
    assert "--restore-best" in completions(shell, "%%mlp a --restore")
    assert "adam" in completions(shell, "%%mlp a --optimizer ad")
    assert "same" in completions(shell, "%%cnn\nconv 8 3 sa")
    assert "random_zoom" in completions(shell, "%%cnn\nconv 8 3 relu\nrandom_z")


@pytest.mark.slow
def test_a_kernel_answers_complete_requests() -> None:
    """What a front end (JupyterLab, Notebook, VS Code, Colab) asks: ``complete_request``
    with the cell and the cursor; the reply's matches and the span they replace."""
    from tests.test_kernel import reply_to, run, started_kernel

    with started_kernel() as (_, client):
        assert run(client, "%load_ext nbmnist")[0] == "ok"
        for code, wanted in (
            ("%%mlp relu_2h --early", "--early-stopping"),
            ("%%cnn small\nconv 32 3x3 relu he_", "he_normal"),
            ("%%cnn small --data fa", "fashion_mnist"),
        ):
            reply = reply_to(client, client.complete(code, len(code)))["content"]
            assert reply["status"] == "ok" and wanted in reply["matches"], reply
            typed = code[reply["cursor_start"] : reply["cursor_end"]]
            assert wanted.startswith(typed) and typed, reply  # replaces the word being typed
