"""What the API fuzzer (test_fuzz_api.py) found, one case each: calls that gave a silently
wrong result, or an error whose message came from NumPy or Python and did not name the
op. The fuzzer draws its calls at random; these pin each finding down for good."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn


def f32(*values: float, requires_grad: bool = False) -> Tensor:
    return Tensor(np.array(values, dtype=np.float32), requires_grad=requires_grad)


# ---------------------------------------------------------------------------- silently wrong


@pytest.mark.parametrize(("call", "expected", "dtype"), [
    # A Python number is weak, as in NumPy 2, on either side and for complex numbers.
    (lambda: F.minimum(np.float32(2.0) * np.ones(2, np.float32), 1.0), [1.0, 1.0],
     np.float32),
    (lambda: f32(1.0) + 1j, [1 + 1j], np.complex64),
    # clip: float bounds on integers promote, as np.clip (they were truncated to 0 and 1).
    (lambda: F.clip(Tensor([0, 1, 2]), 0.5, 1.5), [0.5, 1.0, 1.5], np.float64),
    (lambda: F.clip(Tensor([False, True]), 0.0, f32(0.5)), [0.0, 0.5], np.float32),
    # linear: a bias of another dtype is added as NumPy would, not in place.
    (lambda: F.linear(Tensor([[1, 2]]), Tensor([[1], [1]]), Tensor([0.5])), [[3.5]],
     np.float64),
    (lambda: F.linear(f32(1.0, 2.0).reshape(1, 2), f32(1.0, 1.0).reshape(2, 1),
                      np.array([0.25])), [[3.25]], np.float64),
    # softmax over an empty axis of integers: empty floats, as the formula gives.
    (lambda: F.softmax(Tensor(np.ones((2, 0), dtype=np.int64)), 1), np.ones((2, 0)),
     np.float64),
    (lambda: F.logsumexp(Tensor([1, 2]), 0), np.log(np.e + np.e ** 2), np.float64),
    # Conversions of one-element tensors of any shape, as item() and PyTorch.
    (lambda: float(f32(2.5)), 2.5, None),
    (lambda: operator.index(Tensor([[3]])), 3, None),
])
def test_results_that_were_wrong(call: Callable[[], Any], expected: Any, dtype: Any) -> None:
    out = call()
    if dtype is None:
        assert out == expected
        return
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_batchnorm_in_eval_mode_refuses_integers_instead_of_returning_zeros() -> None:
    bn = nn.BatchNorm1d(2).eval()
    np.testing.assert_allclose(bn(np.array([[1.0, 2.0]])).data, [[1.0, 2.0]], rtol=1e-4)
    with pytest.raises(TypeError, match="BatchNorm1d: expected floating-point input"):
        bn(np.array([[1, 2]]))  # the running statistics cast to int64 gave [[0, 0]]


def test_complex_results_never_require_grad() -> None:
    x = f32(1.0, 2.0, requires_grad=True)
    with pytest.raises(TypeError, match="mul: the result is complex"):
        x * (1 + 2j)  # its gradient would have lost the imaginary part
    y = x.astype(np.complex128)  # a cast to complex carries no graph, as to int
    assert y.dtype == np.complex128 and not y.requires_grad


def test_copy_into_a_0d_tensor_needs_a_source_that_broadcasts_to_it() -> None:
    with pytest.raises(ValueError, match=r"copy_: a value of shape \(1,\)"):
        Tensor(0.0).copy_(np.ones(1))  # np.copyto drops the leading 1


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("call", "error", "message"), [
    # Operands that are no numbers, and dtypes NumPy refuses.
    (lambda: f32(1.0) + "a", TypeError, r"add: operands must be numbers"),
    (lambda: F.maximum(np.ones(0), None), TypeError, r"maximum: operands must be numbers"),
    (lambda: Tensor([1.0]) < "a", TypeError, r"lt: operands must be numbers"),
    (lambda: Tensor([True]) - Tensor([True]), TypeError, r"sub: not defined for dtypes bool"),
    (lambda: -Tensor([True]), TypeError, r"neg: not defined for dtypes bool"),
    (lambda: Tensor([2]) ** Tensor([-1]), ValueError, r"pow: integers to negative integer"),
    (lambda: F.where(np.array([True]), "a", 1.0), TypeError, r"where: operands must be"),
    (lambda: F.leaky_relu(f32(1.0), "a"), TypeError, r"leaky_relu: negative_slope must"),
    (lambda: F.astype(f32(1.0), "abc"), TypeError, r"astype: dtype must be a numeric dtype"),
    (lambda: F.astype(f32(1.0), "U3"), TypeError, r"astype: dtype must be a numeric dtype"),
    # Formulas for real numbers.
    (lambda: F.sigmoid(Tensor([1j])), TypeError, r"sigmoid: expected integers or real"),
    (lambda: F.softmax(Tensor([True]), 0), TypeError, r"softmax: expected integers"),
    (lambda: F.var(Tensor([1j, 2.0])), TypeError, r"var: expected real numbers"),
    (lambda: F.var(f32(1.0, 2.0), ddof="1"), TypeError, r"var: ddof must be an int"),
    (lambda: F.clip(Tensor([1j]), 0.0), TypeError, r"clip: expected real numbers"),
    (lambda: F.clip(f32(1.0, 2.0), np.zeros((3, 2))), ValueError, r"clip: bounds of shapes"),
    (lambda: F.mse_loss(Tensor([True]), Tensor([False])), TypeError, r"mse_loss: expected"),
    (lambda: F.mse_loss(np.ones(0), np.ones(0)), ValueError, r"mse_loss: the mean over"),
    # Axes and shapes of the wrong type, or out of range.
    (lambda: F.argmax(f32(1.0), 1), ValueError, r"argmax: axis 1 is out of range"),
    (lambda: F.argmin(np.ones((0, 2)), 0), ValueError, r"argmin: an axis of size 0"),
    (lambda: f32(1.0).reshape("a"), TypeError, r"reshape: shape must be an int or a tuple"),
    (lambda: f32(1.0).reshape(True), TypeError, r"reshape: shape must be an int or a tuple"),
    (lambda: f32(1.0).reshape(-2), ValueError, r"reshape: shape -2 has a size below -1"),
    (lambda: f32(1.0).expand(None), TypeError, r"broadcast_to: shape must be an int"),
    (lambda: F.transpose(np.ones((2, 2)), (0.5, 1.7)), TypeError, r"transpose: axes must"),
    (lambda: F.permute(np.ones(2), 5), TypeError, r"transpose: axes must be None or a tuple"),
    (lambda: F.flatten(Tensor(1.0), "a"), TypeError, r"flatten: start_dim must be an int"),
    (lambda: f32(1.0).mT, ValueError, r"mT: needs a matrix"),
    (lambda: F.stack(5), TypeError, r"stack: expected a list or tuple of tensors"),
    (lambda: F.concatenate(Tensor(np.ones((2, 2)))), TypeError, r"concatenate: expected a"),
    (lambda: f32(1.0, 2.0)[[[0, 1], [0]]], IndexError, r"getitem: index .* is a ragged"),
    (lambda: F.col2im(np.ones((1, 1)), "abcd", 1, 1), TypeError, r"col2im: input_shape must"),
    (lambda: F.col2im(np.ones((1, 1)), (1, 1, 1.5, 1), 1, 1), TypeError, r"col2im: input"),
    # Empty and degenerate inputs.
    (lambda: F.cross_entropy(np.zeros((2, 0)), np.zeros(2, int)), ValueError,
     r"cross_entropy: logits of shape \(2, 0\) have no classes"),
    (lambda: F.cross_entropy(f32(1.0, 2.0, 3.0), np.array([0, 1])), ValueError,
     r"cross_entropy: target shape \(2,\) does not fit logits \(3,\)"),
    (lambda: F.cross_entropy(np.zeros((1, 2)), np.array([[1j, 0]])), TypeError,
     r"cross_entropy: soft targets must be real numbers"),
    (lambda: F.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 0, 1))), ValueError,
     r"conv2d: weight of shape \(1, 1, 0, 1\) has an empty kernel"),
    (lambda: F.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)), np.array([1j])),
     TypeError, r"conv2d: bias must be real numbers"),
    (lambda: F.linear(Tensor(2.0), Tensor(3.0)), ValueError, r"linear: both operands need"),
    # In-place fills.
    (lambda: f32(1.0).fill_("a"), TypeError, r"fill_: the value must be a number"),
    (lambda: f32(1.0, 2.0).fill_(np.array([1.0, 2.0])), ValueError, r"fill_: the value must"),
    (lambda: f32(1.0).fill_(1j), TypeError, r"fill_: cannot fill a tensor of dtype float32"),
    (lambda: Tensor([1, 2]).fill_(np.nan), ValueError, r"fill_: cannot fill a tensor of dtype"),
    # The Tensor and its conversions.
    (lambda: Tensor([1.0], dtype="abc"), TypeError, r"Tensor: dtype must be a numeric"),
    (lambda: Tensor(["1", "2"], dtype=float), TypeError, r"Tensor: list data gave an array"),
    (lambda: Tensor([None], dtype=np.float32), TypeError, r"Tensor: list data gave an array"),
    (lambda: Tensor(np.array([1 + 2j]), dtype=np.float64), TypeError,
     r"Tensor: complex data cannot be made float64"),
    (lambda: bool(f32(1.0, 2.0)), ValueError, r"bool\(\): only a one-element tensor"),
    (lambda: float(f32(1.0, 2.0)), TypeError, r"float\(\): only a one-element tensor"),
    (lambda: int(f32(float("inf"))), ValueError, r"int\(\): cannot convert inf"),
    (lambda: operator.index(f32(1.0)), TypeError, r"index: only integer tensors"),
    (lambda: (f32(1.0, requires_grad=True) * 2).backward("a"), TypeError,
     r"backward: grad must be real numbers"),
    (lambda: (f32(1.0, requires_grad=True) * 2).backward(np.array([1j])), TypeError,
     r"backward: grad must be real numbers"),
])
def test_errors_name_the_op(call: Callable[[], Any], error: type[Exception],
                            message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.Linear(2, 2, dtype="abc"), TypeError, r"Linear: dtype 'abc' is not a dtype"),
    (lambda: nn.Linear(2, 2, weight_init=None), TypeError, r"Linear: weight_init must be"),
    (lambda: nn.Linear(2, 2, weight_init=-1.0), ValueError, r"Linear: weight_init as a std"),
    (lambda: nn.Conv2d(2.5, 3, 2), TypeError, r"Conv2d: in_channels must be an int"),
    (lambda: nn.Conv2d(1, "a", 2), TypeError, r"Conv2d: out_channels must be an int"),
    (lambda: nn.Conv2d(0, 3, 2), ValueError, r"Conv2d: in_channels must be positive"),
    (lambda: nn.Flatten("a"), TypeError, r"Flatten: start_dim must be an int"),
    (lambda: nn.Dropout("a"), TypeError, r"Dropout: p must be a number"),
    (lambda: nn.Dropout(True), TypeError, r"Dropout: p must be a number"),
    (lambda: nn.Sequential(nn.ReLU(), 5), TypeError, r"Sequential: module '1' must be a"),
    (lambda: nn.Convolution(np.ones((1, 1, 2, 2), int), np.ones(1)), TypeError,
     r"Convolution: W must be a floating-point array"),
])
def test_layer_arguments_name_the_layer(make: Callable[[], Any], error: type[Exception],
                                        message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_layers_take_an_empty_batch() -> None:
    assert nn.Affine(4, 3, rng=0)(np.ones((0, 2, 2))).shape == (0, 3)
    assert nn.Conv2d(1, 2, 2, rng=0)(np.ones((0, 1, 3, 3))).shape == (0, 2, 2, 2)
    assert F.conv2d(np.ones((1, 1, 2, 2)), np.ones((0, 1, 1, 1))).shape == (1, 0, 2, 2)
    assert F.im2col(np.ones((0, 1, 2, 2)), 1, 1).shape == (0, 1)
    assert tg.is_grad_enabled()


def test_a_number_as_bias_keeps_its_precision() -> None:
    # A float32 weight, a float64 input: the product is float64, and a Python number
    # added to it is too, not first rounded to the weight's float32.
    out = F.linear([1.0], f32(1.0).reshape(1, 1), 0.1)
    assert out.dtype == np.float64
    assert out.data[0] == 1.0 + 0.1
