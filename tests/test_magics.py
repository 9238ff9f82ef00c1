"""%%mlp and %%cnn in a real IPython shell, end to end on the sample."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from IPython.core.error import UsageError

import nbmnist
from nbmnist.runs import Run, RunStore
from tests.conftest import Shell

KERAS_EXAMPLE = (
    "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
    "dense 128 relu\ndropout 0.5"
)


def test_mlp_cell_trains_and_binds_the_run(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run(
        "%%mlp relu_2h --epochs 1 --batch-size 128 --validation test\n"
        "430 322 relu he_normal bn dropout=0.5"
    )
    run = shell.ns["relu_2h"]
    assert isinstance(run, Run) and run.status == "completed"
    assert run.num_params == 482_570 and run.num_non_trainable_params == 1_504
    assert run.options["batch_size"] == 128 and run.options["validation"] == "test"
    assert nbmnist.runs() == [run]
    out = capsys.readouterr().out
    assert "relu_2h: mlp, 482,570 params, MNIST (sample), 1 epoch on CPU" in out
    assert "dense 10 softmax" in out and "appended by nbmnist" in out
    assert "relu_2h epoch 1/1" in out and "relu_2h: test_loss" in out


def test_a_trailing_comment_on_the_magic_line_is_ignored(shell: Shell) -> None:
    shell.run("%%mlp t --epochs 1 --train-size 300 --no-live  # one epoch, #2\ndense 8 relu")
    assert shell.ns["t"].options["epochs"] == 1 and shell.ns["t"].epochs == 1


def test_cnn_keras_example_for_one_epoch(shell: Shell) -> None:
    # 3,000 images: a third of the sample's convolutions (the slowest training in the JAX
    # pass: XLA on a CPU runs convolutions several times slower than TensorFlow)
    shell.run(
        "%%cnn keras_example --epochs 1 --optimizer adadelta --learning-rate 1.0 "
        f"--train-size 3000\n{KERAS_EXAMPLE}"
    )
    run = shell.ns["keras_example"]
    assert run.kind == "cnn" and run.num_params == 1_199_882
    assert run.options["optimizer"] == "adadelta" and run.options["learning_rate"] == 1.0
    assert run.options["train_size"] == 3000
    assert run.test_accuracy > 0.3  # it learned: chance is 0.1 (0.49-0.64 from 2,000 images)


def test_jit_compile_flag_is_passed_recorded_and_printed(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run("%%mlp plain --epochs 1 --no-live --jit-compile off\ndense 16 relu")
    run = shell.ns["plain"]
    assert run.options["jit_compile"] is False and run.execution["jit_compile"] is False
    assert run.model.jit_compile is False
    shell.run("%%mlp --show-code --jit-compile on\ndense 16 relu")
    assert "    jit_compile=True," in capsys.readouterr().out
    error = shell.run_expecting_error("%%mlp --jit-compile maybe\ndense 16 relu")
    assert isinstance(error, UsageError) and "invalid choice: 'maybe'" in str(error)


def test_default_names_and_python_api_agree(shell: Shell) -> None:
    shell.run("%%mlp --epochs 1\ndense 16 relu")
    shell.run("%%mlp --epochs 1 --no-live --train-size 1000\ndense 16 relu")
    assert [run.name for run in nbmnist.runs()] == ["mlp_1", "mlp_2"]
    assert shell.ns["mlp_2"].options["train_size"] == 1000


def test_fashion_mnist_and_config_seed(shell: Shell) -> None:
    shell.run("%config NbmnistMagics.seed = 3")
    shell.run("%%mlp a --epochs 1 --data fashion_mnist\ndense 16 relu")
    shell.run("%%mlp b --epochs 1 --data fashion_mnist\ndense 16 relu")
    a, b = shell.ns["a"], shell.ns["b"]
    assert a.options["seed"] == 3 and a.history == b.history
    assert "Fashion-MNIST" in a.data_source


def test_config_fast_mode(shell: Shell) -> None:
    shell.run("%config NbmnistMagics.fast = True")
    shell.run("%%mlp --epochs 30\ndense 16 relu")
    assert shell.ns["mlp_1"].epochs == 2


def test_declaration_error_is_one_line_and_trains_nothing(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.ns["keep_me"] = 42
    error = shell.run_expecting_error("%%mlp --epochs 1\ndense 128\ndence 64")
    assert isinstance(error, nbmnist.DeclarationError)
    err = capsys.readouterr()
    text = err.out + err.err
    assert "DeclarationError: line 2, col 1: unknown layer 'dence'" in text
    assert "Did you mean 'dense'?" in text
    assert "Traceback" not in text
    assert nbmnist.runs() == [] and shell.ns["keep_me"] == 42


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("--epochs -1", "epochs must be a whole number > 0, got -1"),
        ("--epochs abc", "argument --epochs: invalid int value: 'abc'"),
        ("--optimizer adamm", "Did you mean 'adam'?"),
        ("--loss hinge", "unknown loss 'hinge'"),
        ("--validation-split 2", "validation_split must be a fraction"),
        ("--bogus 3", "unknown flag --bogus."),
        ("--lr 0.01", "unknown flag --lr. Use --learning-rate."),  # was taken as --lr-schedule
        ("--lr-sched cosine", "Flags are never abbreviated: write --lr-schedule."),
        ("2fast", "run name '2fast' is not a Python name"),
        ("class", "is not a Python name"),
        ("a b", "unrecognized arguments: b"),
    ],
)
def test_bad_magic_line_is_a_usage_error(shell: Shell, line: str, fragment: str) -> None:
    error = shell.run_expecting_error(f"%%mlp {line}\ndense 16 relu")
    assert isinstance(error, UsageError)
    assert fragment in str(error)
    assert nbmnist.runs() == []


def test_help_names_the_cell_magic() -> None:
    from nbmnist.magics import NbmnistMagics

    assert "  %%mlp [--data DATA]" in str(NbmnistMagics.mlp.__doc__)
    assert "  %%cnn [--data DATA]" in str(NbmnistMagics.cnn.__doc__)


def test_load_ext_binds_nbmnist_and_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "before = set(sys.modules)\n"
        "ip.run_line_magic('load_ext', 'nbmnist')\n"
        "assert ip.user_ns['nbmnist'].__name__ == 'nbmnist'\n"
        "assert 'mlp' in ip.magics_manager.magics['cell']\n"
        "assert 'cnn' in ip.magics_manager.magics['cell']\n"
        "new = set(sys.modules) - before\n"
        "heavy = [m for m in ('keras', 'tensorflow', 'matplotlib', 'seaborn') if m in new]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_magic_help_shows_an_example(shell: Shell) -> None:
    doc = shell.ip.find_cell_magic("mlp").__doc__
    assert "430 322 relu he_normal bn dropout=0.5" in doc and "--batch-size" in doc


def test_variables_in_body_and_magic_line(shell: Shell) -> None:
    shell.run("rate = 0.3\nn = 1\nwidth = 24")
    shell.run("%%mlp swept --epochs {n}\ndense {width} relu\ndropout {rate}")
    run = shell.ns["swept"]
    assert run.epochs == 1 and run.dropout_rates == (0.3,)
    assert run.num_params == 784 * 24 + 24 + 24 * 10 + 10
    # the record keeps the cell as written and the values it was trained with
    assert run.declaration.strip() == "dense {width} relu\ndropout {rate}"
    stored = RunStore.default().load("swept")
    assert stored.variables == run.variables == {"width": "24", "rate": "0.3"}


@pytest.mark.parametrize(
    ("cell", "error_type", "fragment"),
    [
        (
            "%%mlp\ndropout {undefined_rate}",
            nbmnist.DeclarationError,
            "undefined name 'undefined_rate'",
        ),
        ("%%mlp --epochs {undefined_n}\ndense 8", UsageError, "undefined name 'undefined_n'"),
        (
            "%%mlp\ndense 8 $width",
            nbmnist.DeclarationError,
            "unknown activation or initializer '$width'",
        ),
        ("%%mlp\ndense 8\n# YOUR CODE HERE", NotImplementedError, "fill in line 2"),
    ],
)
def test_variable_and_stub_errors(shell: Shell, cell: str, error_type: type, fragment: str) -> None:
    error = shell.run_expecting_error(cell)
    assert isinstance(error, error_type) and fragment in str(error)
    if not isinstance(error, UsageError):  # IPython prints UsageError as one line itself
        assert len(error._render_traceback_()) == 1  # one short line in the notebook
    assert nbmnist.runs() == []


def test_show_code_prints_keras_instead_of_training(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    line = "%%mlp shown_only --epochs 22 --validation test --show-code"
    shell.run(f"{line}\n430 322 relu he_normal bn dropout=0.5")
    out = capsys.readouterr().out
    assert nbmnist.runs() == [] and "shown_only" not in shell.ns
    assert 'name="shown_only"' in out
    assert 'layers.Dense(430, activation="relu", kernel_initializer="he_normal"),' in out
    assert "epochs=22" in out and "validation_data=(x_test, y_test)" in out
    assert "steps_per_execution" not in out  # auto: means nothing to a student (issue 15)
    compile(out, "<shown>", "exec")  # it is valid Python
    shell.run("%%cnn --show-code --steps-per-execution 4\nconv 8 3 relu")
    assert "steps_per_execution=4," in capsys.readouterr().out


def test_help_shows_the_grammar(shell: Shell) -> None:
    from nbmnist.declaration.vocabulary import LAYER_WORDS

    for magic in ("mlp", "cnn"):
        doc = shell.ip.find_cell_magic(magic).__doc__
        for word in LAYER_WORDS:
            assert word.syntax in doc
        assert "{name}" in doc and "--show-code" in doc


def test_recipe_fast_with_a_comment_for_a_body(shell: Shell) -> None:
    shell.run("%%cnn quick --recipe fast --epochs 1 --train-size 600 --no-live\n# the preset")
    run = shell.ns["quick"]
    assert run.architecture == "conv 16-32 / dense 128-10" and not run.uses_batchnorm
    assert run.options["lr_schedule"] == "cosine" and run.options["learning_rate"] == 5e-3
    assert run.options["epochs"] == 1  # a flag given on the line wins over the recipe


@pytest.mark.parametrize(
    ("line", "fragment"),
    [("--recipe fastest", "unknown recipe 'fastest'"), ("--recipe fast", "is a %%cnn recipe")],
)
def test_recipe_errors(shell: Shell, line: str, fragment: str) -> None:
    error = shell.run_expecting_error(f"%%mlp {line}\n# the preset")
    assert isinstance(error, UsageError) and fragment in str(error)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("nbmnist", "would replace the nbmnist module"),
        ("print", "would replace Python's built-in print"),
        ("np", "would replace the notebook's 'np' (a module)"),
        ("x_train", "would replace the notebook's 'x_train' (ndarray)"),
        ("cfg", "would break %config on IPython 7 (Colab's)"),
    ],
)
def test_a_run_name_never_replaces_what_the_notebook_needs(
    shell: Shell, name: str, fragment: str
) -> None:
    shell.run("import numpy as np\nx_train = np.zeros(3)")
    error = shell.run_expecting_error(f"%%mlp {name} --epochs 1 --no-live\ndense 8")
    assert fragment in str(error) and "\n" not in str(error)
    assert nbmnist.runs() == [] and shell.ns["np"].__name__ == "numpy"


def test_a_run_name_may_rebind_an_earlier_run(shell: Shell) -> None:
    shell.run("%%mlp again --epochs 1 --no-live\ndense 8")
    shell.run("%%mlp again --epochs 1 --no-live --overwrite\ndense 4")
    assert shell.ns["again"].num_params == 784 * 4 + 4 + 50


def press_stop_after_epoch(monkeypatch: pytest.MonkeyPatch, epoch: int, point: int = 1) -> None:
    """The notebook's stop button (SIGINT to this process) once the ``point``-th run of the
    cell has completed ``epoch`` epochs."""
    import os
    import signal

    from nbmnist.runs import StoreWriter

    original = StoreWriter.epoch_completed
    started: list[str] = []

    def epoch_completed(self: StoreWriter, log: object) -> None:
        original(self, log)
        if self.run.name not in started:
            started.append(self.run.name)
        if len(started) == point and self.run.epochs == epoch:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(StoreWriter, "epoch_completed", epoch_completed)


def test_a_stopped_cell_binds_its_run_and_ends_in_one_line(
    shell: Shell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stop during ``%%mlp long``: the cell's one line, no traceback through nbmnist, and the
    next cell finds ``long`` (it got a NameError)."""
    press_stop_after_epoch(monkeypatch, 2)
    error = shell.run_expecting_error("%%mlp long --epochs 30 --no-live\ndense 16 relu")
    assert isinstance(error, KeyboardInterrupt)  # a headless runner stops at this cell
    out = capsys.readouterr().out
    assert "long: interrupted at epoch 3; 2 epochs kept, not evaluated" in out
    assert "KeyboardInterrupt: stopped; long holds the interrupted run (2 epochs kept)" in out
    assert "Traceback" not in out and "nbmnist/" not in out
    shell.run("kept = (long.name, long.status, long.epochs)")
    assert shell.ns["kept"] == ("long", "interrupted", 2)


