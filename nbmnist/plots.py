"""Plots generated from recorded runs: functions that take runs or models and return a Figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from nbmnist.metric_log import VALIDATION_LABELS
from nbmnist.runs import Run

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _model_of(run_or_model: Any) -> tuple[str, Any]:
    if isinstance(run_or_model, Run):
        if run_or_model.model is None:
            raise ValueError(f"run {run_or_model.name!r} has no model to plot")
        return run_or_model.name, run_or_model.model
    if hasattr(run_or_model, "layers"):
        return run_or_model.name, run_or_model
    raise TypeError(f"expected a Run or a keras.Model, got {type(run_or_model).__name__}")


class WeightArray(NamedTuple):
    """One violin's data: ``values`` is exactly ``layer``'s kernel (or bias), flattened."""

    label: str
    layer: str
    shape: tuple[int, ...]
    values: np.ndarray


def weight_arrays(run_or_model: Any, include_bias: bool = False) -> list[WeightArray]:
    """The kernel (and optionally bias) of every Dense and Conv2D layer, found by layer.

    Never indexes ``model.get_weights()`` by position (with BatchNormalization present,
    position 2 is a BatchNorm gamma, not the second kernel, as the seed notebooks show).

    Args:
        run_or_model: a ``Run`` or a ``keras.Model``.
        include_bias: also return each layer's bias vector.

    Returns:
        ``WeightArray`` (label, Keras layer name, tensor shape, values) in layer order;
        ``values`` is the float32 tensor flattened to shape (n,). Labels:
        ``Hidden 1 · dense 430``, ``Conv 1 · conv 32 3x3``, ``Output · dense 10``, and
        ``… bias`` for biases.
    """
    _, model = _model_of(run_or_model)
    arrays: list[WeightArray] = []
    for label, layer in weight_layers(model):
        tensors = [("", layer.kernel)]
        if include_bias and layer.bias is not None:
            tensors.append((" bias", layer.bias))
        for suffix, tensor in tensors:
            values = np.asarray(tensor.numpy())
            arrays.append(WeightArray(label + suffix, layer.name, values.shape, values.ravel()))
    return arrays


def weight_layers(model: Any) -> list[tuple[str, Any]]:
    """(label, layer) of every Dense and Conv2D layer of ``model``, in order; labels
    ``Hidden 1 · dense 430``, ``Conv 1 · conv 32 3x3``, ``Output · dense 10``: how violins,
    weight, activation and gradient histories name a layer."""
    from nbmnist.backend import import_keras

    keras = import_keras()  # the configured backend, even when a reloaded run comes first
    layers = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
    ]
    labelled = []
    hidden = conv = 0
    for index, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Conv2D):
            conv += 1
            size = "x".join(str(k) for k in layer.kernel_size)
            label = f"Conv {conv} · conv {layer.filters} {size}"
        elif index == len(layers) - 1:
            label = f"Output · dense {layer.units}"
        else:
            hidden += 1
            label = f"Hidden {hidden} · dense {layer.units}"
        labelled.append((label, layer))
    return labelled


#: The quantiles of each kernel recorded after every epoch (``record_weight_quantiles``).
WEIGHT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def record_weight_quantiles(model: Any, history: dict[str, list[list[float]]]) -> None:
    """Append the ``WEIGHT_QUANTILES`` of each Dense/Conv2D kernel of ``model`` to
    ``history`` (label -> one list per epoch): a few numbers per layer, not the weights."""
    for array in weight_arrays(model):
        values = np.quantile(array.values.astype(np.float64), WEIGHT_QUANTILES)
        history.setdefault(array.label, []).append([round(float(v), 7) for v in values])


_FIGURE_FORMATS = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")


def _ensure_figures_display() -> None:
    """Make IPython show a returned Figure as PNG when no backend registered a format.

    The inline backend registers one; with ``MPLBACKEND=Agg`` (or any non-inline backend)
    in a kernel, a returned Figure would otherwise show as ``<Figure size ...>``.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    from matplotlib.figure import Figure

    if any(Figure in formatters[kind].type_printers for kind in _FIGURE_FORMATS):
        return
    from IPython.core.pylabtools import retina_figure

    # twice the pixels, shown at the figure's size: sharp on high-DPI screens
    formatters["image/png"].for_type(Figure, retina_figure)


