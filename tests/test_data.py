"""Data sources, in order, and the checks on every file."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from nbmnist import DataError, SampleDataWarning, load_dataset
from nbmnist.data import (
    DATASETS,
    OFFLINE,
    SAMPLE_DIR,
    SPLITS,
    clear_cache,
    read_idx,
    write_idx,
)
from tests.conftest import Shell


def copy_sample(dest: Path, folder: str = "mnist", gz: bool = True) -> Path:
    target = dest / folder
    target.mkdir(parents=True)
    for fname in SPLITS.values():
        source = SAMPLE_DIR / folder / f"{fname}.gz"
        if gz:
            shutil.copy(source, target / f"{fname}.gz")
        else:
            (target / fname).write_bytes(gzip.decompress(source.read_bytes()))
    return target


def sample_npz(path: Path) -> str:
    """Keras' mnist.npz layout, filled from the sample; returns its SHA-256."""
    sample = load_dataset("mnist", source="sample")
    np.savez(path, **{split: getattr(sample, split) for split in SPLITS})
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_bundled_sample_is_real_checked_and_read_only(name: str) -> None:
    dataset = load_dataset(name, source="sample")
    assert dataset.x_train.shape == (6000, 28, 28) and dataset.x_train.dtype == np.uint8
    assert dataset.y_train.shape == (6000,) and dataset.x_test.shape == (1000, 28, 28)
    assert set(np.unique(dataset.y_train)) == set(range(10))
    assert dataset.is_sample and "bundled sample" in dataset.source
    assert dataset.num_classes == 10
    with pytest.raises(ValueError):
        dataset.x_train[0, 0, 0] = 1


def test_first_sample_image_is_mnist_five() -> None:
    # MNIST's first training label is 5 (as the seed notebooks print).
    assert load_dataset("mnist", source="sample").y_train[0] == 5


def test_falls_back_to_the_sample_with_a_visible_warning() -> None:
    with pytest.warns(SampleDataWarning, match="not comparable to full MNIST"):
        dataset = load_dataset("mnist")
    assert dataset.is_sample and "NBMNIST_DOWNLOAD=0" in dataset.source


@pytest.mark.parametrize("gz", [True, False])
def test_nbmnist_data_folder_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    folder = copy_sample(tmp_path, gz=gz)
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    with pytest.warns(SampleDataWarning):
        dataset = load_dataset("mnist")
    assert dataset.source == str(folder)
    # The bytes are the sample's, and nbmnist says so whatever folder they sit in.
    assert dataset.is_sample


def test_missing_nbmnist_data_folder_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBMNIST_DATA", "/no/such/folder")
    with pytest.raises(DataError, match="no such folder"):
        load_dataset("mnist")


def test_keras_cache_npz_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    digest = sample_npz(cache / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    info = DATASETS["mnist"]
    monkeypatch.setitem(DATASETS, "mnist", _with(info, npz=("mnist.npz", digest)))
    dataset = load_dataset("mnist")
    assert dataset.source == str(cache / "mnist.npz")
    assert dataset.x_train.shape == (6000, 28, 28)


def test_corrupt_keras_npz_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    sample_npz(cache / "mnist.npz")  # not Keras' official file: checksum differs
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataError, match=r"mnist\.npz: SHA-256 .* delete it"):
        load_dataset("mnist")


def _with(info, **changes):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(info, **changes)


def test_download_goes_through_keras_get_file_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    digest = sample_npz(mirror / "mnist.npz")
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "1")
    info = _with(
        DATASETS["mnist"],
        downloads=(("mnist.npz", (mirror / "mnist.npz").as_uri(), digest),),
        npz=("mnist.npz", digest),
    )
    monkeypatch.setitem(DATASETS, "mnist", info)
    capsys.readouterr()
    dataset = load_dataset("mnist")
    cached = home / "datasets" / "mnist.npz"
    assert cached.is_file() and dataset.source == str(cached)
    assert np.array_equal(dataset.x_test, load_dataset("mnist", source="sample").x_test)
    printed = capsys.readouterr()
    assert printed.out == "" and "Downloading data from" not in printed.err  # get_file's
    assert printed.err == f"nbmnist: downloaded MNIST into {home / 'datasets'}\n"
    clear_cache()
    assert load_dataset("mnist", source="download").source == str(cached)  # from the cache


def test_failed_download_falls_back_to_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "1")
    missing = (tmp_path / "nowhere" / "mnist.npz").as_uri()
    info = _with(DATASETS["mnist"], downloads=(("mnist.npz", missing, None),))
    monkeypatch.setitem(DATASETS, "mnist", info)
    with pytest.warns(SampleDataWarning):
        dataset = load_dataset("mnist")
    assert dataset.is_sample and "download failed" in dataset.source


