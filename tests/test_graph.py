"""The engine: shared nodes, deep and wide graphs, freeing, grad mode, higher derivatives,
and a state machine that builds random graphs and checks them against finite differences
of a plain NumPy evaluation."""

from __future__ import annotations

import gc
import heapq
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    rule,
)

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import GraphFreedError, Tensor, numerical_gradient
from tinygrad_edu.autograd import engine
from tinygrad_edu.testing import arrays, finite_floats


@contextmanager
def _gc_disabled() -> Iterator[None]:
    """The cyclic collector off (after one collection): reference counting alone must
    then free a graph (a cycle would need the collector)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---------------------------------------------------------------------------- shared nodes


def test_tensor_used_twice_in_one_op() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0, 6.0])  # type: ignore[union-attr]


def test_tensor_added_to_itself() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True)
    (x + x).backward(np.array([3.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [6.0, 10.0])  # type: ignore[union-attr]


def test_diamond() -> None:
    # x -> a -> (b, c) -> d: the gradient reaching a is the sum of both paths, and a's
    # closure must run once, after both b and c have contributed.
    x = Tensor([0.3, -0.7], requires_grad=True)
    a = x * 2.0
    b = a.tanh()
    c = a.exp()
    d = (b * c).sum()
    d.backward()
    av = 2.0 * x.data
    expected = 2.0 * ((1 - np.tanh(av) ** 2) * np.exp(av) + np.tanh(av) * np.exp(av))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)  # type: ignore[union-attr]


def test_two_roots_sharing_a_subgraph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y1, y2 = h.sum(), (h * 3.0).sum()
    tg.backward([y1, y2])
    np.testing.assert_array_equal(x.grad.data, 8.0 * x.data)  # type: ignore[union-attr]


def test_backward_on_a_leaf_and_grad_with_respect_to_an_intermediate() -> None:
    x = Tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad is not None and x.grad.item() == 1.0
    w = Tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.data, [4.0, 8.0])


def test_retained_intermediate_used_twice_accumulates() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h + h * 2).sum().backward()
    np.testing.assert_array_equal(h.grad.data, [3.0, 3.0])  # type: ignore[union-attr]
    np.testing.assert_array_equal(x.grad.data, [9.0, 9.0])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- deep and wide


@pytest.mark.slow
def test_million_op_chain() -> None:
    # An odd number of negations: y = -x, dy/dx = -1. A recursive walk dies after about
    # a thousand nodes; one closure skipped or run twice would flip the sign.
    n = 1_000_001
    x = Tensor(np.array(1.5), requires_grad=True)
    y = x
    for _ in range(n):
        y = F.neg(y)
    assert y.item() == -1.5
    y.backward()
    assert x.grad is not None and x.grad.item() == -1.0


def _wide_backward_work(n: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Backward through n separate products x * w_i joined by one stack and a sum,
    counting the engine's heap operations and the backward closures it runs."""
    counts = {"push": 0, "pop": 0, "closure": 0}

    def counting_push(heap: list[Any], item: Any) -> None:
        counts["push"] += 1
        heapq.heappush(heap, item)

    def counting_pop(heap: list[Any]) -> Any:
        counts["pop"] += 1
        return heapq.heappop(heap)

    def counted(fn: Callable[[Tensor], Any]) -> Callable[[Tensor], Any]:
        def closure(g: Tensor) -> Any:
            counts["closure"] += 1
            return fn(g)

        return closure

    x = Tensor(np.array(0.5), requires_grad=True)
    ws = [Tensor(np.array(float(i % 7)), requires_grad=True) for i in range(n)]
    products = [x * w for w in ws]
    stacked = F.stack(products)
    total = stacked.sum()
    for node in [*products, stacked, total]:
        node._backward = counted(node._backward)
    # The engine's own heapq is replaced by a namespace of counting wrappers.
    monkeypatch.setattr(
        engine, "heapq", SimpleNamespace(heappush=counting_push, heappop=counting_pop)
    )
    total.backward()
    monkeypatch.undo()
    assert x.grad is not None and x.grad.item() == sum(float(i % 7) for i in range(n))
    assert all(w.grad is not None and w.grad.item() == 0.5 for w in ws)
    return counts


