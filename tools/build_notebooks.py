"""Write the lesson notebooks (and the nbgrader and otter-grader assignments) from one place.

Usage:
    .venv/bin/python tools/build_notebooks.py

Every model cell is a declaration from the seed notebooks (../shared/seeds), checked in
tests/seed_models.py to build the seed's exact model. Each notebook opens with Colab and
Binder badges and a cell that installs nbmnist where it is missing (Colab).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

REPO = Path(__file__).resolve().parent.parent
# owner/name of the public repository the badges and the Colab install cell point at
GITHUB = "nbmnist/nbmnist"
INSTALL = f"git+https://github.com/{GITHUB}"
# lesson 01 and its assignment train every MLP as seeds 000 and 001 did; the assignment's
# hidden checks expect the same number of epochs
MLP_EPOCHS = 22
MLP_OPTIONS = f"--epochs {MLP_EPOCHS} --batch-size 128 --validation test"


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(text.strip("\n"))


def code(text: str, **metadata: object) -> nbformat.NotebookNode:
    return new_code_cell(text.strip("\n"), metadata=metadata)


def header(path: str, title: str, intro: str) -> list[nbformat.NotebookNode]:
    colab = f"https://colab.research.google.com/github/{GITHUB}/blob/main/{path}"
    binder = f"https://mybinder.org/v2/gh/{GITHUB}/main?labpath={path}"
    return [
        md(
            f"""
