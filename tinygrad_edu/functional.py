"""Every differentiable op: the forward on arrays, its backward closure right below it.

The pattern, for ``out = op(a, b)``::

    def backward(g):                 # g = dL/d(out), a Tensor
        return dL/da, dL/db          # Tensors (or None where no grad is needed)
    return Tensor._make(out_array, (a, b), backward, "op")

Backward closures compute with Tensor ops, so the engine can run them with grad mode
on (``create_graph=True``) to record the backward pass itself and differentiate again.
A closure captures its inputs, never its own output: an op that needs its output in
backward (``exp``, ``tanh``, ``softmax`` ...) holds a weak reference to it, so no
reference cycle keeps a graph alive.

Broadcasting is undone in one place, :func:`unbroadcast`.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.autograd import is_grad_enabled
from tinygrad_edu.tensor import ArrayLike, Tensor

__all__ = [
    # arithmetic
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "linear",
    # elementwise
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "clip",
    "maximum", "minimum", "where", "astype",
    # reductions
    "sum", "mean", "max", "min", "var", "logsumexp",
    # shape
    "reshape", "transpose", "permute", "swapaxes", "flatten", "squeeze", "unsqueeze",
    "broadcast_to", "expand", "getitem", "concatenate", "cat", "stack",
    # activations and losses
    "softmax", "log_softmax", "cross_entropy", "mse_loss",
    # helpers
    "unbroadcast",
]



# ---------------------------------------------------------------------------- helpers


def _as_tensor(x: ArrayLike, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor. A Python scalar takes the dtype of ``like`` where NumPy's rules
    allow (``float32 * 2.0`` stays float32), since a 0-d float64 array would upcast."""
    if isinstance(x, Tensor):
        return x
    if like is not None and type(x) in (float, int, bool):
        kind = like.data.dtype.kind
        # Fast path for the common cases; np.result_type applies NumPy's full rules.
        if kind == "f" or (kind in "iu" and type(x) is int):
            dtype = like.data.dtype
        else:
            dtype = np.result_type(like.data, x)
        return Tensor._const(np.array(x, dtype=dtype))
    return Tensor._const(np.asarray(x))


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    # isinstance, not type(): a Parameter is a Tensor too.
    if isinstance(a, Tensor):
        return a, (b if isinstance(b, Tensor) else _as_tensor(b, a))
    b = _as_tensor(b)
    return _as_tensor(a, b), b


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
        "(trailing dimensions must be equal or 1)"
    )


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an operand of ``shape``.

    Leading axes that broadcasting added are summed away, and so are axes where the
    operand had size 1. d(broadcast_to(x, S))/dx = sum over the broadcast axes.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = sum(g, axis=axes, keepdims=True)
    return reshape(g, shape)


def _normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:  # the common case, without the checks below
        return (axis,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor of {ndim} dims")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(out)


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_reduced(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...],
                    keepdims: bool) -> Tensor:
    """Undo a reduction over ``axes``: give ``g`` back its size-1 axes, then broadcast."""
    if not keepdims:
        g = reshape(g, _keepdims_shape(shape, axes))
    return broadcast_to(g, shape)


