"""Derivatives of whole functions: PyTorch's ``torch.autograd.functional``.

Each function takes a Python function ``func`` of one or more tensors and the point
``inputs`` (a Tensor or a tuple of Tensors), and returns what its name says, with
PyTorch's names, argument order, result structure and flags:

==========================================  ===================================
``vjp(func, inputs, v)``                    ``(func(inputs), v^T J)``
``jvp(func, inputs, v)``                    ``(func(inputs), J v)``
``jacobian(func, inputs)``                  ``J``, shape ``out.shape + in.shape``
``hessian(func, inputs)``                   ``H``, shape ``in.shape + in.shape``
``vhp(func, inputs, v)``                    ``(func(inputs), v^T H)``
``hvp(func, inputs, v)``                    ``(func(inputs), H v)``
==========================================  ===================================

With a tuple of inputs (or outputs) the results are tuples in the same order, and a
Jacobian of several outputs and inputs is a tuple of tuples ``J[i][j] = d out_i / d in_j``.

* ``create_graph=True`` records the computation, so the results can be differentiated
  again (with respect to ``inputs`` when they require grad, and to ``v``); otherwise the
  results (and the returned outputs) are detached.
* ``strict=True`` raises when an output does not depend on an input (and so its
  derivative is zero); otherwise that derivative is zeros.
* The engine is reverse mode only. ``jvp`` and ``hvp`` use the **double-backward
  trick**: with ``u`` a dummy upstream gradient, ``g(u) = J^T u`` is linear in ``u``, so
  differentiating ``g(u) . v`` with respect to ``u`` gives ``J v``. It costs two
  backward passes instead of one forward-mode pass, and the result is the same.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.autograd.functional import jacobian, hessian
>>> def f(x):
...     return (x ** 3).sum()
>>> x = tg.Tensor([1.0, 2.0])
>>> jacobian(f, x)
Tensor([ 3. 12.], shape=(2,), dtype=float64)
>>> hessian(f, x)
Tensor([[ 6.  0.]
 [ 0. 12.]], shape=(2, 2), dtype=float64)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.autograd.function_io import (
    Func,
    Tensors,
    as_tuple,
    call,
    check_requires_grad,
    check_v,
    finish,
    grad_of,
    inputs_and_v,
    prepare,
    single_output,
    unpack,
    zeros_for_none,
)
from tinygrad_edu.grad_mode import enable_grad
from tinygrad_edu.ops.shape import stack
from tinygrad_edu.tensor import Tensor, wrap

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

STRATEGIES = ("reverse-mode", "forward-mode")


# ---------------------------------------------------------------------------- products


def vjp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), v^T J)``: the vector-Jacobian product, one backward pass.

    ``v`` is shaped like the outputs (optional for a one-element output, where it is 1);
    the product is shaped like the inputs. d(v^T J)/dv = J^T.

    >>> import tinygrad_edu as tg
    >>> out, g = vjp(lambda x: x ** 2, tg.Tensor([1.0, 3.0]), tg.Tensor([1.0, 10.0]))
    >>> g
    Tensor([ 2. 60.], shape=(2,), dtype=float64)
    """
    fn = "vjp"
    with enable_grad():
        is_inputs_tuple, ins = as_tuple(inputs, "inputs", fn)
        ins = prepare(ins, create_graph, True, fn)
        is_outputs_tuple, outs = call(func, ins, fn)
        check_requires_grad(outs, "outputs", strict, fn)
        if v is not None:
            vs = prepare(as_tuple(v, "v", fn)[1], create_graph, False, fn)
            check_v(vs, outs, "outputs", fn)
        elif len(outs) != 1 or outs[0].size != 1:
            raise RuntimeError(f"{fn}: v can be None only if the function returns a single "
                               "Tensor with a single element; pass v shaped like the output")
        else:
            vs = None
        res = grad_of(outs, ins, vs, create_graph=create_graph)
        result = zeros_for_none(res, ins, strict, "back", fn)
    return (unpack(finish(outs, create_graph), is_outputs_tuple),
            unpack(finish(result, create_graph), is_inputs_tuple))


