"""How a run trains on this backend and device (``Execution``), and the pure decisions behind
it: the precision policy, how many batches go into one call to the backend
(``steps_per_execution``) and how they are grouped. Each decision is a function of a
described device, so it is tested without one; the backend's module adds what is its own
(``grouping``, ``data_on_device``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nbmnist.backend.choice import current, module
from nbmnist.backend.device import DeviceKind, device

if TYPE_CHECKING:
    from nbmnist.backend.device import Device
    from nbmnist.declaration import Declaration

#: ``steps_per_execution``: the speed a training step is estimated with, in multiply-adds per
#: second (CPU: the Keras example CNN's rate on a 2-core CPU, docs/performance.md; GPU and
#: TPU: a deliberately low figure for small float32 models, whose steps are bound by kernel
#: launches rather than arithmetic), the shortest time a step is assumed to take on an
#: accelerator (seconds), the longest a group of batches should take (seconds: Ctrl-C and the
#: batch progress bar act between groups), and the largest group on a CPU. On an accelerator
#: a group may be a whole epoch.
STEP_RATES: dict[str, float] = {"cpu": 5e10, "gpu": 2e12, "tpu": 2e12}
ACCELERATOR_STEP_FLOOR_S = 2e-4
EXECUTION_BUDGET_S = 0.2
MAX_CPU_STEPS_PER_EXECUTION = 32

#: Mixed precision each device kind wants (``--mixed-precision``): float16 with loss scaling
#: on CUDA GPUs (tensor cores), bfloat16 on TPUs (their native type); none on CPUs.
MIXED_POLICIES: dict[str, str | None] = {
    "gpu": "mixed_float16",
    "tpu": "mixed_bfloat16",
    "cpu": None,
}


@dataclass(frozen=True)
class Execution:
    """How a run trains on this backend and device; recorded as ``Run.execution``.

    Attributes:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``.
        device: e.g. ``"GPU (NVIDIA H100 80GB HBM3)"``.
        precision: the Keras dtype policy: ``"float32"``, ``"mixed_float16"`` or
            ``"mixed_bfloat16"``.
        precision_reason: why that policy.
        jit_compile: ``True``/``False`` as asked, or ``"auto"`` (Keras decides: XLA with JAX
            always, with TensorFlow on a GPU or TPU, never with PyTorch); ``compiled_with``
            records what Keras chose.
        steps_per_execution: batches per call into the backend (each batch is still one
            optimizer step).
        steps_per_execution_reason: why that number.
        grouping: how a group of batches runs as one call: ``"keras"`` (Keras'
            ``steps_per_execution``), ``"lax.scan"`` (JAX: Keras' ``train_step`` scanned
            over the group) or ``"none"`` (one batch per call).
        data_on_device: the training arrays were put on the device once, before ``fit``.
        fallbacks: one line per name from Keras' internals this Keras release lacks, and
            the public way nbmnist took instead (``nbmnist.backend.common.PrivateName``).
    """

    backend: str
    device: str
    precision: str
    precision_reason: str
    jit_compile: bool | str
    steps_per_execution: int
    steps_per_execution_reason: str
    grouping: str
    data_on_device: bool
    fallbacks: tuple[str, ...] = ()

    @property
    def keras_steps_per_execution(self) -> int:
        """``compile``'s ``steps_per_execution``."""
        return self.steps_per_execution if self.grouping == "keras" else 1

    @property
    def batches_per_keras_step(self) -> int:
        """How many of the user's batches one Keras step holds (``lax.scan`` groups)."""
        return self.steps_per_execution if self.grouping == "lax.scan" else 1

    def fit_batch_size(self, batch_size: int) -> int:
        """The batch size ``fit`` is given: with ``lax.scan`` grouping, a whole group."""
        return batch_size * self.batches_per_keras_step

    def record(self) -> dict[str, Any]:
        record = asdict(self)
        record["fallbacks"] = list(self.fallbacks)
        return record


@dataclass(frozen=True)
class Situation:
    """What a backend's ``grouping`` decides from, besides the group size proposed.

    Attributes:
        kind: the device kind.
        declaration: the model.
        steps_per_epoch: batches in one epoch.
        total_steps: batches in all the run's epochs (0: not known).
        requested: ``--steps-per-execution`` as asked, or None.
        partial_last_batch: the epoch ends with a smaller batch.
    """

    kind: DeviceKind
    declaration: Declaration
    steps_per_epoch: int
    total_steps: int
    requested: int | None
    partial_last_batch: bool


def precision_policy(mixed_precision: bool, where: Device) -> tuple[str, str]:
    """The Keras dtype policy for ``--mixed-precision`` on ``where``, and why.

    Returns:
        ``(policy, reason)``, e.g. ``("mixed_float16", "--mixed-precision on a GPU")``.
    """
    if not mixed_precision:
        return "float32", "default (results comparable across devices)"
    policy = MIXED_POLICIES[where.kind]
    if policy is None:
        return "float32", "--mixed-precision ignored: no GPU or TPU here"
    return policy, f"--mixed-precision on a {where.kind.upper()}"


