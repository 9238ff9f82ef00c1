"""train(): options checked first, a real fit on the sample, a recorded Run."""

from __future__ import annotations

import itertools
import math
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nbmnist
from nbmnist import OptionError, train, training
from nbmnist.display.console import ConsoleDisplay
from nbmnist.training import prepare_arrays
from tests.conftest import TINY_CNN, TINY_MLP


class Recorder:
    """A display that records what it is told; optionally raises at an epoch."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.interrupt_at = interrupt_at

    def run_started(self, info: Any) -> None:
        self.calls.append(("begin", info))

    def epoch_completed(self, log: Any) -> None:
        self.calls.append(("epoch", log.epochs))
        if log.epochs == self.interrupt_at:
            raise KeyboardInterrupt

    def run_finished(self, run: Any) -> None:
        self.calls.append(("end", run))


def test_mlp_trains_on_the_sample_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    evaluated: list[object] = []
    monkeypatch.setattr(training, "evaluate", lambda *args: evaluated.append(args))
    run = train(TINY_MLP, "mlp", "tiny", display=recorder, epochs=2, validation="test")
    assert run.status == "completed" and run.epochs == 2
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 2 for values in run.history.values())
    assert 0.5 < run.test_accuracy <= 1.0  # a 32-unit MLP learns the sample well past chance
    # validating on the test set: the last val_* entries are the test scores, not evaluated
    # again (a split is not the test set: test_validation_split_holds_out_the_last_fraction)
    assert evaluated == []
    assert (run.test_loss, run.test_accuracy) == (
        run.history["val_loss"][-1],
        run.history["val_accuracy"][-1],
    )
    assert run.num_params == 784 * 32 + 32 + 32 * 10 + 10
    assert run.head_appended and run.architecture == "dense 32-10"
    assert "bundled sample" in run.data_source and run.uses_sample
    assert nbmnist.runs() == [run]
    assert [call[0] for call in recorder.calls] == ["begin", "epoch", "epoch", "end"]
    assert recorder.calls[0][1].num_params == run.num_params
    assert run.model.count_params() == run.num_params


def test_cnn_trains() -> None:
    run = train(TINY_CNN, "cnn", display=Recorder(), epochs=1, train_size=2000)
    assert run.name == "cnn_1" and run.status == "completed"
    assert run.options["train_size"] == 2000


def test_validation_split_holds_out_the_last_fraction() -> None:
    recorder = Recorder()
    run = train(TINY_MLP, display=recorder, epochs=1, validation_split=0.25)
    info = recorder.calls[0][1]
    assert info.num_train == 6000 and info.validation == "split"
    assert "val_accuracy" in run.history
    assert run.test_loss is not None and run.test_loss != run.history["val_loss"][-1]  # evaluated


def test_no_validation() -> None:
    run = train(TINY_MLP, display=Recorder(), epochs=1, validation="none")
    assert set(run.history) == {"loss", "accuracy"}
    assert run.best_epoch() is None


def test_default_names_count_up() -> None:
    first = train(TINY_MLP, display=Recorder(), epochs=1)
    second = train(TINY_MLP, display=Recorder(), epochs=1)
    assert (first.name, second.name) == ("mlp_1", "mlp_2")


def test_same_seed_same_history() -> None:
    a = train(TINY_MLP, display=Recorder(), epochs=2, seed=7, validation="test")
    b = train(TINY_MLP, display=Recorder(), epochs=2, seed=7, validation="test")
    c = train(TINY_MLP, display=Recorder(), epochs=2, seed=8, validation="test")
    assert a.history == b.history
    assert a.history != c.history


def test_ctrl_c_records_an_interrupted_run_then_reraises() -> None:
    with pytest.raises(KeyboardInterrupt):
        train(TINY_MLP, "mlp", "stopped", display=Recorder(interrupt_at=2), epochs=5)
    (run,) = nbmnist.runs()
    assert run.name == "stopped" and run.status == "interrupted"
    assert run.epochs == 2 and run.test_accuracy is None


def test_nan_loss_stops_the_run_as_diverged() -> None:
    run = train(TINY_MLP, display=Recorder(), epochs=3, optimizer="sgd", learning_rate=1e30)
    assert run.status == "diverged"
    assert not math.isfinite(run.history["loss"][-1])
    assert run.epochs < 3 or run.test_accuracy is None


def test_linear_output_trains_from_logits() -> None:
    run = train("dense 32 relu\ndense 10", display=Recorder(), epochs=2)
    assert not run.head_appended
    assert run.test_accuracy > 0.5


def test_mse_loss_on_one_hot_labels() -> None:
    run = train(TINY_MLP, display=Recorder(), epochs=1, loss="mean_squared_error")
    assert run.options["loss"] == "mse" and run.test_loss < 0.1


def test_fast_mode_caps_epochs_and_uses_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBMNIST_FAST", "1")
    run = train(TINY_MLP, display=Recorder(), epochs=50)
    assert run.epochs == 2 and "fast mode" in run.data_source
    # the run records what was asked and what ran
    assert run.options["epochs"] == 50 and run.options["train_size"] is None
    assert run.plan["epochs"] == 2 and run.plan["train_size"] == 2000
    assert nbmnist.load_runs()[-1].plan == run.plan


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"epochs": 0}, "epochs must be a whole number > 0, got 0"),
        ({"epochs": -3}, "got -3"),
        ({"epochs": 2.5}, "got 2.5"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"optimizer": "adamm"}, "unknown optimizer 'adamm'; expected one of adam"),
        ({"loss": "hinge"}, "unknown loss 'hinge'"),
        ({"validation": "tset"}, "Did you mean 'test'?"),
        ({"validation_split": 1.5}, "validation_split must be a fraction"),
        ({"learning_rate": -0.1}, "learning_rate must be a number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"data": "svhn"}, "unknown data 'svhn'"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 2**32}, "seed must be a whole number from 0 to 4294967295"),
        ({"epochs": 10**20}, "epochs must be at most 10,000, got 100,000,000,000,000,000,000"),
        ({"batch_size": 10**6}, "batch_size must be at most 60,000"),
        ({"train_size": 1}, "train_size 1 leaves no images to train or validate on"),
        ({"train_size": 2, "validation_split": 0.9}, "use train_size >= 11"),
        ({"steps_per_execution": 0}, "steps_per_execution must be a whole number > 0"),
        ({"lr": 0.1}, "unknown training option 'lr'"),
        ({"epoch": 3}, "Did you mean 'epochs'?"),
    ],
)
def test_bad_options_fail_before_anything_is_built(options: dict, fragment: str) -> None:
    recorder = Recorder()
    with pytest.raises(OptionError) as caught:
        train(TINY_MLP, display=recorder, **options)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert recorder.calls == [] and nbmnist.runs() == []
    assert not Path(os.environ["NBMNIST_RUNS"]).exists()  # no folder claimed, no record


def test_bad_declaration_fails_before_anything_is_built() -> None:
    recorder = Recorder()
    with pytest.raises(nbmnist.DeclarationError, match="dence"):
        train("dence 12", display=recorder)
    assert recorder.calls == [] and nbmnist.runs() == []


def test_corrupt_data_fails_before_training(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    recorder = Recorder()
    with pytest.raises(nbmnist.DataError):
        train(TINY_MLP, display=recorder)
    assert recorder.calls == [] and nbmnist.runs() == []


def test_console_display_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    run = train(TINY_MLP, "mlp", "console", display=ConsoleDisplay(), epochs=2, validation="test")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("console: mlp, 25,450 params, MNIST (sample), 2 epochs on CPU")
    epoch_lines = [line for line in out if line.startswith("console epoch ")]
    assert len(epoch_lines) == 2
    assert epoch_lines[1].startswith("console epoch 2/2 - ")
    assert f"val_accuracy {run.history['val_accuracy'][1]:.4f}" in epoch_lines[1]
    assert out[-1].startswith(f"console: test_loss {run.test_loss:.4f} · test_accuracy ")


class SigintAt(Recorder):
    """Presses Ctrl-C (sends SIGINT to this process) at the end of an epoch."""

    def epoch_completed(self, log: Any) -> None:
        super().epoch_completed(log)
        if log.epochs == 2:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("validation", ["split", "none"])
def test_sigint_stops_after_the_current_batch_and_keeps_whole_epochs(validation: str) -> None:
    recorder = SigintAt()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(TINY_MLP, "mlp", "ctrl_c", display=recorder, epochs=6, validation=validation)
    (run,) = nbmnist.runs()
    assert run.status == "interrupted" and run.epochs == 2  # the partial 3rd is not kept
    assert all(len(values) == 2 for values in run.history.values())
    assert recorder.calls[-1][0] == "end"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored


def test_batch_progress_counts_the_batches_of_the_epoch() -> None:
    seen: list[tuple[int, int]] = []

    class Polling(Recorder):
        def run_started(self, info: Any) -> None:
            super().run_started(info)
            self.progress = info.batch_progress
            seen.append(self.progress())

        def epoch_completed(self, log: Any) -> None:
            super().epoch_completed(log)
            seen.append(self.progress())

    train(TINY_MLP, display=Polling(), epochs=2, batch_size=100, validation="none")
    assert seen[0] == (0, 0)  # before fit starts
    assert seen[1:] == [(60, 60), (60, 60)]  # 6,000 images / 100 per batch, all done


def test_mixed_precision_is_ignored_on_cpu_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    run = train(TINY_MLP, display=Recorder(), epochs=1, mixed_precision=True)
    assert "--mixed-precision ignored: no GPU or TPU here" in capsys.readouterr().out
    assert run.options["mixed_precision"] is True
    assert {layer.dtype_policy.name for layer in run.model.layers} == {"float32"}


def test_cosine_schedule_warms_up_and_decays_to_zero() -> None:
    run = train(
        TINY_MLP,
        display=Recorder(),
        epochs=2,
        batch_size=500,
        validation="none",
        learning_rate=0.01,
        lr_schedule="cosine",
    )
    optimizer = run.model.optimizer
    assert int(optimizer.iterations.numpy()) == 24  # 6,000 / 500 x 2 epochs
    schedule = optimizer._learning_rate
    assert float(schedule(0)) == 0.0 and float(schedule(2)) == pytest.approx(0.01)
    assert float(schedule(24)) == pytest.approx(0.0, abs=1e-6)


def test_one_cycle_climbs_from_a_25th_of_the_peak_then_decays_to_almost_nothing() -> None:
    run = train(
        TINY_MLP,
        display=Recorder(),
        epochs=2,
        batch_size=500,
        validation="none",
        learning_rate=0.01,
        lr_schedule="one_cycle",
    )
    schedule = run.model.optimizer._learning_rate  # 24 steps: 7 up, 17 down
    rates = [float(schedule(step)) for step in range(25)]
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01) and rates.index(max(rates)) == 7
    assert all(a < b for a, b in itertools.pairwise(rates[:8]))  # up, then down
    assert all(a > b for a, b in itertools.pairwise(rates[7:]))
    assert rates[24] == pytest.approx(0.01 * 1e-5)


def test_unknown_schedule_is_an_option_error() -> None:
    with pytest.raises(OptionError, match=r"unknown lr_schedule 'cosin'.*Did you mean 'cosine'"):
        train(TINY_MLP, display=Recorder(), lr_schedule="cosin")


def test_grouped_steps_make_the_same_updates_as_one_batch_per_call() -> None:
    """steps_per_execution only changes how often Python runs, not what is computed."""
    options: dict[str, Any] = {"epochs": 2, "seed": 3, "validation": "test", "batch_size": 100}
    one = train(TINY_MLP, display=Recorder(), steps_per_execution=1, **options)
    grouped = train(TINY_MLP, display=Recorder(), steps_per_execution=7, **options)
    asked = 1 if grouped.execution["backend"] == "torch" else 7  # PyTorch: always 1
    assert (one.plan["steps_per_execution"], grouped.plan["steps_per_execution"]) == (
        1,
        asked,
    )
    assert int(grouped.model.optimizer.iterations.numpy()) == 120  # 60 batches x 2, none lost
    for key, values in one.history.items():
        assert grouped.history[key] == pytest.approx(values, rel=1e-5), key
    assert grouped.test_accuracy == pytest.approx(one.test_accuracy, abs=1e-6)


def test_steps_per_execution_defaults_from_the_model_cost() -> None:
    from nbmnist.backend import MAX_CPU_STEPS_PER_EXECUTION as MAX_STEPS_PER_EXECUTION
    from nbmnist.backend import auto_steps_per_execution
    from nbmnist.declaration import parse_declaration

    seed_mlp = parse_declaration("430 322 relu he_normal bn dropout=0.5", "mlp").with_head()
    keras_example = parse_declaration(
        "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\nflatten\ndense 128 relu", "cnn"
    ).with_head()
    assert seed_mlp.multiply_adds() == 784 * 430 + 430 * 322 + 322 * 10
    assert keras_example.multiply_adds() == (
        26 * 26 * 32 * 9 + 24 * 24 * 64 * 9 * 32 + 12 * 12 * 64 * 128 + 128 * 10
    )
    big = parse_declaration("conv 64 7x7 same relu x4", "cnn").with_head()
    assert auto_steps_per_execution(seed_mlp, 128) == MAX_STEPS_PER_EXECUTION
    assert auto_steps_per_execution(keras_example, 128) == 2
    assert auto_steps_per_execution(keras_example, 8) == MAX_STEPS_PER_EXECUTION
    assert auto_steps_per_execution(big, 128) == 1  # a group would delay Ctrl-C
    run = train(TINY_MLP, display=Recorder(), epochs=1, batch_size=6000, validation="none")
    assert run.plan["steps_per_execution"] == 1  # never more than one epoch's batches


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("430 322 relu he_normal bn dropout=0.5", "mlp"),
        ("conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\nflatten\ndense 128 relu", "cnn"),
        ("conv 8 5x5 same | bn\nglobalavgpool", "cnn"),
    ],
)
def test_parameter_counts_from_the_declaration_are_keras_counts(text: str, kind: str) -> None:
    declaration = nbmnist.parse_declaration(text, kind).with_head()  # type: ignore[arg-type]
    model = nbmnist.build_model(declaration)
    assert sum(declaration.parameter_counts()) == model.count_params()


def test_a_model_too_large_for_memory_is_refused_before_it_is_built() -> None:
    recorder = Recorder()
    with pytest.raises(nbmnist.DeclarationError) as caught:
        train("dense 99999999999", display=recorder)
    message = str(caught.value)
    assert message.startswith("line 1, col 1: this model needs about 1,374,400.0 GB")
    assert "'dense 99999999999' (78,499,999,999,215 parameters)" in message
    assert recorder.calls == [] and not Path(os.environ["NBMNIST_RUNS"]).exists()
    text = "dense 512 relu\ndense 300000 relu"  # ~2.8 GB
    with pytest.raises(nbmnist.DeclarationError, match=r"line 2.*raise memory_limit_gb"):
        train(text, display=recorder, memory_limit_gb=1)
    with pytest.raises(OptionError, match="memory_limit_gb must be a number > 0"):
        train(text, display=recorder, memory_limit_gb=0)


def test_a_model_of_too_many_layers_is_refused_before_it_is_built() -> None:
    recorder = Recorder()
    with pytest.raises(nbmnist.DeclarationError) as caught:
        train("\n".join(["dense 8"] * 10_000), display=recorder)
    assert str(caught.value) == (
        "line 501: more than 500 layers; a model trains here with at most 500 (Keras builds "
        "it recursively: 1,000 exceeded Python's recursion limit)"
    )  # refused while parsing, at the line that declares one too many
    assert recorder.calls == []
    with pytest.raises(nbmnist.DeclarationError, match="501 layers with the output head"):
        train("\n".join(["dense 8"] * 500), display=recorder)  # the head makes 501


def test_batch_norm_that_saw_too_few_updates_is_a_caveat_on_the_run_and_its_row() -> None:
    """A small CNN with bn on the sample reached 0.669 (0.915 on full data): its moving
    averages saw a few dozen updates. The run, its line and its table row say so."""
    from nbmnist.plan import settling_updates
    from nbmnist.runs import RunStore

    assert settling_updates(0.99) == 299 and settling_updates(0.9) == 29  # from the momentum
    run = train(
        "conv 8 3x3 relu | bn\nmaxpool 2\nflatten",
        "cnn",
        "unsettled",
        display=Recorder(),
        epochs=1,
        train_size=600,
    )
    (caveat,) = run.caveats  # 500 images, 128 a batch: 4 updates
    assert caveat.startswith("batch norm unsettled (4 of 299 updates): its moving averages")
    assert "train on the full data or for more epochs" in caveat
    assert RunStore.default().load("unsettled").caveats == run.caveats  # recorded
    table = nbmnist.summary_table([run], columns=["name", "test accuracy"])
    assert table.field_names[-1] == "caveat" and table.rows[0][-1] == caveat.split(":")[0]
    settled = train("dense 8 relu | bn momentum=0.5", display=Recorder(), epochs=1)
    assert settled.caveats == []  # 39 updates: momentum 0.5 settles in 5


def test_fewer_steps_than_layers_with_weights_is_a_caveat() -> None:
    run = train("dense 8 relu\ndense 8 relu", display=Recorder(), epochs=1, train_size=200)
    assert run.caveats == [
        "too few steps (2 for 3 layers with weights): the scores say little about this "
        "model; train on more images or for more epochs"
    ]


def test_train_takes_more_keras_callbacks_after_its_own() -> None:
    """``callbacks=[...]`` reach ``fit``: each epoch's logs, and an ``EarlyStopping`` that ends
    the run early; anything else is refused before training."""
    import keras

    quiet = ConsoleDisplay(open(os.devnull, "w"))  # noqa: SIM115

    class Seen(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[int] = []

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs.append(epoch)

    seen = Seen()
    run = train(TINY_MLP, epochs=2, callbacks=[seen], display=quiet)
    assert seen.epochs == [0, 1] and run.epochs == 2
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=0)
    stopped = train(TINY_MLP, epochs=5, callbacks=[stop], display=quiet)
    assert stopped.status == "completed" and stopped.epochs == 2  # the 2nd did not improve by 10
    # a callback that changes the weights after the last epoch (as restore_best_weights
    # does): the model is scored as it is, not by the last epoch's pass over the test set

    class Forget(keras.callbacks.Callback):
        def on_train_end(self, logs: Any = None) -> None:
            kernel = self.model.layers[0].kernel
            kernel.assign(np.zeros(kernel.shape, dtype="float32"))

    forgot = train(TINY_MLP, epochs=2, validation="test", callbacks=[Forget()], display=quiet)
    x, y = prepare_arrays(nbmnist.load_dataset("mnist"), "mlp")[2:]
    scores = forgot.model.evaluate(x, y, batch_size=1000, verbose=0, return_dict=True)
    assert forgot.test_accuracy == pytest.approx(scores["accuracy"], abs=1e-6)
    assert forgot.test_accuracy < 0.5 < forgot.history["val_accuracy"][-1]
    before = len(nbmnist.runs())
    with pytest.raises(OptionError, match=r"is not a keras\.callbacks\.Callback"):
        train(TINY_MLP, epochs=1, callbacks=[print], display=quiet)
    assert len(nbmnist.runs()) == before
