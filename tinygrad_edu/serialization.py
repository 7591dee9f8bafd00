"""Saving and loading state dicts as NumPy ``.npz`` files.

``save(module_or_state, path)`` writes one ``name.npy`` entry per array into a zip file,
the layout ``np.savez`` uses, so ``np.load(path)`` reads it too. The file is written to a
temporary name in the same directory and renamed over ``path`` only when complete, so
an interrupted save never leaves a half-written checkpoint. ``load`` opens it with
``allow_pickle=False``: a checkpoint holds numbers only and can never run code.

>>> import tempfile, os, numpy as np
>>> from tinygrad_edu import nn
>>> net = nn.Linear(3, 2, rng=0)
>>> with tempfile.TemporaryDirectory() as d:
...     path = save(net, os.path.join(d, "net.npz"))
...     state = load(path)
>>> list(state)
['weight', 'bias']
>>> nn.Linear(3, 2, rng=1).load_state_dict(state)
LoadResult(missing_keys=[], unexpected_keys=[])
"""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu._atomic import atomic_write
from tinygrad_edu.tensor import Tensor

__all__ = ["save", "load"]


def _arrays(obj: Any) -> OrderedDict[str, np.ndarray]:
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"save: expected a Module or a mapping of names to arrays, got {type(obj).__name__}"
        )
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.dtype.kind not in "biufc":
            raise TypeError(
                f"save: {key!r} has dtype {arr.dtype}; only numeric arrays can be saved "
                "(a checkpoint never holds pickled objects)"
            )
        out[key] = arr
    return out


def save(obj: Any, path: str | os.PathLike[str], compress: bool = False) -> Path:
    """Write a Module's ``state_dict()`` (or any name -> array mapping) to ``path`` as
    an ``.npz`` file, atomically; returns the path. ``compress`` deflates the entries."""
    arrays = _arrays(obj)
    path = Path(path)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_write(path) as f:
        # Entries are written one by one (not via np.savez(**arrays)), so that keys
        # like "file" cannot collide with np.savez's own arguments.
        with zipfile.ZipFile(f, mode="w", compression=method, allowZip64=True) as zf:
            for key, arr in arrays.items():
                with zf.open(key + ".npy", mode="w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, arr, allow_pickle=False)
    return path


def load(path: str | os.PathLike[str]) -> OrderedDict[str, np.ndarray]:
    """Read a file written by :func:`save` (or ``np.savez``) into an ordered
    name -> ndarray dict, in the order saved; pass it to ``Module.load_state_dict``."""
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(
            f"load: {os.fspath(path)} holds a single array, not an .npz state dict "
            "(write checkpoints with tinygrad_edu.serialization.save)"
        )
    with data:
        return OrderedDict((key, data[key]) for key in data.files)