def jvp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), J v)``: the Jacobian-vector product (a directional derivative).

    ``v`` is shaped like the inputs (optional for a one-element input); the product is
    shaped like the outputs. Computed by the double-backward trick (see the module):
    ``J v = d/du [ (J^T u) . v ]`` for any ``u``.

    >>> import tinygrad_edu as tg
    >>> out, d = jvp(lambda x: x ** 2, tg.Tensor([1.0, 3.0]), tg.Tensor([1.0, 10.0]))
    >>> d
    Tensor([ 2. 60.], shape=(2,), dtype=float64)
    """
    fn = "jvp"
    with enable_grad():
        is_inputs_tuple, ins, vs = inputs_and_v(inputs, v, create_graph, fn)
        is_outputs_tuple, outs = call(func, ins, fn)
        check_requires_grad(outs, "outputs", strict, fn)
        # u: the dummy upstream gradient; J^T u is recorded, and linear in u.
        us = tuple(Tensor(np.zeros_like(o.data), requires_grad=True) for o in outs)
        grad_inputs = grad_of(outs, ins, us, create_graph=True)
        check_requires_grad(grad_inputs, "grad_inputs", strict, fn)
        res = grad_of(grad_inputs, us, vs, create_graph=create_graph)
        result = zeros_for_none(res, outs, strict, "back_trick", fn)
    return (unpack(finish(outs, create_graph), is_outputs_tuple),
            unpack(finish(result, create_graph), is_outputs_tuple))


def vhp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), v^T H)`` for a function with one output element: the gradient,
    recorded, then differentiated once more along ``v`` (shaped like the inputs).

    >>> import tinygrad_edu as tg
    >>> out, p = vhp(lambda x: (x ** 3).sum(), tg.Tensor([1.0, 2.0]), tg.Tensor([1.0, 1.0]))
    >>> p
    Tensor([ 6. 12.], shape=(2,), dtype=float64)
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(*inputs), H v)`` for a function with one output element. Equal to
    :func:`vhp` for the symmetric Hessians of smooth functions; computed, as PyTorch
    does, by the double-backward trick on top of the recorded gradient.

    >>> import tinygrad_edu as tg
    >>> out, p = hvp(lambda x: (x ** 3).sum(), tg.Tensor([1.0, 2.0]), tg.Tensor([1.0, 1.0]))
    >>> p
    Tensor([ 6. 12.], shape=(2,), dtype=float64)
    """
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func: Func, inputs: Any, v: Any, create_graph: bool, strict: bool,
                     fn: str) -> tuple[Any, Any]:
    with enable_grad():
        is_inputs_tuple, ins, vs = inputs_and_v(inputs, v, create_graph, fn)
        out = single_output(func, ins, strict, fn)
        jac = grad_of([out], ins, create_graph=True)
        check_requires_grad(jac, "jacobian", strict, fn)
        if fn == "vhp":
            res = grad_of(jac, ins, vs, create_graph=create_graph)
            result = zeros_for_none(res, ins, strict, "double_back", fn)
        else:  # H v = d/du [ (H^T u) . v ], with H^T u recorded and linear in u
            us = tuple(Tensor(np.zeros_like(t.data), requires_grad=True) for t in ins)
            double_back = grad_of(jac, ins, us, create_graph=True)
            check_requires_grad(double_back, "hessian", strict, fn)
            res = grad_of(double_back, us, vs, create_graph=create_graph)
            result = zeros_for_none(res, ins, strict, "double_back_trick", fn)
    return (finish([out], create_graph)[0],
            unpack(finish(result, create_graph), is_inputs_tuple))


# ---------------------------------------------------------------------------- matrices


def _stack_rows(rows: list[Tensor], shape: tuple[int, ...], create_graph: bool) -> Tensor:
    """Rows (one per output element) as one tensor of ``shape``; recorded if asked."""
    if create_graph and any(r.requires_grad for r in rows):
        return stack(rows, 0).reshape(shape)
    return wrap(np.stack([r.data for r in rows]).reshape(shape))


