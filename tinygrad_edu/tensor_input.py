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

__all__ = ["as_array", "check_differentiable"]


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
            "them from the graph; use tg.stack(list) to keep their gradients (or detach "
            "them first)"
        )
    try:
        arr = np.asarray(data, dtype=dtype)
    except ValueError as exc:  # NumPy 2's error for ragged lists
        raise ValueError(
            f"Tensor: the nested lists are ragged (rows of different lengths): {exc}"
        ) from None
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor: {type(data).__name__} data gave an array of dtype {arr.dtype} (ragged "
            "lists, strings, or values that are not numbers); give numbers of one shape"
        )
    return arr


def _holds_graph(data: list[Any] | tuple[Any, ...]) -> bool:
    stack = [data]
    while stack:
        for item in stack.pop():
            if getattr(item, "requires_grad", False) is True and hasattr(item, "backward_fn"):
                return True
            if isinstance(item, (list, tuple)):
                stack.append(item)
    return False
