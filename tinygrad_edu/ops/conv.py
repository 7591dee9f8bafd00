"""Convolution as the book teaches it: im2col, col2im and conv2d.

A 2-D convolution slides every filter over the image and takes a dot product at each
position. The book's trick turns all of those dot products into one matrix product:
:func:`im2col` copies each receptive field (a C x kh x kw patch) into a row, so that

    conv2d(x, W) = im2col(x) @ W.reshape(O, -1).T, reshaped to (N, O, OH, OW).

:func:`col2im` is the adjoint of im2col: it adds every row back onto the pixels its
patch came from (overlapping patches add up). So col2im is im2col's backward and
im2col is col2im's; both are linear, and anything built from them can be
differentiated as often as you like.

Layout is NCHW, as in PyTorch and the book: images (N, C, H, W), filters
(O, C, kh, kw), output (N, O, OH, OW) with OH = (H + 2 * pad_h - kh) // stride_h + 1
(OW likewise). ``stride`` and ``padding`` are an int or an (h, w) pair.

:func:`conv2d` here is the teaching op: the book's Convolution layer with its backward
written with Tensor ops (:func:`conv2d_backward`), so it is twice differentiable.
``functional.conv2d`` is the fused op of :mod:`tinygrad_edu.ops.fused_conv`, which
computes the same with fewer copies and reuses :func:`conv2d_backward` under
``create_graph``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_edu.ops.arithmetic import matmul
from tinygrad_edu.ops.broadcasting import reshape, sum
from tinygrad_edu.ops.helpers import as_tensor, pair
from tinygrad_edu.ops.shape import transpose
from tinygrad_edu.tensor import ArrayLike, Tensor, record

__all__ = [
    "im2col", "col2im", "conv2d", "conv2d_backward", "int_pair", "output_size",
    "check_images", "check_conv2d", "pad_images", "windows", "window_entry", "add_windows",
]

Pair = tuple[int, int]


# ---------------------------------------------------------------------------- arguments


def int_pair(value: Any, name: str, op: str, minimum: int) -> Pair:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as an (h, w) pair.

    >>> int_pair(2, "stride", "conv2d", 1), int_pair((1, 3), "stride", "conv2d", 1)
    ((2, 2), (1, 3))
    >>> int_pair(0, "stride", "conv2d", 1)
    Traceback (most recent call last):
        ...
    ValueError: conv2d: stride must be an int or a pair of ints >= 1, got 0
    """
    items = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        h, w = items
    except (TypeError, ValueError):
        h = w = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
               and v >= minimum for v in (h, w)):
        raise ValueError(
            f"{op}: {name} must be an int or a pair of ints >= {minimum}, got {value!r}"
        )
    return int(h), int(w)  # type: ignore[arg-type]


def output_size(op: str, shape: tuple[int, ...], kernel: Pair, stride: Pair,
                padding: Pair) -> Pair:
    """(OH, OW) of sliding a ``kernel`` over images of ``shape`` (.., H, W): the book's
    ``(H + 2 * pad - kh) // stride + 1``. Raises when no window fits."""
    hp, wp = shape[-2] + 2 * padding[0], shape[-1] + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(
            f"{op}: kernel {kernel} does not fit in the padded input {(hp, wp)} (input "
            f"shape {shape}, padding {padding}), so there is no output position"
        )
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def check_images(op: str, x: Tensor) -> None:
    """Raise unless ``x`` is a batch of floating-point images (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must have shape (N, C, H, W), got {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")


def check_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Raise unless the shapes fit a convolution: x (N, C, H, W), weight
    (O, C, kh, kw), bias (O,)."""
    check_images("conv2d", x)
    if weight.ndim != 4 or weight.dtype.kind != "f":
        raise ValueError(
            f"conv2d: weight must be a floating-point (out_channels, in_channels, kh, kw) "
            f"array, got shape {weight.shape} and dtype {weight.dtype}"
        )
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but weight of "
            f"shape {weight.shape} expects {weight.shape[1]}"
        )
    if 0 in weight.shape[2:]:
        raise ValueError(f"conv2d: weight of shape {weight.shape} has an empty kernel")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"conv2d: bias of shape {bias.shape} does not match weight {weight.shape}; "
            f"expected ({weight.shape[0]},)"
        )
    if bias is not None and bias.dtype.kind not in "biuf":
        raise TypeError(f"conv2d: bias must be real numbers, got dtype {bias.dtype}")


