"""What every op needs and no op owns: argument conversion, axis checks, error texts,
and the two recording helpers.

* :func:`broadcast_forward` runs a binary forward and turns NumPy's broadcast error
  into one that names the op and the shapes.
* :func:`record_using_output` records an op whose backward needs the op's own result
  (``exp``, ``tanh``, ``softmax`` ...). The closure may not hold that result strongly:
  the result holds the closure, so that would be a reference cycle keeping the whole
  graph alive until the garbage collector runs. The helper holds it weakly and hands it
  to the backward as a second argument.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap
from tinygrad_edu.versions import modified_error

__all__ = [
    "as_tensor", "pair", "broadcast_error", "broadcast_forward", "dtype_error",
    "check_kind", "normalize_axes", "normalize_axis", "shape_arg", "resolve_axis",
    "keepdims_shape", "record_using_output",
]


def as_tensor(x: ArrayLike, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor. A Python scalar takes the dtype of ``like`` where NumPy's rules
    allow (``float32 * 2.0`` stays float32), since a 0-d float64 array would upcast."""
    if isinstance(x, Tensor):
        return x
    if like is not None and type(x) in (float, int, bool, complex) and (
            like.data.dtype.kind in "biufc"):
        kind = like.data.dtype.kind
        # Fast path for the common cases; np.result_type applies NumPy's full rules.
        if (kind == "f" and type(x) is not complex) or (kind in "iu" and type(x) is int):
            dtype = like.data.dtype
        else:
            dtype = np.result_type(like.data, x)
        return wrap(np.array(x, dtype=dtype))
    return wrap(np.asarray(x))


def pair(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as Tensors (a scalar takes the other's dtype)."""
    # isinstance, not type(): a Parameter is a Tensor too.
    if isinstance(a, Tensor):
        return a, (b if isinstance(b, Tensor) else as_tensor(b, a))
    if type(b) in (float, int, bool, complex):
        a = as_tensor(a)  # an array and a number: the number is the weak one
        return a, as_tensor(b, a)
    b = as_tensor(b)
    return as_tensor(a, b), b


def broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
        "(trailing dimensions must be equal or 1)"
    )


_OBJECT = np.dtype(object)


def dtype_error(op: str, *tensors: Tensor) -> TypeError:
    """The error for operands whose dtypes ``op`` cannot compute with (a string, an
    object, or booleans where NumPy refuses them)."""
    dtypes = " and ".join(str(t.dtype) for t in tensors)
    if any(t.dtype.kind not in "biufc" for t in tensors):
        return TypeError(f"{op}: operands must be numbers, arrays or Tensors, got dtypes "
                         f"{dtypes}")
    return TypeError(f"{op}: not defined for dtypes {dtypes}")


def broadcast_forward(op: str, fn: Callable[[Any, Any], Any], a: Tensor,
                      b: Tensor) -> np.ndarray:
    """``fn(a.data, b.data)``, with a broadcast failure (or operands of dtypes ``fn``
    has no loop for) reported in ``op``'s name."""
    try:
        out = fn(a.data, b.data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    except TypeError:
        raise dtype_error(op, a, b) from None
    if out.dtype is _OBJECT:  # None or another object, met on an empty operand
        raise dtype_error(op, a, b)
    return out


def check_kind(a: Tensor, op: str, kinds: str, expected: str) -> None:
    """Raise a TypeError naming ``op`` unless ``a``'s dtype is of one of ``kinds``
    (NumPy's dtype kinds: "b" bool, "iu" integers, "f" floating, "c" complex)."""
    if a.dtype.kind not in kinds:
        raise TypeError(f"{op}: expected {expected}, got dtype {a.dtype}")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def resolve_axis(
    op: str,
    axis: Any,
    dim: Any,
    keepdims: bool = False,
    keepdim: bool | None = None,
    *,
    default: Any = None,
    required: bool = False,
) -> tuple[Any, bool]:
    """NumPy's ``axis``/``keepdims`` from either spelling: every op that takes an axis
    also takes PyTorch's ``dim``/``keepdim`` (keyword-only), and calls this once.

    ``default`` is the op's default axis (None for reductions, -1 for softmax, 0 for
    concatenate): an ``axis`` other than it, given together with ``dim``, is both
    spellings at once, and so is ``keepdims=True`` with any ``keepdim``; either is a
    TypeError naming ``op``. ``required``: the op has no default axis (unsqueeze).

    >>> resolve_axis("sum", None, 1, keepdim=True)
    (1, True)
    >>> resolve_axis("sum", 0, 1)
    Traceback (most recent call last):
        ...
    TypeError: sum: got both axis=0 and dim=1; pass one of them (dim is PyTorch's name for axis)
    """
    if dim is not None:
        if axis is not default and axis != default:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one of them "
                            "(dim is PyTorch's name for axis)")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                            "pass one of them (keepdim is PyTorch's name for keepdims)")
        keepdims = keepdim
    if required and axis is None:
        raise TypeError(f"{op}: missing the axis (pass axis= or dim=)")
    return axis, bool(keepdims)


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None for all, an int, or a tuple or list of ints; negatives count from
    the end) as non-negative axes, checked against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:  # the common case, without the checks below
        return (axis,)
    if _is_int(axis):
        axes: tuple[Any, ...] = (axis,)
    elif isinstance(axis, (tuple, list)) and all(_is_int(ax) for ax in axis):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got "
                        f"{axis!r} ({type(axis).__name__})")
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor of {ndim} dims")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(out)


