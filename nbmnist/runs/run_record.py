"""The record of one training run (``Run``) and its schema on disk (``RunRecord``).

``run.json`` holds ``RunRecord``: the declaration, options, environment, per-epoch history,
final metrics, status, wall time, who writes it. Reading a record validates it against that
schema with pydantic (strict: no text taken for a number, no ``true`` for an integer) and
names the first field that is wrong, in one line. Nothing is pickled: the record is JSON and
the model is Keras' own format, loaded with ``safe_mode=True`` on first access.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired

from typing_extensions import TypedDict

from nbmnist.errors import RunStoreError
from nbmnist.metric_log import MetricLog
from nbmnist.runs.liveness import Writer

if TYPE_CHECKING:
    import pydantic

Status = Literal["running", "completed", "interrupted", "diverged", "killed"]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
SCHEMA_VERSION = 1
#: The files of a run's folder: its record and its model.
RECORD = "run.json"
MODEL = "model.keras"
#: JSON numbers (``null``: a NaN or infinite value, which JSON cannot hold).
Number = float
OptionalNumber = float | None


class RunRecord(TypedDict):
    """``run.json``: what a run's folder records, as JSON types (see ``Run`` for each field's
    meaning). Fields marked ``NotRequired`` were added after the first records were written."""

    schema: int
    name: str
    kind: str
    declaration: str
    variables: NotRequired[dict[str, Any]]
    options: dict[str, Any]
    history: dict[str, list[OptionalNumber]]
    test_loss: OptionalNumber
    test_accuracy: OptionalNumber
    num_params: int
    wall_time_s: OptionalNumber
    data_source: str
    status: Status
    uses_sample: NotRequired[bool]
    architecture: NotRequired[str]
    uses_batchnorm: NotRequired[bool]
    dropout_rates: NotRequired[list[Number]]
    head_appended: NotRequired[bool]
    num_non_trainable_params: NotRequired[int]
    epoch_seconds: NotRequired[list[Number]]
    created: NotRequired[str]
    environment: NotRequired[dict[str, Any]]
    execution: NotRequired[dict[str, Any]]
    model_epoch: NotRequired[int | None]
    stopped_epoch: NotRequired[int | None]
    kept_epoch: NotRequired[int | None]
    writer: NotRequired[dict[str, Any]]
    plan: NotRequired[dict[str, Any]]
    identity: NotRequired[dict[str, Any]]
    caveats: NotRequired[list[Any]]
    weight_quantiles: NotRequired[dict[str, Any]]
    activation_quantiles: NotRequired[dict[str, Any]]
    dead_units: NotRequired[dict[str, Any]]
    gradient_norms: NotRequired[dict[str, Any]]
    model_path: NotRequired[str | None]


#: The fields of ``run.json`` besides ``schema``, in the order they are written.
RECORD_FIELDS = tuple(name for name in RunRecord.__annotations__ if name != "schema")
#: What a pydantic error type expects, in the words of the one-line error.
_EXPECTED = {
    "dict_type": "an object",
    "list_type": "a list",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
}


@functools.cache
def _validator() -> pydantic.TypeAdapter[RunRecord]:
    """Built on first use: loading nbmnist stays free of pydantic."""
    import pydantic

    class Strict(RunRecord):
        __pydantic_config__ = pydantic.ConfigDict(strict=True)  # type: ignore[misc]

    return pydantic.TypeAdapter(Strict)


def check_record(record: dict[str, Any], path: Path) -> None:
    """Raise ``RunStoreError`` naming the first field of ``record`` that breaks ``RunRecord``,
    e.g. ``run.json: 'num_params' is str, expected an integer``.

    Raises:
        RunStoreError: a field missing, of the wrong JSON type (a history series, a list
            holding something else than numbers), or an unknown status.
    """
    import pydantic

    try:
        _validator().validate_python(record)
    except pydantic.ValidationError as err:
        raise RunStoreError(f"{path}: {_problem(err.errors()[0])}") from None


def _problem(error: Any) -> str:
    """One pydantic error as a phrase: ``'history'['loss'] is str, expected a list``."""
    first, *rest = error["loc"]
    where = repr(first) + "".join(f"[{part!r}]" for part in rest)
    if error["type"] == "missing":
        return f"the record has no {where}"
    found = error["input"]
    found_type = "null" if found is None else type(found).__name__
    if error["type"] == "literal_error":
        return f"{where} is {found!r}, expected one of {error['ctx']['expected']}"
    expected = _EXPECTED.get(error["type"], error["msg"])
    return f"{where} is {found_type}, expected {expected}"


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float made None (JSON has no NaN), tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass
class Run:
    """One trained model and everything needed to report on it.

    Attributes:
        name: unique name in the session and the store.
        kind: ``"mlp"`` or ``"cnn"``.
        declaration: the cell body as written.
        variables: the value, as text, put in for each ``{name}`` placeholder of
            ``declaration`` (e.g. ``{"rate": "0.2"}``; a sweep's grid point included).
        options: the training options used (snake_case names, as ``nbmnist.train`` takes).
        history: per-epoch metrics, Keras' names: ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy`` (validation entries only when validating); one float per epoch.
        test_loss: loss on the test set after training (None if not evaluated).
        test_accuracy: accuracy in [0, 1] on the test set (None if not evaluated).
        num_params: total parameters; ``num_non_trainable_params`` the BatchNorm statistics.
        wall_time_s: seconds from the start of ``fit`` to the end of the test evaluation.
        data_source: where the data came from; names the bundled sample when it was used.
        uses_sample: trained on the bundled sample, not the full dataset.
        status: ``running`` (training now), ``completed``, ``interrupted`` (Ctrl-C),
            ``diverged`` (loss became NaN) or ``killed`` (its process ended while it
            trained: the record on disk still says ``running``; see ``Writer``).
        architecture: short description, e.g. ``dense 430-322-10``.
        uses_batchnorm: the model has BatchNormalization layers.
        dropout_rates: distinct dropout rates, in order of use.
        head_appended: nbmnist appended the output layer ``dense 10 softmax``.
        epoch_seconds: wall time of each completed epoch, in seconds.
        created: when training started (ISO 8601, UTC).
        environment: versions (Python, Keras, the backend's framework, NumPy, nbmnist), the
            Keras backend and the device.
        execution: how it trained on that backend and device (``backend.Execution``):
            precision policy, XLA compilation, batches per call and why, data on the device.
        model_path: the saved ``model.keras``, if the run is in a store.
        model_epoch: the epoch (1-based) whose model ``model_path`` holds; the last one once
            training ends (the kept one with ``restore_best``), an earlier one for a
            ``killed`` run; None: no model saved.
        stopped_epoch: the epoch (1-based) after which early stopping ended training, before
            the ``plan["epochs"]`` asked; None: it was not stopped early.
        kept_epoch: the epoch (1-based) whose weights the model ends with when
            ``restore_best`` gave it its best epoch's; None: the last epoch's.
        plan: what ran (``TrainingPlan.record``): epochs and training images after fast
            mode, optimizer class, Keras loss, input shape, batches per call; ``options``
            holds the options as the user gave them.
        identity: what identifies the plan (``TrainingPlan.identity``): the layers after
            substitution, the options that decide what is learned, and whether the data was
            the sample. A sweep resumes a stored point only when this equals the cell's.
        caveats: why its scores do not represent the model, one line each (``SHORT:
            explanation and what to do``; ``TrainingPlan.caveats``), e.g. batch
            normalization whose moving averages saw too few updates to settle.
        weight_quantiles: per Dense/Conv2D kernel (labelled as the violins are), one list
            per completed epoch of its 5%, 25%, 50%, 75% and 95% quantiles
            (``plots.WEIGHT_QUANTILES``): how the weights moved, without storing them.
        activation_quantiles: per Dense/Conv2D layer (labelled likewise), one list per
            epoch of the quantiles of its activations on a fixed batch of held-out images
            (``inside.ACTIVATION_QUANTILES``; after its activation layer, if one follows).
        dead_units: per layer, per epoch, the share (0 to 1) of its units that are at most
            0 on every image of that batch (ReLUs that no longer fire).
        gradient_norms: per layer, per epoch, the L2 norm of the loss's gradient with
            respect to its kernel on that batch (vanishing: towards 0 in early layers).
        writer: who writes the record while it trains (``Writer.record``): host, process
            id and start time, heartbeat (ISO 8601, UTC).
        model: the trained ``keras.Model``; loaded from ``model_path`` on first access.
    """

    name: str
    kind: str
    declaration: str
    options: dict[str, Any]
    history: dict[str, list[float]]
    test_loss: float | None
    test_accuracy: float | None
    num_params: int
    wall_time_s: float
    data_source: str
    status: Status
    uses_sample: bool = False
    architecture: str = ""
    uses_batchnorm: bool = False
    dropout_rates: tuple[float, ...] = ()
    head_appended: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    num_non_trainable_params: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    created: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    model_epoch: int | None = None
    stopped_epoch: int | None = None
    kept_epoch: int | None = None
    writer: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)
    weight_quantiles: dict[str, list[list[float]]] = field(default_factory=dict)
    activation_quantiles: dict[str, list[list[float]]] = field(default_factory=dict)
    dead_units: dict[str, list[float]] = field(default_factory=dict)
    gradient_norms: dict[str, list[float]] = field(default_factory=dict)
    model_path: str | None = None
    _model: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def model(self) -> Any:
        """The trained ``keras.Model`` (loaded from ``model_path`` with Keras' safe mode)."""
        if self._model is None and self.model_path and Path(self.model_path).is_file():
            from nbmnist.backend import load_model

            try:
                self._model = load_model(self.model_path)
            except Exception as err:  # Keras raises many kinds for a damaged file
                reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise RunStoreError(
                    f"{self.model_path}: cannot load this run's model "
                    f"({type(err).__name__}: {reason[:200]}); the record is still readable"
                ) from err
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    def release_model(self) -> bool:
        """Forget the trained model held in memory where it can be loaded again from
        ``model_path`` (on the next use of ``model``). Returns True if one was released."""
        if self._model is None or not self.model_path or not Path(self.model_path).is_file():
            return False
        self._model = None
        return True

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.history.get("loss", []))

    def best_epoch(self, metric: str = "val_accuracy") -> tuple[int, float] | None:
        """(1-based epoch, value) of the best ``metric`` (highest accuracy, lowest loss)."""
        return MetricLog(self.history, self.epoch_seconds).best(metric)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record written to ``run.json`` (NaN and infinities as null)."""
        record: dict[str, Any] = {"schema": SCHEMA_VERSION}
        for name in RECORD_FIELDS:
            record[name] = getattr(self, name)
        record["dropout_rates"] = list(self.dropout_rates)
        record["model_path"] = MODEL if self.model_path else None
        safe: dict[str, Any] = json_safe(record)
        return safe

    @classmethod
    def from_record(cls, record: Any, folder: Path) -> Run:
        """A ``Run`` from a ``run.json`` record found in ``folder``.

        Raises:
            RunStoreError: the record is not a run record of this schema: not a JSON object,
                a field missing or of the wrong type (one line naming the file and field).
        """
        if not isinstance(record, dict):
            raise RunStoreError(
                f"{folder / RECORD}: not a run record (a JSON object was expected, "
                f"found {type(record).__name__})"
            )
        if record.get("schema") != SCHEMA_VERSION:
            raise RunStoreError(
                f"{folder / RECORD}: schema {record.get('schema')!r} is not {SCHEMA_VERSION}; "
                "it was written by another nbmnist version"
            )
        check_record(record, folder / RECORD)
        values = {name: record[name] for name in RECORD_FIELDS if name in record}
        values["history"] = {
            key: [math.nan if v is None else float(v) for v in series]
            for key, series in values.get("history", {}).items()
        }
        values["dropout_rates"] = tuple(values.get("dropout_rates", ()))
        model = folder / MODEL
        values["model_path"] = str(model) if model.is_file() else None
        if values["model_path"] is None:
            values["model_epoch"] = None
        environment = values.get("environment", {})
        if "backend" not in environment and "tensorflow" in environment:
            # recorded before the backend was: such runs trained on TensorFlow
            values["environment"] = {**environment, "backend": "tensorflow"}
        run = cls(**values)
        if run.status == "running" and run.writer and not Writer.alive(run.writer, folder):
            run.status = "killed"  # in memory only: reading never rewrites the store
        return run

    def __repr__(self) -> str:
        accuracy = "n/a" if self.test_accuracy is None else f"{self.test_accuracy:.4f}"
        return (
            f"Run({self.name!r}, {self.kind}, {self.architecture}, {self.num_params:,} params, "
            f"{self.epochs} epochs, test_accuracy={accuracy}, status={self.status!r})"
        )
