"""Reading and writing IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a tiny header followed by raw array data::

    bytes 0-1   always 0x00 0x00
    byte  2     data type code (0x08 uint8, 0x09 int8, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64)
    byte  3     number of dimensions d
    4*d bytes   each dimension as a big-endian unsigned 32-bit integer
    the rest    the elements in C order, multi-byte types big-endian

The files are usually distributed gzip-compressed. :func:`read_idx` recognises gzip by
its magic bytes rather than by the file name, because downloads and hand-made copies are
often renamed. Everything that does not fit the format exactly raises :class:`IDXError`:
a file that is a few bytes short is a failed download, not a smaller data set.

A few hundred kilobytes of gzip data can inflate to gigabytes, so a compressed file may
hold at most ``max_bytes`` of array data (:data:`DEFAULT_MAX_BYTES`, 256 MiB, five times
MNIST's largest file); the header's declared shape is checked against it before anything
is inflated, and the caller can raise it. An uncompressed file needs no cap: it cannot
hold more than its own size.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from ..atomic_files import atomic_write

__all__ = ["IDXError", "read_idx", "parse_idx", "write_idx", "IDX_DTYPES", "DEFAULT_MAX_BYTES"]

PathLike = str | os.PathLike[str]

#: IDX type code -> NumPy dtype (big-endian, as stored in the file).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Keyed by (kind, itemsize) so that a little-endian float32 and a big-endian one map to
# the same code; the byte order is fixed when writing.
_CODE_FOR: dict[tuple[str, int], int] = {
    (dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24

#: The most bytes of array data :func:`read_idx` inflates from a gzip-compressed file
#: unless told otherwise (256 MiB).
DEFAULT_MAX_BYTES = 1 << 28
# NumPy's limit on the number of dimensions of an array.
_MAX_DIMS = 64
# Trailing bytes are counted up to this many, then reported as "at least": a stream with
# a small declared shape must not be able to keep the reader inflating for ever.
_MAX_EXTRA_COUNTED = 1 << 20

# A few signatures of files that end up where an IDX file was expected: an HTML error
# page saved by a proxy or a mirror, an image, an archive. Naming them turns a puzzling
# "bad magic number" into an obvious mistake.
_FOREIGN_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"<!DOCTYPE", "an HTML page"),
    (b"<!doctype", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<HTML", "an HTML page"),
    (b"<?xml", "an XML document"),
    (b"BZh", "a bzip2 stream"),
    (b"\xfd7zXZ", "an xz stream"),
    (b"\x1f\x8b", "gzip data (compressed twice?)"),
)


class IDXError(ValueError):
    """A file is not a valid IDX file (or not the IDX file that was expected).

    The message names the file, what was expected and what was found.
    """


def _describe_dtypes() -> str:
    return ", ".join(f"0x{code:02X} {dt.newbyteorder('=').name}" for code, dt in IDX_DTYPES.items())


def _source_name(source: PathLike | IO[bytes]) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    # gzip and some wrappers expose an int file descriptor or bytes as the name.
    if isinstance(name, (str, bytes)) and name:
        return os.fsdecode(name)
    return f"<{type(source).__name__}>"


def _guess_foreign(head: bytes) -> str | None:
    stripped = head.lstrip()
    for signature, what in _FOREIGN_SIGNATURES:
        if head.startswith(signature) or stripped.startswith(signature):
            return what
    return None


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    """Read up to ``n`` bytes, looping because gzip and sockets return short reads."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        part = stream.read(min(remaining, _CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _count_rest(stream: IO[bytes]) -> int:
    """The bytes left in ``stream``, counted up to just over :data:`_MAX_EXTRA_COUNTED`."""
    total = 0
    while total <= _MAX_EXTRA_COUNTED:
        part = stream.read(_MAX_EXTRA_COUNTED)
        if not part:
            break
        total += len(part)
    return total