# ---------------------------------------------------------------------------- windows
# The array helpers every convolution and pooling in the library is made of.


def pad_images(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    """``x`` (N, C, H, W) with ``padding`` rows and columns of ``value`` on each side
    (``x`` itself, not a copy, when there is no padding)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    out = np.full(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), value,
                  dtype=x.dtype)
    out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return out


def windows(x: np.ndarray, kernel: Pair, stride: Pair, out_hw: Pair) -> np.ndarray:
    """The (N, C, OH, OW, kh, kw) view of the windows of ``x`` (N, C, H, W), already
    padded: ``windows(...)[n, c, i, j]`` is the patch under output position (i, j).
    No copy is made (``sliding_window_view``), so do not write to it."""
    view = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return view[:, :, :out_hw[0], :out_hw[1]]


def window_entry(image: np.ndarray, i: int, j: int, stride: Pair, out_hw: Pair
                 ) -> np.ndarray:
    """Entry (i, j) of every window at once: the (N, C, OH, OW) strided view of
    ``image`` (padded) whose element [n, c, a, b] is entry (i, j) of window (a, b).
    A writeable view (a slice): writing to it writes to ``image``."""
    sh, sw = stride
    return image[:, :, i:i + sh * (out_hw[0] - 1) + 1:sh, j:j + sw * (out_hw[1] - 1) + 1:sw]


def add_windows(image: np.ndarray, patches: np.ndarray, stride: Pair) -> np.ndarray:
    """The adjoint of :func:`windows`: add ``patches`` (N, C, kh, kw, OH, OW) onto
    ``image`` (N, C, H, W, padded) in place, each where its window lies, and return it.

    This is the book's col2im loop: one strided slice per filter offset (i, j), so
    overlapping windows accumulate.
    """
    kh, kw, oh, ow = patches.shape[2:]
    for i in range(kh):
        for j in range(kw):
            window_entry(image, i, j, stride, (oh, ow))[...] += patches[:, :, i, j]
    return image


# ---------------------------------------------------------------------------- im2col, col2im


def _geometry(op: str, shape: tuple[int, ...], filter_h: int, filter_w: int, stride: Any,
              pad: Any) -> tuple[Pair, Pair, Pair, Pair]:
    kernel = int_pair((filter_h, filter_w), "filter size", op, 1)
    stride = int_pair(stride, "stride", op, 1)
    padding = int_pair(pad, "pad", op, 0)
    return kernel, stride, padding, output_size(op, shape, kernel, stride, padding)


def im2col(x: ArrayLike, filter_h: int, filter_w: int, stride: Any = 1, pad: Any = 0
           ) -> Tensor:
    """Every filter_h x filter_w receptive field of ``x`` (N, C, H, W) as one row: the
    book's im2col, differentiable.

    Shape: (N * OH * OW, C * filter_h * filter_w); row ``(n * OH + i) * OW + j`` is
    the patch under output position (i, j) of image n, flattened in (C, kh, kw)
    order. ``pad`` zeros are added on every side. d/dx = col2im(g) (the adjoint).

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, 2, 2, stride=2).data
    array([[ 0.,  1.,  4.,  5.],
           [ 2.,  3.,  6.,  7.],
           [ 8.,  9., 12., 13.],
           [10., 11., 14., 15.]])
    """
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"im2col: input must have shape (N, C, H, W), got {x.shape}")
    kernel, stride_hw, padding, (oh, ow) = _geometry("im2col", x.shape, filter_h, filter_w,
                                                      stride, pad)
    n, c = x.shape[:2]
    view = windows(pad_images(x.data, padding), kernel, stride_hw, (oh, ow))
    col = np.empty((n, oh, ow, c) + kernel, dtype=x.dtype)
    col[...] = view.transpose(0, 2, 3, 1, 4, 5)  # the one copy: rows (n, i, j)
    shape = x.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (col2im(g, shape, filter_h, filter_w, stride, pad),)

    return record(col.reshape(n * oh * ow, c * kernel[0] * kernel[1]), (x,), backward,
                  "im2col")


def col2im(col: ArrayLike, input_shape: tuple[int, ...], filter_h: int, filter_w: int,
           stride: Any = 1, pad: Any = 0) -> Tensor:
    """The adjoint of :func:`im2col`: every row of ``col`` added back onto the patch it
    came from, in an image of ``input_shape`` (N, C, H, W); the padding is cut off.

    Shape: (N * OH * OW, C * filter_h * filter_w) -> ``input_shape``. Overlapping
    patches add up, so ``<im2col(x), c> == <x, col2im(c)>`` for every x and c.
    d/dcol = im2col(g).

    >>> ones = np.ones((9, 4))                      # 3 x 3 positions of a 2 x 2 filter
    >>> col2im(ones, (1, 1, 4, 4), 2, 2).data[0, 0]  # how many windows cover a pixel
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    col = as_tensor(col)
    if not isinstance(input_shape, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))
            for s in input_shape):
        raise TypeError(f"col2im: input_shape must be a tuple of 4 ints (N, C, H, W), got "
                        f"{input_shape!r}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or min(shape) < 0:
        raise ValueError(f"col2im: input_shape must be (N, C, H, W), got {input_shape}")
    kernel, stride_hw, padding, (oh, ow) = _geometry("col2im", shape, filter_h, filter_w,
                                                      stride, pad)
    n, c, h, w = shape
    expected = (n * oh * ow, c * kernel[0] * kernel[1])
    if col.shape != expected:
        raise ValueError(
            f"col2im: col of shape {col.shape} does not fit input_shape {shape} with a "
            f"{kernel} filter, stride {stride_hw} and pad {padding}; expected {expected}"
        )
    image = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=col.dtype)
    # The book's transpose: (n, i, j, c, kh, kw) -> (n, c, kh, kw, i, j).
    patches = col.data.reshape(n, oh, ow, c, *kernel).transpose(0, 3, 4, 5, 1, 2)
    add_windows(image, patches, stride_hw)
    if padding != (0, 0):
        image = image[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w].copy()

    def backward(g: Tensor) -> tuple[Tensor]:
        return (im2col(g, filter_h, filter_w, stride, pad),)

    return record(image, (col,), backward, "col2im")