def _new_figure(rows: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    import matplotlib.pyplot as plt

    _ensure_figures_display()
    # 100 dpi: an 8-inch figure is the notebook's width; shown at twice that (retina)
    figure, axes = plt.subplots(rows, 1, figsize=(width, height * rows), dpi=100, squeeze=False)
    # Handed to the caller, not to pyplot: a notebook shows the returned figure exactly once.
    plt.close(figure)
    return figure, list(axes[:, 0])


#: Most points one violin is drawn from (``violin_points``).
VIOLIN_POINTS = 10_000


def violin_points(values: np.ndarray, limit: int = VIOLIN_POINTS) -> np.ndarray:
    """The points a violin of ``values`` (shape (n,)) is drawn from: ``values`` itself when
    n <= ``limit``, else ``limit`` evenly spaced order statistics of it (its quantiles at
    steps of 1/(limit - 1), smallest and largest included): the quartile lines and the
    extremes are the whole tensor's to 1/(limit - 1) in rank, and the density is estimated
    from those points (seaborn's Scott bandwidth on fewer points: a little smoother). seaborn
    makes a labelled row of every point it is given, so a million weights would take seconds
    to draw (``bench/display/test_violins.py``, docs/performance.md)."""
    if values.size <= limit:
        return values
    ranks = np.linspace(0, values.size - 1, limit).round().astype(np.int64)
    return np.sort(values)[ranks]


def plot_weight_violins(
    runs_or_models: Any, include_bias: bool = False, ax: Axes | None = None
) -> Figure:
    """One violin per Dense/Conv2D kernel of each model, labelled with layer and size.

    A kernel of more than ``VIOLIN_POINTS`` weights is drawn from that many of its
    quantiles (``violin_points``): the same quartiles and extremes, to 1/10,000 in rank.

    Args:
        runs_or_models: a ``Run``, a ``keras.Model``, or a list of them (one row each).
        include_bias: add a violin for each layer's bias.
        ax: draw into this Axes (only with a single run or model); None: a new figure.

    Returns:
        The matplotlib Figure (a new one, or ``ax``'s); nothing the caller owns is closed.

    Raises:
        ValueError: a run without a model, or ``ax`` given with several models.
    """
    import seaborn as sns

    items = list(runs_or_models) if isinstance(runs_or_models, Sequence) else [runs_or_models]
    if ax is not None and len(items) != 1:
        raise ValueError("ax= takes a single run or model; leave it out for several")
    if ax is not None:
        figure, axes = cast("Figure", ax.get_figure(root=True)), [ax]
    else:
        figure, axes = _new_figure(len(items), width=max(6.0, 2.2 * 4), height=3.2)
    if len(axes) > 1:  # one scale for every row, so models (a sweep's rates) compare
        for axis in axes[1:]:
            axis.sharey(axes[0])
    for item, axis in zip(items, axes, strict=True):
        name, _ = _model_of(item)
        arrays = weight_arrays(item, include_bias)
        points = [violin_points(a.values) for a in arrays]
        sns.violinplot(data=points, ax=axis, cut=0, inner="quartile")
        ticks = [f"{a.label}\n{a.layer} {'x'.join(map(str, a.shape))}" for a in arrays]
        axis.set_xticks(range(len(arrays)), ticks, fontsize=8)
        axis.set_ylabel("weight value")
        data = f" · {_data_of(item)}" if isinstance(item, Run) else ""
        axis.set_title(f"{name}: trained weights per layer{data}", fontsize=10)
        axis.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def run_colours(runs: Sequence[Run]) -> dict[str, str]:
    """A colour per run (matplotlib's ``tab10``/``tab20``), stable for a given list of runs:
    each plot of the same runs uses the same colour for the same run."""
    palette = [f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown")]
    palette += [f"tab:{c}" for c in ("pink", "gray", "olive", "cyan")]
    if len(runs) > len(palette):
        import matplotlib

        cmap = matplotlib.colormaps["tab20"]
        palette = [matplotlib.colors.to_hex(cmap(i % 20)) for i in range(len(runs))]
    return {run.name: palette[index] for index, run in enumerate(runs)}


#: Runs per legend column of ``plot_history`` (more runs: more columns, a wider figure).
LEGEND_ROWS = 15
#: The longest list of run names a title holds; more runs are counted instead.
TITLE_NAMES = 60


def plot_history(
    runs: Run | Sequence[Run],
    metric: str = "loss",
    ax: Axes | None = None,
    test_line: bool = True,
) -> Figure:
    """Curves of several runs overlaid: train solid, validation dashed, and each run's test
    value as a dotted horizontal line, in one colour per run (as seed 004 draws by hand).

    Args:
        runs: a ``Run`` or a list of them (for example ``nbmnist.runs()``).
        metric: ``"loss"`` or ``"accuracy"`` (Keras' names; ``val_`` is added for validation).
        ax: draw into this Axes; None: a new figure.
        test_line: draw each run's test loss or accuracy as a horizontal line.

    Returns:
        The matplotlib Figure (a new one, or ``ax``'s); nothing the caller owns is closed.

    Raises:
        ValueError: an unknown metric, or no runs.
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    items = [runs] if isinstance(runs, Run) else list(runs)
    if not items:
        raise ValueError("no runs to plot")
    # one legend entry per run (its colour) and one per line style: 12 runs gave 36
    columns = 1 + (len(items) - 1) // LEGEND_ROWS
    if ax is None:
        rows = min(len(items), LEGEND_ROWS) + 3
        figure, axes = _new_figure(1, width=6.5 + 2.0 * columns, height=max(4.5, 0.2 * rows))
        ax = axes[0]
    else:
        figure = cast("Figure", ax.get_figure(root=True))
    from matplotlib.lines import Line2D

    colours = run_colours(items)
    validations: set[str] = set()
    styles: dict[str, str] = {}
    for run in items:
        colour = colours[run.name]
        validation = VALIDATION_LABELS.get(run.options.get("validation", "split"), "validation")
        for key, style, suffix in ((metric, "-", "train"), (f"val_{metric}", "--", validation)):
            values = run.history.get(key, [])
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, color=colour, label=f"{run.name} {suffix}")
                styles.setdefault(style, suffix)
                if style == "--":
                    validations.add(suffix)
        test_value = run.test_loss if metric == "loss" else run.test_accuracy
        if test_line and test_value is not None:
            ax.axhline(test_value, color=colour, linestyle=":", label=f"{run.name} test")
            styles.setdefault(":", "test")
    if len(validations) > 1:
        styles["--"] = "validation"
    from matplotlib.ticker import MaxNLocator

    from nbmnist.tables import data_label

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colours[run.name], label=run.name) for run in items]
    handles += [
        Line2D([], [], color="0.4", linestyle=style, label=styles[style])
        for style in ("-", "--", ":")
        if style in styles
    ]
    ax.legend(  # beside the axes, never on a curve
        handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=columns
    )
    data = data_label(items, part="")
    names = ", ".join(run.name for run in items)
    shown = names if len(names) <= TITLE_NAMES else f"{len(items)} runs"
    ax.set_title(f"{metric}: {shown} · {data}", fontsize=10)
    figure.tight_layout()
    return figure


def plot_confusion(
    counts: np.ndarray, rates: np.ndarray, class_names: Sequence[str], title: str
) -> Figure:
    """A confusion matrix: each cell's count, coloured by its row-normalised rate.

    Args:
        counts: int, shape (k, k): row = true class, column = predicted class.
        rates: float, shape (k, k): ``counts`` divided by each row's total.
        class_names: k names, by class index.
        title: the figure's title (say the run and the data).
    """
    figure, (ax,) = _new_figure(1, width=7.5, height=6.5)
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    size = len(class_names)
    for row in range(size):
        for column in range(size):
            colour = "white" if rates[row, column] > 0.5 else "black"
            ax.text(column, row, f"{counts[row, column]:,}", ha="center", va="center",
                    fontsize=7, color=colour)  # fmt: skip
    ax.set_xticks(range(size), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(size), class_names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    figure.colorbar(image, ax=ax, label="share of the true class (row)")
    figure.tight_layout()
    return figure


def _grid(rows: int, columns: int, width: float, height: float) -> tuple[Figure, Any]:
    """A figure of ``rows`` x ``columns`` image panels (``width`` x ``height`` inches each,
    axes off), handed to the caller rather than pyplot; the axes as a 2-D array."""
    import matplotlib.pyplot as plt

    _ensure_figures_display()
    figure, axes = plt.subplots(
        rows, columns, figsize=(width * columns, height * rows + 0.5), squeeze=False
    )
    plt.close(figure)
    for axis in axes.ravel():
        axis.axis("off")
    return figure, axes


def show_image(axis: Axes, image: Any, image_shape: tuple[int, int, int]) -> None:
    """Draw one image on ``axis``: grey (dark on light) or in colour, pixels uint8 0-255 or
    floats in [0, 1], of ``image_shape`` (height, width, channels) however it is shaped."""
    height, width, channels = image_shape
    pixels = np.asarray(image)
    top = 255 if pixels.dtype == np.uint8 else 1
    if channels == 1:
        axis.imshow(pixels.reshape(height, width), cmap="gray_r", vmin=0, vmax=top)
    else:
        rgb = pixels.reshape(height, width, channels).astype(np.float32) / np.float32(top)
        axis.imshow(np.clip(rgb, 0, 1))


def image_shape_of(images: np.ndarray) -> tuple[int, int, int]:
    """The shape of one of ``images`` (n, H, W) or (n, H, W, C); (n, 784): MNIST's."""
    shape = np.shape(images)[1:]
    if len(shape) == 2:
        return (shape[0], shape[1], 1)
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2])
    return (28, 28, 1)


