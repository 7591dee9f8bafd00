"""NumPy's functions on Tensors: ops run this library's ops and keep the graph,
inspections return NumPy's results on the data, everything else is a TypeError that
says what to use."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.numpy_dispatch import (
    FUNCTION_INSPECTIONS,
    FUNCTION_OPS,
    UFUNC_INSPECTIONS,
    UFUNC_OPS,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "numpy.md"
A = np.array([[0.5, 1.5, 2.0], [3.0, 0.25, 1.0]])
B = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 2.0]])

# NumPy function -> a call on Tensors (or arrays), each argument differentiable.
FUNCTION_CASES: dict[Any, tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = {
    np.sum: (lambda a: np.sum(a, axis=1, keepdims=True), (A,)),
    np.mean: (lambda a: np.mean(a, 0), (A,)),
    np.max: (lambda a: np.max(a, axis=1), (A,)),
    np.amax: (lambda a: np.amax(a, axis=0, keepdims=True), (A,)),
    np.min: (lambda a: np.min(a, axis=1), (A,)),
    np.amin: (lambda a: np.amin(a), (A,)),
    np.var: (lambda a: np.var(a, axis=1, ddof=1), (A,)),
    np.std: (lambda a: np.std(a, axis=0, correction=1), (A,)),
    np.dot: (lambda a, b: np.dot(a, b), (A, B)),
    np.where: (lambda a, b: np.where(A > 1, a, b), (A, B.T)),
    np.concatenate: (lambda a, b: np.concatenate([a, b.T], axis=1), (A, B)),
    np.concat: (lambda a, b: np.concat([a, b.T], axis=None), (A, B)),
    np.stack: (lambda a, b: np.stack([a, b.T], axis=1), (A, B)),
    np.reshape: (lambda a: np.reshape(a, (3, 2)), (A,)),
    np.ravel: (lambda a: np.ravel(a), (A,)),
    np.transpose: (lambda a: np.transpose(a, (1, 0)), (A,)),
    np.permute_dims: (lambda a: np.permute_dims(a), (A,)),
    np.squeeze: (lambda a: np.squeeze(np.expand_dims(a, 0), axis=0), (A,)),
    np.expand_dims: (lambda a: np.expand_dims(a, (0, 2)), (A,)),
    np.swapaxes: (lambda a: np.swapaxes(a, 0, 1), (A,)),
    np.broadcast_to: (lambda a: np.broadcast_to(a, (4, 2, 3)), (A,)),
    np.clip: (lambda a: np.clip(a, 0.75, 2.5), (A,)),
}
UFUNC_CASES: dict[str, tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = {
    "add": (np.add, (A, B.T)), "subtract": (np.subtract, (A, B.T)),
    "multiply": (np.multiply, (A, B.T)), "true_divide": (np.true_divide, (A, A + 1)),
    "divide": (np.divide, (B.T, A)), "power": (np.power, (A, B.T)),
    "matmul": (np.matmul, (A, B)), "negative": (np.negative, (A,)),
    "positive": (np.positive, (A,)), "exp": (np.exp, (A,)), "log": (np.log, (A,)),
    "sqrt": (np.sqrt, (A,)), "absolute": (np.abs, (B,)), "fabs": (np.fabs, (B,)),
    "tanh": (np.tanh, (A,)), "maximum": (np.maximum, (A, B.T)),
    "minimum": (np.minimum, (A, B.T)), "clip": (lambda a: np.clip(a, 0.75, 1.75), (A,)),
    "square": (np.square, (B,)), "reciprocal": (np.reciprocal, (A,)),
}


def test_every_table_entry_has_a_case() -> None:
    assert set(FUNCTION_CASES) == set(FUNCTION_OPS)
    assert set(UFUNC_CASES) == set(UFUNC_OPS)


@pytest.mark.parametrize("cases", [FUNCTION_CASES, UFUNC_CASES], ids=["functions", "ufuncs"])
def test_ops_return_tensors_in_the_graph_with_numpys_values(cases: dict[Any, Any]) -> None:
    for key, (call, arrays) in cases.items():
        tensors = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
        out = call(*tensors)
        assert isinstance(out, tg.Tensor), key
        np.testing.assert_allclose(out.data, call(*arrays), rtol=1e-12, err_msg=str(key))
        if key != "positive":  # np.positive(t) is t itself, as torch.positive
            assert out.op is not None, key
        assert tg.gradcheck(call, *tensors), key


def test_np_dot_keeps_the_graph_to_the_weights() -> None:
    """The issue's case: np.dot(x, W) returned an ndarray and dropped the graph."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    W = tg.Tensor(B, requires_grad=True)
    loss = np.sum(np.dot(x, W) ** 2)
    assert isinstance(loss, tg.Tensor)
    loss.backward()
    np.testing.assert_allclose(W.grad.data, 2 * x.T @ (x @ B))
    v = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert np.dot(v, v).shape == () and np.dot(2.0, v).op == "mul"
    with pytest.raises(TypeError, match=r"np\.dot: operands of 3 and 2 dims.*np\.matmul"):
        np.dot(tg.zeros(2, 2, 3), B)


