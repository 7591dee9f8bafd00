"""What a node is called, in the picture and in the step table alike.

Plain text only: each output format escapes it in its own way (``dot.quote`` for DOT,
``svg.escape`` for SVG).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tinygrad_edu.tensor import Tensor

__all__ = ["shape_text", "summary", "names_by_id", "node_head", "node_lines"]


def shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)`` as ``(2,3)``: compact enough for a box.

    >>> shape_text((2, 3)), shape_text(()), shape_text((5,))
    ('(2,3)', '()', '(5,)')
    """
    return str(tuple(shape)).replace(" ", "")


def summary(values: np.ndarray | Tensor | None, width: int = 44) -> str:
    """A one-line glimpse of an array: its values when they fit in ``width``
    characters (the corners and ``...`` for many), else its L2 norm.

    >>> summary(np.array([1.0, 0.5, -2.0]))
    '[1 0.5 -2]'
    >>> summary(np.arange(100.0))
    '[0 1 ... 98 99]'
    >>> summary(np.full((3, 4), 2.0), width=20)
    'norm 6.928'
    >>> summary(None)
    'None'
    """
    if values is None:
        return "None"
    array = np.asarray(values.data if isinstance(values, Tensor) else values)
    text = np.array2string(array, precision=4, threshold=6, edgeitems=2,
                           max_line_width=10**6, separator=" ",
                           formatter={"float_kind": lambda v: f"{v:.4g}"})
    text = " ".join(text.split())  # rows of a matrix on one line
    if len(text) <= width:
        return text
    return f"norm {np.linalg.norm(array.astype(np.float64)):.4g}"


def names_by_id(names: Mapping[str, Tensor] | None, where: str) -> dict[int, str]:
    """``{"W1": W1}`` turned round, by tensor identity; a TypeError naming ``where`` for a
    value that is not a Tensor (``dict(model.named_parameters())`` gives Tensors)."""
    by_id: dict[int, str] = {}
    for name, t in (names or {}).items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: names[{name!r}] is a {type(t).__name__}, not a Tensor")
        by_id[id(t)] = str(name)
    return by_id


def node_head(t: Tensor, number: int, name: str | None) -> str:
    """``#3 matmul``, ``#1 W1``, ``#7 loss = cross_entropy`` or ``#2 leaf``; an op
    whose graph backward freed says so."""
    if t.op is None:
        what = name if name is not None else ("leaf" if t.requires_grad else "constant")
    else:
        op = t.op + (" (freed)" if t.backward_fn is None else "")
        what = f"{name} = {op}" if name is not None else op
    return f"#{number} {what}"


def node_lines(t: Tensor, number: int, name: str | None, show_data: bool = False,
               show_grad: bool = False) -> list[str]:
    """The text of a node's box: its head, shape and dtype, and on request its values
    and its ``.grad``."""
    lines = [node_head(t, number, name), f"{shape_text(t.shape)} {t.dtype}"]
    if show_data:
        lines.append("data " + summary(t.data))
    if show_grad:
        lines.append("grad " + summary(t.grad))
    return lines