def normalize_axis(axis: Any, ndim: int, op: str, name: str = "axis") -> int:
    """One axis (an int; negative counts from the end), checked against ``ndim``."""
    if not _is_int(axis):
        raise TypeError(f"{op}: {name} must be an int, got {axis!r} ({type(axis).__name__})")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: {name} {axis} is out of range for a tensor of {ndim} dims")
    return int(axis) % ndim


def shape_arg(shape: Any, op: str, minimum: int = 0) -> tuple[int, ...]:
    """``shape`` (an int, or a tuple or list of ints, each >= ``minimum``: -1 where one
    size may be inferred) as a tuple of ints. A bool, a float or a string is refused,
    since NumPy would take ``True`` as 1 (and, for reshape, any negative size as -1)."""
    if type(shape) is tuple:  # the common case, checked without building anything
        for n in shape:
            if type(n) is not int or n < minimum:
                break
        else:
            return shape
    items = (shape,) if _is_int(shape) else shape
    if not isinstance(items, (tuple, list)) or not all(_is_int(n) for n in items):
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}")
    if any(n < minimum for n in items):
        raise ValueError(f"{op}: shape {shape!r} has a size below {minimum}")
    return tuple(int(n) for n in items)


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def record_using_output(
    data: np.ndarray,
    parents: tuple[Tensor, ...],
    backward: Callable[[Tensor, Tensor], tuple[Tensor | None, ...]],
    op: str,
    saved: tuple[Tensor, ...] = (),
) -> Tensor:
    """Record an op whose ``backward(g, out)`` needs the op's own result ``out``.

    The result is held weakly (see the module's docstring): by the time backward runs,
    a caller still holds it, since backward starts from it or from a tensor built on it.
    ``saved`` lists the inputs the backward reads too (see :func:`record`); the output
    itself is checked here: it was version 0 when the op made it.
    """
    def closure(g: Tensor) -> tuple[Tensor | None, ...]:
        out = out_ref()
        if out.version:  # type: ignore[union-attr]
            raise modified_error(op, out, 0, "its own output")  # type: ignore[arg-type]
        return backward(g, out)  # type: ignore[arg-type]

    result = record(data, parents, closure, op, saved)
    out_ref = weakref.ref(result)
    return result
