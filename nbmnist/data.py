"""The data a model trains on, checked before anything trains on it: MNIST, Fashion-MNIST,
CIFAR-10, or the user's own arrays (``use_data``).

``load_dataset`` looks, in order:

1. the folder named by ``NBMNIST_DATA`` (IDX files, ``.gz`` or not, in ``mnist/`` or
   ``fashion-mnist/`` subfolders, or Keras' ``mnist.npz``); when it is set, the data must
   be there (a ``DataError`` names the folder otherwise): nothing else is tried;
2. Keras' cache (``$KERAS_HOME`` or ``~/.keras``, subfolder ``datasets``);
3. Debian's ``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``);
4. the real download, through ``keras.utils.get_file`` with a checksum, into Keras' cache
   (skipped when ``NBMNIST_DOWNLOAD=0``);
5. the small real sample shipped in the package (``nbmnist/_sample``: the first 6,000 train and
   1,000 test images of each official file, cut by ``tools/make_sample.py``), with a visible
   ``SampleDataWarning``: sample results are not comparable to full-data results.

Every file is checked (IDX magic number and shape, label range, SHA-256 of the decompressed
bytes against the official files; sources: ``../shared/data/README.md``, Yann LeCun's MNIST
page, Zalando's Fashion-MNIST repository, Keras' ``mnist.load_data``). A truncated or corrupt
file raises ``DataError`` naming the file; nothing is trained on it.

CIFAR-10 (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html) is one archive,
``cifar-10-python.tar.gz``, looked for in the same places (under that name, or under the name
Keras' own ``cifar10.load_data`` caches it as), checked against the SHA-256 Keras pins for it,
and downloaded through ``get_file`` with that checksum. It has no bundled sample: offline and
without a copy, ``--data cifar10`` is a ``DataError``.

Own data (``use_data``, or ``--data NAME`` naming a notebook variable) is any image
classification data as ``keras.datasets`` returns it: ``((x_train, y_train), (x_test,
y_test))``, grey or RGB images of any size, any number of classes. It lives in this process
only, under its name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import sys
import tarfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nbmnist.declaration.spec import MNIST_IMAGE, batch_shape
from nbmnist.errors import DataError, OptionError

SPLITS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

SAMPLE_DIR = Path(__file__).parent / "_sample"
DEBIAN_DIR = Path("/usr/share/datasets")
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class DatasetInfo:
    """What nbmnist knows of one dataset: names, official checksums and download origins."""

    name: str
    title: str
    folder: str
    class_names: tuple[str, ...]
    #: SHA-256 of each decompressed official IDX file, by split name
    sha256: dict[str, str]
    #: (file name in Keras' cache, origin URL, SHA-256 or None) for ``keras.utils.get_file``
    downloads: tuple[tuple[str, str, str | None], ...]
    #: Keras' single-file cache (``mnist.npz``) and its SHA-256, if the dataset has one
    npz: tuple[str, str] | None = None
    #: one image, (height, width, channels)
    image_shape: tuple[int, int, int] = MNIST_IMAGE
    #: a dataset that is one tar.gz archive: the names its file goes by (the official one
    #: first) and the archive's SHA-256; its IDX ``sha256`` is then empty
    archive: tuple[tuple[str, ...], str] | None = None

    @property
    def has_sample(self) -> bool:
        """Whether the package ships a sample of it (MNIST and Fashion-MNIST)."""
        return self.archive is None


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        folder="mnist",
        class_names=tuple(str(digit) for digit in range(10)),
        sha256={
            "x_train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "y_train": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        downloads=(
            (
                "mnist.npz",
                KERAS_ORIGIN + "mnist.npz",
                "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
            ),
        ),
        npz=("mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        title="Fashion-MNIST",
        folder="fashion-mnist",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        sha256={
            "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        # Keras publishes no checksum for these; the decompressed files are checked instead.
        downloads=tuple(
            (f"{SPLITS[split]}.gz", f"{KERAS_ORIGIN}fashion-mnist/{SPLITS[split]}.gz", None)
            for split in SPLITS
        ),
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        sha256={},
        # Keras' cifar10.load_data caches the archive under this name, with this checksum
        downloads=(
            (
                "cifar-10-batches-py-target",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            ),
        ),
        image_shape=(32, 32, 3),
        archive=(
            ("cifar-10-python.tar.gz", "cifar-10-batches-py-target"),
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
    ),
}

#: Other spellings of the datasets' names.
ALIASES = {"cifar_10": "cifar10", "fashion": "fashion_mnist", "fmnist": "fashion_mnist"}


class SampleDataWarning(UserWarning):
    """Training uses the bundled sample because the full dataset was not found."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """One dataset in memory, as read from ``source``.

    Attributes:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` or own data's name.
        x_train: shape (N, H, W) (grey) or (N, H, W, C), uint8 pixel values 0-255 or (own
            data) float32 in [0, 1]; MNIST: (N, 28, 28) uint8; CIFAR-10: (N, 32, 32, 3).
        y_train: uint8 (int64 past 256 classes), shape (N,), class indices (read-only).
        x_test: like ``x_train``, (M, ...).
        y_test: shape (M,).
        source: where the arrays came from (a path, the bundled sample and why, or own
            data's description).
        is_sample: True for the bundled sample (6,000 train / 1,000 test images), or a
            fast-mode cut of data that has none.
        class_names: the class names, by index.
        label: own data's title (empty for the known datasets, whose title is theirs).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    is_sample: bool = False
    class_names: tuple[str, ...] = ()
    label: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """One image, (height, width, channels): (28, 28, 1) for MNIST."""
        shape = self.x_train.shape[1:]
        return (shape[0], shape[1], shape[2] if len(shape) == 3 else 1)

    @property
    def title(self) -> str:
        """Human name, e.g. ``MNIST (sample)``; fast mode's cut of data that has no sample:
        ``CIFAR-10 (first images)``."""
        title = self.label or DATASETS[self.name].title
        if not self.is_sample:
            return title
        bundled = self.name in DATASETS and DATASETS[self.name].has_sample
        return title + (" (sample)" if bundled else " (first images)")

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train):,}, test={len(self.y_test):,}, "
            f"source={self.source!r})"
        )


def known_name(name: str) -> str | None:
    """``name`` as ``DATASETS`` spells it (``"Fashion-MNIST"`` -> ``"fashion_mnist"``,
    ``"cifar-10"`` -> ``"cifar10"``), or None when it names none of them."""
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in DATASETS else None


def dataset_info(name: str) -> DatasetInfo:
    """The ``DatasetInfo`` of ``name``.

    Raises:
        DataError: ``name`` is not ``mnist``, ``fashion_mnist`` or ``cifar10``.
    """
    key = known_name(name)
    if key is None:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[key]


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        return zlib.decompress(data, 31) if path.suffix == ".gz" else data
    except (OSError, zlib.error, EOFError) as err:
        raise DataError(
            f"{path}: cannot be read ({err}); the file is truncated or corrupt: delete it and "
            "run again, or point NBMNIST_DATA at a good copy"
        ) from err


def _parse_idx(path: Path) -> tuple[np.ndarray, str]:
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 3:
        raise DataError(
            f"{path}: not an IDX file of unsigned bytes (magic number {raw[:4].hex() or 'empty'},"
            " expected 00000801 or 00000803); replace it with the official file"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(dims))
    if len(raw) != header + size:
        raise DataError(
            f"{path}: header says {dims} = {size:,} bytes of data but the file holds "
            f"{len(raw) - header:,}; the file is truncated or corrupt: delete it and run again"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    return array, hashlib.sha256(raw).hexdigest()


def _checksum_error(path: Path, digest: str) -> DataError:
    sample = {digest: name for name, digest in _sample_sha256().items()}
    for info in DATASETS.values():  # intact, but another dataset's file (or another split)
        for split, known in info.sha256.items():
            if digest == known or sample.get(digest) == f"{info.folder}/{SPLITS[split]}":
                which = "" if digest == known else " sample"
                return DataError(
                    f"{path}: this is {info.title}'s{which} {SPLITS[split]} (intact), not the "
                    f"file expected here; give {info.title}'s files a folder of their own"
                )
    return DataError(
        f"{path}: SHA-256 {digest[:16]}… matches no known copy of this file (corrupt, "
        "truncated or modified); delete it and run again, or point NBMNIST_DATA at "
        "the official files"
    )


def read_idx(path: str | Path, expected_sha256: set[str] | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) into a read-only uint8 array.

    Args:
        path: the IDX file (format: http://yann.lecun.com/exdb/mnist/, big-endian header).
        expected_sha256: accepted SHA-256 digests of the decompressed bytes; None: any.

    Returns:
        uint8 array of the shape the header gives, e.g. (60000, 28, 28) or (60000,).

    Raises:
        DataError: unreadable, wrong magic number, size not matching the header, or a
            checksum not in ``expected_sha256``.
    """
    path = Path(path)
    array, digest = _parse_idx(path)
    if expected_sha256 is not None and digest not in expected_sha256:
        raise _checksum_error(path, digest)
    return array


def _check_arrays(arrays: dict[str, np.ndarray], where: str, info: DatasetInfo) -> None:
    height, width, channels = info.image_shape
    expected = (height, width) if channels == 1 else info.image_shape
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape[1:] != expected:
            raise DataError(
                f"{where}: {split} images have shape {x.shape}, expected (N, "
                + ", ".join(map(str, expected))
                + ")"
            )
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{where}: {len(x):,} {split} images but labels of shape {y.shape}; "
                "images and labels must come from the same release"
            )
        top = len(info.class_names) - 1
        if len(y) and int(y.max()) > top:
            raise DataError(f"{where}: {split} label {int(y.max())} is outside 0-{top}")


def _idx_file(folder: Path, split: str) -> Path | None:
    for candidate in (f"{SPLITS[split]}.gz", SPLITS[split], SPLITS[split].replace("-idx", ".idx")):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _sample_sha256() -> dict[str, str]:
    sums = SAMPLE_DIR / "SHA256SUMS"
    lines = sums.read_text().split("\n") if sums.is_file() else []
    return {name: digest for digest, name in (ln.split() for ln in lines if ln.strip())}


def _read_idx_folder(info: DatasetInfo, folder: Path) -> tuple[dict[str, np.ndarray], bool] | None:
    """The four arrays from an IDX folder and whether they are the bundled sample's bytes,
    or None if the folder holds none of the files."""
    paths = {split: _idx_file(folder, split) for split in SPLITS}
    if not any(paths.values()):
        return None
    missing = [SPLITS[split] for split, path in paths.items() if path is None]
    if missing:
        raise DataError(
            f"{folder}: holds some {info.title} files but not {', '.join(missing)}; "
            "add the missing files (gzipped or not) or remove the folder"
        )
    sample = _sample_sha256()
    arrays: dict[str, np.ndarray] = {}
    matched: set[str] = set()
    for split, path in paths.items():
        assert path is not None  # checked above
        arrays[split], digest = _parse_idx(path)
        if digest == info.sha256[split]:
            matched.add("official")
        elif digest == sample.get(f"{info.folder}/{SPLITS[split]}"):
            matched.add("sample")
        else:
            raise _checksum_error(path, digest)
    if len(matched) > 1:
        raise DataError(
            f"{folder}: mixes official {info.title} files with the bundled sample's; "
            "use the four official files"
        )
    _check_arrays(arrays, str(folder), info)
    return arrays, matched == {"sample"}


def _read_npz(info: DatasetInfo, path: Path) -> dict[str, np.ndarray]:
    if info.npz is None:
        raise DataError(f"{path}: {info.title} has no npz form")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != info.npz[1]:
        raise DataError(
            f"{path}: SHA-256 {digest[:16]}… is not that of Keras' {info.npz[0]} (corrupt or "
            "truncated download); delete it and run again"
        )
    with np.load(path, allow_pickle=False) as npz:
        arrays = {split: npz[split] for split in SPLITS}
    for array in arrays.values():
        array.flags.writeable = False
    _check_arrays(arrays, str(path), info)
    return arrays


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's batches (dicts of bytes, lists and NumPy arrays) and nothing else:
    any other class in the file is refused."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _archive_file(info: DatasetInfo, folder: Path) -> Path | None:
    assert info.archive is not None
    return next((folder / n for n in info.archive[0] if (folder / n).is_file()), None)


def _read_archive(info: DatasetInfo, path: Path) -> dict[str, np.ndarray]:
    """CIFAR-10's four arrays from its official archive (python pickles of 10,000 images
    each, rows of 3,072 bytes: the red, green then blue planes of a 32x32 image)."""
    assert info.archive is not None
    digest = _file_sha256(path)
    if digest != info.archive[1]:
        raise DataError(
            f"{path}: SHA-256 {digest[:16]}… is not that of {info.title}'s "
            f"{info.archive[0][0]} (corrupt, truncated or another file); delete it and run again"
        )
    height, width, channels = info.image_shape
    batches: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                stem = Path(member.name).name
                split = "train" if stem.startswith("data_batch_") else "test"
                if not (member.isfile() and (split == "train" or stem == "test_batch")):
                    continue
                handle = tar.extractfile(member)
                assert handle is not None  # a regular file
                batch = _ArrayUnpickler(handle, encoding="bytes").load()
                x = np.asarray(batch[b"data"], dtype=np.uint8)
                x = x.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
                labels = np.asarray(batch[b"labels"], dtype=np.uint8)
                batches[split].append((stem, x, labels))
    except (OSError, EOFError, KeyError, ValueError, tarfile.TarError, pickle.PickleError) as err:
        raise DataError(f"{path}: not a readable {info.title} archive ({err}); delete it") from err
    arrays = {}
    for split, found in batches.items():
        if not found:
            raise DataError(f"{path}: holds no {split} batches; delete it and run again")
        found.sort(key=lambda item: item[0])
        arrays[f"x_{split}"] = np.ascontiguousarray(np.concatenate([b[1] for b in found]))
        arrays[f"y_{split}"] = np.concatenate([b[2] for b in found])
    for array in arrays.values():
        array.flags.writeable = False
    _check_arrays(arrays, str(path), info)
    return arrays


def _read_folder(info: DatasetInfo, folder: Path) -> Dataset | None:
    """Look for ``info`` in ``folder`` as IDX files (in a subfolder or directly), an npz, or
    (CIFAR-10) its archive."""
    if info.archive is not None:
        path = _archive_file(info, folder)
        if path is None:
            return None
        return _dataset(info, _read_archive(info, path), str(path), is_sample=False)
    for candidate in (folder / info.folder, folder / info.name, folder):
        found = _read_idx_folder(info, candidate) if candidate.is_dir() else None
        if found is not None:
            return _dataset(info, found[0], str(candidate), is_sample=found[1])
    if info.npz and (folder / info.npz[0]).is_file():
        path = folder / info.npz[0]
        return _dataset(info, _read_npz(info, path), str(path), is_sample=False)
    return None


def _holds_full_copy(info: DatasetInfo, folder: Path) -> bool:
    """Whether ``folder`` has the files ``_read_folder`` would read (not read nor checked)."""
    if info.archive is not None:
        return _archive_file(info, folder) is not None
    for candidate in (folder / info.folder, folder / info.name, folder):
        if candidate.is_dir() and all(_idx_file(candidate, split) for split in SPLITS):
            return candidate.resolve() != (SAMPLE_DIR / info.folder).resolve()
    return info.npz is not None and (folder / info.npz[0]).is_file()


def sample_expected(name: str, fast: bool = False, source: str | None = None) -> bool | None:
    """Whether training on ``name`` would use the bundled sample, told from the files present
    (nothing is read): True in fast mode or for ``source="sample"``, or when no full copy is
    found and downloading is off (``NBMNIST_DOWNLOAD=0``); False when a full copy is where
    ``load_dataset`` (with ``source``) looks first; None when a download would decide."""
    if fast or source == "sample":
        return True
    if name in _OWN:
        return False
    info = dataset_info(name)
    if source == "download":
        return False if _holds_full_copy(info, keras_cache_dir()) else None
    if source is not None:
        return False if _holds_full_copy(info, Path(source).expanduser()) else None
    chosen = os.environ.get("NBMNIST_DATA")
    folders = [Path(chosen)] if chosen else [keras_cache_dir(), DEBIAN_DIR]
    if any(_holds_full_copy(info, folder.expanduser()) for folder in folders):
        return False
    if chosen or os.environ.get("NBMNIST_DOWNLOAD", "1") != "0":
        return None
    return True


def keras_cache_dir() -> Path:
    """Keras' dataset cache: ``$KERAS_HOME/datasets``, default ``~/.keras/datasets``."""
    from nbmnist.backend import keras_home

    return keras_home() / "datasets"


def download(info: DatasetInfo) -> Path:
    """Download ``info``'s files into Keras' cache with ``keras.utils.get_file``.

    Returns:
        The cache folder that now holds them.

    Raises:
        Exception: whatever ``get_file`` raises (no network, checksum mismatch, ...).
    """
    from nbmnist.backend import import_keras

    keras = import_keras()
    cache = keras_cache_dir()
    # get_file silently switches to /tmp/.keras when the cache folder does not exist yet.
    cache.mkdir(parents=True, exist_ok=True)
    subdir = "datasets" if info.npz or info.archive else f"datasets/{info.folder}"
    # get_file prints its URL and a progress bar into the cell; offline that is followed by
    # the sample's note, which says it all in one line
    with contextlib.redirect_stdout(io.StringIO()):
        for fname, origin, sha256 in info.downloads:
            keras.utils.get_file(
                fname, origin=origin, file_hash=sha256, cache_subdir=subdir, cache_dir=cache.parent
            )
    print(f"nbmnist: downloaded {info.title} into {cache}", file=sys.stderr)
    return cache


#: How the sample's note ends when the download failed for want of a network.
OFFLINE = (
    "offline: not found locally and the download failed. For the full data run again online, "
    "or set data_source (or NBMNIST_DATA) to a folder that holds it"
)


def download_failure(err: BaseException) -> str:
    """Why the download failed, in the words of the sample's note: ``OFFLINE`` when the
    network could not be reached (``get_file`` raises ``Exception("URL fetch failure ...")``
    from a ``URLError``), else the error's first line."""
    text = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
    if "URL fetch failure" in text or isinstance(err, OSError):
        return OFFLINE
    return f"not found locally and the download failed ({text[:200]})"


def _sample(info: DatasetInfo, why: str) -> Dataset:
    if not info.has_sample:
        assert info.archive is not None
        raise DataError(
            f"{info.title}: {why.split('. For', 1)[0]}, and nbmnist ships no "
            f"sample of it: run online (Colab, Binder), or put {info.archive[0][0]} in a "
            "folder and set NBMNIST_DATA (or data_source) to it"
        )
    found = _read_idx_folder(info, SAMPLE_DIR / info.folder)
    if found is None:
        raise DataError(f"{SAMPLE_DIR}: the bundled {info.title} sample is missing; reinstall")
    arrays = found[0]
    source = (
        f"bundled sample of {info.title} ({len(arrays['y_train']):,} train / "
        f"{len(arrays['y_test']):,} test images): {why}"
    )
    return _dataset(info, arrays, source, is_sample=True)


_CACHE: dict[tuple[str, str], Dataset] = {}
#: Own data by name (``use_data``), in this process only.
_OWN: dict[str, Dataset] = {}
#: The sample's size, and fast mode's cut of data that has no sample.
SAMPLE_SIZES = (6000, 1000)


def load_dataset(
    name: str = "mnist", source: str | Path | None = None, *, warn: bool = True
) -> Dataset:
    """Load MNIST, Fashion-MNIST, CIFAR-10 or own data (``use_data``), checked, cached in
    memory across calls.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` or a name given to
            ``use_data``.
        source: None: search the sources in the order of this module's docstring;
            ``"sample"``: the bundled sample (CIFAR-10 and own data: their first 6,000 train
            and 1,000 test images); ``"download"``: Keras' cache, else the download (never
            the sample); a folder: only that folder. Own data ignores all but ``"sample"``.
        warn: emit a ``SampleDataWarning`` when the search ends at the bundled sample
            (``train`` shows that notice in its display instead).

    Returns:
        A ``Dataset`` with arrays ``x_train (N, H, W)`` or ``(N, H, W, C)``, ``y_train
        (N,)``, ``x_test``, ``y_test`` and ``source`` saying where they came from. MNIST and
        Fashion-MNIST: uint8 (N, 28, 28), N=60,000 and 10,000 test images (the sample: 6,000
        and 1,000); CIFAR-10: uint8 (50,000, 32, 32, 3) and 10,000 test images.

    Raises:
        DataError: unknown name, ``NBMNIST_DATA`` or ``source`` not a folder, a file that
            is found but truncated, corrupt or not the official file, (``source=
            "download"``) the download failed, or CIFAR-10 is neither here nor downloadable.
    """
    if name in _OWN:
        dataset = _OWN[name]
        return _cut(dataset, "requested") if source == "sample" else dataset
    info = dataset_info(name)
    if source == "sample" and not info.has_sample:
        return _cut(load_dataset(info.name, warn=False), "requested")
    key = (info.name, str(source))
    if key not in _CACHE:
        _CACHE[key] = _load(info, source)
    dataset = _CACHE[key]
    if warn and dataset.is_sample and source != "sample":
        warnings.warn(
            f"nbmnist: training on the {dataset.source}. These results are not comparable to "
            f"full {info.title}; set NBMNIST_DATA to a folder with the official files.",
            SampleDataWarning,
            stacklevel=2,
        )
    return dataset


def _cut(dataset: Dataset, why: str) -> Dataset:
    """The first ``SAMPLE_SIZES`` images of data that ships no sample (fast mode's), kept
    with the full dataset so the float copy is made once."""
    train, test = SAMPLE_SIZES
    if len(dataset.y_train) <= train and len(dataset.y_test) <= test:
        return dataset
    key = f"cut:{why}"
    if key not in dataset._cache:
        dataset._cache[key] = dataclasses.replace(
            dataset,
            x_train=dataset.x_train[:train],
            y_train=dataset.y_train[:train],
            x_test=dataset.x_test[:test],
            y_test=dataset.y_test[:test],
            source=(
                f"first {min(train, len(dataset.y_train)):,} train / "
                f"{min(test, len(dataset.y_test)):,} test images of {dataset.title}: {why}"
            ),
            is_sample=True,
            _cache={},
        )
    cut: Dataset = dataset._cache[key]
    return cut


def data_shape(name: str) -> tuple[tuple[int, int, int], int]:
    """The image shape (height, width, channels) and the number of classes of the data
    ``name`` names, without loading it: what a model declared for it takes and outputs.

    Raises:
        DataError: ``name`` is neither a known dataset nor own data.
    """
    if name in _OWN:
        return _OWN[name].image_shape, _OWN[name].num_classes
    info = dataset_info(name)
    return info.image_shape, len(info.class_names)


def data_names() -> tuple[str, ...]:
    """The names ``--data`` takes now: the known datasets', then own data's."""
    return (*DATASETS, *_OWN)


def is_own_data(name: str) -> bool:
    """Whether ``name`` is own data (``use_data``), which lives in this process only."""
    return name in _OWN


def use_data(
    data: Any,
    class_names: Any = None,
    name: str = "my_data",
    *,
    title: str | None = None,
    where: str = "use_data",
) -> Dataset:
    """Train on your own images: check them and make them ``--data NAME`` (``data=NAME``).

    Args:
        data: ``((x_train, y_train), (x_test, y_test))`` as ``keras.datasets`` returns it
            (or a ``Dataset``). Images: shape (N, H, W) (grey) or (N, H, W, 1 or 3), any
            height and width, uint8 0-255 (or integers in that range) or floats in [0, 1].
            Labels: class indices 0 to K-1, shape (N,) or (N, 1) (CIFAR's).
        class_names: K names, by class index; default ``"0"``, ``"1"``, ... for as many
            classes as the labels reach.
        name: what ``--data`` calls it (a Python identifier, not a known dataset's name);
            using a name again replaces the data it named.
        title: how tables and figures call it; default ``name``.
        where: what the errors start with (the magic says ``--data NAME``).

    Returns:
        The ``Dataset`` (kept in this process under ``name``; runs record the name).

    Raises:
        DataError: a shape, dtype, range or label that does not fit, or a bad name; the
            message says which array and how to fix it.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise DataError(f"{where}: name must be a Python identifier, e.g. 'flowers'; got {name!r}")
    if known_name(name) is not None:
        raise DataError(f"{where}: {name!r} is a known dataset's name; give your data another name")
    if isinstance(data, Dataset) and _OWN.get(name) is data:
        return data  # already this name's
    if isinstance(data, Dataset):
        arrays = [(data.x_train, data.y_train), (data.x_test, data.y_test)]
        class_names = data.class_names if class_names is None else class_names
    else:
        arrays = _pairs(data, where)
    x_train, y_train = (
        _own_images(arrays[0][0], "x_train", where),
        _own_labels(arrays[0][1], "y_train", where),
    )
    x_test, y_test = (
        _own_images(arrays[1][0], "x_test", where),
        _own_labels(arrays[1][1], "y_test", where),
    )
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise DataError(
                f"{where}: {len(x):,} {split} images but {len(y):,} labels; give one label "
                "per image"
            )
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{where}: train images are {x_train.shape[1:]} but test images {x_test.shape[1:]}; "
            "both splits need one shape"
        )
    if x_train.dtype != x_test.dtype:
        x_train, x_test = (
            _as_unit_floats(x_train, "x_train", where),
            _as_unit_floats(x_test, "x_test", where),
        )
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    if class_names is None:
        class_names = [str(index) for index in range(classes)]
    names = tuple(str(n) for n in class_names)
    if isinstance(class_names, str) or len(names) < max(classes, 2):
        raise DataError(
            f"{where}: class_names has {0 if isinstance(class_names, str) else len(names)} "
            f"names but the labels reach {classes - 1}; give a list of at least "
            f"{max(classes, 2)} names, by class index"
        )
    dataset = Dataset(
        name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=f"your data {name!r} ({len(y_train):,} train / {len(y_test):,} test images, "
        f"{'x'.join(map(str, _image_shape(x_train)))})",
        class_names=names,
        label=title or name,
    )
    _OWN[name] = dataset
    return dataset


def _pairs(data: Any, where: str) -> list[tuple[Any, Any]]:
    form = "((x_train, y_train), (x_test, y_test)), as keras.datasets.mnist.load_data() returns"
    try:
        (x_train, y_train), (x_test, y_test) = data
    except (TypeError, ValueError):
        raise DataError(f"{where}: data must be {form}; got {type(data).__name__}") from None
    return [(x_train, y_train), (x_test, y_test)]


def _image_shape(x: np.ndarray) -> tuple[int, int, int]:
    return (x.shape[1], x.shape[2], x.shape[3] if x.ndim == 4 else 1)


def _own_images(value: Any, what: str, where: str) -> np.ndarray:
    try:
        x = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: {what} is not an array ({err})") from None
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)) or 0 in x.shape[1:]:
        raise DataError(
            f"{where}: {what} has shape {x.shape}; images must be (N, height, width) for grey "
            "or (N, height, width, 1 or 3) for grey or RGB, channels last"
        )
    if len(x) == 0:
        raise DataError(f"{where}: {what} holds no images")
    if x.dtype == np.uint8:
        return _read_only(x)
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high > 255:
            raise DataError(
                f"{where}: {what} holds integers from {low} to {high}; pixels must be 0-255 "
                "(uint8) or floats in [0, 1]"
            )
        return _read_only(x.astype(np.uint8))
    if np.issubdtype(x.dtype, np.floating):
        return _as_unit_floats(x, what, where)
    raise DataError(f"{where}: {what} has dtype {x.dtype}; give uint8 pixels or floats in [0, 1]")


