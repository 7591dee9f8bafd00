"""Broadcasting and its gradient: reshape, broadcast_to, sum and unbroadcast.

These lean on each other (the gradient of broadcasting is a sum, the gradient of a sum
is a broadcast, and both reshape), so they share one module; every other op imports
them from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.helpers import (
    as_tensor,
    keepdims_shape,
    normalize_axes,
    resolve_axis,
    shape_arg,
)
from tinygrad_edu.tensor import ArrayLike, Tensor, record
from tinygrad_edu.versions import share_version

__all__ = ["reshape", "broadcast_to", "sum", "unbroadcast", "expand_reduced"]


def reshape(a: ArrayLike, shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be -1). d/da = g reshaped back.

    Shape: ``shape``, which must hold a's number of elements.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.arange(6.0), requires_grad=True)
    >>> reshape(x, (2, -1)).shape
    (2, 3)
    >>> reshape(x, (3, 2)).sum().backward()
    >>> x.grad.shape
    (6,)
    """
    a = as_tensor(a)
    shape = shape_arg(shape, "reshape", -1)
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

    return share_version(record(out, (a,), backward, "reshape"), a)


def broadcast_to(a: ArrayLike, shape: Any) -> Tensor:
    """A read-only broadcast view of ``a`` with ``shape``. d/da = g summed back.

    Shape: ``shape``, which a's shape must broadcast to (NumPy's rules).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> broadcast_to(x, (2, 3)).shape
    (2, 3)
    >>> broadcast_to(x, (2, 3)).sum().backward()
    >>> x.grad
    Tensor([2. 2. 2.], shape=(3,), dtype=float64)
    """
    a = as_tensor(a)
    shape = shape_arg(shape, "broadcast_to")
    try:
        out = np.broadcast_to(a.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    in_shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (unbroadcast(g, in_shape),)

    return share_version(record(out, (a,), backward, "broadcast_to"), a)


def sum(a: ArrayLike, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
        keepdim: bool | None = None) -> Tensor:
    """Sum over ``axis`` (None: all; int or tuple; negative allowed); ``dim`` and
    ``keepdim`` are PyTorch's names for ``axis`` and ``keepdims``.
    d/da = 1, broadcast back over the summed axes.

    Shape: a's shape without the summed axes (kept as size 1 with ``keepdims``).

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    >>> sum(x, axis=1)
    Tensor([ 3. 12.], shape=(2,), dtype=float64, op=sum)
    >>> sum(x, axis=1, keepdims=True).shape
    (2, 1)
    >>> sum(x).backward()
    >>> x.grad
    Tensor([[1. 1. 1.]
            [1. 1. 1.]], shape=(2, 3), dtype=float64)
    """
    axis, keepdims = resolve_axis("sum", axis, dim, keepdims, keepdim)
    a = as_tensor(a)
    axes = normalize_axes(axis, a.ndim, "sum")
    shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (expand_reduced(g, shape, axes, keepdims),)

    # The method, not np.sum: same result, without a Python wrapper that costs more than
    # a small sum.
    return record(a.data.sum(axis=axes, keepdims=keepdims), (a,), backward, "sum")


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an operand of ``shape``.

    Leading axes that broadcasting added are summed away, and so are axes where the
    operand had size 1. d(broadcast_to(x, S))/dx = sum over the broadcast axes.

    Shape: ``g`` has the broadcast shape; the result has ``shape``. No graph of its own:
    it is built from :func:`sum` and :func:`reshape`, so it records theirs.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> g = tg.Tensor(np.ones((2, 3)))
    >>> unbroadcast(g, (3,))
    Tensor([2. 2. 2.], shape=(3,), dtype=float64)
    >>> unbroadcast(g, (2, 1))
    Tensor([[3.]
            [3.]], shape=(2, 1), dtype=float64)
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


def expand_reduced(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...],
                    keepdims: bool) -> Tensor:
    """Undo a reduction over ``axes``: give ``g`` back its size-1 axes, then broadcast."""
    if not keepdims:
        g = reshape(g, keepdims_shape(shape, axes))
    return broadcast_to(g, shape)
