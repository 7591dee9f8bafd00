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
    check_kind,
    dtype_error,
    pair,
    record_using_output,
)
from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap
from tinygrad_edu.tensor_input import numeric_dtype

__all__ = [
    "exp", "log", "sqrt", "pow", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "clip",
    "maximum", "minimum", "where", "astype", "clone",
]


def exp(a: ArrayLike) -> Tensor:
    """e ** a, elementwise. d/da = exp(a).

    >>> exp(Tensor([0.0, 1.0]))
    Tensor([1.         2.71828183], shape=(2,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        return (mul(g, out),)

    return record_using_output(np.exp(a.data), (a,), backward, "exp")


def log(a: ArrayLike) -> Tensor:
    """Natural log (a > 0), elementwise. d/da = 1 / a.

    >>> log(Tensor([1.0, 100.0])).data.round(4)
    array([0.    , 4.6052])
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (div(g, a),)

    parents = (a,)

    return record(np.log(a.data), parents, backward, "log", parents)


def sqrt(a: ArrayLike) -> Tensor:
    """Square root (a >= 0), elementwise. d/da = 1 / (2 sqrt(a)).

    >>> sqrt(Tensor([4.0, 9.0]))
    Tensor([2. 3.], shape=(2,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        return (div(mul(g, 0.5), out),)

    return record_using_output(np.sqrt(a.data), (a,), backward, "sqrt")


def pow(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b with broadcasting. d/da = b * a**(b-1); d/db = a**b * log(a).

    A Python-number exponent is a constant; a Tensor exponent is differentiable. Where
    the formulas break down, PyTorch's values: d/da = 0 at a == b == 0, d/db = 0 where
    a == 0 and b >= 0, NaN where a < 0 (log of a negative number), -inf at 0 ** -1. Shapes: a and b
    broadcast against each other.

    >>> pow(Tensor([2.0, 3.0]), 2.0)
    Tensor([4. 9.], shape=(2,), dtype=float64)
    """
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return _pow_scalar(a, b)
    a, b = pair(a, b)
    _check_integer_power(a, b.data)
    out = broadcast_forward("pow", np.power, a, b)

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor | None, Tensor | None]:
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if a.requires_grad:  # b * a**(b-1); 0 at a == b == 0, where it reads 0 * inf
                slope = where((a.data == 0) & (b.data == 0), 0.0, mul(b, pow(a, sub(b, 1))))
                ga = unbroadcast(mul(g, slope), a.shape)
            if b.requires_grad:  # a**b * log(a); 0 where a == 0 and b >= 0 (0 * -inf)
                slope = where((a.data == 0) & (b.data >= 0), 0.0, mul(out, log(a)))
                gb = unbroadcast(mul(g, slope), b.shape)
        return ga, gb

    parents = (a, b)

    return record_using_output(out, parents, backward, "pow", parents)


def _check_integer_power(a: Tensor, p: Any) -> None:
    """NumPy's rule, in pow's name: integers to negative integer powers are refused."""
    p = np.asarray(p)
    if a.dtype.kind in "biu" and p.dtype.kind in "biu" and a.size and p.size and np.any(
            p < 0):
        raise ValueError(f"pow: integers to negative integer powers are not allowed "
                         f"(base of dtype {a.dtype}); make the base floating point")


def _pow_scalar(a: Tensor, p: float) -> Tensor:
    """a ** p for a constant number p. d/da = p * a**(p-1)."""
    _check_integer_power(a, p)
    out = a.data ** np.asarray(p, dtype=np.result_type(a.dtype, p))

    def backward(g: Tensor) -> tuple[Tensor]:
        if p == 0:  # a constant: zero gradient, also at a = 0 where 0 * 0**-1 is NaN
            return (mul(g, 0.0),)
        if p == 2:
            return (mul(g, mul(a, 2)),)
        return (mul(g, mul(_pow_scalar(a, p - 1), p)),)

    parents = (a,)

    return record(out, parents, backward, "pow", parents)