@contextmanager
def _open_binary(source: PathLike | IO[bytes]) -> Iterator[IO[bytes]]:
    """Yield a seekable binary stream over ``source``; close it only if we opened it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield f
        return
    if not hasattr(source, "read"):
        raise TypeError(
            f"read_idx: expected a path or a binary file object, got {type(source).__name__}"
        )
    seekable = getattr(source, "seekable", None)
    if seekable is not None and seekable():
        yield source
    else:
        # The gzip test needs to look at the first bytes and then start over; a pipe or
        # socket cannot rewind, so buffer it. IDX files are at most a few hundred MB.
        yield io.BytesIO(source.read())


def _header(
    stream: IO[bytes], name: str, max_bytes: int | None
) -> tuple[np.dtype, tuple[int, ...], int]:
    """Read the magic number and the sizes: (dtype, shape, bytes of data declared)."""
    magic = _read_exactly(stream, 4)
    if len(magic) < 4:
        raise IDXError(
            f"{name}: not an IDX file: expected a 4-byte magic number, "
            f"found only {len(magic)} byte(s)"
        )
    if magic[0] != 0 or magic[1] != 0:
        what = _guess_foreign(magic + stream.read(12))
        found = f"bytes {magic.hex(' ')}" + (f" (this looks like {what})" if what else "")
        raise IDXError(
            f"{name}: not an IDX file: expected the magic number to start with 00 00, found {found}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        raise IDXError(
            f"{name}: unknown IDX data type code 0x{code:02X} in the magic number "
            f"{magic.hex(' ')}; expected one of {_describe_dtypes()}"
        )
    dtype = IDX_DTYPES[code]
    if ndim > _MAX_DIMS:
        raise IDXError(
            f"{name}: the header declares {ndim} dimensions; NumPy arrays have at most "
            f"{_MAX_DIMS}"
        )

    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise IDXError(
            f"{name}: truncated header: the magic number announces {ndim} dimension(s), "
            f"expected {4 * ndim} bytes of sizes, found {len(dims_raw)}"
        )
    shape = struct.unpack(f">{ndim}I", dims_raw)
    count = 1
    for d in shape:
        count *= d
    expected = count * dtype.itemsize
    if max_bytes is not None and expected > max_bytes:
        raise IDXError(
            f"{name}: the header declares {expected} bytes of "
            f"{dtype.newbyteorder('=').name} data (shape {shape}), more than the "
            f"{max_bytes} this compressed file may inflate to; if the file is trusted, "
            "pass a larger max_bytes to read_idx"
        )
    return dtype, shape, expected


def _check_length(found: int, expected: int, dtype: np.dtype, shape: tuple[int, ...],
                  name: str, at_least: bool = False) -> None:
    what = f"{expected} bytes of {dtype.newbyteorder('=').name} data for shape {shape}"
    if found < expected:
        raise IDXError(f"{name}: truncated: expected {what}, found {found}")
    if found > expected:
        extra = found - expected
        amount = f"more than {found}" if at_least else f"{found} ({extra} extra)"
        raise IDXError(f"{name}: too long: expected {what}, found {amount}")


def _array(payload: bytearray | memoryview, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    if dtype.itemsize > 1:
        # astype copies into native byte order, so arithmetic on the result is fast
        # and the array does not surprise code that inspects dtype.byteorder.
        return array.astype(dtype.newbyteorder("="))
    # A bytearray is writable, so the single-byte result is an ordinary writable array.
    return array.view(dtype.newbyteorder("="))


def _parse(stream: IO[bytes], name: str, max_bytes: int | None) -> np.ndarray:
    dtype, shape, expected = _header(stream, name, max_bytes)
    # Read into a growing buffer instead of allocating `expected` bytes up front: a
    # damaged header can announce terabytes, and that must be an IDXError, not a
    # MemoryError.
    payload = bytearray()
    while len(payload) < expected:
        part = stream.read(min(expected - len(payload), _CHUNK))
        if not part:
            break
        payload += part
    _check_length(len(payload), expected, dtype, shape, name)
    extra = _count_rest(stream)
    _check_length(expected + extra, expected, dtype, shape, name,
                  at_least=extra > _MAX_EXTRA_COUNTED)
    return _array(payload, dtype, shape)


def parse_idx(data: bytearray, name: str = "<bytearray>") -> np.ndarray:
    """The array in ``data``, the whole content of an uncompressed IDX file, without
    copying it: for single-byte types the result is a view of ``data`` (so ``data``
    must not be used for anything else afterwards).

    Same checks and errors as :func:`read_idx`; ``name`` is used in messages.

    Example:
        >>> parse_idx(bytearray([0, 0, 0x08, 1, 0, 0, 0, 2, 5, 6]))
        array([5, 6], dtype=uint8)
    """
    view = memoryview(data)
    head = io.BytesIO(view[: 4 + 4 * 255])
    dtype, shape, expected = _header(head, name, None)
    payload = view[head.tell():]
    _check_length(len(payload), expected, dtype, shape, name)
    return _array(payload, dtype, shape)


def read_idx(
    source: PathLike | IO[bytes],
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    name: str | None = None,
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw, into a native-endian NumPy array.

    Args:
        source: a path, or a binary file object positioned at the start of the data.
            Compression is detected from the gzip magic bytes, not from the name.
        max_bytes: the most bytes of array data a gzip-compressed source may declare
            (default :data:`DEFAULT_MAX_BYTES`, 256 MiB); ``None`` for no limit.
            Uncompressed sources are not limited.
        name: what to call the source in messages (default: its path or file name).

    Returns:
        An array with the shape and dtype the header announces (uint8, int8, int16,
        int32, float32 or float64), in native byte order and writable.

    Raises:
        IDXError: the data is not exactly one IDX array: a foreign or corrupt file,
            an unknown type code, more than 64 dimensions, a payload shorter or longer
            than the header says, or a compressed file declaring more than ``max_bytes``.
        FileNotFoundError: ``source`` is a path that does not exist.

    Example:
        >>> import io
        >>> buf = io.BytesIO(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(buf)
        array([7, 8, 9], dtype=uint8)
    """
    name = _source_name(source) if name is None else name
    with _open_binary(source) as raw:
        start = raw.tell()
        head = raw.read(2)
        raw.seek(start)
        if head != _GZIP_MAGIC:
            return _parse(raw, name, None)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                return _parse(unzipped, name, max_bytes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # EOFError: the compressed stream stops early (an interrupted download);
            # BadGzipFile / zlib.error: damaged data or a CRC mismatch.
            raise IDXError(f"{name}: corrupt or truncated gzip data: {exc}") from exc


def write_idx(path: PathLike, array: np.ndarray | object, compress: bool | None = None) -> Path:
    """Write ``array`` to ``path`` as an IDX file, atomically.

    The data goes to a temporary file in the same directory, which is renamed over
    ``path`` only once it is complete, so a reader never sees half a file.

    Args:
        path: destination file.
        array: anything :func:`numpy.asarray` accepts, of dtype uint8, int8, int16,
            int32, float32 or float64, with at most 255 dimensions of fewer than
            2**32 elements each.
        compress: gzip the file; ``None`` means "if the name ends in ``.gz``".

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        ValueError: the dtype has no IDX code, or the shape does not fit the header.

    Example:
        >>> import tempfile, numpy as np
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = write_idx(d + "/x.idx.gz", np.arange(6, dtype=np.int16).reshape(2, 3))
        ...     read_idx(p).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _CODE_FOR.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise ValueError(
            f"write_idx: dtype {arr.dtype} has no IDX type code; supported: {_describe_dtypes()}"
        )
    if arr.ndim > 255:
        raise ValueError(f"write_idx: IDX allows at most 255 dimensions, got {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: every dimension must be < 2**32, got shape {arr.shape}")
    if compress is None:
        compress = path.name.endswith(".gz")

    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()

    with atomic_write(path) as f:
        if compress:
            # mtime=0 and no embedded name make the bytes depend on the data only,
            # so a checksum of a written file is reproducible.
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            f.write(header)
            f.write(payload)
    return path
