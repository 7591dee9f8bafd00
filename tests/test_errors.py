"""Errors say what went wrong, in which op, with which shapes: each test checks the
message, not just the exception type."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import GradcheckError, Tensor, make_op

# ---------------------------------------------------------------------------- shapes


def test_matmul_shape_mismatch_names_op_shapes_and_sizes() -> None:
    x, w = Tensor(np.ones((100, 784))), Tensor(np.ones((50, 10)))
    expected = "matmul: shapes (100, 784) and (50, 10) do not align (784 != 50)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        x @ w
    with pytest.raises(ValueError, match=re.escape(expected.replace("matmul", "linear"))):
        F.linear(x, w)


@pytest.mark.parametrize(("a", "b", "message"), [
    ((3,), (4,), "shapes (3,) and (4,) do not align (3 != 4)"),
    ((2, 3), (2,), "shapes (2, 3) and (2,) do not align (3 != 2)"),
    ((2, 2, 3), (3, 3, 2), "batch dimensions of shapes (2, 2, 3) and (3, 3, 2) cannot be "
                           "broadcast"),
    ((), (2,), "both operands need at least 1 dimension, got shapes () and (2,)"),
])
def test_matmul_other_mismatches(a: tuple[int, ...], b: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape("matmul: " + message)):
        F.matmul(Tensor(np.ones(a)), Tensor(np.ones(b)))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_broadcast_mismatch_names_op_and_both_shapes(op: str) -> None:
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((4,)))
    expected = f"{op}: shapes (2, 3) and (4,) cannot be broadcast together"
    with pytest.raises(ValueError, match=re.escape(expected)):
        getattr(F, op)(a, b)


def test_broadcast_mismatch_through_operators() -> None:
    a, b = Tensor(np.ones((5, 2))), np.ones((3,))
    with pytest.raises(ValueError, match=re.escape("mul: shapes (5, 2) and (3,)")):
        a * b
    with pytest.raises(ValueError, match=re.escape("sub: shapes (3,) and (5, 2)")):
        b - a


def test_other_shape_mismatches() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "mse_loss: input shape (2, 3) and target shape (3,) differ")):
        F.mse_loss(Tensor(np.ones((2, 3))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=re.escape(
            "concatenate: shapes (2, 3), (2, 4) do not match except along axis 0")):
        F.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))])
    with pytest.raises(ValueError, match=re.escape(
            "stack: all tensors must have the same shape, got (2, 3), (2, 4)")):
        F.stack([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))])
    with pytest.raises(ValueError, match=re.escape(
            "linear: bias of shape (3,) does not match weight (3, 4); expected (4,)")):
        F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=re.escape(
            "broadcast_to: cannot broadcast shape (2, 3) to (3, 3)")):
        F.broadcast_to(Tensor(np.ones((2, 3))), (3, 3))
    with pytest.raises(ValueError, match=re.escape("where: shapes (2,), (3,) and ()")):
        F.where(np.array([True, False]), Tensor(np.ones(3)), 0.0)


def test_reshape_to_an_incompatible_shape() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4, 2)")):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=re.escape("reshape: cannot reshape a tensor of shape "
                                                   "(2, 3) (6 elements) into shape (-1, 4)")):
        x.reshape((-1, 4))


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: x.sum(axis=2), "sum: axis 2 is out of range for a tensor of 2 dims"),
    (lambda x: x.mean(axis=-3), "mean: axis -3 is out of range for a tensor of 2 dims"),
    (lambda x: x.max(axis=(0, 5)), "max: axis 5 is out of range for a tensor of 2 dims"),
    (lambda x: x.sum(axis=(0, -2)), "sum: repeated axis in (0, -2)"),
    (lambda x: x.softmax(axis=2), "softmax: axis 2 is out of range for a tensor of 2 dims"),
    (lambda x: x.squeeze(1), "squeeze: axis 1 of shape (2, 3) has size 3, not 1"),
    (lambda x: x.unsqueeze(4), "unsqueeze: axis 4 is out of range for a tensor of 3 dims"),
    (lambda x: x.transpose(0, 0), "transpose: axes (0, 0) are not a permutation of the 2 "
                                  "axes of a tensor of shape (2, 3)"),
    (lambda x: x.swapaxes(0, 2), "swapaxes: axis 2 is out of range for a tensor of 2 dims"),
    (lambda x: x.flatten(1, 0), "flatten: start_dim 1 comes after end_dim 0"),
    (lambda x: F.concatenate([x, x], axis=3),
     "concatenate: axis 3 is out of range for a tensor of 2 dims"),
    (lambda x: F.concatenate([x, x[:, :2]], axis=0),
     "concatenate: shapes (2, 3), (2, 2) do not match except along axis 0"),
    (lambda x: F.stack([x, x], axis=5), "stack: axis 5 is out of range for a tensor of 3 dims"),
])
def test_bad_axis(call: object, message: str) -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape(message)):
        call(x)  # type: ignore[operator]


def test_index_out_of_range_names_the_shape() -> None:
    with pytest.raises(IndexError, match=re.escape(
            "getitem: index 5 is out of bounds for axis 0 with size 2 (tensor of shape (2, 3))")):
        Tensor(np.ones((2, 3)))[5]


# ---------------------------------------------------------------------------- backward


def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    y = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=re.escape(
            "backward: grad can be created implicitly only for scalar outputs, but the "
            "output has shape (3,); pass grad= with that shape")):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape() -> None:
    y = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=re.escape(
            "backward: grad has shape (2,) but the output has shape (3,)")):
        y.backward(np.ones(2))


def test_backward_on_a_tensor_that_does_not_require_grad() -> None:
    with pytest.raises(RuntimeError, match="backward: tensor does not require grad"):
        Tensor(np.ones(3)).sum().backward()
    x = Tensor(np.ones(3), requires_grad=True)
    with tg.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"requires_grad=True \(and not under no_grad\)"):
        y.backward()


def test_retain_grad_on_a_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError, match="retain_grad: tensor does not require grad"):
        Tensor(np.ones(2)).retain_grad()


def test_requires_grad_only_on_non_leaves_is_refused() -> None:
    y = Tensor(np.ones(2), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="requires_grad_: only leaves.*made by 'mul'"):
        y.requires_grad_(False)


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("data", [[1, 2], np.arange(3), [True, False], np.zeros(2, np.int32),
                                  np.ones(2, np.uint8)])
def test_requires_grad_on_integer_or_bool_data(data: object) -> None:
    dtype = np.asarray(data).dtype
    with pytest.raises(TypeError, match=re.escape(
            f"Tensor: only real floating-point tensors can require grad, got dtype {dtype}")):
        Tensor(data, requires_grad=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="requires_grad_: only real floating-point tensors"):
        Tensor(data).requires_grad_()  # type: ignore[arg-type]


def test_factories_refuse_requires_grad_on_integers() -> None:
    with pytest.raises(TypeError, match="got dtype int32"):
        tg.zeros(2, dtype=np.int32, requires_grad=True)
    with pytest.raises(TypeError, match="got dtype int64"):
        tg.arange(3, requires_grad=True)


# ---------------------------------------------------------------------------- cross_entropy


def test_cross_entropy_label_out_of_range() -> None:
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match=re.escape(
            "cross_entropy: target class 3 at position 1 is out of range [0, 3) for logits "
            "of shape (2, 3)")):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(IndexError, match=re.escape("target class -1 at position 0")):
        F.cross_entropy(logits, np.array([-1, 0]))


def test_cross_entropy_target_of_the_wrong_shape() -> None:
    logits = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape(
            "cross_entropy: target shape (3,) does not fit logits (2, 3); expected class "
            "indices (2,) or one-hot rows (2, 3)")):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=re.escape(
            "cross_entropy: logits must have shape (N, C) or (C,), got (2, 3, 4)")):
        F.cross_entropy(Tensor(np.zeros((2, 3, 4))), np.array([0, 1]))


def test_cross_entropy_float_index_labels() -> None:
    with pytest.raises(TypeError, match=re.escape(
            "cross_entropy: class-index targets must have an integer dtype, got float64")):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0.0, 1.0]))


def test_cross_entropy_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="reduction must be one of .*got 'avg'"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")


# ---------------------------------------------------------------------------- gradcheck


def _wrong_sin(x: Tensor) -> Tensor:
    """sin with a backward that is off by 10% in every entry."""
    def backward(g: Tensor) -> tuple[Tensor]:
        return (g * Tensor(1.1 * np.cos(x.data)),)

    return make_op(np.sin(x.data), (x,), backward, "wrong_sin")


def test_gradcheck_error_names_input_errors_and_index() -> None:
    x = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    y = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        tg.gradcheck(lambda a, b: _wrong_sin(a).sum() * b, x, y)
    message = str(info.value)
    assert "gradcheck failed" in message
    assert re.search(r"input 0 \(gradient\): 3 of 3 entries out of tolerance", message)
    # Autograd says 1.1 cos(x) where the truth is cos(x): relative error 0.1 everywhere,
    # absolute error largest where cos is largest, at x = 0.1 (index 0).
    assert re.search(r"max abs error [0-9.e+-]+, max rel error 0\.1;", message)
    worst = re.search(r"worst at index \(0,\): autograd ([-0-9.e]+) vs numerical ([-0-9.e]+)",
                      message)
    assert worst is not None, message
    assert float(worst[1]) == pytest.approx(1.1 * float(worst[2]), rel=1e-6)
    assert "input 1" not in message  # b's gradient is right
    assert isinstance(info.value, AssertionError)


def test_gradcheck_without_any_input_requiring_grad() -> None:
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        tg.gradcheck(lambda t: t * 2, Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="mode must be 'auto', 'full' or 'projection'"):
        tg.gradcheck(lambda t: t * 2, Tensor(np.ones(3), requires_grad=True), mode="fast")


def test_numerical_gradient_needs_a_scalar_function() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "numerical_gradient: f must return a scalar, got an array of shape (2,)")):
        tg.numerical_gradient(lambda v: v * 2, np.ones(2))
    with pytest.raises(TypeError, match="must be a floating-point ndarray or Tensor, got int64"):
        tg.numerical_gradient(lambda v: float(v.sum()), np.arange(3))