def test_wide_graph_backward_does_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every interior node (n products, the stack, the sum) enters the pending heap once,
    # leaves it once and has its closure run once: O(log n) heap work per node, so ten
    # times wider is ten times the work. An engine that re-sorted a pending list on every
    # insert (quadratic) or revisited nodes would need far more; a closure run twice
    # would also double-count a gradient.
    for n in (1_000, 10_000):
        nodes = n + 2
        work = _wide_backward_work(n, monkeypatch)
        assert work == {"push": nodes, "pop": nodes, "closure": nodes}, (n, work)


# ---------------------------------------------------------------------------- freeing


def test_second_backward_through_a_freed_graph_raises() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(GraphFreedError, match=r"second time.*retain_graph=True"):
        y.backward()
    assert issubclass(GraphFreedError, RuntimeError)


def test_retain_graph_allows_a_second_backward_and_gradients_accumulate() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])  # type: ignore[union-attr]
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])  # type: ignore[union-attr]


def test_intermediates_have_no_grad_unless_retained() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    kept = h + 1.0
    kept.retain_grad()
    (kept * h).sum().backward()
    assert h.grad is None and not h.is_leaf
    np.testing.assert_array_equal(kept.grad.data, h.data)  # type: ignore[union-attr]
    assert x.grad is not None


def _graph_with_every_kind_of_closure(x: Tensor) -> tuple[Tensor, Tensor]:
    # exp, tanh, sigmoid, sqrt, pow, softmax, log_softmax, logsumexp keep a weak
    # reference to their output; the rest capture inputs only.
    h = (x * 2.0).exp()
    parts = [h.tanh(), h.sigmoid(), h.sqrt(), x ** x, x.softmax(), x.log_softmax(),
             x.logsumexp(keepdims=True), x[[0, 0]].sum() * h, F.cross_entropy(x, np.int64(1))]
    loss = F.stack([p.sum() for p in parts]).sum()
    return h, loss


@pytest.mark.parametrize("call_backward", [True, False])
def test_graph_is_freed_by_reference_counting(call_backward: bool) -> None:
    with _gc_disabled():
        x = Tensor([0.5, 1.5], requires_grad=True)
        h, loss = _graph_with_every_kind_of_closure(x)
        h_ref, loss_ref = weakref.ref(h), weakref.ref(loss)
        del h
        assert h_ref() is not None  # the graph still holds it
        if call_backward:
            loss.backward()
        del loss
        assert loss_ref() is None, "the loss outlived its last reference"
        assert h_ref() is None, "an intermediate outlived the graph"
        assert (x.grad is not None) == call_backward


def test_backward_frees_the_saved_tensors_while_the_loss_is_alive() -> None:
    with _gc_disabled():
        x = Tensor([0.5, 1.5], requires_grad=True)
        h = x * 2.0
        h_ref = weakref.ref(h)
        loss = (h.exp() * 3.0).sum()
        del h
        loss.backward()
        assert h_ref() is None, "backward (without retain_graph) kept the graph alive"
        assert loss.requires_grad


# ---------------------------------------------------------------------------- grad mode


def test_no_grad_and_enable_grad_as_context_managers() -> None:
    x = Tensor([1.0], requires_grad=True)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and z.op == "mul"


def test_no_grad_and_enable_grad_as_decorators() -> None:
    x = Tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def frozen(t: Tensor) -> Tensor:
        assert not tg.is_grad_enabled()
        return t * 2

    @tg.enable_grad()
    def recorded(t: Tensor) -> Tensor:
        return t * 2

    assert not frozen(x).requires_grad
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert recorded(x).requires_grad
        assert not tg.is_grad_enabled()
    assert frozen.__name__ == "frozen"


def test_grad_mode_is_restored_after_an_exception() -> None:
    with pytest.raises(ValueError, match="boom"), tg.no_grad():
        raise ValueError("boom")
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_grad_mode_is_thread_local() -> None:
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with tg.no_grad():
            seen["worker"] = tg.is_grad_enabled()
            inside.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(timeout=10)
        # The worker sits inside no_grad; this thread is unaffected.
        assert tg.is_grad_enabled()
        x = Tensor([1.0], requires_grad=True)
        assert (x * 2).requires_grad
    finally:
        release.set()
        thread.join()
    assert seen["worker"] is False

    # And a new thread starts with grad enabled even when this one is under no_grad.
    with tg.no_grad():
        other = threading.Thread(target=lambda: seen.__setitem__("fresh", tg.is_grad_enabled()))
        other.start()
        other.join()
    assert seen["fresh"] is True


