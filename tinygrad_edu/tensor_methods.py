"""Tensor's operators and op methods: thin doors into :mod:`tinygrad_edu.functional`.

``a * b``, ``a.mul(b)`` and ``F.mul(a, b)`` are one code path: every method here calls
the op of the same name. The ops import :mod:`tinygrad_edu.tensor`, so neither that
module nor this one can import them back; :func:`attach` hands them over once, when
the package is imported. That is the package's one deliberate late binding.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_edu.tensor import ArrayLike, Tensor

__all__ = ["TensorMethods", "attach"]

# Filled in by attach(): the functional namespace (every op) and the engine (backward).
_ops: Any = None
_engine: Any = None


def attach(ops: ModuleType, engine: ModuleType) -> None:
    """Hand Tensor its ops and its engine (called once, by ``tinygrad_edu/__init__``)."""
    global _ops, _engine
    _ops, _engine = ops, engine


# NumPy ufuncs that this library has an op for: np.exp(t) is F.exp(t), and the graph is
# recorded as for t.exp(). `ndarray - Tensor` reaches here too (NumPy calls the ufunc).
_UFUNC_OPS = {
    "add": "add", "subtract": "sub", "multiply": "mul", "true_divide": "div",
    "divide": "div", "power": "pow", "matmul": "matmul", "negative": "neg",
    "exp": "exp", "log": "log", "sqrt": "sqrt", "absolute": "abs", "tanh": "tanh",
    "maximum": "maximum", "minimum": "minimum",
}
# Read-only inspections: a plain NumPy result computed on the data, as for an array.
_UFUNC_INSPECT = {
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "isfinite",
    "isnan", "isinf", "sign", "signbit", "logical_not",
}


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, TensorMethods) else x


class TensorMethods:
    """The operators and methods of :class:`~tinygrad_edu.tensor.Tensor`."""

    __slots__ = ()
    data: np.ndarray

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any,
                        **kwargs: Any) -> Any:
        name = ufunc.__name__
        if "out" in kwargs:
            raise TypeError(
                f"np.{name} cannot write a Tensor's values into an array in place "
                "(as in `p.data -= lr * p.grad`): use the gradient's array, "
                "`p.data -= lr * p.grad.data`, or update the tensor itself, "
                "`with tg.no_grad(): p -= lr * p.grad`"
            )
        if method == "__call__" and not kwargs:
            if name in _UFUNC_OPS:
                return getattr(_ops, _UFUNC_OPS[name])(*inputs)
            if name in _UFUNC_INSPECT:
                return ufunc(*(_raw(x) for x in inputs))
        raise TypeError(
            f"np.{name}{'' if method == '__call__' else '.' + method} is not supported on "
            "Tensors: use the Tensor method or tinygrad_edu.functional op of the same "
            "meaning, or apply it to `t.data` for a plain array without a graph"
        )

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed)."""
        return _ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrix transposes)."""
        if self.data.ndim < 2:
            raise ValueError(f"mT: needs a matrix or a batch of matrices (2 or more dims), "
                             f"got shape {self.data.shape}")
        return _ops.swapaxes(self, -1, -2)

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype``; differentiable between float dtypes."""
        return _ops.astype(self, dtype)

    def backward(
        self,
        grad: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate the gradient of this tensor into every leaf's ``.grad``.

        ``grad`` is the upstream gradient (required unless this tensor has one element).
        The graph is freed as it is walked unless ``retain_graph`` (which defaults to
        ``create_graph``); ``create_graph=True`` records the backward pass itself so the
        gradients can be differentiated again.
        """
        _engine.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------------ operators

    def __add__(self, other: ArrayLike) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    # Comparisons give boolean tensors that carry no graph.
    def __lt__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return _ops.lt(self, other)

    def __le__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return _ops.le(self, other)

    def __gt__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return _ops.gt(self, other)

    def __ge__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return _ops.ge(self, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _ops.ne(self, other)

    # ------------------------------------------------------------------ in place
    # `h += b` changes h's memory (PyTorch's meaning), never rebinds h to a new tensor:
    # a parameter update under no_grad must update the parameter itself.

    def __iadd__(self, other: ArrayLike) -> Tensor:
        return _ops.add_(self, other)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return _ops.sub_(self, other)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return _ops.mul_(self, other)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return _ops.div_(self, other)

    def add_(self, other: ArrayLike) -> Tensor:
        return _ops.add_(self, other)

    def sub_(self, other: ArrayLike) -> Tensor:
        return _ops.sub_(self, other)

    def mul_(self, other: ArrayLike) -> Tensor:
        return _ops.mul_(self, other)

    def div_(self, other: ArrayLike) -> Tensor:
        return _ops.div_(self, other)

    def zero_(self) -> Tensor:
        return _ops.zero_(self)

    def fill_(self, value: ArrayLike) -> Tensor:
        return _ops.fill_(self, value)

    def copy_(self, src: ArrayLike) -> Tensor:
        return _ops.copy_(self, src)

    # ------------------------------------------------------------------ op methods

    def add(self, other: ArrayLike) -> Tensor:
        return _ops.add(self, other)

    def sub(self, other: ArrayLike) -> Tensor:
        return _ops.sub(self, other)

    def mul(self, other: ArrayLike) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other: ArrayLike) -> Tensor:
        return _ops.div(self, other)

    def pow(self, other: ArrayLike) -> Tensor:
        return _ops.pow(self, other)

    def matmul(self, other: ArrayLike) -> Tensor:
        return _ops.matmul(self, other)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return _ops.leaky_relu(self, negative_slope)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return _ops.clip(self, min, max)

    clamp = clip

    def maximum(self, other: ArrayLike) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: ArrayLike) -> Tensor:
        return _ops.minimum(self, other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.var(self, axis, keepdims, ddof)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (no graph)."""
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the minima (no graph)."""
        return _ops.argmin(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, _axes_arg(axes) if axes else None)

    def permute(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, _axes_arg(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _ops.swapaxes(self, axis1, axis2)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def expand(self, *shape: Any) -> Tensor:
        return _ops.broadcast_to(self, shape[0] if len(shape) == 1 else shape)

    broadcast_to = expand

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)





def _axes_arg(axes: tuple[Any, ...]) -> Any:
    """``t.permute(1, 0)`` or ``t.permute((1, 0))``; a lone int is an axis, not a tuple."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        return axes[0]
    return axes


