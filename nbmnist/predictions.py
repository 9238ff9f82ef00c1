"""What a trained model gets right and wrong, from a recorded run: class probabilities for
any images, the test set's confusion matrix, per-class accuracy, the most confident mistakes.

Everything is computed from the run's saved model and the test set it was scored on (the
full dataset, or the bundled sample when the run trained on it), preprocessed exactly as in
training (``training.prepare_arrays``: float32 pixels in [0, 1], the kind's input shape).
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nbmnist.data import Dataset, as_model_input, data_names, load_dataset
from nbmnist.errors import OptionError, did_you_mean
from nbmnist.model import run_image_shape
from nbmnist.runs import Run
from nbmnist.tables import data_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Batch size for predictions (any size gives the same probabilities).
PREDICT_BATCH_SIZE = 1000


def _model(run: Run) -> Any:
    if not isinstance(run, Run):
        raise TypeError(f"expected a Run, got {type(run).__name__}")
    model = run.model
    if model is None:
        raise OptionError(f"run {run.name!r} has no saved model to predict with")
    return model


def predict(run: Run, images: Any) -> np.ndarray:
    """Class probabilities the run's model gives ``images``.

    Args:
        run: a recorded run with a saved model.
        images: see ``as_model_input``: uint8 or float, one image or many, of the shape the
            run trained on (28x28 or 784 values for MNIST, 32x32x3 for CIFAR-10).

    Returns:
        float32, shape ``(N, classes)``: each row sums to 1 (a softmax is applied when the model
        outputs logits).

    Raises:
        OptionError: the images cannot be model input, or the run has no model.
    """
    x = as_model_input(images, run.kind, run_image_shape(run))
    output = np.asarray(_model(run).predict(x, batch_size=PREDICT_BATCH_SIZE, verbose=0))
    output = output.astype(np.float32)
    if np.any(output < 0) or not np.allclose(output.sum(axis=1), 1, atol=1e-3):
        shifted = np.exp(output - output.max(axis=1, keepdims=True))  # logits -> softmax
        output = shifted / shifted.sum(axis=1, keepdims=True)
    return output


@dataclass(frozen=True)
class TestPredictions:
    """A run's predictions on the test set it was scored on.

    Attributes:
        run: the run.
        dataset: the test set's dataset (full, or the bundled sample).
        labels: true classes, int, shape (N,).
        probabilities: float32, shape (N, classes).
    """

    __test__ = False  # not a pytest class

    run: Run
    dataset: Dataset
    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        """Predicted classes, int, shape (N,)."""
        return np.asarray(self.probabilities.argmax(axis=1))

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.dataset.class_names


#: run name -> (a weak reference to the model predicted with, its predictions): an entry
#: serves only the model it was computed with (a re-run of the name has another), and keeps
#: no model alive.
_CACHE: dict[str, tuple[weakref.ref[Any], TestPredictions]] = {}


def scored_predictions(run: Run) -> TestPredictions:
    """The run's model on its test set (computed once per run and model)."""
    model = _model(run)
    cached = _CACHE.get(run.name)
    if cached is not None and cached[0]() is model:
        return cached[1]
    name = run.options.get("data", "mnist")
    if name not in data_names():
        raise OptionError(
            f"run {run.name!r} trained on your data {name!r}, which this kernel does not hold "
            f"now; give it again: nbmnist.use_data(((x_train, y_train), (x_test, y_test)), "
            f"name={name!r})"
        )
    dataset = load_dataset(name, source="sample" if run.uses_sample else None, warn=False)
    probabilities = predict(run, dataset.x_test)
    found = TestPredictions(run, dataset, np.asarray(dataset.y_test), probabilities)
    _CACHE[run.name] = (weakref.ref(model), found)
    return found


class _FigureResult:
    """Shown in a notebook as its figure (a PNG, kept in the saved notebook)."""

    figure: Figure

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


@dataclass(frozen=True, repr=False)
class ConfusionMatrix(_FigureResult):
    """A run's confusion matrix on its test set.

    Attributes:
        counts: int64, shape (k, k) for k classes: ``counts[i, j]`` test images of class i
            predicted j.
        rates: float64, shape (k, k): each row divided by its total (rows sum to 1).
        class_names: the k class names, by index.
        figure: counts, and rates as colours, with class names; title names run and data.
    """

    counts: np.ndarray
    rates: np.ndarray
    class_names: tuple[str, ...]
    figure: Figure

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.counts) / self.counts.sum())

    def __repr__(self) -> str:
        return f"ConfusionMatrix(accuracy={self.accuracy:.4f}, {int(self.counts.sum())} images)"


