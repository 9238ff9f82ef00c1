"""Your own data and CIFAR-10: any image size, grey or RGB, any number of classes, through
every cell, figure, table, grading helper and ``--show-code``; CIFAR-10 from its archive,
checked as MNIST is."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nbmnist
from nbmnist.data import DATASETS, SAMPLE_SIZES, clear_cache, data_shape, load_dataset, use_data
from nbmnist.display.console import ConsoleDisplay
from nbmnist.errors import DataError, DeclarationError, GradingError, OptionError
from nbmnist.grading import check_architecture
from nbmnist.tables import data_label
from tests.conftest import Shell, run_generated_code

pytestmark = pytest.mark.filterwarnings("ignore::nbmnist.SampleDataWarning")

NAMES = ("zero", "one", "two", "three", "four")
SMALL_CNN = "conv 8 3x3 relu\nmaxpool 2"


def digits_rgb() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The bundled sample's 0-4, padded to 32x32 and coloured (red: the digit, green: half
    of it, blue: its negative), labels (N, 1) as CIFAR's: real images at another shape,
    channel count and number of classes."""
    sample = load_dataset("mnist", source="sample")

    def rgb(x: np.ndarray) -> np.ndarray:
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
        return np.stack([x, x // 2, 255 - x], axis=-1).astype(np.uint8)

    train, test = sample.y_train < 5, sample.y_test < 5
    return (
        (rgb(sample.x_train[train]), sample.y_train[train].reshape(-1, 1)),
        (rgb(sample.x_test[test]), sample.y_test[test].reshape(-1, 1)),
    )


@pytest.fixture
def digits() -> nbmnist.Dataset:
    return use_data(digits_rgb(), class_names=NAMES, name="digits")


# --- use_data: what it takes, and a one-line error for what it does not -----------------


def test_use_data_checks_and_describes_the_arrays(digits: nbmnist.Dataset) -> None:
    assert digits.image_shape == (32, 32, 3) and digits.num_classes == 5
    assert digits.class_names == NAMES and digits.title == "digits"
    assert digits.y_train.shape == (len(digits.x_train),)  # (N, 1) labels flattened
    assert not digits.x_train.flags.writeable
    assert data_shape("digits") == ((32, 32, 3), 5)
    assert load_dataset("digits") is digits
    assert "digits" in nbmnist.data.data_names()


def test_use_data_copies_so_later_changes_to_the_arrays_do_not_leak() -> None:
    x = np.zeros((4, 6, 6), np.uint8)
    y = np.array([0, 1, 0, 1])
    dataset = use_data(((x, y), (x, y)))
    x[:] = 255
    assert dataset.name == "my_data" and dataset.x_train.max() == 0
    assert dataset.class_names == ("0", "1") and dataset.image_shape == (6, 6, 1)


def test_use_data_takes_floats_and_small_integers() -> None:
    floats = np.random.default_rng(0).random((5, 4, 3, 1), dtype=np.float32)
    ints = np.arange(5 * 12, dtype=np.int64).reshape(5, 4, 3, 1)
    labels = np.array([0, 1, 2, 1, 0])
    dataset = use_data(((floats, labels), (ints, labels)), name="mixed")
    assert dataset.x_train.dtype == dataset.x_test.dtype == np.float32  # one dtype for both
    assert float(dataset.x_test.max()) == pytest.approx(59 / 255)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ([1, 2, 3], {}, r"data must be \(\(x_train, y_train\), \(x_test, y_test\)\)"),
        (
            ((np.zeros((3, 8, 8, 2)), [0, 1, 0]), (np.zeros((1, 8, 8, 2)), [0])),
            {},
            r"x_train has shape \(3, 8, 8, 2\); images must be \(N, height, width\)",
        ),
        (
            ((np.full((3, 8, 8), 2.0), [0, 1, 0]), (np.zeros((1, 8, 8)), [0])),
            {},
            r"x_train holds floats from 2 to 2; scale pixels to \[0, 1\]",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, -1, 0]), (np.zeros((1, 8, 8)), [0])),
            {},
            "y_train holds -1; class indices start at 0",
        ),
        (
            ((np.zeros((2, 8, 8)), np.eye(2)), (np.zeros((1, 8, 8)), [0])),
            {},
            r"one-hot labels: y.argmax\(axis=1\)",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, 1]), (np.zeros((1, 8, 8)), [0])),
            {},
            "3 train images but 2 labels",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, 1, 0]), (np.zeros((1, 9, 8)), [0])),
            {},
            r"train images are \(8, 8\) but test images \(9, 8\)",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, 1, 2]), (np.zeros((1, 8, 8)), [0])),
            {"class_names": ["a", "b"]},
            "class_names has 2 names but the labels reach 2",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, 1, 0]), (np.zeros((1, 8, 8)), [0])),
            {"name": "mnist"},
            "'mnist' is a known dataset's name",
        ),
        (
            ((np.zeros((3, 8, 8)), [0, 1, 0]), (np.zeros((1, 8, 8)), [0])),
            {"name": "my data"},
            "name must be a Python identifier",
        ),
    ],
    ids=[
        "not-pairs",
        "two-channels",
        "floats-over-1",
        "negative-label",
        "one-hot",
        "lengths",
        "shapes-differ",
        "too-few-names",
        "known-name",
        "bad-name",
    ],
)
def test_use_data_refuses_in_one_line(data: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        use_data(data, **kwargs)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("use_data: ")
    assert nbmnist.data.data_names() == tuple(DATASETS)  # nothing registered


def test_unknown_data_says_how_to_bring_your_own() -> None:
    with pytest.raises(OptionError, match=r"unknown data 'flowers'; .*nbmnist.use_data"):
        nbmnist.train("dense 8", data="flowers")


# --- training, figures, tables, grading -----------------------------------------------


def test_a_cnn_trains_on_rgb_images_of_five_classes(digits: nbmnist.Dataset) -> None:
    run = nbmnist.train(SMALL_CNN, "cnn", data="digits", epochs=2, seed=0, display=ConsoleDisplay())
    assert run.plan["input_shape"] == [32, 32, 3] and run.plan["classes"] == 5
    assert run.model.output_shape == (None, 5)
    assert run.test_accuracy is not None and run.test_accuracy > 0.5  # chance: 0.2
    assert not run.uses_sample and "your data 'digits'" in run.data_source

    probabilities = nbmnist.predict(run, digits.x_test[:3])
    assert probabilities.shape == (3, 5)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(OptionError, match=r"images must be 32x32x3 \(3072 values\)"):
        nbmnist.predict(run, np.zeros((28, 28), np.uint8))

    confusion = nbmnist.confusion_matrix(run)
    assert confusion.counts.shape == (5, 5) and confusion.counts.sum() == len(digits.y_test)
    ticks = [t.get_text() for t in confusion.figure.axes[0].get_xticklabels()]
    assert ticks == list(NAMES)
    mistakes = nbmnist.misclassified(run, n=3)
    assert mistakes.figure.axes[0].images[0].get_array().shape == (32, 32, 3)  # in colour
    first = mistakes.figure.axes[0].get_title()
    assert first.startswith(f"{NAMES[mistakes.true[0]]} → {NAMES[mistakes.predicted[0]]}")
    assert nbmnist.plot_filters(run).axes[0].images[0].get_array().shape == (3, 3, 3)
    maps = nbmnist.plot_feature_maps(run, digits.x_test[0])
    assert maps.axes[0].images[0].get_array().shape == (32, 32, 3)
    rows = nbmnist.per_class_accuracy(run).rows
    assert [row[0] for row in rows] == [f"{i} {name}" for i, name in enumerate(NAMES)] + ["all"]

    assert nbmnist.plot_weight_violins([run]) is not None
    assert run.activation_quantiles and nbmnist.plot_activation_history(run) is not None
    augmented = nbmnist.plot_augmentations("random_contrast 0.5\nconv 4 3x3", data="digits", n=2)
    assert augmented.axes[0].images[0].get_array().shape == (32, 32, 3)
    assert "32×32×3" in _texts(nbmnist.plot_architecture(run)) or "32x32x3" in _texts(
        nbmnist.plot_architecture(run)
    )
    table = str(nbmnist.summary_table([run]))
    assert "digits" in table

    check_architecture(run, "conv 8 3x3 relu | maxpool 2")
    with pytest.raises(GradingError):
        check_architecture(run, "conv 16 3x3 relu | maxpool 2")


def _texts(figure: Any) -> str:
    return " ".join(text.get_text() for axis in figure.axes for text in axis.texts)


def test_an_mlp_takes_grey_floats_of_another_size() -> None:
    sample = load_dataset("mnist", source="sample")
    crop = (sample.x_train[:2000, 4:24, 4:24] / 255).astype(np.float32)
    test = (sample.x_test[:300, 4:24, 4:24] / 255).astype(np.float32)
    use_data(((crop, sample.y_train[:2000]), (test, sample.y_test[:300])), name="crops")
    run = nbmnist.train("dense 32 relu", data="crops", epochs=3, seed=0, display=ConsoleDisplay())
    assert run.plan["input_shape"] == [400] and run.plan["image_shape"] == [20, 20, 1]
    assert run.test_accuracy is not None and run.test_accuracy > 0.5
    code = nbmnist.to_keras_code("dense 32 relu", data="crops")
    assert 'reshape(-1, 400).astype("float32")\n' in code  # floats: not divided again


def test_the_layers_are_checked_for_the_datas_images() -> None:
    tiny = np.zeros((4, 8, 8), np.uint8)
    use_data(((tiny, [0, 1, 0, 1]), (tiny, [0, 1, 0, 1])), name="tiny")
    with pytest.raises(DeclarationError, match="line 3") as caught:
        nbmnist.train("conv 4 3x3\nmaxpool 2\nconv 4 5x5", "cnn", data="tiny")
    assert "larger than the 3x3 feature map" in str(caught.value)
    # seven 5x5 convolutions take 32x32 images (to 4x4) but not MNIST's 28x28
    deep = "\n".join(["conv 4 5x5"] * 7)
    with pytest.raises(DeclarationError):
        nbmnist.train(deep, "cnn", epochs=1)
    cifar_like = np.zeros((4, 32, 32, 3), np.uint8)
    use_data(((cifar_like, [0, 1, 0, 1]), (cifar_like, [0, 1, 0, 1])), name="big")
    run = nbmnist.train(deep, "cnn", data="big", epochs=1, display=ConsoleDisplay())
    assert run.model.layers[6].output.shape[1:3] == (4, 4)


def test_printed_code_trains_the_same_model_on_own_data(
    digits: nbmnist.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = f"random_rotation 0.05\n{SMALL_CNN}\nflatten\ndense 16 relu"
    options = {"epochs": 1, "train_size": 600, "data": "digits"}
    run = nbmnist.train(body, "cnn", display=ConsoleDisplay(), **options)  # type: ignore[arg-type]
    code = nbmnist.to_keras_code(body, "cnn", **options)  # type: ignore[arg-type]
    assert "= digits  # your arrays (--data digits), labels 0-4" in code
    calls = run_generated_code(code, monkeypatch, train=False, namespace={"digits": digits_rgb()})
    printed, trained = calls["model"], run.model
    assert printed.count_params() == trained.count_params() == run.num_params
    assert [layer.get_config() | {"name": ""} for layer in printed.layers] == [
        layer.get_config() | {"name": ""} for layer in trained.layers
    ]
    assert calls["namespace"]["x_train"].shape[1:] == (32, 32, 3)
    assert calls["namespace"]["y_train"].shape[1] == 5


def test_the_magic_takes_a_notebook_variable(shell: Shell) -> None:
    shell.ns["flowers"] = digits_rgb()
    shell.run(f"%%cnn petals --data flowers --epochs 2 --seed 0 --no-live\n{SMALL_CNN}")
    run = shell.ns["petals"]
    assert run.options["data"] == "flowers" and run.plan["classes"] == 5
    assert run.test_accuracy is not None and run.test_accuracy > 0.5
    shell.ns["broken"] = [1, 2, 3]
    error = shell.run_expecting_error("%%mlp nope --data broken --epochs 1\ndense 8")
    assert str(error).startswith("--data broken: data must be ((x_train, y_train)")
    assert "nope" not in shell.ns


def test_a_sweep_of_own_data_trains_in_the_kernel(digits: nbmnist.Dataset) -> None:
    runs = nbmnist.sweep(
        "dense {units} relu",
        "mlp",
        "widths",
        {"units": ["8", "16"]},
        data="digits",
        epochs=1,
        train_size=600,
        live=False,
    )
    assert [run.plan["classes"] for run in runs] == [5, 5]
    with pytest.raises(OptionError, match="use --executor kernel"):
        nbmnist.sweep(
            "dense {units}", "mlp", "w", {"units": ["8"]}, data="digits", executor="processes"
        )


def test_fast_mode_cuts_data_that_has_no_sample(capsys: pytest.CaptureFixture[str]) -> None:
    x = np.zeros((SAMPLE_SIZES[0] + 50, 4, 4), np.uint8)
    y = np.arange(len(x)) % 3
    use_data(((x, y), (x[:1500], y[:1500])), name="many")
    cut = load_dataset("many", source="sample")
    assert (len(cut.y_train), len(cut.y_test)) == SAMPLE_SIZES and cut.is_sample
    assert load_dataset("many", source="sample") is cut  # made once
    capsys.readouterr()
    run = nbmnist.train("dense 8", data="many", fast=True, display=ConsoleDisplay())
    assert run.uses_sample and "fast mode" in run.data_source
    assert data_label([run]) == "many test set (first images)"
    said = "NOTE: training on the first 6,000 train / 1,000 test images of many: fast mode"
    assert said in capsys.readouterr().out
    nbmnist.train("dense 8", data="many", fast=True, display=ConsoleDisplay())
    again = "NOTE: training on the first 6,000 train / 1,000 test images of many (see above)"
    assert again in capsys.readouterr().out


def test_a_run_whose_data_is_gone_says_how_to_bring_it_back(digits: nbmnist.Dataset) -> None:
    run = nbmnist.train("dense 8", data="digits", epochs=1, display=ConsoleDisplay())
    clear_cache(own=True)  # as a restarted kernel
    with pytest.raises(OptionError, match=r"nbmnist.use_data\(.*name='digits'\)"):
        nbmnist.confusion_matrix(run)


def test_train_takes_the_arrays_or_a_dataset() -> None:
    sample = load_dataset("mnist", source="sample")
    arrays = (
        (sample.x_train[:600], sample.y_train[:600]),
        (sample.x_test[:100], sample.y_test[:100]),
    )
    run = nbmnist.train("dense 8", data=arrays, epochs=1, display=ConsoleDisplay())
    assert run.options["data"] == "my_data"
    named = use_data(arrays, name="firsts")
    assert (
        nbmnist.train("dense 8", data=named, epochs=1, display=ConsoleDisplay()).options["data"]
        == "firsts"
    )


# --- CIFAR-10 -------------------------------------------------------------------------


def fake_cifar(path: Path, per_batch: int = 20, bad_class: bool = False) -> str:
    """An archive laid out as the official ``cifar-10-python.tar.gz`` (five training
    batches and a test batch, python pickles of bytes-keyed dicts), of random images;
    returns its SHA-256."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
            batch: dict[bytes, Any] = {
                b"batch_label": name.encode(),
                b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            }
            if bad_class:
                batch[b"data"] = io.StringIO("not an array")  # a class CIFAR never holds
            # protocol 4 writes bytes as bytes, as the official Python 2 pickles read
            raw = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cifar_with(digest: str, origin: str | None = None) -> Any:
    import dataclasses

    info = DATASETS["cifar10"]
    assert info.archive is not None
    downloads = info.downloads
    if origin is not None:
        downloads = ((downloads[0][0], origin, digest),)
    return dataclasses.replace(info, archive=(info.archive[0], digest), downloads=downloads)


def test_cifar10_is_read_from_its_checked_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = fake_cifar(tmp_path / "cifar-10-python.tar.gz")
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"SHA-256 .* is not that of CIFAR-10's"):
        load_dataset("cifar10")  # the real checksum: this is not the official file
    monkeypatch.setitem(DATASETS, "cifar10", _cifar_with(digest))
    clear_cache()
    dataset = load_dataset("cifar-10")
    assert dataset.x_train.shape == (100, 32, 32, 3) and dataset.x_test.shape == (20, 32, 32, 3)
    assert dataset.image_shape == (32, 32, 3) and dataset.class_names[0] == "airplane"
    assert dataset.title == "CIFAR-10" and not dataset.is_sample
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz") as tar:
        handle = tar.extractfile("cifar-10-batches-py/data_batch_1")
        assert handle is not None
        first = pickle.load(handle, encoding="bytes")
    red, green = first[b"data"][0, :1024], first[b"data"][0, 1024:2048]  # planes, row-major
    assert np.array_equal(dataset.x_train[0, :, :, 0].ravel(), red)
    assert np.array_equal(dataset.x_train[0, :, :, 1].ravel(), green)
    assert list(dataset.y_train[:20]) == first[b"labels"]


def test_cifar10_refuses_anything_but_arrays_in_its_pickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = fake_cifar(tmp_path / "cifar-10-python.tar.gz", bad_class=True)
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    monkeypatch.setitem(DATASETS, "cifar10", _cifar_with(digest))
    with pytest.raises(DataError, match=r"not a readable CIFAR-10 archive .*not allowed"):
        load_dataset("cifar10")


def test_cifar10_downloads_through_keras_get_file_and_has_no_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror.tar.gz"
    digest = fake_cifar(mirror)
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "0")
    with pytest.raises(DataError, match=r"CIFAR-10: .*nbmnist ships no sample of it"):
        load_dataset("cifar10")
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "1")
    missing = (tmp_path / "nowhere.tar.gz").as_uri()
    monkeypatch.setitem(DATASETS, "cifar10", _cifar_with(digest, missing))
    with pytest.raises(DataError, match=r"CIFAR-10: offline.*ships no sample"):
        load_dataset("cifar10")
    monkeypatch.setitem(DATASETS, "cifar10", _cifar_with(digest, mirror.as_uri()))
    dataset = load_dataset("cifar10")
    cached = home / "datasets" / "cifar-10-batches-py-target"  # Keras' own loader's name
    assert dataset.source == str(cached) and cached.is_file()
    clear_cache()
    assert load_dataset("cifar10", source="download").source == str(cached)


def test_a_cifar10_cell_trains_what_its_printed_code_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    digest = fake_cifar(tmp_path / "cifar-10-python.tar.gz")
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    monkeypatch.setitem(DATASETS, "cifar10", _cifar_with(digest))
    assert data_shape("cifar10") == ((32, 32, 3), 10)
    run = nbmnist.train(SMALL_CNN, "cnn", data="cifar10", epochs=1, display=ConsoleDisplay())
    assert run.plan["image_shape"] == [32, 32, 3] and run.model.output_shape == (None, 10)
    code = nbmnist.to_keras_code(SMALL_CNN, "cnn", data="cifar10", epochs=1)
    assert "keras.datasets.cifar10.load_data()" in code
    dataset = load_dataset("cifar10")
    # as Keras' loader returns it: labels (N, 1)
    arrays = (
        (dataset.x_train, dataset.y_train.reshape(-1, 1)),
        (dataset.x_test, dataset.y_test.reshape(-1, 1)),
    )
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: arrays)
    calls = run_generated_code(code, monkeypatch, train=False)
    printed, trained = calls["model"], run.model
    assert printed.count_params() == trained.count_params() == run.num_params
    assert [layer.get_config() | {"name": ""} for layer in printed.layers] == [
        layer.get_config() | {"name": ""} for layer in trained.layers
    ]
    assert calls["namespace"]["y_train"].shape == (100, 10)
