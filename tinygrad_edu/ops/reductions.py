"""Reductions: mean, var, max, min and logsumexp (``sum`` is in
:mod:`tinygrad_edu.ops.broadcasting`), and argmax/argmin, which carry no graph.

Each takes NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim`` (keyword-only;
not both), and returns this library's values where PyTorch's differ: ``max(dim=1)`` is
the values (``torch.amax``), ``var`` has NumPy's ``ddof=0``.

Every backward undoes its reduction with :func:`expand_reduced`: the gradient gets its
reduced axes back (size 1), then is broadcast to the input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.arithmetic import div, mul, sub
from tinygrad_edu.ops.broadcasting import expand_reduced, sum
from tinygrad_edu.ops.elementwise import exp
from tinygrad_edu.ops.helpers import (
    as_tensor,
    check_kind,
    normalize_axes,
    normalize_axis,
    record_using_output,
    resolve_axis,
)
from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap

__all__ = ["mean", "var", "max", "min", "logsumexp", "argmax", "argmin"]


def mean(a: ArrayLike, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
         keepdim: bool | None = None) -> Tensor:
    """Mean over ``axis`` (or ``dim``). d/da = 1 / (number of elements averaged).

    Shape: a's shape without the reduced axes (kept as size 1 with ``keepdims``).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> mean(x, axis=0).data
    array([2., 3.])
    >>> mean(x, axis=0).sum().backward()
    >>> x.grad
    Tensor([[0.5 0.5]
            [0.5 0.5]], shape=(2, 2), dtype=float64)
    """
    axis, keepdims = resolve_axis("mean", axis, dim, keepdims, keepdim)
    a = as_tensor(a)
    axes = normalize_axes(axis, a.ndim, "mean")
    count = int(np.prod([a.shape[i] for i in axes]))
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty axis of shape {a.shape}")
    return div(sum(a, axes, keepdims), float(count))


def var(a: ArrayLike, axis: Any = None, keepdims: bool = False, ddof: int = 0, *,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Variance over ``axis`` (or ``dim``), NumPy's default ddof=0; ddof=1 for the
    unbiased one. PyTorch's ``var`` is unbiased by default (``correction=1``): pass
    ``ddof=1`` for its value. d/da = 2 (a - mean) / (n - ddof).

    Shape: a's shape without the reduced axes (kept as size 1 with ``keepdims``).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    >>> float(var(x)), round(float(var(x, ddof=1)), 4)
    (1.25, 1.6667)
    >>> var(x).backward()
    >>> x.grad
    Tensor([-0.75 -0.25  0.25  0.75], shape=(4,), dtype=float64)
    """
    axis, keepdims = resolve_axis("var", axis, dim, keepdims, keepdim)
    a = as_tensor(a)
    axes = normalize_axes(axis, a.ndim, "var")
    # For complex numbers the square below would have to be |a - mean|^2.
    check_kind(a, "var", "biuf", "real numbers")
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, np.integer)):
        raise TypeError(f"var: ddof must be an int, got {ddof!r}")
    if ddof < 0:
        raise ValueError(f"var: ddof must be >= 0, got {ddof}")
    count = int(np.prod([a.shape[i] for i in axes])) - ddof
    if count <= 0:
        raise ValueError(f"var: {count + ddof} values with ddof={ddof} leave no degrees of "
                         "freedom")
    centered = sub(a, mean(a, axes, keepdims=True))
    return div(sum(mul(centered, centered), axes, keepdims), float(count))


def _reduce_extremum(a: ArrayLike, axis: Any, keepdims: bool, op: str) -> Tensor:
    a = as_tensor(a)
    axes = normalize_axes(axis, a.ndim, op)
    if any(a.shape[i] == 0 for i in axes):  # as NumPy: a maximum of nothing is undefined
        raise ValueError(f"{op}: cannot reduce over an axis of size 0 (shape {a.shape}, "
                         f"axis {axis}); an empty maximum has no value")
    reducer = np.max if op == "max" else np.min
    kept = reducer(a.data, axis=axes, keepdims=True)
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(g: Tensor) -> tuple[Tensor]:
        winners = a.data == kept
        share = winners / np.sum(winners, axis=axes, keepdims=True)
        return (mul(expand_reduced(g, a.shape, axes, keepdims), share.astype(g.dtype)),)

    parents = (a,)

    return record(out, parents, backward, op, parents)


