"""What happens inside a model over its epochs: per Dense/Conv2D layer, the quantiles of its
activations on a fixed batch of held-out images, the share of its units that never fire on
that batch (dead ReLUs), and the norm of the loss's gradient with respect to its kernel.

Recorded after every epoch into the run (``run.activation_quantiles``, ``run.dead_units``,
``run.gradient_norms``), a few numbers per layer; drawn by ``plot_activation_history`` and
``plot_gradient_history`` (``nbmnist.plots``). The gradients are taken by the backend's own
differentiation (``backend.probe``); the model runs with ``training=False`` (no dropout,
no augmentation, BatchNorm's moving statistics), so the batch sees what evaluation sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Images in the fixed batch (the first of the held-out images): enough for stable
#: quantiles and norms, few enough to cost little next to an epoch (docs/performance.md).
PROBE_IMAGES = 64
#: The activation quantiles recorded (as the weights': ``plots.WEIGHT_QUANTILES``).
ACTIVATION_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class InsideRecorder:
    """Records, after each epoch, what a model's layers do with one fixed batch.

    Attributes:
        x: the fixed batch of images (model input shape, float32), at most ``PROBE_IMAGES``.
        y: their one-hot labels (float32).
        activations: label -> one list of ``ACTIVATION_QUANTILES`` per epoch.
        dead: label -> per epoch, the share (0 to 1) of the layer's units (a dense layer's
            units, a convolution's filters) whose activation is at most 0 on every image
            and position of the batch: a ReLU unit that no longer fires.
        gradients: label -> per epoch, the L2 norm of the loss's gradient with respect to
            the layer's kernel on the batch.
    """

    x: np.ndarray
    y: np.ndarray
    activations: dict[str, list[list[float]]] = field(default_factory=dict)
    dead: dict[str, list[float]] = field(default_factory=dict)
    gradients: dict[str, list[float]] = field(default_factory=dict)
    _probe: tuple[Any, Any] | None = field(default=None, repr=False)

    def record(self, model: Any) -> None:
        """Append this epoch's figures for ``model`` (a built, compiled Keras model)."""
        from nbmnist.backend import import_keras, probe
        from nbmnist.plots import weight_layers

        keras = import_keras()
        layers = weight_layers(model)
        if not layers:
            return
        if self._probe is None or self._probe[0] is not model:  # built once per model
            outputs = [_activated(model, layer).output for _, layer in layers]
            self._probe = (model, keras.Model(model.inputs[0], [*outputs, model.outputs[0]]))
        watched = self._probe[1]
        values, found = probe(watched, self.x, _loss(keras, model, self.y))
        for (label, _), value in zip(layers, values, strict=False):  # the last: predictions
            array = np.asarray(value, dtype=np.float64)
            quantiles = np.quantile(array, ACTIVATION_QUANTILES)
            self.activations.setdefault(label, []).append([round(float(q), 7) for q in quantiles])
            units = array.reshape(-1, array.shape[-1])
            share = float(np.mean(units.max(axis=0) <= 0.0))
            self.dead.setdefault(label, []).append(round(share, 5))
        index = {id(variable): i for i, variable in enumerate(watched.trainable_variables)}
        for label, layer in layers:
            where = index.get(id(layer.kernel))
            if where is not None:
                norm = float(np.linalg.norm(found[where].astype(np.float64)))
                self.gradients.setdefault(label, []).append(round(norm, 9))


def _activated(model: Any, layer: Any) -> Any:
    """``layer``, or the ``Activation`` layers right after it (``dense 64 | relu``): the
    output the next layer is given."""
    keras_layers = list(model.layers)
    position = keras_layers.index(layer)
    while position + 1 < len(keras_layers) and type(keras_layers[position + 1]).__name__ == (
        "Activation"
    ):
        position += 1
    return keras_layers[position]


def _loss(keras: Any, model: Any, y: np.ndarray) -> Any:
    """The compiled loss of ``model`` on labels ``y``, as a function of its predictions."""
    compiled = model.loss
    function = keras.losses.get(compiled) if isinstance(compiled, str) else compiled
    target = keras.ops.convert_to_tensor(y)

    def loss(y_pred: Any) -> Any:
        return keras.ops.mean(function(target, keras.ops.cast(y_pred, "float32")))

    return loss


def probe_batch(x_held_out: Any, y_held_out: Any) -> tuple[np.ndarray, np.ndarray]:
    """The fixed batch: the first ``PROBE_IMAGES`` held-out images and labels, on the host."""
    return (
        np.asarray(x_held_out[:PROBE_IMAGES], dtype=np.float32),
        np.asarray(y_held_out[:PROBE_IMAGES], dtype=np.float32),
    )
