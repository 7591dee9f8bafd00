"""Data sets for the examples: an IDX reader and writer, MNIST and Fashion-MNIST.

Only NumPy and the standard library are used. Every known file is checked by the SHA-256
of its content before it is first used, wherever it came from; downloads go through
``urllib`` and are checked before they enter the cache.
"""

from .catalog import FASHION_MNIST, MNIST, DatasetSpec, IDXFile
from .checksum import ChecksumError
from .download import DatasetNotFoundError, default_cache_dir
from .idx import IDXError, read_idx, write_idx
from .mnist import load_dataset, load_fashion_mnist, load_mnist

__all__ = [
    "read_idx",
    "write_idx",
    "IDXError",
    "ChecksumError",
    "load_mnist",
    "load_fashion_mnist",
    "load_dataset",
    "DatasetNotFoundError",
    "DatasetSpec",
    "IDXFile",
    "MNIST",
    "FASHION_MNIST",
    "default_cache_dir",
]
