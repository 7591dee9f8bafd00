"""Verified downloads into the data cache, with nothing but ``urllib``.

A download streams into a temporary file next to its destination while the SHA-256 of
its content (inflated, for gzip) is computed, and is renamed into place only when the
digest matches the published one. A file in the cache is therefore complete and verified
when it arrives (and, like every file, verified again before use if it changed since);
an interrupted or tampered download leaves nothing behind, and the next mirror is tried.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from ..atomic_files import atomic_write
from .catalog import Archive, IDXFile
from .checksum import ContentDigest
from .idx import DEFAULT_MAX_BYTES, IDXError

__all__ = [
    "fetch_archive",
    "DatasetNotFoundError",
    "default_cache_dir",
    "download_file",
    "DownloadFailed",
    "MirrorFetcher",
    "missing_directories",
    "remove_if_empty",
]

#: Environment variable naming the data root (overrides the XDG cache location).
DATA_ENV_VAR = "TINYGRAD_EDU_DATA"

_CHUNK = 1 << 16
_USER_AGENT = "tinygrad_edu-datasets/0.1 (python urllib)"


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are neither on disk nor downloadable.

    The message lists the missing files, every directory searched, why each mirror
    failed, and how to point the loader at a local copy.
    """


class DownloadFailed(Exception):
    """One attempt to fetch one URL failed; ``reason`` says why in a few words.

    ``unreachable`` is true when the server itself could not be reached (refused,
    unknown host, timeout), so other files from the same mirror need not be tried.
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def default_cache_dir() -> Path:
    """Return the data root used when a loader is not given ``data_dir``.

    In order of precedence: ``$TINYGRAD_EDU_DATA``; ``$XDG_CACHE_HOME/tinygrad_edu``;
    ``~/.cache/tinygrad_edu``. Each data set lives in a subdirectory named after it
    (``mnist``, ``fashion-mnist``), because both use the same file names.

    Raises:
        NotADirectoryError: ``$TINYGRAD_EDU_DATA`` names something that exists and is
            not a directory (it must name the data root, not a file in it).

    Example:
        >>> isinstance(default_cache_dir(), Path)
        True
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        root = Path(env).expanduser()
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(
                f"{DATA_ENV_VAR}={env} names a file, not a directory; set it to the data "
                "root, the directory that holds (or will hold) mnist/ and fashion-mnist/"
            )
        return root
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative paths in XDG_* variables are invalid and to be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "tinygrad_edu"
    return Path.home() / ".cache" / "tinygrad_edu"


def join_url(mirror: str, file_name: str) -> str:
    """``mirror`` + ``/`` + ``file_name``, whether or not the mirror ends in a slash."""
    return mirror.rstrip("/") + "/" + file_name


def _stream_to(
    url: str, out: BinaryIO, digest: ContentDigest, timeout: float
) -> tuple[int, int | None]:
    """GET ``url`` into the open file ``out``, feeding ``digest``; return (bytes received,
    Content-Length).

    Only network failures and content that cannot be the expected file become
    :class:`DownloadFailed`; a local write error (disk full, permissions) propagates,
    since no other mirror would fix it.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.strip().isdigit() else None
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise DownloadFailed(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        # Raised before any byte arrives: refused, unknown host, TLS failure, timeout.
        # A file:// mirror reports a missing file the same way, yet may hold the others.
        if isinstance(exc.reason, FileNotFoundError):
            raise DownloadFailed(f"not found: {exc.reason}") from exc
        raise DownloadFailed(f"cannot connect: {exc.reason}", unreachable=True) from exc
    except TimeoutError as exc:
        raise DownloadFailed(
            f"timed out after {timeout:g} s ({received} bytes received)", unreachable=True
        ) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        raise DownloadFailed(f"connection broken after {received} bytes: {exc!r}") from exc
    except IDXError as exc:
        # Corrupt, too large, or not the expected header: stop before inflating further.
        raise DownloadFailed(str(exc)) from exc
    except ValueError as exc:
        # urllib's answer to a malformed URL or an unknown scheme.
        raise DownloadFailed(f"invalid URL: {exc}", unreachable=True) from exc
    return received, length


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    timeout: float,
    limit: int = DEFAULT_MAX_BYTES,
    header: bytes = b"",
) -> Path:
    """Download ``url`` to ``dest`` if and only if the SHA-256 of its content is ``sha256``.

    The content is the body itself, or what it inflates to when it is gzip data; it may
    be at most ``limit`` bytes and must start with ``header`` (see
    :class:`~tinygrad_edu.datasets.checksum.ContentDigest`). The body streams into a
    temporary file in ``dest``'s directory (see :func:`~tinygrad_edu.atomic_files.atomic_write`),
    which is renamed to ``dest`` after the checks pass and deleted otherwise.

    Raises:
        DownloadFailed: network error, HTTP error, short body, content too large or
            with another header, or checksum mismatch.
        OSError: the destination directory cannot be written.
    """
    dest = Path(dest)
    # Unnamed and without a hint: the failure is reported after the URL, and the next
    # mirror is tried.
    digest = ContentDigest("", limit=limit, header=header, what=Path(dest).name, hint="")
    with atomic_write(dest, suffix=".part") as f:
        received, length = _stream_to(url, f, digest, timeout)
        # urllib returns b"" when a server closes early, so the short body has to be
        # caught by comparing with the announced length; the digest would catch it
        # too, but "truncated" is the more useful message.
        if length is not None and received != length:
            raise DownloadFailed(
                f"truncated: the server announced {length} bytes and sent {received}"
            )
        try:
            digest.finish()
        except IDXError as exc:
            raise DownloadFailed(str(exc)) from exc
        if digest.hexdigest() != sha256.lower():
            raise DownloadFailed(
                f"SHA-256 mismatch: expected {sha256.lower()}, got {digest.hexdigest()} "
                f"(of the content: {digest.size} bytes, from {received} bytes received)"
            )
    return dest


def missing_directories(directory: Path) -> list[Path]:
    """``directory`` and those of its ancestors that do not exist, deepest first: what a
    download into it would create, and what to remove again if it fails."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return missing


