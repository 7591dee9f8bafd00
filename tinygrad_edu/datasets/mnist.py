"""MNIST and Fashion-MNIST, loaded the way *Deep Learning from Scratch* loads MNIST.

``load_mnist(normalize=True, flatten=True, one_hot_label=False)`` returns
``((x_train, t_train), (x_test, t_test))`` as NumPy arrays, just like the book's
``dataset/mnist.py``. The four IDX files are looked up on disk first and downloaded
(and verified) only when missing; see :func:`load_dataset` for the search order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from .download import DATA_ENV_VAR, DatasetNotFoundError, MirrorFetcher, default_cache_dir
from .idx import IDXError, read_idx

__all__ = [
    "IDXFile",
    "DatasetSpec",
    "MNIST",
    "FASHION_MNIST",
    "load_dataset",
    "load_mnist",
    "load_fashion_mnist",
]

Split = tuple[np.ndarray, np.ndarray]

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class IDXFile:
    """One published file of a data set: its name and the SHA-256 of the download."""

    name: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, download and check one IDX image-classification set.

    Tests and users can derive variants with :func:`dataclasses.replace`, e.g. to use
    other file names or checksums.
    """

    name: str  # subdirectory of the data root, e.g. "mnist"
    title: str  # for messages, e.g. "MNIST"
    loader: str  # public function name, for the hint in error messages
    train_images: IDXFile
    train_labels: IDXFile
    test_images: IDXFile
    test_labels: IDXFile
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    image_shape: tuple[int, int] = (28, 28)
    num_classes: int = 10

    @property
    def files(self) -> tuple[IDXFile, IDXFile, IDXFile, IDXFile]:
        """The four files in the order train images, train labels, test images, test labels."""
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# Checksums: the SHA-256 column of tensorflow_datasets' url_checksums/mnist.txt (the
# TensorFlow Datasets project); torchvision and other loaders publish the same values.
# The same bytes are served by all three mirrors.
MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    loader="load_mnist",
    train_images=IDXFile(
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    train_labels=IDXFile(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    test_images=IDXFile(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    test_labels=IDXFile(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
)

# Checksums: the SHA-256 column of tensorflow_datasets' url_checksums/fashion_mnist.txt,
# for the files on Zalando Research's own bucket. The gzip files of the Debian package
# dataset-fashion-mnist lack the embedded original file name (23-24 bytes smaller, hence
# other checksums); local copies are accepted by content, so that does not matter.
FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    loader="load_fashion_mnist",
    train_images=IDXFile(
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    train_labels=IDXFile(
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    test_images=IDXFile(
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    test_labels=IDXFile(
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)


def _candidates(file_name: str) -> tuple[str, ...]:
    # Many people keep the files gunzipped; accept both spellings of the name.
    if file_name.endswith(".gz"):
        return (file_name, file_name[: -len(".gz")])
    return (file_name,)


def _find(file_name: str, dirs: Sequence[Path]) -> Path | None:
    for directory in dirs:
        for candidate in _candidates(file_name):
            path = directory / candidate
            if path.is_file():
                return path
    return None


def _search_dirs(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    if data_dir is not None:
        primary = Path(data_dir).expanduser()
    else:
        primary = default_cache_dir() / spec.name
    dirs = [primary]
    for extra in spec.system_dirs:
        path = Path(extra)
        if path not in dirs:
            dirs.append(path)
    return dirs


def _not_found_message(
    spec: DatasetSpec,
    missing: Sequence[str],
    dirs: Sequence[Path],
    failures: Mapping[str, list[str]],
    download: bool,
) -> str:
    lines = [
        f"{spec.title}: {len(missing)} of 4 files not found: {', '.join(missing)}",
        "Looked in these directories (each file also without its .gz suffix):",
    ]
    lines += [f"  {d}" + ("" if d.is_dir() else "  (does not exist)") for d in dirs]
    if not download:
        lines.append("Downloading is disabled (download=False).")
    else:
        lines.append("Download failed:")
        for name in missing:
            lines.append(f"  {name}:")
            lines += [f"    {reason}" for reason in failures.get(name, [])]
    lines.append(
        f"To use files you already have, put the four files in one directory and pass "
        f"{spec.loader}(data_dir='/that/directory'), or set {DATA_ENV_VAR}=/some/root "
        f"with the files in /some/root/{spec.name}/."
    )
    return "\n".join(lines)


def _check_images(array: np.ndarray, path: Path, spec: DatasetSpec) -> None:
    expected = ("N",) + spec.image_shape
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != spec.image_shape:
        raise IDXError(
            f"{path}: expected {spec.title} images of shape {expected} and dtype uint8, "
            f"found shape {array.shape} and dtype {array.dtype}"
        )


def _check_labels(array: np.ndarray, path: Path, spec: DatasetSpec, count: int) -> None:
    if array.dtype != np.uint8 or array.shape != (count,):
        raise IDXError(
            f"{path}: expected {count} {spec.title} labels (shape ({count},), dtype uint8, "
            f"one per image), found shape {array.shape} and dtype {array.dtype}"
        )
    if count and int(array.max()) >= spec.num_classes:
        raise IDXError(
            f"{path}: expected labels in 0..{spec.num_classes - 1}, found {int(array.max())}"
        )


def _convert(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
    dtype: np.dtype,
    num_classes: int,
) -> Split:
    n = images.shape[0]
    x = images.reshape(n, -1) if flatten else images.reshape(n, 1, *images.shape[1:])
    if normalize:
        x = x.astype(dtype)
        # In place and by the Python int: the result stays in `dtype` and matches the
        # book's `x /= 255.0` on float32 bit for bit.
        x /= 255
    t = labels.astype(np.int64)
    if one_hot_label:
        one_hot = np.zeros((n, num_classes), dtype=dtype)
        one_hot[np.arange(n), t] = 1
        return x, one_hot
    return x, t


def load_dataset(
    spec: DatasetSpec,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    dtype: DTypeLike = np.float32,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    checksums: Mapping[str, str] | None = None,
    verbose: bool = True,
) -> tuple[Split, Split]:
    """Load any data set described by a :class:`DatasetSpec`; see :func:`load_mnist`.

    Each file is looked for, in order, in ``data_dir`` (or, without it, the data set's
    directory under :func:`default_cache_dir`), then in ``spec.system_dirs``; both
    ``name.gz`` and the uncompressed ``name`` are accepted. A local file is trusted if
    it parses as IDX with the right shape. Missing files are downloaded into the first
    directory, from ``mirrors`` in order, and kept only if their SHA-256 matches.
    ``checksums`` maps file names to SHA-256 digests that replace the spec's.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"{spec.loader}: dtype must be a floating type, got {dtype}")
    if checksums:
        spec = dataclasses.replace(
            spec,
            **{
                field: IDXFile(f.name, checksums.get(f.name, f.sha256))
                for field, f in zip(
                    ("train_images", "train_labels", "test_images", "test_labels"),
                    spec.files,
                    strict=True,
                )
            },
        )
    dirs = _search_dirs(spec, data_dir)
    paths: dict[str, Path] = {}
    failures: dict[str, list[str]] = {}
    fetcher = MirrorFetcher(
        spec.mirrors if mirrors is None else mirrors, timeout=timeout, verbose=verbose
    )
    for f in spec.files:
        found = _find(f.name, dirs)
        if found is None and download:
            found, failures[f.name] = fetcher.fetch(f.name, f.sha256, dirs[0])
        if found is not None:
            paths[f.name] = found
    missing = [f.name for f in spec.files if f.name not in paths]
    if missing:
        raise DatasetNotFoundError(_not_found_message(spec, missing, dirs, failures, download))

    splits = []
    for images_file, labels_file in (
        (spec.train_images, spec.train_labels),
        (spec.test_images, spec.test_labels),
    ):
        images_path, labels_path = paths[images_file.name], paths[labels_file.name]
        images = read_idx(images_path)
        _check_images(images, images_path, spec)
        labels = read_idx(labels_path)
        _check_labels(labels, labels_path, spec, images.shape[0])
        splits.append(
            _convert(
                images,
                labels,
                normalize=normalize,
                flatten=flatten,
                one_hot_label=one_hot_label,
                dtype=dtype,
                num_classes=spec.num_classes,
            )
        )
    return splits[0], splits[1]


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    dtype: DTypeLike = np.float32,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    checksums: Mapping[str, str] | None = None,
    verbose: bool = True,
) -> tuple[Split, Split]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: pixels as ``dtype`` in [0, 1] (divided by 255); else uint8 0..255.
        flatten: images as (N, 784); else (N, 1, 28, 28).
        one_hot_label: labels as (N, 10) one-hot rows in ``dtype``; else int64 digits.
        data_dir: directory holding (or to receive) the four IDX files; default
            ``default_cache_dir() / "mnist"``, where ``default_cache_dir()`` honours
            ``$TINYGRAD_EDU_DATA``.
        download: fetch missing files; with ``False`` only local files are used.
        dtype: floating type of normalized pixels and one-hot labels.
        mirrors: base URLs tried in order (default: three public mirrors).
        timeout: seconds to wait for each connection or read.
        checksums: file name -> SHA-256 overrides, for private mirrors.
        verbose: report downloads on stderr.

    Shapes: N is 60000 for train and 10000 for test (or whatever a local copy holds).

    Raises:
        DatasetNotFoundError: files missing and not downloadable; the message says
            where it looked, why each mirror failed, and how to use local files.
        IDXError: a local file is damaged or is not the expected array.

    Example:
        >>> (x_train, t_train), (x_test, t_test) = load_mnist()  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype, t_train[:3]  # doctest: +SKIP
        ((60000, 784), dtype('float32'), array([5, 0, 4]))
    """
    # The parameters are load_dataset's, name for name (a test keeps them in step),
    # so they are passed on as they are: locals() holds nothing else at this point.
    return load_dataset(MNIST, **locals())


def load_fashion_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    dtype: DTypeLike = np.float32,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    checksums: Mapping[str, str] | None = None,
    verbose: bool = True,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST as ``((x_train, t_train), (x_test, t_test))``.

    Same arguments, shapes and errors as :func:`load_mnist`. Besides ``data_dir`` (or
    ``default_cache_dir() / "fashion-mnist"``) it looks in
    ``/usr/share/datasets/fashion-mnist``, where the Debian package
    ``dataset-fashion-mnist`` installs the files, so it works offline there.

    Labels: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
    7 sneaker, 8 bag, 9 ankle boot.

    Example:
        >>> (x_train, t_train), _ = load_fashion_mnist(flatten=False)  # doctest: +SKIP
        >>> x_train.shape  # doctest: +SKIP
        (60000, 1, 28, 28)
    """
    return load_dataset(FASHION_MNIST, **locals())  # as in load_mnist
