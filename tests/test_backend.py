"""nbmnist.backend: which Keras backend, which device, and how a run trains there.

The suite runs once per backend (``make test``: TensorFlow, then JAX), so "this backend" below
is whichever the process runs on; the other is exercised in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbmnist import backend
from nbmnist.backend import (
    BackendError,
    Device,
    choice,
    choose_steps_per_execution,
    configured_backend,
    precision_policy,
    use_backend,
)
from nbmnist.backend import jax as backend_jax
from nbmnist.backend import tensorflow as backend_tensorflow
from nbmnist.backend.common import PrivateName
from nbmnist.declaration import parse_declaration
from tests.conftest import REPO, TINY_MLP

SEED_MLP = parse_declaration("430 322 relu he_normal bn dropout=0.5", "mlp").with_head()
KERAS_EXAMPLE = parse_declaration(
    "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\nflatten\ndense 128 relu", "cnn"
).with_head()


def this_backend() -> str:
    import keras

    return str(keras.backend.backend())


def other_backend() -> str:
    return "jax" if this_backend() == "tensorflow" else "tensorflow"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a fresh Keras) from the repository root."""
    environment = {**os.environ, **env}
    environment.pop("KERAS_BACKEND", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- which backend -----------------------------------------------------------------------


def test_keras_backend_variable_wins_over_keras_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert configured_backend() == ("tensorflow", "Keras' default")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    assert configured_backend() == ("jax", str(tmp_path / "keras.json"))
    monkeypatch.setenv("KERAS_BACKEND", "Torch")
    assert configured_backend() == ("torch", "KERAS_BACKEND")


def test_an_uninstalled_default_falls_back_to_an_installed_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Colab's TPU runtime has no TensorFlow: Keras' default must not stop nbmnist there."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(choice, "installed", lambda name: name == "jax")
    assert choice.choose_backend() == "jax"
    assert "'tensorflow' (Keras' default) is not installed; training on 'jax'" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("variable", "installed", "message"),
    [
        (
            "torch",
            {"jax"},
            "backend 'torch' (KERAS_BACKEND) is not installed; install it with "
            'pip install "nbmnist[torch]", or choose one of jax',
        ),
        (None, set(), 'no Keras backend is installed; install one, e.g. pip install "nbmnist[jax]'),
        (
            "jaxx",
            {"jax"},
            "unknown Keras backend 'jaxx'; nbmnist trains on tensorflow, jax, torch. "
            "Did you mean 'jax'?",
        ),
        ("numpy", {"jax"}, "unknown Keras backend 'numpy'"),
    ],
)  # fmt: skip
def test_a_backend_that_cannot_train_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str | None,
    installed: set[str],
    message: str,
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    if variable is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", variable)
    monkeypatch.setattr(choice, "installed", lambda name: name in installed)
    with pytest.raises(BackendError) as raised:
        choice.choose_backend()
    assert message in str(raised.value)
    assert raised.value._render_traceback_() == [f"BackendError: {raised.value}"]


def test_switching_backend_after_keras_loaded_says_restart_the_kernel() -> None:
    backend.import_keras()
    use_backend(this_backend())  # the same one: fine
    with pytest.raises(BackendError, match="restart the kernel"):
        use_backend(other_backend())
    with pytest.raises(BackendError, match="Did you mean 'torch'"):
        use_backend("trch")


def test_config_backend_in_the_shell_checks_at_once(shell, caplog) -> None:  # type: ignore[no-untyped-def]
    backend.import_keras()
    shell.ip.run_line_magic("config", f'NbmnistMagics.backend = "{other_backend()}"')
    # %config logs the error as one line (it does not raise)
    assert [r.getMessage() for r in caplog.records if "restart the kernel" in r.getMessage()]
    magics = shell.ip.magics_manager.registry["NbmnistMagics"]
    assert magics.backend is None  # the refused value was not kept
    shell.ip.run_line_magic("config", f'NbmnistMagics.backend = "{this_backend()}"')
    assert magics.backend == this_backend()
    shell.ip.run_line_magic("config", "NbmnistMagics.backend = None")