def _as_unit_floats(x: np.ndarray, what: str, where: str) -> np.ndarray:
    """``x`` as float32 in [0, 1] (uint8 divided by 255), read-only."""
    if x.dtype == np.uint8:
        return _read_only(x.astype(np.float32) / np.float32(255))
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{where}: {what} holds NaN or infinite values; remove them")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise DataError(
            f"{where}: {what} holds floats from {low:g} to {high:g}; scale pixels to [0, 1] "
            "(divide by 255) or give uint8"
        )
    return _read_only(x)


def _own_labels(value: Any, what: str, where: str) -> np.ndarray:
    y = np.asarray(value)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]  # CIFAR's (N, 1)
    if y.ndim == 2:
        raise DataError(
            f"{where}: {what} has shape {y.shape}; give class indices of shape (N,) (one-hot "
            "labels: y.argmax(axis=1))"
        )
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise DataError(
            f"{where}: {what} must be integer class indices of shape (N,); got {y.dtype} of "
            f"shape {y.shape} (strings: map them to indices and pass class_names)"
        )
    if len(y) and int(y.min()) < 0:
        raise DataError(f"{where}: {what} holds {int(y.min())}; class indices start at 0")
    dtype = np.uint8 if not len(y) or int(y.max()) < 256 else np.int64
    return _read_only(y.astype(dtype))


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)  # own copy: the notebook's array may change after
    array.flags.writeable = False
    return array