def remove_if_empty(directories: Sequence[Path]) -> None:
    """Remove each directory (deepest first) that is empty; leave any other alone."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (or not ours to remove): its parents are not empty either


class MirrorFetcher:
    """Fetch files from a list of mirrors, in order, remembering unreachable ones.

    One fetcher serves one load: when a mirror cannot be reached for the first file it
    is skipped for the others, so being offline costs one failed connection per
    mirror instead of one per mirror and file.
    """

    def __init__(self, mirrors: Sequence[str], *, timeout: float, verbose: bool) -> None:
        if isinstance(mirrors, str):
            # A bare string would be iterated character by character.
            mirrors = [mirrors]
        self.mirrors = list(mirrors)
        self.timeout = timeout
        self.verbose = verbose
        self._unreachable: set[str] = set()

    def fetch(self, file: IDXFile, dest_dir: Path) -> tuple[Path | None, list[str]]:
        """Try each mirror for ``file``; return (path or None, one line per failure)."""
        file_name = file.name
        failures: list[str] = []
        if not self.mirrors:
            failures.append("no mirrors configured")
        for mirror in self.mirrors:
            url = join_url(mirror, file_name)
            if mirror in self._unreachable:
                # The reason was reported with the file that found the mirror down.
                failures.append(f"{url}: skipped, mirror unreachable")
                continue
            if self.verbose:
                print(f"Downloading {url} ...", file=sys.stderr, flush=True)
            try:
                path = download_file(url, dest_dir / file_name, file.sha256,
                                     timeout=self.timeout, header=file.header,
                                     limit=file.content_size or DEFAULT_MAX_BYTES)
            except DownloadFailed as exc:
                failures.append(f"{url}: {exc.reason}")
                if exc.unreachable:
                    self._unreachable.add(mirror)
                if self.verbose:
                    print(f"  failed: {exc.reason}", file=sys.stderr, flush=True)
                continue
            if self.verbose:
                print(f"  saved {path} ({path.stat().st_size} bytes)", file=sys.stderr, flush=True)
            return path, failures
        return None, failures


class _SizeCap:
    """A digest stand-in for :func:`_stream_to` that only counts, and stops a body that
    grows past ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise DownloadFailed(f"larger than the {self.limit} bytes allowed")


def fetch_archive(archive: Archive, files: Sequence[IDXFile], dest_dir: Path, *,
                  timeout: float, verbose: bool) -> tuple[dict[str, Path], dict[str, str]]:
    """Take the ``files`` that ``archive`` holds out of it, into ``dest_dir`` (under their
    names without ``.gz``: the members are uncompressed). Each member is checked before it
    is written: a regular file of the spec's content size whose SHA-256 is the spec's.
    Returns (published name -> path, published name -> why it failed); the archive
    itself is deleted."""
    wanted = {f.name: f for f in files}
    members = [(name, path) for name, path in archive.members if name in wanted]
    if not members:
        return {}, {}
    if verbose:
        print(f"Downloading {archive.url} ...", file=sys.stderr, flush=True)
    got: dict[str, Path] = {}
    failures: dict[str, str] = {}
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest_dir) as tmp:
            cap = _SizeCap(archive.max_bytes)
            _stream_to(archive.url, tmp, cap, timeout)  # type: ignore[arg-type]
            tmp.seek(0)
            with tarfile.open(fileobj=tmp, mode="r:gz") as tar:
                for name, path in members:
                    try:
                        got[name] = _extract(tar, path, wanted[name], dest_dir)
                    except DownloadFailed as exc:
                        failures[name] = f"{archive.url} ({path}): {exc.reason}"
    except DownloadFailed as exc:
        failures = {name: f"{archive.url}: {exc.reason}" for name, _ in members}
    except (tarfile.TarError, EOFError, OSError) as exc:
        failures = {name: f"{archive.url}: not a readable .tar.gz archive ({exc})"
                    for name, _ in members}
    return got, failures


def _extract(tar: tarfile.TarFile, path: str, file: IDXFile, dest_dir: Path) -> Path:
    try:
        info = tar.getmember(path)
    except KeyError:
        raise DownloadFailed("not in the archive") from None
    expected = file.content_size
    if not info.isreg() or (expected is not None and info.size != expected):
        raise DownloadFailed(f"a {info.size}-byte entry, expected a regular file of "
                             f"{expected} bytes")
    source = tar.extractfile(info)
    assert source is not None  # a regular file always has content
    digest = hashlib.sha256()
    dest = dest_dir / file.name.removesuffix(".gz")
    with atomic_write(dest, suffix=".part") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != file.sha256.lower():
            raise DownloadFailed(f"SHA-256 mismatch: expected {file.sha256.lower()}, got "
                                 f"{digest.hexdigest()}")
    return dest
