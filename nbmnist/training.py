"""Compile, fit and evaluate a declared model; the result is a recorded ``Run``.

Everything the user wrote is validated (options, then the declaration) before Keras and its
backend are imported or data is read, so a mistake costs milliseconds and never a
half-trained model. What depends on the backend and the device lives in ``nbmnist.backend``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nbmnist.backend import (
    Execution,
    batch_sizes,
    build_training_state,
    compile_ahead,
    environment,
    free_memory,
    group_batches,
    plan_execution,
    seed_everything,
    to_device,
)
from nbmnist.data import Dataset, data_shape, load_dataset
from nbmnist.declaration import Declaration, Kind
from nbmnist.declaration.spec import batch_shape
from nbmnist.declaration.vocabulary import MAX_LAYERS, MAX_LAYERS_REASON
from nbmnist.display import Display, Listeners, TrainingInfo, choose_display
from nbmnist.errors import DeclarationError, OptionError, TrainingInterrupted
from nbmnist.metric_log import MetricLog
from nbmnist.model import as_declaration, build_model, non_trainable_params, summary_text
from nbmnist.options import TrainingOptions, make_options, split_sizes
from nbmnist.plan import TrainingPlan
from nbmnist.runs import (
    Run,
    RunStore,
    Status,
    StoreWriter,
    now,
    record,
    release_models,
    session_names,
)

#: Batch size of validation and test evaluation: it divides the test set (10,000), the
#: default validation split (10,000 of 60,000) and the sample's (1,000), so one compiled
#: evaluation step serves them all; evaluation results do not depend on it.
EVALUATION_BATCH_SIZE = 1000


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_size(declaration: Declaration, opts: TrainingOptions) -> None:
    """Refuse, before anything is built, a model of more than ``MAX_LAYERS`` layers (the
    parser refuses more in the body; the output head may add one or two),
    or whose training needs more memory than ``opts.memory_limit_gb`` (default: this
    machine's physical memory), estimated by ``Declaration.training_bytes`` for one batch
    of ``opts.batch_size``.

    Raises:
        DeclarationError: one line naming the layer (the first one too many, or the one that
            needs the most memory) and the figures.
    """
    if len(declaration.layers) > MAX_LAYERS:
        raise DeclarationError(
            f"{len(declaration.layers):,} layers with the output head; {MAX_LAYERS_REASON}"
        )
    limit = physical_memory() if opts.memory_limit_gb is None else opts.memory_limit_gb * 1e9
    if limit is None:
        return
    need, worst = declaration.training_bytes(opts.batch_size)
    if need <= limit:
        return
    spec = declaration.layers[worst]
    params = declaration.parameter_counts()[worst]
    where = "the machine's memory" if opts.memory_limit_gb is None else "memory_limit_gb"
    raise DeclarationError(
        f"this model needs about {need / 1e9:,.1f} GB to train with batch_size "
        f"{opts.batch_size}, over {where} ({limit / 1e9:,.1f} GB); most of it for "
        f"'{spec.describe()}' ({params:,} parameters): make it smaller"
        + ("" if opts.memory_limit_gb is None else ", or raise memory_limit_gb"),
        line=spec.line or None,
        column=spec.column or None,
    )


def prepare_arrays(
    dataset: Dataset, kind: Kind, train_size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Model-ready arrays: pixels scaled to float32 in [0, 1], labels one-hot float32.

    The float32 copy is made once per dataset and kept (``Dataset._cache``); the per-kind
    shapes are views of it, so MLP and CNN cells share one copy.

    Returns:
        ``x_train`` (N, H*W*C) for ``mlp`` or (N, H, W, C) for ``cnn`` ((N, 784) and (N, 28,
        28, 1) for MNIST), ``y_train`` (N, classes), ``x_test`` and ``y_test`` likewise; N =
        ``train_size`` or all training images.
    """
    cache = dataset._cache
    if "x_train" not in cache:
        for split in ("train", "test"):
            x = np.asarray(getattr(dataset, f"x_{split}"), dtype=np.float32)
            if getattr(dataset, f"x_{split}").dtype == np.uint8:
                x /= np.float32(255)  # a copy already: asarray converted the uint8
            y = np.eye(dataset.num_classes, dtype=np.float32)[getattr(dataset, f"y_{split}")]
            cache[f"x_{split}"], cache[f"y_{split}"] = x, y
    shape = batch_shape(kind, dataset.image_shape)
    limit = slice(None, train_size)
    return (
        cache["x_train"][limit].reshape(shape),
        cache["y_train"][limit],
        cache["x_test"].reshape(shape),
        cache["y_test"],
    )


def check_callbacks(callbacks: Sequence[Any]) -> None:
    """Raise ``OptionError`` unless each of ``callbacks`` is a ``keras.callbacks.Callback``
    (Keras is imported only when there are some)."""
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise OptionError(
            f"callbacks must be a list of keras.callbacks.Callback, got {type(callbacks).__name__}"
        )
    if not callbacks:
        return
    from nbmnist.backend import import_keras

    keras = import_keras()
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise OptionError(
                f"callbacks: {callback!r} is not a keras.callbacks.Callback; pass instances, "
                "e.g. callbacks=[keras.callbacks.EarlyStopping(patience=2)]"
            )


def _run_name(name: str | None, kind: str, store: RunStore, overwrite: bool) -> str:
    """The run's name, its folder claimed in ``store`` (``RunStore.claim``) unless it will
    replace a run of that name (``overwrite``)."""
    store.check()
    if name is None:
        return store.claim_next(kind, session_names())
    if overwrite:
        store.folder(name)  # a name that cannot be a folder fails here, before training
        return name
    claimed = store.claim(name, session_names())
    if claimed != name:
        print(
            f"nbmnist: a run named {name!r} exists (in {store.root} or this session); "
            f"this one is {claimed!r}. Use --overwrite (overwrite=True) to replace it."
        )
    return claimed


@dataclass(frozen=True)
class TrainingData:
    """The arrays one run trains and is tested on, and where they came from.

    Attributes:
        dataset: the loaded dataset (``Dataset``).
        source: where the data came from, as the run records it.
        x_train: float32 in [0, 1], (N, 784) for ``mlp`` or (N, 28, 28, 1) for ``cnn`` on
            MNIST (``prepare_arrays``); a NumPy array, or the backend's array on its device
            (``backend.to_device``).
        y_train: one-hot float32, (N, classes).
        x_test, y_test: likewise for the test set.
        num_fitted: training images the optimizer sees (N less a validation split).
    """

    dataset: Dataset
    source: str
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    num_fitted: int

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches in one epoch (the last one may be partial)."""
        return -(-self.num_fitted // batch_size)


def training_data(plan: TrainingPlan) -> TrainingData:
    """Load and check the plan's dataset, and make the model-ready arrays (NumPy, on the
    host).

    Raises:
        DataError: a data file is missing or corrupt.
        OptionError: ``train_size`` exceeds the full dataset's training images.
    """
    opts = plan.options
    source = "sample" if opts.fast else opts.data_source
    dataset = load_dataset(opts.data, source=source, warn=False)
    source = dataset.source
    if opts.fast:
        source = source.replace(": requested", ": fast mode (NBMNIST_FAST)")
    train_size = plan.train_size
    if train_size is not None and train_size > len(dataset.y_train):
        if not (opts.fast or dataset.is_sample):
            raise OptionError(
                f"train_size {train_size:,} exceeds the {len(dataset.y_train):,} training "
                f"images of {dataset.title}"
            )
        train_size = None  # the sample is smaller than a full-data train_size: use it all
    kind = plan.declaration.kind
    x_train, y_train, x_test, y_test = prepare_arrays(dataset, kind, train_size)
    fitted = len(x_train)
    if opts.validation == "split":
        fitted, _ = split_sizes(fitted, opts.validation_split)
    return TrainingData(dataset, source, x_train, y_train, x_test, y_test, fitted)


def on_device(data: TrainingData, kind: Kind) -> TrainingData:
    """``data`` with its arrays on the backend's device, put there once per dataset and kind
    (``backend.to_device``; unchanged with TensorFlow): Keras then slices each batch where
    the data already is instead of copying it from host memory."""
    cache = data.dataset._cache

    def put(name: str, rows: int) -> Any:
        shape = batch_shape(kind, data.dataset.image_shape)
        full = cache[name].reshape(shape) if name[0] == "x" else cache[name]
        moved = to_device(full, cache, (name, kind))
        return moved if rows == len(full) else moved[:rows]

    return dataclasses.replace(
        data,
        x_train=put("x_train", len(data.y_train)),
        y_train=put("y_train", len(data.y_train)),
        x_test=put("x_test", len(data.y_test)),
        y_test=put("y_test", len(data.y_test)),
    )


def compiled_model(plan: TrainingPlan, data: TrainingData) -> tuple[Any, Execution]:
    """Build and compile the plan's model as this backend and device train it best, for
    ``data``.

    Returns:
        The compiled ``keras.Sequential`` and the ``Execution`` it trains with
        (``jit_compile`` resolved to what Keras chose).
    """
    opts = plan.options
    steps_per_epoch = data.steps_per_epoch(plan.batch_size)
    execution = plan_execution(
        plan.declaration,
        plan.batch_size,
        steps_per_epoch,
        steps_per_execution=opts.steps_per_execution,
        mixed_precision=opts.mixed_precision,
        jit_compile=opts.jit_compile,
        partial_last_batch=data.num_fitted % plan.batch_size != 0,
        epochs=plan.epochs,
    )
    if opts.mixed_precision and execution.precision == "float32":
        print("nbmnist: --mixed-precision ignored: no GPU or TPU here, training in float32")
    if opts.seed is not None:
        seed_everything(opts.seed)
    model = build_model(
        plan.declaration, num_classes=plan.num_classes, mixed_precision=execution.precision
    )
    model.compile(
        optimizer=plan.keras_optimizer(plan.total_steps(data.num_fitted)),
        loss=plan.keras_loss(),
        metrics=["accuracy"],
        steps_per_execution=execution.keras_steps_per_execution,
        jit_compile=execution.jit_compile,
    )
    group_batches(model, execution, plan.batch_size)
    build_training_state(model, data.x_train, data.y_train)
    return model, dataclasses.replace(execution, jit_compile=bool(model.jit_compile))


def new_run(
    name: str, plan: TrainingPlan, data: TrainingData, model: Any, execution: Execution
) -> Run:
    """The record of a run about to train (``status="running"``, no epochs yet): the options
    as asked (``run.options``) and what runs (``run.plan``)."""
    declaration = plan.declaration
    return Run(
        name=name,
        kind=declaration.kind,
        declaration=declaration.text,
        variables=dict(declaration.variables),
        options=dataclasses.asdict(plan.options),
        plan={
            **plan.record(),
            "steps_per_execution": execution.steps_per_execution,
            "held_out": len(data.y_train) - data.num_fitted,  # validation images of a split
        },
        identity=plan.identity(sample=data.dataset.is_sample),
        history={},
        test_loss=None,
        test_accuracy=None,
        num_params=int(model.count_params()),
        wall_time_s=0.0,
        data_source=data.source,
        status="running",
        uses_sample=data.dataset.is_sample,
        architecture=declaration.architecture,
        uses_batchnorm=declaration.uses_batchnorm,
        dropout_rates=declaration.dropout_rates,
        head_appended=declaration.head_appended,
        num_non_trainable_params=non_trainable_params(model),
        created=now(),
        environment=environment(),
        execution=execution.record(),
    )


def fit(
    model: Any,
    run: Run,
    data: TrainingData,
    plan: TrainingPlan,
    execution: Execution,
    display: Listeners,
    summary: str = "",
    extra_callbacks: Sequence[Any] = (),
) -> Status:
    """Train ``model`` for the run's epochs, telling ``display`` after each one; the user's
    ``extra_callbacks`` run after nbmnist's.

    ``run.history`` and ``run.epoch_seconds`` fill in as epochs complete. Ctrl-C stops after
    the current group of batches; the run then keeps its completed epochs. With early
    stopping or ``restore_best`` (``plan.keras_callbacks``), ``run.stopped_epoch`` and
    ``run.kept_epoch`` say where training stopped and whose weights the model ends with.

    Returns:
        ``"completed"``, ``"interrupted"`` or ``"diverged"``.
    """
    from nbmnist.callbacks import Interrupt, TrainingCallback
    from nbmnist.inside import InsideRecorder, probe_batch

    opts = plan.options
    log = MetricLog(run.history, run.epoch_seconds)
    interrupt = Interrupt()
    if opts.validation == "split":
        held_out = (data.x_train[data.num_fitted :], data.y_train[data.num_fitted :])
    elif opts.validation == "test":
        held_out = (data.x_test, data.y_test)
    else:  # nothing held out: the first training images
        held_out = (data.x_train, data.y_train)
    inside = InsideRecorder(
        *probe_batch(*held_out),
        activations=run.activation_quantiles,
        dead=run.dead_units,
        gradients=run.gradient_norms,
    )
    callback = TrainingCallback(
        log,
        display,
        interrupt,
        batches_per_step=execution.batches_per_keras_step,
        batches_per_epoch=data.steps_per_epoch(opts.batch_size),
        weights=run.weight_quantiles,
        inside=inside,
    )
    display.run_started(
        TrainingInfo(
            name=run.name,
            kind=run.kind,
            num_params=run.num_params,
            epochs=plan.epochs,
            data_title=data.dataset.title,
            data_source=data.source,
            is_sample=data.dataset.is_sample,
            device=execution.device,
            summary=summary,
            num_train=len(data.y_train),
            validation=opts.validation,
            backend=execution.backend,
            precision=execution.precision,
            batch_progress=callback.batch_progress,
        )
    )
    validation: dict[str, Any] = {}
    evaluated = [len(data.y_test)]  # the test set: each epoch (validation "test") or after
    if opts.validation == "split":
        validation["validation_split"] = opts.validation_split
        evaluated.append(len(data.y_train) - data.num_fitted)
    elif opts.validation == "test":
        validation["validation_data"] = (data.x_test, data.y_test)
    callbacks = [callback]
    group = execution.fit_batch_size(opts.batch_size)
    ahead = compile_ahead(
        model,
        data.x_test,
        data.y_test,
        train_sizes=batch_sizes([data.num_fitted], group)[1:],  # the first: fit's own
        evaluation_sizes=batch_sizes(evaluated, EVALUATION_BATCH_SIZE),
        batches_per_epoch=-(-data.num_fitted // group),
        steps_per_call=execution.keras_steps_per_execution,
    )
    if ahead is not None:
        callbacks.append(ahead)
    watchers = plan.keras_callbacks()  # early stopping, restoring the best epoch's weights
    callbacks.extend(watchers)
    callbacks.extend(extra_callbacks)
    status: Status = "completed"
    ended = False  # fit returned: its callbacks' on_train_end ran
    try:
        with interrupt.watch(model):
            model.fit(
                data.x_train,
                data.y_train,
                batch_size=execution.fit_batch_size(opts.batch_size),
                validation_batch_size=EVALUATION_BATCH_SIZE,
                epochs=plan.epochs,
                verbose=0,
                callbacks=callbacks,
                **validation,
            )
        ended = True
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException:
        display.close()  # stop any progress thread, then re-raise
        raise
    if interrupt.requested:
        status = "interrupted"
    if log.diverged():
        status = "diverged"
    for stopper in watchers:
        if stopper.stopped_epoch > 0 and log.epochs < plan.epochs:
            run.stopped_epoch = stopper.stopped_epoch + 1
        if ended and opts.restore_best and stopper.best_weights is not None:
            run.kept_epoch = stopper.best_epoch + 1  # Keras restored them in on_train_end
    return status


def final_scores(
    model: Any, data: TrainingData, history: Mapping[str, list[float]], validation: str
) -> tuple[float, float]:
    """(test loss, test accuracy in [0, 1]) of a model that completed its epochs: the last
    epoch's ``val_loss`` and ``val_accuracy`` when it validated on the test set (the same
    weights, images and batch size: evaluating again would only repeat that pass), else
    ``evaluate``."""
    if validation == "test" and history.get("val_loss") and history.get("val_accuracy"):
        return history["val_loss"][-1], history["val_accuracy"][-1]
    return evaluate(model, data)


def evaluate(model: Any, data: TrainingData) -> tuple[float, float]:
    """(test loss, test accuracy in [0, 1]) of ``model`` on the test set."""
    scores = model.evaluate(
        data.x_test, data.y_test, batch_size=EVALUATION_BATCH_SIZE, verbose=0, return_dict=True
    )
    return float(scores["loss"]), float(scores["accuracy"])


def train(
    text: str | Declaration,
    kind: Kind = "mlp",
    name: str | None = None,
    *,
    variables: Mapping[str, object] | None = None,
    display: Display | None = None,
    show_summary: bool = True,
    models_in_cell: int = 1,
    callbacks: Sequence[Any] = (),
    **options: Any,
) -> Run:
    """Build, train and evaluate the model a declaration describes; record and return the run.

    The run is saved in the run store (``runs_dir``, ``$NBMNIST_RUNS`` or ``./nbmnist-runs``)
    from its first epoch on, and its model as ``model.keras`` at the end. It trains on the
    active Keras backend (``nbmnist.backend``); how (precision, XLA, batches per call, data
    on the device) is chosen per backend and device and recorded in ``run.execution``.

    Args:
        text: a cell body (or a parsed ``Declaration``).
        kind: ``"mlp"`` or ``"cnn"``.
        name: the run's name; default ``mlp_1``, ``cnn_1``, ... (first unused). A name the
            store or session already has gets ``_2``, ``_3``... unless ``overwrite=True``.
        variables: values for ``{name}`` placeholders in ``text`` (see ``parse_declaration``).
        display: where progress goes; default the live dashboard in a notebook (``live``),
            else one text line per epoch on stdout.
        show_summary: print the layer-by-layer model summary first (a sweep prints it once).
        models_in_cell: how many models the cell trains (a sweep's points): in fast mode
            they share its budget (``options.fast_limits``).
        callbacks: more Keras callbacks (``keras.callbacks.Callback`` instances) for
            ``fit``, after nbmnist's own (a ``keras.callbacks.EarlyStopping`` ends the run
            early: it is then recorded with the epochs it trained).
        **options: ``TrainingOptions`` fields: ``data``, ``epochs``, ``batch_size``,
            ``optimizer``, ``learning_rate``, ``loss``, ``validation``, ``validation_split``,
            ``train_size``, ``seed``, ``live``, ``fast``, ``runs_dir``, ``overwrite``,
            ``mixed_precision``, ``lr_schedule``, ``steps_per_execution``, ``jit_compile``,
            ``memory_limit_gb``, ``early_stopping``, ``monitor``, ``restore_best``.

    Returns:
        The recorded ``Run`` (also in ``nbmnist.runs()``).

    Raises:
        OptionError: an option is unknown or out of range, or a callback is not a Keras
            callback (before anything is built).
        DeclarationError: the declaration is invalid (before anything is built).
        DataError: the data files are corrupt.
        BackendError: the Keras backend is unknown or not installed.
        TrainingInterrupted: a ``KeyboardInterrupt`` raised after recording the run as
            ``interrupted`` (its ``result``: the run, with its completed epochs).
    """
    opts = make_options(**options)
    check_callbacks(callbacks)
    image_shape = data_shape(opts.data)[0]
    declaration = as_declaration(text, kind, variables, image_shape)
    plan = TrainingPlan.of(declaration, opts, models_in_cell)
    check_size(plan.declaration, opts)
    store = RunStore.default(opts.runs_dir)
    run_name = _run_name(name, plan.declaration.kind, store, opts.overwrite)
    try:
        data = training_data(plan)
        declaration = plan.declaration
        model, execution = compiled_model(plan, data)
        if execution.data_on_device:
            data = on_device(data, declaration.kind)
        run = new_run(run_name, plan, data, model, execution)
        staged = None
        if opts.overwrite and store.holds_completed(run_name):
            staged = store.staging(run_name)
        elif opts.overwrite:
            store.remove(run_name)
        display = Listeners(
            display or choose_display(opts.live), StoreWriter(store, run, model, staged)
        )
        summary = summary_text(declaration, model) if show_summary else ""
        started = time.perf_counter()
        status = fit(model, run, data, plan, execution, display, summary, callbacks)
        run.caveats = plan.caveats(run.epochs * data.steps_per_epoch(plan.batch_size))
        if status == "completed" and (callbacks or run.kept_epoch):  # weights changed after
            run.test_loss, run.test_accuracy = evaluate(model, data)  # the last epoch's pass
        elif status == "completed":
            run.test_loss, run.test_accuracy = final_scores(
                model, data, run.history, opts.validation
            )
        run.status = status
        run.wall_time_s = time.perf_counter() - started
        run.model = model
        store.save_model(run, model, staged)
        display.run_finished(run)  # the store's final write included
        if staged is not None:
            store.settle(run_name, staged, run)
        record(run)
        if release_models(keep=run):
            free_memory()
        if status == "interrupted":
            raise TrainingInterrupted(run)
        return run
    except BaseException:
        store.release(run_name)  # the claimed folder, if this run wrote nothing into it
        raise
