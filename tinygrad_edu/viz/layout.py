"""A layered drawing of a DAG, left to right, in pure Python and deterministic.

The classic recipe of Sugiyama et al. (1981), in its plainest form:

1. **Layers** by longest path *to the outputs*: an output sits in the last layer and
   every other node one layer before its earliest consumer's layer would force, i.e.
   ``layer(v) = last - longest path from v to an output``. Leaves such as a weight
   matrix then sit right before the op that uses them, not all in the first column.
2. **Dummy nodes** split every edge that spans several layers, so each edge joins
   neighbouring layers and can bend around the nodes in between.
3. **Crossing reduction** by barycentres: sweep down and up the layers, each time
   ordering a layer by the mean position of its neighbours in the layer just swept;
   keep the order with the fewest crossings seen.
4. **Coordinates**: layers become columns; within a column, each node is pulled
   towards the mean height of its neighbours, subject to keeping the order and a gap
   (an isotonic regression, solved exactly by pooling adjacent violators).

Everything is decided by the node indices and the edge list, never by ids or hashes,
so the same graph always gets the same picture.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Box", "Layout", "layered_layout", "count_crossings"]


@dataclass(frozen=True)
class Box:
    """A node's rectangle: centre ``(x, y)``, ``width`` and ``height``."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Layout:
    """Where everything goes: ``boxes[i]`` for node ``i``, ``routes[j]`` the points of
    edge ``j`` (from its source's right side to its target's left side), ``layers`` the
    node indices of each column in drawing order (dummies left out), and the size of the
    whole drawing."""

    boxes: list[Box]
    routes: list[list[tuple[float, float]]]
    layers: list[list[int]]
    width: float
    height: float