def max(a: ArrayLike, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Maximum over ``axis`` (or ``dim``). The gradient goes to the maximal entries,
    split evenly between ties (as NumPy's amax and PyTorch's amax).

    The values only, also with ``dim``: PyTorch's ``max(dim=...)`` returns (values,
    indices); here that is ``max(a, dim=d)`` and ``argmax(a, dim=d)``.

    d/da = g / (number of maximal entries) at each maximal entry, 0 elsewhere.
    PyTorch's ``max(dim=)`` returns (values, indices); here the indices are :func:`argmax`.
    Shape: a's shape without the reduced axes (kept as size 1 with ``keepdims``).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([[1.0, 5.0, 5.0], [3.0, 2.0, 0.0]], requires_grad=True)
    >>> max(x, axis=1)
    Tensor([5. 3.], shape=(2,), dtype=float64, op=max)
    >>> max(x, axis=1).sum().backward()
    >>> x.grad
    Tensor([[0.  0.5 0.5]
            [1.  0.  0. ]], shape=(2, 3), dtype=float64)
    """
    axis, keepdims = resolve_axis("max", axis, dim, keepdims, keepdim)
    return _reduce_extremum(a, axis, keepdims, "max")


def min(a: ArrayLike, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Minimum over ``axis`` (or ``dim``); ties split the gradient evenly. The values
    only, as for :func:`max` (PyTorch's ``min(dim=...)`` adds the indices).

    d/da = g / (number of minimal entries) at each minimal entry, 0 elsewhere.
    Shape: a's shape without the reduced axes (kept as size 1 with ``keepdims``).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    >>> min(x, axis=1)
    Tensor([1. 2.], shape=(2,), dtype=float64, op=min)
    >>> min(x).backward()
    >>> x.grad
    Tensor([[1. 0.]
            [0. 0.]], shape=(2, 2), dtype=float64)
    """
    axis, keepdims = resolve_axis("min", axis, dim, keepdims, keepdim)
    return _reduce_extremum(a, axis, keepdims, "min")


def logsumexp(a: ArrayLike, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
              keepdim: bool | None = None) -> Tensor:
    """log(sum(exp(a))) over ``axis`` (or ``dim``), shifted by the max so nothing
    overflows. d/da = softmax(a) along the reduced axes.

    Shape: a's shape without the reduced axes (kept as size 1 with ``keepdims``).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1000.0, 1000.0], requires_grad=True)
    >>> round(logsumexp(x).item(), 4)             # 1000 + log 2, no overflow
    1000.6931
    >>> logsumexp(x).backward()
    >>> x.grad
    Tensor([0.5 0.5], shape=(2,), dtype=float64)
    """
    axis, keepdims = resolve_axis("logsumexp", axis, dim, keepdims, keepdim)
    a = as_tensor(a)
    axes = normalize_axes(axis, a.ndim, "logsumexp")
    check_kind(a, "logsumexp", "iuf", "integers or real floating point")
    x = a.data if a.dtype.kind == "f" else a.data.astype(np.float64)  # as np.exp would
    # initial=-inf: a size-0 axis gives -inf, the log of an empty sum, as NumPy would.
    m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    with np.errstate(divide="ignore"):
        kept = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        lse = expand_reduced(out, a.shape, axes, keepdims)
        return (mul(expand_reduced(g, a.shape, axes, keepdims), exp(sub(a, lse))),)

    parents = (a,)

    return record_using_output(out, parents, backward, "logsumexp", parents)


def argmax(a: ArrayLike, axis: int | None = None, keepdims: bool = False, *,
           dim: int | None = None, keepdim: bool | None = None) -> Tensor:
    """Indices of the maxima along ``axis`` or ``dim`` (None: of the flattened tensor);
    no graph.

    Shape: a's shape without ``axis`` (size 1 with ``keepdims``); () for None.

    >>> argmax(Tensor([[1.0, 3.0], [4.0, 2.0]]), axis=1)
    Tensor([1 0], shape=(2,), dtype=int64)
    """
    axis, keepdims = resolve_axis("argmax", axis, dim, keepdims, keepdim)
    return _arg_extremum(a, axis, keepdims, "argmax")


def argmin(a: ArrayLike, axis: int | None = None, keepdims: bool = False, *,
           dim: int | None = None, keepdim: bool | None = None) -> Tensor:
    """Indices of the minima along ``axis`` or ``dim`` (None: of the flattened tensor);
    no graph.

    Shape: a's shape without ``axis`` (size 1 with ``keepdims``); () for None.

    >>> import tinygrad_edu as tg
    >>> argmin(tg.Tensor([[1.0, 3.0], [4.0, 2.0]]), axis=1)
    Tensor([0 1], shape=(2,), dtype=int64)
    """
    axis, keepdims = resolve_axis("argmin", axis, dim, keepdims, keepdim)
    return _arg_extremum(a, axis, keepdims, "argmin")


def _arg_extremum(a: ArrayLike, axis: int | None, keepdims: bool, op: str) -> Tensor:
    a = as_tensor(a)
    if axis is None:
        empty = a.size == 0
    else:  # as NumPy, a 0-d tensor has the one axis 0
        axis = normalize_axis(axis, a.ndim or 1, op)
        empty = a.ndim > 0 and a.shape[axis] == 0
    if empty:
        raise ValueError(f"{op}: an axis of size 0 has no {op[3:]}imum (shape {a.shape}, "
                         f"axis {axis})")
    fn = np.argmax if op == "argmax" else np.argmin
    return wrap(np.asarray(fn(a.data, axis=axis, keepdims=keepdims)))
