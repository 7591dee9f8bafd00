"""The backward pass: a walk over the recorded graph in topological order.

Order. Every recorded node has a generation: one more than the largest generation of
its parents (leaves are 0). A consumer therefore always has a larger generation than
anything it consumes, so visiting nodes in decreasing generation is a topological
order: a node's closure runs only after every consumer has added its share to the
node's gradient. A max-heap keyed by generation hands the nodes out in that order as
they are discovered: one pass, no recursion (a chain of a million ops is fine), and
O(n log w) work for n nodes and width w (a wide graph is not quadratic).

Where the gradients end up (``.grad``, ``retain_grad``, the results of :func:`grad`),
with the dtype and ownership rules, is :mod:`.delivery`'s job.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.anomaly import AnomalyError
from tinygrad_edu.autograd.delivery import GradientDelivery, accumulate, cast
from tinygrad_edu.grad_mode import set_grad_enabled
from tinygrad_edu.tensor import Tensor, wrap
from tinygrad_edu.versions import modified_error

__all__ = [
    "backward", "grad", "walk", "GraphFreedError", "BackwardError", "Trace",
]

#: Called after each node's closure, if given to :func:`walk`: (node, its upstream
#: gradient, the gradients it hands its parents). Step-by-step explanations use it.
Trace = Callable[[Tensor, Tensor, Sequence["Tensor | None"]], None]


class GraphFreedError(RuntimeError):
    """Raised when backward reaches a node whose graph an earlier backward freed."""


class BackwardError(RuntimeError):
    """An op's backward closure raised; the message names the op, and the original
    error is chained (``__cause__``). The walk stops: no ``.grad`` is changed, and the
    nodes already walked are freed unless ``retain_graph``."""


def walk(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    delivery: GradientDelivery,
    retain_graph: bool,
    create_graph: bool,
    trace: Trace | None = None,
) -> None:
    """Run every node's backward once, in topological order, from ``roots``.

    Gradients leave the walk (into ``delivery``) only once it has finished, so a walk
    that fails changes no ``.grad``.
    """
    grads: dict[int, Tensor] = {}  # pending gradients of the nodes discovered so far
    heap: list[tuple[int, int, Tensor]] = []  # (-generation, id, node): ids break ties
    final: dict[int, tuple[Tensor, Tensor]] = {}  # what goes to the delivery at the end

    wanted = delivery.wanted

    def receive(t: Tensor, g: Tensor) -> None:
        key = id(t)
        if t._op is None or t._retains_grad or key in wanted:
            prev = final.get(key)  # a gradient that leaves the walk
            final[key] = (t, g if prev is None else accumulate(prev[1], g, create_graph))
            if t._op is None:  # a leaf: nothing to walk
                return
        if (prev_g := grads.get(key)) is None:
            grads[key] = g
            heapq.heappush(heap, (-t._gen, key, t))
        else:
            grads[key] = accumulate(prev_g, g, create_graph)

    for root, g in zip(roots, root_grads):
        receive(root, g)
    # Grad mode during the walk: on only to record the backward pass (create_graph).
    with set_grad_enabled(create_graph):
        while heap:
            node = heapq.heappop(heap)[2]
            g = grads.pop(id(node))
            if node._backward is None:
                raise _freed(node)
            if node._saved:  # what the closure reads must not have changed in place
                versions = node._saved_versions  # None: all were at version 0
                for i, t in enumerate(node._saved):
                    if t._vc is not None and t._vc[0] != (versions[i] if versions else 0):
                        raise modified_error(node._op or "?", t, versions[i] if versions else 0)
            try:
                parent_grads = node._backward(g)
            except (GraphFreedError, BackwardError, AnomalyError):
                raise
            except Exception as exc:
                raise _failed(node, exc) from exc
            if type(parent_grads) is not tuple or len(parent_grads) != len(node._parents):
                _refuse_result(node, parent_grads)
            if trace is not None:
                trace(node, g, parent_grads)
            for parent, pg in zip(node._parents, parent_grads):
                if pg is not None and parent.requires_grad:
                    if type(pg) is not Tensor or pg.data.shape != parent.data.shape or (
                            pg.data.dtype != parent.data.dtype):
                        pg = _checked(node, parent, pg, create_graph)
                    receive(parent, pg)
            if not retain_graph:
                # Dropping the closure and the parents frees every saved array; the node
                # keeps its op name so that a second backward can say what happened.
                node._backward = None
                node._parents = ()
                node._saved = ()
        delivery.deliver_all(final.values())


def _failed(node: Tensor, exc: Exception) -> BackwardError:
    return BackwardError(
        f"backward of '{node._op}' (output shape {node.shape}) raised "
        f"{type(exc).__name__}: {exc}"
    )


def _refuse_result(node: Tensor, parent_grads: Any) -> None:
    """Raise for a closure result that is not one gradient per input (a list is fine)."""
    if not isinstance(parent_grads, (tuple, list)):
        raise TypeError(
            f"backward of '{node._op}' must return a tuple with one gradient per "
            f"input ({len(node._parents)}), got {type(parent_grads).__name__}"
        )
    if len(parent_grads) != len(node._parents):
        raise RuntimeError(
            f"backward of '{node._op}' returned {len(parent_grads)} gradients for "
            f"{len(node._parents)} inputs; return one per input (None for an input "
            "that needs none)"
        )


def _checked(node: Tensor, parent: Tensor, pg: Any, create_graph: bool) -> Tensor:
    """A parent's gradient from ``node``'s closure: a Tensor (an ndarray is wrapped) of
    the parent's shape, in the parent's dtype (a mixed-dtype op computes in the wider
    type)."""
    if not isinstance(pg, Tensor):
        if not isinstance(pg, np.ndarray):
            raise TypeError(
                f"backward of '{node._op}' returned a {type(pg).__name__} as a gradient; "
                "expected a Tensor, an ndarray or None"
            )
        pg = wrap(pg)
    if pg.data.shape != parent.data.shape:
        raise RuntimeError(
            f"backward of '{node._op}' returned a gradient of shape "
            f"{pg.data.shape} for an input of shape {parent.data.shape}"
        )
    if pg.data.dtype != parent.data.dtype:
        if pg.data.dtype.kind != "f":
            raise TypeError(
                f"backward of '{node._op}' returned a gradient of dtype {pg.data.dtype} "
                f"for an input of dtype {parent.data.dtype}; gradients are floating point"
            )
        return cast(pg, parent.data.dtype, create_graph)
    return pg


def _freed(node: Tensor) -> GraphFreedError:
    return GraphFreedError(
        f"backward through the graph a second time: the graph of '{node._op}' was freed "
        "by an earlier backward; call the first backward with retain_graph=True if you "
        "need to backward through it again"
    )


def _check_grad_output(t: Tensor, g: Any, where: str) -> Tensor:
    """The upstream gradient for output ``t``: ones for a one-element ``t``, else ``g``
    checked against ``t``'s shape."""
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be created implicitly only for scalar outputs, "
                f"but the output has shape {t.shape}; pass grad= with that shape "
                "(e.g. ones_like(output)) or reduce the output to a scalar first"
            )
        return wrap(np.ones_like(t.data))
    if not isinstance(g, Tensor):
        g = wrap(np.asarray(g))
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{where}: grad must be real numbers (a Tensor or an array), got "
                        f"dtype {g.dtype}")
    if g.shape != t.shape:
        raise RuntimeError(
            f"{where}: grad has shape {g.shape} but the output has shape {t.shape}; "
            "they must be equal"
        )
    if g.dtype != t.dtype and t.dtype.kind == "f":
        # A float64 upstream gradient must not turn a float32 graph's gradients float64;
        # one that requires grad keeps its link through a recorded cast (create_graph).
        g = g.astype(t.dtype) if g.requires_grad else wrap(g.data.astype(t.dtype))
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
    walk(roots, root_grads, GradientDelivery(root_grads, create_graph), keep, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    Like ``torch.autograd.grad``: ``grad_outputs`` are the upstream gradients (None for
    scalar outputs). An input that the outputs do not depend on raises, unless
    ``allow_unused``, where its gradient is None (as in PyTorch).

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(2.0, requires_grad=True)
    >>> (g,) = tg.grad(x ** 3, x)
    >>> float(g)
    12.0
    """
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
    delivery = GradientDelivery(root_grads, create_graph, ins)
    walk(outs, root_grads, delivery, keep, create_graph)
    if not allow_unused:
        for t, r in zip(ins, delivery.results):
            if r is None:
                raise RuntimeError(
                    f"grad: an input of shape {t.shape} is not used by the outputs; "
                    "pass allow_unused=True to get None for it"
                )
    return tuple(delivery.results)