# ---------------------------------------------------------------------------- conv2d


def conv2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch and the book) of ``x`` with
    ``weight``, plus ``bias``: the book's Convolution layer.

    Shapes: x (N, C, H, W), weight (O, C, kh, kw), bias (O,) -> (N, O, OH, OW).
    Forward: ``im2col(x) @ W.reshape(O, -1).T``. d/dx = col2im(g_rows @ W_mat),
    d/dW = g_rows^T @ im2col(x), d/db = g summed over N, OH, OW.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2).data
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    x, weight = pair(x, weight)
    b = None if bias is None else as_tensor(bias, weight)
    check_conv2d(x, weight, b)
    stride = int_pair(stride, "stride", "conv2d", 1)
    padding = int_pair(padding, "padding", "conv2d", 0)
    o, _, kh, kw = weight.shape
    oh, ow = output_size("conv2d", x.shape, (kh, kw), stride, padding)
    col = im2col(x.data, kh, kw, stride, padding).data        # (N * OH * OW, C * kh * kw)
    out = col @ weight.data.reshape(o, col.shape[1]).T         # (N * OH * OW, O)
    if b is not None:
        out += b.data
    out = np.ascontiguousarray(out.reshape(x.shape[0], oh, ow, o).transpose(0, 3, 1, 2))

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        return conv2d_backward(g, x, weight, b, stride, padding)

    parents = (x, weight) if b is None else (x, weight, b)
    return record(out, parents, backward, "conv2d")


def conv2d_backward(g: Tensor, x: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Pair, padding: Pair) -> tuple[Tensor | None, ...]:
    """The gradients of :func:`conv2d` for the upstream gradient ``g`` (N, O, OH, OW),
    written with Tensor ops so that they can be differentiated again: the book's
    Convolution.backward. One gradient per input (None where none is needed)."""
    o, c, kh, kw = weight.shape
    n, _, oh, ow = g.shape
    rows = reshape(transpose(g, (0, 2, 3, 1)), (n * oh * ow, o))  # (N * OH * OW, O)
    gx = gw = gb = None
    if x.requires_grad:
        gx = col2im(matmul(rows, reshape(weight, (o, c * kh * kw))), x.shape, kh, kw, stride,
                    padding)
    if weight.requires_grad:
        gw = reshape(matmul(transpose(rows), im2col(x, kh, kw, stride, padding)), weight.shape)
    if bias is not None and bias.requires_grad:
        gb = sum(g, axis=(0, 2, 3))
    return (gx, gw) if bias is None else (gx, gw, gb)