def _load(info: DatasetInfo, source: str | Path | None) -> Dataset:
    if source == "sample":
        return _sample(info, "requested")
    if source == "download":
        found = _read_folder(info, keras_cache_dir()) if keras_cache_dir().is_dir() else None
        if found is not None:
            return found
        try:
            return _downloaded(info, download(info))
        except DataError:
            raise
        except Exception as err:  # get_file raises bare Exception on network failure
            offline = download_failure(err) == OFFLINE
            reason = "offline" if offline else str(err).strip().splitlines()[0][:200]
            raise DataError(
                f"{info.title}: data_source 'download', but the download failed ({reason}); "
                "run again online, or use data_source 'sample' or a folder"
            ) from err
    folders: list[Path] = []
    if source is not None:
        folders = [Path(source)]
    elif os.environ.get("NBMNIST_DATA"):
        folders = [Path(os.environ["NBMNIST_DATA"])]
    for folder in folders:
        if not folder.expanduser().is_dir():
            raise DataError(
                f"{folder}: no such folder (from {'source' if source else 'NBMNIST_DATA'}); "
                "give a folder that holds mnist/ or fashion-mnist/ IDX files"
            )
    if source is not None:
        found = _read_folder(info, Path(source).expanduser())
        if found is None:
            raise DataError(f"{source}: holds no {info.title} IDX files or npz")
        return found
    if folders:  # NBMNIST_DATA: where the user said the data is
        found = _read_folder(info, folders[0].expanduser())
        if found is None:
            raise DataError(
                f"{folders[0]}: (NBMNIST_DATA) holds no {info.title} files; put its four IDX "
                f"files in {folders[0] / info.folder}, or unset NBMNIST_DATA to use Keras' "
                "cache or a download"
            )
        return found
    folders += [keras_cache_dir(), DEBIAN_DIR]
    for folder in folders:
        found = _read_folder(info, folder.expanduser()) if folder.expanduser().is_dir() else None
        if found is not None:
            return found
    if os.environ.get("NBMNIST_DOWNLOAD", "1") == "0":
        return _sample(info, "not found locally, and NBMNIST_DOWNLOAD=0 forbids the download")
    try:
        cache = download(info)
    except Exception as err:  # get_file raises bare Exception on network failure
        return _sample(info, download_failure(err))
    return _downloaded(info, cache)


