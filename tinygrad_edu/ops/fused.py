"""Fused ops: one graph node where the teaching ops would record several, for speed.

Each op here replaces a composition of the ops in the other modules, and a test
(``tests/test_fast_paths.py``) proves it equal to that composition in values, gradients
and second derivatives:

* :func:`linear` replaces ``matmul(x, weight) + bias`` (the book's Affine layer): one
  node, and no gradient computed for an input that needs none (an image batch);
* :func:`cross_entropy` replaces ``-(target * log_softmax(logits)).sum(1).mean()`` (the
  book's SoftmaxWithLoss): one stable node whose backward reuses the forward's
  exponentials.

This is the one module where an op carries two backwards: a plain-array one, the hot
path of training, used when no graph is being recorded; and one written with Tensor
ops, used under ``create_graph=True`` so that the gradients can be differentiated again.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.grad_mode import state as grad_mode
from tinygrad_edu.ops.arithmetic import add, div, matmul, matmul_error, mul, neg, sub
from tinygrad_edu.ops.broadcasting import reshape, sum
from tinygrad_edu.ops.helpers import as_tensor, pair
from tinygrad_edu.ops.losses import check_reduction, log_softmax, softmax
from tinygrad_edu.ops.shape import transpose
from tinygrad_edu.tensor import ArrayLike, Tensor, record, wrap

__all__ = ["linear", "cross_entropy"]


def linear(x: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None) -> Tensor:
    """x @ weight + bias in one node (the book's Affine, weight of shape (in, out)).

    Shapes: (N, in) @ (in, out) + (out,) -> (N, out). d/dx = g @ W^T, d/dW = x^T @ g,
    d/db = g summed over N. No gradient is computed for an input that needs none (an
    image batch), which is most of the saving over hand-written layers.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> x = np.ones((4, 3))                       # a batch: no gradient wanted
    >>> W = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    >>> b = tg.Tensor(np.zeros(2), requires_grad=True)
    >>> y = linear(x, W, b)
    >>> y.shape, y.op
    ((4, 2), 'linear')
    >>> y.sum().backward()
    >>> W.grad, b.grad
    (Tensor([[4. 4.]
            [4. 4.]
            [4. 4.]], shape=(3, 2), dtype=float64), Tensor([4. 4.], shape=(2,), dtype=float64))
    """
    x, weight = pair(x, weight)
    b = None if bias is None else as_tensor(bias, weight)
    if not (x.ndim == 2 and weight.ndim == 2 and (b is None or b.ndim == 1)):
        try:
            out = matmul(x, weight)
        except ValueError:
            raise matmul_error(x, weight, "linear") from None
        except TypeError as exc:  # a complex operand with one that requires grad
            raise TypeError(f"linear: {exc}") from None
        if b is None:
            return out
        try:  # the bias as given: a Python number takes the product's dtype (NumPy 2)
            return add(out, bias)
        except ValueError:
            raise ValueError(f"linear: bias of shape {b.shape} does not broadcast with the "
                             f"output's shape {out.shape}") from None
        except TypeError as exc:
            raise TypeError(f"linear: {exc}") from None
    try:
        out_data = np.matmul(x.data, weight.data)
    except ValueError:
        raise matmul_error(x, weight, "linear") from None
    if b is not None:
        if b.shape != (weight.shape[1],):
            raise ValueError(
                f"linear: bias of shape {b.shape} does not match weight {weight.shape}; "
                f"expected ({weight.shape[1]},)"
            )
        # out_data is a fresh array, so adding in place is safe where the dtype stays.
        out_data = np.add(out_data, b.data, out=out_data if b.dtype == out_data.dtype else None)

    def backward(g: Tensor) -> tuple[Tensor | None, ...]:
        need_b = b is not None and b.requires_grad
        if grad_mode.enabled:
            # create_graph: the three products as Tensor ops, so they are recorded.
            gx = matmul(g, transpose(weight)) if x.requires_grad else None
            gw = matmul(transpose(x), g) if weight.requires_grad else None
            gb = sum(g, axis=0) if need_b else None
        else:
            # Plain backward, the hot path of training: the same products on arrays,
            # without a wrapper per product.
            gd = g.data
            gx = wrap(gd @ weight.data.T) if x.requires_grad else None
            gw = wrap(x.data.T @ gd) if weight.requires_grad else None
            gb = wrap(gd.sum(axis=0)) if need_b else None
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, weight) if b is None else (x, weight, b)
    return record(out_data, parents, backward, "linear", (x, weight))


def cross_entropy(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits, in one stable node (the book's SoftmaxWithLoss).

    Shapes: logits (N, C) (or (C,)); target either class indices (N,) of an integer
    dtype, or one-hot / probability rows (N, C). loss = -sum(t * log_softmax(logits)),
    averaged over N for ``reduction="mean"``. d/dlogits = (softmax * sum(t) - t) / N.

    With ``reduction="sum"`` the division by N is left out; ``"none"`` gives the N losses.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> logits = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 2]))
    >>> round(loss.item(), 4)                     # log 3
    1.0986
    >>> loss.backward()
    >>> logits.grad.data.round(4)                 # (softmax - t) / N
    array([[-0.3333,  0.1667,  0.1667],
           [ 0.1667,  0.1667, -0.3333]])
    """
    logits = as_tensor(logits)
    check_reduction(reduction, "cross_entropy")
    tgt = as_tensor(target)
    if logits.ndim == 1:  # one unbatched sample: a batch of one
        if tgt.shape != logits.shape and tgt.ndim != 0:
            raise ValueError(
                f"cross_entropy: target shape {tgt.shape} does not fit logits {logits.shape}; "
                f"expected a class index (shape ()) or probabilities {logits.shape}"
            )
        tgt = reshape(tgt, (1,) + tgt.shape)
        batched = cross_entropy(reshape(logits, (1, -1)), tgt, reduction)
        return reshape(batched, ()) if reduction == "none" else batched
    if logits.ndim != 2:
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) or (C,), got {logits.shape}"
        )
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got {logits.dtype}")
    n, c = logits.shape
    if c == 0:
        raise ValueError(f"cross_entropy: logits of shape {logits.shape} have no classes")
    # log_softmax = shifted - log(sum(exp(shifted))); the exponentials are kept, since
    # backward's softmax is just exps / sums. (Array methods: np.sum's wrapper costs
    # more than the sum itself at these sizes.)
    shifted = logits.data - logits.data.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    log_sums = np.log(sums)[:, 0]
    rows = np.arange(n)

    if tgt.shape == (n, c):
        if tgt.dtype.kind not in "biuf":
            raise TypeError(f"cross_entropy: soft targets must be real numbers, got dtype "
                            f"{tgt.dtype}")
        soft = tgt.data.astype(logits.dtype, copy=False)
        row_mass = soft.sum(axis=1)
        losses = row_mass * log_sums - np.einsum("ij,ij->i", soft, shifted)
        index = None
    elif tgt.shape == (n,):
        if tgt.dtype.kind not in "iu":
            raise TypeError(
                f"cross_entropy: class-index targets must have an integer dtype, got "
                f"{tgt.dtype}; pass one-hot rows of shape ({n}, {c}) for soft targets"
            )
        index = tgt.data
        if n and (index.min() < 0 or index.max() >= c):
            pos = int(np.argmax((index < 0) | (index >= c)))
            raise IndexError(
                f"cross_entropy: target class {int(index[pos])} at position {pos} is out "
                f"of range [0, {c}) for logits of shape {logits.shape}"
            )
        soft = row_mass = None
        losses = log_sums - shifted[rows, index]
    else:
        raise ValueError(
            f"cross_entropy: target shape {tgt.shape} does not fit logits {logits.shape}; "
            f"expected class indices ({n},) or one-hot rows ({n}, {c})"
        )
    if reduction == "none":
        out = losses
    else:
        total = losses.sum()
        out = np.asarray(total / n if reduction == "mean" else total, dtype=logits.dtype)

    def backward(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        g_logits = g_target = None
        if logits.requires_grad and not grad_mode.enabled:
            # Plain backward, the hot path of training: (softmax - t) * g / N straight
            # from the saved exponentials, in place on one fresh array.
            d = exps / sums
            if index is not None:
                d[rows, index] -= 1
            else:
                d *= row_mass[:, None]
                d -= soft
            d *= g.data[:, None] if reduction == "none" else g.data
            if reduction == "mean":
                d /= n
            g_logits = wrap(d)
        if (logits.requires_grad and g_logits is None) or (index is None and tgt.requires_grad):
            # Recorded backward (create_graph), or a soft target that wants its gradient:
            # Tensor ops, with softmax a graph node of the logits.
            if reduction == "mean":
                scale = div(g, float(n))
            elif reduction == "sum":
                scale = g
            else:
                scale = reshape(g, (n, 1))
            if logits.requires_grad and g_logits is None:
                probs = softmax(logits, 1)
                if index is not None:
                    d_t = sub(probs, np.eye(c, dtype=logits.dtype)[index])
                else:
                    rows_t = tgt if tgt.requires_grad else wrap(soft)
                    d_t = sub(mul(probs, sum(rows_t, 1, keepdims=True)), rows_t)
                g_logits = mul(scale, d_t)
            if index is None and tgt.requires_grad:
                g_target = mul(scale, neg(log_softmax(logits, 1)))
        return g_logits, g_target

    return record(out, (logits, tgt), backward, "cross_entropy", (logits, tgt))