def plot_image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    title: str,
    image_shape: tuple[int, int, int] | None = None,
) -> Figure:
    """Images in a grid of up to 5 columns, each with its title (e.g. ``3 → 5 (97%)``).

    Args:
        images: uint8 or float, shape (n, H, W) or (n, H, W, C) (grey or RGB), or (n, 784).
        titles: n titles.
        title: the figure's title.
        image_shape: one image's (height, width, channels); default: from ``images``.
    """
    shape = image_shape or image_shape_of(images)
    count = max(1, len(images))
    columns = min(5, count)
    figure, axes = _grid(-(-count // columns), columns, 1.9, 2.1)
    for index, axis in enumerate(axes.ravel()):
        if index < len(images):
            show_image(axis, images[index], shape)
            axis.set_title(titles[index], fontsize=8)
    if len(images) == 0:
        axes[0, 0].text(0.5, 0.5, "none", ha="center", va="center")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def plot_weight_history(run: Run) -> Figure:
    """How each Dense/Conv2D kernel moved while training: per layer, the median weight over
    epochs with bands from the 25% to 75% and 5% to 95% quantiles (recorded every epoch as
    ``run.weight_quantiles``; TensorBoard's histograms, inside the notebook).

    Raises:
        ValueError: the run recorded no weight quantiles (trained before they were).
    """
    layers = _history_of(run, run.weight_quantiles, "weight")
    figure, axes = _new_figure(len(layers), width=7.5, height=2.2)
    for axis, (label, rows) in zip(axes, layers, strict=True):
        _quantile_bands(axis, rows, "C0", "weight")
        axis.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1].set_xlabel("epoch")
    figure.suptitle(f"{run.name}: kernel weights over training · {_data_of(run)}", fontsize=10)
    figure.tight_layout()
    return figure


def _data_of(run: Run) -> str:
    from nbmnist.tables import data_label

    return data_label([run], part="")


def _conv_layers(run: Run) -> list[Any]:
    from nbmnist.backend import import_keras

    keras = import_keras()
    _, model = _model_of(run)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"run {run.name!r} has no convolution layer (a %%cnn run has)")
    return convs