# ---------------------------------------------------------------------------- arithmetic


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a + b with broadcasting. d/da = 1, d/db = 1 (summed over broadcast axes)."""
    a, b = _pair(a, b)
    try:
        out = a.data + b.data
    except ValueError:
        raise _broadcast_error("add", a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(g, b.shape) if b.requires_grad else None,
        )

    return Tensor._make(out, (a, b), backward, "add")


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a - b with broadcasting. d/da = 1, d/db = -1."""
    a, b = _pair(a, b)
    try:
        out = a.data - b.data
    except ValueError:
        raise _broadcast_error("sub", a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(neg(g), b.shape) if b.requires_grad else None,
        )

    return Tensor._make(out, (a, b), backward, "sub")


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a * b with broadcasting. d/da = b, d/db = a."""
    a, b = _pair(a, b)
    try:
        out = a.data * b.data
    except ValueError:
        raise _broadcast_error("mul", a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(mul(g, b), a.shape) if a.requires_grad else None,
            unbroadcast(mul(g, a), b.shape) if b.requires_grad else None,
        )

    return Tensor._make(out, (a, b), backward, "mul")


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a / b with broadcasting. d/da = 1/b, d/db = -a/b**2."""
    a, b = _pair(a, b)
    try:
        out = a.data / b.data
    except ValueError:
        raise _broadcast_error("div", a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(div(g, b), a.shape) if a.requires_grad else None,
            unbroadcast(neg(div(mul(g, a), mul(b, b))), b.shape) if b.requires_grad else None,
        )

    return Tensor._make(out, (a, b), backward, "div")


