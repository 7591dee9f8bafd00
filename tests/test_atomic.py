"""Atomic writes: the permissions of written files, links, and nothing left behind on failure
or after a writer is killed."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import nn, serialization
from tinygrad_edu.atomic_files import atomic_write
from tinygrad_edu.datasets import write_idx
from tinygrad_edu.datasets.download import download_file

ROOT = Path(__file__).resolve().parent.parent


def _write_all(out: Path) -> dict[str, int]:
    """A checkpoint, an IDX file and a download (from a file:// URL); their modes."""
    paths = {
        "checkpoint": serialization.save(nn.Linear(2, 2, rng=0), out / "net.npz"),
        "idx": write_idx(out / "x.idx.gz", np.arange(6, dtype=np.uint8)),
    }
    source = paths["idx"]
    digest = hashlib.sha256(gzip.decompress(source.read_bytes())).hexdigest()
    paths["download"] = download_file(source.as_uri(), out / "cache" / "x.idx.gz", digest,
                                      timeout=5)
    return {k: stat.S_IMODE(p.stat().st_mode) for k, p in paths.items()}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize(
    ("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640)],
    ids=["umask022", "umask077", "umask027"],
)
def test_new_files_get_the_mode_open_would_give_now(
    umask: int, mode: int, tmp_path: Path
) -> None:
    # The umask in force at the time of the write counts, not the one at import.
    old = os.umask(umask)
    try:
        modes = _write_all(tmp_path)
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == mode
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


# ------------------------------------------------------------------ killed writers

# A child that writes `target` over and over, each version VERSION_SIZE bytes of one
# repeated byte. It prints the version number once the first chunk is in its temporary
# file; with "pause" it then sleeps inside the write, so that a kill is surely mid-write.
_WRITER = """
import sys, time
from tinygrad_edu.atomic_files import atomic_write
target, mode = sys.argv[1], sys.argv[2]
version = 0
while True:
    version += 1
    with atomic_write(target) as f:
        f.write(bytes([version % 251]) * 65536)
        print(version, flush=True)
        if mode == "pause":
            time.sleep(60)
        for _ in range(15):
            f.write(bytes([version % 251]) * 65536)
"""
VERSION_SIZE = 16 * 65536


def _start_writer(target: Path, mode: str) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), mode],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "1"  # it is writing now
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(10)  # reaped: its pid no longer runs
    assert child.stdout is not None
    child.stdout.close()


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def _assert_complete(target: Path) -> None:
    if target.exists():
        data = target.read_bytes()
        assert len(data) == VERSION_SIZE and data == data[:1] * VERSION_SIZE


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids")
def test_killed_writers_leave_complete_files_and_their_leftovers_are_removed(
    tmp_path: Path,
) -> None:
    target = tmp_path / "ckpt.bin"
    rng = random.Random(0)
    # Killed at random points, the target is always absent or one complete version.
    for _ in range(4):
        child = _start_writer(target, "loop")
        child.stdout.readline()  # type: ignore[union-attr]
        # Sleep a random time (up to about two versions) before the kill.
        subprocess.run(["sleep", f"{rng.uniform(0, 0.03):.3f}"], check=True)
        _kill(child)
        _assert_complete(target)
        # A temporary may be left (killed mid-write), never more than one: each new
        # writer removed the dead one's before starting its own.
        assert len(_temporaries(tmp_path)) <= 1
    # Killed surely mid-write: its temporary stays until the next write to the target.
    child = _start_writer(target, "pause")
    _kill(child)
    (leftover,) = _temporaries(tmp_path)
    assert leftover.startswith(".ckpt.bin.") and leftover.endswith(".tmp")
    with atomic_write(target) as f:
        f.write(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.bin"]
    assert target.read_bytes() == b"new"


@pytest.mark.skipif(os.name != "posix", reason="process ids")
def test_a_live_writers_temporary_is_never_removed(tmp_path: Path) -> None:
    target = tmp_path / "net.npz"
    child = _start_writer(target, "pause")
    try:
        (theirs,) = _temporaries(tmp_path)
        serialization.save(nn.Linear(2, 2, rng=0), target)
        assert _temporaries(tmp_path) == [theirs]  # still writing: left alone
    finally:
        _kill(child)
    serialization.save(nn.Linear(2, 2, rng=0), target)
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process ids")
def test_only_this_targets_leftovers_from_this_host_are_removed(tmp_path: Path) -> None:
    _kill(_start_writer(tmp_path / "a.bin", "pause"))
    (stale,) = _temporaries(tmp_path)  # .a.bin.<host>-<pid>-<random>.tmp, writer gone
    host = stale.removeprefix(".a.bin.").split("-")[0]
    other_host = "0" * 8 if host != "0" * 8 else "1" * 8
    keep = [stale.replace(".a.bin.", ".b.bin."),            # another target
            stale.replace(host, other_host),                # another host
            stale.removesuffix(".tmp") + ".part",           # another kind of writer
            "a.bin.tmp"]                                    # not a temporary of ours
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    with atomic_write(tmp_path / "a.bin") as f:
        f.write(b"b")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["a.bin"])


# ------------------------------------------------------------------------ symlinks


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_writes_go_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "store" / "weights.npz"
    real.parent.mkdir()
    serialization.save(nn.Linear(2, 2, rng=0), real)
    os.chmod(real, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    serialization.save(nn.Linear(2, 2, rng=1), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(serialization.load(real)["weight"],
                                  nn.Linear(2, 2, rng=1).weight.data)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.npz", "store"]
    assert [p.name for p in real.parent.iterdir()] == ["weights.npz"]
