"""Is this the published file? The SHA-256 of an IDX file's content, and a record of files
already checked so that an unchanged file is hashed once.

A known file is identified by the SHA-256 of its *decompressed* content, so the same data
compressed differently still matches (the Debian package's ``.gz`` files, which lack the
original file name, differ byte for byte from the published ones). While hashing, the
content is inflated only as far as the expected file's size, and its first bytes must be
the expected IDX header (the declared shape): a gzip bomb or another data set stops
there, before it costs memory or time.

Hashing MNIST costs tens of milliseconds against a load of about a hundred, so the loader
keeps a small record of files already verified, ``verified-files.json`` in the data root:
for each file its resolved path, size, modification and change times in nanoseconds,
inode, device and digest. A file whose ``stat`` still matches all of them is not hashed
again; a file copied, replaced or written to is a new file and is hashed before use. The
record only ever saves work: an entry counts only for the digest that is expected.

File times have a granularity (a few milliseconds, up to seconds on some file systems),
so a file written just before it was hashed could be written again within the same
tick without any change to its ``stat``. As git does with its index, such an entry (the
file's change time within :data:`SAME_TICK_NS` of the hashing) is not trusted: that file
is hashed once more on the next load, by when its times are settled.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import IO, Any

from ..atomic_files import atomic_write
from .idx import IDXError

__all__ = ["ChecksumError", "ContentDigest", "VerifiedFiles", "RECORD_NAME"]

#: File name of the record of verified files, in the data root.
RECORD_NAME = "verified-files.json"
_RECORD_VERSION = 2
#: Change times closer than this (2 s) to the moment a file was hashed may not reveal
#: a later write, so a record entry needs its file to be older than that.
SAME_TICK_NS = 2_000_000_000
# Entries kept; the oldest go first. Two data sets of four files, in a few places.
_RECORD_ENTRIES = 64
_RECORD_MAX_BYTES = 1 << 16
_CHUNK = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"
_OWN_FILES = "for data of your own, turn the check off (verify=False)"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate data


class ChecksumError(IDXError):
    """A file is a readable IDX file but not the published one it stands in for."""


class ContentDigest:
    """SHA-256 of a file's content, fed in chunks of the file as stored.

    A gzip stream (recognised by its magic bytes, members concatenated as ``gzip``
    allows) is inflated and its output hashed; anything else is hashed as it is.

    Args:
        name: the file, for messages.
        limit: the most bytes of content accepted; one more raises :class:`IDXError`
            at once, so a gzip bomb is never inflated past it.
        header: bytes the content must start with (an IDX magic number and shape);
            a mismatch raises :class:`IDXError` as soon as they are in.
        keep: also keep the content, for :attr:`content` (at most ``limit`` bytes).
        what: the published file expected, e.g. ``"MNIST train-images-idx3-ubyte.gz"``;
            content too large or with another header raises :class:`ChecksumError`
            saying it is not that file.
        hint: what to do about such a file, added to the message.

    >>> import gzip
    >>> d = ContentDigest("x", limit=5)
    >>> d.update(gzip.compress(b"hello"))
    >>> d.hexdigest() == hashlib.sha256(b"hello").hexdigest(), d.size
    (True, 5)
    """

    def __init__(self, name: str, *, limit: int, header: bytes = b"", keep: bool = False,
                 what: str = "the expected file", hint: str = _OWN_FILES) -> None:
        self.name = name
        self.what = what
        self.hint = hint
        self.limit = limit
        self.header = header
        self.size = 0
        self._sha = hashlib.sha256()
        self._head = b""
        self._kept: bytearray | None = bytearray() if keep else None
        self._inflater: Any = None
        self._start = b""  # the first bytes, until it is known whether they are gzip
        self._started = False

    def update(self, chunk: bytes | memoryview) -> None:
        """Feed the next bytes of the file as stored."""
        if not self._started:
            self._start += chunk
            if len(self._start) < len(_GZIP_MAGIC):
                return
            self._started = True
            chunk, self._start = self._start, b""
            if chunk.startswith(_GZIP_MAGIC):
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
        if self._inflater is None:
            self._content(chunk)
        else:
            self._inflate(chunk)

    def _inflate(self, chunk: bytes | memoryview) -> None:
        while chunk:
            if self._inflater.eof:
                # Another gzip member follows (as `cat a.gz b.gz` makes).
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
            # max_length bounds each step's output: never more than the limit allows,
            # and only the header until it has been checked.
            room = min(self.limit - self.size + 1, _CHUNK)
            if len(self._head) < len(self.header):
                room = min(room, len(self.header) - len(self._head))
            try:
                self._content(self._inflater.decompress(chunk, room))
            except zlib.error as exc:
                raise IDXError(f"{self._where}corrupt gzip data: {exc}") from exc
            if self._inflater.eof:
                chunk = self._inflater.unused_data
            else:
                chunk = self._inflater.unconsumed_tail

    def _content(self, data: bytes | memoryview) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            # Another file, or compressed data made to inflate without end.
            self._not_it(f"its content is larger than the {self.limit} bytes expected")
        if len(self._head) < len(self.header):
            self._head += data[: len(self.header) - len(self._head)]
            if not self.header.startswith(self._head):
                self._not_it(f"its IDX header is {_describe_header(self._head)}, expected "
                             f"{_describe_header(self.header)}")
        self._sha.update(data)
        if self._kept is not None:
            self._kept += data

    def finish(self) -> None:
        """Check that the stream ended properly: a gzip stream cut short, or content
        shorter than the expected header, is an :class:`IDXError`."""
        if not self._started:
            self._started = True
            self._content(self._start)
        if self._inflater is not None:
            try:
                self._content(self._inflater.flush(self.limit - self.size + 1))
            except zlib.error as exc:
                raise IDXError(f"{self._where}corrupt gzip data: {exc}") from exc
            if not self._inflater.eof:
                raise IDXError(f"{self._where}truncated gzip data (the stream stops early)")
        if len(self._head) < len(self.header):
            self._not_it(f"it has only {self.size} bytes of content, expected the "
                         f"{len(self.header)}-byte header {_describe_header(self.header)}")

    @property
    def _where(self) -> str:
        return f"{self.name}: " if self.name else ""

    def _not_it(self, why: str) -> None:
        hint = f"; {self.hint}" if self.hint else ""
        raise ChecksumError(f"{self._where}not the published {self.what}: {why}{hint}")

    def check(self, sha256: str) -> None:
        """Raise :class:`ChecksumError` unless the content's digest is ``sha256``."""
        if self.hexdigest() != sha256.lower():
            self._not_it(f"the SHA-256 of its content is {self.hexdigest()}, expected "
                         f"{sha256.lower()}")

    def hexdigest(self) -> str:
        """The SHA-256 of the content so far, as 64 hex digits."""
        return self._sha.hexdigest()

    @property
    def content(self) -> bytearray:
        """The content (only with ``keep=True``), not a copy."""
        if self._kept is None:
            raise ValueError("ContentDigest.content: created without keep=True")
        return self._kept

    def read_from(self, f: IO[bytes]) -> ContentDigest:
        """Feed all of ``f`` and :meth:`finish`; returns self."""
        buffer = memoryview(bytearray(_CHUNK))
        while n := f.readinto(buffer):  # type: ignore[attr-defined]
            self.update(buffer[:n])
        self.finish()
        return self