def jacobian(func: Func, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``: for one output and one input a tensor of
    shape ``output.shape + input.shape``; tuples (of tuples) for several.

    ``strategy="reverse-mode"`` (the default) takes one backward pass per output element;
    ``"forward-mode"`` one :func:`jvp` per input element (better for wide outputs;
    here by the double-backward trick, so never faster). ``vectorize`` is accepted for
    PyTorch compatibility and changes nothing: the rows are computed one by one.

    >>> import tinygrad_edu as tg
    >>> jacobian(lambda a, b: a * b, (tg.Tensor([1.0, 2.0]), tg.Tensor([3.0, 4.0])))
    (Tensor([[3. 0.]
     [0. 4.]], shape=(2, 2), dtype=float64), Tensor([[1. 0.]
     [0. 2.]], shape=(2, 2), dtype=float64))
    """
    return _jacobian(func, inputs, create_graph, strict, strategy, "jacobian")


def _jacobian(func: Func, inputs: Any, create_graph: bool, strict: bool, strategy: str,
              fn: str) -> Any:
    """:func:`jacobian`, with errors named after ``fn`` (the caller the user called)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"{fn}: strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "forward-mode":
        if strict:
            raise ValueError(f"{fn}: strict=True and strategy='forward-mode' are not "
                             "supported together (as in PyTorch)")
        if create_graph:
            raise ValueError(f"{fn}: create_graph=True and strategy='forward-mode' are not "
                             "supported together (as in PyTorch)")
    with enable_grad():
        is_inputs_tuple, ins = as_tuple(inputs, "inputs", fn)
        ins = prepare(ins, create_graph, True, fn)
        is_outputs_tuple, outs = call(func, ins, fn)
        check_requires_grad(outs, "outputs", strict, fn)
        if strategy == "forward-mode":
            result = _forward_jacobian(func, ins, outs)
        else:
            result = tuple(_reverse_rows(i, out, ins, create_graph, strict, fn)
                           for i, out in enumerate(outs))
        result = tuple(finish(row, create_graph) for row in result)
    return unpack(result, (is_outputs_tuple, is_inputs_tuple))


def _reverse_rows(i: int, out: Tensor, ins: Tensors, create_graph: bool, strict: bool,
                  fn: str) -> Tensors:
    """d out / d each input, one backward pass per element of ``out``."""
    rows: list[list[Tensor]] = [[] for _ in ins]
    for k in range(out.size):
        onehot = np.zeros(out.size, dtype=out.dtype)
        onehot[k] = 1
        res = grad_of([out], ins, [wrap(onehot.reshape(out.shape))], retain_graph=True,
                    create_graph=create_graph)
        for j, (g, inp) in enumerate(zip(res, ins)):
            if g is None:
                if strict:
                    raise RuntimeError(f"{fn}: output {i} of the user-provided function is "
                                       f"independent of input {j}; this is not allowed "
                                       "in strict mode")
                g = wrap(np.zeros_like(inp.data))
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"{fn}: the Jacobian of output {i} is independent of "
                                   f"input {j}; this is not allowed in strict mode when "
                                   "create_graph=True")
            rows[j].append(g)
    return tuple(
        _stack_rows(r, out.shape + inp.shape, create_graph) if r
        else wrap(np.zeros(out.shape + inp.shape, dtype=inp.dtype))
        for r, inp in zip(rows, ins))


def _forward_jacobian(func: Func, ins: Tensors, outs: Tensors) -> tuple[Tensors, ...]:
    """Columns by :func:`jvp` along each unit vector of each input."""
    cols: list[list[list[np.ndarray]]] = [[[] for _ in ins] for _ in outs]
    for j, inp in enumerate(ins):
        for k in range(inp.size):
            vs = tuple(wrap(np.zeros_like(t.data)) for t in ins)
            vs[j].data.reshape(-1)[k] = 1
            _, d = jvp(func, ins, vs)
            ds = d if isinstance(d, tuple) else (d,)
            for i, col in enumerate(ds):
                cols[i][j].append(col.data)
    return tuple(
        tuple(wrap(np.stack(cols[i][j], axis=-1).reshape(out.shape + inp.shape)
                   if cols[i][j] else np.zeros(out.shape + inp.shape, dtype=inp.dtype))
              for j, inp in enumerate(ins))
        for i, out in enumerate(outs))


def hessian(func: Func, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a function with one output element: shape
    ``input.shape + input.shape``, or a tuple of tuples ``H[i][j] = d2 f / d in_i d in_j``.

    Computed as the Jacobian of the recorded gradient (``outer_jacobian_strategy`` picks
    that Jacobian's strategy). ``vectorize`` changes nothing (PyTorch compatibility).

    >>> import tinygrad_edu as tg
    >>> hessian(lambda x, y: (x * y).sum(), (tg.Tensor([1.0]), tg.Tensor([2.0])))[0][1]
    Tensor([[1.]], shape=(1, 1), dtype=float64)
    """
    fn = "hessian"
    is_inputs_tuple, ins = as_tuple(inputs, "inputs", fn)

    def gradient(*inp: Tensor) -> Any:
        # Not strict inside, as PyTorch: a gradient that does not depend on the inputs
        # is reported below, as such.
        grads = _jacobian(lambda *x: single_output(func, x, strict, fn).reshape(()), inp,
                          True, False, "reverse-mode", fn)
        check_requires_grad(grads, "jacobian", strict, fn)
        return grads

    res = _jacobian(gradient, ins, create_graph, strict, outer_jacobian_strategy, fn)
    return unpack(res, (is_inputs_tuple, is_inputs_tuple))
