"""IDX reading and writing, and the load_mnist / load_fashion_mnist semantics, offline."""

from __future__ import annotations

import gzip
import inspect
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.datasets import (
    FASHION_MNIST,
    MNIST,
    DatasetNotFoundError,
    IDXError,
    default_cache_dir,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from tinygrad_edu.datasets import mnist as mnist_module

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def make_fake_mnist(
    directory: Path, n_train: int = 20, n_test: int = 10, seed: int = 0, gz: bool = True
) -> dict[str, np.ndarray]:
    """Write four small MNIST-shaped IDX files and return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    for key, array in arrays.items():
        name = NAMES[key] if gz else NAMES[key].removesuffix(".gz")
        write_idx(directory / name, array)
    return arrays


def extreme_values(dtype: type) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.array([info.min, info.max, 0, 1, -1 if info.min < 0 else 2], dtype=dtype)
    return np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dtype).tiny], dtype=dtype)


def raw_idx(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    header = bytes([0, 0, code, len(shape)])
    return header + b"".join(d.to_bytes(4, "big") for d in shape) + payload


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype(tmp_path: Path, dtype: type, compress: bool) -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([extreme_values(dtype), rng.integers(-100, 100, 19).astype(dtype)])
    array = values.reshape(2, 3, 4)
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == (2, 3, 4)
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", DTYPES[2:], ids=lambda d: np.dtype(d).name)
def test_multibyte_data_is_big_endian_on_disk(tmp_path: Path, dtype: type) -> None:
    array = np.array([1, 2, 3], dtype=dtype)
    data = write_idx(tmp_path / "be.idx", array).read_bytes()
    assert data[8:] == array.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    # A little-endian input array is written big-endian too.
    little = array.astype(np.dtype(dtype).newbyteorder("<"))
    assert write_idx(tmp_path / "le.idx", little).read_bytes() == data


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.dtype(d) for d in DTYPES]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(array: np.ndarray, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        back = read_idx(write_idx(Path(d) / "x.idx", array, compress=compress))
        assert os.listdir(d) == ["x.idx"]
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.int32).reshape(3, 4)
    gz_named_idx = write_idx(tmp_path / "data.idx", array, compress=True)
    raw_named_gz = write_idx(tmp_path / "data.gz", array, compress=False)
    assert gz_named_idx.read_bytes()[:2] == b"\x1f\x8b"
    assert raw_named_gz.read_bytes()[:2] == b"\x00\x00"
    np.testing.assert_array_equal(read_idx(gz_named_idx), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_compress_defaults_to_the_file_suffix(tmp_path: Path) -> None:
    array = np.zeros(3, np.uint8)
    assert write_idx(tmp_path / "a.gz", array).read_bytes()[:2] == b"\x1f\x8b"
    assert write_idx(tmp_path / "a.idx", array).read_bytes()[:2] == b"\x00\x00"


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    array = np.arange(100, dtype=np.float32)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_read_from_file_objects(tmp_path: Path, compress: bool) -> None:
    array = np.arange(-5, 5, dtype=np.int16)
    data = write_idx(tmp_path / "a", array, compress=compress).read_bytes()
    np.testing.assert_array_equal(read_idx(io.BytesIO(data)), array)
    np.testing.assert_array_equal(read_idx(_Unseekable(data)), array)
    with open(tmp_path / "a", "rb") as f:
        np.testing.assert_array_equal(read_idx(f), array)


# ------------------------------------------------------------------------ invalid files


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_idx_error_is_a_value_error() -> None:
    assert issubclass(IDXError, ValueError)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_truncated_payload(tmp_path: Path, compress: bool) -> None:
    data = raw_idx(0x08, (3, 4), bytes(10))
    if compress:
        data = gzip.compress(data)
    path = _write(tmp_path, "short.idx", data)
    with pytest.raises(IDXError, match=r"truncated: expected 12 bytes .* \(3, 4\), found 10") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_multibyte_payload_counts_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.idx", raw_idx(0x0E, (2,), bytes(15)))
    with pytest.raises(IDXError, match=r"expected 16 bytes of float64 data .* found 15"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "hdr.idx", bytes([0, 0, 0x08, 3]) + bytes(6))
    with pytest.raises(IDXError, match=r"hdr\.idx: truncated header.*3 dim.*12 bytes.*found 6"):
        read_idx(path)


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.idx", b"")
    with pytest.raises(IDXError, match=r"empty\.idx: not an IDX file.*found only 0 byte"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    full = write_idx(tmp_path / "full.gz", np.arange(5000, dtype=np.int32)).read_bytes()
    path = _write(tmp_path, "cut.gz", full[: len(full) // 2])
    with pytest.raises(IDXError, match=r"cut\.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_corrupt_gzip_crc(tmp_path: Path) -> None:
    data = bytearray(write_idx(tmp_path / "ok.gz", np.arange(50, dtype=np.uint8)).read_bytes())
    data[-8] ^= 0xFF  # the CRC32 of the uncompressed data
    path = _write(tmp_path, "crc.gz", bytes(data))
    with pytest.raises(IDXError, match=r"crc\.gz: corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_too_long(tmp_path: Path, compress: bool) -> None:
    data = raw_idx(0x08, (3, 4), bytes(12 + 5))
    if compress:
        data = gzip.compress(data)
    path = _write(tmp_path, "long.idx", data)
    message = r"long\.idx: too long: expected 12 bytes.*found 17 \(5 extra\)"
    with pytest.raises(IDXError, match=message):
        read_idx(path)


def test_wrong_magic(tmp_path: Path) -> None:
    path = _write(tmp_path, "magic.idx", bytes([0, 1, 0x08, 1, 0, 0, 0, 1, 7]))
    message = r"magic\.idx: not an IDX file: expected .*00 00, found bytes 00 01 08 01"
    with pytest.raises(IDXError, match=message):
        read_idx(path)


def test_wrong_dtype_code(tmp_path: Path) -> None:
    path = _write(tmp_path, "code.idx", raw_idx(0x0A, (1,), b"\x00"))
    with pytest.raises(IDXError, match=r"code\.idx: unknown IDX data type code 0x0A.*0x08 uint8"):
        read_idx(path)


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "PNG image"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "HTML page"),
        (b"\n  <html>\n<head>", "HTML page"),
        (b"PK\x03\x04" + bytes(20), "ZIP archive"),
    ],
)
def test_foreign_file_is_named(tmp_path: Path, head: bytes, what: str) -> None:
    path = _write(tmp_path, "foreign.gz", head)
    with pytest.raises(IDXError, match=rf"foreign\.gz: not an IDX file.*looks like an? {what}"):
        read_idx(path)


def test_gzipped_foreign_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "page.gz", gzip.compress(b"<html>oops</html>"))
    with pytest.raises(IDXError, match="HTML page"):
        read_idx(path)


def test_huge_announced_shape_is_an_idx_error_not_memory_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "huge.idx", raw_idx(0x0E, (2**32 - 1, 2**32 - 1), bytes(64)))
    with pytest.raises(IDXError, match="truncated.*found 64"):
        read_idx(path)


def test_file_object_name_in_message() -> None:
    with pytest.raises(IDXError, match=r"^<BytesIO>: truncated"):
        read_idx(io.BytesIO(raw_idx(0x08, (4,), b"ab")))


def test_read_idx_rejects_non_files() -> None:
    with pytest.raises(TypeError, match="path or a binary file object"):
        read_idx(42)  # type: ignore[arg-type]


def test_missing_path_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


# ------------------------------------------------------------------------------ write_idx


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.complex64, np.bool_])
def test_write_rejects_unsupported_dtypes(tmp_path: Path, dtype: type) -> None:
    with pytest.raises(ValueError, match=rf"dtype {np.dtype(dtype)} has no IDX type code"):
        write_idx(tmp_path / "x.idx", np.zeros(2, dtype=dtype))
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_idx(tmp_path / "x.idx", np.arange(3, dtype=np.uint8))
    before = target.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        write_idx(target, np.arange(100, dtype=np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.idx"]


def test_write_creates_parent_directories(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "a" / "b" / "c.idx", [1.5, 2.5])
    assert read_idx(path).tolist() == [1.5, 2.5]


# ------------------------------------------------------------------------ load semantics


@pytest.fixture
def fake_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    directory = tmp_path / "mnist-files"
    return directory, make_fake_mnist(directory)


def test_load_defaults_match_the_book(fake_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    directory, arrays = fake_dir
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=directory, download=False,
                                                      verify=False)
    assert x_train.shape == (20, 784) and x_test.shape == (10, 784)
    assert x_train.dtype == np.float32
    expected = arrays["train_images"].reshape(20, 784).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(x_train, expected)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert t_train.dtype == np.int64 and t_train.shape == (20,)
    np.testing.assert_array_equal(t_train, arrays["train_labels"])
    np.testing.assert_array_equal(t_test, arrays["test_labels"])


def test_load_without_normalize_keeps_uint8(fake_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    directory, arrays = fake_dir
    (x_train, _), (x_test, _) = load_mnist(normalize=False, data_dir=directory, download=False,
                                           verify=False)
    assert x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_test, arrays["test_images"].reshape(10, 784))


def test_load_unflattened(fake_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    directory, arrays = fake_dir
    (x_train, _), (x_test, _) = load_mnist(flatten=False, data_dir=directory, download=False,
                                           verify=False)
    assert x_train.shape == (20, 1, 28, 28) and x_test.shape == (10, 1, 28, 28)
    np.testing.assert_array_equal(x_train[:, 0] * 255, arrays["train_images"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_one_hot(fake_dir: tuple[Path, dict[str, np.ndarray]], dtype: type) -> None:
    directory, arrays = fake_dir
    (x_train, t_train), (_, t_test) = load_mnist(
        one_hot_label=True, data_dir=directory, download=False, dtype=dtype, verify=False
    )
    assert x_train.dtype == dtype
    assert t_train.shape == (20, 10) and t_test.shape == (10, 10)
    assert t_train.dtype == dtype
    np.testing.assert_array_equal(t_train.sum(axis=1), np.ones(20))
    np.testing.assert_array_equal(t_train.argmax(axis=1), arrays["train_labels"])
    assert set(np.unique(t_train).tolist()) <= {0.0, 1.0}


def test_load_rejects_integer_dtype(fake_dir: tuple[Path, dict[str, np.ndarray]]) -> None:
    with pytest.raises(ValueError, match="load_mnist: dtype must be a floating type, got int32"):
        load_mnist(data_dir=fake_dir[0], download=False, dtype=np.int32)


def test_load_accepts_uncompressed_and_mixed_files(tmp_path: Path) -> None:
    arrays = make_fake_mnist(tmp_path, gz=False)
    (_, t_train), _ = load_mnist(data_dir=tmp_path, download=False, verify=False)
    np.testing.assert_array_equal(t_train, arrays["train_labels"])
    # Replace one file by its gzip form: both spellings can coexist in a directory.
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", arrays["test_images"])
    _, (x_test, _) = load_mnist(normalize=False, data_dir=tmp_path, download=False, verify=False)
    np.testing.assert_array_equal(x_test, arrays["test_images"].reshape(10, -1))


def test_local_damaged_file_is_reported_not_replaced(tmp_path: Path) -> None:
    make_fake_mnist(tmp_path)
    damaged = tmp_path / NAMES["train_labels"]
    damaged.write_bytes(damaged.read_bytes()[:-3])
    with pytest.raises(IDXError, match=rf"{damaged.name}: corrupt or truncated gzip"):
        # A mirror that cannot answer: a damaged local file must not trigger a download.
        load_mnist(data_dir=tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=1, verbose=False,
                   verify=False)


@pytest.mark.parametrize(
    ("key", "array", "message"),
    [
        ("train_images", np.zeros((20, 27, 28), np.uint8), r"images of shape \('N', 28, 28\)"),
        ("train_images", np.zeros((20, 28, 28), np.float32), "dtype uint8.*found.*float32"),
        ("train_labels", np.zeros(19, np.uint8), r"expected 20 MNIST labels.*found shape \(19,\)"),
        ("test_labels", np.full(10, 10, np.uint8), r"labels in 0\.\.9, found 10"),
    ],
)
def test_local_file_with_wrong_content(
    tmp_path: Path, key: str, array: np.ndarray, message: str
) -> None:
    make_fake_mnist(tmp_path)
    write_idx(tmp_path / NAMES[key], array)
    with pytest.raises(IDXError, match=message) as e:
        load_mnist(data_dir=tmp_path, download=False, verify=False)
    assert NAMES[key] in str(e.value)


def test_missing_files_without_download(tmp_path: Path) -> None:
    make_fake_mnist(tmp_path)
    (tmp_path / NAMES["test_images"]).unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(data_dir=tmp_path, download=False, verify=False)
    message = str(e.value)
    assert "1 of 4 files not found: t10k-images-idx3-ubyte.gz" in message
    assert str(tmp_path) in message
    assert "download=False" in message
    assert "data_dir=" in message and "TINYGRAD_EDU_DATA" in message
    assert isinstance(e.value, FileNotFoundError)


def test_missing_data_dir_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"nowhere  \(does not exist\)"):
        load_mnist(data_dir=tmp_path / "nowhere", download=False, verify=False)


# ---------------------------------------------------------------------- cache locations


def test_default_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_edu"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_edu"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tinygrad_edu"
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data"


def test_env_var_root_holds_one_directory_per_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path))
    arrays = make_fake_mnist(tmp_path / "mnist")
    (_, t_train), _ = load_mnist(download=False, verify=False)
    np.testing.assert_array_equal(t_train, arrays["train_labels"])
    (tmp_path / "mnist" / NAMES["train_images"]).unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(download=False, verify=False)
    assert str(tmp_path / "mnist") in str(e.value)


@pytest.mark.parametrize(
    ("loader", "spec"), [(load_mnist, MNIST), (load_fashion_mnist, FASHION_MNIST)]
)
def test_loaders_are_load_dataset_with_their_spec(
    loader: Any, spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same parameters, names, kinds, defaults and annotations as load_dataset after spec.
    expected = list(inspect.signature(load_dataset).parameters.values())[1:]
    assert list(inspect.signature(loader).parameters.values()) == expected
    assert loader.__name__ == spec.loader
    # Every argument reaches load_dataset, however the loader passes it on.
    calls: list[dict[str, Any]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append(inspect.signature(load_dataset).bind(*args, **kwargs).arguments)

    monkeypatch.setattr(mnist_module, "load_dataset", record)
    loader(False, False, True, data_dir="d", download=False, dtype=np.float64,
           mirrors=["m"], timeout=2.0, checksums={"f": "0"}, verify=False, verbose=False)
    assert calls == [{
        "spec": spec, "normalize": False, "flatten": False, "one_hot_label": True,
        "data_dir": "d", "download": False, "dtype": np.float64, "mirrors": ["m"],
        "timeout": 2.0, "checksums": {"f": "0"}, "verify": False, "verbose": False,
    }]


def test_data_dir_wins_over_system_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    arrays = make_fake_mnist(tmp_path / "mine", n_train=7, n_test=3)
    (x_train, t_train), (x_test, _) = load_fashion_mnist(data_dir=tmp_path / "mine",
                                                         download=False, verify=False)
    assert x_train.shape == (7, 784) and x_test.shape == (3, 784)
    np.testing.assert_array_equal(t_train, arrays["train_labels"])


@pytest.mark.skipif(
    not all((FASHION_SYSTEM_DIR / name).is_file() for name in NAMES.values()),
    reason="Fashion-MNIST from the Debian package dataset-fashion-mnist is not installed "
    f"in {FASHION_SYSTEM_DIR}",
)
def test_fashion_mnist_from_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty data root: the files can only come from the system directory.
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path))
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(download=False)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and t_train.dtype == np.int64
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    np.testing.assert_array_equal(np.bincount(t_train, minlength=10), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(t_test, minlength=10), np.full(10, 1000))
    # Nothing was copied into the data root: only the record of the verified files.
    assert [p.name for p in tmp_path.iterdir()] == ["verified-files.json"]
