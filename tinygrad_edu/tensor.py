"""The Tensor: a NumPy array plus the graph that produced it.

A Tensor holds

* ``data``: the ndarray with the values,
* ``grad``: the accumulated gradient (a Tensor) once a backward reached it,
* ``requires_grad``: whether ops on it are recorded,
* the graph fields, read through the properties ``op`` (the op's name; None for a leaf),
  ``parents`` (the op's input Tensors) and ``backward_fn`` (the closure from the
  upstream gradient to the parents' gradients).

The data structure and the graph are here; the operators and op methods (``+``,
``.sum()``, ...), thin doors into :mod:`tinygrad_edu.functional`, are in
:mod:`tinygrad_edu.tensor_methods`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union

import numpy as np

from tinygrad_edu import anomaly
from tinygrad_edu.grad_mode import state as grad_mode
from tinygrad_edu.tensor_input import as_array, check_differentiable
from tinygrad_edu.tensor_methods import TensorMethods
from tinygrad_edu.versions import saved_versions

__all__ = ["Tensor", "tensor", "make_op", "record", "wrap"]

ArrayLike = Union["Tensor", np.ndarray, float, int, bool, Sequence[Any]]
BackwardFn = Callable[["Tensor"], tuple[Union["Tensor", None], ...]]

class Tensor(TensorMethods):
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
                 "_retains_grad", "_vc", "_saved", "_saved_versions", "__weakref__")

    data: np.ndarray
    grad: Tensor | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _backward: BackwardFn | None
    _op: str | None
    _gen: int
    _retains_grad: bool
    # The version counter: None until the first in-place op (version 0), then a
    # one-element list shared by every tensor that views the same memory.
    _vc: list[int] | None
    # What the op's backward reads, and the versions it had when the op ran.
    _saved: tuple[Tensor, ...]
    _saved_versions: tuple[int, ...] | None

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        plain = type(data) is np.ndarray and dtype is None and data.dtype.kind in "biufc"
        arr = data if plain else as_array(data, dtype)
        if requires_grad:
            check_differentiable(arr.dtype, "Tensor")
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = None
        self._gen = 0
        self._retains_grad = False
        self._vc = None
        self._saved = ()

    # ------------------------------------------------------------------ the graph
    # The graph fields are written by record() below and read by the engine
    # (autograd/engine.py), which walks them in a hot loop; everyone else reads the
    # read-only properties.

    @property
    def op(self) -> str | None:
        """The name of the op that made this tensor (None for a leaf)."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The op's input tensors (empty for a leaf, and once backward freed the graph)."""
        return self._parents

    @property
    def backward_fn(self) -> BackwardFn | None:
        """The op's backward closure: upstream gradient -> one gradient per parent
        (None for a leaf, and once backward freed the graph)."""
        return self._backward

    @property
    def generation(self) -> int:
        """0 for a leaf; one more than the largest generation of the parents."""
        return self._gen

    @property
    def version(self) -> int:
        """How many in-place ops have changed this tensor's memory (``+=``, ``add_``,
        ...; shared with the tensors that view the same memory). An op whose backward
        needs a tensor remembers its version; backward refuses to run if it changed.

        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([1.0, 2.0])
        >>> x += 1
        >>> x.version
        1
        """
        vc = self._vc
        return vc[0] if vc is not None else 0

    def bump_version(self) -> None:
        """Count one in-place change of this tensor's memory (the in-place ops call this;
        call it yourself after writing through ``.data`` if you want the write checked).

        >>> t = Tensor([1.0]); t.bump_version(); t.version
        1
        """
        if self._vc is None:
            self._vc = [0]
        self._vc[0] += 1

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

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along the first axis (each a recorded ``t[i]``)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

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

    # Tensors compare elementwise (==), so hashing is by identity, as for PyTorch.
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ conversions

    def item(self) -> Any:
        """The single value of a one-element tensor, as a Python number.

        >>> Tensor([[2.5]]).item()
        2.5
        """
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted, got shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, no graph).

        >>> Tensor([1.0, 2.0]).numpy()
        array([1., 2.])
        """
        return self.data

    def tolist(self) -> Any:
        """The values as (nested) Python lists.

        >>> Tensor([[1.0, 2.0]]).tolist()
        [[1.0, 2.0]]
        """
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data (and its version counter), cut from the graph.

        >>> x = Tensor([1.0], requires_grad=True); (x * 2).detach().requires_grad
        False
        """
        out = wrap(self.data)
        if self._vc is None:
            self._vc = [0]
        out._vc = self._vc
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf; returns self.

        >>> Tensor([1.0]).requires_grad_().requires_grad
        True
        """
        if not self.is_leaf:
            raise RuntimeError(
                f"requires_grad_: only leaves can change requires_grad; this tensor was "
                f"made by '{self._op}' (use .detach() first)"
            )
        if requires_grad:
            check_differentiable(self.dtype, "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ autograd

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor during backward.

        >>> x = Tensor([1.0], requires_grad=True); h = x * 3; h.retain_grad()
        >>> (h * h).sum().backward(); h.grad
        Tensor([6.], shape=(1,), dtype=float64)
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retains_grad = True

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``).

        >>> x = Tensor([1.0], requires_grad=True); x.sum().backward(); x.zero_grad(); x.grad
        """
        self.grad = None


