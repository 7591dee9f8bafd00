"""Checkpoints: exact round trips in both formats, files that are not checkpoints, size
caps, atomic saves, and a checkpoint opened in PyTorch."""

from __future__ import annotations

import os
import sys
import tracemalloc
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import nn, optim, serialization
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.serialization import CheckpointError
from tinygrad_edu.tensor import Tensor

FORMATS = ["npz", "safetensors"]
# Every dtype the library produces: parameters and activations (float32, float64), IDX
# data (uint8, int8, int16, int32), labels and step counts (int64), flags (bool).
LIBRARY_DTYPES = [np.float32, np.float64, np.uint8, np.int8, np.int16, np.int32, np.int64,
                  np.bool_]


def _path(tmp_path: Path, fmt: str, stem: str = "ckpt") -> Path:
    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    return tmp_path / f"{stem}.{fmt}"


def _assert_same(loaded: OrderedDict[str, np.ndarray], state: dict[str, np.ndarray]) -> None:
    assert list(loaded) == list(state)  # the order saved
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype.newbyteorder("="), key
        assert loaded[key].shape == value.shape, key
        assert loaded[key].flags.writeable, key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", LIBRARY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_library_dtype_round_trips_exactly(tmp_path: Path, fmt: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal(24) * 100
    if np.dtype(dtype).kind == "f":
        values[:5] = [np.finfo(dtype).max, np.finfo(dtype).tiny, -0.0, np.inf, np.nan]
    elif np.dtype(dtype).kind in "iu":
        values[:2] = [np.iinfo(dtype).min, np.iinfo(dtype).max]
    with np.errstate(invalid="ignore"):  # inf and nan into integers: any value will do
        full = values.astype(dtype).reshape(2, 3, 4)
    state = {
        "full": full,
        "scalar": np.asarray(full.flat[5]),
        "empty": np.zeros((0, 3), dtype=dtype),
        "strided": full[:, ::2, 1:],                        # not contiguous
        "fortran": np.asfortranarray(full),
        "big_endian": full.astype(np.dtype(dtype).newbyteorder(">")),
    }
    path = serialization.save(state, _path(tmp_path, fmt))
    _assert_same(serialization.load(path), state)


@pytest.mark.parametrize("fmt", FORMATS)
def test_member_names_never_collide(tmp_path: Path, fmt: str) -> None:
    # Inside an .npz, "a" is stored as "a.npy" and "a.npy" as "a.npy.npy".
    state = {"a": np.zeros(1), "a.npy": np.ones(1), "a.npy.npy": np.full(1, 2.0)}
    path = serialization.save(state, _path(tmp_path, fmt))
    _assert_same(serialization.load(path), state)


@pytest.mark.parametrize("compress", [False, True])
def test_npz_keys_that_are_np_savez_arguments(tmp_path: Path, compress: bool) -> None:
    state = OrderedDict([("z.last", np.arange(3.0)), ("file", np.ones((2, 2), np.float32)),
                         ("allow_pickle", np.array([1, 2], np.int64))])  # np.savez's own names
    path = serialization.save(state, tmp_path / "s.npz", compress=compress)
    _assert_same(serialization.load(path), state)
    with np.load(path, allow_pickle=False) as raw:  # a plain .npz for NumPy too
        np.testing.assert_array_equal(raw["file"], state["file"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_model_and_optimizer_resume_from_one_file(tmp_path: Path, fmt: str) -> None:
    net = nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float32), nn.ReLU(),
                        nn.Linear(4, 2, rng=1, dtype=np.float32))
    opt = optim.Adam(net.parameters(), lr=0.01)
    x, t = np.ones((5, 3), np.float32), np.array([0, 1, 0, 1, 1])
    for _ in range(2):
        opt.zero_grad()
        nn.CrossEntropyLoss()(net(x), t).backward()
        opt.step()
    state = {**net.state_dict(), **{f"optimizer/{k}": v for k, v in opt.state_dict().items()}}
    loaded = serialization.load(serialization.save(state, _path(tmp_path, fmt)))
    net2 = nn.Sequential(nn.Linear(3, 4, rng=5, dtype=np.float32), nn.ReLU(),
                         nn.Linear(4, 2, rng=6, dtype=np.float32))
    opt2 = optim.Adam(net2.parameters(), lr=0.5)
    result = net2.load_state_dict(loaded, strict=False)
    assert result.missing_keys == []
    opt2.load_state_dict({k.removeprefix("optimizer/"): v for k, v in loaded.items()
                          if k.startswith("optimizer/")})
    for model, optimizer in ((net, opt), (net2, opt2)):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), t).backward()
        optimizer.step()
    for a, b in zip(net.parameters(), net2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------------------------- bad files


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _npz_bytes(tmp_path: Path, **arrays: Any) -> bytes:
    np.savez(tmp_path / "made.npz", **arrays)
    return (tmp_path / "made.npz").read_bytes()


def _zip_of(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: _write(d, "notes.npz", b"hello, this is text\n"),
         r"is not a checkpoint: .* found text starting 'hello, this is t'$"),
        (lambda d: _write(d, "noise.npz", np.random.default_rng(0).bytes(4096)),
         r"is not a checkpoint: .* found bytes( [0-9a-f]{2}){8}$"),
        (lambda d: _write(d, "empty.npz", b""), "found an empty file"),
        (lambda d: _zip_of(d, {"readme.txt": b"hi"}),
         r"member 'readme\.txt' is not a \.npy array"),
        (lambda d: _zip_of(d, {"x.npy": b"\x93NUMPY\x01\x00garbage"}),
         r"'x' is not a valid \.npy array"),
        (lambda d: _write(d, "cut.npz", _npz_bytes(d, w=np.arange(1000.0))[:5000]),
         "damaged or truncated zip"),
        (lambda d: _write(d, "objects.npz", _npz_bytes(d, w=np.array([{"a": 1}], dtype=object))),
         r"'w' holds Python objects \(dtype object\)"),
        (lambda d: _write(d, "text.npz", _npz_bytes(d, w=np.array(["abc"]))),
         r"'w' holds non-numeric data \(dtype <U3\)"),
        (lambda d: _write(d, "single.npy", (np.save(d / "a.npy", np.zeros(2)),
                                            (d / "a.npy").read_bytes())[1]),
         r"holds a single array \(\.npy\)"),
    ],
    ids=["text", "random-bytes", "empty", "zip-of-text", "bad-npy", "truncated",
         "object-array", "strings", "npy"],
)
def test_files_that_are_not_checkpoints(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=message) as e:
        serialization.load(path)
    assert str(e.value).startswith(str(path))  # the file is named
    assert "pickle" not in str(e.value)
    assert isinstance(e.value, ValueError)