def _downloaded(info: DatasetInfo, cache: Path) -> Dataset:
    found = _read_folder(info, cache)
    if found is None:
        raise DataError(f"{cache}: the download finished but the {info.title} files are missing")
    return found


def _dataset(
    info: DatasetInfo, arrays: dict[str, np.ndarray], source: str, *, is_sample: bool
) -> Dataset:
    return Dataset(
        info.name,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        source=source,
        is_sample=is_sample,
        class_names=info.class_names,
    )


def clear_cache(own: bool = False) -> None:
    """Forget the datasets read from files (they are re-read and re-checked on next use);
    ``own``: own data too (``use_data``: it must be given again)."""
    _CACHE.clear()
    if own:
        _OWN.clear()


def write_idx(path: Path, array: np.ndarray) -> str:
    """Write a uint8 array as an IDX file, gzipped (reproducibly: no name, mtime 0) if
    ``path`` ends in ``.gz``. Used by ``tools/make_sample.py`` and the tests.

    Returns:
        The SHA-256 of the uncompressed IDX bytes (what ``load_dataset`` checks).
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    raw = header + array.tobytes()
    if path.suffix == ".gz":
        with (
            open(path, "wb") as f,
            gzip.GzipFile(filename="", fileobj=f, mode="wb", compresslevel=9, mtime=0) as gz,
        ):
            gz.write(raw)
    else:
        path.write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()


def as_model_input(
    images: Any, kind: str, image_shape: tuple[int, int, int] = MNIST_IMAGE
) -> np.ndarray:
    """``images`` as the model's input: float32 in [0, 1], shape ``(N, H*W*C)`` for ``mlp``,
    ``(N, H, W, C)`` for ``cnn``; for MNIST ``(N, 784)`` and ``(N, 28, 28, 1)``.

    Args:
        images: one image or many: uint8 (0-255) or float (0-1), shaped ``(H, W)``, ``(H, W,
            C)``, ``(H*W*C,)``, or any of these with a leading image axis.
        kind: ``"mlp"`` or ``"cnn"``.
        image_shape: the model's images, (height, width, channels): the data it trained on.

    Raises:
        OptionError: another shape, another dtype, or floats outside [0, 1].
    """
    array = np.asarray(images)
    if array.dtype == np.uint8:
        pixels = array.astype(np.float32) / np.float32(255)
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        pixels = array.astype(np.float32)
        if pixels.size and (np.nanmin(pixels) < 0 or np.nanmax(pixels) > 1):
            raise OptionError(
                f"pixel values must be uint8 (0-255) or floats in [0, 1], as in training; got "
                f"{array.dtype} from {np.nanmin(pixels):g} to {np.nanmax(pixels):g} "
                "(divide by 255 first)"
            )
    else:
        raise OptionError(f"images must be numbers (uint8 or float), got dtype {array.dtype}")
    height, width, channels = image_shape
    one = {(height, width, channels), (height * width * channels,)}
    if channels == 1:
        one.add((height, width))
    shape = pixels.shape
    if shape in one:
        pixels = pixels[np.newaxis]
    elif not (len(shape) >= 2 and shape[1:] in one):
        size = f"{height}x{width}" + ("" if channels == 1 else f"x{channels}")
        forms = " or ".join(str(s) for s in sorted(one, key=len, reverse=True))
        raise OptionError(
            f"images must be {size} ({height * width * channels} values), one or many: shapes "
            f"{forms}, or with a leading image axis; got {shape}"
        )
    return pixels.reshape(batch_shape(kind, image_shape))
