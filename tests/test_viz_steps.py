"""Backward step by step, and the naive depth-first walk."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.viz.tensor_graph import collect


def _diamond() -> tuple[tg.Tensor, tg.Tensor, tg.Tensor]:
    """x -> a = exp(x) -> (b = a * w, a) -> y = sum(b + a): a has two consumers."""
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    w = tg.Tensor([2.0, 3.0], requires_grad=True)
    a = x.exp()
    y = (a * w + a).sum()
    return x, w, y


def test_steps_follow_the_engine_and_sum_the_contributions() -> None:
    x, w, y = _diamond()
    g = collect(y)
    steps = viz.backward_steps(y)
    ops = [(s.op, s.node) for s in steps]
    # sum, add, mul, exp in that order (generations 4..1), then the leaves x and w.
    assert [op for op, _ in ops] == ["sum", "add", "mul", "exp", None, None]
    assert [s.index for s in steps] == list(range(1, 7))
    assert all(s.tensor is g.nodes[s.node - 1] for s in steps)
    exp_step = steps[3]
    assert exp_step.shape == (2,) and exp_step.dtype == np.float64
    # a = exp(x) receives w (from mul) and 1 (from add): two contributions, summed.
    sources = [c.source for c in exp_step.contributions]
    assert sorted(sources) == sorted([g.number(steps[1].tensor), g.number(steps[2].tensor)])
    np.testing.assert_allclose(sum(c.value for c in exp_step.contributions),
                               exp_step.upstream)
    np.testing.assert_allclose(exp_step.upstream, w.data + 1)
    (hand,) = exp_step.handed
    assert hand.parent == g.number(x)
    np.testing.assert_allclose(hand.value, (w.data + 1) * np.exp(x.data))
    # The leaf rows hold what backward puts in .grad; nothing was touched meanwhile.
    assert x.grad is None and w.grad is None
    leaf_x, leaf_w = steps[4:]
    y.backward()
    np.testing.assert_allclose(leaf_x.upstream, x.grad.data)
    np.testing.assert_allclose(leaf_w.upstream, w.grad.data)
    assert leaf_x.handed == () and leaf_w.contributions[0].source == g.number(steps[2].tensor)
    assert steps[0].contributions[0].source is None  # the starting gradient


def test_steps_keep_the_graph_and_every_grad() -> None:
    x, w, y = _diamond()
    w.grad = tg.Tensor([7.0, 7.0])
    with tg.retain_grads():  # even nodes that retain grads are left alone
        z = (x * x).sum()
    viz.backward_steps(y)
    viz.backward_steps(z)
    assert x.grad is None and w.grad.tolist() == [7.0, 7.0] and z.grad is None
    assert all(t.backward_fn is not None for t in collect(y).nodes if t.op is not None)
    y.backward()  # the graph is still whole
    assert x.grad is not None


def _apply(op: str, a: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
    if op == "exp":
        return (a * 0.5).exp()
    if op == "tanh":
        return a.tanh()
    return {"mul": a * b, "add": a + b, "sub": a - b}[op]


@given(st.lists(st.sampled_from(["exp", "mul", "add", "tanh", "sub"]), min_size=1,
                max_size=8),
       st.lists(st.integers(0, 100), min_size=8, max_size=8))
def test_steps_match_backward_on_random_graphs(ops: list[str], picks: list[int]) -> None:
    x = tg.Tensor([0.3, -0.2], requires_grad=True)
    vals = [x]
    for op, pick in zip(ops, picks):
        vals.append(_apply(op, vals[-1], vals[pick % len(vals)]))  # reuse earlier values
    y = vals[-1].sum()
    steps = viz.backward_steps(y)
    g = collect(y)
    op_steps = [s for s in steps if s.op is not None]
    # Each op node once; every consumer before what it consumes (topological).
    assert len({s.node for s in op_steps}) == len(op_steps)
    seen: set[int] = set()
    for s in op_steps:
        assert all(c.source in seen for c in s.contributions if c.source is not None)
        seen.add(s.node)
    assert all(len(s.handed) == len(g.nodes[s.node - 1].parents) for s in op_steps)
    (leaf,) = [s for s in steps if s.op is None and s.tensor is x]
    y.backward()
    np.testing.assert_allclose(leaf.upstream, x.grad.data, rtol=1e-12)


def test_explain_prints_a_table_numbered_as_the_picture() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    out = io.StringIO()
    viz.explain(y, names={"x": x}, file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["step", "node", "op", "shape", "receives", "from", "hands",
                                "on"]
    assert lines[1].split() == ["1", "#3", "sum", "()", "1", "start:", "1", "#2:", "[1", "1]"]
    assert lines[2].split()[:5] == ["2", "#2", "mul", "(2,)", "[1"]
    assert lines[4].split()[:5] == ["leaf", "#1", "x", "(2,)", "[2"]
    svg = viz.to_svg(y, names={"x": x})
    for head in ("#1 x", "#2 mul", "#3 sum"):
        assert head in svg


def test_explain_of_the_two_layer_network_names_the_parameters() -> None:
    net = TwoLayerNet(4, 3, 2, rng=0)
    loss = net.lastLayer(net(np.ones((2, 4))), np.array([0, 1]))
    out = io.StringIO()
    viz.explain(loss, names=dict(net.named_parameters()), file=out)
    leaf_rows = [line.split()[2] for line in out.getvalue().splitlines()
                 if line.startswith("leaf")]
    assert leaf_rows == ["W1", "b1", "W2", "b2"]


def test_backward_steps_errors() -> None:
    with pytest.raises(RuntimeError, match="backward_steps: the output does not require"):
        viz.backward_steps(tg.Tensor([1.0]))
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward_steps: the output has shape \(2,\)"):
        viz.backward_steps(x * 2)
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\)"):
        viz.backward_steps(x * 2, grad=np.ones(3))
    steps = viz.backward_steps(x * 2, grad=np.array([1.0, 10.0]))
    np.testing.assert_allclose(steps[-1].upstream, [2.0, 20.0])
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(tg.GraphFreedError):
        viz.backward_steps(y)
    with pytest.raises(TypeError, match="backward_steps: expected a Tensor"):
        viz.backward_steps(np.ones(2))  # type: ignore[arg-type]


def test_naive_depth_first_order_gets_a_reused_node_wrong() -> None:
    x = tg.Tensor(2.0, requires_grad=True)
    a = x * x
    y = a * 3 + a
    naive = viz.naive_backward(y, [x])
    (right,) = tg.grad(y, x, retain_graph=True)
    assert float(right) == 16.0
    assert float(naive.grads[0]) == 28.0  # 3 * 2x handed on twice: 12 + 16
    # a is visited once per path into it, the first time with only part of its gradient.
    numbers = [n for n, _ in naive.visits]
    na = collect(y).number(a)
    assert numbers.count(na) == 2
    assert [float(v) for n, v in naive.visits if n == na] == [3.0, 4.0]
    assert x.grad is None
    # The engine visits a once, after both consumers: its upstream is the full 4.
    (a_step,) = [s for s in viz.backward_steps(y) if s.tensor is a]
    assert float(a_step.upstream) == 4.0


def test_naive_order_is_right_on_a_tree() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    w = tg.Tensor([3.0, 4.0], requires_grad=True)
    y = (x.exp() * w).sum()  # no node is reused
    naive = viz.naive_backward(y, [x, w])
    gx, gw = tg.grad(y, [x, w], retain_graph=True)
    np.testing.assert_allclose(naive.grads[0], gx.data)
    np.testing.assert_allclose(naive.grads[1], gw.data)
    assert viz.naive_backward(y, [tg.Tensor(1.0, requires_grad=True)]).grads == [None]
