"""Convolution and pooling beyond the op table: the fused ops equal the teaching ops
they replace (values, gradients, second derivatives), both agree with PyTorch, ties in
max pooling follow PyTorch, col2im is im2col's adjoint, and bad arguments raise errors
that name the op and the shapes."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_strategies import Domain, window_geometry

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor
from tinygrad_edu.ops import conv as teaching_conv
from tinygrad_edu.ops import pooling as teaching_pool
from tinygrad_edu.testing import arrays

RNG = np.random.default_rng(13)

# (x shape, weight shape, stride, padding): overlapping and gapped windows, padding on
# one or both axes, one channel and several, a batch of one.
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 2), (2, 1), (1, 0)),
    ((1, 1, 5, 5), (2, 1, 5, 5), 1, 0),
    ((3, 2, 8, 8), (3, 2, 3, 3), 2, 1),
    ((2, 1, 9, 7), (2, 1, 2, 2), 3, (0, 2)),
]
# (x shape, kernel_size, stride, padding)
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 5), 3, 1, 1),
    ((2, 2, 9, 8), (3, 2), (2, 1), (1, 1)),
    ((1, 1, 5, 7), 2, 3, 0),
    ((2, 1, 4, 4), 1, 1, 0),
]
POOLS = {"max_pool2d": (F.max_pool2d, teaching_pool.max_pool2d),
         "avg_pool2d": (F.avg_pool2d, teaching_pool.avg_pool2d)}


def _leaf(shape: tuple[int, ...], dtype: Any = np.float64) -> Tensor:
    return Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def _distinct(shape: tuple[int, ...]) -> Tensor:
    """Values with no ties anywhere, so every window has one maximum."""
    return Tensor(RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.25,
                  requires_grad=True)


def _first_and_second(fn: Any, inputs: list[Tensor], seed: int) -> list[np.ndarray]:
    """The gradient of sum(fn(*inputs) * v), and the gradient of <that gradient, u> with
    respect to the inputs and v: first and second derivatives along random directions."""
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    v = Tensor(rng.standard_normal(out.shape).astype(out.dtype), requires_grad=True)
    firsts = tg.grad(out, inputs, grad_outputs=v, create_graph=True)
    inner = sum((f * Tensor(rng.standard_normal(f.shape).astype(f.dtype))).sum()
                for f in firsts)
    seconds = tg.grad(inner, [*inputs, v], allow_unused=True)
    return [f.data for f in firsts] + [np.zeros(1) if s is None else s.data for s in seconds]


def _plain_grads(fn: Any, inputs: list[Tensor], upstream: np.ndarray) -> list[np.ndarray]:
    return [g.data for g in tg.grad(fn(*inputs), inputs, grad_outputs=Tensor(upstream))]


# ---------------------------------------------------------------------------- fused = teaching


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), CONV_CASES)
def test_fused_conv2d_equals_the_teaching_op(dtype: Any, x_shape: tuple[int, ...],
                                             w_shape: tuple[int, ...], stride: Any,
                                             padding: Any) -> None:
    x, w, b = _leaf(x_shape, dtype), _leaf(w_shape, dtype), _leaf(w_shape[:1], dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-12}
    outs = [op(x, w, b, stride, padding) for op in (F.conv2d, teaching_conv.conv2d)]
    assert outs[0].dtype == outs[1].dtype == dtype
    np.testing.assert_allclose(outs[0].data, outs[1].data, **tol)
    upstream = RNG.standard_normal(outs[0].shape).astype(dtype)
    fused, teaching = (_plain_grads(lambda *t, op=op: op(*t, stride, padding), [x, w, b],
                                    upstream)
                       for op in (F.conv2d, teaching_conv.conv2d))
    for f, t in zip(fused, teaching):
        assert f.dtype == t.dtype == dtype
        np.testing.assert_allclose(f, t, **tol)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), CONV_CASES[:2])
def test_fused_conv2d_second_derivatives_equal_the_teaching_op(
        x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any) -> None:
    inputs = [_leaf(x_shape), _leaf(w_shape), _leaf(w_shape[:1])]
    fused = _first_and_second(lambda *t: F.conv2d(*t, stride, padding), inputs, seed=1)
    teaching = _first_and_second(lambda *t: teaching_conv.conv2d(*t, stride, padding),
                                 inputs, seed=1)
    for f, t in zip(fused, teaching):
        np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-12)
    # d2/dx dW is not zero: the check above compares something.
    assert np.abs(fused[3]).max() > 0 and np.abs(fused[4]).max() > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding"), POOL_CASES)
def test_fused_pooling_equals_the_teaching_op(dtype: Any, name: str, x_shape: tuple[int, ...],
                                              kernel: Any, stride: Any, padding: Any) -> None:
    fused_op, teaching_op = POOLS[name]
    x = Tensor(_distinct(x_shape).data.astype(dtype), requires_grad=True)
    outs = [op(x, kernel, stride, padding) for op in (fused_op, teaching_op)]
    assert outs[0].dtype == outs[1].dtype == dtype
    np.testing.assert_allclose(outs[0].data, outs[1].data, rtol=1e-6)
    upstream = RNG.standard_normal(outs[0].shape).astype(dtype)
    fused, teaching = (_plain_grads(lambda t, op=op: op(t, kernel, stride, padding), [x],
                                    upstream) for op in POOLS[name])
    assert fused[0].dtype == dtype
    np.testing.assert_allclose(fused[0], teaching[0], rtol=1e-6, atol=1e-6)
    # Second derivatives: d/dx of the gradient is zero (piecewise linear), d/dv is the
    # routing; the fused op's create_graph path is the teaching backward.
    second = [_first_and_second(lambda t, op=op: op(t, kernel, stride, padding), [x], seed=2)
              for op in POOLS[name]]
    for f, t in zip(*second):
        np.testing.assert_allclose(f, t, rtol=1e-6, atol=1e-6)


def test_fused_conv2d_computes_no_input_gradient_for_an_image_batch() -> None:
    images = Tensor(RNG.standard_normal((2, 1, 6, 6)))  # no grad wanted
    w, b = _leaf((3, 1, 3, 3)), _leaf((3,))
    out = F.conv2d(images, w, b)
    grads = out.backward_fn(Tensor(np.ones(out.shape)))  # type: ignore[misc]
    assert grads[0] is None and grads[1] is not None and grads[2] is not None


def test_unbatched_images_are_a_batch_of_one() -> None:
    x, w = _leaf((2, 5, 6)), _leaf((3, 2, 3, 3))
    out = F.conv2d(x, w, padding=1)
    batched = F.conv2d(F.reshape(x, (1, 2, 5, 6)), w, padding=1)
    assert out.shape == (3, 5, 6)
    np.testing.assert_array_equal(out.data, batched.data[0])
    assert F.max_pool2d(x, 2).shape == F.avg_pool2d(x, 2).shape == (2, 2, 3)
    assert tg.gradcheck(lambda t: F.max_pool2d(t, 2, 1), _distinct((2, 5, 6)))


# ---------------------------------------------------------------------------- im2col, col2im


@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(data: st.DataObject, seed: int) -> None:
    geo = data.draw(window_geometry(Domain(max_side=5), "any"))
    (kh, kw), stride, pad = geo["kernel"], geo["stride"], geo["padding"]
    x = data.draw(arrays((geo["n"], geo["c"]) + geo["hw"]))
    col = F.im2col(x, kh, kw, stride, pad)
    c = np.random.default_rng(seed).standard_normal(col.shape)
    back = F.col2im(c, x.shape, kh, kw, stride, pad)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(col.data * c), np.sum(x * back.data), rtol=1e-10,
                               atol=1e-10)


def test_im2col_is_the_books_layout() -> None:
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    col = F.im2col(x, 2, 3, stride=1, pad=1).data
    assert col.shape == (2 * 5 * 5, 3 * 2 * 3)  # OH = 4 + 2 - 2 + 1, OW = 5 + 2 - 3 + 1
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    # Row (n, i, j) is the patch at (i, j) of image n, flattened channel-major.
    np.testing.assert_array_equal(col[1 * 25 + 2 * 5 + 3], padded[1, :, 2:4, 3:6].ravel())
    assert isinstance(F.im2col(Tensor(x), 2, 2), Tensor)


# ---------------------------------------------------------------------------- ties


def test_max_pool_gives_each_window_gradient_to_its_first_maximum() -> None:
    x = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])
    for op in POOLS["max_pool2d"]:
        t = Tensor(x, requires_grad=True)
        op(t, 2).backward(np.array([[[[10.0, 20.0]]]]))
        np.testing.assert_array_equal(t.grad.data, [[[[0, 10, 20, 0],  # type: ignore[union-attr]
                                                      [0, 0, 0, 0]]]])
    # The library's max reduction splits between ties instead, as amax does.
    t = Tensor(x[0, 0, :, :2], requires_grad=True)
    t.max().backward()
    np.testing.assert_array_equal(t.grad.data, [[0, 0.5], [0.5, 0]])  # type: ignore[union-attr]


def test_max_pool_with_overlapping_windows_accumulates_at_a_shared_maximum() -> None:
    x = Tensor(np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 1.0, 0.0]]]]),
               requires_grad=True)
    F.max_pool2d(x, 2, stride=1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- PyTorch


def _torch_grads(torch: Any, fn: Any, arrays_in: list[np.ndarray], upstream: np.ndarray
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    ts = [torch.tensor(a, requires_grad=True) for a in arrays_in]
    out = fn(*ts)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), CONV_CASES)
def test_conv2d_matches_pytorch(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                                stride: Any, padding: Any) -> None:
    torch = pytest.importorskip("torch")
    x, w, b = _leaf(x_shape), _leaf(w_shape), _leaf(w_shape[:1])
    out = F.conv2d(x, w, b, stride, padding)
    upstream = RNG.standard_normal(out.shape)
    expected, torch_grads = _torch_grads(
        torch, lambda *t: torch.nn.functional.conv2d(*t, stride=stride, padding=padding),
        [x.data, w.data, b.data], upstream)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(_plain_grads(lambda *t: F.conv2d(*t, stride, padding), [x, w, b],
                                         upstream), torch_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding"), POOL_CASES)
def test_pooling_matches_pytorch_ties_included(ties: bool, name: str, x_shape: tuple[int, ...],
                                               kernel: Any, stride: Any, padding: Any) -> None:
    torch = pytest.importorskip("torch")
    # With ties: small integers, and the zeros a ReLU leaves before a pool.
    x = np.maximum(RNG.integers(-2, 3, x_shape), 0).astype(float) if ties else \
        _distinct(x_shape).data
    upstream = RNG.standard_normal(POOLS[name][0](x, kernel, stride, padding).shape)
    expected, (torch_grad,) = _torch_grads(
        torch, lambda t: getattr(torch.nn.functional, name)(t, kernel, stride, padding), [x],
        upstream)
    for op in POOLS[name]:
        t = Tensor(x, requires_grad=True)
        out = op(t, kernel, stride, padding)
        np.testing.assert_allclose(out.data, expected, rtol=1e-12)
        for create_graph in (False, True):
            (grad,) = tg.grad(op(t, kernel, stride, padding), [t], grad_outputs=Tensor(upstream),
                              create_graph=create_graph)
            np.testing.assert_allclose(grad.data, torch_grad, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: F.conv2d(np.ones((1, 1, 3, 3)), np.ones((2, 1, 5, 5))), ValueError,
     "conv2d: kernel (5, 5) does not fit in the padded input (3, 3) (input shape "
     "(1, 1, 3, 3), padding (0, 0)), so there is no output position"),
    (lambda: F.conv2d(np.ones((2, 3, 8, 8)), np.ones((4, 2, 3, 3))), ValueError,
     "conv2d: input of shape (2, 3, 8, 8) has 3 channels, but weight of shape (4, 2, 3, 3) "
     "expects 2"),
    (lambda: F.conv2d(np.ones((2, 8, 8)), np.ones((4, 3, 3))), ValueError,
     "conv2d: weight must be a floating-point (out_channels, in_channels, kh, kw) array, got "
     "shape (4, 3, 3)"),
    (lambda: F.conv2d(np.ones((8, 8)), np.ones((4, 1, 3, 3))), ValueError,
     "conv2d: input must have shape (N, C, H, W), got (8, 8)"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.ones(3)), ValueError,
     "conv2d: bias of shape (3,) does not match weight (2, 1, 3, 3); expected (2,)"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), stride=0), ValueError,
     "conv2d: stride must be an int or a pair of ints >= 1, got 0"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), padding=(1, 2, 3)),
     ValueError, "conv2d: padding must be an int or a pair of ints >= 0, got (1, 2, 3)"),
    (lambda: F.conv2d(np.ones((1, 1, 4, 4), dtype=np.uint8), np.ones((2, 1, 3, 3))), TypeError,
     "conv2d: input must be floating point, got dtype uint8"),
    (lambda: F.max_pool2d(np.ones((1, 1, 3, 3)), 4), ValueError,
     "max_pool2d: kernel (4, 4) does not fit in the padded input (3, 3) (input shape "
     "(1, 1, 3, 3), padding (0, 0))"),
    (lambda: F.max_pool2d(np.ones((1, 1, 6, 6)), 2, padding=2), ValueError,
     "max_pool2d: padding (2, 2) must be at most half the kernel (2, 2)"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 6, 6)), (2, True)), ValueError,
     "avg_pool2d: kernel_size must be an int or a pair of ints >= 1, got (2, True)"),
    (lambda: F.avg_pool2d(np.ones(6), 2), ValueError,
     "avg_pool2d: input must have shape (N, C, H, W), got (6,)"),
    (lambda: F.im2col(np.ones((1, 1, 3, 3)), 4, 2), ValueError,
     "im2col: kernel (4, 2) does not fit in the padded input (3, 3)"),
    (lambda: F.col2im(np.ones((9, 4)), (1, 1, 4, 4), 2, 2, stride=2), ValueError,
     "col2im: col of shape (9, 4) does not fit input_shape (1, 1, 4, 4) with a (2, 2) filter, "
     "stride (2, 2) and pad (0, 0); expected (4, 4)"),
])
def test_bad_arguments_name_the_op_and_the_shapes(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()
