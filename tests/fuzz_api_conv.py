"""The API fuzzer's cases for convolution and pooling: ``conv2d``, ``max_pool2d``,
``avg_pool2d``, ``im2col`` and ``col2im`` (see fuzz_api_core.py for how a case works).

Images are mostly well formed, with empty batches, no channels and windows that do or
do not fit; the window arguments (kernel, stride, padding) are ints, pairs, or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_api_core import (
    ALL_DTYPES,
    FLOATS,
    JUNK_INTS,
    Call,
    Junk,
    Operand,
    Verdict,
    int_args,
    operands,
    pair_arg,
    register,
    rule_pair,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st
from op_strategies import conv2d_ref, patch_positions, pool_ref

import tinygrad_edu.functional as F

IMAGE_DTYPES = FLOATS * 4 + ALL_DTYPES


@st.composite
def image_shape(draw: st.DrawFn, batch: bool = True) -> tuple[int, ...]:
    """(N, C, H, W), sometimes (C, H, W), now and then anything."""
    n, c = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    if not draw(st.integers(0, 7)):
        return draw(shapes(max_dims=5))
    return (n, c, h, w) if not batch or draw(st.integers(0, 4)) else (c, h, w)


def rule_images(v: Verdict, x: Operand, op: str, unbatched: bool = True
                ) -> tuple[int, ...] | None:
    """The (N, C, H, W) shape of a floating-point image batch (or one image)."""
    shape = (1,) + x.shape if unbatched and x.ndim == 3 else x.shape
    if len(shape) != 4:
        v.fail(ValueError, f"{op} of shape {x.shape}")
    if x.dtype.kind != "f":
        v.fail(TypeError, f"{op} of {x.dtype}")
    return shape if len(shape) == 4 else None


def rule_fits(v: Verdict, hw: tuple[int, ...], kernel: tuple[int, int] | None,
              padding: tuple[int, int] | None) -> None:
    if kernel and padding and (kernel[0] > hw[0] + 2 * padding[0]
                               or kernel[1] > hw[1] + 2 * padding[1]):
        v.fail(ValueError, f"kernel {kernel} does not fit {hw} padded by {padding}")


@st.composite
def draw_conv2d(draw: st.DrawFn) -> Call:
    xs = draw(image_shape())
    c = xs[-3] if len(xs) >= 3 else 1
    o, kh, kw = draw(st.integers(0, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ws = (o, c, kh, kw) if draw(st.integers(0, 5)) else draw(shapes(max_dims=5))
    x = draw(operands(IMAGE_DTYPES, xs, forms=("tensor", "tensor", "array")))
    w = draw(operands(IMAGE_DTYPES, ws, forms=("tensor", "tensor", "array")))
    b: Any = draw(st.one_of(st.none(), operands(ALL_DTYPES, st.sampled_from(
        [(ws[0] if ws else 1,), (), (2, 1)]), forms=("tensor", "array", "list")),
        JUNK_INTS.filter(lambda j: j is not None).map(Junk)))
    stride, padding = draw(pair_arg(1, 3)), draw(pair_arg(0, 2))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        shape = rule_images(v, x, "conv2d")
        if w.ndim != 4 or w.dtype.kind != "f":
            v.fail((ValueError, TypeError), f"weight {w.shape} {w.dtype}")
        v.done()
        assert shape is not None
        if w.shape[1] != shape[1]:
            v.fail(ValueError, "channels differ")
        if 0 in w.shape[2:]:
            v.fail(ValueError, "an empty kernel")
        if isinstance(b, Junk) or (b is not None and b.shape != (w.shape[0],)):
            v.fail((ValueError, TypeError), f"bias {b!r}")
        elif b is not None and b.dtype.kind == "c":
            v.fail(TypeError, "a complex bias")
        s, p = rule_pair(v, stride, 1, "stride"), rule_pair(v, padding, 0, "padding")
        rule_fits(v, shape[2:], w.shape[2:], p)
        v.done()
        bias = None if b is None else np.asarray(b.raw, dtype=np.float64)
        ref = conv2d_ref(np.asarray(x.raw, dtype=np.float64), np.asarray(w.raw, np.float64),
                         bias, s, p)
        return tensor_like(ref, np.result_type(x.dtype, w.dtype))

    return Call("F.conv2d", ("conv2d",), (x, w, b, stride, padding), F.conv2d, rules)


register("conv2d", draw_conv2d())


@st.composite
def draw_pool(draw: st.DrawFn, name: str) -> Call:
    x = draw(operands(IMAGE_DTYPES, image_shape(), forms=("tensor", "tensor", "array")))
    kernel = draw(pair_arg(1, 3))
    stride = draw(st.none() | pair_arg(1, 3))
    padding = draw(pair_arg(0, 1))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        shape = rule_images(v, x, name)
        k = rule_pair(v, kernel, 1, "kernel_size")
        s = k if stride is None else rule_pair(v, stride, 1, "stride")
        p = rule_pair(v, padding, 0, "padding")
        v.done()
        assert shape is not None and k is not None and p is not None
        if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
            v.fail(ValueError, f"padding {p} over half the kernel {k}")
        rule_fits(v, shape[2:], k, p)
        v.done()
        reduce, fill = (np.max, -np.inf) if name == "max_pool2d" else (np.mean, 0.0)
        ref = pool_ref(reduce, fill)(np.asarray(x.raw, dtype=np.float64), k, s, p)
        return tensor_like(ref, x.dtype)

    return Call(f"F.{name}", (name,), (x, kernel, stride, padding), getattr(F, name), rules)


for _name in ("max_pool2d", "avg_pool2d"):
    register(_name, draw_pool(_name))


def im2col_ref(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
               pad: tuple[int, int]) -> np.ndarray:
    rows, (ph, pw) = patch_positions(x.shape, *kernel, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((len(rows), x.shape[1] * kernel[0] * kernel[1]), dtype=x.dtype)
    for r, n, top, left in rows:
        out[r] = xp[n, :, top:top + kernel[0], left:left + kernel[1]].ravel()
    return out


def col2im_ref(col: np.ndarray, shape: tuple[int, ...], kernel: tuple[int, int],
               stride: tuple[int, int], pad: tuple[int, int]) -> np.ndarray:
    rows, (ph, pw) = patch_positions(shape, *kernel, stride, pad)
    n, c, h, w = shape
    image = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=col.dtype)
    for r, i, top, left in rows:
        image[i, :, top:top + kernel[0], left:left + kernel[1]] += col[r].reshape(c, *kernel)
    return image[:, :, ph:ph + h, pw:pw + w]


@st.composite
def draw_im2col(draw: st.DrawFn) -> Call:
    x = draw(operands(IMAGE_DTYPES, image_shape(batch=False), forms=("tensor", "array")))
    fh, fw = draw(int_args(st.integers(0, 3))), draw(int_args(st.integers(0, 3)))
    stride, pad = draw(pair_arg(1, 3)), draw(pair_arg(0, 2))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if x.ndim != 4:
            v.fail(ValueError, f"im2col of shape {x.shape}")
        k = rule_pair(v, (fh, fw), 1, "filter size")
        s, p = rule_pair(v, stride, 1, "stride"), rule_pair(v, pad, 0, "pad")
        v.done()
        rule_fits(v, x.shape[2:], k, p)
        v.done()
        assert k is not None and s is not None and p is not None
        return tensor_like(im2col_ref(x.seen, k, s, p))

    return Call("F.im2col", ("im2col",), (x, fh, fw, stride, pad), F.im2col, rules)


register("im2col", draw_im2col())


@st.composite
def draw_col2im(draw: st.DrawFn) -> Call:
    shape = draw(image_shape(batch=False))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, pad = draw(pair_arg(1, 3)), draw(pair_arg(0, 2))
    col_shape = draw(shapes(max_dims=3))
    s = rule_pair(Verdict(), stride, 1, "")
    p = rule_pair(Verdict(), pad, 0, "")
    if len(shape) == 4 and s and p and draw(st.integers(0, 3)):
        oh = (shape[2] + 2 * p[0] - kernel[0]) // s[0] + 1
        ow = (shape[3] + 2 * p[1] - kernel[1]) // s[1] + 1
        col_shape = (shape[0] * max(oh, 0) * max(ow, 0), shape[1] * kernel[0] * kernel[1])
    col = draw(operands(ALL_DTYPES, col_shape, forms=("tensor", "array")))
    input_shape: Any = draw(st.sampled_from([shape, list(shape), draw(JUNK_INTS),
                                             tuple(shape[:3]) + (draw(JUNK_INTS),),
                                             tuple(shape[:3]) + (-1,)]))
    fh, fw = draw(int_args(st.just(kernel[0]))), draw(int_args(st.just(kernel[1])))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if not isinstance(input_shape, (tuple, list)) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                for d in input_shape):
            v.fail(TypeError, f"input_shape {input_shape!r}")
        elif len(input_shape) != 4 or min(input_shape) < 0:
            v.fail(ValueError, f"input_shape {input_shape!r}")
        k = rule_pair(v, (fh, fw), 1, "filter size")
        s, p = rule_pair(v, stride, 1, "stride"), rule_pair(v, pad, 0, "pad")
        v.done()
        assert k is not None and s is not None and p is not None
        target = tuple(int(d) for d in input_shape)
        rule_fits(v, target[2:], k, p)
        v.done()
        oh = (target[2] + 2 * p[0] - k[0]) // s[0] + 1
        ow = (target[3] + 2 * p[1] - k[1]) // s[1] + 1
        if col.shape != (target[0] * oh * ow, target[1] * k[0] * k[1]):
            v.fail(ValueError, f"col of shape {col.shape} for {target}")
        v.done()
        return tensor_like(col2im_ref(col.seen, target, k, s, p))

    return Call("F.col2im", ("col2im",), (col, input_shape, fh, fw, stride, pad), F.col2im,
                rules)


register("col2im", draw_col2im())
