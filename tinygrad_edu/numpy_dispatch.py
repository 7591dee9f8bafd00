"""NumPy on Tensors: ``np.exp(t)``, ``np.sum(t, axis=1)``, ``np.dot(x, W)`` run this
library's ops and record the graph.

NumPy hands a call on a Tensor to the Tensor through two protocols: ufuncs
(``np.exp``, ``np.add``, ``ndarray - Tensor`` ...) arrive in ``__array_ufunc__``, the
other array functions (``np.sum``, ``np.dot``, ``np.concatenate`` ...) in
``__array_function__``. Each call falls in one of three groups:

* **ops**: NumPy functions this library has an op for run that op, with NumPy's
  argument names (``axis``, ``keepdims`` ...), and return a Tensor in the graph;
* **inspections** (``np.allclose``, ``np.argmax``, ``np.shape``, ``np.isnan``, the
  comparisons ...) return NumPy's own result computed on ``.data``: they read values and
  have no gradient to lose;
* **everything else** raises a TypeError naming the function and what to use instead:
  a silent ndarray result would drop the graph, and the backward error would come much
  later, blaming the inputs.

``np.asarray(t)`` and ``np.array(t)`` are conversions (``__array__``), not calls on the
Tensor: they give the array, as ``t.data`` does. docs/numpy.md lists every function.

The ops are handed over by :func:`attach` (the module imports nothing of the library, so
that Tensor can inherit :class:`NumpyDispatch`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["NumpyDispatch", "attach", "UFUNC_OPS", "UFUNC_INSPECTIONS", "FUNCTION_OPS",
           "FUNCTION_INSPECTIONS"]

# The functional namespace, handed over by attach().
_ops: Any = None


def attach(ops: ModuleType) -> None:
    """Hand the dispatch its ops (called once, through ``tensor_methods.attach``)."""
    global _ops
    _ops = ops


# ---------------------------------------------------------------------------- ufuncs

def _op(name: str) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return getattr(_ops, name)(*args)
    run.__name__ = name
    return run


#: ufunc name -> what runs instead (a Tensor in the graph).
UFUNC_OPS: dict[str, Callable[..., Any]] = {
    "add": _op("add"), "subtract": _op("sub"), "multiply": _op("mul"),
    "true_divide": _op("div"), "divide": _op("div"), "power": _op("pow"),
    "matmul": _op("matmul"), "negative": _op("neg"), "positive": lambda a: a,
    "exp": _op("exp"), "log": _op("log"), "sqrt": _op("sqrt"), "absolute": _op("abs"),
    "fabs": _op("abs"), "tanh": _op("tanh"), "maximum": _op("maximum"),
    "minimum": _op("minimum"), "clip": _op("clip"),
    "square": lambda a: _ops.pow(a, 2), "reciprocal": lambda a: _ops.div(1.0, a),
}
#: Read-only inspections: NumPy's result on the data, as for an array.
UFUNC_INSPECTIONS = frozenset({
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "isfinite",
    "isnan", "isinf", "sign", "signbit", "logical_not", "logical_and", "logical_or",
    "logical_xor",
})


# ---------------------------------------------------------------------------- functions
# Each handler has the NumPy function's parameters, in its order: NumPy passes on the
# arguments exactly as the caller wrote them. What the op cannot honour is refused.

_UNSET: Any = object()


def _refuse(fn: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not _UNSET and value is not None:
            raise TypeError(
                f"np.{fn}: the argument {name}= is not supported on Tensors; leave it out "
                f"(for a plain array without a graph, call np.{fn} on t.data)"
            )


def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, initial: Any = _UNSET, where: Any = _UNSET) -> Any:
    _refuse("sum", dtype=dtype, out=out, initial=initial, where=where)
    return _ops.sum(a, axis, keepdims)


def _mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: bool = False, *, where: Any = _UNSET) -> Any:
    _refuse("mean", dtype=dtype, out=out, where=where)
    return _ops.mean(a, axis, keepdims)


def _extremum(name: str) -> Callable[..., Any]:
    def handler(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
                initial: Any = _UNSET, where: Any = _UNSET) -> Any:
        _refuse(name, out=out, initial=initial, where=where)
        return getattr(_ops, name.removeprefix("a"))(a, axis, keepdims)
    return handler


def _ddof(fn: str, ddof: int, correction: Any) -> int:
    if correction is _UNSET:
        return ddof
    if ddof != 0:
        raise ValueError(f"np.{fn}: ddof and correction are the same argument; pass one")
    return int(correction)


def _var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
         keepdims: bool = False, *, where: Any = _UNSET, mean: Any = _UNSET,
         correction: Any = _UNSET) -> Any:
    _refuse("var", dtype=dtype, out=out, where=where, mean=mean)
    return _ops.var(a, axis, keepdims, _ddof("var", ddof, correction))


def _std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
         keepdims: bool = False, *, where: Any = _UNSET, mean: Any = _UNSET,
         correction: Any = _UNSET) -> Any:
    _refuse("std", dtype=dtype, out=out, where=where, mean=mean)
    return _ops.sqrt(_ops.var(a, axis, keepdims, _ddof("std", ddof, correction)))


def _dot(a: Any, b: Any, out: Any = None) -> Any:
    _refuse("dot", out=out)
    nd_a, nd_b = np.ndim(_raw(a)), np.ndim(_raw(b))
    if nd_a == 0 or nd_b == 0:
        return _ops.mul(a, b)
    if nd_a > 2 or nd_b > 2:
        raise TypeError(
            f"np.dot: operands of {nd_a} and {nd_b} dims; np.dot of more than 2 dims "
            "pairs every batch with every other, which no op here does: use np.matmul "
            "(or a @ b), which broadcasts the batch axes"
        )
    return _ops.matmul(a, b)


def _where(condition: Any, x: Any = _UNSET, y: Any = _UNSET) -> Any:
    if x is _UNSET and y is _UNSET:  # np.where(cond): the indices, an inspection
        return np.where(_raw(condition))
    if x is _UNSET or y is _UNSET:
        raise ValueError("np.where: either both or neither of x and y should be given")
    return _ops.where(condition, x, y)


def _concatenate(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
                 casting: Any = _UNSET) -> Any:
    _refuse("concatenate", out=out, dtype=dtype, casting=casting)
    if axis is None:  # NumPy flattens every input first
        return _ops.concatenate([_ops.reshape(t, -1) for t in arrays], 0)
    return _ops.concatenate(arrays, axis)


def _stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None,
           casting: Any = _UNSET) -> Any:
    _refuse("stack", out=out, dtype=dtype, casting=casting)
    return _ops.stack(arrays, axis)


def _reshape(a: Any, shape: Any = _UNSET, order: str = "C", *, copy: Any = None) -> Any:
    if shape is _UNSET:
        raise TypeError("np.reshape: missing the shape")
    if order != "C":
        raise TypeError(f"np.reshape: only order='C' is supported on Tensors, got {order!r}")
    _refuse("reshape", copy=copy)
    return _ops.reshape(a, shape)


def _ravel(a: Any, order: str = "C") -> Any:
    if order != "C":
        raise TypeError(f"np.ravel: only order='C' is supported on Tensors, got {order!r}")
    return _ops.reshape(a, -1)


def _transpose(a: Any, axes: Any = None) -> Any:
    return _ops.transpose(a, axes)


def _squeeze(a: Any, axis: Any = None) -> Any:
    return _ops.squeeze(a, axis)


def _expand_dims(a: Any, axis: Any) -> Any:
    # NumPy's own rule (an int or a tuple of axes) on a stand-in of a's shape.
    shape = np.expand_dims(np.broadcast_to(0, np.shape(_raw(a))), axis).shape
    return _ops.reshape(a, shape)


def _swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    return _ops.swapaxes(a, axis1, axis2)


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    return _ops.broadcast_to(array, shape)


def _clip(a: Any, a_min: Any = _UNSET, a_max: Any = _UNSET, out: Any = None, *,
          min: Any = _UNSET, max: Any = _UNSET, **kwargs: Any) -> Any:
    _refuse("clip", out=out, **kwargs)
    if a_min is not _UNSET and min is not _UNSET or a_max is not _UNSET and max is not _UNSET:
        raise TypeError("np.clip: pass a_min/a_max or min/max, not both")
    lo = min if a_min is _UNSET else a_min
    hi = max if a_max is _UNSET else a_max
    return _ops.clip(a, None if lo is _UNSET else lo, None if hi is _UNSET else hi)


#: NumPy function -> handler running this library's ops (a Tensor in the graph).
FUNCTION_OPS: dict[Callable[..., Any], Callable[..., Any]] = {
    np.sum: _sum, np.mean: _mean, np.max: _extremum("max"), np.amax: _extremum("amax"),
    np.min: _extremum("min"), np.amin: _extremum("amin"), np.var: _var, np.std: _std,
    np.dot: _dot, np.where: _where, np.concatenate: _concatenate, np.concat: _concatenate,
    np.stack: _stack, np.reshape: _reshape, np.ravel: _ravel, np.transpose: _transpose,
    np.permute_dims: _transpose, np.squeeze: _squeeze, np.expand_dims: _expand_dims,
    np.swapaxes: _swapaxes, np.broadcast_to: _broadcast_to, np.clip: _clip,
}
#: Read-only inspections: NumPy's result on the data.
FUNCTION_INSPECTIONS = frozenset({
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.argmax, np.argmin,
    np.argsort, np.argwhere, np.nonzero, np.count_nonzero, np.any, np.all, np.shape,
    np.ndim, np.size, np.may_share_memory, np.shares_memory, np.result_type,
    np.iscomplexobj, np.isrealobj,
})
# Where a function has no op, what to write instead (the error says it).
_INSTEAD = {
    np.copy: "t.clone() (a copy in the graph) or np.array(t) (a plain array)",
    np.prod: "exp(sum(log(t))) for positive values",
    np.linalg.norm: "(t * t).sum().sqrt()",
    np.outer: "a[:, None] * b[None, :]",
    np.tensordot: "np.matmul or a @ b, after a reshape",
    np.einsum: "np.matmul or a @ b, with transpose and reshape",
    np.exp2: "2 ** t",
    np.log1p: "np.log(1 + t)",
    np.expm1: "np.exp(t) - 1",
    np.average: "np.mean, or (t * w).sum() / w.sum() for weights",
}


def _raw(x: Any) -> Any:
    if isinstance(x, NumpyDispatch):
        return x.data  # type: ignore[attr-defined]
    if isinstance(x, (list, tuple)):
        return type(x)(_raw(v) for v in x)
    return x


def _name(func: Any) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    prefix = "np" + module.removeprefix("numpy") if module.startswith("numpy") else module
    # Functions of NumPy's private core module are public at the top level.
    return f"{'np' if '._' in prefix else prefix}.{func.__name__}"


def _unsupported(name: str, instead: str | None = None) -> TypeError:
    what = (f"use {instead}" if instead else
            "use the Tensor method or tinygrad_edu.functional op of the same meaning "
            "(docs/numpy.md lists the NumPy functions that work on Tensors)")
    return TypeError(
        f"{name} is not supported on Tensors: its result would not be in the graph, so "
        f"no gradient could flow through it; {what}, or call it on t.data for a plain "
        "array without a graph"
    )


class NumpyDispatch:
    """NumPy's two dispatch protocols, for :class:`~tinygrad_edu.tensor.Tensor`."""

    __slots__ = ()

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
        if method == "__call__" and (name in UFUNC_OPS or name in UFUNC_INSPECTIONS):
            _refuse(name, **kwargs)  # dtype=, where=, casting= ... (None is fine)
            if name in UFUNC_OPS:
                return UFUNC_OPS[name](*inputs)
            return ufunc(*(_raw(x) for x in inputs))
        call = f"np.{name}{'' if method == '__call__' else '.' + method}"
        hint = "t.sum(axis=...)" if name == "add" and method == "reduce" else None
        raise _unsupported(call, hint)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (NumpyDispatch, np.ndarray)) for t in types):
            return NotImplemented  # another library's array: let it, or NumPy, answer
        handler = FUNCTION_OPS.get(func)
        if handler is not None:
            return handler(*args, **kwargs)
        if func in FUNCTION_INSPECTIONS:
            return func(*_raw(tuple(args)), **{k: _raw(v) for k, v in kwargs.items()})
        raise _unsupported(_name(func), _INSTEAD.get(func))
