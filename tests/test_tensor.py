"""The Tensor API: construction, attributes, conversions, factories, comparisons, dtypes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor

# ---------------------------------------------------------------------------- construction


@pytest.mark.parametrize(("data", "dtype", "shape"), [
    ([1.0, 2.0, 3.0], np.float64, (3,)),
    ([[1, 2], [3, 4]], np.int64, (2, 2)),
    (2.5, np.float64, ()),
    (7, np.int64, ()),
    (True, np.bool_, ()),
    (np.zeros((2, 3), dtype=np.float32), np.float32, (2, 3)),
    ([], np.float64, (0,)),
])
def test_construction_infers_dtype_and_shape(data: object, dtype: type, shape: tuple) -> None:
    t = Tensor(data)  # type: ignore[arg-type]
    assert t.dtype == dtype and t.shape == shape
    assert not t.requires_grad and t.is_leaf and t.grad is None


def test_construction_with_an_explicit_dtype() -> None:
    t = Tensor([1, 2, 3], dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(Tensor([1.7, -2.2], dtype=np.int32).data, [1, -2])


def test_tensor_shares_memory_and_tensor_factory_copies() -> None:
    a = np.array([1.0, 2.0])
    shared, copied = Tensor(a), tg.tensor(a)
    a[0] = 10.0
    assert shared.data[0] == 10.0 and copied.data[0] == 1.0
    assert tg.tensor([1, 2], dtype=np.float32, requires_grad=True).dtype == np.float32
    from_tensor = tg.tensor(shared)
    assert not np.shares_memory(from_tensor.data, shared.data)
    assert Tensor(shared).data is shared.data


# ---------------------------------------------------------------------------- attributes


def test_attributes() -> None:
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (t.shape, t.ndim, t.size, t.dtype, len(t)) == ((2, 3), 2, 6, np.float64, 2)
    assert t.is_leaf and t.requires_grad and t.grad is None
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert t.T.shape == (3, 2) and not t.T.is_leaf
    np.testing.assert_array_equal(t.mT.data, t.data.T)
    assert t.numpy() is t.data
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_item_and_python_conversions() -> None:
    t = Tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert isinstance(Tensor(3).item(), int)
    assert float(Tensor(2.5)) == 2.5 and int(Tensor(3)) == 3
    assert bool(Tensor(1.0)) and not bool(Tensor(0.0))
    assert [10, 20, 30][Tensor(1)] == 20  # __index__
    with pytest.raises(ValueError, match=r"item: only one-element tensors .* shape \(2,\)"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))


def test_op_results_hold_ndarrays_even_when_0d() -> None:
    # NumPy ufuncs return scalars for 0-d inputs; .data is documented as the ndarray, so
    # in-place updates, .flags and np.shares_memory work on every tensor.
    x = Tensor(2.0, requires_grad=True)
    results = [x * 2, x.exp(), -x, x + x, x.sum(), x ** 2, x.sigmoid(), x.tanh(), x > 1,
               x.detach(), x.astype(np.float32), x.mean(), x.max()]
    for y in results:
        assert type(y.data) is np.ndarray and y.shape == (), repr(y)
        assert isinstance(y.numpy(), np.ndarray)
    (x * 3).backward()
    assert x.grad is not None and type(x.grad.data) is np.ndarray
    x.grad.data += 1.0  # in place on the gradient array
    assert x.grad.item() == 4.0


def test_iterating_a_tensor_gives_its_rows() -> None:
    rows = list(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and all(isinstance(r, Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, [3.0, 4.0])


def test_np_asarray() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(t) is t.data
    as32 = np.asarray(t, dtype=np.float32)
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32, [1.0, 2.0])
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.data)


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.is_leaf
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # type: ignore[union-attr]


def test_retain_grad_and_zero_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)  # type: ignore[union-attr]
    assert x.grad is not None
    x.zero_grad()
    assert x.grad is None


def test_requires_grad_underscore() -> None:
    x = Tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad


def test_repr_shows_values_shape_dtype_and_op() -> None:
    leaf = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert repr(leaf) == ("Tensor([[1. 2.]\n        [3. 4.]], shape=(2, 2), dtype=float64, "
                          "requires_grad=True)")
    assert repr(leaf * 2).endswith("shape=(2, 2), dtype=float64, op=mul)")
    assert "[[2. 4.]" in repr(leaf * 2)
    assert repr(Tensor(np.float32(1.5))) == "Tensor(1.5, shape=(), dtype=float32)"
    assert repr(Tensor([1, 2])) == "Tensor([1 2], shape=(2,), dtype=int64)"


# ---------------------------------------------------------------------------- factories


def test_zeros_ones_full() -> None:
    assert tg.zeros(2, 3).shape == (2, 3) == tg.zeros((2, 3)).shape == tg.ones([2, 3]).shape
    assert tg.zeros(2).dtype == np.float64 and tg.ones(2, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(tg.zeros(2).data, [0.0, 0.0])
    np.testing.assert_array_equal(tg.ones(1, 2).data, [[1.0, 1.0]])
    full = tg.full((2, 2), 3.5, requires_grad=True)
    np.testing.assert_array_equal(full.data, np.full((2, 2), 3.5))
    assert full.requires_grad and full.dtype == np.float64
    assert tg.full(3, 1.0, dtype=np.float32).dtype == np.float32
    assert tg.zeros((), requires_grad=True).shape == ()


def test_arange() -> None:
    np.testing.assert_array_equal(tg.arange(4).data, [0, 1, 2, 3])
    np.testing.assert_array_equal(tg.arange(1, 2, 0.25).data, [1.0, 1.25, 1.5, 1.75])
    assert tg.arange(3, dtype=np.float32).dtype == np.float32
    assert tg.arange(3.0, requires_grad=True).requires_grad


@pytest.mark.parametrize("factory", [tg.randn, tg.rand])
def test_random_factories_are_reproducible(factory: object) -> None:
    make = factory  # type: ignore[assignment]
    a = make(3, 4, rng=0)
    b = make(3, 4, rng=np.random.default_rng(0))
    c = make((3, 4), rng=1)
    assert a.shape == (3, 4) and a.dtype == np.float64
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    gen = np.random.default_rng(5)
    first, second = make(2, rng=gen), make(2, rng=gen)
    assert not np.array_equal(first.data, second.data)  # the generator advances
    assert make(2, rng=0, dtype=np.float32).dtype == np.float32
    assert make(2, rng=0, requires_grad=True).requires_grad


def test_random_factory_values() -> None:
    np.testing.assert_array_equal(tg.randn(5, rng=3).data,
                                  np.random.default_rng(3).standard_normal(5))
    u = tg.rand(1000, rng=0).data
    assert u.min() >= 0.0 and u.max() < 1.0


def test_zeros_like_and_ones_like() -> None:
    t = Tensor(np.ones((2, 3), dtype=np.float32))
    z, o = tg.zeros_like(t), tg.ones_like(t.data)
    assert z.shape == o.shape == (2, 3) and z.dtype == o.dtype == np.float32
    np.testing.assert_array_equal(z.data, 0.0)
    np.testing.assert_array_equal(o.data, 1.0)
    assert tg.zeros_like(t, dtype=np.float64).dtype == np.float64
    assert tg.ones_like(t, requires_grad=True).requires_grad


# ---------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(("op", "expected"), [
    (lambda a, b: a < b, [True, False, False]),
    (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]),
    (lambda a, b: a >= b, [False, True, True]),
    (lambda a, b: a == b, [False, True, False]),
    (lambda a, b: a != b, [True, False, True]),
])
def test_comparisons_give_boolean_tensors_without_graph(op: object, expected: list) -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for other in (2.0, Tensor([2.0, 2.0, 2.0], requires_grad=True), np.full(3, 2.0)):
        result = op(x, other)  # type: ignore[operator]
        assert isinstance(result, Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.is_leaf
        np.testing.assert_array_equal(result.data, expected)


def test_tensors_hash_by_identity() -> None:
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b, a}) == 2


def test_argmax_argmin() -> None:
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    np.testing.assert_array_equal(x.argmax(axis=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).data, [0, 1, 0])
    assert x.argmax().item() == 3 and not x.argmax().requires_grad


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("scalar", [2, 2.5, -0.5, True])
def test_float32_stays_float32_with_python_scalars(scalar: object) -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    outs = [x + scalar, scalar + x, x - scalar, scalar - x, x * scalar, scalar * x,
            x / 3.0, 3.0 / x, x ** 2, 2.0 ** x, -x, (x * scalar).sum(), x.mean()]
    for out in outs:
        assert out.dtype == np.float32, out
    sum(o.sum() for o in outs).backward()  # type: ignore[union-attr]
    assert x.grad is not None and x.grad.dtype == np.float32


def test_float64_stays_float64() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = (x * 2 + 1.5) / 3 - x ** 2
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64


def test_float32_tensor_with_float32_arrays_stays_float32() -> None:
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    out = (x @ w + np.ones(2, dtype=np.float32)).tanh().sum()
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == w.grad.dtype == np.float32  # type: ignore[union-attr]


def test_int_tensors_compute_but_record_nothing() -> None:
    i = Tensor([1, 2, 3])
    out = i * 2 + 1
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data, [3, 5, 7])


def test_make_op_records_a_user_op_and_validates_its_arguments() -> None:
    import tinygrad_edu as tg

    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = tg.make_op(x.data * 3, (x,), lambda g: (g * 3,), "triple")
    assert y.op == "triple" and y.requires_grad and not y.is_leaf
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.data, 18 * x.data)
    with tg.no_grad():
        assert not tg.make_op(x.data, (x,), lambda g: (g,), "id").requires_grad
    with pytest.raises(TypeError, match="make_op 'bad': parent 0 is a ndarray"):
        tg.make_op(x.data, (x.data,), lambda g: (g,), "bad")
    with pytest.raises(TypeError, match="make_op 'bad': backward must be callable"):
        tg.make_op(x.data, (x,), None, "bad")


# ---------------------------------------------------------------------------- API fixes


def test_random_factories_follow_the_one_random_source_rule() -> None:
    np.testing.assert_array_equal(tg.randn(2, 3, rng=np.random.RandomState(5)).data,
                                  np.random.RandomState(5).randn(2, 3))
    np.testing.assert_array_equal(tg.rand(4, rng=np.random.RandomState(6)).data,
                                  np.random.RandomState(6).rand(4))
    for factory in (tg.randn, tg.rand):
        with pytest.raises(TypeError, match=f"{factory.__name__}: rng must be"):
            factory(2, rng=True)


def test_star_import_needs_numpy_only(tmp_path: Path) -> None:
    # Hypothesis (a dev dependency) made unimportable, as on a machine with NumPy only.
    script = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from tinygrad_edu import *\n"
        "import tinygrad_edu as tg\n"
        "assert Tensor is tg.Tensor and callable(grad)\n"
        "assert tg.viz.to_dot\n"
        "try:\n"
        "    tg.testing\n"
        "except ImportError as e:\n"
        "    assert 'tinygrad-edu[testing]' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('testing imported without Hypothesis')\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("name", "ufunc"), [
    ("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
    ("gt", np.greater), ("ge", np.greater_equal)])
def test_comparisons_match_numpy_and_record_no_graph(name: str, ufunc: np.ufunc) -> None:
    a = tg.Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = np.array([[2.0], [3.0]])
    out = getattr(F, name)(a, b)
    np.testing.assert_array_equal(out.data, ufunc(a.data, b))
    assert out.dtype == bool and not out.requires_grad
    with pytest.raises(ValueError, match=f"{name}: shapes"):
        getattr(F, name)(a, np.ones(4))


def test_argmax_and_argmin_match_numpy() -> None:
    x = tg.Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    for axis in (None, 0, 1, -1):
        np.testing.assert_array_equal(x.argmax(axis).data, np.argmax(x.data, axis))
        np.testing.assert_array_equal(F.argmin(x, axis, keepdims=True).data,
                                      np.argmin(x.data, axis, keepdims=True))