@pytest.mark.parametrize(
    "origin",
    ["http://127.0.0.1:9/mnist.npz", "file:///nowhere/mnist.npz"],
    ids=["unreachable", "missing"],
)
def test_offline_is_one_line_and_no_download_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    origin: str,
) -> None:
    """Offline, the sample's note says why and how to get the full data; nothing of the
    download attempt (Keras' 'Downloading data from', 'URL fetch failure') is printed."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("NBMNIST_DOWNLOAD", "1")
    info = _with(DATASETS["mnist"], downloads=(("mnist.npz", origin, None),))
    monkeypatch.setitem(DATASETS, "mnist", info)
    dataset = load_dataset("mnist", warn=False)
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    assert dataset.source.endswith(OFFLINE) and "URL fetch" not in dataset.source
    clear_cache()
    with pytest.raises(
        DataError, match=r"data_source 'download', but the download failed \(offline\)"
    ):
        load_dataset("mnist", source="download")


def test_data_source_chooses_sample_download_or_a_folder(
    shell: Shell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run("%config NbmnistMagics.data_source = 'sample'")
    try:
        shell.run("%%mlp s --epochs 1 --train-size 300 --no-live\ndense 8 relu")
        assert shell.ns["s"].uses_sample and shell.ns["s"].data_source.endswith(": requested")
        copy_sample(tmp_path)
        shell.run(
            f"%%mlp f --epochs 1 --train-size 300 --no-live --data-source {tmp_path}\ndense 8"
        )
        assert shell.ns["f"].data_source == str(tmp_path / "mnist")  # the flag wins
        error = shell.run_expecting_error(
            "%%mlp x --epochs 1 --data-source /no/such/folder\ndense 8 relu"
        )
        assert "data_source '/no/such/folder' is neither sample nor download nor a folder" in str(
            error
        )
        assert "x" not in shell.ns
    finally:
        shell.run("%config NbmnistMagics.data_source = None")


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: cannot be read.*truncated"):
        load_dataset("mnist", source=tmp_path)


def test_truncated_idx_is_caught_by_its_header(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path, gz=False)
    path = folder / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: header says \(1000,\)"):
        load_dataset("mnist", source=tmp_path)


def test_modified_file_fails_its_checksum(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path, gz=False)
    path = folder / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] = (data[100] + 1) % 10
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: SHA-256 .* matches no known"):
        load_dataset("mnist", source=tmp_path)


def test_wrong_magic_number(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + path.read_bytes()[4:])
    with pytest.raises(DataError, match="not an IDX file"):
        load_dataset("mnist", source=tmp_path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="but not t10k-labels-idx1-ubyte"):
        load_dataset("mnist", source=tmp_path)


def test_labels_out_of_range_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    write_idx(path, np.array([1, 2, 11], dtype=np.uint8))
    assert list(read_idx(path)) == [1, 2, 11]  # the reader alone accepts any bytes ...
    from nbmnist.data import _check_arrays

    x = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(DataError, match="label 11 is outside 0-9"):  # ... the dataset does not
        _check_arrays(
            {"x_train": x, "y_train": read_idx(path), "x_test": x, "y_test": x[:, 0, 0]},
            "t",
            DATASETS["mnist"],
        )


def test_unknown_dataset_name() -> None:
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")


def test_datasets_are_cached_in_memory() -> None:
    assert load_dataset("mnist", source="sample") is load_dataset("mnist", source="sample")


def test_debian_folder_is_searched_after_keras_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbmnist.data

    copy_sample(tmp_path / "datasets", folder="fashion-mnist")
    monkeypatch.setattr(nbmnist.data, "DEBIAN_DIR", tmp_path / "datasets")
    with pytest.warns(SampleDataWarning):  # the files there are the sample's bytes
        dataset = load_dataset("fashion_mnist")
    assert dataset.source == str(tmp_path / "datasets" / "fashion-mnist")


def test_the_other_datasets_files_are_named_not_called_corrupt(tmp_path: Path) -> None:
    """MNIST's (intact) files where Fashion-MNIST's are looked for: the error says whose they
    are instead of calling them corrupt."""
    mnist = copy_sample(tmp_path / "elsewhere")
    (tmp_path / "fashion-mnist").mkdir()
    for path in mnist.iterdir():
        shutil.copy(path, tmp_path / "fashion-mnist" / path.name)
    with pytest.raises(DataError, match=r"this is MNIST's sample \S+ \(intact\), not the file"):
        load_dataset("fashion_mnist", source=tmp_path)


def test_an_nbmnist_data_folder_without_the_dataset_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBMNIST_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"\(NBMNIST_DATA\) holds no MNIST files; put its four"):
        load_dataset("mnist")
    copy_sample(tmp_path, folder="fashion-mnist")  # the other dataset is not this one
    with pytest.raises(DataError, match="holds no MNIST files"):
        load_dataset("mnist")
