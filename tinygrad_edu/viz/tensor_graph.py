"""The graph behind some tensors, numbered once for every view of it.

The picture (:mod:`.svg`) and the step table (:mod:`.steps`) both call the tensors by
number, so both take their numbers from here: the tensors in the order the forward pass
could have made them (every tensor after its inputs, the inputs in argument order),
numbered from 1. Backward meets the op nodes roughly from the highest number down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tinygrad_edu.tensor import Tensor

__all__ = ["TensorGraph", "Edge", "collect", "as_roots"]


@dataclass(frozen=True)
class Edge:
    """``source`` (a tensor's number) is argument ``position`` of op node ``target``."""

    source: int
    target: int
    position: int


@dataclass
class TensorGraph:
    """The tensors behind ``roots`` and the edges from each op's inputs to its output.

    ``nodes[k - 1]`` is tensor number ``k``; ``edges`` hold one entry per argument, so
    ``x * x`` has two edges from ``x`` to the product.
    """

    roots: list[Tensor]
    nodes: list[Tensor] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    _numbers: dict[int, int] = field(default_factory=dict, repr=False)

    def number(self, t: Tensor) -> int:
        """The number of ``t`` in this graph (KeyError if it is not in it)."""
        return self._numbers[id(t)]

    def __contains__(self, t: object) -> bool:
        return id(t) in self._numbers

    def is_root(self, t: Tensor) -> bool:
        return any(t is r for r in self.roots)


def as_roots(roots: Tensor | Sequence[Tensor], where: str) -> list[Tensor]:
    """``roots`` as a list of tensors; a TypeError naming ``where`` for anything else."""
    root_list = [roots] if isinstance(roots, Tensor) else list(roots)
    for i, r in enumerate(root_list):
        if not isinstance(r, Tensor):
            raise TypeError(f"{where}: expected a Tensor or a sequence of Tensors, "
                            f"got {type(r).__name__} at position {i}")
    return root_list


def collect(roots: Tensor | Sequence[Tensor], where: str = "collect") -> TensorGraph:
    """Number the tensors behind ``roots`` in forward order (a post-order walk).

    Iterative, so a chain of any depth is fine. A graph freed by backward shows only
    what is left of it.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> g = collect(y)
    >>> [t.op for t in g.nodes], g.number(y)
    ([None, 'mul', 'sum'], 3)
    >>> [(e.source, e.target, e.position) for e in g.edges]
    [(1, 2, 0), (1, 2, 1), (2, 3, 0)]
    """
    graph = TensorGraph(as_roots(roots, where))
    numbers = graph._numbers
    for root in graph.roots:
        if id(root) in numbers:
            continue
        # (tensor, index of the next parent to visit): a node is numbered when its last
        # parent is done, so every tensor gets a larger number than its inputs.
        stack: list[tuple[Tensor, int]] = [(root, 0)]
        on_stack = {id(root)}
        while stack:
            t, i = stack[-1]
            parents = t.parents
            if i < len(parents):
                stack[-1] = (t, i + 1)
                p = parents[i]
                if id(p) not in numbers and id(p) not in on_stack:
                    stack.append((p, 0))
                    on_stack.add(id(p))
                continue
            stack.pop()
            on_stack.discard(id(t))
            graph.nodes.append(t)
            numbers[id(t)] = len(graph.nodes)
    for t in graph.nodes:
        for pos, p in enumerate(t.parents):
            graph.edges.append(Edge(numbers[id(p)], numbers[id(t)], pos))
    return graph
