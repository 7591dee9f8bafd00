"""Softmax, log-softmax and the losses written as compositions (mse_loss).

The softmax cross-entropy that training uses is one fused node, in
:mod:`tinygrad_edu.ops.fused`. ``REDUCTIONS`` and :func:`check_reduction` are the one
list of ``reduction=`` values, shared by every loss and by ``nn``'s loss modules.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops.arithmetic import mul, sub
from tinygrad_edu.ops.broadcasting import sum
from tinygrad_edu.ops.elementwise import exp
from tinygrad_edu.ops.helpers import (
    as_tensor,
    check_kind,
    normalize_axis,
    pair,
    record_using_output,
    resolve_axis,
)
from tinygrad_edu.ops.reductions import mean
from tinygrad_edu.tensor import ArrayLike, Tensor, wrap

__all__ = [
    "softmax", "log_softmax", "mse_loss", "softmax_array", "REDUCTIONS", "check_reduction",
]

#: The values every loss accepts for ``reduction=``, as in PyTorch.
REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, where: str) -> None:
    """Raise a ValueError naming ``where`` unless ``reduction`` is in :data:`REDUCTIONS`.

    >>> check_reduction("avg", "mse_loss")
    Traceback (most recent call last):
        ...
    ValueError: mse_loss: reduction must be one of ('mean', 'sum', 'none'), got 'avg'
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def softmax_array(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax of an array along ``axis``, max-shifted: the forward of :func:`softmax`."""
    if x.shape[axis] == 0:
        return np.exp(x)  # empty, in the dtype the formula gives (float64 for ints)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def softmax(a: ArrayLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(a) / sum(exp(a)) along ``axis`` (or PyTorch's ``dim``), max-shifted against
    overflow. d/da = s * (g - sum(g * s)).

    Shape: a's shape; the entries along ``axis`` sum to 1.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([0.0, np.log(3.0)], requires_grad=True)
    >>> softmax(x).data.round(4)
    array([0.25, 0.75])
    >>> (softmax(x) * tg.Tensor([1.0, 0.0])).sum().backward()
    >>> x.grad.data.round(4)                      # s0 (1 - s0), -s0 s1
    array([ 0.1875, -0.1875])
    """
    axis, _ = resolve_axis("softmax", axis, dim, default=-1)
    a = as_tensor(a)
    ax = normalize_axis(axis, a.ndim, "softmax")
    check_kind(a, "softmax", "iuf", "integers or real floating point")

    def backward(g: Tensor, s: Tensor) -> tuple[Tensor]:
        return (mul(s, sub(g, sum(mul(g, s), ax, keepdims=True))),)

    return record_using_output(softmax_array(a.data, ax), (a,), backward, "softmax")


def log_softmax(a: ArrayLike, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """a - logsumexp(a) along ``axis`` (or ``dim``). d/da = g - softmax(a) * sum(g).

    Shape: a's shape.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([0.0, 0.0], requires_grad=True)
    >>> log_softmax(x).data.round(4)
    array([-0.6931, -0.6931])
    >>> log_softmax(x)[0].backward()
    >>> x.grad
    Tensor([ 0.5 -0.5], shape=(2,), dtype=float64)
    """
    axis, _ = resolve_axis("log_softmax", axis, dim, default=-1)
    a = as_tensor(a)
    ax = normalize_axis(axis, a.ndim, "log_softmax")
    check_kind(a, "log_softmax", "iuf", "integers or real floating point")
    if a.shape[ax] == 0:
        out = np.exp(a.data)  # empty, in the dtype the formula gives
    else:
        shifted = a.data - np.max(a.data, axis=ax, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))

    def backward(g: Tensor, out: Tensor) -> tuple[Tensor]:
        return (sub(g, mul(exp(out), sum(g, ax, keepdims=True))),)

    return record_using_output(out, (a,), backward, "log_softmax")


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error. Shapes must be equal (broadcasting here is almost always a
    bug). d/dinput = 2 (input - target) / n.

    Shape: () for ``reduction="mean"`` or ``"sum"``, input's shape for ``"none"``.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 3.0], requires_grad=True)
    >>> float(mse_loss(x, [0.0, 1.0]))
    2.5
    >>> mse_loss(x, [0.0, 1.0]).backward()
    >>> x.grad
    Tensor([1. 2.], shape=(2,), dtype=float64)
    """
    x, t = pair(input, target)
    check_kind(x, "mse_loss", "iuf", "an input of integers or real floating point")
    check_kind(t, "mse_loss", "iuf", "a target of integers or real floating point")
    if not t.requires_grad and t.dtype != x.dtype and x.dtype.kind == "f":
        # A float64 target array must not turn a float32 model's loss float64.
        t = wrap(t.data.astype(x.dtype))
    if x.shape != t.shape:
        raise ValueError(
            f"mse_loss: input shape {x.shape} and target shape {t.shape} differ; "
            "reshape one of them (broadcasting would silently compare the wrong pairs)"
        )
    check_reduction(reduction, "mse_loss")
    if reduction == "mean" and x.size == 0:
        raise ValueError(f"mse_loss: the mean over an empty input (shape {x.shape}) is "
                         "undefined; use reduction='sum' or 'none'")
    d = sub(x, t)
    sq = mul(d, d)
    if reduction == "none":
        return sq
    return mean(sq) if reduction == "mean" else sum(sq)
