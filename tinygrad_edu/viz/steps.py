"""Backward, one step at a time, and the naive walk that gets it wrong.

:func:`backward_steps` runs the engine's own walk (:func:`tinygrad_edu.autograd.engine.walk`)
with a trace that writes down, for every node in the order backward reaches it, the
gradient it receives (with each consumer's contribution) and what it hands to each
input. It keeps the graph and touches no ``.grad``. :func:`explain` prints those steps as
a table whose node numbers are the picture's (:func:`~tinygrad_edu.viz.to_svg`).

:func:`naive_backward` walks the same graph depth first, the way a first attempt at
backward usually does, and shows why the order must be topological.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from tinygrad_edu.autograd.delivery import GradientDelivery
from tinygrad_edu.autograd.engine import walk
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor, wrap
from tinygrad_edu.viz.labels import names_by_id, shape_text, summary
from tinygrad_edu.viz.tensor_graph import TensorGraph, collect

__all__ = ["Contribution", "Handoff", "Step", "backward_steps", "explain", "NaiveBackward",
           "naive_backward"]


@dataclass(frozen=True)
class Contribution:
    """One share of a node's gradient: ``value``, handed over by the consumer numbered
    ``source`` (None for the output's own starting gradient)."""

    source: int | None
    value: np.ndarray


@dataclass(frozen=True)
class Handoff:
    """What a step hands to input ``parent`` (a number): ``value``, or None when that
    input needs no gradient."""

    parent: int
    value: np.ndarray | None


@dataclass(frozen=True)
class Step:
    """One step of backward: node number ``node`` (``op`` None for a leaf, whose
    gradient ends up in ``.grad``) receives ``upstream``, the sum of ``contributions``,
    and hands ``handed`` on to its inputs (empty for a leaf). ``index`` counts the steps
    from 1; ``tensor`` is the node itself."""

    index: int
    node: int
    op: str | None
    shape: tuple[int, ...]
    dtype: np.dtype
    upstream: np.ndarray
    contributions: tuple[Contribution, ...]
    handed: tuple[Handoff, ...]
    tensor: Tensor


def _start_grad(output: Tensor, grad: object, where: str) -> Tensor:
    """The starting gradient: ones for a one-element output, else ``grad`` checked."""
    if not isinstance(output, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise RuntimeError(f"{where}: the output does not require grad and has no graph; "
                           "create the inputs with requires_grad=True")
    if grad is None:
        if output.size != 1:
            raise RuntimeError(f"{where}: the output has shape {output.shape}; pass grad= "
                               "with that shape (a starting gradient is implicit only for "
                               "one-element outputs)")
        return wrap(np.ones_like(output.data))
    start = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=output.dtype)
    if start.shape != output.shape:
        raise RuntimeError(f"{where}: grad has shape {start.shape} but the output has "
                           f"shape {output.shape}; they must be equal")
    return wrap(start.copy())


def backward_steps(output: Tensor, grad: object = None) -> list[Step]:
    """The steps ``output.backward(grad)`` would take, in the engine's order, without
    running them for real: no ``.grad`` changes and the graph is kept.

    Op steps come in the order backward visits them; then one step per leaf that
    receives a gradient (in number order), with the total that backward would add to
    its ``.grad``. A node used by several ops lists each consumer's contribution.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(3.0, requires_grad=True)
    >>> y = x * x                       # x reaches mul twice
    >>> [(s.node, s.op, float(s.upstream)) for s in backward_steps(y)]
    [(2, 'mul', 1.0), (1, None, 6.0)]
    >>> [(c.source, float(c.value)) for c in backward_steps(y)[1].contributions]
    [(2, 3.0), (2, 3.0)]
    >>> x.grad is None
    True
    """
    start = _start_grad(output, grad, "backward_steps")
    g = collect(output, "backward_steps")
    received: dict[int, list[Contribution]] = {g.number(output): [Contribution(None,
                                                                                 start.data)]}
    steps: list[Step] = []

    def trace(node: Tensor, upstream: Tensor, parent_grads: Sequence[Tensor | None]) -> None:
        k = g.number(node)
        handed = []
        for p, pg in zip(node.parents, parent_grads):
            if pg is None or not p.requires_grad:
                handed.append(Handoff(g.number(p), None))
                continue
            value = np.array(pg.data, dtype=p.dtype)  # a copy, in the parent's dtype
            handed.append(Handoff(g.number(p), value))
            received.setdefault(g.number(p), []).append(Contribution(k, value))
        steps.append(Step(len(steps) + 1, k, node.op, node.shape, node.dtype,
                          np.array(upstream.data), tuple(received.get(k, ())), tuple(handed),
                          node))

    # A delivery with no inputs wanted delivers nothing: no .grad is touched.
    walk([output], [start], GradientDelivery([start], False, []), retain_graph=True,
         create_graph=False, trace=trace)
    for t in g.nodes:
        parts = received.get(g.number(t))
        if t.op is None and parts:
            total = np.zeros(t.shape, dtype=t.dtype)
            for c in parts:
                total = total + c.value
            steps.append(Step(len(steps) + 1, g.number(t), None, t.shape, t.dtype, total,
                              tuple(parts), (), t))
    return steps


def _from_text(c: Contribution) -> str:
    origin = "start" if c.source is None else f"#{c.source}"
    return f"{origin}: {summary(c.value, 28)}"


def explain(output: Tensor, grad: object = None, names: Mapping[str, Tensor] | None = None,
            file: TextIO | None = None) -> None:
    """Print :func:`backward_steps` as a table, one block per step: the node (numbered
    as in :func:`~tinygrad_edu.viz.to_svg`), its op or name, its shape, the gradient it
    receives, where each share came from, and what it hands on to each input.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> explain((x * x).sum(), names={"x": x})
    step node op   shape receives from         hands on
    1    #3   sum  ()    1        start: 1     #2: [1 1]
    2    #2   mul  (2,)  [1 1]    #3: [1 1]    #1: [1 2]
                                               #1: [1 2]
    leaf #1   x    (2,)  [2 4]    #2: [1 2]    .grad
                                  #2: [1 2]
    """
    steps = backward_steps(output, grad)
    by_id = names_by_id(names, "explain")
    header = ["step", "node", "op", "shape", "receives", "from", "hands on"]
    rows: list[list[list[str]]] = []  # each step: one list of lines per column
    for s in steps:
        name = by_id.get(id(s.tensor))
        if s.op is None:
            what = name or "leaf"
        else:
            what = s.op if name is None else f"{name} = {s.op}"
        hands = ([f"#{h.parent}: {summary(h.value, 28)}" for h in s.handed]
                 if s.op is not None else [".grad"])
        rows.append([["leaf" if s.op is None else str(s.index)], [f"#{s.node}"], [what],
                     [shape_text(s.shape)], [summary(s.upstream, 28)],
                     [_from_text(c) for c in s.contributions] or ["-"], hands])
    widths = [max([len(header[i])] + [len(line) for r in rows for line in r[i]])
              for i in range(len(header))]
    out = file if file is not None else sys.stdout

    def emit(cells: list[str]) -> None:
        out.write(" ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() + "\n")

    emit(header)
    for r in rows:
        for i in range(max(len(col) for col in r)):
            emit([col[i] if i < len(col) else "" for col in r])


@dataclass(frozen=True)
class NaiveBackward:
    """What the naive walk computed: ``grads``, one per input asked for (None when
    nothing reached it), and ``visits``: each node it ran a closure for, in order (a
    reused node appears once per path), with the gradient it handed on that time."""

    grads: list[np.ndarray | None]
    visits: list[tuple[int, np.ndarray]]


def naive_backward(output: Tensor, inputs: Sequence[Tensor]) -> NaiveBackward:
    """Backward done wrong: depth first, a node's closure run once per path into it,
    each time with all the gradient it has collected so far.

    A node reached twice hands on its gradient the first time before its other
    consumer has added its share, and again (with the total) the second time, so
    whatever it handed on the first time is counted twice. The engine avoids that by
    visiting nodes in topological order. Touches no ``.grad`` and keeps the graph.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(2.0, requires_grad=True)
    >>> a = x * x                   # a = 4, used by two ops below
    >>> y = a * 3 + a               # dy/da = 4, so dy/dx = 4 * 2x = 16
    >>> float(naive_backward(y, [x]).grads[0])
    28.0
    >>> float(tg.grad(y, x)[0])
    16.0
    """
    start = _start_grad(output, None, "naive_backward")
    g: TensorGraph = collect(output, "naive_backward")
    collected: dict[int, np.ndarray] = {id(output): start.data}
    visits: list[tuple[int, np.ndarray]] = []

    def hand_on(node: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        if node.backward_fn is None:
            raise RuntimeError("naive_backward: the graph was freed by an earlier backward")
        now = collected[id(node)]
        visits.append((g.number(node), now.copy()))
        return list(zip(node.parents, node.backward_fn(wrap(now))))

    with no_grad():
        # One iterator per node on the current path: a depth-first walk with no recursion.
        stack = [iter(hand_on(output))] if output.op is not None else []
        while stack:
            try:
                parent, pg = next(stack[-1])
            except StopIteration:
                stack.pop()
                continue
            if pg is None or not parent.requires_grad:
                continue
            prev = collected.get(id(parent))
            collected[id(parent)] = pg.data if prev is None else prev + pg.data
            if parent.op is not None:
                stack.append(iter(hand_on(parent)))
    grads = [collected.get(id(t)) for t in inputs]
    return NaiveBackward([None if v is None else np.array(v) for v in grads], visits)
