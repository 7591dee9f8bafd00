"""Elementwise functions: exp, log, sqrt, pow, abs, tanh, sigmoid, relu, leaky_relu,
clip, maximum, minimum, where, astype and clone; and the comparisons, which carry no graph.

At a kink the derivative follows PyTorch: relu'(0) = 0, abs'(0) = 0, and maximum and
minimum split a tie half and half.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.arithmetic import div, mul, sub
from tinygrad_edu.ops.broadcasting import unbroadcast
from tinygrad_edu.ops.helpers import (
    as_tensor,
    broadcast_forward,
    pair,
    record_using_output,
)
from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap

__all__ = [
    "exp", "log", "sqrt", "pow", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "clip",
    "maximum", "minimum", "where", "astype", "clone", "eq", "ne", "lt", "le", "gt", "ge",
]


def exp(a: ArrayLike) -> Tensor:
    """e ** a. d/da = exp(a)."""
    a = as_tensor(a)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        return (mul(g, out),)

    return record_using_output(np.exp(a.data), (a,), backward, "exp")


def log(a: ArrayLike) -> Tensor:
    """Natural log (a > 0). d/da = 1 / a."""
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (div(g, a),)

    return record(np.log(a.data), (a,), backward, "log", (a,))


def sqrt(a: ArrayLike) -> Tensor:
    """Square root (a >= 0). d/da = 1 / (2 sqrt(a))."""
    a = as_tensor(a)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        return (div(mul(g, 0.5), out),)

    return record_using_output(np.sqrt(a.data), (a,), backward, "sqrt")


def pow(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b. d/da = b * a**(b-1); d/db = a**b * log(a) (needs a > 0).

    A Python-number exponent is a constant; a Tensor exponent is differentiable.
    """
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return _pow_scalar(a, b)
    a, b = pair(a, b)
    out = broadcast_forward("pow", np.power, a, b)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor | None, Tensor | None]:
        ga = gb = None
        if a.requires_grad:
            # b * a**(b-1), taken as 0 at a == b == 0, where it reads 0 * 0**-1 = NaN.
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = where((a.data == 0) & (b.data == 0), 0.0, mul(b, pow(a, sub(b, 1))))
            ga = unbroadcast(mul(g, slope), a.shape)
        if b.requires_grad:
            # At a == 0 the log is -inf; the derivative there is taken as 0, as PyTorch does.
            safe_log = where(a.data > 0, log(where(a.data > 0, a, 1)), 0)
            gb = unbroadcast(mul(g, mul(out, safe_log)), b.shape)
        return ga, gb

    return record_using_output(out, (a, b), backward, "pow", (a, b))


def _pow_scalar(a: Tensor, p: float) -> Tensor:
    """a ** p for a constant number p. d/da = p * a**(p-1)."""
    out = a.data ** np.asarray(p, dtype=np.result_type(a.dtype, p))

    def backward(g: Tensor) -> tuple[Tensor]:
        if p == 0:  # a constant: zero gradient, also at a = 0 where 0 * 0**-1 is NaN
            return (mul(g, 0.0),)
        if p == 2:
            return (mul(g, mul(a, 2)),)
        return (mul(g, mul(_pow_scalar(a, p - 1), p)),)

    return record(out, (a,), backward, "pow", (a,))


def abs(a: ArrayLike) -> Tensor:
    """|a|. d/da = sign(a), taken as 0 at a = 0 (as PyTorch)."""
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, np.sign(a.data)),)

    return record(np.abs(a.data), (a,), backward, "abs", (a,))


def tanh(a: ArrayLike) -> Tensor:
    """Hyperbolic tangent. d/da = 1 - tanh(a)**2."""
    a = as_tensor(a)

    def backward(g: Tensor, t: Tensor) -> tuple[Tensor]:
        return (mul(g, sub(1, mul(t, t))),)

    return record_using_output(np.tanh(a.data), (a,), backward, "tanh")


def sigmoid(a: ArrayLike) -> Tensor:
    """1 / (1 + e**-a), computed as (1 + tanh(a/2)) / 2 so no exp overflows.
    d/da = s (1 - s)."""
    a = as_tensor(a)

    def backward(g: Tensor, s: Tensor) -> tuple[Tensor]:
        return (mul(g, mul(s, sub(1, s))),)

    # An array even for 0-d input (a ufunc returns a scalar there), so += stays in place.
    out = np.asarray(np.tanh(a.data * as_tensor(0.5, a).data))
    out += 1
    out *= 0.5
    return record_using_output(out, (a,), backward, "sigmoid")


def relu(a: ArrayLike) -> Tensor:
    """max(a, 0). d/da = 1 where a > 0, else 0 (relu'(0) = 0, as PyTorch)."""
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, a.data > 0),)

    return record(np.maximum(a.data, as_tensor(0, a).data), (a,), backward, "relu", (a,))


