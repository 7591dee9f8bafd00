"""Atomic writes: the permissions of written files, and nothing left behind on failure."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import nn, serialization
from tinygrad_edu._atomic import atomic_write
from tinygrad_edu.datasets import write_idx
from tinygrad_edu.datasets.download import download_file

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter, because the umask is read once, when tinygrad_edu is
# imported: a checkpoint, an IDX file and a download (from a file:// URL), then the
# permission bits of each, as JSON.
_WRITE_ALL = """
import hashlib, json, os, sys
os.umask(int(sys.argv[2], 8))
from pathlib import Path
import numpy as np
from tinygrad_edu import nn, serialization
from tinygrad_edu.datasets import write_idx
from tinygrad_edu.datasets.download import download_file
out = Path(sys.argv[1])
paths = {
    "checkpoint": serialization.save(nn.Linear(2, 2, rng=0), out / "net.npz"),
    "idx": write_idx(out / "x.idx.gz", np.arange(6, dtype=np.uint8)),
}
source = paths["idx"]
paths["download"] = download_file(source.as_uri(), out / "cache" / "x.idx.gz",
                                  hashlib.sha256(source.read_bytes()).hexdigest(), timeout=5)
print(json.dumps({k: p.stat().st_mode & 0o777 for k, p in paths.items()}))
"""


def _modes_written_under(umask: int, out: Path) -> dict[str, int]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_ALL, str(out), oct(umask)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize(
    ("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)], ids=["umask022", "umask027"]
)
def test_new_files_get_the_mode_open_would_give(umask: int, mode: int, tmp_path: Path) -> None:
    # mkstemp creates its file 0o600 and os.replace keeps that, which would make every
    # checkpoint and cached download private to its owner whatever the umask says.
    modes = _modes_written_under(umask, tmp_path)
    assert modes == {"checkpoint": mode, "idx": mode, "download": mode}, {
        k: oct(v) for k, v in modes.items()
    }


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_overwritten_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    serialization.save(nn.Linear(2, 2, rng=0), path)
    os.chmod(path, 0o640)
    serialization.save(nn.Linear(2, 2, rng=1), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    np.testing.assert_array_equal(
        serialization.load(path)["weight"], nn.Linear(2, 2, rng=1).weight.data
    )


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_write(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_atomic_write_creates_the_directory(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "a" / "b" / "c.bin", suffix=".part") as f:
        f.write(b"x")
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"x"
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["c.bin"]


def test_writers_clean_up_after_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "open", broken)
    with pytest.raises(OSError, match="No space left"):
        serialization.save(nn.Linear(2, 2, rng=0), tmp_path / "net.npz")
    monkeypatch.undo()

    monkeypatch.setattr(gzip.GzipFile, "write", broken)
    with pytest.raises(OSError, match="No space left"):
        write_idx(tmp_path / "x.idx.gz", np.arange(3, dtype=np.uint8))
    monkeypatch.undo()

    # A download whose checksum does not match is removed, and nothing replaces dest.
    source = write_idx(tmp_path / "src" / "x.idx", np.arange(3, dtype=np.uint8))
    with pytest.raises(Exception, match="SHA-256 mismatch"):
        download_file(source.as_uri(), tmp_path / "cache" / "x.idx", "0" * 64, timeout=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "src"]
    assert list((tmp_path / "cache").iterdir()) == []
