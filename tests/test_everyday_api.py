"""PyTorch's everyday names beside NumPy's: dim/keepdim, numel, clone, float, double and
format, checked against their formulas and (where installed) against PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import functional as F
from tinygrad_edu.ops.helpers import resolve_axis

X = np.array([[1.0, -2.0, 3.0], [4.0, 0.5, -1.0]])

# op -> NumPy reference taking (x, axis, keepdims)
REDUCTIONS: dict[str, Callable[..., Any]] = {
    "sum": lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    "mean": lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    "max": lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
    "min": lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
    "var": lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims),
    "logsumexp": lambda x, axis, keepdims: np.log(
        np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    "argmax": lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims),
    "argmin": lambda x, axis, keepdims: np.argmin(x, axis=axis, keepdims=keepdims),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize(("dim", "keepdim"), [(0, False), (1, True), (-1, False), (None, True)])
def test_dim_and_keepdim_are_axis_and_keepdims(name: str, dim: Any, keepdim: bool) -> None:
    if name.startswith("arg") and dim is None and keepdim:
        dim = 1  # NumPy's argmax has no keepdims for the flattened case
    expected = REDUCTIONS[name](X, dim, keepdim)
    x = tg.Tensor(X)
    for out in (getattr(F, name)(x, dim=dim, keepdim=keepdim),
                getattr(x, name)(dim=dim, keepdim=keepdim),
                getattr(x, name)(dim, keepdim=keepdim),
                getattr(x, name)(dim=dim, keepdims=keepdim)):
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_passing_both_spellings_is_an_error_naming_the_op(name: str) -> None:
    x = tg.Tensor(X)
    with pytest.raises(TypeError, match=f"^{name}: got both axis=0 and dim=1"):
        getattr(F, name)(x, axis=0, dim=1)
    with pytest.raises(TypeError, match=f"^{name}: got both keepdims=True and keepdim=False"):
        getattr(x, name)(1, keepdims=True, keepdim=False)


@pytest.mark.parametrize(("call", "name"), [
    (lambda x: x.softmax(0, dim=1), "softmax"),
    (lambda x: F.log_softmax(x, axis=0, dim=1), "log_softmax"),
    (lambda x: x.squeeze(0, dim=1), "squeeze"),
    (lambda x: x.unsqueeze(0, dim=1), "unsqueeze"),
    (lambda x: F.concatenate([x, x], 1, dim=0), "concatenate"),
    (lambda x: F.cat([x, x], 1, dim=0), "cat"),
    (lambda x: F.stack([x, x], 1, dim=0), "stack"),
])
def test_axis_taking_ops_refuse_both_spellings(call: Callable[[tg.Tensor], Any],
                                               name: str) -> None:
    with pytest.raises(TypeError, match=f"^{name}: got both axis="):
        call(tg.Tensor(X[:1]))


def test_axis_taking_ops_take_dim() -> None:
    x = tg.Tensor(X)
    np.testing.assert_allclose(x.softmax(dim=0).data, np.exp(X) / np.exp(X).sum(0))
    np.testing.assert_allclose(x.log_softmax(dim=0).data,
                               X - np.log(np.exp(X).sum(0, keepdims=True)))
    assert x.unsqueeze(dim=1).shape == (2, 1, 3)
    assert tg.Tensor(X[:1]).squeeze(dim=0).shape == (3,)
    assert F.cat([x, x], dim=1).shape == (2, 6)
    assert F.concatenate([x, x], dim=0).shape == (4, 3)
    assert F.stack([x, x], dim=2).shape == (2, 3, 2)
    # The op's default axis counts as not given.
    assert x.softmax(-1, dim=0).shape == (2, 3)
    with pytest.raises(TypeError, match=r"^unsqueeze: missing the axis \(pass axis= or dim=\)"):
        x.unsqueeze()


def test_resolve_axis_is_the_one_rule() -> None:
    assert resolve_axis("op", None, 2) == (2, False)
    assert resolve_axis("op", (0, 1), None, True) == ((0, 1), True)
    assert resolve_axis("op", -1, 0, default=-1) == (0, False)
    assert resolve_axis("op", np.int64(-1), 0, default=-1) == (0, False)
    with pytest.raises(TypeError, match="op: got both axis=1 and dim=0"):
        resolve_axis("op", 1, 0, default=-1)


def test_max_with_dim_returns_the_values_and_var_keeps_ddof() -> None:
    x = tg.Tensor(X)
    values = x.max(dim=1)
    assert isinstance(values, tg.Tensor)  # not PyTorch's (values, indices)
    np.testing.assert_array_equal(values.data, [3.0, 4.0])
    np.testing.assert_allclose(x.var(dim=1).data, X.var(axis=1))  # ddof=0, as documented
    np.testing.assert_allclose(x.var(dim=1, ddof=1).data, X.var(axis=1, ddof=1))


def test_gradients_with_dim_match_axis() -> None:
    x = tg.Tensor(X, requires_grad=True)
    assert tg.gradcheck(lambda t: t.max(dim=0, keepdim=True), x)
    assert tg.gradcheck(lambda t: t.var(dim=1), x)
    assert tg.gradcheck(lambda t: t.logsumexp(dim=-1), x)


# ---------------------------------------------------------------------------- numel, clone ...


def test_numel_is_the_element_count_and_size_stays_numpys() -> None:
    x = tg.zeros(2, 3, 4)
    assert x.numel() == 24 == x.size
    assert tg.Tensor(5.0).numel() == 1


def test_clone_is_a_differentiable_copy() -> None:
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.clone()
    assert y.op == "clone" and not np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(y.data, x.data)
    (y * tg.Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0, 3.0])
    with tg.no_grad():
        y += 10.0  # the copy's memory only
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    f32 = tg.Tensor(np.ones(2, dtype=np.float32))
    assert f32.clone().dtype == np.float32 and f32.clone().requires_grad is False


def test_float_and_double() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert x.double() is x  # already float64, as PyTorch returns self
    y = x.float()
    assert y.dtype == np.float32 and y.op == "astype"
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    assert y.float() is y and y.double().dtype == np.float64
    assert tg.Tensor([1, 2]).float().dtype == np.float32


def test_format_of_one_element_tensors() -> None:
    loss = tg.Tensor(np.float32(0.123456))
    assert f"{loss:.4f}" == "0.1235"
    assert f"{tg.Tensor([[2.5]]):>6.2f}" == "  2.50"
    assert f"{tg.Tensor(7):03d}" == "007"
    assert f"{loss}" == str(loss) and format(tg.Tensor([1.0, 2.0])) == str(tg.Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"format: only a one-element tensor .* shape \(2,\)"):
        f"{tg.Tensor([1.0, 2.0]):.3f}"


# ---------------------------------------------------------------------------- against PyTorch


def test_dim_keepdim_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    x, tx = tg.Tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    pairs = [
        (x.sum(dim=1, keepdim=True), tx.sum(dim=1, keepdim=True)),
        (x.mean(dim=0), tx.mean(dim=0)),
        (x.max(dim=1), tx.max(dim=1).values),
        (x.min(dim=0, keepdim=True), tx.amin(dim=0, keepdim=True)),
        (x.var(dim=1, ddof=1), tx.var(dim=1)),
        (x.var(dim=1), tx.var(dim=1, correction=0)),
        (x.logsumexp(dim=1), tx.logsumexp(dim=1)),
        (x.softmax(dim=0), tx.softmax(dim=0)),
        (x.log_softmax(dim=1), tx.log_softmax(dim=1)),
        (x.unsqueeze(dim=0), tx.unsqueeze(dim=0)),
        (F.cat([x, x], dim=1), torch.cat([tx, tx], dim=1)),
        (F.stack([x, x], dim=1), torch.stack([tx, tx], dim=1)),
    ]
    weights = np.random.default_rng(0)
    total, ttotal = 0.0, 0.0
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
        w = weights.standard_normal(ours.shape)
        total = total + (ours * w).sum()
        ttotal = ttotal + (theirs * torch.tensor(w)).sum()
    total.backward()
    ttotal.backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10)
    assert x.argmax(dim=1, keepdim=True).tolist() == tx.argmax(dim=1, keepdim=True).tolist()
    assert x.numel() == tx.numel()


def test_clone_float_double_format_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    x, tx = tg.Tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    (x.clone() * 3).float().sum().backward()
    (tx.clone() * 3).float().sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
    assert str(x.float().dtype) == str(tx.float().dtype).removeprefix("torch.")
    assert str(x.float().double().dtype) == str(tx.float().double().dtype).removeprefix("torch.")
    assert f"{x.sum():.5f}" == f"{tx.sum():.5f}"