# ---------------------------------------------------------------------------- graph nodes


def record(data: np.ndarray, parents: tuple[Tensor, ...], backward: BackwardFn,
           op: str, saved: tuple[Tensor, ...] = ()) -> Tensor:
    """The result of an op: records the graph only if grad mode is on and a parent
    requires grad. Every graph node is born here.

    ``saved``: the tensors the backward reads (PyTorch's rule: only those; ``add`` none,
    ``mul`` both: pass the parents tuple itself). Their versions are remembered, and
    backward refuses to run if an in-place op changed one of them since.

    The built-in ops call this directly (it checks nothing, for speed); your own ops
    go through :func:`make_op`, which checks its arguments first.
    """
    # NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d inputs.
    data = data if type(data) is np.ndarray else np.asarray(data)
    if grad_mode.anomaly:  # tg.detect_anomaly(): check the result, watch the backward
        backward = anomaly.watch(op, data, backward)
    if grad_mode.enabled:
        gen = -1  # stays -1 unless a parent requires grad
        for p in parents:
            if p.requires_grad and p._gen > gen:
                gen = p._gen
        if gen >= 0:
            if data.dtype.kind == "c":  # a complex constant met a tensor that requires grad
                raise TypeError(f"{op}: the result is complex ({data.dtype}) and an input "
                                "requires grad; only real floating point can be differentiated")
            t = Tensor.__new__(Tensor)
            t.data = data
            t.grad = None
            t.requires_grad = True
            t._parents = parents
            t._backward = backward
            t._op = op
            t._gen = gen + 1  # one more than any parent: consumers outrank what they consume
            t._vc = None
            t._saved = saved
            t._saved_versions = saved_versions(saved)
            t._retains_grad = grad_mode.retain_all  # tg.retain_grads() teaching mode
            return t
    return wrap(data)


def wrap(data: np.ndarray) -> Tensor:
    """An array as a Tensor that records nothing (no checks, no copy)."""
    t = Tensor.__new__(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t.grad = None
    t.requires_grad = False
    t._parents = ()
    t._backward = None
    t._op = None
    t._gen = 0
    t._retains_grad = False
    t._vc = None
    t._saved = ()
    return t


def make_op(
    data: ArrayLike,
    parents: Sequence[Tensor],
    backward: BackwardFn,
    name: str,
    saved: Sequence[Tensor] | None = None,
) -> Tensor:
    """The result of your own differentiable op, recorded like the built-in ones.

    ``data`` is the forward's value; ``backward(g)`` maps the upstream gradient ``g``
    (a Tensor shaped like ``data``) to a tuple with one gradient per parent (a Tensor
    or an ndarray shaped like that parent, or None); backward checks all of that and
    names the op when something is off. Write the closure with Tensor ops to make the
    op twice differentiable. Check it with :func:`tinygrad_edu.gradcheck`.

    ``saved``: the tensors the closure reads (default: all parents); backward refuses
    to run if an in-place op changed one of them after this op ran.

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
    kept = parents if saved is None else tuple(saved)
    for i, p in enumerate(kept):
        if not isinstance(p, Tensor):
            raise TypeError(f"make_op '{name}': saved[{i}] is a {type(p).__name__}, not a Tensor")
    array = np.asarray(data.data if isinstance(data, Tensor) else data)
    return record(array, parents, backward, str(name), kept)


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (``Tensor(...)`` shares ndarray memory).

    >>> a = np.zeros(2)
    >>> t = tensor(a)
    >>> a[0] = 1.0
    >>> t
    Tensor([0. 0.], shape=(2,), dtype=float64)
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(as_array(data, dtype).copy(), requires_grad=requires_grad)