# ---------------------------------------------------------------------------- higher order


def test_second_derivative_of_x_to_the_fourth() -> None:
    x = Tensor(2.0, requires_grad=True)
    (g,) = tg.grad(x ** 4, x, create_graph=True)
    assert g.item() == 32.0 and g.requires_grad
    (h,) = tg.grad(g, x)
    assert h.item() == 48.0


def test_second_derivative_through_backward_create_graph() -> None:
    x = Tensor(2.0, requires_grad=True)
    (x ** 4).backward(create_graph=True)
    g = x.grad
    assert g is not None and g.item() == 32.0
    x.zero_grad()
    g.backward()
    assert x.grad is not None and x.grad.item() == 48.0


def test_hessian_vector_product_matches_the_analytic_hessian() -> None:
    # f(x) = x^T A x + sum(c * x^3): H = A + A^T + diag(6 c x).
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4))
    c = rng.standard_normal(4)
    x0 = rng.standard_normal(4)
    v = rng.standard_normal(4)
    x = Tensor(x0.copy(), requires_grad=True)
    f = (x @ (Tensor(a) @ x)) + (Tensor(c) * x ** 3).sum()
    (g,) = tg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, (a + a.T) @ x0 + 3 * c * x0 ** 2, rtol=1e-12)
    (hv,) = tg.grad((g * Tensor(v)).sum(), x)
    hessian = a + a.T + np.diag(6 * c * x0)
    np.testing.assert_allclose(hv.data, hessian @ v, rtol=1e-12, atol=1e-12)


