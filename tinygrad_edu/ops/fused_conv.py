"""Fused convolution and pooling: the ops ``functional`` exports and ``nn`` trains with.

Each op here computes what a teaching op computes, with fewer copies, and a test
(``tests/test_fused_conv.py``) proves it equal to that op in values, gradients and
second derivatives:

* :func:`conv2d` replaces :func:`tinygrad_edu.ops.conv.conv2d` (``im2col(x) @ W^T``,
  transposed to NCHW). The windows are copied once, straight into the layout
  (N, C * kh * kw, OH * OW) in which one batched matrix product ``W @ cols`` gives
  NCHW output, so no output transpose is needed; the input gradient is computed only
  when the input needs one (an image batch does not).
* :func:`max_pool2d` replaces :func:`tinygrad_edu.ops.pooling.max_pool2d` (im2col,
  argmax along the rows, col2im). No im2col at all: the maximum of kh * kw strided
  views of the input, view (i, j) holding entry (i, j) of every window, tracking
  each window's first maximum in one byte; the backward writes g through the same
  views.
* :func:`avg_pool2d` replaces :func:`tinygrad_edu.ops.pooling.avg_pool2d` the same
  way, with a sum of the strided views.

As in :mod:`tinygrad_edu.ops.fused`, each op carries two backwards: one on plain
arrays, the hot path of training, used when no graph is being recorded; and, under
``create_graph=True``, the teaching op's backward written with Tensor ops
(:func:`~tinygrad_edu.ops.conv.conv2d_backward` ...), so that the gradients can be
differentiated again.

All three accept a batch (N, C, H, W) or, as PyTorch, one unbatched image (C, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import state as grad_mode
from tinygrad_edu.ops.broadcasting import reshape
from tinygrad_edu.ops.conv import (
    Pair,
    add_windows,
    check_conv2d,
    conv2d_backward,
    int_pair,
    output_size,
    pad_images,
    window_entry,
    windows,
)
from tinygrad_edu.ops.helpers import as_tensor, pair
from tinygrad_edu.ops.pooling import avg_pool2d_backward, max_pool2d_backward, pool_geometry
from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]


def _unbatched(op: Callable[..., Tensor], x: Tensor, *args: Any) -> Tensor:
    """PyTorch's unbatched input (C, H, W): run ``op`` on a batch of one."""
    out = op(reshape(x, (1,) + x.shape), *args)
    return reshape(out, out.shape[1:])


def _crop(image: np.ndarray, padding: Pair, shape: tuple[int, ...]) -> np.ndarray:
    """The unpadded part of a padded (N, C, H, W) gradient, as its own array."""
    if padding == (0, 0):
        return image
    ph, pw = padding
    return image[:, :, ph:ph + shape[2], pw:pw + shape[3]].copy()


def _offsets(kernel: Pair) -> list[tuple[int, int]]:
    return [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]


def _gradient_image(shape: tuple[int, ...], kernel: Pair, stride: Pair, out_hw: Pair,
                    dtype: Any) -> np.ndarray:
    """The padded input gradient to fill: uninitialised when the windows tile it
    exactly (every entry is written once), zeros otherwise."""
    tiled = (stride == kernel and shape[2] == out_hw[0] * kernel[0]
             and shape[3] == out_hw[1] * kernel[1])
    return np.empty(shape, dtype) if tiled else np.zeros(shape, dtype)


# ---------------------------------------------------------------------------- conv2d


