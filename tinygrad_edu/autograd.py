"""Grad mode and the backward pass.

This module holds the two pieces of autograd that are not about any one op:

* the grad-mode flag (``no_grad`` / ``enable_grad``), thread-local, and
* the engine: an iterative topological walk over the recorded graph that runs each
  node's backward closure once, after every consumer of that node has contributed
  its gradient.

The walk is iterative on purpose: a recursive depth-first search hits Python's
recursion limit after about a thousand nodes, and networks are deeper than that.
The order comes from generations (see the engine section below).
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "backward",
    "grad",
    "GraphFreedError",
]

F = TypeVar("F", bound=Callable[..., Any])


class GraphFreedError(RuntimeError):
    """Raised when backward reaches a node whose graph an earlier backward freed."""


# ---------------------------------------------------------------------------- grad mode


class _GradMode(threading.local):
    # A class attribute gives every new thread the default without an __init__ call.
    enabled: bool = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default)."""
    return _mode.enabled


class set_grad_enabled:
    """Turn graph recording on or off; usable as a context manager or a decorator.

    >>> import tinygrad_edu as tg
    >>> with tg.set_grad_enabled(False):
    ...     tg.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev: list[bool] = []

    def __enter__(self) -> None:
        self.prev.append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self.prev.pop()

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Context manager and decorator: ops inside record no graph.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator: ops inside record the graph, even under no_grad."""

    def __init__(self) -> None:
        super().__init__(True)


# ---------------------------------------------------------------------------- the engine
#
# Order. Every recorded node has a generation: one more than the largest generation of
# its parents (leaves are 0). A consumer therefore always has a larger generation than
# anything it consumes, so visiting nodes in decreasing generation is a topological
# order: a node's closure runs only after all of its consumers have added their share to
# its gradient. A max-heap keyed by generation hands the nodes out in that order as they
# are discovered, in one pass, with no recursion (a chain of a million ops is fine) and
# O(n log w) work for a graph of n nodes and width w (a wide graph is not quadratic).


def _accumulate(total: Tensor, g: Tensor, create_graph: bool) -> Tensor:
    """total + g in total's dtype; without create_graph a plain array sum (no graph to
    record)."""
    if g.dtype != total.dtype:
        g = _cast(g, total.dtype, create_graph)
    if create_graph:
        return total + g
    return type(total)._const(total.data + g.data)


def _cast(g: Tensor, dtype: np.dtype, create_graph: bool) -> Tensor:
    """A fresh copy of ``g`` in ``dtype`` (recorded as an op under create_graph)."""
    if create_graph:
        from tinygrad_edu.functional import astype

        return astype(g, dtype)
    return type(g)._const(g.data.astype(dtype))


def _run(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
) -> list[Tensor | None] | None:
    """The shared engine of :func:`backward` and :func:`grad`.

    With ``inputs`` None, gradients are accumulated into the ``.grad`` of leaves (and of
    tensors that called ``retain_grad``); otherwise the gradients of ``inputs`` are
    returned and no ``.grad`` is touched.
    """
    if not create_graph:
        root_grads = [g.detach() for g in root_grads]
    # Positions of each requested input in the result (an input may be asked for twice).
    wanted: dict[int, list[int]] = {}
    for i, t in enumerate(inputs or ()):
        wanted.setdefault(id(t), []).append(i)
    results: list[Tensor | None] = [None] * len(inputs or ())
    # Arrays already handed to some .grad in this pass: a second holder gets a copy, so
    # that an in-place update of one .grad can never change another. The caller's own
    # upstream arrays count as handed out, so they are never aliased either.
    handed_out: set[int] = {id(g.data) for g in root_grads}

    def own(t: Tensor, g: Tensor) -> Tensor:
        """``g`` as a gradient that ``t`` alone holds, in ``t``'s dtype: a view, a
        read-only array or one already handed to another holder is copied (recorded as
        an op under create_graph), so an in-place update of one gradient never changes
        another."""
        if g.dtype != t.dtype and t.dtype.kind == "f":
            g = _cast(g, t.dtype, create_graph)  # a cast makes a fresh array
        else:
            flags = g.data.flags
            if not flags.owndata or not flags.writeable or id(g.data) in handed_out:
                g = _cast(g, g.dtype, create_graph)
        handed_out.add(id(g.data))
        return g

    def deliver(t: Tensor, g: Tensor) -> None:
        if inputs is not None:
            for i in wanted.get(id(t), ()):
                prev = results[i]
                results[i] = own(t, g) if prev is None else _accumulate(prev, g, create_graph)
            return
        t.grad = own(t, g) if t.grad is None else _accumulate(t.grad, g, create_graph)

    # Pending gradients of the nodes discovered so far, and the heap of those nodes
    # keyed by (-generation, id): the id breaks ties so Tensors are never compared.
    grads: dict[int, Tensor] = {}
    heap: list[tuple[int, int, Tensor]] = []
    for root, g in zip(roots, root_grads):
        key = id(root)
        if root._op is None:
            deliver(root, g)  # x.backward() on a leaf
        elif key in grads:
            grads[key] = _accumulate(grads[key], g, create_graph)
        else:
            grads[key] = g
            heapq.heappush(heap, (-root._gen, key, root))

    # Grad mode during the walk: on only to record the backward pass (create_graph).
    previous_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        while heap:
            node = heapq.heappop(heap)[2]
            g = grads.pop(id(node))
            backward_fn = node._backward
            if backward_fn is None:
                raise GraphFreedError(
                    f"backward through the graph a second time: the graph of '{node._op}' "
                    "was freed by an earlier backward; call the first backward with "
                    "retain_graph=True if you need to backward through it again"
                )
            if node._retains_grad or id(node) in wanted:
                deliver(node, g)
            for parent, pg in zip(node._parents, backward_fn(g)):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.data.shape != parent.data.shape:
                    raise RuntimeError(
                        f"backward of '{node._op}' returned a gradient of shape "
                        f"{pg.data.shape} for an input of shape {parent.data.shape}"
                    )
                if pg.data.dtype != parent.data.dtype:
                    # Mixed-dtype ops (float32 * a float64 array) compute in the wider
                    # type; each tensor's gradient still comes in its own dtype.
                    pg = _cast(pg, parent.data.dtype, create_graph)
                if parent._op is None:
                    deliver(parent, pg)
                    continue
                key = id(parent)
                prev = grads.get(key)
                if prev is None:
                    grads[key] = pg
                    heapq.heappush(heap, (-parent._gen, key, parent))
                else:
                    grads[key] = _accumulate(prev, pg, create_graph)
            if not retain_graph:
                # Dropping the closure and the parents frees every saved array; the node
                # keeps its op name so a second backward can say what happened.
                node._backward = None
                node._parents = ()
    finally:
        _mode.enabled = previous_mode

    if inputs is None:
        return None
    return results


