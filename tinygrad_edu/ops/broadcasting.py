"""Broadcasting and its gradient: reshape, broadcast_to, sum and unbroadcast.

These lean on each other (the gradient of broadcasting is a sum, the gradient of a sum
is a broadcast, and both reshape), so they share one module; every other op imports
them from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops.helpers import as_tensor, keepdims_shape, normalize_axes, shape_arg
from tinygrad_edu.tensor import ArrayLike, Tensor, record
from tinygrad_edu.versions import share_version

__all__ = ["reshape", "broadcast_to", "sum", "unbroadcast", "expand_reduced"]


def reshape(a: ArrayLike, shape: Any) -> Tensor:
    """The same values in a new shape (one entry may be -1). d/da = g reshaped back."""
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
    """A read-only broadcast view of ``a`` with ``shape``. d/da = g summed back."""
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


def sum(a: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all; int or tuple; negative allowed).
    d/da = 1, broadcast back over the summed axes."""
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