def conv2d(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None, stride: Any = 1,
           padding: Any = 0) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of ``x`` with ``weight``, plus
    ``bias``, in one fused node.

    Shapes: x (N, C, H, W) or (C, H, W), weight (O, C, kh, kw), bias (O,) ->
    (N, O, OH, OW) with OH = (H + 2 * padding - kh) // stride + 1 (OW likewise);
    ``stride`` and ``padding`` are an int or an (h, w) pair. d/dx = col2im(W^T g),
    d/dW = sum over N of g @ cols^T, d/db = g summed over N, OH, OW.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), np.array([0.5]), stride=2).data
    array([[[[10.5, 18.5],
             [42.5, 50.5]]]])
    """
    x, weight = pair(x, weight)
    if x.ndim == 3:
        return _unbatched(conv2d, x, weight, bias, stride, padding)
    b = None if bias is None else as_tensor(bias, weight)
    check_conv2d(x, weight, b)
    stride = int_pair(stride, "stride", "conv2d", 1)
    padding = int_pair(padding, "padding", "conv2d", 0)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    oh, ow = output_size("conv2d", x.shape, (kh, kw), stride, padding)
    xp = pad_images(x.data, padding)
    # The one copy of the windows, in the layout the product below wants.
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)
    cols[...] = windows(xp, (kh, kw), stride, (oh, ow)).transpose(0, 1, 4, 5, 2, 3)
    cols = cols.reshape(n, c * kh * kw, oh * ow)
    w_mat = weight.data.reshape(o, c * kh * kw)
    out = np.matmul(w_mat, cols)  # (N, O, OH * OW): NCHW already
    if b is not None:
        out += b.data[:, None]
    saved_cols = cols if weight.requires_grad else None  # only dW reads them

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        if grad_mode.enabled:
            # create_graph: the teaching formula, recorded as Tensor ops.
            return conv2d_backward(g, x, weight, b, stride, padding)
        gd = g.data.reshape(n, o, oh * ow)
        gx = gw = gb = None
        if x.requires_grad:
            patches = np.matmul(w_mat.T, gd).reshape(n, c, kh, kw, oh, ow)
            image = add_windows(np.zeros(xp.shape, dtype=patches.dtype), patches, stride)
            gx = wrap(_crop(image, padding, x.shape))
        if saved_cols is not None:
            gw = wrap(np.matmul(gd, saved_cols.transpose(0, 2, 1)).sum(axis=0)
                      .reshape(weight.shape))
        if b is not None and b.requires_grad:
            gb = wrap(gd.sum(axis=(0, 2)))
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, weight) if b is None else (x, weight, b)
    return record(out.reshape(n, o, oh, ow), parents, backward, "conv2d")


# ---------------------------------------------------------------------------- pooling


def max_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0
               ) -> Tensor:
    """The maximum of every kernel_size window, as PyTorch's ``max_pool2d``.

    Shape: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); ``stride`` defaults to
    ``kernel_size``; padding (at most half the kernel) is -inf. d/dx = g at each
    window's first maximum (row-major within the window), 0 elsewhere. A NaN in a
    window makes its output NaN.

    >>> x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 1.0]]]])
    >>> max_pool2d(x, 2).data
    array([[[[5., 7.]]]])
    """
    x = as_tensor(x)
    if x.ndim == 3:
        return _unbatched(max_pool2d, x, kernel_size, stride, padding)
    kernel, stride_hw, pad, out_hw = pool_geometry("max_pool2d", x, kernel_size, stride,
                                                   padding)
    xp = pad_images(x.data, pad, -np.inf)
    offsets = _offsets(kernel)
    out = window_entry(xp, 0, 0, stride_hw, out_hw).copy()
    # winner: the row-major index, within its window, of each window's first maximum;
    # kept only when a backward can come (a byte each for windows of up to 256).
    winner = None
    if grad_mode.enabled and x.requires_grad:
        winner = np.zeros(out.shape, dtype=np.uint8 if len(offsets) <= 256 else np.intp)
    for p, (i, j) in enumerate(offsets[1:], start=1):
        entry = window_entry(xp, i, j, stride_hw, out_hw)
        if winner is not None:
            # Only a strictly larger entry takes over, so ties keep the first maximum;
            # p grows, so the maximum of the indices is the latest taker.
            np.maximum(winner, np.greater(entry, out) * winner.dtype.type(p), out=winner)
        np.maximum(out, entry, out=out)

    def backward(g: Tensor) -> tuple[Tensor]:
        assert winner is not None  # recorded only when a backward can come
        if grad_mode.enabled:
            return (max_pool2d_backward(g, x.shape, winner, kernel, stride_hw, pad),)
        gxp = _gradient_image(xp.shape, kernel, stride_hw, out_hw, g.dtype)
        overlapping = stride_hw[0] < kernel[0] or stride_hw[1] < kernel[1]
        for p, (i, j) in enumerate(offsets):
            target = window_entry(gxp, i, j, stride_hw, out_hw)
            if overlapping:
                target += g.data * (winner == p)
            else:
                np.multiply(g.data, winner == p, out=target)
        return (wrap(_crop(gxp, pad, x.shape)),)

    return record(out, (x,), backward, "max_pool2d")


def avg_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0
               ) -> Tensor:
    """The mean of every kernel_size window, as PyTorch's ``avg_pool2d``
    (``count_include_pad=True``: padded zeros count in the mean).

    Shape: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); ``stride`` defaults to
    ``kernel_size``. d/dx = g / (kh * kw) on every entry of each window.

    >>> x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 1.0]]]])
    >>> avg_pool2d(x, (1, 2), stride=(1, 2)).data
    array([[[[3. , 1. ],
             [3.5, 4. ]]]])
    """
    x = as_tensor(x)
    if x.ndim == 3:
        return _unbatched(avg_pool2d, x, kernel_size, stride, padding)
    kernel, stride_hw, pad, out_hw = pool_geometry("avg_pool2d", x, kernel_size, stride,
                                                   padding)
    xp = pad_images(x.data, pad)
    offsets = _offsets(kernel)
    out = window_entry(xp, 0, 0, stride_hw, out_hw).copy()
    for i, j in offsets[1:]:
        out += window_entry(xp, i, j, stride_hw, out_hw)
    out /= len(offsets)

    def backward(g: Tensor) -> tuple[Tensor]:
        if grad_mode.enabled:
            return (avg_pool2d_backward(g, x.shape, kernel, stride_hw, pad),)
        share = g.data / len(offsets)
        gxp = _gradient_image(xp.shape, kernel, stride_hw, out_hw, share.dtype)
        overlapping = stride_hw[0] < kernel[0] or stride_hw[1] < kernel[1]
        for i, j in offsets:
            target = window_entry(gxp, i, j, stride_hw, out_hw)
            if overlapping:
                target += share
            else:
                target[...] = share
        return (wrap(_crop(gxp, pad, x.shape)),)

    return record(out, (x,), backward, "avg_pool2d")