def neg(a: ArrayLike) -> Tensor:
    """-a. d/da = -1."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (neg(g),)

    return Tensor._make(-a.data, (a,), backward, "neg")


def pow(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a ** b. d/da = b * a**(b-1); d/db = a**b * log(a) (needs a > 0).

    A Python-number exponent is a constant; a Tensor exponent is differentiable.
    """
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return _pow_scalar(a, b)
    a, b = _pair(a, b)
    try:
        out = a.data ** b.data
    except ValueError:
        raise _broadcast_error("pow", a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        ga = gb = None
        if a.requires_grad:
            # b * a**(b-1), taken as 0 at a == b == 0, where it reads 0 * 0**-1 = NaN.
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = where((a.data == 0) & (b.data == 0), 0.0, mul(b, pow(a, sub(b, 1))))
            ga = unbroadcast(mul(g, slope), a.shape)
        if b.requires_grad:
            # At a == 0 the log is -inf; the derivative there is taken as 0, as PyTorch does.
            safe_log = where(a.data > 0, log(where(a.data > 0, a, 1)), 0)
            gb = unbroadcast(mul(g, mul(out_ref(), safe_log)), b.shape)
        return ga, gb

    result = Tensor._make(out, (a, b), backward, "pow")
    out_ref = weakref.ref(result)
    return result


def _pow_scalar(a: Tensor, p: float) -> Tensor:
    """a ** p for a constant number p. d/da = p * a**(p-1)."""
    out = a.data ** np.asarray(p, dtype=np.result_type(a.dtype, p))

    def backward(g: Tensor) -> tuple[Tensor]:
        if p == 0:  # a constant: zero gradient, also at a = 0 where 0 * 0**-1 is NaN
            return (mul(g, 0.0),)
        if p == 2:
            return (mul(g, mul(a, 2)),)
        return (mul(g, mul(_pow_scalar(a, p - 1), p)),)

    return Tensor._make(out, (a,), backward, "pow")


def _matmul_error(a: Tensor, b: Tensor, op: str = "matmul") -> ValueError:
    if a.ndim == 0 or b.ndim == 0:
        return ValueError(
            f"{op}: both operands need at least 1 dimension, got shapes {a.shape} and "
            f"{b.shape} (use mul for scalars)"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return ValueError(
            f"{op}: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})"
        )
    return ValueError(
        f"{op}: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"
    )


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a @ b for 1-D, 2-D and batched N-D operands (NumPy's matmul rules).

    Shapes: (..., n, k) @ (..., k, m) -> (..., m). d/da = g @ b^T, d/db = a^T @ g,
    each summed over broadcast batch axes; a 1-D operand is a row (a) or column (b).
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise _matmul_error(a, b)
    try:
        out = np.matmul(a.data, b.data)
    except ValueError:
        raise _matmul_error(a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        if a.ndim == 2 and b.ndim == 2:  # the common case, without reshapes
            return (
                matmul(g, transpose(b)) if a.requires_grad else None,
                matmul(transpose(a), g) if b.requires_grad else None,
            )
        a2 = a if a.ndim > 1 else reshape(a, (1, -1))
        b2 = b if b.ndim > 1 else reshape(b, (-1, 1))
        # g with the row/column axes that a 1-D operand dropped put back.
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = reshape(g, batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if a.requires_grad:
            ga = reshape(unbroadcast(matmul(g2, swapaxes(b2, -1, -2)), a2.shape), a.shape)
        if b.requires_grad:
            gb = reshape(unbroadcast(matmul(swapaxes(a2, -1, -2), g2), b2.shape), b.shape)
        return ga, gb

    return Tensor._make(out, (a, b), backward, "matmul")


def linear(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> Tensor:
    """x @ weight + bias in one node (the book's Affine, weight of shape (in, out)).

    Shapes: (N, in) @ (in, out) + (out,) -> (N, out). d/dx = g @ W^T, d/dW = x^T @ g,
    d/db = g summed over N. No gradient is computed for an input that needs none (an
    image batch), which is most of the saving over hand-written layers.
    """
    x, weight = _pair(x, weight)
    b = None if bias is None else _as_tensor(bias, weight)
    if not (x.ndim == 2 and weight.ndim == 2 and (b is None or b.ndim == 1)):
        out = matmul(x, weight)
        return out if b is None else add(out, b)
    try:
        out_data = np.matmul(x.data, weight.data)
    except ValueError:
        raise _matmul_error(x, weight, "linear") from None
    if b is not None:
        if b.shape != (weight.shape[1],):
            raise ValueError(
                f"linear: bias of shape {b.shape} does not match weight {weight.shape}; "
                f"expected ({weight.shape[1]},)"
            )
        out_data += b.data  # out_data is a fresh array, so adding in place is safe

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        need_b = b is not None and b.requires_grad
        if is_grad_enabled():
            # create_graph: the three products as Tensor ops, so they are recorded.
            gx = matmul(g, transpose(weight)) if x.requires_grad else None
            gw = matmul(transpose(x), g) if weight.requires_grad else None
            gb = sum(g, axis=0) if need_b else None
        else:
            # Plain backward, the hot path of training: the same products on arrays,
            # without a wrapper per product.
            gd = g.data
            gx = Tensor._const(gd @ weight.data.T) if x.requires_grad else None
            gw = Tensor._const(x.data.T @ gd) if weight.requires_grad else None
            gb = Tensor._const(gd.sum(axis=0)) if need_b else None
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, weight) if b is None else (x, weight, b)
    return Tensor._make(out_data, parents, backward, "linear")


# ---------------------------------------------------------------------------- elementwise


def exp(a: ArrayLike) -> Tensor:
    """e ** a. d/da = exp(a)."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, out_ref()),)

    result = Tensor._make(np.exp(a.data), (a,), backward, "exp")
    out_ref = weakref.ref(result)
    return result


def log(a: ArrayLike) -> Tensor:
    """Natural log (a > 0). d/da = 1 / a."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (div(g, a),)

    return Tensor._make(np.log(a.data), (a,), backward, "log")


def sqrt(a: ArrayLike) -> Tensor:
    """Square root (a >= 0). d/da = 1 / (2 sqrt(a))."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (div(mul(g, 0.5), out_ref()),)

    result = Tensor._make(np.sqrt(a.data), (a,), backward, "sqrt")
    out_ref = weakref.ref(result)
    return result


def abs(a: ArrayLike) -> Tensor:
    """|a|. d/da = sign(a), taken as 0 at a = 0 (as PyTorch)."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, np.sign(a.data)),)

    return Tensor._make(np.abs(a.data), (a,), backward, "abs")


def tanh(a: ArrayLike) -> Tensor:
    """Hyperbolic tangent. d/da = 1 - tanh(a)**2."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        t = out_ref()
        return (mul(g, sub(1, mul(t, t))),)

    result = Tensor._make(np.tanh(a.data), (a,), backward, "tanh")
    out_ref = weakref.ref(result)
    return result


def sigmoid(a: ArrayLike) -> Tensor:
    """1 / (1 + e**-a), computed as (1 + tanh(a/2)) / 2 so no exp overflows.
    d/da = s (1 - s)."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        s = out_ref()
        return (mul(g, mul(s, sub(1, s))),)

    # An array even for 0-d input (a ufunc returns a scalar there), so += stays in place.
    out = np.asarray(np.tanh(a.data * _as_tensor(0.5, a).data))
    out += 1
    out *= 0.5
    result = Tensor._make(out, (a,), backward, "sigmoid")
    out_ref = weakref.ref(result)
    return result


def relu(a: ArrayLike) -> Tensor:
    """max(a, 0). d/da = 1 where a > 0, else 0 (relu'(0) = 0, as PyTorch)."""
    a = _as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (mul(g, a.data > 0),)

    return Tensor._make(np.maximum(a.data, _as_tensor(0, a).data), (a,), backward, "relu")


def leaky_relu(a: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    """a where a > 0, else negative_slope * a. d/da = 1 or negative_slope (at 0)."""
    a = _as_tensor(a)
    positive = a.data > 0

    def backward(g: Tensor) -> tuple[Tensor]:
        slope = np.where(positive, 1, negative_slope).astype(a.dtype, copy=False)
        return (mul(g, slope),)

    out = np.where(positive, a.data, a.data * _as_tensor(negative_slope, a).data)
    return Tensor._make(out, (a,), backward, "leaky_relu")


def clip(a: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    """a limited to [min, max]. d/da = 1 where min <= a <= max, else 0."""
    a = _as_tensor(a)
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")

    def backward(g: Tensor) -> tuple[Tensor]:
        inside = np.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a.data >= min
        if max is not None:
            inside &= a.data <= max
        return (mul(g, inside),)

    lo = None if min is None else _as_tensor(min, a).data
    hi = None if max is None else _as_tensor(max, a).data
    return Tensor._make(np.clip(a.data, lo, hi), (a,), backward, "clip")


def _extremum(a: ArrayLike, b: ArrayLike, op: str) -> Tensor:
    a, b = _pair(a, b)
    ufunc = np.maximum if op == "maximum" else np.minimum
    try:
        out = ufunc(a.data, b.data)
    except ValueError:
        raise _broadcast_error(op, a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a_wins = (a.data > b.data) if op == "maximum" else (a.data < b.data)
        tie = (a.data == b.data) * 0.5
        wa = (a_wins + tie).astype(g.dtype, copy=False)
        return (
            unbroadcast(mul(g, wa), a.shape) if a.requires_grad else None,
            unbroadcast(mul(g, (1 - wa).astype(g.dtype, copy=False)), b.shape)
            if b.requires_grad else None,
        )

    return Tensor._make(out, (a, b), backward, op)


def maximum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise max with broadcasting. The gradient goes to the larger operand; on a
    tie it is split half and half (as PyTorch)."""
    return _extremum(a, b, "maximum")


def minimum(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Elementwise min with broadcasting; ties split the gradient half and half."""
    return _extremum(a, b, "minimum")


def where(condition: ArrayLike, a: ArrayLike, b: ArrayLike) -> Tensor:
    """a where condition else b, with broadcasting. d/da = condition, d/db = not condition."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    a, b = _pair(a, b)
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

    return Tensor._make(out, (a, b), backward, "where")


def astype(a: ArrayLike, dtype: Any) -> Tensor:
    """A copy converted to ``dtype``. d/da = 1 (cast back); no graph to non-float dtypes."""
    a = _as_tensor(a)
    out = a.data.astype(dtype)
    if out.dtype.kind not in "fc":
        return Tensor._const(out)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (astype(g, a.dtype),)

    return Tensor._make(out, (a,), backward, "astype")


# ---------------------------------------------------------------------------- reductions


def sum(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all; int or tuple; negative allowed).
    d/da = 1, broadcast back over the summed axes."""
    a = _as_tensor(a)
    axes = _normalize_axes(axis, a.ndim, "sum")
    shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (_expand_reduced(g, shape, axes, keepdims),)

    # The method, not np.sum: same result, without a Python wrapper that costs more than
    # a small sum.
    return Tensor._make(a.data.sum(axis=axes, keepdims=keepdims), (a,), backward, "sum")


def mean(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``. d/da = 1 / (number of elements averaged)."""
    a = _as_tensor(a)
    axes = _normalize_axes(axis, a.ndim, "mean")
    count = int(np.prod([a.shape[i] for i in axes]))
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty axis of shape {a.shape}")
    return div(sum(a, axes, keepdims), float(count))


def var(a: ArrayLike, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` (NumPy's default ddof=0; ddof=1 for the unbiased one).
    d/da = 2 (a - mean) / (n - ddof)."""
    a = _as_tensor(a)
    axes = _normalize_axes(axis, a.ndim, "var")
    count = int(np.prod([a.shape[i] for i in axes])) - ddof
    if count <= 0:
        raise ValueError(f"var: {count + ddof} values with ddof={ddof} leave no degrees of "
                         "freedom")
    centered = sub(a, mean(a, axes, keepdims=True))
    return div(sum(mul(centered, centered), axes, keepdims), float(count))


def _reduce_extremum(a: ArrayLike, axis: Any, keepdims: bool, op: str) -> Tensor:
    a = _as_tensor(a)
    if a.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
    axes = _normalize_axes(axis, a.ndim, op)
    reducer = np.max if op == "max" else np.min
    kept = reducer(a.data, axis=axes, keepdims=True)
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(g: Tensor) -> tuple[Tensor]:
        winners = a.data == kept
        share = winners / np.sum(winners, axis=axes, keepdims=True)
        return (mul(_expand_reduced(g, a.shape, axes, keepdims), share.astype(g.dtype)),)

    return Tensor._make(out, (a,), backward, op)


def max(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``. The gradient goes to the maximal entries, split evenly
    between ties (as NumPy's amax and PyTorch's amax)."""
    return _reduce_extremum(a, axis, keepdims, "max")


def min(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; ties split the gradient evenly."""
    return _reduce_extremum(a, axis, keepdims, "min")


def logsumexp(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(a))) over ``axis``, shifted by the max so nothing overflows.
    d/da = softmax(a) along the reduced axes."""
    a = _as_tensor(a)
    axes = _normalize_axes(axis, a.ndim, "logsumexp")
    m = np.max(a.data, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    kept = np.log(np.sum(np.exp(a.data - m), axis=axes, keepdims=True)) + m
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(g: Tensor) -> tuple[Tensor]:
        lse = _expand_reduced(out_ref(), a.shape, axes, keepdims)
        return (mul(_expand_reduced(g, a.shape, axes, keepdims), exp(sub(a, lse))),)

    result = Tensor._make(out, (a,), backward, "logsumexp")
    out_ref = weakref.ref(result)
    return result


# ---------------------------------------------------------------------------- shape


def reshape(a: ArrayLike, shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be -1). d/da = g reshaped back."""
    a = _as_tensor(a)
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
            f"into shape {shape}"
        ) from None
    in_shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (reshape(g, in_shape),)

    return Tensor._make(out, (a,), backward, "reshape")


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (None: reverse them). d/da = g with the inverse permutation."""
    a = _as_tensor(a)
    if axes is not None:
        axes = tuple(int(ax) for ax in axes)
        if len(axes) != a.ndim or sorted(
            ax % a.ndim if -a.ndim <= ax < a.ndim else -1 for ax in axes
        ) != list(range(a.ndim)):
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of a "
                f"tensor of shape {a.shape}"
            )
        axes = tuple(ax % a.ndim for ax in axes)

    def backward(g: Tensor) -> tuple[Tensor]:
        inverse = None if axes is None else tuple(int(i) for i in np.argsort(axes))
        return (transpose(g, inverse),)

    return Tensor._make(np.transpose(a.data, axes), (a,), backward, "transpose")


def permute(a: ArrayLike, axes: Sequence[int]) -> Tensor:
    """Permute the axes (PyTorch's name for transpose with explicit axes)."""
    return transpose(a, axes)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    a = _as_tensor(a)
    (i,) = _normalize_axes(axis1, a.ndim, "swapaxes")
    (j,) = _normalize_axes(axis2, a.ndim, "swapaxes")
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def flatten(a: ArrayLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes start_dim..end_dim (inclusive) into one, as ``torch.flatten``."""
    a = _as_tensor(a)
    if a.ndim == 0:
        return reshape(a, (1,))
    (start,) = _normalize_axes(start_dim, a.ndim, "flatten")
    (end,) = _normalize_axes(end_dim, a.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(a.shape[start:end + 1]))
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def squeeze(a: ArrayLike, axis: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``)."""
    a = _as_tensor(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    else:
        axes = _normalize_axes(axis, a.ndim, "squeeze")
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError(
                    f"squeeze: axis {ax} of shape {a.shape} has size {a.shape[ax]}, not 1"
                )
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def unsqueeze(a: ArrayLike, axis: int) -> Tensor:
    """Insert a size-1 axis at ``axis`` (negative counts from the new end)."""
    a = _as_tensor(a)
    nd = a.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a result of {nd} dims")
    ax = axis % nd
    return reshape(a, a.shape[:ax] + (1,) + a.shape[ax:])


def broadcast_to(a: ArrayLike, shape: Any) -> Tensor:
    """A read-only broadcast view of ``a`` with ``shape``. d/da = g summed back."""
    a = _as_tensor(a)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        out = np.broadcast_to(a.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    in_shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (unbroadcast(g, in_shape),)

    return Tensor._make(out, (a,), backward, "broadcast_to")


def expand(a: ArrayLike, shape: Any) -> Tensor:
    """PyTorch's name for :func:`broadcast_to`."""
    return broadcast_to(a, shape)


def _index_item(i: Any) -> Any:
    """One item of an index: Tensors and sequences become (copied) arrays, so the index
    cannot change under the graph after the forward pass."""
    if isinstance(i, Tensor):
        return i.data.copy()
    if isinstance(i, (list, tuple, np.ndarray)):
        return np.array(i)
    return i


def _normalize_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    return _index_item(index)


def _has_int_array(index: Any) -> bool:
    """True when the index holds an integer array: repeats are possible, so backward
    must accumulate (np.add.at) rather than assign."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype != bool for i in items)


def getitem(a: ArrayLike, index: Any) -> Tensor:
    """a[index] with ints, slices, None, ..., integer arrays and boolean masks.
    d/da = g scattered back into zeros; repeated indices accumulate."""
    a = _as_tensor(a)
    index = _normalize_index(index)
    try:
        out = a.data[index]
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor of shape {a.shape})") from None
    accumulate = _has_int_array(index)
    shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (_scatter_add(g, index, shape, accumulate),)

    return Tensor._make(np.asarray(out), (a,), backward, "getitem")


def _scatter_add(g: Tensor, index: Any, shape: tuple[int, ...], accumulate: bool) -> Tensor:
    """zeros(shape) with g added at ``index``: the backward of getitem.
    d/dg = g_out[index]."""
    out = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        # Boolean masks inside an advanced index become their integer positions, since
        # np.add.at wants integer indices to accumulate repeats.
        items = index if isinstance(index, tuple) else (index,)
        expanded: list[Any] = []
        for i in items:
            if isinstance(i, np.ndarray) and i.dtype == bool:
                expanded.extend(np.nonzero(i))
            else:
                expanded.append(i)
        np.add.at(out, tuple(expanded), g.data)
    else:
        out[index] = g.data

    def backward(gg: Tensor) -> tuple[Tensor]:
        return (getitem(gg, index),)

    return Tensor._make(out, (g,), backward, "scatter_add")


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis. d/d(each) = its slice of g."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: needs at least one tensor")
    if ts[0].ndim == 0:
        raise ValueError("concatenate: 0-d tensors cannot be joined (use stack)")
    _normalize_axes(axis, ts[0].ndim, "concatenate")
    try:
        out = np.concatenate([t.data for t in ts], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(
            f"concatenate: shapes {shapes} do not match except along axis {axis}"
        ) from None
    ax = axis % out.ndim
    bounds = np.cumsum([0] + [t.shape[ax] for t in ts])

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        lead = (slice(None),) * ax
        return tuple(
            getitem(g, lead + (slice(int(lo), int(hi)),)) if t.requires_grad else None
            for t, lo, hi in zip(ts, bounds[:-1], bounds[1:])
        )

    return Tensor._make(out, tuple(ts), backward, "concatenate")


def cat(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """PyTorch's name for :func:`concatenate`."""
    return concatenate(tensors, axis)


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis. d/d(each) = g indexed along it."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    if len({t.shape for t in ts}) != 1:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    (ax,) = _normalize_axes(axis, ts[0].ndim + 1, "stack")
    out = np.stack([t.data for t in ts], axis=ax)

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        lead = (slice(None),) * ax
        return tuple(
            getitem(g, lead + (i,)) if t.requires_grad else None for i, t in enumerate(ts)
        )

    return Tensor._make(out, tuple(ts), backward, "stack")


# ---------------------------------------------------------------------------- softmax family


def _softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def softmax(a: ArrayLike, axis: int = -1) -> Tensor:
    """exp(a) / sum(exp(a)) along ``axis``, max-shifted against overflow.
    d/da = s * (g - sum(g * s))."""
    a = _as_tensor(a)
    (ax,) = _normalize_axes(axis, a.ndim, "softmax")

    def backward(g: Tensor) -> tuple[Tensor]:
        s = out_ref()
        return (mul(s, sub(g, sum(mul(g, s), ax, keepdims=True))),)

    result = Tensor._make(_softmax_array(a.data, ax), (a,), backward, "softmax")
    out_ref = weakref.ref(result)
    return result


def log_softmax(a: ArrayLike, axis: int = -1) -> Tensor:
    """a - logsumexp(a) along ``axis``. d/da = g - softmax(a) * sum(g)."""
    a = _as_tensor(a)
    (ax,) = _normalize_axes(axis, a.ndim, "log_softmax")
    shifted = a.data - np.max(a.data, axis=ax, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))

    def backward(g: Tensor) -> tuple[Tensor]:
        return (sub(g, mul(exp(out_ref()), sum(g, ax, keepdims=True))),)

    result = Tensor._make(out, (a,), backward, "log_softmax")
    out_ref = weakref.ref(result)
    return result


_REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits, in one stable node (the book's SoftmaxWithLoss).

    Shapes: logits (N, C) (or (C,)); target either class indices (N,) of an integer
    dtype, or one-hot / probability rows (N, C). loss = -sum(t * log_softmax(logits)),
    averaged over N for ``reduction="mean"``. d/dlogits = (softmax * sum(t) - t) / N.
    """
    logits = _as_tensor(logits)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, "
                         f"got {reduction!r}")
    tgt = _as_tensor(target)
    if logits.ndim == 1:  # one unbatched sample: a batch of one
        tgt = reshape(tgt, (1, -1) if tgt.shape == logits.shape else (1,))
        batched = cross_entropy(reshape(logits, (1, -1)), tgt, reduction)
        return reshape(batched, ()) if reduction == "none" else batched
    if logits.ndim != 2:
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) or (C,), got {logits.shape}"
        )
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got {logits.dtype}")
    n, c = logits.shape
    # log_softmax = shifted - log(sum(exp(shifted))); the exponentials are kept, since
    # backward's softmax is just exps / sums. (Array methods: np.sum's wrapper costs
    # more than the sum itself at these sizes.)
    shifted = logits.data - logits.data.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    log_sums = np.log(sums)[:, 0]
    rows = np.arange(n)

    if tgt.shape == (n, c):
        soft = tgt.data.astype(logits.dtype, copy=False)
        row_mass = soft.sum(axis=1)
        losses = row_mass * log_sums - np.einsum("ij,ij->i", soft, shifted)
        index = None
    elif tgt.shape == (n,):
        if tgt.dtype.kind not in "iu":
            raise TypeError(
                f"cross_entropy: class-index targets must have an integer dtype, got "
                f"{tgt.dtype}; pass one-hot rows of shape ({n}, {c}) for soft targets"
            )
        index = tgt.data
        if n and (index.min() < 0 or index.max() >= c):
            pos = int(np.argmax((index < 0) | (index >= c)))
            raise IndexError(
                f"cross_entropy: target class {int(index[pos])} at position {pos} is out "
                f"of range [0, {c}) for logits of shape {logits.shape}"
            )
        soft = row_mass = None
        losses = log_sums - shifted[rows, index]
    else:
        raise ValueError(
            f"cross_entropy: target shape {tgt.shape} does not fit logits {logits.shape}; "
            f"expected class indices ({n},) or one-hot rows ({n}, {c})"
        )
    if reduction == "none":
        out = losses
    else:
        total = losses.sum()
        out = np.asarray(total / n if reduction == "mean" else total, dtype=logits.dtype)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        g_logits = g_target = None
        if logits.requires_grad and not is_grad_enabled():
            # Plain backward, the hot path of training: (softmax - t) * g / N straight
            # from the saved exponentials, in place on one fresh array.
            d = exps / sums
            if index is not None:
                d[rows, index] -= 1
            else:
                d *= row_mass[:, None]
                d -= soft
            d *= g.data[:, None] if reduction == "none" else g.data
            if reduction == "mean":
                d /= n
            g_logits = Tensor._const(d)
        if (logits.requires_grad and g_logits is None) or (index is None and tgt.requires_grad):
            # Recorded backward (create_graph), or a soft target that wants its gradient:
            # Tensor ops, with softmax a graph node of the logits.
            if reduction == "mean":
                scale = div(g, float(n))
            elif reduction == "sum":
                scale = g
            else:
                scale = reshape(g, (n, 1))
            if logits.requires_grad and g_logits is None:
                probs = softmax(logits, 1)
                if index is not None:
                    d_t = sub(probs, np.eye(c, dtype=logits.dtype)[index])
                else:
                    rows_t = tgt if tgt.requires_grad else Tensor._const(soft)
                    d_t = sub(mul(probs, sum(rows_t, 1, keepdims=True)), rows_t)
                g_logits = mul(scale, d_t)
            if index is None and tgt.requires_grad:
                g_target = mul(scale, neg(log_softmax(logits, 1)))
        return g_logits, g_target

    return Tensor._make(out, (logits, tgt), backward, "cross_entropy")


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error. Shapes must be equal (broadcasting here is almost always a
    bug). d/dinput = 2 (input - target) / n."""
    x, t = _pair(input, target)
    if not t.requires_grad and t.dtype != x.dtype and x.dtype.kind == "f":
        # A float64 target array must not turn a float32 model's loss float64.
        t = Tensor._const(t.data.astype(x.dtype))
    if x.shape != t.shape:
        raise ValueError(
            f"mse_loss: input shape {x.shape} and target shape {t.shape} differ; "
            "reshape one of them (broadcasting would silently compare the wrong pairs)"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    d = sub(x, t)
    sq = mul(d, d)
    if reduction == "none":
        return sq
    return mean(sq) if reduction == "mean" else sum(sq)