def leaky_relu(a: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    """a where a > 0, else negative_slope * a. d/da = 1 or negative_slope (at 0)."""
    a = as_tensor(a)
    positive = a.data > 0

    def backward(g: Tensor) -> tuple[Tensor]:
        slope = np.where(positive, 1, negative_slope).astype(a.dtype, copy=False)
        return (mul(g, slope),)

    out = np.where(positive, a.data, a.data * as_tensor(negative_slope, a).data)
    return record(out, (a,), backward, "leaky_relu")


def clip(a: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    """a limited to [min, max]. d/da = 1 where min <= a <= max, else 0."""
    a = as_tensor(a)
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")

    def backward(g: Tensor) -> tuple[Tensor]:
        inside = np.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a.data >= min
        if max is not None:
            inside &= a.data <= max
        return (mul(g, inside),)

    lo = None if min is None else as_tensor(min, a).data
    hi = None if max is None else as_tensor(max, a).data
    return record(np.clip(a.data, lo, hi), (a,), backward, "clip", (a,))


def _extremum(a: ArrayLike, b: ArrayLike, op: str) -> Tensor:
    a, b = pair(a, b)
    ufunc = np.maximum if op == "maximum" else np.minimum
    out = broadcast_forward(op, ufunc, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a_wins = (a.data > b.data) if op == "maximum" else (a.data < b.data)
        tie = (a.data == b.data) * 0.5
        wa = (a_wins + tie).astype(g.dtype, copy=False)
        return (
            unbroadcast(mul(g, wa), a.shape) if a.requires_grad else None,
            unbroadcast(mul(g, (1 - wa).astype(g.dtype, copy=False)), b.shape)
            if b.requires_grad else None,
        )

    return record(out, (a, b), backward, op, (a, b))


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise max with broadcasting. The gradient goes to the larger operand; on a
    tie it is split half and half (as PyTorch)."""
    return _extremum(a, b, "maximum")


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise min with broadcasting; ties split the gradient half and half."""
    return _extremum(a, b, "minimum")


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """a where condition else b, with broadcasting. d/da = condition, d/db = not condition."""
    # A copy: backward reads the condition, and an in-place op could change the original.
    cond = np.array(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = pair(a, b)
    try:
        out = np.where(cond, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: shapes {cond.shape}, {a.shape} and {b.shape} cannot be broadcast "
            "together"
        ) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(where(cond, g, 0.0), a.shape) if a.requires_grad else None,
            unbroadcast(where(cond, 0.0, g), b.shape) if b.requires_grad else None,
        )

    return record(out, (a, b), backward, "where")


def astype(a: ArrayLike, dtype: Any) -> Tensor:
    """A copy converted to ``dtype``. d/da = 1 (cast back); no graph to non-float dtypes."""
    a = as_tensor(a)
    out = a.data.astype(dtype)
    if out.dtype.kind not in "fc":
        return wrap(out)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (astype(g, a.dtype),)

    return record(out, (a,), backward, "astype")


def clone(a: ArrayLike) -> Tensor:
    """A copy of ``a`` with its own memory, kept in the graph (PyTorch's clone): an
    in-place change of the copy leaves ``a`` alone. d/da = g.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = clone(x)
    >>> y.op, y.data is x.data
    ('clone', False)
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (g,)

    return record(a.data.copy(), (a,), backward, "clone")


# ---------------------------------------------------------------------------- comparisons
# Comparisons are flat (zero gradient almost everywhere), so they record no graph and
# return boolean tensors, as in PyTorch.


def _compare(a: ArrayLike, b: ArrayLike, fn: Any, op: str) -> Tensor:
    a, b = pair(a, b)
    return wrap(np.asarray(broadcast_forward(op, fn, a, b)))


def eq(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a == b elementwise, as a boolean tensor with no graph.

    >>> eq(Tensor([1.0, 2.0]), 2.0)
    Tensor([False  True], shape=(2,), dtype=bool)
    """
    return _compare(a, b, np.equal, "eq")


def ne(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a != b elementwise, as a boolean tensor with no graph."""
    return _compare(a, b, np.not_equal, "ne")


def lt(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a < b elementwise, as a boolean tensor with no graph."""
    return _compare(a, b, np.less, "lt")


def le(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a <= b elementwise, as a boolean tensor with no graph."""
    return _compare(a, b, np.less_equal, "le")


def gt(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a > b elementwise, as a boolean tensor with no graph."""
    return _compare(a, b, np.greater, "gt")


def ge(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a >= b elementwise, as a boolean tensor with no graph."""
    return _compare(a, b, np.greater_equal, "ge")
