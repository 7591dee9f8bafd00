"""Shape and indexing: transpose, permute, swapaxes, flatten, squeeze, unsqueeze,
expand, getitem, concatenate and stack.

None of these changes a value, so each backward only moves the gradient back to where
its value came from: the inverse permutation, a reshape, a scatter into zeros, a slice.
(reshape and broadcast_to live in :mod:`tinygrad_edu.ops.broadcasting`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.ops.broadcasting import broadcast_to, reshape
from tinygrad_edu.ops.helpers import as_tensor, normalize_axes, normalize_axis, resolve_axis
from tinygrad_edu.tensor import ArrayLike, Tensor, record
from tinygrad_edu.versions import share_version

__all__ = [
    "transpose", "permute", "swapaxes", "flatten", "squeeze", "unsqueeze", "expand",
    "getitem", "concatenate", "cat", "stack",
]


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (None: reverse them). d/da = g with the inverse permutation.

    Shape: a's axes in the order ``axes``.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    >>> transpose(x).shape, transpose(x, (1, 0, 2)).shape
    ((4, 3, 2), (3, 2, 4))
    >>> transpose(x, (1, 0, 2)).sum().backward()
    >>> x.grad.shape
    (2, 3, 4)
    """
    a = as_tensor(a)
    if axes is not None:
        if not isinstance(axes, (tuple, list)) or not all(
                isinstance(ax, (int, np.integer)) and not isinstance(ax, (bool, np.bool_))
                for ax in axes):
            raise TypeError(f"transpose: axes must be None or a tuple of ints, got {axes!r}")
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

    out = record(np.transpose(a.data, axes), (a,), backward, "transpose")
    return share_version(out, a)


def permute(a: ArrayLike, axes: Sequence[int]) -> Tensor:
    """Permute the axes (PyTorch's name for transpose with explicit axes).

    Shape: a's axes in the order ``axes``. d/da = g with the inverse permutation.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> permute(tg.Tensor(np.zeros((2, 3, 4))), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return transpose(a, axes)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes.

    Shape: a's shape with the two axes exchanged. d/da = g with them exchanged back.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> swapaxes(tg.Tensor(np.zeros((2, 3, 4))), 0, 2).shape
    (4, 3, 2)
    """
    a = as_tensor(a)
    i = normalize_axis(axis1, a.ndim, "swapaxes")
    j = normalize_axis(axis2, a.ndim, "swapaxes")
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def flatten(a: ArrayLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes start_dim..end_dim (inclusive) into one, as ``torch.flatten``.

    Shape: the axes start_dim..end_dim become one axis of their product.
    d/da = g reshaped back.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.zeros((2, 3, 4)))
    >>> flatten(x).shape, flatten(x, 1).shape, flatten(x, 0, 1).shape
    ((24,), (2, 12), (6, 4))
    """
    a = as_tensor(a)
    # A 0-d tensor flattens as one of shape (1,) would (PyTorch's rule).
    start = normalize_axis(start_dim, a.ndim or 1, "flatten", "start_dim")
    end = normalize_axis(end_dim, a.ndim or 1, "flatten", "end_dim")
    if a.ndim == 0:
        return reshape(a, (1,))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(a.shape[start:end + 1]))
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def squeeze(a: ArrayLike, axis: Any = None, *, dim: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis`` or ``dim``). Unlike PyTorch,
    which leaves an axis of another size alone, naming one is an error (as NumPy).

    Shape: a's shape without those axes. d/da = g reshaped back.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(np.zeros((1, 3, 1)))
    >>> squeeze(x).shape, squeeze(x, 0).shape
    ((3,), (3, 1))
    """
    axis, _ = resolve_axis("squeeze", axis, dim)
    a = as_tensor(a)
    if axis is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    else:
        axes = normalize_axes(axis, a.ndim, "squeeze")
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError(
                    f"squeeze: axis {ax} of shape {a.shape} has size {a.shape[ax]}, not 1"
                )
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def unsqueeze(a: ArrayLike, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Insert a size-1 axis at ``axis`` or ``dim`` (negative counts from the new end).

    Shape: a's shape with a 1 inserted. d/da = g reshaped back.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0])
    >>> unsqueeze(x, 0).shape, unsqueeze(x, -1).shape
    ((1, 3), (3, 1))
    """
    axis, _ = resolve_axis("unsqueeze", axis, dim, required=True)
    a = as_tensor(a)
    ax = normalize_axis(axis, a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:ax] + (1,) + a.shape[ax:])


def expand(a: ArrayLike, shape: Any) -> Tensor:
    """PyTorch's name for :func:`broadcast_to`.

    Shape: ``shape``, which a's shape must broadcast to. d/da = g summed back to a's
    shape.

    >>> import tinygrad_edu as tg
    >>> expand(tg.Tensor([[1.0], [2.0]]), (2, 3))
    Tensor([[1. 1. 1.]
            [2. 2. 2.]], shape=(2, 3), dtype=float64)
    """
    return broadcast_to(a, shape)


def _index_item(i: Any) -> Any:
    """One item of an index: Tensors and sequences become (copied) arrays, so the index
    cannot change under the graph after the forward pass."""
    if isinstance(i, Tensor):
        return i.data.copy()
    if isinstance(i, (list, tuple, np.ndarray)):
        out = np.array(i)
        # An empty list selects nothing: as an index it must be integers, not float64.
        return out.astype(np.intp) if out.size == 0 and out.dtype.kind == "f" else out
    return i


def _normalize_index(index: Any) -> Any:
    try:
        if isinstance(index, tuple):
            return tuple(_index_item(i) for i in index)
        return _index_item(index)
    except ValueError:  # NumPy's error for a ragged list
        raise IndexError(f"getitem: index {index!r} is a ragged list (rows of different "
                         "lengths)") from None


def _has_int_array(index: Any) -> bool:
    """True when the index holds an integer array: repeats are possible, so backward
    must accumulate (np.add.at) rather than assign."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype != bool for i in items)


def getitem(a: ArrayLike, index: Any) -> Tensor:
    """a[index] with ints, slices, None, ..., integer arrays and boolean masks.
    d/da = g scattered back into zeros; repeated indices accumulate.

    Shape: NumPy's indexing rules.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> getitem(x, [0, 0, 2])
    Tensor([1. 1. 3.], shape=(3,), dtype=float64, op=getitem)
    >>> getitem(x, [0, 0, 2]).sum().backward()
    >>> x.grad                                    # index 0 taken twice
    Tensor([2. 0. 1.], shape=(3,), dtype=float64)
    """
    a = as_tensor(a)
    index = _normalize_index(index)
    try:
        out = a.data[index]
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor of shape {a.shape})") from None
    accumulate = _has_int_array(index)
    shape = a.shape

    def backward(g: Tensor) -> tuple[Tensor]:
        return (_scatter_add(g, index, shape, accumulate),)

    return share_version(record(np.asarray(out), (a,), backward, "getitem"), a)