def test_np_exp_and_sum_work_on_tensors() -> None:
    t = tg.Tensor([0.0, 1.0], requires_grad=True)
    np.sum(np.exp(t)).backward()
    np.testing.assert_allclose(t.grad.data, np.exp([0.0, 1.0]))
    assert np.mean(tg.Tensor(np.ones((2, 3), dtype=np.float32))).dtype == np.float32


def test_mixed_tensors_and_arrays() -> None:
    t = tg.Tensor(A, requires_grad=True)
    out = np.concatenate([A, t], axis=0)
    assert isinstance(out, tg.Tensor) and out.shape == (4, 3)
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.ones_like(A))
    assert isinstance(A - t, tg.Tensor) and isinstance(np.maximum(A, t), tg.Tensor)


INSPECTIONS: list[tuple[str, Callable[..., Any]]] = [
    ("allclose", lambda t: np.allclose(t, A)), ("isclose", lambda t: np.isclose(t, A)),
    ("array_equal", lambda t: np.array_equal(t, A)),
    ("array_equiv", lambda t: np.array_equiv(t, A[0])),
    ("argmax", lambda t: np.argmax(t, axis=1)), ("argmin", lambda t: np.argmin(t)),
    ("argsort", lambda t: np.argsort(t)), ("argwhere", lambda t: np.argwhere(t > 1)),
    ("nonzero", lambda t: np.nonzero(t > 1)), ("count_nonzero", np.count_nonzero),
    ("any", lambda t: np.any(t > 2)), ("all", lambda t: np.all(t > 0)),
    ("shape", np.shape), ("ndim", np.ndim), ("size", np.size),
    ("where", lambda t: np.where(t > 1)), ("isfinite", np.isfinite), ("isnan", np.isnan),
    ("isinf", np.isinf), ("sign", np.sign), ("signbit", np.signbit),
    ("less", lambda t: np.less(A, t)), ("greater_equal", lambda t: np.greater_equal(t, 1)),
    ("equal", lambda t: np.equal(t, A)), ("not_equal", lambda t: np.not_equal(t, A)),
    ("less_equal", lambda t: np.less_equal(t, 1)), ("greater", lambda t: np.greater(t, 1)),
    ("logical_not", lambda t: np.logical_not(t > 1)),
    ("logical_and", lambda t: np.logical_and(t > 1, A < 3)),
    ("logical_or", lambda t: np.logical_or(t > 1, A < 3)),
    ("logical_xor", lambda t: np.logical_xor(t > 1, A < 3)),
    ("may_share_memory", lambda t: np.may_share_memory(t, A)),
    ("shares_memory", lambda t: np.shares_memory(t, A)),
    ("result_type", lambda t: np.result_type(t, np.float32)),
    ("iscomplexobj", np.iscomplexobj), ("isrealobj", np.isrealobj),
]


