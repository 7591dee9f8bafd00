"""Saving and loading state dicts: NumPy ``.npz`` files, or ``.safetensors``.

``save(obj, path)`` writes a Module's or Optimizer's ``state_dict()`` (or any mapping of
names to numeric arrays). A path ending in ``.safetensors`` gets the safetensors format,
which PyTorch and other frameworks read (``safetensors.torch.load_file``); it needs the
optional extra ``pip install 'tinygrad-edu[safetensors]'``. Any other path gets an
``.npz`` file: one ``<name>.npy`` member per array, the layout ``np.savez`` uses, so
``np.load(path)`` reads it too. Either way the file is written to a temporary name
beside ``path`` and renamed over it only when complete, so an interrupted save never
leaves a half-written checkpoint. Arrays are stored as the library holds them:
``Linear``'s weight is (in_features, out_features), the book's layout.

``load(path)`` recognises the format from the content and returns the arrays, in the
order saved, exactly as they were (in native byte order). A checkpoint is untrusted
input: it holds numbers only and never runs code (object arrays are refused, nothing is
unpickled), and a compressed ``.npz`` may inflate to at most ``max_bytes`` (or its own
size, if larger) before anything is inflated. Whatever is wrong with a file raises
:class:`CheckpointError`, naming the file.

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

import json
import math
import os
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from tinygrad_edu.atomic_files import atomic_write
from tinygrad_edu.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "DEFAULT_MAX_BYTES"]

#: The most bytes of arrays a compressed checkpoint may inflate to, unless ``load`` is
#: given more (256 MiB; the book's TwoLayerNet needs 160 KB). A file may always hold
#: as much as its own size.
DEFAULT_MAX_BYTES = 1 << 28

_SAFETENSORS_SUFFIX = ".safetensors"
_ORDER_KEY = "tinygrad_edu.order"  # safetensors metadata: the names in the order saved
_NPY = ".npy"
_NUMERIC_KINDS = "biufc"
_EXTRA_HINT = "pip install 'tinygrad-edu[safetensors]'"


class CheckpointError(ValueError):
    """A file cannot be loaded as a checkpoint; the message names it and says why."""


def _safetensors_numpy(where: str) -> Any:
    try:
        import safetensors.numpy
    except ImportError as exc:
        raise ImportError(
            f"{where}: the .safetensors format needs the safetensors package: {_EXTRA_HINT}"
        ) from exc
    return safetensors.numpy


# ---------------------------------------------------------------------------- save


def _arrays(obj: Any) -> OrderedDict[str, np.ndarray]:
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(
            "save: expected a Module, an Optimizer or a mapping of names to arrays, "
            f"got {type(obj).__name__}"
        )
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"save: {key!r} has dtype {arr.dtype}; only numeric arrays can be saved "
                "(a checkpoint never holds Python objects)"
            )
        out[key] = arr
    return out


def _save_npz(arrays: Mapping[str, np.ndarray], f: IO[bytes], compress: bool) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    # Entries are written one by one (not via np.savez(**arrays)), so that keys like
    # "file" cannot collide with np.savez's own arguments. Every member is the key plus
    # ".npy", and load strips exactly that, so "a" and "a.npy" stay two arrays.
    with zipfile.ZipFile(f, mode="w", compression=method, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + _NPY, mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, arr, allow_pickle=False)


def _save_safetensors(arrays: Mapping[str, np.ndarray], f: IO[bytes]) -> None:
    st = _safetensors_numpy("save")
    for key, arr in arrays.items():
        if arr.dtype.newbyteorder("<").str[1:] not in _SAFETENSORS_DTYPES:
            raise TypeError(
                f"save: {key!r} has dtype {arr.dtype}, which the safetensors format "
                f"cannot hold; it holds {', '.join(sorted(_SAFETENSORS_DTYPES.values()))}"
            )
    # safetensors reads the raw buffer: it must be contiguous and little-endian.
    plain = {k: np.require(a, dtype=a.dtype.newbyteorder("<"), requirements="C")
             for k, a in arrays.items()}
    f.write(st.save(plain, metadata={_ORDER_KEY: json.dumps(list(arrays))}))


# dtype.str without the byte order -> the name safetensors gives it.
_SAFETENSORS_DTYPES = {
    "b1": "bool", "u1": "uint8", "i1": "int8", "u2": "uint16", "i2": "int16",
    "u4": "uint32", "i4": "int32", "u8": "uint64", "i8": "int64",
    "f2": "float16", "f4": "float32", "f8": "float64", "c8": "complex64",
}


def save(obj: Any, path: str | os.PathLike[str], compress: bool = False) -> Path:
    """Write ``obj.state_dict()`` (or a mapping of names to numeric arrays) to ``path``,
    atomically; returns the path.

    The format follows the name: ``.safetensors`` (needs the safetensors extra) or,
    for anything else, ``.npz``; ``compress`` deflates the ``.npz`` members. Writing
    through a symbolic link replaces the file it points to (see
    :mod:`tinygrad_edu.atomic_files`).
    """
    arrays = _arrays(obj)
    path = Path(path)
    if path.name.endswith(_SAFETENSORS_SUFFIX):
        if compress:
            raise ValueError("save: compress applies to .npz files; safetensors has none")
        _safetensors_numpy("save")  # a missing package is reported before any file exists
        with atomic_write(path) as f:
            _save_safetensors(arrays, f)
    else:
        with atomic_write(path) as f:
            _save_npz(arrays, f, compress)
    return path


# ---------------------------------------------------------------------------- load


def _describe_start(head: bytes) -> str:
    if not head:
        return "an empty file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c.isspace() for c in text):
        return f"text starting {text!r}"
    return f"bytes {head[:8].hex(' ')}"


def _read_npy(member: IO[bytes], size: int, where: str) -> np.ndarray:
    """One ``.npy`` member of ``size`` bytes, checked before its data is read."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise CheckpointError(f"{where} is not a valid .npy array: {exc}") from exc
    if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS:
        what = "Python objects" if dtype.hasobject else "non-numeric data"
        raise CheckpointError(
            f"{where} holds {what} (dtype {dtype}); a checkpoint holds numeric arrays "
            "only, and objects are never loaded"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    header = member.tell()
    if header + nbytes != size:
        raise CheckpointError(
            f"{where}: the header declares shape {shape} of {dtype} ({nbytes} bytes), "
            f"but the member holds {size - header} bytes of data"
        )
    buffer = bytearray(nbytes)
    view, filled = memoryview(buffer), 0
    while filled < nbytes:
        n = member.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            raise CheckpointError(f"{where}: truncated after {filled} of {nbytes} bytes")
        filled += n
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    # Native byte order, so arithmetic is fast; the values are the same.
    return array.astype(dtype.newbyteorder("="), copy=False)


def _load_npz(f: IO[bytes], name: str, file_size: int, max_bytes: int) -> OrderedDict[str, Any]:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise CheckpointError(f"{name}: a damaged or truncated zip archive: {exc}") from exc
    with zf:
        infos = zf.infolist()
        limit = max(max_bytes, file_size)
        total = sum(info.file_size for info in infos)
        if total > limit:
            raise CheckpointError(
                f"{name}: the archive's members inflate to {total} bytes, more than the "
                f"limit of {limit}; if the file is trusted, pass a larger max_bytes to load"
            )
        out: OrderedDict[str, Any] = OrderedDict()
        for info in infos:
            if not info.filename.endswith(_NPY) or info.is_dir():
                raise CheckpointError(
                    f"{name}: member {info.filename!r} is not a .npy array: not a checkpoint "
                    "(expected the members that save() or np.savez write)"
                )
            key = info.filename[: -len(_NPY)]
            if key in out:
                raise CheckpointError(f"{name}: member {info.filename!r} appears twice")
            where = f"{name}: {key!r}"
            try:
                with zf.open(info) as member:
                    out[key] = _read_npy(member, info.file_size, where)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise CheckpointError(f"{where} is damaged: {exc}") from exc
    return out


def _load_safetensors(data: bytes, name: str) -> OrderedDict[str, Any]:
    st = _safetensors_numpy("load")
    try:
        arrays = st.load(data)
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{name}: a damaged .safetensors file: {exc}") from exc
    order = []
    metadata = header.get("__metadata__") or {}
    try:
        order = json.loads(metadata.get(_ORDER_KEY, "[]"))
    except (ValueError, TypeError, AttributeError):
        order = []
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(arrays):
        order = [k for k in header if k != "__metadata__"]  # a file written elsewhere
    # np.frombuffer views of `data` are read-only: copy into writable arrays.
    return OrderedDict((k, np.array(arrays[k])) for k in order)


def load(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> OrderedDict[str, np.ndarray]:
    """Read a file written by :func:`save` (or ``np.savez``, or any safetensors file)
    into an ordered name -> ndarray dict, in the order saved; pass it to a Module's or
    an Optimizer's ``load_state_dict``.

    Raises:
        CheckpointError: the file is not a checkpoint (text, random bytes, a single
            ``.npy`` array, a zip of something else), is damaged or truncated, holds
            object arrays, or would inflate to more than ``max(max_bytes, file size)``.
        FileNotFoundError: there is no such file.
        ImportError: a ``.safetensors`` file, and the safetensors package is missing.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(0)
        file_size = os.fstat(f.fileno()).st_size
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _load_npz(f, name, file_size, max_bytes)
        if head.startswith(b"\x93NUMPY"):
            raise CheckpointError(
                f"{name} holds a single array (.npy), not a checkpoint of named arrays; "
                "write checkpoints with tinygrad_edu.serialization.save"
            )
        header_size = int.from_bytes(head[:8], "little")
        if len(head) > 8 and head[8:9] == b"{" and 8 + header_size <= file_size:
            return _load_safetensors(f.read(), name)
    raise CheckpointError(
        f"{name} is not a checkpoint: expected an .npz (zip) or a .safetensors file, "
        f"found {_describe_start(head)}"
    )