def abs(a: ArrayLike) -> Tensor:
    """|a|, elementwise. d/da = sign(a), taken as 0 at a = 0 and at NaN (as PyTorch).

    >>> abs(Tensor([-2.0, 0.0, 3.0]))
    Tensor([2. 0. 3.], shape=(3,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        x = a.data
        return (mul(g, (x > 0).astype(g.dtype) - (x < 0).astype(g.dtype)),)

    parents = (a,)

    return record(np.abs(a.data), parents, backward, "abs", parents)


def tanh(a: ArrayLike) -> Tensor:
    """Hyperbolic tangent, elementwise. d/da = 1 - tanh(a)**2.

    >>> tanh(Tensor([0.0, 1.0])).data.round(4)
    array([0.    , 0.7616])
    """
    a = as_tensor(a)

    def backward(g: Tensor, t: Tensor) -> tuple[Tensor]:
        return (mul(g, sub(1, mul(t, t))),)

    return record_using_output(np.tanh(a.data), (a,), backward, "tanh")


def sigmoid(a: ArrayLike) -> Tensor:
    """1 / (1 + e**-a), elementwise. d/da = s (1 - s).

    Stable in both tails: with e = exp(-|a|) (never overflows), s = 1 / (1 + e) for
    a >= 0 and e / (1 + e) for a < 0, so sigmoid(-20) is 2.06e-09 in float32, not 0,
    and log(sigmoid(a)) stays finite.

    >>> sigmoid(Tensor([0.0, 1000.0]))
    Tensor([0.5 1. ], shape=(2,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor, s: Tensor) -> tuple[Tensor]:
        return (mul(g, mul(s, sub(1, s))),)

    check_kind(a, "sigmoid", "iuf", "integers or real floating point")
    x = a.data
    e = np.exp(-np.abs(x))
    out = np.asarray(np.where(x >= 0, 1 / (1 + e), e / (1 + e)), dtype=e.dtype)
    return record_using_output(out, (a,), backward, "sigmoid")


def relu(a: ArrayLike) -> Tensor:
    """max(a, 0), elementwise. d/da = 0 where a <= 0, else 1: relu'(0) = 0, and 1 at
    NaN (as PyTorch, whose mask is "not a <= 0").

    >>> relu(Tensor([-1.0, 0.0, 2.0]))
    Tensor([0. 0. 2.], shape=(3,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, ~(a.data <= 0)),)

    parents = (a,)

    return record(np.maximum(a.data, as_tensor(0, a).data), parents, backward, "relu", parents)


def leaky_relu(a: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    """a where a > 0, else negative_slope * a (elementwise). d/da = 1 if a > 0, else
    negative_slope.

    >>> leaky_relu(Tensor([-2.0, 3.0]), 0.1)
    Tensor([-0.2  3. ], shape=(2,), dtype=float64)
    """
    a = as_tensor(a)
    if isinstance(negative_slope, (bool, np.bool_)) or not isinstance(
            negative_slope, (int, float, np.integer, np.floating)):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got "
                        f"{negative_slope!r}")
    positive = a.data > 0

    def backward(g: Tensor) -> tuple[Tensor]:
        slope = np.where(positive, 1, negative_slope).astype(a.dtype, copy=False)
        return (mul(g, slope),)

    out = np.where(positive, a.data, a.data * as_tensor(negative_slope, a).data)
    return record(out, (a,), backward, "leaky_relu")


def clip(a: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    """a limited to [min, max], elementwise. d/da = 1 where min <= a <= max, else 0.

    ``min`` and ``max`` are numbers, or arrays or Tensors that broadcast to a's shape;
    either way constants (use :func:`maximum` / :func:`minimum` for bounds that need a
    gradient).

    >>> clip(Tensor([-2.0, 0.5, 3.0]), 0.0, 1.0)
    Tensor([0.  0.5 1. ], shape=(3,), dtype=float64)
    """
    a = as_tensor(a)
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    check_kind(a, "clip", "biuf", "real numbers")  # complex numbers have no order
    min, max = (_bound(v, name, a) for v, name in ((min, "min"), (max, "max")))

    def backward(g: Tensor) -> tuple[Tensor]:
        inside = np.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a.data >= min
        if max is not None:
            inside &= a.data <= max
        return (mul(g, inside),)

    try:
        fits = np.broadcast_shapes(a.shape, np.shape(min), np.shape(max)) == a.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"clip: bounds of shapes {np.shape(min)} and {np.shape(max)} do not "
                         f"broadcast to the input's shape {a.shape}")
    out = np.clip(a.data, min, max)
    # A float input keeps its dtype (the bounds are constants); others promote as NumPy.
    out = np.asarray(out, dtype=a.dtype if a.dtype.kind in "fc" else None)
    parents = (a,)
    return record(out, parents, backward, "clip", parents)


def _bound(value: Any, name: str, a: Tensor) -> Any:
    """A clip bound as a number or array (None stays None)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"clip: {name} is a constant bound, but this tensor requires "
                            "grad; use maximum/minimum for a bound with a gradient")
        value = value.data
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number, np.ndarray,
                                                          list, tuple)):
        raise TypeError(f"clip: {name} must be a number or an array, got "
                        f"{type(value).__name__}")
    if isinstance(value, (int, float)):
        return value  # a Python number stays weak: NumPy 2 keeps a float32 input float32
    out = np.asarray(value)
    if out.dtype.kind not in "iuf":
        raise TypeError(f"clip: {name} must be real numbers, got dtype {out.dtype}")
    return out