def test_grad_api() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, -1.0], requires_grad=True)
    unused = Tensor([5.0], requires_grad=True)
    y = x * w
    gx, gw = tg.grad(y, [x, w], grad_outputs=np.array([1.0, 10.0]), retain_graph=True)
    np.testing.assert_array_equal(gx.data, [3.0, -10.0])
    np.testing.assert_array_equal(gw.data, [1.0, 20.0])
    assert x.grad is None and w.grad is None, "grad() must not touch .grad"
    with pytest.raises(RuntimeError, match="not used by the outputs.*allow_unused=True"):
        tg.grad(y.sum(), [x, unused], retain_graph=True)
    gx2, gu = tg.grad(y.sum(), [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx2.data, [3.0, -1.0])
    assert gu is None  # as torch.autograd.grad: an unused input has no gradient
    with pytest.raises(RuntimeError, match="grad can be created implicitly only for scalar"):
        tg.grad(x * 2, x)


# ---------------------------------------------------------------------------- random graphs

# Each op: (Tensor version, NumPy version). Every op keeps magnitudes bounded so a graph
# of any depth stays in the range where finite differences are accurate.
_UNARY: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (F.tanh, np.tanh),
    "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "neg": (F.neg, np.negative),
    "gauss": (lambda t: F.exp(-(t * t)), lambda a: np.exp(-(a * a))),
    "log1p_sq": (lambda t: F.log(t * t + 1.0), lambda a: np.log(a * a + 1.0)),
    "half": (lambda t: t * 0.5, lambda a: a * 0.5),
}
_BINARY: dict[str, tuple[Callable[[Tensor, Tensor], Tensor],
                         Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "mean2": (lambda s, t: (s + t) * 0.5, lambda a, b: (a + b) * 0.5),
    "halfdiff": (lambda s, t: (s - t) * 0.5, lambda a, b: (a - b) * 0.5),
    "gated": (lambda s, t: F.tanh(s) * t, lambda a, b: np.tanh(a) * b),
    "ratio": (lambda s, t: s / (t * t + 1.0), lambda a, b: a / (b * b + 1.0)),
}
_LEAF_SHAPES = [(3,), (2, 3), ()]


class RandomGraph(RuleBasedStateMachine):
    """Grow a graph from three leaves of broadcast-compatible shapes with random unary
    and binary ops; bundles hand out old nodes again, so x * x patterns and diamonds
    are common. Autograd's leaf gradients of a weighted sum of nodes are checked
    against central differences of the same graph evaluated in plain NumPy."""

    nodes = Bundle("nodes")

    def __init__(self) -> None:
        super().__init__()
        self.leaf_values: list[np.ndarray] = []
        self.leaves: list[Tensor] = []
        self.tensors: list[Tensor] = []
        # How to recompute node k in NumPy: ("leaf", i) or (op, parent ids).
        self.recipes: list[tuple[str, tuple[int, ...]]] = []

    def _add(self, t: Tensor, recipe: tuple[str, tuple[int, ...]]) -> int:
        self.tensors.append(t)
        self.recipes.append(recipe)
        return len(self.tensors) - 1

    @initialize(target=nodes, data=st.data())
    def make_leaves(self, data: st.DataObject) -> object:
        ids = []
        for i, shape in enumerate(_LEAF_SHAPES):
            value = data.draw(arrays(shape, elements=finite_floats(-1.5, 1.5)), label=f"leaf{i}")
            self.leaf_values.append(value)
            leaf = Tensor(value.copy(), requires_grad=True)
            self.leaves.append(leaf)
            ids.append(self._add(leaf, ("leaf", (i,))))
        return multiple(*ids)

    @rule(target=nodes, a=nodes, op=st.sampled_from(sorted(_UNARY)))
    def unary(self, a: int, op: str) -> int:
        return self._add(_UNARY[op][0](self.tensors[a]), (op, (a,)))

    @rule(target=nodes, a=nodes, b=nodes, op=st.sampled_from(sorted(_BINARY)))
    def binary(self, a: int, b: int, op: str) -> int:
        return self._add(_BINARY[op][0](self.tensors[a], self.tensors[b]), (op, (a, b)))

    def _numpy_nodes(self, leaf_values: list[np.ndarray]) -> list[np.ndarray]:
        values: list[np.ndarray] = []
        for op, parents in self.recipes:
            if op == "leaf":
                values.append(leaf_values[parents[0]])
            elif op in _UNARY:
                values.append(_UNARY[op][1](values[parents[0]]))
            else:
                values.append(_BINARY[op][1](values[parents[0]], values[parents[1]]))
        return values

    def _weights(self) -> list[np.ndarray]:
        rng = np.random.default_rng(len(self.tensors))
        return [rng.standard_normal(t.shape) for t in self.tensors]

    def _check(self, use_backward: bool) -> None:
        # The loss weighs every node, so every node is an output and most are shared.
        weights = self._weights()
        for t, ref in zip(self.tensors, self._numpy_nodes(self.leaf_values)):
            np.testing.assert_allclose(t.data, ref, rtol=1e-12, atol=1e-14)
        loss = F.stack([(t * w).sum() for t, w in zip(self.tensors, weights)]).sum()
        if use_backward:  # the last check: accumulate into .grad and free the graph
            loss.backward()
            grads = [leaf.grad for leaf in self.leaves]
        else:  # keep the graph: more nodes will be built on it
            grads = list(tg.grad(loss, self.leaves, retain_graph=True, allow_unused=True))

        for i, (leaf_value, g) in enumerate(zip(self.leaf_values, grads)):
            probe = leaf_value.copy()

            def f(p: np.ndarray, i: int = i) -> float:
                values = list(self.leaf_values)
                values[i] = p
                return float(sum(np.sum(v * w) for v, w in
                                 zip(self._numpy_nodes(values), weights)))

            expected = numerical_gradient(f, probe)
            assert g is not None, f"leaf {i} got no gradient"  # every leaf is a node
            assert g.shape == leaf_value.shape
            np.testing.assert_allclose(g.data, expected, rtol=1e-5, atol=1e-7,
                                       err_msg=f"leaf {i}, graph {self.recipes}")

    @rule()
    def check_gradients(self) -> None:
        self._check(use_backward=False)

    def teardown(self) -> None:
        if self.tensors:
            self._check(use_backward=True)


TestRandomGraphs = RandomGraph.TestCase
TestRandomGraphs.settings = settings(
    settings(), max_examples=max(10, settings().max_examples), stateful_step_count=15
)