# {title}

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})
[![Binder](https://mybinder.org/badge_logo.svg)]({binder})

{intro}
"""
        ),
        code(
            f"""
# On Colab (or wherever nbmnist is missing) install it; elsewhere this does nothing.
import importlib.util

if importlib.util.find_spec("nbmnist") is None:
    %pip install --quiet "nbmnist @ {INSTALL}"
"""
        ),
        code("%load_ext nbmnist"),
    ]


DATA_NOTE = """
**Data.** nbmnist looks for the dataset in `NBMNIST_DATA`, Keras' cache, then downloads it.
Offline it falls back to a small real sample that ships with nbmnist and says so in every
dashboard and table. With `NBMNIST_FAST=1` (how CI and graders smoke-test this notebook) every
model trains for at most 2 epochs on at most 2,000 sample images (fewer for costly CNNs): the
numbers are then only a check that everything runs.
"""

CONCLUDE = """
by_accuracy = sorted(
    (run for run in nbmnist.runs() if run.test_accuracy is not None),
    key=lambda run: run.test_accuracy,
    reverse=True,
)
best, worst = by_accuracy[0], by_accuracy[-1]
print(f"Best:  {best.name} ({best.architecture}) reached test accuracy {best.test_accuracy:.4f}.")
print(f"Worst: {worst.name} ({worst.architecture}) reached {worst.test_accuracy:.4f}.")
print(f"Spread over {len(by_accuracy)} models: {best.test_accuracy - worst.test_accuracy:.4f}.")
print(f"Data: {best.data_source}")
"""


def notebook_01() -> nbformat.NotebookNode:
    mlp = MLP_OPTIONS
    cells = header(
        "notebooks/01_mlp_mnist.ipynb",
        "MLPs on MNIST: depth, dropout, batch normalization and the loss",
        """
This lesson rebuilds two notebooks students wrote by hand (seeds `000` and `001`): twelve
multi-layer perceptrons, each declared in one short cell instead of forty lines of Keras.
The curves, weight violins and summary table at the end are generated from the recorded
runs, so they always agree with them.
"""
        + DATA_NOTE,
    )
    cells += [
        md(
            """
## Two hidden layers, batch normalization, dropout 0.5

The cell body is the model: `430 322` are the units of two hidden `Dense` layers, each with
ReLU, He-normal initialisation, `BatchNormalization` and `Dropout(0.5)`; nbmnist adds the
output layer `dense 10 softmax`. As in the seed we validate on the test set
(`--validation test`) so the numbers compare; in your own work prefer the default
`--validation split`, which keeps the test set unseen until the end.
"""
        ),
        code(f"%%mlp relu_2h {mlp}\n430 322 relu he_normal bn dropout=0.5"),
        md("## Three and five hidden layers"),
        code(f"%%mlp relu_3h {mlp}\n320 270 162 relu he_normal bn dropout=0.5"),
        code(f"%%mlp relu_5h {mlp}\n340 190 112 72 38 relu he_normal bn dropout=0.5"),
        md(
            """
## Less dropout: 0.25

Less regularisation: training accuracy rises faster. Does validation loss follow?
"""
        ),
        code(f"%%mlp relu_2h_d25 {mlp}\n430 322 relu he_normal bn dropout=0.25"),
        code(f"%%mlp relu_3h_d25 {mlp}\n320 270 162 relu he_normal bn dropout=0.25"),
        code(f"%%mlp relu_5h_d25 {mlp}\n340 190 112 72 38 relu he_normal bn dropout=0.25"),
        md(
            """
## Mean squared error instead of cross-entropy

The seed also trained the dropout-0.5 models with `mean_squared_error` on one-hot labels.
Losses are then on another scale: compare accuracies, not losses, across the two.
"""
        ),
        code(f"%%mlp relu_2h_mse {mlp} --loss mse\n430 322 relu he_normal bn dropout=0.5"),
        code(f"%%mlp relu_3h_mse {mlp} --loss mse\n320 270 162 relu he_normal bn dropout=0.5"),
        code(
            f"%%mlp relu_5h_mse {mlp} --loss mse\n340 190 112 72 38 relu he_normal bn dropout=0.5"
        ),
        md(
            """
## Wider networks, dropout 0.4 (seed `001`)

Twenty epochs, the default Glorot initialisation, dropout and batch normalization placed by
hand with `|`. Seed 001's third model printed a different summary from the code above it;
this is the model it actually trained (500-400-300-200-50).
"""
        ),
        code(
            "%%mlp wide_2h --epochs 20 --validation test\n"
            "dense 512 relu | dropout 0.4\ndense 128 relu"
        ),
        code(
            "%%mlp wide_3h --epochs 20 --validation test\n"
            "dense 500 relu | dropout 0.4\ndense 300 relu | bn | dropout 0.4\ndense 100 relu | bn"
        ),
        code(
            "%%mlp wide_5h --epochs 20 --validation test\n"
            "500 400 300 relu dropout=0.3\ndense 200 relu | bn | dropout 0.3\ndense 50 relu | bn"
        ),
        md(
            """
## Trained weights, layer by layer

One violin per `Dense` kernel, found by layer. (The seed indexed `get_weights()` by position,
so its "Hidden Layer 2" was a BatchNorm parameter vector, not the second kernel.)
"""
        ),
        code("nbmnist.plot_weight_violins([relu_2h, relu_3h, relu_5h])"),
        md(
            """
## How the weights moved while training

Each epoch recorded a few quantiles of every kernel (not the weights): the median, and bands
from the 25% to 75% and 5% to 95% quantiles.
"""
        ),
        code("nbmnist.plot_weight_history(relu_2h)"),
        md(
            """
## What the model gets wrong

The confusion matrix on the test set (rows: the true digit), accuracy per digit for three
models side by side, and the test images `relu_2h` got wrong with the most confidence.
"""
        ),
        code("nbmnist.confusion_matrix(relu_2h)"),
        code("nbmnist.per_class_accuracy([relu_2h, relu_3h, relu_5h])"),
        code("nbmnist.misclassified(relu_2h, n=15)"),
        md(
            """
Class probabilities for any 28x28 images (uint8 or float, one or many), preprocessed as in
training:
"""
        ),
        code(
            'digits = nbmnist.load_dataset("mnist", source="sample").x_test[:5]\n'
            "nbmnist.predict(relu_2h, digits).round(3)"
        ),
        md(
            """
## Which learning rate? The range test, then one cycle

`relu_2h` trained with Adam's default rate, 0.001. The range test (Smith 2015) trains a
fresh copy of the model for a few hundred batches while the rate grows from 1e-7 to 10, and
plots the loss against it: the loss barely moves at tiny rates, falls, then blows up. The
rate where it falls steepest is a good peak for one cycle (Smith & Topin 2017): the rate
climbs to it over the first 30% of the steps, then decays to almost nothing.
"""
        ),
        code("found = nbmnist.lr_find(relu_2h)\nlr = found.suggestion\nfound"),
        code(
            f"%%mlp relu_2h_one_cycle {mlp} --lr-schedule one_cycle --learning-rate {{lr}}\n"
            "430 322 relu he_normal bn dropout=0.5"
        ),
        md(
            """
## What happens inside: vanishing gradients, dead ReLUs

Every run records, after each epoch, on a fixed batch of held-out images: the quantiles of
each layer's activations, the share of its units that never fire, and the norm of the
loss's gradient with respect to its kernel. In a deep network of sigmoids the gradient
shrinks layer after layer on its way back: the first layers barely learn. ReLU with He
initialization and batch normalization keeps it flowing.
"""
        ),
        code("%%mlp deep_sigmoid --epochs 10 --validation test\ndense 64 sigmoid x8"),
        code("%%mlp deep_relu_bn --epochs 10 --validation test\ndense 64 relu he_normal | bn x8"),
        code("nbmnist.plot_gradient_history(deep_sigmoid)"),
        code("nbmnist.plot_gradient_history(deep_relu_bn)"),
        md(
            """
Too large a learning rate can push a ReLU's inputs below zero for every image: the unit
outputs 0, gets no gradient, and never recovers. The activation history says how many:
"""
        ),
        code(
            "%%mlp relu_too_fast --epochs 10 --validation test --learning-rate 0.05\n"
            "dense 64 relu x4"
        ),
        code("nbmnist.plot_activation_history(relu_too_fast)"),
        md("## Learning curves of the two-hidden-layer models"),
        code('nbmnist.plot_history([relu_2h, relu_2h_d25, relu_2h_one_cycle, wide_2h], "loss")'),
        md(
            """
Choose runs and a metric; the figure redraws (the last choice stays in the saved notebook):
"""
        ),
        code("nbmnist.compare()"),
        md("## Summary, generated from the runs"),
        code('nbmnist.summary_table(sort_by="test accuracy")'),
        md(
            """
## Conclusions

The cell below reads its numbers from the recorded runs, so it stays true whatever data and
epochs this notebook ran with.
"""
        ),
        code(CONCLUDE),
    ]
    return new_notebook(cells=cells, metadata=METADATA)


def notebook_02() -> nbformat.NotebookNode:
    cnn = "--epochs 12 --batch-size 120 --validation test"
    body_3x3 = (
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn"
    )
    block_3x3 = "conv 64 3x3 same relu he_normal | dropout 0.25 | bn"
    head_bn = "flatten\ndense 128 relu he_normal | dropout 0.5 | bn"
    body_5x5 = (
        "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 5x5 stride 2 relu he_normal | dropout 0.25 | bn"
    )
    block_5x5 = "conv 64 5x5 same relu he_normal | dropout 0.25 | bn"
    stem_7x7 = "conv 32 7x7 stride 2 relu he_normal | maxpool 2 | dropout 0.25"
    block_7x7 = "conv 64 7x7 same relu he_normal | dropout 0.25"
    mdl_4 = (
        "conv 32 3 relu x3\ndropout {rate}\nconv 64 3 relu x2\ndropout {rate} | bn\n"
        "conv 64 5 relu\nconv 128 2 relu | bn\nflatten\ndense 128 relu"
    )
    cells = header(
        "notebooks/02_cnn_mnist.ipynb",
        "CNNs on MNIST: kernels, strides, depth, dropout and batch normalization",
        """
This lesson rebuilds seeds `002` and `003`: convolutional networks with 3x3, 5x5 and 7x7
kernels, strides and `same`/`valid` padding, 3, 5 and 7 convolutional layers, with and
without dropout and batch normalization; then the Keras example CNN and a dropout sweep.
A line ending in `xN` repeats that line N times, and `|` puts several layers on one line.
"""
        + DATA_NOTE,
    )
    cells += [
        md("## Three convolutional layers (seed `002`)"),
        code(
            f"%%cnn k3_3 {cnn}\n{body_3x3}\n"
            "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
            f"{head_bn}"
        ),
        code(f"%%cnn k5_3 {cnn}\n{body_5x5}\n{block_5x5}\n{head_bn}"),
        code(
            f"%%cnn k7_3 {cnn}\n{stem_7x7}\n{block_7x7} x2\n"
            "flatten\ndense 128 relu he_normal | dropout 0.5"
        ),
        code(
            f"%%cnn mixed_3 {cnn}\n"
            "conv 32 5x5 stride 2 valid relu he_normal | maxpool 2 | bn\n"
            "conv 64 3x3 same relu he_normal | bn\nconv 64 7x7 same relu he_normal | bn\n"
            "flatten\ndense 128 relu he_normal | bn"
        ),
        md(
            """
## Five and seven convolutional layers

The same families, deeper. With 5x5 kernels and two stride-2 layers the feature map is 1x1
after the second convolution: `same` padding keeps the later layers possible (try `valid`
and read the error).
"""
        ),
        code(f"%%cnn k3_5 {cnn}\n{body_3x3}\n{block_3x3} x3\n{head_bn}"),
        code(f"%%cnn k5_5 {cnn}\n{body_5x5}\n{block_5x5} x3\n{head_bn}"),
        code(f"%%cnn k7_5 {cnn}\n{stem_7x7}\n{block_7x7} x4\n{head_bn}"),
        code(
            f"%%cnn mixed_5 {cnn}\n"
            "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | bn\n"
            "conv 64 3x3 same relu he_normal | bn\nconv 64 7x7 same relu he_normal | bn x3\n"
            "flatten\ndense 128 relu he_normal | bn"
        ),
        code(f"%%cnn k3_7 {cnn}\n{body_3x3}\n{block_3x3} x5\n{head_bn}"),
        code(f"%%cnn k5_7 {cnn}\n{body_5x5}\n{block_5x5} x5\n{head_bn}"),
        code(f"%%cnn k7_7 {cnn}\n{stem_7x7}\n{block_7x7} x6\n{head_bn}"),
        code(
            f"%%cnn mixed_7 {cnn}\n"
            "conv 32 3x3 stride 2 relu he_normal | maxpool 2 | bn\n"
            "conv 64 5x5 same relu he_normal | bn\nconv 64 7x7 same relu he_normal | bn x5\n"
            "flatten\ndense 128 relu he_normal | bn"
        ),
        md(
            """
## The Keras example CNN (seed `003`)

Keras 2's Adadelta defaulted to a learning rate of 1.0; Keras 3's defaults to 0.001, which
barely moves in 12 epochs. `--learning-rate 1.0` trains the model as the seed did.
"""
        ),
        code(
            "%%cnn keras_example --epochs 12 --optimizer adadelta --learning-rate 1.0 "
            "--validation test\n"
            "conv 32 3x3 relu\nconv 64 3x3 relu\nmaxpool 2\ndropout 0.25\nflatten\n"
            "dense 128 relu\ndropout 0.5"
        ),
        md(
            """
Its architecture, drawn from the declaration: every layer with its output shape and
parameters. Almost all of its 1.2 million parameters sit in the first dense layer, which
meets the 9,216 values the convolutions leave.
"""
        ),
        code("nbmnist.plot_architecture(keras_example)"),
        md(
            """
## Larger kernels, more filters, batch normalization

The rest of seed `003` trains for 20 epochs (its `no_epoch = 20`), batch size 128.
"""
        ),
        code(
            "%%cnn mdl_1 --epochs 20 --validation test\n"
            "conv 32 7x7 relu\nconv 64 5x5 relu\nmaxpool 2\nconv 128 5x5 relu\nflatten\n"
            "dense 128 relu"
        ),
        code(
            "%%cnn mdl_3 --epochs 20 --validation test\n"
            "conv 32 3x3 relu x2\nmaxpool 2\nconv 32 5x5 relu | bn\nconv 64 3x3 relu\n"
            "maxpool 2\nconv 128 2x2 relu | bn\nflatten\ndense 128 relu"
        ),
        code("rate = 0.2"),
        code(f"%%cnn mdl_5 --epochs 20 --validation test\n{mdl_4}"),
        md(
            """
## Skip connections: a 10-convolution CNN and its residual twin

Stacking more convolutions does not by itself help: the gradient has a long way back to the
first layers. A residual block (He et al. 2016) adds its input to its output, so the signal
and the gradient also take the short way round. Both networks below have ten 3x3
convolutions of 16 filters after a pooling; the twin groups eight of them in four blocks.
"""
        ),
        code(
            f"%%cnn plain_10 {cnn}\n"
            "conv 16 3x3 same relu | maxpool 2 | bn\n"
            "conv 16 3x3 same relu | bn x9\n"
            "globalavgpool"
        ),
        code(
            f"%%cnn residual_10 {cnn}\n"
            "conv 16 3x3 same relu | maxpool 2 | bn\n"
            "residual(conv 16 3x3 same relu | bn | conv 16 3x3 same | bn) | relu x4\n"
            "conv 16 3x3 same relu | bn\n"
            "globalavgpool"
        ),
        code("nbmnist.plot_architecture(residual_10)"),
        code('nbmnist.plot_history([plain_10, residual_10], "accuracy")'),
        code("nbmnist.plot_gradient_history(plain_10)"),
        code("nbmnist.plot_gradient_history(residual_10)"),
        md(
            """
## A dropout sweep, in one cell

The seed trained eight copies of `mdl_1` with `Dropout(rate=i*0.01)` and labelled them
"Dropout=0.1 ... 0.7": its plots said 0.1 where the code used 0.01. Here every run is named
from the value it actually used (`drop[rate=0.3]`), each point trains in a worker process
(`--workers 2`: two at a time; on a GPU machine one per GPU by default), the table shows every
point's state as it changes, and running the cell again skips what is already done.
"""
        ),
        code(
            "%%cnn drop --grid rate=0.0,0.1,0.2,0.3,0.4,0.5,0.6,0.7 --epochs 20 --validation test "
            "--workers 2\n"
            "conv 32 7x7 relu | conv 64 5x5 relu | maxpool 2 | conv 128 5x5 relu\n"
            "flatten\ndense 128 relu\ndropout {rate}"
        ),
        md("## Trained weights of the three-layer models"),
        code("nbmnist.plot_weight_violins([k3_3, k5_3, k7_3])"),
        md(
            """
## What the convolutions learned

The first layer's filters as images, then what each convolution makes of one test digit.
"""
        ),
        code("nbmnist.plot_filters(k3_3)"),
        code(
            'digit = nbmnist.load_dataset("mnist", source="sample").x_test[0]\n'
            "nbmnist.plot_feature_maps(k3_3, digit)"
        ),
        code("nbmnist.confusion_matrix(k3_3)"),
        md("## Dropout rate against validation accuracy"),
        code('nbmnist.plot_history(drop, "accuracy", test_line=False)'),
        md("## Summary, generated from the runs"),
        code('nbmnist.summary_table(sort_by="test accuracy")'),
        md("## Conclusions"),
        code(CONCLUDE),
    ]
    return new_notebook(cells=cells, metadata=METADATA)


def notebook_03() -> nbformat.NotebookNode:
    options = "--data fashion_mnist --epochs 25 --batch-size 8 --validation split"
    cells = header(
        "notebooks/03_fashion_mnist_regularization.ipynb",
        "Fashion-MNIST: dropout, batch normalization, or both?",
        """
This lesson rebuilds seed `004`: four MLPs on Fashion-MNIST (a "vanilla" network, one with
dropout, one with batch normalization, one with both), trained with batch size 8 for 25
epochs, validating on the last sixth of the training set so that the test set stays unseen
until the end. Activations are separate layers (`dense 196 | relu`) as in the seed.
"""
        + DATA_NOTE,
    )
    cells += [
        md("## Vanilla"),
        code(f"%%mlp vanilla {options}\ndense 196 | relu\ndense 49 | relu\ndense 10 | softmax"),
        md("## Dropout"),
        code(
            f"%%mlp dropout {options}\n"
            "dense 392 | relu | dropout 0.5\ndense 98 | relu | dropout 0.5\n"
            "dense 24 | relu | dropout 0.5\ndense 10 | softmax"
        ),
        md("## Batch normalization"),
        code(
            f"%%mlp batchnorm {options}\n"
            "dense 196 | relu | bn\ndense 49 | relu | bn\ndense 10 | softmax"
        ),
        md("## Batch normalization with dropout"),
        code(
            f"%%mlp bn_dropout {options}\n"
            "dense 196 | relu | dropout 0.5 | bn\ndense 49 | relu | dropout 0.5 | bn\n"
            "dense 10 | softmax"
        ),
        md(
            """
## Stop early, keep the best

The vanilla network over-fits: its validation loss stops falling after a few epochs and then
rises while the training loss keeps falling. Instead of choosing the number of epochs by
hand, stop when the validation loss has not improved for 3 epochs and keep the weights of
its best epoch (Keras' `EarlyStopping(patience=3, restore_best_weights=True)`; the test set
plays no part in the choice). The dashboard marks where training stopped and which epoch's
weights were kept.
"""
        ),
        code(
            f"%%mlp vanilla_stopped {options} --early-stopping 3 --restore-best\n"
            "dense 196 | relu\ndense 49 | relu\ndense 10 | softmax"
        ),
        code(
            """
stopped = vanilla_stopped
print(f"trained {stopped.epochs} of {stopped.plan['epochs']} epochs; weights of epoch "
      f"{stopped.kept_epoch} kept")
print(f"test accuracy {stopped.test_accuracy:.4f}, against {vanilla.test_accuracy:.4f} "
      f"after all {vanilla.epochs} epochs")
"""
        ),
        md(
            """
## Augmentation against over-fitting (a small CNN)

A small CNN over-fits Fashion-MNIST within a few epochs: its training accuracy keeps
climbing while its validation accuracy stalls. Data augmentation shows it a slightly moved
and zoomed copy of every image, drawn anew for every batch, so it cannot memorise the
pixels; evaluation and the test set see the real images. `plot_augmentations` shows a batch
as the model sees it.
"""
        ),
        code(
            "%%cnn small_cnn --data fashion_mnist --epochs 15\n"
            "conv 32 3x3 relu | maxpool 2\nconv 64 3x3 relu | maxpool 2\nflatten\ndense 128 relu"
        ),
        code(
            "%%cnn augmented --data fashion_mnist --epochs 15\n"
            "random_translation 0.1 | random_zoom 0.1\n"
            "conv 32 3x3 relu | maxpool 2\nconv 64 3x3 relu | maxpool 2\nflatten\ndense 128 relu"
        ),
        code("nbmnist.plot_augmentations(augmented)"),
        code(
            """
nbmnist.plot_history([small_cnn, augmented], "accuracy")
for run in (small_cnn, augmented):
    train, held_out = run.history["accuracy"][-1], run.history["val_accuracy"][-1]
    print(f"{run.name}: training {train:.4f}, validation {held_out:.4f}, "
          f"gap {train - held_out:+.4f}, test {run.test_accuracy:.4f}")
"""
        ),
        md(
            """
## Your own data

Any image classification data trains the same way: arrays as `keras.datasets` returns them,
`((x_train, y_train), (x_test, y_test))`, grey or RGB, of any size, with any number of
classes. Input shapes and the output layer follow the data, and every figure and table says
the class names. Here, "your" data is Fashion-MNIST's footwear alone (sandals, sneakers,
ankle boots: three classes) at half resolution, 14x14. On Colab or Binder, `--data cifar10`
trains on CIFAR-10's 32x32 colour images the same way.
"""
        ),
        code(
            """
import numpy as np

fashion = nbmnist.load_dataset("fashion_mnist", warn=False)
footwear_classes = [5, 7, 9]  # Fashion-MNIST's Sandal, Sneaker, Ankle boot


def footwear_only(x, y):
    keep = np.isin(y, footwear_classes)
    # every other pixel (14x14), and the classes renumbered 0, 1, 2
    return x[keep, ::2, ::2], np.searchsorted(footwear_classes, y[keep])


train = footwear_only(fashion.x_train, fashion.y_train)
test = footwear_only(fashion.x_test, fashion.y_test)
footwear = nbmnist.use_data(
    (train, test),
    class_names=["sandal", "sneaker", "ankle boot"],
    name="footwear",
)
footwear
"""
        ),
        code(
            "%%cnn shoes --data footwear --epochs 5\n"
            "conv 16 3x3 relu | maxpool 2\nflatten\ndense 32 relu"
        ),
        code("nbmnist.confusion_matrix(shoes)"),
        code("nbmnist.misclassified(shoes, n=5)"),
        md(
            """
## Accuracy curves with the test accuracy

Train solid, validation dashed, test accuracy dotted, one colour per model.
"""
        ),
        code('nbmnist.plot_history([vanilla, dropout, batchnorm, bn_dropout], "accuracy")'),
        md("## Pairwise comparisons"),
        code(
            """
import matplotlib.pyplot as plt

pairs = [(vanilla, dropout), (vanilla, batchnorm), (vanilla, bn_dropout), (batchnorm, bn_dropout)]
figure, axes = plt.subplots(2, 2, figsize=(12, 8))
for (a, b), ax in zip(pairs, axes.flat):
    nbmnist.plot_history([a, b], "accuracy", ax=ax)
figure.tight_layout()
"""
        ),
        md("## Trained weights"),
        code("nbmnist.plot_weight_violins([vanilla, bn_dropout])"),
        md(
            """
## Which clothes get confused

Fashion-MNIST's classes by name: the confusion matrix of the regularised model, accuracy per
class for the two extremes, and the shirts (class 6) it took for something else.
"""
        ),
        code("nbmnist.confusion_matrix(bn_dropout)"),
        code("nbmnist.per_class_accuracy([vanilla, bn_dropout])"),
        code("nbmnist.misclassified(bn_dropout, n=10, true=6)"),
        md("## Summary, generated from the runs"),
        code('nbmnist.summary_table(sort_by="test accuracy")'),
        md(
            """
## Conclusions

Which regularisation helped on unseen data? The numbers below come from the runs.
"""
        ),
        code(
            CONCLUDE
            + """
for run in (dropout, batchnorm, bn_dropout):
    gap = run.test_accuracy - vanilla.test_accuracy
    print(f"{run.name} vs vanilla: {gap:+.4f} test accuracy")
"""
        ),
    ]
    return new_notebook(cells=cells, metadata=METADATA)


def solution(cell_id: str, text: str) -> nbformat.NotebookNode:
    """A cell whose marked region nbgrader replaces with a stub in the student version."""
    meta = {"grade": False, "solution": True, "locked": False, "grade_id": cell_id}
    return code(text, nbgrader={**meta, "schema_version": 3})


def tests(cell_id: str, text: str, points: int) -> nbformat.NotebookNode:
    """An autograded test cell (hidden tests between nbgrader's HIDDEN TESTS markers)."""
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": cell_id}
    return code(text, nbgrader={**meta, "points": points, "schema_version": 3})


def raw(text: str) -> nbformat.NotebookNode:
    return new_raw_cell(text.strip("\n"))


@dataclass(frozen=True)
class Task:
    """One assignment task: a model cell whose body the student writes, and its checks.

    ``thresholds`` is the least test accuracy a correct run reaches (full data, fast mode on
    the sample), or None: accuracy not checked. Fast mode's come from
    ``tools/assignment_thresholds.py`` (``fair_threshold`` over seeds 0-4); the full data's sit
    below both reproduced seed runs in docs/results.md (see docs/grading.md).
    """

    name: str
    title: str
    prompt: str
    magic: str  # the magic line, given to the student
    answer: str  # the declaration: the solution
    expected: str  # what check_architecture compares the student's model with
    visible: str  # checks the student sees
    thresholds: tuple[float, float] | None
    points: int

    @property
    def hidden(self) -> str:
        """Checks only the grader runs (``nbmnist.grading``)."""
        checks = f'check_architecture({self.name}, "{self.expected}")\n'
        if self.thresholds is None:
            return checks + f"check_training({self.name}, epochs={MLP_EPOCHS})"
        full, fast = self.thresholds
        return checks + (
            f"check_training({self.name}, epochs={MLP_EPOCHS}, "
            f"min_test_accuracy={full} if not {self.name}.uses_sample else {fast})"
        )


TASKS_01 = (
    Task(
        "relu_2h",
        "Task 1: two hidden layers",
        "430 and 322 units, ReLU, He-normal initialisation, batch normalization and dropout 0.5 "
        "after each hidden layer.",
        f"%%mlp relu_2h {MLP_OPTIONS}",
        "430 322 relu he_normal bn dropout=0.5",
        "430 322 relu he_normal bn dropout=0.5",
        'assert relu_2h.status == "completed"',
        (0.97, 0.68),
        2,
    ),
    Task(
        "relu_3h",
        "Task 2: three hidden layers",
        "320, 270 and 162 units, otherwise as in task 1.",
        f"%%mlp relu_3h {MLP_OPTIONS}",
        "dense 320 relu he_normal | bn | dropout 0.5\n"
        "dense 270 relu he_normal | bn | dropout 0.5\n"
        "dense 162 relu he_normal | bn | dropout 0.5",
        "320 270 162 relu he_normal bn dropout=0.5",  # the same layers, in the shorthand
        'assert relu_3h.status == "completed"',
        (0.97, 0.637),
        2,
    ),
    Task(
        "relu_2h_mse",
        "Task 3: mean squared error",
        "The model of task 1, trained with the loss given on the magic line.",
        f"%%mlp relu_2h_mse {MLP_OPTIONS} --loss mse",
        "430 322 relu he_normal bn dropout=0.5",
        "430 322 relu he_normal bn dropout=0.5",
        'assert relu_2h_mse.options["loss"] == "mse"',
        None,
        1,
    ),
)
GRADING_IMPORT = "from nbmnist.grading import check_architecture, check_training"
ASSIGNMENT_INTRO = """
Declare each network in its cell body (one line per layer, or the `%%mlp` units shorthand);
the magic line is given. Run `%%mlp?` for the declaration language. The cells after each
model check your run; the grader runs hidden checks on the same run objects.
"""
SEED_CELL = "%config NbmnistMagics.seed = 0  # repeatable runs for grading"


def assignment_01() -> nbformat.NotebookNode:
    """The nbgrader source version of lesson 01: the declarations are the solution regions."""
    cells = header(
        "notebooks/assignment/01_mlp_mnist_assignment.ipynb",
        "Assignment: MLPs on MNIST",
        ASSIGNMENT_INTRO + DATA_NOTE,
    )
    cells.insert(3, code(SEED_CELL))
    for task in TASKS_01:
        cells += [
            md(f"## {task.title}\n\n{task.prompt}"),
            solution(
                task.name,
                f"{task.magic}\n### BEGIN SOLUTION\n{task.answer}\n### END SOLUTION",
            ),
            tests(
                f"test_{task.name}",
                f"{task.visible}\n### BEGIN HIDDEN TESTS\n{GRADING_IMPORT}\n"
                f"{task.hidden}\n### END HIDDEN TESTS",
                task.points,
            ),
        ]
    cells += [md("## Your results"), code("nbmnist.summary_table()")]
    return new_notebook(cells=cells, metadata=METADATA)


# otter assign's configuration: the autograder zip (for otter run) and the student notebook;
# otter's own intercell seeding skips %% cells, so the notebook's setup cell seeds instead
OTTER_CONFIG = """
# ASSIGNMENT CONFIG
name: 01_mlp_mnist
generate: true
run_tests: false
export_cell: false
"""


def assignment_01_otter() -> nbformat.NotebookNode:
    """The otter-grader master notebook of lesson 01 (otter assign's raw-cell format)."""
    cells = [
        raw(OTTER_CONFIG),
        *header(
            "notebooks/assignment/01_mlp_mnist_otter.ipynb",
            "Assignment: MLPs on MNIST",
            ASSIGNMENT_INTRO + DATA_NOTE,
        ),
        code(SEED_CELL),
    ]
    for task in TASKS_01:
        cells += [
            raw(f"# BEGIN QUESTION\nname: {task.name}\npoints: {task.points}"),
            md(f"## {task.title}\n\n{task.prompt}"),
            raw("# BEGIN SOLUTION"),
            code(f"{task.magic}\n# BEGIN SOLUTION\n{task.answer}\n# END SOLUTION"),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code(task.visible),
            code(f"# HIDDEN\n{GRADING_IMPORT}\n{task.hidden}"),
            raw("# END TESTS"),
            raw("# END QUESTION"),
        ]
    cells += [md("## Your results"), code("nbmnist.summary_table()")]
    return new_notebook(cells=cells, metadata=METADATA)


METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
NOTEBOOKS = {
    "01_mlp_mnist.ipynb": notebook_01,
    "02_cnn_mnist.ipynb": notebook_02,
    "03_fashion_mnist_regularization.ipynb": notebook_03,
}


ASSIGNMENTS = {
    "assignment/01_mlp_mnist_assignment.ipynb": assignment_01,
    "assignment/01_mlp_mnist_otter.ipynb": assignment_01_otter,
}


def main() -> None:
    for name, build in {**NOTEBOOKS, **ASSIGNMENTS}.items():
        path = REPO / "notebooks" / name
        path.parent.mkdir(exist_ok=True)
        notebook = build()
        for index, cell in enumerate(notebook.cells):  # stable ids: rebuilds diff cleanly
            cell.id = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]
        nbformat.write(notebook, path)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