def auto_steps_per_execution(
    declaration: Declaration, batch_size: int, kind: DeviceKind = "cpu"
) -> int:
    """How many batches to run per call into the backend, from the model's estimated cost.

    A training step costs about 3x the forward pass (forward, and backward for inputs and
    weights): ``3 * declaration.multiply_adds() * batch_size`` multiply-adds, taking
    ``/ STEP_RATES[kind]`` seconds (on an accelerator at least ``ACCELERATOR_STEP_FLOOR_S``).
    Grouping steps up to ``EXECUTION_BUDGET_S`` saves Keras' per-batch Python overhead and
    lets the backend keep the device busy across batches (docs/performance.md, "How
    many batches go into one call") while a group stays short enough that Ctrl-C still
    stops at once. The largest seed CNNs get 1 on a CPU.

    Returns:
        An int >= 1: at most ``MAX_CPU_STEPS_PER_EXECUTION`` on a CPU; unbounded on an
        accelerator (the caller caps it at the batches of one epoch).
    """
    step_s = 3 * declaration.multiply_adds() * batch_size / STEP_RATES[kind]
    if kind != "cpu":
        step_s = max(step_s, ACCELERATOR_STEP_FLOOR_S)
    groups = int(EXECUTION_BUDGET_S // step_s) if step_s > 0 else MAX_CPU_STEPS_PER_EXECUTION
    if kind == "cpu":
        groups = min(MAX_CPU_STEPS_PER_EXECUTION, groups)
    return max(1, groups)


def choose_steps_per_execution(
    backend: str,
    kind: DeviceKind,
    declaration: Declaration,
    batch_size: int,
    steps_per_epoch: int,
    requested: int | None = None,
    partial_last_batch: bool = False,
    epochs: int | None = None,
) -> tuple[int, str, str]:
    """Batches per call into ``backend`` on a ``kind`` device, why, and how they are grouped.

    The group is sized here (as asked, or ``auto_steps_per_execution``; at most one epoch);
    the backend's module decides how it runs (its ``grouping``): ``epochs`` (None: not known)
    and ``partial_last_batch`` (the epoch ends with a smaller batch) are for it.

    Returns:
        ``(steps, reason, grouping)``; ``grouping`` is ``"keras"`` (Keras'
        ``steps_per_execution``), ``"lax.scan"`` (JAX) or ``"none"``.
    """
    if requested is not None:
        steps, reason = requested, "as asked (--steps-per-execution)"
    else:
        steps = auto_steps_per_execution(declaration, batch_size, kind)
        reason = (
            f"auto: about {EXECUTION_BUDGET_S:g} s of training per call on the "
            f"{kind.upper()}, from the model's multiply-adds"
        )
    if steps >= steps_per_epoch > 0:
        steps, reason = steps_per_epoch, reason + "; at most one epoch per call"
    situation = Situation(
        kind=kind,
        declaration=declaration,
        steps_per_epoch=steps_per_epoch,
        total_steps=steps_per_epoch * (epochs or 0),
        requested=requested,
        partial_last_batch=partial_last_batch,
    )
    return module(backend).grouping(steps, reason, situation)  # type: ignore[no-any-return]


def plan_execution(
    declaration: Declaration,
    batch_size: int,
    steps_per_epoch: int,
    *,
    steps_per_execution: int | None = None,
    mixed_precision: bool = False,
    jit_compile: bool | None = None,
    partial_last_batch: bool = False,
    epochs: int | None = None,
) -> Execution:
    """Choose how a run trains on the active backend and device; flags given win.

    Args:
        declaration: the model (its multiply-adds size the groups of batches).
        batch_size: examples per optimizer step.
        steps_per_epoch: batches in one epoch (groups never span epochs).
        steps_per_execution: as asked (``--steps-per-execution``), or None for automatic.
        mixed_precision: ``--mixed-precision``: the device's mixed policy.
        jit_compile: ``--jit-compile``: True/False, or None to let Keras decide.
        partial_last_batch: the epoch ends with a smaller batch (see
            ``choose_steps_per_execution``).
        epochs: epochs the run trains (a short run on TensorFlow is not grouped).

    Raises:
        BackendError: no usable Keras backend (see ``import_keras``).
    """
    served = current()
    where = device()
    precision, precision_reason = precision_policy(mixed_precision, where)
    steps, reason, grouping = choose_steps_per_execution(
        served.NAME,
        where.kind,
        declaration,
        batch_size,
        steps_per_epoch,
        steps_per_execution,
        partial_last_batch,
        epochs,
    )
    return Execution(
        backend=served.NAME,
        device=str(where),
        precision=precision,
        precision_reason=precision_reason,
        jit_compile="auto" if jit_compile is None else bool(jit_compile),
        steps_per_execution=steps,
        steps_per_execution_reason=reason,
        grouping=grouping,
        data_on_device=served.data_on_device(where.kind),
        fallbacks=served.fallbacks(),
    )


def batch_sizes(counts: Iterable[int], batch_size: int) -> list[int]:
    """The distinct batch sizes that going through sets of ``counts`` examples in batches of
    ``batch_size`` takes (a last partial batch has its own size), in order."""
    sizes: list[int] = []
    for count in counts:
        for size in (min(count, batch_size), count % batch_size if count > batch_size else 0):
            if size and size not in sizes:
                sizes.append(size)
    return sizes
