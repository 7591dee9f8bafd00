"""Verified downloads into the data cache, with nothing but ``urllib``.

A download streams into a temporary file next to its destination while its SHA-256 is
computed, and is renamed into place only when the digest matches the published one. A
file in the cache is therefore always complete and verified; an interrupted or tampered
download leaves nothing behind, and the next mirror is tried.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from .._atomic import atomic_write

__all__ = [
    "DatasetNotFoundError",
    "default_cache_dir",
    "download_file",
    "DownloadFailed",
    "MirrorFetcher",
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

    Example:
        >>> isinstance(default_cache_dir(), Path)
        True
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative paths in XDG_* variables are invalid and to be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "tinygrad_edu"
    return Path.home() / ".cache" / "tinygrad_edu"


def join_url(mirror: str, file_name: str) -> str:
    """``mirror`` + ``/`` + ``file_name``, whether or not the mirror ends in a slash."""
    return mirror.rstrip("/") + "/" + file_name


def _stream_to(url: str, out: BinaryIO, timeout: float) -> tuple[str, int, int | None]:
    """GET ``url`` into the open file ``out``; return (sha256 hex, bytes, Content-Length).

    Only network failures become :class:`DownloadFailed`; a local write error (disk
    full, permissions) propagates, since no other mirror would fix it.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            length = int(header) if header and header.strip().isdigit() else None
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                received += len(chunk)
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
    except ValueError as exc:
        # urllib's answer to a malformed URL or an unknown scheme.
        raise DownloadFailed(f"invalid URL: {exc}", unreachable=True) from exc
    return digest.hexdigest(), received, length


def download_file(url: str, dest: str | os.PathLike[str], sha256: str, *, timeout: float) -> Path:
    """Download ``url`` to ``dest`` if and only if its SHA-256 equals ``sha256``.

    The body streams into a temporary file in ``dest``'s directory (see
    :func:`~tinygrad_edu._atomic.atomic_write`), which is renamed to ``dest`` after
    the checks pass and deleted otherwise.

    Raises:
        DownloadFailed: network error, HTTP error, short body, or checksum mismatch.
        OSError: the destination directory cannot be written.
    """
    dest = Path(dest)
    with atomic_write(dest, suffix=".part") as f:
        digest, received, length = _stream_to(url, f, timeout)
        # urllib returns b"" when a server closes early, so the short body has to be
        # caught by comparing with the announced length; the digest would catch it
        # too, but "truncated" is the more useful message.
        if length is not None and received != length:
            raise DownloadFailed(
                f"truncated: the server announced {length} bytes and sent {received}"
            )
        if digest != sha256.lower():
            raise DownloadFailed(
                f"SHA-256 mismatch: expected {sha256.lower()}, got {digest} ({received} bytes)"
            )
    return dest


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

    def fetch(self, file_name: str, sha256: str, dest_dir: Path) -> tuple[Path | None, list[str]]:
        """Try each mirror for ``file_name``; return (path or None, one line per failure)."""
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
                path = download_file(url, dest_dir / file_name, sha256, timeout=self.timeout)
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
