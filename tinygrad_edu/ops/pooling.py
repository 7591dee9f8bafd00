"""Pooling as the book teaches it: max_pool2d and avg_pool2d through im2col.

:func:`~tinygrad_edu.ops.conv.im2col` puts every window of the input in a row; pooling
is then a max (or a mean) along each row, and the backward routes the gradient back
through :func:`~tinygrad_edu.ops.conv.col2im`: max pooling sends each window's
gradient to the window's maximum, average pooling spreads it evenly.

Conventions (PyTorch's ``max_pool2d`` / ``avg_pool2d``):

* ``stride`` defaults to ``kernel_size`` (windows side by side, as the book's 2 x 2
  pool with stride 2); ``padding`` is at most half the kernel;
* max pooling pads with -inf, so a padded entry never wins; average pooling pads with
  zeros that count in the average (``count_include_pad=True``);
* **ties**: when several entries of a window share its maximum, the first of them (in
  row-major order within the window) takes the window's whole gradient, as in PyTorch.
  This differs from the library's ``max`` reduction, which splits the gradient evenly
  between ties (as ``amax``): pooling picks one, ``max`` shares.

The ops here are the teaching ones, each with its backward written with Tensor ops
(:func:`max_pool2d_backward`, :func:`avg_pool2d_backward`), so both differentiate
twice. ``functional.max_pool2d`` and ``functional.avg_pool2d`` are the fused ops of
:mod:`tinygrad_edu.ops.fused_conv`, which skip im2col and reuse these backwards under
``create_graph``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.arithmetic import div, mul
from tinygrad_edu.ops.broadcasting import broadcast_to, reshape
from tinygrad_edu.ops.conv import (
    Pair,
    check_images,
    col2im,
    im2col,
    int_pair,
    output_size,
    pad_images,
)
from tinygrad_edu.ops.helpers import as_tensor
from tinygrad_edu.ops.shape import transpose
from tinygrad_edu.tensor import ArrayLike, Tensor, record

__all__ = [
    "max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward",
    "pool_geometry",
]


def pool_geometry(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any
                  ) -> tuple[Pair, Pair, Pair, Pair]:
    """Check a pooling's arguments against ``x``; return (kernel, stride, padding,
    (OH, OW)) as pairs."""
    check_images(op, x)
    kernel = int_pair(kernel_size, "kernel_size", op, 1)
    stride_hw = kernel if stride is None else int_pair(stride, "stride", op, 1)
    pad = int_pair(padding, "padding", op, 0)
    if 2 * pad[0] > kernel[0] or 2 * pad[1] > kernel[1]:
        raise ValueError(
            f"{op}: padding {pad} must be at most half the kernel {kernel}"
        )
    return kernel, stride_hw, pad, output_size(op, x.shape, kernel, stride_hw, pad)


def _window_rows(x: np.ndarray, kernel: Pair, stride: Pair) -> np.ndarray:
    """im2col of ``x`` (already padded) with one window per row: (N * OH * OW * C,
    kh * kw), rows in (n, i, j, c) order."""
    return im2col(x, *kernel, stride).data.reshape(-1, kernel[0] * kernel[1])


def _nchw(values: np.ndarray, n: int, c: int, out_hw: Pair) -> np.ndarray:
    """Per-window values in (n, i, j, c) order as a (N, C, OH, OW) array."""
    return np.ascontiguousarray(values.reshape(n, *out_hw, c).transpose(0, 3, 1, 2))


def _to_image(per_entry: Tensor, input_shape: tuple[int, ...], kernel: Pair, stride: Pair,
              padding: Pair) -> Tensor:
    """A gradient per window entry, (N, C, OH, OW, kh * kw), added back onto the image
    through col2im (which also cuts off the padding)."""
    n, c, oh, ow, k = per_entry.shape
    rows = reshape(transpose(per_entry, (0, 2, 3, 1, 4)), (n * oh * ow, c * k))
    return col2im(rows, input_shape, *kernel, stride, padding)


def max_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0
               ) -> Tensor:
    """The maximum of every kernel_size window of ``x`` (N, C, H, W): the book's Pooling.

    Shape: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 * pad - kh) // stride + 1.
    d/dx = g at each window's first maximum, 0 elsewhere (summed over windows).

    >>> x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 1.0]]]])
    >>> max_pool2d(x, 2).data
    array([[[[5., 7.]]]])
    """
    x = as_tensor(x)
    kernel, stride_hw, pad, out_hw = pool_geometry("max_pool2d", x, kernel_size, stride,
                                                   padding)
    rows = _window_rows(pad_images(x.data, pad, -np.inf), kernel, stride_hw)
    first_max = rows.argmax(axis=1)  # argmax picks the first of tied maxima
    n, c = x.shape[:2]
    out = _nchw(rows[np.arange(len(rows)), first_max], n, c, out_hw)
    winner = _nchw(first_max, n, c, out_hw)
    shape = x.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (max_pool2d_backward(g, shape, winner, kernel, stride_hw, pad),)

    return record(out, (x,), backward, "max_pool2d")


def max_pool2d_backward(g: Tensor, input_shape: tuple[int, ...], winner: np.ndarray,
                        kernel: Pair, stride: Pair, padding: Pair) -> Tensor:
    """The gradient of max pooling, with Tensor ops: ``g`` (N, C, OH, OW) sent to
    ``winner`` (N, C, OH, OW), the row-major index of the maximum in each window."""
    one_hot = winner[..., None] == np.arange(kernel[0] * kernel[1])
    per_entry = mul(reshape(g, g.shape + (1,)), one_hot.astype(g.dtype))
    return _to_image(per_entry, input_shape, kernel, stride, padding)


def avg_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0
               ) -> Tensor:
    """The mean of every kernel_size window of ``x`` (N, C, H, W); padded zeros count.

    Shape: (N, C, H, W) -> (N, C, OH, OW). d/dx = g / (kh * kw) on every entry of
    each window (summed over windows).

    >>> x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 1.0]]]])
    >>> avg_pool2d(x, 2).data
    array([[[[3.25, 2.5 ]]]])
    """
    x = as_tensor(x)
    kernel, stride_hw, pad, out_hw = pool_geometry("avg_pool2d", x, kernel_size, stride,
                                                   padding)
    rows = _window_rows(pad_images(x.data, pad), kernel, stride_hw)
    out = _nchw(rows.mean(axis=1), x.shape[0], x.shape[1], out_hw)
    shape = x.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (avg_pool2d_backward(g, shape, kernel, stride_hw, pad),)

    return record(out, (x,), backward, "avg_pool2d")


def avg_pool2d_backward(g: Tensor, input_shape: tuple[int, ...], kernel: Pair,
                        stride: Pair, padding: Pair) -> Tensor:
    """The gradient of average pooling, with Tensor ops: ``g`` (N, C, OH, OW) divided
    by the window size and spread over every entry of its window."""
    k = kernel[0] * kernel[1]
    per_entry = broadcast_to(reshape(div(g, float(k)), g.shape + (1,)), g.shape + (k,))
    return _to_image(per_entry, input_shape, kernel, stride, padding)