@pytest.mark.same_on_every_backend  # its subprocess runs JAX whatever this one runs
def test_a_notebook_chooses_jax_before_the_first_cell_and_tensorflow_never_loads(
    tmp_path: Path,
) -> None:
    """The backend set with %config is the one trained on; with JAX, TensorFlow (installed
    here) is never imported: not for seeding, saving, loading or evaluating; and JAX's
    compiled programs land in the persistent cache."""
    result = run_python(
        f"""
        import sys
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        ip.run_line_magic("load_ext", "nbmnist")
        ip.run_line_magic("config", 'NbmnistMagics.backend = "jax"')
        ip.run_cell_magic("mlp", "tiny --epochs 1 --seed 1 --no-live", "{TINY_MLP}")
        run = ip.user_ns["tiny"]
        import nbmnist
        again = nbmnist.load_runs()[0]
        assert again.model.count_params() == run.num_params
        from nbmnist.backend.jax import jax_cache_dir
        print("backend", run.execution["backend"], run.environment["backend"])
        print("grouping", run.execution["grouping"], run.execution["data_on_device"])
        print("tensorflow loaded", "tensorflow" in sys.modules)
        print("cached programs", len(list(jax_cache_dir().rglob("*"))) > 0)
        import os
        print("xla flags", os.environ["XLA_FLAGS"])
        """,
        NBMNIST_RUNS=str(tmp_path / "runs"),
        KERAS_HOME=str(tmp_path / "keras"),
        XLA_FLAGS="--xla_gpu_autotune_level=4",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "backend jax jax" in out and "grouping lax.scan True" in out
    assert "on CPU" in out and "with jax" in out  # the header names device and backend
    assert "tensorflow loaded False" in out
    assert "cached programs True" in out
    assert "xla flags --xla_gpu_autotune_level=4 --xla_gpu_enable_triton_gemm=false" in out


def test_xla_flags_add_ours_and_keep_the_users() -> None:
    assert backend_jax.xla_flags("") == "--xla_gpu_enable_triton_gemm=false"
    mine = "--xla_gpu_enable_triton_gemm=true --xla_gpu_autotune_level=2"
    assert backend_jax.xla_flags(mine) == mine
    assert backend_jax.xla_flags("xla_gpu_enable_triton_gemm") == "xla_gpu_enable_triton_gemm"


def test_a_model_saved_under_one_backend_reloads_under_the_other(tmp_path: Path) -> None:
    import nbmnist
    from nbmnist.display.console import ConsoleDisplay
    from nbmnist.training import prepare_arrays

    run = nbmnist.train(
        "conv 4 3x3 relu | bn | maxpool 2\nflatten\ndense 16 relu | dropout 0.2",
        "cnn",
        "portable",
        display=ConsoleDisplay(open(os.devnull, "w")),  # noqa: SIM115
        epochs=1,
        train_size=500,
        runs_dir=str(tmp_path),
    )
    _, _, x_test, _ = prepare_arrays(nbmnist.load_dataset("mnist", warn=False), "cnn")
    images = x_test[:64]
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", np.asarray(run.model.predict(images, verbose=0)))
    result = run_python(
        f"""
        import numpy as np, nbmnist, keras
        run = nbmnist.load_runs({str(tmp_path)!r})[0]
        images = np.load({str(tmp_path / "images.npy")!r})
        probabilities = np.asarray(run.model.predict(images, verbose=0))
        np.save({str(tmp_path / "reloaded.npy")!r}, probabilities)
        print(keras.backend.backend())
        """,
        KERAS_BACKEND=other_backend(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == other_backend()
    expected = np.load(tmp_path / "expected.npy")
    assert np.load(tmp_path / "reloaded.npy") == pytest.approx(expected, abs=1e-5)


# --- how a run trains on this backend and device --------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "declaration", "batch_size", "epoch", "requested", "expected"),
    [
        ("tensorflow", "cpu", SEED_MLP, 128, 391, None, (32, "keras")),
        ("jax", "cpu", SEED_MLP, 128, 391, None, (32, "lax.scan")),
        ("tensorflow", "cpu", KERAS_EXAMPLE, 128, 391, None, (2, "keras")),
        ("jax", "cpu", KERAS_EXAMPLE, 8, 391, None, (32, "keras")),  # no convolutions in scan
        ("jax", "gpu", SEED_MLP, 128, 391, None, (391, "lax.scan")),  # an epoch per call
        ("jax", "gpu", SEED_MLP, 128, -391, None, (390, "lax.scan")),  # partial batch alone
        ("tensorflow", "gpu", SEED_MLP, 128, -391, None, (391, "keras")),
        ("jax", "gpu", KERAS_EXAMPLE, 128, 391, None, (86, "lax.scan")),  # ~0.2 s a call
        ("tensorflow", "tpu", SEED_MLP, 128, 469, None, (469, "keras")),
        ("jax", "cpu", SEED_MLP, 128, 391, 7, (7, "lax.scan")),  # as asked
        ("jax", "cpu", SEED_MLP, 128, 5, 7, (5, "lax.scan")),  # never past one epoch
        ("tensorflow", "cpu", SEED_MLP, 60000, 1, None, (1, "none")),
        ("torch", "gpu", SEED_MLP, 128, 391, None, (1, "none")),
        ("torch", "cpu", SEED_MLP, 128, 391, 8, (1, "none")),
    ],
)  # fmt: skip
def test_steps_per_execution_per_backend_and_device(
    name: str,
    kind: backend.DeviceKind,
    declaration: object,
    batch_size: int,
    epoch: int,
    requested: int | None,
    expected: tuple[int, str],
) -> None:
    steps, reason, grouping = choose_steps_per_execution(
        name,
        kind,
        declaration,
        batch_size,
        abs(epoch),  # negative: the epoch's last batch is partial
        requested,  # type: ignore[arg-type]
        partial_last_batch=epoch < 0,
    )
    assert (steps, grouping) == expected
    if name == "torch":
        assert "PyTorch backend runs one batch per call" in reason
        assert ("not applied" in reason) == (requested not in (None, 1))
    elif requested is not None:
        assert reason.startswith("as asked")


@pytest.mark.parametrize(
    ("name", "epochs", "requested", "expected"),
    [
        ("tensorflow", 2, None, (1, "none")),  # 32 steps: the loop's trace costs more
        ("tensorflow", 3, None, (16, "keras")),  # 48 steps
        ("tensorflow", None, None, (16, "keras")),  # epochs not known
        ("tensorflow", 2, 4, (4, "keras")),  # as asked
        ("jax", 2, None, (16, "lax.scan")),  # a scan adds no trace of its own
    ],
)
def test_a_short_run_on_tensorflow_is_not_grouped(
    name: str, epochs: int | None, requested: int | None, expected: tuple[int, str]
) -> None:
    steps, reason, grouping = choose_steps_per_execution(
        name, "cpu", SEED_MLP, 128, 16, requested, epochs=epochs
    )
    assert (steps, grouping) == expected
    assert ("32 steps in all" in reason) == (expected == (1, "none"))


@pytest.mark.parametrize(
    ("kind", "asked", "policy"),
    [
        ("gpu", True, "mixed_float16"),
        ("tpu", True, "mixed_bfloat16"),
        ("cpu", True, "float32"),
        ("gpu", False, "float32"),
    ],
)
def test_mixed_precision_as_each_device_wants_it(kind: str, asked: bool, policy: str) -> None:
    chosen, reason = precision_policy(asked, Device(kind, "x"))  # type: ignore[arg-type]
    assert chosen == policy
    assert ("ignored" in reason) == (asked and kind == "cpu")


def test_this_backend_trains_with_the_recorded_settings() -> None:
    import nbmnist
    from nbmnist.display.console import ConsoleDisplay

    run = nbmnist.train(
        TINY_MLP,
        display=ConsoleDisplay(open(os.devnull, "w")),  # noqa: SIM115
        epochs=1,
        jit_compile=False,
        steps_per_execution=4,
    )
    execution = run.execution
    assert execution["backend"] == this_backend() == run.environment["backend"]
    assert execution["device"] == run.environment["device"] == str(backend.device())
    assert execution["jit_compile"] is False  # as asked
    grouped = {"jax": (4, "lax.scan"), "tensorflow": (4, "keras"), "torch": (1, "none")}
    steps, grouping = grouped[this_backend()]
    assert execution["steps_per_execution"] == run.plan["steps_per_execution"] == steps
    assert execution["grouping"] == grouping
    assert execution["data_on_device"] == (this_backend() == "jax")  # torch: on a GPU only
    assert int(run.model.optimizer.iterations.numpy()) == 40  # 5,000 fitted / 128: none lost


def test_the_training_step_is_traced_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras traces (compiles) its training step once for batches of one shape: on
    TensorFlow a step that created the optimizer's variables was traced twice, until
    ``build_training_state`` created them before fit."""
    import keras

    import nbmnist
    from nbmnist.display.console import ConsoleDisplay

    if this_backend() == "torch":
        pytest.skip("PyTorch runs the training step eagerly, once a batch: nothing is traced")
    traces = 0
    keras_train_step = keras.Sequential.train_step

    def counted(self: Any, *args: Any) -> Any:  # runs once per trace, not per batch
        nonlocal traces
        traces += 1
        return keras_train_step(self, *args)

    monkeypatch.setattr(keras.Sequential, "train_step", counted)
    run = nbmnist.train(
        "dense 27 relu",  # a model no other test trains (JAX's cache holds no program of it)
        display=ConsoleDisplay(open(os.devnull, "w")),  # noqa: SIM115
        epochs=2,
        train_size=4096,  # 32 batches of 128: one shape
        validation="none",
    )
    assert run.status == "completed"
    assert run.model.optimizer.built
    assert int(run.model.optimizer.iterations.numpy()) == 64
    assert traces == 1, f"the training step was traced {traces} times"


@contextlib.contextmanager
def jax_compilations() -> Iterator[list[str]]:
    """The names of the programs JAX compiles inside the block, in order (none elsewhere)."""
    compiled: list[str] = []
    if this_backend() != "jax":
        yield compiled
        return
    import jax

    def listen(event: str, seconds: float, **info: Any) -> None:
        if event.endswith("backend_compile_duration"):
            compiled.append(info.get("fun_name", ""))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield compiled
    finally:
        jax.monitoring.clear_event_listeners()


def test_weights_are_keras_draws_initialized_one_program_per_layer() -> None:
    """On JAX on a CPU a model's weights are filled by one compiled program per layer, not
    one per initializer and shape, with Keras' own draws; elsewhere nothing changes."""
    from unittest import mock

    import keras
    from keras.src.backend.common import global_state

    from nbmnist.model import build_model

    def build(text: str, seed: int, together: bool = True) -> Any:
        keras.utils.set_random_seed(seed)
        plain = mock.patch("nbmnist.model.weights_initialized_per_layer", contextlib.nullcontext)
        with contextlib.nullcontext() if together else plain:
            return build_model(text, "mlp")

    text = "37 23 relu he_normal bn dropout=0.5"  # shapes no other test builds
    ours, keras_own = build(text, 5), build(text, 5, together=False)
    layout = [[(v.name, v.shape) for v in model.variables] for model in (ours, keras_own)]
    assert layout[0] == layout[1]
    for mine, theirs in zip(ours.variables, keras_own.variables, strict=True):
        # the same draws; XLA at -O0 may round a uniform one's last bit otherwise (1.5e-8)
        np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-6, atol=1e-7)
    assert 0.045 < np.asarray(ours.layers[0].kernel).std() < 0.056  # He: sqrt(2 / 784) = 0.0505

    with jax_compilations() as compiled:
        first = build("41 relu glorot_normal bn", 6)  # layers no other test builds
        programs = list(compiled)
        second = build("41 relu glorot_normal bn dropout=0.3", 7)  # the same weighted layers
        again = list(compiled)
        first.compile(optimizer="adam", loss="categorical_crossentropy")
        backend.build_training_state(first, np.zeros((1, 784)), np.eye(10)[:1])
        optimizer = list(compiled[len(again) :])
        with mock.patch.dict(backend_jax.JAX_INITIALIZER_OPTIONS, clear=True):  # as on a GPU
            build("43 relu glorot_normal", 8)
    if this_backend() == "jax":
        # the two kernels, a program each; biases and batch normalization's four vectors are
        # zeros and ones, copied from NumPy
        assert programs == ["jit(fill)"] * 2, programs
        assert again == programs, again  # the same layers: nothing compiled again
        # Adam's zero slots: copied from NumPy too (Keras': a jit(broadcast_in_dim) per shape)
        assert not {"jit(broadcast_in_dim)", "jit(fill)"} & set(optimizer), optimizer
        keras_programs = compiled[len(again) :]  # per initializer and shape, as Keras does
        assert "jit(_truncated_normal)" in keras_programs and "jit(fill)" not in keras_programs
    assert first.optimizer.built and int(first.optimizer.iterations) == 0
    slots = [v for v in first.optimizer.variables if v.path.endswith(("momentum", "velocity"))]
    assert len(slots) == 2 * len(first.trainable_variables)
    assert all(not np.asarray(v).any() for v in slots)  # zeros
    gamma = next(v for v in first.variables if v.path.endswith("gamma"))
    np.testing.assert_array_equal(np.asarray(gamma), np.ones(41, np.float32))
    kernels = [np.asarray(model.layers[0].kernel) for model in (first, second)]
    assert not np.allclose(*kernels)  # other seeds, other draws through the same program

    def pending() -> list[Any]:  # Keras' list of variables still to initialize
        return list(global_state.get_global_attribute("uninitialized_variables") or [])

    before = pending()
    with pytest.raises(ZeroDivisionError), backend.weights_initialized_per_layer():
        keras.layers.Dense(3).build((None, 4))
        1 / 0  # noqa: B018
    assert pending() == before  # an error inside leaves none of its variables behind


def test_a_saved_model_loads_as_keras_loads_it_without_running_initializers(
    tmp_path: Path,
) -> None:
    """``backend.load_model`` gives what ``keras.saving.load_model`` gives: the weights, the
    compile settings and the optimizer's state; on JAX it compiles no initializer for it."""
    import keras

    from nbmnist.model import build_model

    model = build_model("29 relu bn dropout=0.2 | 13 relu", "mlp")  # shapes no other test loads
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 784), dtype=np.float32), rng.integers(0, 10, 96)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(tmp_path / "model.keras")

    with jax_compilations() as compiled:
        ours = backend.load_model(tmp_path / "model.keras")
        programs = list(compiled)
        keras_own = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    for mine, theirs in zip(ours.weights, keras_own.weights, strict=True):  # not seed states
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    for mine, theirs in zip(ours.optimizer.variables, keras_own.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    assert int(ours.optimizer.iterations) == 3 and len(ours.optimizer.variables) > 3
    assert ours.get_compile_config() == keras_own.get_compile_config()
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(keras_own.evaluate(x, y, verbose=0))
    if this_backend() == "jax":
        initializers = {"jit(_uniform)", "jit(_normal)", "jit(_truncated_normal)", "jit(fill)"}
        assert not initializers & set(programs), programs
        assert "jit(_uniform)" in compiled[len(programs) :]  # Keras' own load runs them
        earlier = keras.Variable(np.zeros(3))
        refused = pytest.raises(RuntimeError, match="created before")
        with refused, backend.weights_initialized_per_layer():
            earlier.assign(np.ones(3))  # would be lost inside Keras' stateless scope


def test_batch_sizes_name_each_distinct_shape() -> None:
    assert backend.batch_sizes([10_000, 10_000], 1000) == [1000]
    assert backend.batch_sizes([1000, 450], 1000) == [1000, 450]
    assert backend.batch_sizes([2500], 1000) == [1000, 500]


def test_later_programs_compile_beside_the_first_on_jax() -> None:
    """On JAX the last, partial training call and the evaluation steps compile on a thread of
    their own while fit compiles its first training step, and Keras' own calls then find
    them compiled; elsewhere nothing is added."""
    import threading

    import nbmnist
    from nbmnist.display.console import ConsoleDisplay

    if this_backend() != "jax":
        model = nbmnist.build_model(parse_declaration(TINY_MLP, "mlp").with_head())
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        x = np.zeros((4, 784))
        assert backend.compile_ahead(model, x, x, train_sizes=[3], evaluation_sizes=[4]) is None
        return
    import jax

    # (thread, program, whether it came from JAX's persistent cache); a cache hit is
    # reported just before the program's compile duration, on the same thread
    compiles: list[tuple[str, str, bool]] = []
    hits: set[str] = set()

    def hit(event: str, **info: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            hits.add(threading.current_thread().name)

    def listen(event: str, seconds: float, **info: Any) -> None:
        thread = threading.current_thread().name
        if event.endswith("backend_compile_duration"):
            name, from_cache = info.get("fun_name", ""), thread in hits
            hits.discard(thread)
            if name.endswith("_step)"):
                compiles.append((thread, name, from_cache))

    jax.monitoring.register_event_listener(hit)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        run = nbmnist.train(
            "dense 29 relu",  # a model no other test trains: none of its programs is cached
            display=ConsoleDisplay(open(os.devnull, "w")),  # noqa: SIM115
            epochs=2,
            train_size=3000,  # 2,550 fitted: 19 batches of 128 in one call, then 118 images
            validation_split=0.15,  # 450 images: a batch size of its own beside the test set's
        )
    finally:
        jax.monitoring.clear_event_listeners()
    assert run.status == "completed" and len(run.history["val_loss"]) == 2
    assert run.execution["steps_per_execution"] == 19
    assert int(run.model.optimizer.iterations.numpy()) == 40  # 20 batches an epoch: none lost
    ahead = sorted(name for thread, name, _ in compiles if thread == "nbmnist-compile-ahead")
    assert ahead == ["jit(test_step)", "jit(test_step)", "jit(train_step)"]
    main = [(name, cached) for thread, name, cached in compiles if thread == "MainThread"]
    # fit compiles its first training step; every later program it loads from the cache
    assert main[0] == ("jit(train_step)", False) and main[1:], main
    assert all(cached for _, cached in main[1:]), main


@pytest.mark.same_on_every_backend  # its subprocess runs JAX whatever this one runs
def test_keras_imported_before_nbmnist_still_gets_the_compilation_cache(tmp_path: Path) -> None:
    result = run_python(
        """
        import os
        import keras, jax
        from nbmnist.backend import import_keras
        from nbmnist.backend.jax import jax_cache_dir
        import_keras()
        print("cache", jax.config.jax_compilation_cache_dir == str(jax_cache_dir()))
        print("flags", os.environ["XLA_FLAGS"])
        """,
        KERAS_BACKEND="jax",
        KERAS_HOME=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cache True" in result.stdout
    assert "--xla_gpu_enable_triton_gemm=false" in result.stdout


def test_retracing_warnings_are_dropped_and_other_warnings_kept() -> None:
    import logging

    def passes(message: str) -> bool:
        record = logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, (), None)
        return backend_tensorflow.RetracingFilter().filter(record)

    assert not passes("5 out of the last 5 calls to <function f> triggered tf.function retracing.")
    assert passes("Gradients do not exist for variables ['dense/kernel'] when minimizing the loss.")
    if this_backend() == "tensorflow":
        import tensorflow as tf

        backend.import_keras()
        assert any(
            isinstance(f, backend_tensorflow.RetracingFilter) for f in tf.get_logger().filters
        )


def _private_names() -> list[PrivateName]:
    """Every name from Keras' internals some backend's module declares, once."""
    found: dict[str, PrivateName] = {}
    for name in backend.BACKENDS:
        for private in backend.module(name).PRIVATE_NAMES:
            found.setdefault(private.name, private)
    return list(found.values())


@pytest.mark.parametrize("private", _private_names(), ids=lambda private: private.name)
def test_a_run_trains_where_keras_lacks_a_private_name(
    private: PrivateName, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a Keras release moves a name nbmnist takes from its internals, the run trains
    the public way, reloads, and records the fallback (only where this backend uses it)."""
    import nbmnist
    from nbmnist.backend import common
    from nbmnist.display.console import ConsoleDisplay

    used = private in backend.current().PRIVATE_NAMES
    assert private.exists() or not used, "this Keras lacks it already: the fallback runs"
    lookup = PrivateName._lookup
    monkeypatch.setattr(
        PrivateName,
        "_lookup",
        lambda self: common._MISSING if self == private else lookup(self),
    )
    quiet = ConsoleDisplay(open(os.devnull, "w"))  # noqa: SIM115
    run = nbmnist.train(TINY_MLP, display=quiet, epochs=1, seed=3)
    assert run.status == "completed" and run.test_accuracy is not None
    recorded = [line for line in run.execution["fallbacks"] if line.startswith(private.name)]
    assert len(recorded) == used, run.execution["fallbacks"]
    run._model = None  # reload from the file, through the fallback too
    assert run.model.count_params() == run.num_params


def test_keras_internals_are_reached_only_through_their_private_names() -> None:
    """No ``keras.src`` import and no attribute of a declared private name outside the
    ``PrivateName`` that declares it (so the fallback test above covers every use)."""
    import ast

    attributes = {private.attribute.split(".")[-1] for private in _private_names()}
    uses = []
    for path in (REPO / "nbmnist").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            module = ""
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
            elif isinstance(node, ast.Import):
                module = " ".join(alias.name for alias in node.names)
            if "keras.src" in module:
                uses.append(f"{path.name}:{node.lineno} imports {module}")
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                uses.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert uses == []


def test_every_backend_module_offers_the_interface() -> None:
    """A backend is one module: each offers every function of ``BackendModule`` with the
    protocol's parameters, its ``NAME`` and its ``PRIVATE_NAMES``, and importing it imports
    no framework."""
    import inspect

    from nbmnist.backend.interface import BackendModule

    wanted = {
        name: inspect.signature(member)
        for name, member in vars(BackendModule).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert {"grouping", "to_device", "load_model", "compile_ahead"} <= set(wanted)
    for name in backend.BACKENDS:
        served = backend.module(name)
        assert name == served.NAME
        assert all(isinstance(p, PrivateName) for p in served.PRIVATE_NAMES)
        for function, signature in wanted.items():
            offered = inspect.signature(getattr(served, function))
            expected = [p for p in signature.parameters if p != "self"]
            names = list(offered.parameters)
            if any(p.kind is p.VAR_KEYWORD for p in offered.parameters.values()):
                expected = expected[: len(names) - 1]  # keywords taken as **sizes
                names = names[:-1]
            assert names == expected, (name, function)
    assert callable(backend.device)  # the function, not the submodule of that name
    imported = run_python(
        """
        import sys
        import nbmnist.backend.jax, nbmnist.backend.tensorflow, nbmnist.backend.torch
        print(sorted({"jax", "tensorflow", "torch", "keras"} & set(sys.modules)))
        """
    )
    assert imported.stdout.strip() == "[]", imported.stderr[-2000:]
