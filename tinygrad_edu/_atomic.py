"""Atomic file writes: a reader sees the old file or the complete new one, never half.

:func:`atomic_write` hands out a temporary file in the destination's directory (so the
final rename never crosses file systems), and on success flushes it to disk, gives it
the permissions a plain ``open(path, "wb")`` would have, and renames it over the
destination with :func:`os.replace`. On any error the temporary is deleted and the
destination is left as it was. Checkpoints, IDX files and downloads all go through it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with atomic_write(Path(d) / "hello.txt") as f:
...         _ = f.write(b"hello")
...     (Path(d) / "hello.txt").read_bytes(), [p.name for p in Path(d).iterdir()]
(b'hello', ['hello.txt'])
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write"]


def _read_umask() -> int:
    # The umask can only be read by setting it. Done once, at import: doing it per
    # write would briefly set the umask to 0 while other threads may be creating files.
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process umask when tinygrad_edu was imported.
_UMASK = _read_umask()


def _mode_for(path: Path) -> int:
    """The permission bits ``open(path, "wb")`` would leave: an existing file keeps its
    own, a new one gets 0o666 minus the umask (mkstemp's 0o600 is for the temporary only)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_UMASK


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Yield a binary file whose contents replace ``path`` when the block ends cleanly.

    The parent directory is created if needed. The temporary file is named
    ``.<name>.<random><suffix>`` next to ``path``; it is removed if the block raises
    (the exception propagates, ``path`` is untouched) and renamed over ``path``
    otherwise, after an ``fsync`` so that the rename never publishes unwritten data.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, _mode_for(path))
        os.replace(tmp_name, path)
    except BaseException:
        # Never leave a stray temporary next to the destination, whatever went wrong.
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
