"""What a Tensor can be made from, and what may require grad.

``Tensor(data)`` takes numbers, (nested) lists and tuples of numbers, and ndarrays.
Everything else that NumPy would quietly turn into an array of Python objects (None, a
dict, a set, a generator, a ragged list) is refused here with a TypeError, and so is a
list of tensors that require grad, which a new tensor would silently cut from the graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["as_array", "check_differentiable", "numeric_dtype"]


def check_differentiable(dtype: np.dtype, where: str) -> None:
    # Complex numbers are refused too: their gradients need conjugation rules that no op
    # here implements, so they would come out silently wrong.
    if dtype.kind != "f":
        raise TypeError(
            f"{where}: only real floating-point tensors can require grad, got dtype {dtype}; "
            "convert first, e.g. Tensor(x, dtype=np.float32)"
        )


def as_array(data: Any, dtype: Any) -> np.ndarray:
    """``np.asarray(data, dtype)``, refusing what would make a meaningless tensor."""
    if data is None or isinstance(data, (dict, set, frozenset, str, bytes)) or (
            isinstance(data, Iterator)):
        raise TypeError(
            f"Tensor: cannot make a tensor from a {type(data).__name__}; give a number, a "
            "(nested) list or tuple of numbers, or an ndarray"
        )
    if isinstance(data, (list, tuple)) and _holds_graph(data):
        raise TypeError(
            "Tensor: the list holds tensors that require grad, and a new tensor would cut "
            "them from the graph; use tg.functional.stack(list) to keep their gradients "
            "(or detach them first)"
        )
    target = None if dtype is None else numeric_dtype(dtype, "Tensor")
    try:
        arr = np.asarray(data)
    except ValueError:  # NumPy 2's error for ragged lists
        raise ValueError(
            "Tensor: the nested lists are ragged (rows of different lengths); give numbers "
            "of one shape"
        ) from None
    if target is not None and arr.dtype.kind == "O" and all(
            type(v) is int for v in arr.ravel()):  # Python ints beyond int64
        try:
            arr = np.asarray(data, dtype=target)
        except OverflowError:
            raise ValueError(f"Tensor: the integers do not fit in {target}") from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor: {type(data).__name__} data gave an array of dtype {arr.dtype} (ragged "
            "lists, strings, or values that are not numbers); give numbers of one shape"
        )
    if target is not None:
        if arr.dtype.kind == "c" and target.kind != "c":
            raise TypeError(f"Tensor: complex data cannot be made {target} without dropping "
                            "the imaginary part; pass data.real if that is what you mean")
        arr = arr.astype(target, copy=False)
    return arr


def numeric_dtype(dtype: Any, where: str) -> np.dtype:
    """``dtype`` as a NumPy dtype of numbers (bool, int, float or complex); anything else
    is a TypeError naming ``where``."""
    try:
        target = np.dtype(dtype)
    except (TypeError, ValueError):
        target = None
    if target is None or target.kind not in "biufc":
        raise TypeError(f"{where}: dtype must be a numeric dtype (np.float32, 'int64', ...), "
                        f"got {dtype!r}")
    return target


def _holds_graph(data: list[Any] | tuple[Any, ...]) -> bool:
    stack = [data]
    while stack:
        for item in stack.pop():
            if getattr(item, "requires_grad", False) is True and hasattr(item, "backward_fn"):
                return True
            if isinstance(item, (list, tuple)):
                stack.append(item)
    return False
