"""In-place ops: ``+= -= *= /=`` and ``add_ sub_ mul_ div_ zero_ fill_ copy_``.

They change a tensor's memory instead of making a new tensor, so they record no graph.
Two rules keep them from giving silently wrong gradients:

* On a tensor that requires grad they are allowed only under ``no_grad`` (a parameter
  update); elsewhere they raise and show the out-of-place form (``h = h + b``), which
  the graph can record. The same holds when the other operand requires grad.
* Each one bumps the tensor's version. An op whose backward reads a tensor remembered
  its version, and backward refuses to run if it changed since.

Writes through ``.data`` (``p.data -= lr * g``) bypass both rules: that is the
documented escape hatch, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import state as grad_mode
from tinygrad_edu.tensor import Tensor

__all__ = ["add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_"]

_OUT_OF_PLACE = {"add_": "h = h + b", "sub_": "h = h - b", "mul_": "h = h * b",
                 "div_": "h = h / b", "zero_": "h = tg.zeros_like(h)",
                 "fill_": "h = tg.full(h.shape, value)", "copy_": "h = src * 1.0"}


def _check(t: Tensor, op: str, other: Any = None) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor to update, got {type(t).__name__}")
    if grad_mode.enabled and (t.requires_grad or getattr(other, "requires_grad", False)):
        who = "a tensor that requires grad" if t.requires_grad else (
            "a tensor from an operand that requires grad")
        raise RuntimeError(
            f"{op}: in-place update of {who} (shape {t.shape}) while grad mode is on; "
            f"the graph cannot record it. Write it out of place ({_OUT_OF_PLACE[op]}), "
            "or, for a parameter update, inside `with tg.no_grad():`"
        )


def _apply(t: Tensor, op: str, ufunc: np.ufunc, other: Any) -> Tensor:
    _check(t, op, other)
    value = other.data if isinstance(other, Tensor) else other
    try:
        ufunc(t.data, value, out=t.data, casting="same_kind")
    except TypeError:  # NumPy's casting error, e.g. an int tensor += 0.5
        raise TypeError(
            f"{op}: cannot update a tensor of dtype {t.dtype} in place with a value of "
            f"dtype {np.asarray(value).dtype}"
        ) from None
    except ValueError as exc:
        raise _value_error(op, t, value, exc) from None
    t.bump_version()
    return t


def _value_error(op: str, t: Tensor, value: Any, exc: ValueError) -> ValueError:
    if not t.data.flags.writeable:
        return ValueError(f"{op}: the tensor's memory is read-only (shape {t.shape}; "
                          "a broadcast view?); update a copy")
    return ValueError(f"{op}: a value of shape {np.shape(value)} cannot update a tensor of "
                      f"shape {t.shape} in place (it must broadcast to {t.shape})")


def add_(t: Tensor, other: Any) -> Tensor:
    """t += other, in place; returns t. Shape: other broadcasts to t's shape.

    No graph: on a tensor that requires grad it runs only under ``no_grad``.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     _ = w.add_(1.0)
    >>> w
    Tensor([2. 3.], shape=(2,), dtype=float64, requires_grad=True)
    """
    return _apply(t, "add_", np.add, other)


def sub_(t: Tensor, other: Any) -> Tensor:
    """t -= other, in place; returns t. Shape: other broadcasts to t's shape.

    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.sub_(1.0)
    >>> w, w.version
    (Tensor([0. 1.], shape=(2,), dtype=float64), 1)
    """
    return _apply(t, "sub_", np.subtract, other)


def mul_(t: Tensor, other: Any) -> Tensor:
    """t *= other, in place; returns t. Shape: other broadcasts to t's shape.

    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.mul_(3.0)
    >>> w, w.version
    (Tensor([3. 6.], shape=(2,), dtype=float64), 1)
    """
    return _apply(t, "mul_", np.multiply, other)


def div_(t: Tensor, other: Any) -> Tensor:
    """t /= other, in place; returns t. Shape: other broadcasts to t's shape.

    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.div_(2.0)
    >>> w, w.version
    (Tensor([0.5 1. ], shape=(2,), dtype=float64), 1)
    """
    return _apply(t, "div_", np.true_divide, other)


def fill_(t: Tensor, value: Any) -> Tensor:
    """Every entry of t set to ``value``, in place; returns t.

    Shape: t's shape, unchanged.
    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.fill_(7.0)
    >>> w, w.version
    (Tensor([7. 7.], shape=(2,), dtype=float64), 1)
    """
    return _fill(t, value, "fill_")


def zero_(t: Tensor) -> Tensor:
    """Every entry of t set to 0, in place; returns t.

    Shape: t's shape, unchanged.
    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.zero_()
    >>> w, w.version
    (Tensor([0. 0.], shape=(2,), dtype=float64), 1)
    """
    return _fill(t, 0, "zero_")


def _fill(t: Tensor, value: Any, op: str) -> Tensor:
    _check(t, op, value)
    if not t.data.flags.writeable:
        raise _value_error(op, t, value, ValueError())
    v = np.asarray(value.data if isinstance(value, Tensor) else value)
    if v.dtype.kind not in "biufc":
        raise TypeError(f"{op}: the value must be a number, got {type(value).__name__}")
    if v.ndim:  # PyTorch's rule: one value, not an array to broadcast (that is copy_)
        raise ValueError(f"{op}: the value must be a number or a 0-d tensor, got shape "
                         f"{v.shape} (use copy_ to copy an array)")
    if v.dtype.kind == "c" and t.dtype.kind != "c":
        raise TypeError(f"{op}: cannot fill a tensor of dtype {t.dtype} with a complex value")
    if t.dtype.kind in "iu" and v.dtype.kind == "f" and not np.isfinite(v):
        raise ValueError(f"{op}: cannot fill a tensor of dtype {t.dtype} with {v}")
    t.data[...] = v
    t.bump_version()
    return t


def copy_(t: Tensor, src: Any) -> Tensor:
    """t's entries replaced by ``src``'s (broadcast to t's shape), in place; returns t.

    No graph (allowed under ``no_grad`` only, if t requires grad); t's version goes up.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, 2.0])
    >>> _ = w.copy_([5.0, 6.0])
    >>> w, w.version
    (Tensor([5. 6.], shape=(2,), dtype=float64), 1)
    """
    _check(t, "copy_", src)
    value = src.data if isinstance(src, Tensor) else np.asarray(src)
    try:
        if np.broadcast_shapes(t.shape, value.shape) != t.shape:  # copyto would drop 1s
            raise ValueError
        np.copyto(t.data, value, casting="same_kind")
    except TypeError:
        raise TypeError(f"copy_: cannot copy dtype {value.dtype} into a tensor of dtype "
                        f"{t.dtype}") from None
    except ValueError as exc:
        raise _value_error("copy_", t, value, exc) from None
    t.bump_version()
    return t
