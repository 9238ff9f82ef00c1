"""Every model of the five seed notebooks: the seed's own Keras code and our declaration.

The Keras lines are the seeds' ``model.add(...)`` lines as transcribed in ``../shared/seeds``
(OCR noise such as ``he normal()`` for ``he_normal()`` repaired; seed 004's list-style
``Sequential([...])`` written as ``add`` calls). ``printed`` is (total, non-trainable)
parameters where the seed printed a model summary. Sweep models use ``{rate}`` with the
seed's ``i*0.01`` at ``i=3``. Seed 001's third model is listed twice: its code and the summary
printed under it disagree (the notebook was evidently run with a different cell).
"""

from __future__ import annotations

from typing import NamedTuple


class SeedModel(NamedTuple):
    seed: str
    label: str
    kind: str
    declaration: str
    keras_lines: tuple[str, ...]
    printed: tuple[int, int] | None = None


SWEEP_RATE = 3 * 0.01  # the seed's rate=(i*0.01) at i=3

SEED_MODELS: list[SeedModel] = [
    SeedModel(
        "000",
        "2 hidden, dropout 0.5",
        "mlp",
        "430 322 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(430, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(322, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (482570, 1504),
    ),
    SeedModel(
        "000",
        "3 hidden, dropout 0.5",
        "mlp",
        "320 270 162 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(320, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(270, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(162, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (386410, 1504),
    ),
    SeedModel(
        "000",
        "5 hidden, dropout 0.5",
        "mlp",
        "340 190 112 72 38 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(340, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(190, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(112, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(72, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(38, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (367390, 1504),
    ),
    SeedModel(
        "000",
        "2 hidden, dropout 0.25",
        "mlp",
        "430 322 relu he_normal bn dropout=0.25\n",
        (
            "model.add(Dense(430, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(322, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (482570, 1504),
    ),
    SeedModel(
        "000",
        "3 hidden, dropout 0.25",
        "mlp",
        "320 270 162 relu he_normal bn dropout=0.25\n",
        (
            "model.add(Dense(320, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(270, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(162, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (386410, 1504),
    ),
    SeedModel(
        "000",
        "5 hidden, dropout 0.25",
        "mlp",
        "340 190 112 72 38 relu he_normal bn dropout=0.25\n",
        (
            "model.add(Dense(340, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(190, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(112, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(72, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(38, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.25))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (367390, 1504),
    ),
    SeedModel(
        "000",
        "2 hidden, MSE",
        "mlp",
        "430 322 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(430, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(322, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (482570, 1504),
    ),
    SeedModel(
        "000",
        "3 hidden, MSE",
        "mlp",
        "320 270 162 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(320, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(270, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(162, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (386410, 1504),
    ),
    SeedModel(
        "000",
        "5 hidden, MSE",
        "mlp",
        "340 190 112 72 38 relu he_normal bn dropout=0.5\n",
        (
            "model.add(Dense(340, activation='relu', input_shape=(input_dim,), kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(190, activation='relu', kernel_initializer=he_normal()) )",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(112, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(72, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(38, activation='relu', kernel_initializer=he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.5))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (367390, 1504),
    ),
    SeedModel(
        "001",
        "512-128, dropout 0.4",
        "mlp",
        "dense 512 relu | dropout 0.4\ndense 128 relu\n",
        (
            "model.add(Dense(512, activation='relu', input_shape=(input_dim,)))",
            "model.add(Dropout(0.4))",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (468874, 0),
    ),
    SeedModel(
        "001",
        "500-300-100, dropout 0.4, BN",
        "mlp",
        "dense 500 relu | dropout 0.4\ndense 300 relu | bn | dropout 0.4\ndense 100 relu | bn\n",
        (
            "model.add(Dense(500, activation='relu', input_shape=(input_dim,)))",
            "model.add(Dropout(0.4))",
            "model.add(Dense(300, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.4))",
            "model.add(Dense(100, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (575510, 800),
    ),
    SeedModel(
        "001",
        "500-400-300-300-200-50 as coded",
        "mlp",
        "dense 500 relu | dropout 0.3\n400 300 300 200 relu\nbn\ndense 50 relu | bn | bn\n",
        (
            "model.add(Dense(500, activation='relu', input_shape=(input_dim,)))",
            "model.add(Dropout(0.3))",
            "model.add(Dense(400, activation='relu'))",
            "model.add(Dense(300, activation='relu'))",
            "model.add(Dense(300, activation='relu'))",
            "model.add(Dense(200, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dense(50, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(BatchNormalization())",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
    ),
    SeedModel(
        "001",
        "500-400-300-200-50 as printed (the code above it differs)",
        "mlp",
        "500 400 300 relu dropout=0.3\ndense 200 relu | bn | dropout 0.3\ndense 50 relu | bn\n",
        (
            "model.add(Dense(500, activation='relu', input_shape=(input_dim,)))",
            "model.add(Dropout(0.3))",
            "model.add(Dense(400, activation='relu'))",
            "model.add(Dropout(0.3))",
            "model.add(Dense(300, activation='relu'))",
            "model.add(Dropout(0.3))",
            "model.add(Dense(200, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dropout(0.3))",
            "model.add(Dense(50, activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dense(output_dim, activation='softmax'))",
        ),
        (784960, 500),
    ),
    SeedModel(
        "002",
        "3 conv 3x3, dropout + BN",
        "cnn",
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn x2\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "3 conv 5x5 stride 2, dropout + BN",
        "cnn",
        "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 5x5 stride 2 relu he_normal | dropout 0.25 | bn\n"
        "conv 64 5x5 same relu he_normal | dropout 0.25 | bn\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "3 conv 7x7, dropout only",
        "cnn",
        "conv 32 7x7 stride 2 relu he_normal | maxpool 2 | dropout 0.25\n"
        "conv 64 7x7 same relu he_normal | dropout 0.25 x2\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5\n",
        (
            "model.add(Conv2D(32, (7, 7), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "3 conv mixed kernels, BN only",
        "cnn",
        "conv 32 5x5 stride 2 valid relu he_normal | maxpool 2 | bn\n"
        "conv 64 3x3 same relu he_normal | bn\n"
        "conv 64 7x7 same relu he_normal | bn\n"
        "flatten\n"
        "dense 128 relu he_normal | bn\n",
        (
            "model.add(Conv2D(32, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "5 conv 3x3, dropout + BN",
        "cnn",
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | dropout 0.25 | bn x3\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "5 conv 5x5, dropout + BN",
        "cnn",
        "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 5x5 stride 2 relu he_normal | dropout 0.25 | bn\n"
        "conv 64 5x5 same relu he_normal | dropout 0.25 | bn x3\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "5 conv 7x7, dropout",
        "cnn",
        "conv 32 7x7 stride 2 relu he_normal | maxpool 2 | dropout 0.25\n"
        "conv 64 7x7 same relu he_normal | dropout 0.25 x4\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (7, 7), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "5 conv mixed kernels, BN only",
        "cnn",
        "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | bn\n"
        "conv 64 3x3 same relu he_normal | bn\n"
        "conv 64 7x7 same relu he_normal | bn x3\n"
        "flatten\n"
        "dense 128 relu he_normal | bn\n",
        (
            "model.add(Conv2D(32, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "7 conv 3x3, dropout + BN",
        "cnn",
        "conv 32 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 3x3 same relu he_normal | dropout 0.25 | bn x5\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (3, 3), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "7 conv 5x5, dropout + BN",
        "cnn",
        "conv 32 5x5 stride 2 relu he_normal | maxpool 2 | dropout 0.25 | bn\n"
        "conv 64 5x5 stride 2 relu he_normal | dropout 0.25 | bn\n"
        "conv 64 5x5 same relu he_normal | dropout 0.25 | bn x5\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "7 conv 7x7, dropout",
        "cnn",
        "conv 32 7x7 stride 2 relu he_normal | maxpool 2 | dropout 0.25\n"
        "conv 64 7x7 same relu he_normal | dropout 0.25 x6\n"
        "flatten\n"
        "dense 128 relu he_normal | dropout 0.5 | bn\n",
        (
            "model.add(Conv2D(32, (7, 7), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.25))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "002",
        "7 conv mixed kernels, BN only",
        "cnn",
        "conv 32 3x3 stride 2 relu he_normal | maxpool 2 | bn\n"
        "conv 64 5x5 same relu he_normal | bn\n"
        "conv 64 7x7 same relu he_normal | bn x5\n"
        "flatten\n"
        "dense 128 relu he_normal | bn\n",
        (
            "model.add(Conv2D(32, (3, 3), activation='relu', strides= 2, padding= 'valid', kernel_initializer = he_normal(), input_shape=input_shape))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (5, 5), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, (7, 7), activation='relu', padding= 'same', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu', kernel_initializer = he_normal()))",
            "model.add(BatchNormalization())",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
    ),
    SeedModel(
        "003",
        "Keras example CNN",
        "cnn",
        "conv 32 3x3 relu\n"
        "conv 64 3x3 relu\n"
        "maxpool 2\n"
        "dropout 0.25\n"
        "flatten\n"
        "dense 128 relu\n"
        "dropout 0.5\n",
        (
            "model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=input_shape))",
            "model.add(Conv2D(64, (3, 3), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2, 2)))",
            "model.add(Dropout(0.25))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dropout(0.5))",
            "model.add(Dense(num_classes, activation='softmax'))",
        ),
        (1199882, 0),
    ),
    SeedModel(
        "003",
        "mdl_1: 7x7, 5x5, 5x5",
        "cnn",
        "conv 32 7x7 relu\n"
        "conv 64 5x5 relu\n"
        "maxpool 2\n"
        "conv 128 5x5 relu\n"
        "flatten\n"
        "dense 128 relu\n",
        (
            "model.add(Conv2D(32, kernel_size=(7,7), activation='relu', input_shape=(input_shape)))",
            "model.add(Conv2D(64, kernel_size=(5,5), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2,2)))",
            "model.add(Conv2D(128, kernel_size=(5,5), activation='relu'))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(num_clas, activation='softmax'))",
        ),
        (668810, 0),
    ),
    SeedModel(
        "003",
        "dropout sweep on mdl_1 (rate = i*0.01, here i=3)",
        "cnn",
        "conv 32 7 relu | conv 64 5 relu | maxpool 2 | conv 128 5 relu\n"
        "flatten\n"
        "dense 128 relu\n"
        "dropout {rate}\n",
        (
            "model.add(Conv2D(32, kernel_size=(7,7), activation='relu', input_shape=(input_shape)))",
            "model.add(Conv2D(64, kernel_size=(5,5), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2,2)))",
            "model.add(Conv2D(128, kernel_size=(5,5), activation='relu'))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dropout(rate=(i*0.01)))",
            "model.add(Dense(num_clas, activation='softmax'))",
        ),
    ),
    SeedModel(
        "003",
        "mdl_2: mdl_1 with dropout 0.0",
        "cnn",
        "conv 32 7x7 relu\n"
        "conv 64 5x5 relu\n"
        "maxpool 2\n"
        "conv 128 5x5 relu\n"
        "dropout 0.0\n"
        "flatten\n"
        "dense 128 relu\n"
        "dropout 0.0\n",
        (
            "model.add(Conv2D(32,kernel_size=(7,7), activation='relu',input_shape=(input_shape)))",
            "model.add(Conv2D(64,kernel_size=(5,5), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2,2)))",
            "model.add(Conv2D(128,kernel_size=(5,5), activation='relu'))",
            "model.add(Dropout(rate=0.0))",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dropout(rate=0.0))",
            "model.add(Dense(num_clas,activation='softmax'))",
        ),
        (668810, 0),
    ),
    SeedModel(
        "003",
        "mdl_3: 5 conv with BN",
        "cnn",
        "conv 32 3x3 relu x2\n"
        "maxpool 2\n"
        "conv 32 5x5 relu | bn\n"
        "conv 64 3x3 relu\n"
        "maxpool 2\n"
        "conv 128 2x2 relu | bn\n"
        "flatten\n"
        "dense 128 relu\n",
        (
            "model.add(Conv2D(32,kernel_size=(3,3), activation='relu',input_shape=(input_shape)))",
            "model.add(Conv2D(32,kernel_size=(3,3), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2,2)))",
            "model.add(Conv2D(32,kernel_size=(5,5), activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64,kernel_size=(3,3), activation='relu'))",
            "model.add(MaxPooling2D(pool_size=(2,2)))",
            "model.add(Conv2D(128,kernel_size=(2,2), activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(num_clas,activation='softmax'))",
        ),
        (154186, 320),
    ),
    SeedModel(
        "003",
        "mdl_4: 7 conv, dropout 0.0, BN",
        "cnn",
        "conv 32 3 relu x3\n"
        "dropout 0\n"
        "conv 64 3 relu x2\n"
        "dropout 0 | bn\n"
        "conv 64 5 relu\n"
        "conv 128 2 relu | bn\n"
        "flatten\n"
        "dense 128 relu\n",
        (
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu', input_shape=(input_shape)))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=0.0))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=0.0))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, kernel_size=(5,5), activation='relu'))",
            "model.add(Conv2D(128, kernel_size=(2,2), activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(num_clas, activation='softmax'))",
        ),
        (2980682, 384),
    ),
    SeedModel(
        "003",
        "dropout sweep on mdl_4 (rate = i*0.01, here i=3)",
        "cnn",
        "conv 32 3 relu x3\n"
        "dropout {rate}\n"
        "conv 64 3 relu x2\n"
        "dropout {rate} | bn\n"
        "conv 64 5 relu\n"
        "conv 128 2 relu | bn\n"
        "flatten\n"
        "dense 128 relu\n",
        (
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu', input_shape=(input_shape)))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=(i*0.01)))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=(i*0.01)))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, kernel_size=(5,5), activation='relu'))",
            "model.add(Conv2D(128, kernel_size=(2,2), activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(num_clas, activation='softmax'))",
        ),
        (2980682, 384),
    ),
    SeedModel(
        "003",
        "mdl_5: mdl_4 with dropout 0.2",
        "cnn",
        "conv 32 3 relu x3\n"
        "dropout 0.2\n"
        "conv 64 3 relu x2\n"
        "dropout 0.2 | bn\n"
        "conv 64 5 relu\n"
        "conv 128 2 relu | bn\n"
        "flatten\n"
        "dense 128 relu\n",
        (
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu', input_shape=(input_shape)))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(32, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=0.2))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Conv2D(64, kernel_size=(3,3), activation='relu'))",
            "model.add(Dropout(rate=0.2))",
            "model.add(BatchNormalization())",
            "model.add(Conv2D(64, kernel_size=(5,5), activation='relu'))",
            "model.add(Conv2D(128, kernel_size=(2,2), activation='relu'))",
            "model.add(BatchNormalization())",
            "model.add(Flatten())",
            "model.add(Dense(128, activation='relu'))",
            "model.add(Dense(num_clas, activation='softmax'))",
        ),
        (2980682, 384),
    ),
    SeedModel(
        "004",
        "vanilla 196-49",
        "mlp",
        "dense 196 | relu\ndense 49 | relu\ndense 10 | softmax\n",
        (
            "model.add(Dense(196, input_shape = (784, )))",
            "model.add(Activation('relu'))",
            "model.add(Dense(49))",
            "model.add(Activation('relu'))",
            "model.add(Dense(10))",
            "model.add(Activation('softmax'))",
        ),
    ),
    SeedModel(
        "004",
        "dropout 392-98-24",
        "mlp",
        "dense 392 | relu | dropout 0.5\n"
        "dense 98 | relu | dropout 0.5\n"
        "dense 24 | relu | dropout 0.5\n"
        "dense 10 | softmax\n",
        (
            "model.add(Dense(392, input_shape = (784, )))",
            "model.add(Activation('relu'))",
            "model.add(Dropout(0.5))",
            "model.add(Dense(98))",
            "model.add(Activation('relu'))",
            "model.add(Dropout(0.5))",
            "model.add(Dense(24))",
            "model.add(Activation('relu'))",
            "model.add(Dropout(0.5))",
            "model.add(Dense(10))",
            "model.add(Activation('softmax'))",
        ),
    ),
    SeedModel(
        "004",
        "batch normalization 196-49",
        "mlp",
        "dense 196 | relu | bn\ndense 49 | relu | bn\ndense 10 | softmax\n",
        (
            "model.add(Dense(196, input_shape = (784, )))",
            "model.add(Activation('relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dense(49))",
            "model.add(Activation('relu'))",
            "model.add(BatchNormalization())",
            "model.add(Dense(10))",
            "model.add(Activation('softmax'))",
        ),
    ),
    SeedModel(
        "004",
        "dropout + batch normalization 196-49",
        "mlp",
        "dense 196 | relu | dropout 0.5 | bn\n"
        "dense 49 | relu | dropout 0.5 | bn\n"
        "dense 10 | softmax\n",
        (
            "model.add(Dense(196, input_shape = (784, )))",
            "model.add(Activation('relu'))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(49))",
            "model.add(Activation('relu'))",
            "model.add(Dropout(0.5))",
            "model.add(BatchNormalization())",
            "model.add(Dense(10))",
            "model.add(Activation('softmax'))",
        ),
    ),
]
