"""Text pieces shared by every display: metric lines and the closing line of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nbmnist.runs import Run

if TYPE_CHECKING:
    from nbmnist.display import TrainingInfo

METRIC_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy")


def metrics_line(metrics: Mapping[str, float]) -> str:
    """``loss 0.1504 · accuracy 0.9532 · val_loss 0.0897 · val_accuracy 0.9723``."""
    names = [n for n in METRIC_ORDER if n in metrics] + sorted(set(metrics) - set(METRIC_ORDER))
    return " · ".join(f"{name} {metrics[name]:.4f}" for name in names)


def duration(seconds: float) -> str:
    """``42.0 s`` below two minutes, else ``3 min 05 s``."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def plural(count: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def backend_text(info: TrainingInfo) -> str:
    """``CPU (2 cores) with jax``, ``GPU (NVIDIA H100) with jax, mixed_float16``."""
    text = info.device
    if info.backend:
        text += f" with {info.backend}"
    if info.precision != "float32":
        text += f", {info.precision}"
    return text


def header_line(info: TrainingInfo) -> str:
    """``relu_2h: mlp, 482,570 params, MNIST, 22 epochs on CPU (2 cores) with jax``."""
    return (
        f"{info.name}: {info.kind}, {info.num_params:,} params, {info.data_title}, "
        f"{plural(info.epochs, 'epoch')} on {backend_text(info)}"
    )


#: Data sources whose note was already shown in this kernel (why the full data was not
#: used is said once, not in every cell).
_NOTED: set[str] = set()


def opening_lines(info: TrainingInfo) -> list[str]:
    """What every display prints as a run starts: the header, the layer summary, and a note
    when training on the bundled sample (with the reason the first time in a kernel)."""
    lines = [header_line(info)]
    if info.summary:
        lines.append(info.summary)
    if info.is_sample:
        lines.append(sample_note(info.data_source))
    return lines


def sample_note(data_source: str) -> str:
    """The note for a run on the bundled sample (or fast mode's first images of data that has
    none): where the data came from and why, the first time in a kernel; a reference to it
    after."""
    if data_source in _NOTED:
        if "bundled sample" not in data_source:
            return f"NOTE: training on the {data_source.split(':', 1)[0]} (see above)"
        return "NOTE: training on the bundled sample (see above)"
    _NOTED.add(data_source)
    return f"NOTE: training on the {data_source}"


def caveat_summary(caveat: str) -> str:
    """A caveat (``run.caveats``) in short, for a figure: what, and what to do."""
    what, _, rest = caveat.partition(":")
    return f"CAVEAT: {what}: {rest.rsplit('; ', 1)[-1].strip()}" if rest else f"CAVEAT: {what}"


def stopping_text(run: Run) -> str:
    """`` · stopped early: no val_loss improvement in 3 epochs (7 of 20) · weights of epoch 4
    kept``, or what of it applies; empty when neither happened."""
    text = ""
    monitor = run.options.get("monitor", "val_loss")
    if run.stopped_epoch is not None:
        patience = run.options.get("early_stopping")
        asked = run.plan.get("epochs", run.stopped_epoch)
        text += (
            f" · stopped early: no {monitor} improvement in {plural(patience or 0, 'epoch')} "
            f"({run.stopped_epoch} of {asked})"
        )
    if run.kept_epoch is not None:
        text += f" · weights of epoch {run.kept_epoch} kept (best {monitor})"
    return text


def final_line(run: Run) -> str:
    """One line that closes a run: status, test metrics, epochs and time; then a line for
    each of its caveats (``run.caveats``: why its scores do not represent the model)."""
    if run.status == "completed" and run.test_accuracy is not None:
        outcome = f"test_loss {run.test_loss:.4f} · test_accuracy {run.test_accuracy:.4f}"
    elif run.status == "interrupted":
        outcome = (
            f"interrupted at epoch {run.epochs + 1}; {plural(run.epochs, 'epoch')} kept, "
            "not evaluated"
        )
    else:
        outcome = f"diverged (loss is NaN) at epoch {run.epochs}; not evaluated"
    best = run.best_epoch("val_accuracy")
    best_text = f" · best val_accuracy {best[1]:.4f} (epoch {best[0]})" if best else ""
    line = (
        f"{run.name}: {outcome}{best_text} · {plural(run.epochs, 'epoch')} in "
        f"{duration(run.wall_time_s)}{stopping_text(run)}"
    )
    return "\n".join([line, *(f"CAVEAT: {caveat}" for caveat in run.caveats)])
