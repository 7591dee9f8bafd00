"""MNIST and Fashion-MNIST, loaded the way *Deep Learning from Scratch* loads MNIST.

``load_mnist(normalize=True, flatten=True, one_hot_label=False)`` returns
``((x_train, t_train), (x_test, t_test))`` as NumPy arrays, just like the book's
``dataset/mnist.py``. The four IDX files are looked up on disk first and downloaded
(and verified) only when missing; see :func:`load_dataset` for the search order.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from .catalog import FASHION_MNIST, MNIST, DatasetSpec, IDXFile
from .checksum import RECORD_NAME, ContentDigest, VerifiedFiles
from .download import (
    DATA_ENV_VAR,
    DatasetNotFoundError,
    MirrorFetcher,
    default_cache_dir,
    fetch_archive,
    missing_directories,
    remove_if_empty,
)
from .idx import DEFAULT_MAX_BYTES, IDXError, parse_idx, read_idx

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
    # The pixel count is spelled out: reshape(n, -1) cannot work out -1 when n is 0.
    pixels = images.shape[1] * images.shape[2]
    x = images.reshape(n, pixels) if flatten else images.reshape(n, 1, *images.shape[1:])
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


def _read_verified(path: Path, file: IDXFile, what: str, record: VerifiedFiles) -> np.ndarray:
    """Read ``path`` if its content is ``file``'s: known from the record, or hashed now.

    The file is opened once: its identity for the record comes from the open file, and
    the bytes hashed are the bytes parsed, so a file swapped meanwhile cannot slip in.
    """
    limit = file.content_size or DEFAULT_MAX_BYTES
    hashed_ns = time.time_ns()
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if record.is_verified(path, st, file.sha256):
            return read_idx(f, max_bytes=limit)
        digest = ContentDigest(str(path), limit=limit, header=file.header, keep=True,
                               what=what)
        digest.read_from(f)
    digest.check(file.sha256)
    record.add(path, st, file.sha256, hashed_ns)
    return parse_idx(digest.content, name=str(path))


def _with_checksums(spec: DatasetSpec, checksums: Mapping[str, str]) -> DatasetSpec:
    """``spec`` with the digests in ``checksums`` (file name -> content SHA-256); a file
    given a digest of the user's also loses its known shape."""
    fields = ("train_images", "train_labels", "test_images", "test_labels")
    return dataclasses.replace(spec, **{
        field: IDXFile(f.name, checksums[f.name]) if f.name in checksums else f
        for field, f in zip(fields, spec.files, strict=True)
    })


def _record(verify: bool, data_dir: str | os.PathLike[str] | None) -> VerifiedFiles | None:
    if not verify:
        return None
    try:
        return VerifiedFiles(default_cache_dir() / RECORD_NAME)
    except NotADirectoryError:
        if data_dir is None:
            raise  # the data root is where the files are: a clear error about it
        return VerifiedFiles(None)  # files given explicitly: only the record is lost


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
    verify: bool = True,
    verbose: bool = True,
) -> tuple[Split, Split]:
    """Load any data set described by a :class:`DatasetSpec`; see :func:`load_mnist`.

    Each file is looked for, in order, in ``data_dir`` (or, without it, the data set's
    directory under :func:`default_cache_dir`), then in ``spec.system_dirs``; both
    ``name.gz`` and the uncompressed ``name`` are accepted. Missing files are downloaded
    into the first directory, from ``mirrors`` in order; directories created for a
    download that fails are removed again.

    With ``verify`` (the default) every file, local or downloaded, must have the SHA-256
    of its spec (of the decompressed content) before it is used; files already verified
    and unchanged since are not hashed again (see :mod:`tinygrad_edu.datasets.checksum`).
    ``checksums`` maps file names to content digests that replace the spec's. With
    ``verify=False``, for data of your own, a file is used if it parses as IDX with the
    right shape.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"{spec.loader}: dtype must be a floating type, got {dtype}")
    if checksums:
        spec = _with_checksums(spec, checksums)
    dirs = _search_dirs(spec, data_dir)
    record = _record(verify, data_dir)
    paths: dict[str, Path] = {}
    failures: dict[str, list[str]] = {}
    fetcher = MirrorFetcher(
        spec.mirrors if mirrors is None else mirrors, timeout=timeout, verbose=verbose
    )
    created = missing_directories(dirs[0]) if download else []
    for f in spec.files:
        found = _find(f.name, dirs)
        if found is None and download:
            started_ns = time.time_ns()
            found, failures[f.name] = fetcher.fetch(f, dirs[0])
            if found is not None and record is not None:
                record.add(found, found.stat(), f.sha256, started_ns)  # verified on the way
        if found is not None:
            paths[f.name] = found
    if download and mirrors is None:  # the default mirrors: archives come last
        for archive in spec.archives:
            needed = [f for f in spec.files if f.name not in paths]
            started_ns = time.time_ns()
            got, archive_failures = fetch_archive(archive, needed, dirs[0], timeout=timeout,
                                                  verbose=verbose)
            for f in needed:
                if f.name in archive_failures:
                    failures.setdefault(f.name, []).append(archive_failures[f.name])
                if f.name in got:
                    paths[f.name] = got[f.name]
                    if record is not None:  # verified on the way
                        record.add(got[f.name], got[f.name].stat(), f.sha256, started_ns)
    missing = [f.name for f in spec.files if f.name not in paths]
    if missing:
        remove_if_empty(created)
        raise DatasetNotFoundError(_not_found_message(spec, missing, dirs, failures, download))

    def read(f: IDXFile) -> np.ndarray:
        if record is None:
            return read_idx(paths[f.name])
        return _read_verified(paths[f.name], f, f"{spec.title} {f.name}", record)

    splits = []
    for images_file, labels_file in (
        (spec.train_images, spec.train_labels),
        (spec.test_images, spec.test_labels),
    ):
        images_path, labels_path = paths[images_file.name], paths[labels_file.name]
        images = read(images_file)
        _check_images(images, images_path, spec)
        labels = read(labels_file)
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
    if record is not None:
        record.save()  # only after every file passed: a failed load writes nothing
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
    verify: bool = True,
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
        checksums: file name -> SHA-256 of the decompressed content, replacing the
            published digests (for a data set of your own in MNIST's format).
        verify: check every file's content digest before use (default); ``False``
            uses any files that parse as MNIST-shaped IDX, for data of your own.
        verbose: report downloads on stderr.

    Shapes: N is 60000 for train and 10000 for test (or, with ``verify=False`` or
    ``checksums``, whatever the files hold, possibly 0).

    Raises:
        DatasetNotFoundError: files missing and not downloadable; the message says
            where it looked, why each mirror failed, and how to use local files.
        ChecksumError: a file is not the published one (another data set, another
            version); the message names it and gives both digests. An ``IDXError``.
        IDXError: a local file is damaged or is not the expected array.

    Example:
        >>> (x_train, t_train), (x_test, t_test) = load_mnist()  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype, t_train[:3]  # doctest: +SKIP
        ((60000, 784), dtype('float32'), array([5, 0, 4]))
    """
    return load_dataset(
        MNIST, normalize, flatten, one_hot_label, data_dir=data_dir, download=download,
        dtype=dtype, mirrors=mirrors, timeout=timeout, checksums=checksums, verify=verify,
        verbose=verbose,
    )


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
    verify: bool = True,
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
    return load_dataset(
        FASHION_MNIST, normalize, flatten, one_hot_label, data_dir=data_dir,
        download=download, dtype=dtype, mirrors=mirrors, timeout=timeout,
        checksums=checksums, verify=verify, verbose=verbose,
    )
