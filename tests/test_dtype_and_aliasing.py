"""Gradients arrive in each tensor's own dtype and are never shared between holders;
indices and exponents at their edge cases."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import functional as F
from tinygrad_edu import nn


def f32(*values: float, requires_grad: bool = True) -> tg.Tensor:
    return tg.Tensor(np.array(values, dtype=np.float32), requires_grad=requires_grad)


@pytest.mark.parametrize("op", [
    lambda p: p * 2.0, lambda p: p + 1, lambda p: p / 3.0, lambda p: p - 1.5,
    lambda p: F.maximum(p, 0.5), lambda p: F.where(p.data > 1, p, 0.0), lambda p: p ** 2,
])
def test_a_parameter_with_a_python_number_stays_float32(op) -> None:
    p = nn.Parameter(np.array([1.0, 2.0], dtype=np.float32))
    out = op(p)
    assert out.dtype == np.float32
    out.sum().backward()
    assert p.grad.dtype == np.float32


def test_mixed_dtypes_give_each_leaf_a_gradient_in_its_own_dtype() -> None:
    x = f32(1.0, 2.0, 3.0)
    F.mse_loss(x, np.zeros(3)).backward()            # float64 target array
    assert x.grad.dtype == np.float32
    logits = tg.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)
    F.cross_entropy(logits, np.eye(3)[[0, 1]]).backward(create_graph=True)
    assert logits.grad.dtype == np.float32
    layer = nn.Linear(3, 2, rng=0, dtype=np.float32)
    layer(np.ones((2, 3))).sum().backward()           # float64 batch
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32
    y = f32(1.0, 2.0)
    (y * 2.0).backward(np.ones(2))                    # float64 upstream gradient
    assert y.grad.dtype == np.float32


@pytest.mark.parametrize("create_graph", [False, True])
def test_two_leaves_never_share_a_gradient(create_graph: bool) -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = tg.Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward(create_graph=create_graph)
    assert x.grad is not y.grad and not np.shares_memory(x.grad.data, y.grad.data)
    assert x.grad.data.flags.writeable
    x.grad.data += 1                                  # an in-place update stays local
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_grad_results_are_fresh_writable_arrays() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    v = np.array([3.0, 4.0])
    (g,) = tg.grad(x + 1, x, grad_outputs=v)
    assert not np.shares_memory(g.data, v)
    (g,) = tg.grad(x.sum(), x)                        # a broadcast view inside the engine
    assert g.data.flags.writeable
    a, b = tg.grad((x * 1.0).sum(), (x, x))
    assert a is not b


def test_tuple_and_list_indices_accumulate_repeats_and_are_copied() -> None:
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    x[:, (0, 0)].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2, 0, 0], [2, 0, 0]])
    x = tg.Tensor(np.arange(4.0), requires_grad=True)
    index = np.array([0, 1])
    y = x[index]
    index[:] = 3                                      # changing it later changes nothing
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1, 1, 0, 0])


def test_power_zero_has_gradient_zero_at_zero() -> None:
    x = tg.Tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x = tg.Tensor([0.0, 2.0], requires_grad=True)
    b = tg.Tensor(0.0, requires_grad=True)
    (x ** b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    assert np.isfinite(b.grad.data)


def test_backward_takes_an_array_gradient_for_a_list_of_one_tensor() -> None:
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    tg.backward([x * 2], np.ones(3))
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_an_interior_node_runs_its_backward_in_its_own_dtype(create_graph: bool) -> None:
    # h is float32 and feeds a float64 product, whose backward hands h a float64
    # gradient; the engine casts it on that edge, so h's own backward (and everything
    # below it) runs in float32. Leaf gradients alone cannot show this: they are cast
    # again when delivered.
    seen: list[np.dtype] = []

    def double(g: tg.Tensor) -> tuple[tg.Tensor]:
        seen.append(g.dtype)
        return (g * 2,)

    x = f32(1.0, 2.0)
    h = tg.make_op(x.data * 2, (x,), double, "double")
    h.retain_grad()
    y = (h * tg.Tensor(np.array([3.0, 4.0]))).sum()  # float64 consumer
    assert y.dtype == np.float64
    y.backward(create_graph=create_graph)
    assert seen == [np.float32]
    assert h.grad.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
