"""Arithmetic: add, sub, mul, div, neg and matmul.

Each op's forward runs on arrays; its backward, right below, returns one gradient per
input, written with Tensor ops (so ``create_graph=True`` can differentiate it again)
and summed back to the input's shape by :func:`unbroadcast` where broadcasting widened
it. None stands for "no gradient needed" (an input that does not require grad).
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops.broadcasting import reshape, unbroadcast
from tinygrad_edu.ops.helpers import as_tensor, broadcast_forward, dtype_error, pair
from tinygrad_edu.ops.shape import swapaxes
from tinygrad_edu.tensor import ArrayLike, Tensor, record

__all__ = ["add", "sub", "mul", "div", "neg", "matmul", "matmul_error"]


def add(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a + b with broadcasting. d/da = 1, d/db = 1 (summed over broadcast axes).

    Shapes: a and b broadcast against each other (NumPy's rules) to the result's shape.

    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> b = tg.Tensor([10.0, 20.0], requires_grad=True)
    >>> add(a, b).sum().backward()
    >>> b.grad                                    # summed over the broadcast axis
    Tensor([2. 2.], shape=(2,), dtype=float64)
    """
    a, b = pair(a, b)
    out = broadcast_forward("add", np.add, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(g, b.shape) if b.requires_grad else None,
        )

    return record(out, (a, b), backward, "add")


def sub(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a - b with broadcasting. d/da = 1, d/db = -1.

    Shapes: a and b broadcast against each other to the result's shape; each gradient is
    summed back to its operand's shape.

    >>> import tinygrad_edu as tg
    >>> a, b = tg.Tensor([5.0, 7.0], requires_grad=True), tg.Tensor(2.0, requires_grad=True)
    >>> sub(a, b)
    Tensor([3. 5.], shape=(2,), dtype=float64, op=sub)
    >>> sub(a, b).sum().backward()
    >>> b.grad
    Tensor(-2., shape=(), dtype=float64)
    """
    a, b = pair(a, b)
    out = broadcast_forward("sub", np.subtract, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(g, a.shape) if a.requires_grad else None,
            unbroadcast(neg(g), b.shape) if b.requires_grad else None,
        )

    return record(out, (a, b), backward, "sub")


def mul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a * b with broadcasting. d/da = b, d/db = a.

    Shapes: a and b broadcast against each other to the result's shape; each gradient is
    summed back to its operand's shape.

    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> b = tg.Tensor([3.0, 4.0], requires_grad=True)
    >>> mul(a, b).sum().backward()
    >>> a.grad, b.grad
    (Tensor([3. 4.], shape=(2,), dtype=float64), Tensor([1. 2.], shape=(2,), dtype=float64))
    """
    a, b = pair(a, b)
    out = broadcast_forward("mul", np.multiply, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(mul(g, b), a.shape) if a.requires_grad else None,
            unbroadcast(mul(g, a), b.shape) if b.requires_grad else None,
        )

    parents = (a, b)

    return record(out, parents, backward, "mul", parents)


def div(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a / b with broadcasting. d/da = 1/b, d/db = -a/b**2.

    Shapes: a and b broadcast against each other to the result's shape; each gradient is
    summed back to its operand's shape.

    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> b = tg.Tensor([2.0, 4.0], requires_grad=True)
    >>> div(a, b).sum().backward()
    >>> a.grad
    Tensor([0.5  0.25], shape=(2,), dtype=float64)
    >>> b.grad
    Tensor([-0.25  -0.125], shape=(2,), dtype=float64)
    """
    a, b = pair(a, b)
    out = broadcast_forward("div", np.true_divide, a, b)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        return (
            unbroadcast(div(g, b), a.shape) if a.requires_grad else None,
            # -g * (a / b) / b: dividing twice never forms b * b, which underflows to 0
            # for |b| < 1e-19 in float32 (and the gradient would be -inf).
            unbroadcast(neg(div(mul(g, div(a, b)), b)), b.shape) if b.requires_grad else None,
        )

    parents = (a, b)

    return record(out, parents, backward, "div", parents)


def neg(a: ArrayLike) -> Tensor:
    """-a. d/da = -1.

    Shape: a's shape.

    >>> import tinygrad_edu as tg
    >>> neg(tg.Tensor([1.0, -2.0]))
    Tensor([-1.  2.], shape=(2,), dtype=float64)
    """
    a = as_tensor(a)

    def backward(g: Tensor) -> tuple[Tensor]:
        return (neg(g),)

    if a.dtype.kind not in "iufc":  # NumPy refuses -True: use ~ or logical_not
        raise dtype_error("neg", a)
    return record(-a.data, (a,), backward, "neg")


def matmul_error(a: Tensor, b: Tensor, op: str = "matmul") -> ValueError:
    if a.ndim == 0 or b.ndim == 0:
        return ValueError(
            f"{op}: both operands need at least 1 dimension, got shapes {a.shape} and "
            f"{b.shape} (use mul for scalars)"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return ValueError(
            f"{op}: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})"
        )
    return ValueError(
        f"{op}: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"
    )


def matmul(a: ArrayLike, b: ArrayLike) -> Tensor:
    """a @ b for 1-D, 2-D and batched N-D operands (NumPy's matmul rules).

    Shapes: (..., n, k) @ (..., k, m) -> (..., m). d/da = g @ b^T, d/db = a^T @ g,
    each summed over broadcast batch axes; a 1-D operand is a row (a) or column (b).

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    >>> b = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    >>> y = matmul(a, b)
    >>> y.shape
    (2, 2)
    >>> y.sum().backward()
    >>> a.grad                                    # g @ b^T: the row sums of b
    Tensor([[1. 5. 9.]
            [1. 5. 9.]], shape=(2, 3), dtype=float64)
    """
    a, b = pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise matmul_error(a, b)
    try:
        out = np.matmul(a.data, b.data)
    except ValueError:
        raise matmul_error(a, b) from None

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        # A 1-D operand is a row (a) or a column (b); g gets the axis it dropped back.
        a2 = a if a.ndim > 1 else reshape(a, (1, -1))
        b2 = b if b.ndim > 1 else reshape(b, (-1, 1))
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = _reshaped(g, batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if a.requires_grad:  # g @ b^T
            ga = _reshaped(unbroadcast(matmul(g2, swapaxes(b2, -1, -2)), a2.shape), a.shape)
        if b.requires_grad:  # a^T @ g
            gb = _reshaped(unbroadcast(matmul(swapaxes(a2, -1, -2), g2), b2.shape), b.shape)
        return ga, gb

    parents = (a, b)

    return record(out, parents, backward, "matmul", parents)


def _reshaped(t: Tensor, shape: tuple[int, ...]) -> Tensor:
    # The 2-D case, the common one, needs no reshape at all.
    return t if t.shape == shape else reshape(t, shape)