def _check_grad_output(t: Tensor, g: Any, where: str) -> Tensor:
    """The upstream gradient for output ``t``: ones for a one-element ``t``, else ``g``
    checked against ``t``'s shape."""
    from tinygrad_edu.tensor import Tensor

    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be created implicitly only for scalar outputs, "
                f"but the output has shape {t.shape}; pass grad= with that shape "
                "(e.g. ones_like(output)) or reduce the output to a scalar first"
            )
        return Tensor._const(np.ones_like(t.data))
    g = g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=t.dtype))
    if g.shape != t.shape:
        raise RuntimeError(
            f"{where}: grad has shape {g.shape} but the output has shape {t.shape}; "
            "they must be equal"
        )
    if g.dtype != t.dtype and t.dtype.kind == "f":
        # A float64 upstream gradient must not turn a float32 graph's gradients float64.
        g = Tensor._const(g.data.astype(t.dtype))
    return g


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad``.

    ``grad_tensors`` gives the upstream gradient of each tensor (None for a scalar,
    which means 1). ``retain_graph`` defaults to ``create_graph``; without it the graph
    is freed as the walk passes. With ``create_graph`` the gradients record their own
    graph, so they can be differentiated again.
    """
    from tinygrad_edu.tensor import Tensor

    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_list: list[Any] = [None] * len(roots)
    elif isinstance(tensors, Tensor) or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_list = [grad_tensors]
    else:
        grad_list = list(grad_tensors)
    if len(grad_list) != len(roots):
        raise ValueError(
            f"backward: got {len(roots)} tensors but {len(grad_list)} gradients"
        )
    for t in roots:
        if not t.requires_grad:
            raise RuntimeError(
                "backward: tensor does not require grad and has no graph; create the "
                "inputs with requires_grad=True (and not under no_grad) to record one"
            )
    root_grads = [_check_grad_output(t, g, "backward") for t, g in zip(roots, grad_list)]
    keep = create_graph if retain_graph is None else retain_graph
    _run(roots, root_grads, keep, create_graph, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    Like ``torch.autograd.grad``: ``grad_outputs`` are the upstream gradients (None for
    scalar outputs). An input that the outputs do not depend on raises, unless
    ``allow_unused``, where its gradient is zeros.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(2.0, requires_grad=True)
    >>> (g,) = tg.grad(x ** 3, x)
    >>> float(g)
    12.0
    """
    from tinygrad_edu.tensor import Tensor

    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gouts: list[Any] = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        gouts = [grad_outputs]
    else:
        gouts = list(grad_outputs)
    if len(gouts) != len(outs):
        raise ValueError(f"grad: got {len(outs)} outputs but {len(gouts)} grad_outputs")
    for t in outs:
        if not t.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no graph")
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError(f"grad: an input of shape {t.shape} does not require grad")
    root_grads = [_check_grad_output(t, g, "grad") for t, g in zip(outs, gouts)]
    keep = create_graph if retain_graph is None else retain_graph
    results = _run(outs, root_grads, keep, create_graph, ins)
    assert results is not None
    final: list[Tensor] = []
    for t, r in zip(ins, results):
        if r is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: an input of shape {t.shape} is not used by the outputs; "
                    "pass allow_unused=True to get zeros for it"
                )
            r = Tensor(np.zeros_like(t.data))
        final.append(r)
    return tuple(final)

