"""The Tensor: a NumPy array plus the graph that produced it.

A Tensor holds

* ``data``: the ndarray with the values,
* ``grad``: the accumulated gradient (a Tensor) once a backward reached it,
* ``requires_grad``: whether ops on it are recorded,
* the graph fields: ``_parents`` (the input Tensors of the op that made it),
  ``_backward`` (a closure from the upstream gradient to the parents' gradients),
  ``_op`` (the op's name; None for a leaf).

Every op lives in :mod:`tinygrad_edu.functional`; the methods and operators here are
thin doors into it, so that ``a * b``, ``a.mul(b)`` and ``F.mul(a, b)`` are one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from tinygrad_edu import autograd
from tinygrad_edu.autograd import _mode

__all__ = [
    "Tensor",
    "tensor",
    "make_op",
    "zeros",
    "ones",
    "full",
    "arange",
    "randn",
    "rand",
    "zeros_like",
    "ones_like",
]

ArrayLike = Union["Tensor", np.ndarray, float, int, bool, Sequence[Any]]
BackwardFn = Callable[["Tensor"], tuple[Union["Tensor", None], ...]]


def _check_differentiable(dtype: np.dtype, where: str) -> None:
    if dtype.kind not in "fc":
        raise TypeError(
            f"{where}: only floating-point tensors can require grad, got dtype {dtype}; "
            "convert first, e.g. Tensor(x, dtype=np.float32)"
        )


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)`` wraps ``np.asarray(data, dtype)``:
    an ndarray of the right dtype is used without a copy (as ``np.asarray`` does), so a
    Tensor and the array it was made from share memory.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([2. 4. 6.], shape=(3,), dtype=float64)
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op", "_gen",
                 "_retains_grad", "__weakref__")

    # Tell NumPy to hand `ndarray (op) Tensor` over to our reflected operators.
    __array_ufunc__ = None

    data: np.ndarray
    grad: Tensor | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _backward: BackwardFn | None
    _op: str | None
    _gen: int
    _retains_grad: bool

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.asarray(data, dtype=dtype)
        if requires_grad:
            _check_differentiable(arr.dtype, "Tensor")
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = None
        self._gen = 0
        self._retains_grad = False

    # ------------------------------------------------------------------ construction

    @staticmethod
    def _make(
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: BackwardFn,
        op: str,
    ) -> Tensor:
        """The result of an op: records the graph only if grad mode is on and a parent
        requires grad. This is the single place where graph nodes are born."""
        t = Tensor.__new__(Tensor)
        # NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d inputs.
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t._retains_grad = False
        if _mode.enabled:
            record = False
            gen = 0
            for p in parents:
                if p.requires_grad:
                    record = True
                    if p._gen > gen:
                        gen = p._gen
            if record:
                # One more than any parent: a consumer always outranks what it consumes.
                t.requires_grad = True
                t._parents = parents
                t._backward = backward
                t._op = op
                t._gen = gen + 1
                return t
        t.requires_grad = False
        t._parents = ()
        t._backward = None
        t._op = None
        t._gen = 0
        return t

    @staticmethod
    def _const(data: np.ndarray) -> Tensor:
        """Wrap an array as a Tensor that records nothing (no checks, no copy)."""
        t = Tensor.__new__(Tensor)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t.requires_grad = False
        t._parents = ()
        t._backward = None
        t._op = None
        t._gen = 0
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ properties

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (or that do not require grad)."""
        return self._op is None

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed)."""
        return F.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrix transposes)."""
        return F.swapaxes(self, -1, -2)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=" ", prefix="Tensor(")
        extra = f", shape={self.shape}, dtype={self.dtype}"
        if self._op is not None:
            extra += f", op={self._op}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return self.data.__index__()

    # Tensors compare elementwise (==), so hashing is by identity, as for PyTorch.
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ conversions

    def item(self) -> Any:
        """The single value of a one-element tensor, as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted, got shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, no graph)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data, cut from the graph."""
        return Tensor._const(self.data)

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype``; differentiable between float dtypes."""
        return F.astype(self, dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf; returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                f"requires_grad_: only leaves can change requires_grad; this tensor was "
                f"made by '{self._op}' (use .detach() first)"
            )
        if requires_grad:
            _check_differentiable(self.dtype, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ autograd

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
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retains_grad = True

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    # ------------------------------------------------------------------ operators

    def __add__(self, other: ArrayLike) -> Tensor:
        return F.add(self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return F.add(other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return F.sub(self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return F.sub(other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return F.mul(self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return F.mul(other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return F.div(self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return F.div(other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return F.pow(self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return F.pow(other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return F.matmul(self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)

    # Comparisons give boolean tensors that carry no graph.
    def __lt__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data < _raw(other))

    def __le__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data <= _raw(other))

    def __gt__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data > _raw(other))

    def __ge__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data >= _raw(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data == _raw(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor._const(self.data != _raw(other))

    # ------------------------------------------------------------------ op methods

    def add(self, other: ArrayLike) -> Tensor:
        return F.add(self, other)

    def sub(self, other: ArrayLike) -> Tensor:
        return F.sub(self, other)

    def mul(self, other: ArrayLike) -> Tensor:
        return F.mul(self, other)

    def div(self, other: ArrayLike) -> Tensor:
        return F.div(self, other)

    def pow(self, other: ArrayLike) -> Tensor:
        return F.pow(self, other)

    def matmul(self, other: ArrayLike) -> Tensor:
        return F.matmul(self, other)

    def neg(self) -> Tensor:
        return F.neg(self)

    def exp(self) -> Tensor:
        return F.exp(self)

    def log(self) -> Tensor:
        return F.log(self)

    def sqrt(self) -> Tensor:
        return F.sqrt(self)

    def abs(self) -> Tensor:
        return F.abs(self)

    def tanh(self) -> Tensor:
        return F.tanh(self)

    def sigmoid(self) -> Tensor:
        return F.sigmoid(self)

    def relu(self) -> Tensor:
        return F.relu(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return F.leaky_relu(self, negative_slope)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return F.clip(self, min, max)

    clamp = clip

    def maximum(self, other: ArrayLike) -> Tensor:
        return F.maximum(self, other)

    def minimum(self, other: ArrayLike) -> Tensor:
        return F.minimum(self, other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return F.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return F.mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return F.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return F.min(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return F.var(self, axis, keepdims, ddof)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (no graph)."""
        return Tensor._const(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the minima (no graph)."""
        return Tensor._const(np.argmin(self.data, axis=axis, keepdims=keepdims))

    def reshape(self, *shape: Any) -> Tensor:
        return F.reshape(self, shape[0] if len(shape) == 1 else shape)

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        return F.transpose(self, _axes_arg(axes) if axes else None)

    def permute(self, *axes: Any) -> Tensor:
        return F.transpose(self, _axes_arg(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return F.swapaxes(self, axis1, axis2)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Any = None) -> Tensor:
        return F.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return F.unsqueeze(self, axis)

    def expand(self, *shape: Any) -> Tensor:
        return F.broadcast_to(self, shape[0] if len(shape) == 1 else shape)

    broadcast_to = expand

    def softmax(self, axis: int = -1) -> Tensor:
        return F.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return F.log_softmax(self, axis)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return F.logsumexp(self, axis, keepdims)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _axes_arg(axes: tuple[Any, ...]) -> Any:
    """``t.permute(1, 0)`` or ``t.permute((1, 0))``; a lone int is an axis, not a tuple."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        return axes[0]
    return axes


# ---------------------------------------------------------------------------- your own ops


def make_op(
    data: ArrayLike,
    parents: Sequence[Tensor],
    backward: BackwardFn,
    name: str,
) -> Tensor:
    """The result of your own differentiable op, recorded like the built-in ones.

    ``data`` is the forward's value; ``backward(g)`` maps the upstream gradient ``g``
    (a Tensor shaped like ``data``) to a tuple with one gradient per parent (a Tensor
    shaped like that parent, or None). Write the closure with Tensor ops to make the
    op twice differentiable. Check it with :func:`tinygrad_edu.gradcheck`.

    >>> import numpy as np
    >>> def square(x):
    ...     return make_op(x.data ** 2, (x,), lambda g: (g * x * 2,), "square")
    >>> x = Tensor([3.0], requires_grad=True)
    >>> square(x).sum().backward()
    >>> x.grad
    Tensor([6.], shape=(1,), dtype=float64)
    """
    parents = tuple(parents)
    for i, p in enumerate(parents):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"make_op '{name}': parent {i} is a {type(p).__name__}, not a Tensor"
            )
    if not callable(backward):
        raise TypeError(f"make_op '{name}': backward must be callable")
    return Tensor._make(np.asarray(_raw(data)), parents, backward, str(name))


# ---------------------------------------------------------------------------- factories


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (``Tensor(...)`` shares ndarray memory)."""
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(np.array(data, dtype=dtype, copy=True), requires_grad=requires_grad)


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def full(
    shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values, as ``np.arange``."""
    data = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(
        start, step=step, dtype=dtype
    )
    return Tensor(data, requires_grad=requires_grad)


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def randn(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: Any = np.float64,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples; ``rng`` is a NumPy Generator or a seed."""
    data = _generator(rng).standard_normal(_shape(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(
    *shape: Any,
    rng: np.random.Generator | int | None = None,
    dtype: Any = np.float64,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples on [0, 1); ``rng`` is a NumPy Generator or a seed."""
    data = _generator(rng).random(_shape(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.zeros_like(_raw(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.ones_like(_raw(t), dtype=dtype), requires_grad=requires_grad)


# The ops import Tensor, so they are imported after it is defined.
from tinygrad_edu import functional as F  # noqa: E402
