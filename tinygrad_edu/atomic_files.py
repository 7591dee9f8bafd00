"""Atomic file writes: a reader sees the old file or the complete new one, never half.

:func:`atomic_write` hands out a temporary file in the destination's directory (so the
final rename never crosses file systems), and on success flushes it to disk and renames
it over the destination with :func:`os.replace`. On any error the temporary is deleted
and the destination is left as it was. Checkpoints, IDX files and downloads all go
through it. What it guarantees:

* **Permissions** are those ``open(path, "wb")`` would give: an existing file keeps its
  mode; a new one is created with ``os.open(..., 0o666)``, so the kernel applies the
  umask in force at that moment (the umask is never read, which would mean setting it).
* **Symbolic links** are written through, as ``open()`` does: when ``path`` is a link,
  the file it points to is replaced and the link stays a link.
* **Leftovers** of a writer that was killed (``kill -9``, a power cut) cannot be deleted
  by that writer. The temporary's name holds the writer's host and process id,
  ``.<name>.<host>-<pid>-<random><suffix>``, and every write to a target first removes
  the target's temporaries whose writer, on this host, no longer runs. A live writer's
  file, another host's, or one of this process (another thread may be writing it) is
  never touched.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with atomic_write(Path(d) / "hello.txt") as f:
...         _ = f.write(b"hello")
...     (Path(d) / "hello.txt").read_bytes(), [p.name for p in Path(d).iterdir()]
(b'hello', ['hello.txt'])
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "remove_stale_temporaries"]

# A short token of the host name: process ids mean nothing across the machines that
# share a network file system, so only this host's leftovers are judged by their pid.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temporary_for(target: Path, suffix: str) -> Path:
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}.{_HOST}-{os.getpid()}-{token}{suffix}")


def _writer_is_gone(pid: int) -> bool:
    """True only when no process ``pid`` runs on this host (a zombie still counts)."""
    if os.name != "posix" or pid == os.getpid():
        # Signal 0 probes a process on POSIX only; on Windows os.kill would end it.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # e.g. PermissionError: it exists and belongs to someone else
    return False


def remove_stale_temporaries(path: str | os.PathLike[str], suffix: str = ".tmp") -> list[Path]:
    """Delete the temporaries :func:`atomic_write` left for ``path`` in processes that
    have ended (on this host); return what was removed. Never raises for a file that
    cannot be listed or removed: cleaning up is a courtesy, not part of the write."""
    target = Path(path)
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.{_HOST}-(\d+)-[0-9a-f]{{8}}{re.escape(suffix)}"
    )
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and _writer_is_gone(int(match.group(1))):
            with suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _mode_of_existing(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Yield a binary file whose contents replace ``path`` when the block ends cleanly.

    The parent directory is created if needed. The temporary (see the module
    docstring for its name) is removed if the block raises (the exception propagates,
    ``path`` is untouched) and renamed over ``path`` otherwise, after an ``fsync`` so
    that the rename never publishes unwritten data. Before the temporary is created,
    stale temporaries of ``path`` with the same ``suffix`` are removed.
    """
    # realpath follows a symbolic link, so the link's target is what gets replaced.
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, suffix)
    tmp = _temporary_for(target, suffix)
    # O_EXCL: never open a file (or follow a link) that someone else put there.
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        mode = _mode_of_existing(target)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        # Never leave a stray temporary next to the destination, whatever went wrong.
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