def _layers(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Layer of each node: last layer minus its longest path to a sink."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    order = [v for v in range(n) if indeg[v] == 0]  # Kahn's algorithm, by index
    for u in order:
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    if len(order) != n:
        raise ValueError("layered_layout: the edges contain a cycle; only DAGs can be drawn")
    height = [0] * n  # longest path to a sink
    for u in reversed(order):
        for v in succ[u]:
            height[u] = max(height[u], height[v] + 1)
    last = max(height, default=0)
    return [last - h for h in height]


def count_crossings(upper: Sequence[int], lower: Sequence[int],
                    links: Sequence[tuple[int, int]]) -> int:
    """Crossings between two neighbouring layers: ``links`` join ``upper`` nodes to
    ``lower`` nodes; two links cross when their ends are in opposite orders.

    >>> count_crossings([0, 1], [2, 3], [(0, 3), (1, 2)])
    1
    """
    pos_u = {v: i for i, v in enumerate(upper)}
    pos_l = {v: i for i, v in enumerate(lower)}
    ends = sorted((pos_u[a], pos_l[b]) for a, b in links)
    seen: list[int] = []
    crossings = 0
    for _, b in ends:  # inversions: links seen so far that end strictly lower
        crossings += len(seen) - bisect.bisect_right(seen, b)
        bisect.insort(seen, b)
    return crossings


def _pool_adjacent(targets: list[float], seps: list[float]) -> list[float]:
    """Positions as close as possible (least squares) to ``targets`` with
    ``y[i+1] - y[i] >= seps[i]``: shifting by the cumulative gaps makes the constraint
    ``z[i+1] >= z[i]``, an isotonic regression, which pooling adjacent violators solves."""
    offsets = [0.0]
    for s in seps:
        offsets.append(offsets[-1] + s)
    blocks: list[list[float]] = []  # [mean, count]
    for t, o in zip(targets, offsets):
        blocks.append([t - o, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks[-1]
            blocks[-1] = [(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2]
    z: list[float] = []
    for mean, count in blocks:
        z.extend([mean] * int(count))
    return [zi + o for zi, o in zip(z, offsets)]


def layered_layout(
    sizes: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    layer_gap: float = 56.0,
    node_gap: float = 18.0,
    sweeps: int = 12,
) -> Layout:
    """Lay out nodes ``0 .. len(sizes)-1`` (``sizes[i] = (width, height)``) joined by
    ``edges`` ``(source, target)``, data flowing left to right.

    >>> lay = layered_layout([(40, 20), (40, 20), (40, 20)], [(0, 2), (1, 2)])
    >>> lay.layers
    [[0, 1], [2]]
    >>> lay.boxes[2].y == (lay.boxes[0].y + lay.boxes[1].y) / 2
    True
    """
    n = len(sizes)
    layer_of = _layers(n, edges)
    n_layers = max(layer_of, default=-1) + 1
    # Dummy nodes: index >= n, size (0, 0); chains[j] are the nodes edge j passes.
    all_layer = list(layer_of)
    chains: list[list[int]] = []
    for u, v in edges:
        chain = [u]
        for layer in range(layer_of[u] + 1, layer_of[v]):
            all_layer.append(layer)
            chain.append(len(all_layer) - 1)
        chain.append(v)
        chains.append(chain)
    total = len(all_layer)
    up: list[list[int]] = [[] for _ in range(total)]
    down: list[list[int]] = [[] for _ in range(total)]
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)

    # Initial order: by index (the caller's numbering), dummies after the real nodes.
    layers: list[list[int]] = [[] for _ in range(n_layers)]
    for v in range(total):
        layers[all_layer[v]].append(v)

    def crossings(order: list[list[int]]) -> int:
        return sum(count_crossings(order[i], order[i + 1],
                                   [(a, b) for a in order[i] for b in down[a]])
                   for i in range(len(order) - 1))

    best, best_count = [list(layer) for layer in layers], crossings(layers)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        span = range(1, n_layers) if downward else range(n_layers - 2, -1, -1)
        for i in span:
            ref = layers[i - 1] if downward else layers[i + 1]
            pos = {v: k for k, v in enumerate(ref)}
            keys = {}
            for k, v in enumerate(layers[i]):
                near = [pos[w] for w in (up[v] if downward else down[v])]
                # (barycentre, current place): stable, and nodes with no neighbour stay
                keys[v] = (sum(near) / len(near) if near else float(k), k)
            layers[i] = sorted(layers[i], key=keys.__getitem__)
        count = crossings(layers)
        if count < best_count:
            best, best_count = [list(layer) for layer in layers], count
    layers = best

    def size(v: int) -> tuple[float, float]:
        return sizes[v] if v < n else (0.0, 0.0)

    # x: one column per layer, as wide as its widest node.
    col_width = [max((size(v)[0] for v in layer), default=0.0) for layer in layers]
    col_left: list[float] = []
    x = 0.0
    for w in col_width:
        col_left.append(x)
        x += w + layer_gap
    width = max(x - layer_gap, 0.0)

    # y: packed first, then pulled towards the neighbours, a few rounds each way.
    ys = [0.0] * total
    seps_of: list[list[float]] = []
    for layer in layers:
        seps = [(size(a)[1] + size(b)[1]) / 2 + (node_gap if a < n or b < n else node_gap / 3)
                for a, b in zip(layer, layer[1:])]
        seps_of.append(seps)
        for v, y in zip(layer, _pool_adjacent([0.0] * len(layer), seps)):
            ys[v] = y
    for sweep in range(2 * sweeps):
        downward = sweep % 2 == 0
        span = range(n_layers) if downward else range(n_layers - 1, -1, -1)
        for i in span:
            layer = layers[i]
            targets = []
            for v in layer:
                near = [ys[w] for w in (up[v] + down[v])]
                targets.append(sum(near) / len(near) if near else ys[v])
            for v, y in zip(layer, _pool_adjacent(targets, seps_of[i])):
                ys[v] = y
    top = min((ys[v] - size(v)[1] / 2 for v in range(total)), default=0.0)
    bottom = max((ys[v] + size(v)[1] / 2 for v in range(total)), default=0.0)

    boxes = [Box(col_left[all_layer[v]] + col_width[all_layer[v]] / 2, ys[v] - top,
                 sizes[v][0], sizes[v][1]) for v in range(n)]
    incoming: list[list[int]] = [[] for _ in range(n)]
    for j, (_, v) in enumerate(edges):
        incoming[v].append(j)
    routes: list[list[tuple[float, float]]] = []
    for j, chain in enumerate(chains):
        u, v = chain[0], chain[-1]
        src, dst = boxes[u], boxes[v]
        # Edges into a node arrive at ports spread down its left side, in edge order.
        k, m = incoming[v].index(j), len(incoming[v])
        points = [(src.x + src.width / 2, src.y)]
        for d in chain[1:-1]:
            layer = all_layer[d]
            points += [(col_left[layer], ys[d] - top),
                       (col_left[layer] + col_width[layer], ys[d] - top)]
        points.append((dst.x - dst.width / 2, dst.y - dst.height / 2
                       + dst.height * (k + 1) / (m + 1)))
        routes.append(points)
    real_layers = [[v for v in layer if v < n] for layer in layers]
    return Layout(boxes, routes, real_layers, width, bottom - top)