@pytest.mark.parametrize(("name", "call"), INSPECTIONS, ids=[n for n, _ in INSPECTIONS])
def test_inspections_return_numpy_results_on_the_data(name: str,
                                                      call: Callable[..., Any]) -> None:
    result = call(tg.Tensor(A, requires_grad=True))
    expected = call(A)
    assert not isinstance(result, tg.Tensor)
    assert type(result) is type(expected)
    if isinstance(expected, tuple):
        for r, e in zip(result, expected, strict=True):
            np.testing.assert_array_equal(r, e)
    else:
        np.testing.assert_array_equal(result, expected)


def test_inspection_tables_are_all_tested() -> None:
    names = {n for n, _ in INSPECTIONS}
    assert {f.__name__ for f in FUNCTION_INSPECTIONS} <= names
    assert set(UFUNC_INSPECTIONS) <= names


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: np.cumsum(t), r"^np\.cumsum is not supported on Tensors: .*the Tensor method "
                             r"or tinygrad_edu\.functional op .* on t\.data"),
    (lambda t: np.prod(t), r"^np\.prod is not supported .* use exp\(sum\(log\(t\)\)\)"),
    (lambda t: np.copy(t), r"^np\.copy is not supported .* use t\.clone\(\)"),
    (lambda t: np.linalg.norm(t), r"^np\.linalg\.norm is not supported .*\(t \* t\)\.sum"),
    (lambda t: np.sin(t), r"^np\.sin is not supported on Tensors"),
    (lambda t: np.add.reduce(t), r"^np\.add\.reduce is not supported .* t\.sum\(axis=\.\.\.\)"),
    (lambda t: np.exp(t, dtype=np.float32), r"^np\.exp: the argument dtype= is not supported"),
    (lambda t: np.less(t, 1, where=t.data > 0), r"^np\.less: the argument where= is not"),
    (lambda t: np.sum(t, dtype=np.float32), r"^np\.sum: the argument dtype= is not supported"),
    (lambda t: np.max(t, initial=0.0), r"^np\.max: the argument initial= is not supported"),
    (lambda t: np.reshape(t, -1, order="F"), r"^np\.reshape: only order='C'"),
    (lambda t: np.clip(t, 0, 1, min=0), r"^np\.clip: pass a_min/a_max or min/max, not both"),
])
def test_everything_else_is_a_type_error_naming_what_to_use(call: Callable[..., Any],
                                                            message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call(tg.Tensor(A, requires_grad=True))


def test_out_arguments_stay_refused_with_the_fix_named() -> None:
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    p.grad = tg.Tensor([1.0, 1.0])
    arr = np.ones(2)
    with pytest.raises(TypeError, match=r"p\.data -= lr \* p\.grad\.data"):
        arr -= p.grad
    with pytest.raises(TypeError, match=r"cannot write a Tensor's values"):
        np.exp(p, out=np.empty(2))
    with pytest.raises(TypeError, match=r"^np\.sum: the argument out= is not supported"):
        np.sum(p, out=np.empty(()))


def test_arguments_left_at_none_are_fine() -> None:
    t = tg.Tensor(A, requires_grad=True)
    assert np.exp(t, dtype=None).op == "exp"
    assert np.sum(t, axis=None, dtype=None, out=None).op == "sum"


def test_conversions_give_the_array() -> None:
    t = tg.Tensor(A, requires_grad=True)
    assert np.asarray(t) is t.data
    assert np.array(t) is not t.data and np.array_equal(np.array(t), A)


def test_the_docs_list_every_function() -> None:
    text = DOC.read_text()
    listed = set(re.findall(r"`np\.([a-z_.]+)`", text))
    assert {f.__name__ for f in FUNCTION_OPS} <= listed
    assert {f.__name__ for f in FUNCTION_INSPECTIONS} <= listed
    ufunc_names = {getattr(np, n).__name__ if hasattr(np, n) else n for n in listed}
    assert set(UFUNC_OPS) <= ufunc_names | listed
    assert set(UFUNC_INSPECTIONS) <= ufunc_names | listed