def _extremum(a: ArrayLike, b: ArrayLike, op: str) -> Tensor:
    a, b = pair(a, b)
    ufunc = np.maximum if op == "maximum" else np.minimum
    out = broadcast_forward(op, ufunc, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        # PyTorch's rule: half each on a tie, all to the operand that is not beaten (so
        # both get all of it where one is NaN, since NaN compares false).
        share = np.where(a.data == b.data, 0.5, 1.0).astype(g.dtype)
        a_beaten, b_beaten = ((a.data < b.data), (a.data > b.data)) if op == "maximum" else (
            (a.data > b.data), (a.data < b.data))
        return (
            unbroadcast(mul(g, np.where(a_beaten, 0, share)), a.shape)
            if a.requires_grad else None,
            unbroadcast(mul(g, np.where(b_beaten, 0, share)), b.shape)
            if b.requires_grad else None,
        )

    parents = (a, b)

    return record(out, parents, backward, op, parents)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise max with broadcasting. The gradient goes to the larger operand; on a
    tie it is split half and half (as PyTorch): d/da = 1, 1/2 or 0.

    >>> maximum(Tensor([1.0, 5.0, 3.0]), 2.0)
    Tensor([2. 5. 3.], shape=(3,), dtype=float64)
    """
    return _extremum(a, b, "maximum")


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise min with broadcasting. d/da = 1 where a < b, 1/2 where a == b, else 0.

    >>> minimum(Tensor([1.0, 5.0, 3.0]), 2.0)
    Tensor([1. 2. 2.], shape=(3,), dtype=float64)
    """
    return _extremum(a, b, "minimum")


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """a where condition else b, with broadcasting. d/da = condition, d/db = not condition.

    >>> where(Tensor([True, False]), Tensor([1.0, 2.0]), 0.0)
    Tensor([1. 0.], shape=(2,), dtype=float64)
    """
    # A copy: backward reads the condition, and an in-place op could change the original.
    cond = np.array(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = pair(a, b)
    if a.dtype.kind not in "biufc" or b.dtype.kind not in "biufc":
        raise dtype_error("where", a, b)
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
    """A copy converted to ``dtype``, elementwise. d/da = 1 (cast back); no graph to
    non-float dtypes.

    >>> astype(Tensor([1.5, 2.5]), np.float32)
    Tensor([1.5 2.5], shape=(2,), dtype=float32)
    """
    a = as_tensor(a)
    target = numeric_dtype(dtype, "astype")
    if a.dtype.kind == "c" and target.kind != "c":
        raise TypeError(f"astype: a complex tensor cast to {target} would drop the "
                        "imaginary parts; take .real or abs() of the data first")
    out = a.data.astype(target)
    if out.dtype.kind != "f":  # only real floating point can require grad
        return wrap(out)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (astype(g, a.dtype),)

    return record(out, (a,), backward, "astype")


def clone(a: ArrayLike) -> Tensor:
    """A copy of ``a`` with its own memory, kept in the graph (PyTorch's clone): an
    in-place change of the copy leaves ``a`` alone. Shape: a's. d/da = g.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = clone(x)
    >>> y.op, y.data is x.data
    ('clone', False)
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (g,)

    return record(a.data.copy(), (a,), backward, "clone")