def plot_filters(run: Run) -> Figure:
    """The first convolution's filters as images (one per filter, shared grey scale: dark is
    positive), as the model learned them; on RGB images in colour (one shared scale, mid-grey
    is zero: a red filter looks for red).

    Raises:
        ValueError: the run has no model or no convolution layer.
    """
    first = _conv_layers(run)[0]
    kernel = np.asarray(first.kernel.numpy())  # (k_h, k_w, in_channels, filters)
    colour = kernel.shape[2] == 3
    filters = kernel.transpose(3, 0, 1, 2) if colour else kernel.mean(axis=2).transpose(2, 0, 1)
    limit = float(np.abs(filters).max()) or 1.0
    columns = min(8, len(filters))
    figure, axes = _grid(-(-len(filters) // columns), columns, 1.2, 1.3)
    for index, axis in enumerate(axes.ravel()):
        if index < len(filters):
            if colour:
                axis.imshow(filters[index] / (2 * limit) + 0.5)
            else:
                axis.imshow(filters[index], cmap="gray_r", vmin=-limit, vmax=limit)
            axis.set_title(str(index + 1), fontsize=7)
    size = "x".join(str(k) for k in first.kernel_size)
    figure.suptitle(
        f"{run.name}: the {len(filters)} filters ({size}) of the first convolution", fontsize=9
    )
    figure.tight_layout()
    return figure


#: The most feature maps drawn per convolution layer.
MAX_FEATURE_MAPS = 16


def plot_feature_maps(run: Run, image: Any) -> Figure:
    """What each convolution layer makes of one image: its first ``MAX_FEATURE_MAPS``
    feature maps (one row per layer), beside the image.

    Args:
        run: a ``%%cnn`` run with a model.
        image: one image, uint8 or float, of the shape the run trained on (28x28 or 784
            values for MNIST), as ``nbmnist.predict`` takes it.

    Raises:
        ValueError: no model or no convolution layer; OptionError: not one such image.
    """
    from nbmnist.backend import import_keras
    from nbmnist.data import as_model_input
    from nbmnist.errors import OptionError
    from nbmnist.model import run_image_shape

    keras = import_keras()
    convs = _conv_layers(run)
    image_shape = run_image_shape(run)
    x = as_model_input(image, "cnn", image_shape)
    if len(x) != 1:
        raise OptionError(f"plot_feature_maps takes one image, got {len(x)}")
    _, model = _model_of(run)
    probe = keras.Model(model.inputs[0], [layer.output for layer in convs])
    outputs = probe(x)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    maps = [np.asarray(keras.ops.convert_to_numpy(o))[0] for o in outputs]
    columns = 1 + min(MAX_FEATURE_MAPS, max(m.shape[-1] for m in maps))
    figure, axes = _grid(len(maps), columns, 1.1, 1.25)
    for row, (layer, values) in enumerate(zip(convs, maps, strict=True)):
        title = f"{layer.name} ({values.shape[-1]} maps)"
        for column, axis in enumerate(axes[row]):
            if column == 0:
                show_image(axis, x[0], image_shape)
                axis.set_title(title, fontsize=6)
            elif column - 1 < min(MAX_FEATURE_MAPS, values.shape[-1]):
                axis.imshow(values[:, :, column - 1], cmap="viridis")
    figure.suptitle(
        f"{run.name}: feature maps of each convolution (first {MAX_FEATURE_MAPS})", fontsize=9
    )
    figure.tight_layout()
    return figure


def _declared(source: Run | str, kind: str, data: str) -> tuple[str, Any, str]:
    """A run's or a cell body's name, declaration (for its data's images) and data name.

    Raises:
        DeclarationError: the body does not parse or its layers cannot take the images.
        DataError: ``data`` names no dataset.
    """
    from nbmnist.data import data_shape
    from nbmnist.declaration import parse_declaration
    from nbmnist.model import run_declaration

    if isinstance(source, Run):
        return source.name, run_declaration(source), source.options.get("data", "mnist")
    image_shape = data_shape(data)[0]
    return "the cell", parse_declaration(source, kind, None, image_shape), data  # type: ignore[arg-type]


def _run_classes(run: Run) -> int:
    """The classes ``run`` told apart (recorded in its plan; 10 before other data existed)."""
    return int(run.plan.get("classes") or 10)


def plot_augmentations(
    source: Run | str,
    kind: str = "cnn",
    n: int = 8,
    repeats: int = 3,
    seed: int = 0,
    data: str = "mnist",
) -> Figure:
    """A batch as the model sees it while training: the first ``n`` training images (top
    row) and ``repeats`` rows of what the declaration's data augmentation makes of them
    (``random_rotation``, ``random_translation``, ``random_zoom``, ``random_contrast``,
    ``gaussian_noise``: each draws anew for every batch; evaluation and prediction see the
    top row).

    Args:
        source: a ``Run``, or a cell body (its ``kind``) not trained yet.
        n: images per row (1 to 16).
        repeats: rows of augmented copies (1 to 8).
        seed: seeds the random changes, so the figure is the same each time.
        data: a cell body's data (``--data``; a run's is its own).

    Returns:
        The Figure: the data's images (28x28 grey for MNIST), values in [0, 1] (pixels
        scaled as training does).

    Raises:
        DeclarationError: the declaration has no augmentation layer, or is invalid.
        OptionError: ``n`` or ``repeats`` out of range.
    """
    from nbmnist.backend import import_keras
    from nbmnist.data import as_model_input, load_dataset
    from nbmnist.declaration.spec import AugmentationSpec
    from nbmnist.errors import DeclarationError, OptionError

    if not (1 <= n <= 16 and 1 <= repeats <= 8):
        raise OptionError(f"plot_augmentations shows 1-16 images in 1-8 rows, got {n}, {repeats}")
    name, declaration, data = _declared(source, kind, data)
    augmentations = [spec for spec in declaration.layers if isinstance(spec, AugmentationSpec)]
    if not augmentations:
        raise DeclarationError(
            f"{name} declares no data augmentation; put e.g. 'random_rotation 0.05' first in "
            "a %%cnn cell"
        )
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    first = declaration.layers.index(augmentations[0])
    shape = declaration.output_shapes()[first]
    model = keras.Sequential(
        [keras.Input(shape=shape), *(spec.keras_call().build(keras) for spec in augmentations)]
    )
    images = load_dataset(data, warn=False).x_train[:n]
    x = as_model_input(images, declaration.kind, declaration.image_shape)
    rows = [x, *(keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(repeats))]
    figure, axes = _grid(len(rows), n, 1.1, 1.2)
    for row, images in enumerate(rows):
        for column, axis in enumerate(axes[row]):
            # noise and contrast can leave [0, 1]: shown clipped, as an image would be
            show_image(axis, np.clip(images[column], 0, 1), declaration.image_shape)
        axes[row, 0].set_title("as stored" if row == 0 else f"batch {row}", fontsize=7, loc="left")
    words = " | ".join(spec.describe() for spec in augmentations)
    figure.suptitle(f"{name}: {words}", fontsize=9)
    figure.tight_layout()
    return figure


#: A colour per kind of layer in ``plot_architecture`` (matplotlib's tab10 names).
LAYER_COLOURS = {
    "ResidualSpec": "tab:red",
    "DenseSpec": "tab:blue",
    "ConvSpec": "tab:green",
    "PoolSpec": "tab:orange",
    "GlobalPoolSpec": "tab:orange",
    "DropoutSpec": "tab:gray",
    "BatchNormSpec": "tab:purple",
    "FlattenSpec": "tab:brown",
    "ActivationSpec": "tab:pink",
}
AUGMENTATION_COLOUR = "tab:olive"


def plot_architecture(source: Run | str, kind: str = "mlp", data: str = "mnist") -> Figure:
    """The declared model as a row of blocks, input to output, drawn from the declaration
    before anything is built or trained: each layer in the declaration language, its output
    shape and parameters; a block's height grows with the values its output holds (log
    scale), so pooling and flattening show as steps.

    Args:
        source: a ``Run`` (its declaration, output head included) or a cell body (its
            ``kind``).
        data: a cell body's data (``--data``), which gives the input's shape and the
            output's classes; a run's is its own.

    Returns:
        The Figure (about 1 inch per layer wide).

    Raises:
        DeclarationError: the declaration is invalid (as the cell would say).
    """
    from matplotlib.patches import FancyBboxPatch

    from nbmnist.data import data_shape
    from nbmnist.declaration.spec import AugmentationSpec, ResidualSpec

    name, declaration, data = _declared(source, kind, data)
    if not isinstance(source, Run):
        name = f"%%{kind}"
    classes = _run_classes(source) if isinstance(source, Run) else data_shape(data)[1]
    declaration = declaration.with_head(classes)
    shapes = declaration.output_shapes()
    parameters = [0, *declaration.parameter_counts()]
    words = ["input"] + [
        f"residual {len(spec.layers)} layers" if isinstance(spec, ResidualSpec) else spec.describe()
        for spec in declaration.layers
    ]
    colours = ["white"] + [
        AUGMENTATION_COLOUR
        if isinstance(spec, AugmentationSpec)
        else LAYER_COLOURS.get(type(spec).__name__, "tab:cyan")
        for spec in declaration.layers
    ]
    sizes = [math.log10(max(2, math.prod(shape))) for shape in shapes]
    tallest = max(sizes)
    figure, (axis,) = _new_figure(1, width=max(4.0, 1.15 * len(shapes)), height=2.6)
    for index, (word, shape, count, colour, size) in enumerate(
        zip(words, shapes, parameters, colours, sizes, strict=True)
    ):
        height = 0.25 + 0.75 * size / tallest
        axis.add_patch(FancyBboxPatch((index + 0.08, 0.5 - height / 2), 0.84, height,
                                      boxstyle="round,pad=0.02", facecolor=colour, alpha=0.35,
                                      edgecolor="0.3"))  # fmt: skip
        axis.text(index + 0.5, 0.5, word.replace(" ", "\n", 1), ha="center", va="center",
                  fontsize=7)  # fmt: skip
        details = "x".join(map(str, shape)) + (f"\n{count:,} p" if count else "")
        axis.text(index + 0.5, -0.08, details, ha="center", va="top", fontsize=6.5, color="0.25")
        if index:
            axis.annotate("", (index + 0.08, 0.5), (index - 0.08, 0.5),
                          arrowprops={"arrowstyle": "->", "color": "0.4"})  # fmt: skip
    axis.set_xlim(0, len(shapes))
    axis.set_ylim(-0.45, 1.05)
    axis.axis("off")
    total = sum(parameters)
    axis.set_title(f"{name}: {len(declaration.layers)} layers, {total:,} parameters "
                   "(output shape and parameters under each)", fontsize=9)  # fmt: skip
    return figure


def _quantile_bands(axis: Axes, rows: list[list[float]], colour: str, what: str) -> None:
    """One layer's recorded quantiles (5, 25, 50, 75, 95%) over epochs: the median, and
    bands from 25% to 75% and from 5% to 95%."""
    from matplotlib.ticker import MaxNLocator

    values = np.asarray(rows)
    epochs = np.arange(1, len(values) + 1)
    axis.fill_between(epochs, values[:, 0], values[:, 4], alpha=0.2, color=colour, label="5-95%")
    axis.fill_between(epochs, values[:, 1], values[:, 3], alpha=0.4, color=colour, label="25-75%")
    axis.plot(epochs, values[:, 2], color=colour, marker="o", markersize=3, label="median")
    axis.set_ylabel(what)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3)


def _history_of(run: Run, recorded: dict[str, Any], what: str) -> list[tuple[str, Any]]:
    if not recorded:
        raise ValueError(f"run {run.name!r} has no {what} history (it predates recording it)")
    return list(recorded.items())


def plot_activation_history(run: Run) -> Figure:
    """What each Dense/Conv2D layer's activations did over training, on a fixed batch of
    held-out images: per layer, the median with bands from the 25% to 75% and 5% to 95%
    quantiles, and the share of units that never fired on the batch (dead ReLUs) when any
    did (``run.activation_quantiles``, ``run.dead_units``).

    Raises:
        ValueError: the run recorded none (trained before they were).
    """
    layers = _history_of(run, run.activation_quantiles, "activation")
    figure, axes = _new_figure(len(layers), width=7.5, height=1.9)
    for axis, (label, rows) in zip(axes, layers, strict=True):
        _quantile_bands(axis, rows, "C2", "activation")
        dead = run.dead_units.get(label, [])
        title = label + (f" · {dead[-1]:.0%} of units never fire" if dead and dead[-1] else "")
        axis.set_title(title, fontsize=9, color="darkred" if dead and dead[-1] else "black")
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes[-1].set_xlabel("epoch")
    figure.suptitle(f"{run.name}: activations on a fixed held-out batch · {_data_of(run)}",
                    fontsize=10)  # fmt: skip
    figure.tight_layout()
    return figure


def plot_gradient_history(run: Run) -> Figure:
    """The norm of the loss's gradient with respect to each Dense/Conv2D kernel, epoch by
    epoch, on a log scale (``run.gradient_norms``): in a deep sigmoid network the first
    layers' norms are orders of magnitude below the last's (vanishing gradients).

    Raises:
        ValueError: the run recorded none (trained before they were).
    """
    from matplotlib.ticker import MaxNLocator

    layers = _history_of(run, run.gradient_norms, "gradient")
    figure, (axis,) = _new_figure(1, width=7.5, height=3.4)
    colours = _layer_colours(len(layers))
    for colour, (label, norms) in zip(colours, layers, strict=True):
        epochs = np.arange(1, len(norms) + 1)
        axis.plot(epochs, np.maximum(norms, 1e-12), marker="o", markersize=3, color=colour,
                  label=label)  # fmt: skip
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("gradient norm (log)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(True, alpha=0.3, which="both")
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.set_title(f"{run.name}: gradient norm per layer on a fixed held-out batch · "
                   f"{_data_of(run)}", fontsize=10)  # fmt: skip
    figure.tight_layout()
    return figure


def _layer_colours(count: int) -> list[Any]:
    """One colour per layer, first to last along a sequential map (depth reads as shade)."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(1, count - 1)) for i in range(count)]