def confusion_matrix(run: Run) -> ConfusionMatrix:
    """The 10x10 confusion matrix of ``run`` on its test set, as data and as a figure.

    Rows are true classes, columns predicted classes; each cell shows the count, coloured by
    the row-normalised rate (Fashion-MNIST's cells are labelled with its class names).

    Raises:
        OptionError: the run has no saved model.
    """
    from nbmnist.plots import plot_confusion

    found = scored_predictions(run)
    classes = len(found.class_names)
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (found.labels, found.predicted), 1)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    title = f"{run.name} · {data_label([run])}"
    figure = plot_confusion(counts, rates, found.class_names, title)
    return ConfusionMatrix(counts, rates, found.class_names, figure)


def per_class_accuracy(runs: Run | Sequence[Run]) -> Any:
    """Test accuracy per class, one column per run: compare models class by class.

    Returns:
        A ``PrettyTable`` (HTML in notebooks): one row per class, then ``all``; a run's
        cell is the share of that class's test images it classified right, in [0, 1].
    """
    from prettytable import PrettyTable

    runs = [runs] if isinstance(runs, Run) else list(runs)
    found = [scored_predictions(run) for run in runs]
    names = found[0].class_names
    table = PrettyTable(["class", *(run.name for run in runs)])
    table.title = f"per-class test accuracy · {data_label(runs)}"
    for index, name in enumerate(names):
        cells = []
        for item in found:
            chosen = item.labels == index
            right = (item.predicted[chosen] == index).mean() if chosen.any() else float("nan")
            cells.append(f"{right:.4f}")
        table.add_row([f"{index} {name}" if name != str(index) else name, *cells])
    table.add_row(["all", *(f"{(i.predicted == i.labels).mean():.4f}" for i in found)])
    table.align = "r"
    table.align["class"] = "l"
    return table


@dataclass(frozen=True, repr=False)
class Mistakes(_FigureResult):
    """Test images a model got wrong, the most confident first.

    Attributes:
        indices: positions in the test set, int, shape (n,).
        true: true classes, shape (n,); predicted: predicted classes, shape (n,).
        confidence: the probability given to the predicted class, shape (n,).
        figure: a grid of the images, each titled true -> predicted (confidence).
    """

    indices: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    figure: Figure

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"Mistakes({len(self)} images)"


def class_index(value: int | str, class_names: Sequence[str], what: str = "class") -> int:
    """The index of a class given by its index or its name (``3``, ``"3"``, ``"Shirt"``,
    ``"shirt"``).

    Raises:
        OptionError: neither a class index from 0 to N-1 nor one of ``class_names``.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= value < len(class_names):
            return int(value)
    elif isinstance(value, str):
        folded = [name.casefold() for name in class_names]
        if value.strip().casefold() in folded:
            return folded.index(value.strip().casefold())
    names = ", ".join(repr(name) for name in class_names)
    raise OptionError(
        f"{what} must be a class from 0 to {len(class_names) - 1} or its name ({names}), "
        f"got {value!r}" + did_you_mean(str(value), class_names)
    )


def misclassified(
    run: Run, n: int = 25, true: int | str | None = None, predicted: int | str | None = None
) -> Mistakes:
    """The ``n`` test images ``run``'s model got wrong with the most confidence.

    Args:
        run: a recorded run with a saved model.
        n: how many (at most; fewer when fewer are wrong).
        true: only mistakes of this true class, by index or name (``true="Shirt"`` on
            Fashion-MNIST; ``true=3, predicted=5``: the 3s taken for 5s).
        predicted: only mistakes taken for this class, by index or name.

    Raises:
        OptionError: ``n`` or a class out of range, or the run has no model.
    """
    from nbmnist.plots import plot_image_grid

    found = scored_predictions(run)
    if true is not None:
        true = class_index(true, found.class_names, "true")
    if predicted is not None:
        predicted = class_index(predicted, found.class_names, "predicted")
    if not (isinstance(n, int) and n > 0):
        raise OptionError(f"n must be a whole number > 0, got {n!r}")
    wrong = found.predicted != found.labels
    if true is not None:
        wrong &= found.labels == true
    if predicted is not None:
        wrong &= found.predicted == predicted
    confidence = found.probabilities.max(axis=1)
    order = np.flatnonzero(wrong)
    order = order[np.argsort(-confidence[order], kind="stable")][:n]
    names = found.class_names
    titles = [
        f"{names[found.labels[i]]} → {names[found.predicted[i]]} ({confidence[i]:.0%})"
        for i in order
    ]
    which = "mistakes"
    if true is not None or predicted is not None:
        parts = [f"true {names[true]}" if true is not None else ""]
        parts.append(f"predicted {names[predicted]}" if predicted is not None else "")
        which += " (" + ", ".join(p for p in parts if p) + ")"
    title = (
        f"{run.name}: {len(order)} most confident of {int(wrong.sum())} {which} "
        f"(true → predicted, confidence) · {data_label([run])}"
    )
    figure = plot_image_grid(found.dataset.x_test[order], titles, title)
    return Mistakes(order, found.labels[order], found.predicted[order], confidence[order], figure)
