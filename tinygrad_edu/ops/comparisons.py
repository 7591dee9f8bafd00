"""Comparisons: eq, ne, lt, le, gt, ge.

They are flat (their derivative is zero almost everywhere), so they record no graph and
return boolean tensors, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.helpers import broadcast_forward, dtype_error, pair
from tinygrad_edu.tensor import ArrayLike, Tensor, wrap

__all__ = ["eq", "ne", "lt", "le", "gt", "ge"]


def _compare(a: ArrayLike, b: ArrayLike, fn: Any, op: str) -> Tensor:
    a, b = pair(a, b)
    # == and != compare anything (never equal to None, as NumPy); an order needs numbers.
    if op not in ("eq", "ne") and not (a.dtype.kind in "biufc" and b.dtype.kind in "biufc"):
        raise dtype_error(op, a, b)
    return wrap(np.asarray(broadcast_forward(op, fn, a, b)))


def eq(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a == b elementwise, as a boolean tensor with no graph.

    >>> eq(Tensor([1.0, 2.0]), 2.0)
    Tensor([False  True], shape=(2,), dtype=bool)
    """
    return _compare(a, b, np.equal, "eq")


def ne(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a != b elementwise, as a boolean tensor with no graph.

    >>> ne(Tensor([1.0, 2.0, 3.0]), 2.0)
    Tensor([ True False  True], shape=(3,), dtype=bool)
    """
    return _compare(a, b, np.not_equal, "ne")


def lt(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a < b elementwise, as a boolean tensor with no graph.

    >>> lt(Tensor([1.0, 2.0, 3.0]), 2.0)
    Tensor([ True False False], shape=(3,), dtype=bool)
    """
    return _compare(a, b, np.less, "lt")


def le(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a <= b elementwise, as a boolean tensor with no graph.

    >>> le(Tensor([1.0, 2.0, 3.0]), 2.0)
    Tensor([ True  True False], shape=(3,), dtype=bool)
    """
    return _compare(a, b, np.less_equal, "le")


def gt(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a > b elementwise, as a boolean tensor with no graph.

    >>> gt(Tensor([1.0, 2.0, 3.0]), 2.0)
    Tensor([False False  True], shape=(3,), dtype=bool)
    """
    return _compare(a, b, np.greater, "gt")


def ge(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a >= b elementwise, as a boolean tensor with no graph.

    >>> ge(Tensor([1.0, 2.0, 3.0]), 2.0)
    Tensor([False  True  True], shape=(3,), dtype=bool)
    """
    return _compare(a, b, np.greater_equal, "ge")