def test_a_damaged_member_is_reported_with_its_name(tmp_path: Path) -> None:
    path = serialization.save({"w": np.arange(1000.0)}, tmp_path / "c.npz", compress=True)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the compressed data: a CRC or inflate error
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"^{path}: 'w' is damaged"):
        serialization.load(path)


def test_load_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        serialization.load(tmp_path / "nope.npz")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An .npz of 1.4 MB whose one member inflates to 300 MiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("w.npy", "w", force_zip64=True) as entry:
            header = {"descr": "|u1", "fortran_order": False, "shape": (300 << 20,)}
            np.lib.format.write_array_header_1_0(entry, header)
            zeros = bytes(1 << 20)
            for _ in range(300):
                entry.write(zeros)
    return path


def test_an_npz_that_inflates_beyond_the_cap_is_refused_before_inflating(bomb: Path) -> None:
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"inflate to 314572928 bytes, more than the "
                                                  r"limit of 268435456; .* larger max_bytes"):
            serialization.load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert serialization.DEFAULT_MAX_BYTES == 256 << 20


def test_the_cap_can_be_raised_and_never_limits_stored_data(tmp_path: Path) -> None:
    big = {"w": np.arange(1 << 17, dtype=np.float64)}  # 1 MiB
    deflated = serialization.save(big, tmp_path / "d.npz", compress=True)
    with pytest.raises(CheckpointError, match="more than the limit"):
        serialization.load(deflated, max_bytes=1 << 18)
    np.testing.assert_array_equal(serialization.load(deflated, max_bytes=2 << 20)["w"], big["w"])
    stored = serialization.save(big, tmp_path / "s.npz")  # its own size bounds it
    np.testing.assert_array_equal(serialization.load(stored, max_bytes=1)["w"], big["w"])


# ------------------------------------------------------------------------- saving


def test_save_refuses_what_is_not_a_numeric_state(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="only numeric arrays"):
        serialization.save({"w": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="non-empty strings"):
        serialization.save({1: np.zeros(1)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="a Module, an Optimizer or a mapping"):
        serialization.save([np.zeros(1)], tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_safetensors_specifics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("safetensors")
    with pytest.raises(ValueError, match="compress applies to .npz"):
        serialization.save({"w": np.zeros(1)}, tmp_path / "x.safetensors", compress=True)
    with pytest.raises(TypeError, match="complex128, which the safetensors format cannot hold"):
        serialization.save({"w": np.zeros(1, np.complex128)}, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []
    path = serialization.save({"w": np.zeros(1)}, tmp_path / "x.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for call in (lambda: serialization.load(path),
                 lambda: serialization.save({"w": np.zeros(1)}, tmp_path / "y.safetensors")):
        with pytest.raises(ImportError, match=r"tinygrad-edu\[safetensors\]"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.safetensors"]


def test_a_damaged_safetensors_file(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    path = serialization.save({"w": np.arange(10.0)}, tmp_path / "x.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:-8])
    with pytest.raises(CheckpointError, match=rf"^{path}: a damaged \.safetensors file"):
        serialization.load(path)


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = serialization.save({"w": np.zeros(2)}, tmp_path / "ckpt.npz")
    calls = []

    def failing_write(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"w": np.ones(2)}, path)
    assert calls
    monkeypatch.undo()
    np.testing.assert_array_equal(serialization.load(path)["w"], np.zeros(2))  # old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary left behind


# ------------------------------------------------------------------------- PyTorch


def test_a_checkpoint_opens_in_pytorch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    net = TwoLayerNet(input_size=6, hidden_size=5, output_size=3, rng=0, dtype=np.float32)
    path = serialization.save(net, tmp_path / "net.safetensors")

    loaded = st_torch.load_file(os.fspath(path))
    state = net.state_dict()
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        assert loaded[key].dtype == torch.float32
        assert torch.equal(loaded[key], torch.from_numpy(value)), key

    # Linear's weight is (in, out) here and (out, in) in PyTorch: transpose it.
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    model.load_state_dict({"0.weight": loaded["W1"].T, "0.bias": loaded["b1"],
                           "2.weight": loaded["W2"].T, "2.bias": loaded["b2"]})
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    with torch.no_grad():
        ours = net.predict(Tensor(x)).data
        theirs = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-6)


def test_the_pytorch_example_in_the_docs_runs(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors.torch")
    text = (Path(__file__).resolve().parent.parent / "docs" / "datasets.md").read_text()
    blocks = [b.split("\n```", 1)[0] for b in text.split("```python\n")[1:]]
    (example,) = [b for b in blocks if "safetensors.torch" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/datasets.md", "exec"), {})
    assert (tmp_path / "linear.safetensors").is_file()