def test_a_stopped_sweep_binds_its_points_so_far(
    shell: Shell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    press_stop_after_epoch(monkeypatch, 1, point=2)
    error = shell.run_expecting_error(
        "%%mlp sw --grid units=8,16,32 --epochs 3 --train-size 500 --no-live --executor kernel\n"
        "dense {units} relu"
    )
    assert isinstance(error, KeyboardInterrupt)
    out = capsys.readouterr().out
    assert "KeyboardInterrupt: stopped; sw holds the 2 runs it stored" in out
    assert "Traceback" not in out
    assert [(run.name, run.status) for run in shell.ns["sw"]] == [
        ("sw[units=8]", "completed"),
        ("sw[units=16]", "interrupted"),
    ]


def test_a_placeholder_cell_binds_its_name_so_its_tests_say_why(shell: Shell) -> None:
    """A graded task left as '...': its test (relu_3h.status, check_training) fails with the
    cell's PlaceholderError, not NameError; a run the name holds is never replaced."""
    from nbmnist.errors import PlaceholderError

    error = shell.run_expecting_error("%%mlp relu_3h --epochs 1\n...")
    assert isinstance(error, PlaceholderError)
    error = shell.run_expecting_error("relu_3h.status")
    assert isinstance(error, PlaceholderError)
    # IPython 7 (Colab's) strips the '...' line itself: the body arrives empty
    assert str(error).startswith("relu_3h was not trained: ")
    assert "is a placeholder ('...')" in str(error) or "'...', which IPython 7" in str(error)
    assert "not trained yet" in repr(shell.ns["relu_3h"])
    shell.run("%%mlp relu_3h --epochs 1 --train-size 300 --no-live\ndense 8 relu")
    assert shell.ns["relu_3h"].status == "completed"  # filled in: the name is the run
    shell.run_expecting_error("%%mlp relu_3h --epochs 1\n# YOUR CODE HERE")
    assert shell.ns["relu_3h"].status == "completed"  # kept


def test_the_magic_line_is_parsed_once_for_every_point(
    shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argparse reads the line once; a point's ``{lr}`` is put into the parsed text."""
    from nbmnist import magics

    lines: list[str] = []
    real = magics.parse_argstring

    def counted(magic: Any, line: str) -> Any:
        lines.append(line)
        return real(magic, line)

    monkeypatch.setattr(magics, "parse_argstring", counted)
    shell.run(
        "%%mlp net --grid lr=0.01,0.001 --learning-rate {lr} --epochs 1 --train-size 300 "
        "--executor kernel --no-live\ndense 8"
    )
    assert len(lines) == 1 and "{lr}" in lines[0]
    rates = sorted(run.options["learning_rate"] for run in shell.ns["net"])
    assert rates == [0.001, 0.01]