def _scatter_add(g: Tensor, index: Any, shape: tuple[int, ...], accumulate: bool) -> Tensor:
    """zeros(shape) with g added at ``index`` (repeats add up when ``accumulate``): the
    backward of getitem. d/dg = g_out[index]."""
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

    return record(out, (g,), backward, "scatter_add")


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0, *,
                dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``axis`` or ``dim``). d/d(each) = its slice
    of g.

    Shapes: equal except along ``axis``, where the result's size is the sum of theirs.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor(np.zeros((2, 2)), requires_grad=True)
    >>> b = tg.Tensor(np.ones((1, 2)), requires_grad=True)
    >>> concatenate([a, b]).shape
    (3, 2)
    >>> (concatenate([a, b]) * tg.Tensor([[1.0], [2.0], [3.0]])).sum().backward()
    >>> b.grad
    Tensor([[3. 3.]], shape=(1, 2), dtype=float64)
    """
    axis, _ = resolve_axis("concatenate", axis, dim, default=0)
    ts = [as_tensor(t) for t in _sequence(tensors, "concatenate")]
    if not ts:
        raise ValueError("concatenate: needs at least one tensor")
    if ts[0].ndim == 0:
        raise ValueError("concatenate: 0-d tensors cannot be joined (use stack)")
    normalize_axis(axis, ts[0].ndim, "concatenate")
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

    return record(out, tuple(ts), backward, "concatenate")


def _sequence(tensors: Any, op: str) -> Sequence[Any]:
    """The tensors to join: a list or a tuple (a Tensor would be split into its rows
    silently, as NumPy does; PyTorch refuses it, and so do we)."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    return tensors


def cat(tensors: Sequence[ArrayLike], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """PyTorch's name for :func:`concatenate`.

    Shapes and derivative: as :func:`concatenate`.

    >>> import tinygrad_edu as tg
    >>> cat([tg.Tensor([1.0]), tg.Tensor([2.0, 3.0])])
    Tensor([1. 2. 3.], shape=(3,), dtype=float64)
    """
    axis, _ = resolve_axis("cat", axis, dim, default=0)
    return concatenate(tensors, axis)


def stack(tensors: Sequence[ArrayLike], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (``axis`` or ``dim``). d/d(each) = g
    indexed along it.

    Shapes: all equal, S; the result has S with len(tensors) inserted at ``axis``.

    >>> import tinygrad_edu as tg
    >>> a, b = tg.Tensor([1.0, 2.0, 3.0]), tg.Tensor([4.0, 5.0, 6.0])
    >>> stack([a, b]).shape, stack([a, b], axis=1).shape
    ((2, 3), (3, 2))
    """
    axis, _ = resolve_axis("stack", axis, dim, default=0)
    ts = [as_tensor(t) for t in _sequence(tensors, "stack")]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    if len({t.shape for t in ts}) != 1:
        shapes = ", ".join(str(t.shape) for t in ts)
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    ax = normalize_axis(axis, ts[0].ndim + 1, "stack")
    out = np.stack([t.data for t in ts], axis=ax)

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        lead = (slice(None),) * ax
        return tuple(
            getitem(g, lead + (i,)) if t.requires_grad else None for i, t in enumerate(ts)
        )

    return record(out, tuple(ts), backward, "stack")