def _describe_header(head: bytes) -> str:
    if len(head) < 4 or head[:2] != b"\x00\x00":
        return f"bytes {head[:16].hex(' ') or '(none)'}"
    ndim = head[3]
    dims = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
            if len(head) >= 8 + 4 * i]
    return f"type 0x{head[2]:02X} with shape {tuple(dims)}" + (
        "" if len(dims) == ndim else f" (first {len(dims)} of {ndim} dimensions)"
    )


class VerifiedFiles:
    """The record of files whose content digest was checked (see the module docstring).

    ``path`` None keeps the record in memory only. A record that is missing, damaged
    or unwritable is an empty one: it can cost a hash, never accept a file.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}
        self._changed = False
        if path is not None:
            self._entries = _read_record(path)

    @staticmethod
    def _key(file: Path) -> str:
        return os.path.realpath(file)

    @staticmethod
    def _identity(st: os.stat_result) -> dict[str, int]:
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
                "inode": st.st_ino, "device": st.st_dev}

    def is_verified(self, file: Path, st: os.stat_result, sha256: str) -> bool:
        """True if ``file``, as ``st`` describes it, was verified to have ``sha256``."""
        entry = self._entries.get(self._key(file))
        return (entry is not None and entry.get("sha256") == sha256.lower()
                and all(entry.get(k) == v for k, v in self._identity(st).items())
                and st.st_ctime_ns + SAME_TICK_NS < entry.get("hashed_ns", 0))

    def add(self, file: Path, st: os.stat_result, sha256: str, hashed_ns: int) -> None:
        """Record that ``file``, as ``st`` describes it, has the content digest ``sha256``,
        read from ``hashed_ns`` (``time.time_ns()`` before the first byte was read)."""
        key = self._key(file)
        self._entries.pop(key, None)  # re-inserted last: the newest entry
        self._entries[key] = {**self._identity(st), "sha256": sha256.lower(),
                              "hashed_ns": hashed_ns}
        while len(self._entries) > _RECORD_ENTRIES:
            del self._entries[next(iter(self._entries))]
        self._changed = True

    def save(self) -> None:
        """Write the record if it changed; a failure to write is ignored."""
        if self.path is None or not self._changed:
            return
        text = json.dumps({"version": _RECORD_VERSION,
                           "files": [{"path": k, **v} for k, v in self._entries.items()]})
        try:
            with atomic_write(self.path) as f:
                f.write(text.encode())
        except OSError:
            return  # a read-only data root: files are hashed again next time
        self._changed = False


def _read_record(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            raw = f.read(_RECORD_MAX_BYTES + 1)
        if len(raw) > _RECORD_MAX_BYTES:
            return {}
        data = json.loads(raw)
        if data.get("version") != _RECORD_VERSION:
            return {}
        return {e["path"]: {k: v for k, v in e.items() if k != "path"}
                for e in data["files"] if isinstance(e.get("path"), str)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}
