"""Data sets for the examples: an IDX reader and writer, MNIST and Fashion-MNIST.

Only NumPy and the standard library are used; downloads go through ``urllib`` and are
verified against published SHA-256 checksums before they enter the cache.
"""

from .download import DatasetNotFoundError, default_cache_dir
from .idx import IDXError, read_idx, write_idx
from .mnist import (
    FASHION_MNIST,
    MNIST,
    DatasetSpec,
    IDXFile,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "read_idx",
    "write_idx",
    "IDXError",
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
