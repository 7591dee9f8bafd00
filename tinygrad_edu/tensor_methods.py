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

from tinygrad_edu import numpy_dispatch
from tinygrad_edu.numpy_dispatch import NumpyDispatch

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
    numpy_dispatch.attach(ops)


class TensorMethods(NumpyDispatch):
    """The operators and methods of :class:`~tinygrad_edu.tensor.Tensor` (and, through
    :class:`~tinygrad_edu.numpy_dispatch.NumpyDispatch`, NumPy's functions on it)."""

    __slots__ = ()
    data: np.ndarray

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

    # ------------------------------------------------------------------ PyTorch's habits

    def numel(self) -> int:
        """The number of elements (PyTorch's name; ``.size`` is NumPy's, the same
        number here, not PyTorch's ``size()``, which is the shape).

        >>> import tinygrad_edu as tg
        >>> tg.zeros(2, 3).numel()
        6
        """
        return self.data.size

    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph (d/dself = g)."""
        return _ops.clone(self)

    def float(self) -> Tensor:
        """This tensor as float32: itself if it already is, else a differentiable copy
        (PyTorch's ``.float()``).

        >>> import tinygrad_edu as tg
        >>> tg.ones(2).float().dtype
        dtype('float32')
        """
        return self if self.data.dtype == np.float32 else _ops.astype(self, np.float32)

    def double(self) -> Tensor:
        """This tensor as float64: itself if it already is, else a copy (``.double()``).

        >>> import numpy as np, tinygrad_edu as tg
        >>> tg.ones(2, dtype=np.float32).double().dtype
        dtype('float64')
        """
        return self if self.data.dtype == np.float64 else _ops.astype(self, np.float64)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats the value of a one-element tensor; an empty spec
        gives ``str(t)``."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(
                f"format: only a one-element tensor takes a format spec ({spec!r}); this "
                f"one has shape {self.data.shape} (format t.item(), or t.data's elements)"
            )
        return format(self.data.item(), spec)

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

        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).backward(tg.Tensor([1.0, 10.0]))   # not a scalar: pass the gradient
        >>> x.grad
        Tensor([ 2. 40.], shape=(2,), dtype=float64)
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

    # ------------------------- Python numbers, from one-element tensors of any shape (item())
    def __bool__(self) -> bool:
        return bool(self._one_value("bool()", ValueError))

    def __float__(self) -> float:
        return float(self._one_value("float()"))

    def __int__(self) -> int:
        value = self._one_value("int()")
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"int(): cannot convert {value} to an integer")
        return int(value)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"index: only integer tensors are indices, got dtype {self.dtype}")
        return int(self._one_value("index"))

    def _one_value(self, what: str, error: type[Exception] = TypeError) -> Any:
        if self.data.size != 1:
            raise error(f"{what}: only a one-element tensor is one Python number, got shape "
                        f"{self.shape}")
        return self.data.item()

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

    # Reductions and axis-taking ops take NumPy's axis/keepdims or PyTorch's dim/keepdim
    # (keyword-only, not both); the op resolves them. Where PyTorch's method returns
    # something else, its docstring says so.

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Sum over ``axis`` (or ``dim``), as :func:`~tinygrad_edu.functional.sum`."""
        return _ops.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Mean over ``axis`` (or ``dim``)."""
        return _ops.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Maximum values over ``axis`` (or ``dim``): PyTorch's ``amax``. PyTorch's
        ``max(dim=)`` also returns the indices; here they are ``argmax(dim=)``."""
        return _ops.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Minimum values over ``axis`` (or ``dim``): PyTorch's ``amin`` (see max)."""
        return _ops.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *,
            dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Variance with NumPy's ``ddof=0``; PyTorch's ``var`` is unbiased by default
        (pass ``ddof=1`` for its value)."""
        return _ops.var(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *,
               dim: int | None = None, keepdim: bool | None = None) -> Tensor:
        """Indices of the maxima (no graph)."""
        return _ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *,
               dim: int | None = None, keepdim: bool | None = None) -> Tensor:
        """Indices of the minima (no graph)."""
        return _ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

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

    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        return _ops.squeeze(self, axis, dim=dim)

    def unsqueeze(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _ops.unsqueeze(self, axis, dim=dim)

    def expand(self, *shape: Any) -> Tensor:
        return _ops.broadcast_to(self, shape[0] if len(shape) == 1 else shape)

    broadcast_to = expand

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _ops.softmax(self, axis, dim=dim)

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _ops.log_softmax(self, axis, dim=dim)

    def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                  keepdim: bool | None = None) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)


def _axes_arg(axes: tuple[Any, ...]) -> Any:
    """``t.permute(1, 0)`` or ``t.permute((1, 0))``; a lone int is an axis, not a tuple."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        return axes[0]
    return axes


