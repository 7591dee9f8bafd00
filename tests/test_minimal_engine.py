"""The minimal engine of docs/minimal_engine.py agrees with the real one.

A Hypothesis strategy draws random programs over the minimal engine's seven ops (add,
mul, matmul, relu, exp, log, sum) on same-shaped square operands; each program runs in
both engines, and every leaf must get the same gradient (or none in both).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from minimal_engine import Value  # noqa: E402

Step = tuple[Any, ...]


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[np.ndarray], list[Step], list[int]]:
    """(leaf arrays, steps, the nodes whose sums make the loss).

    A step is (op, i) or (op, i, j) on earlier nodes (leaves first). Domains are kept by
    construction: exp only on values within [-5, 5], log only on values >= 0.1, and no
    product that would leave [-1e3, 1e3]; a step that would break them is not taken.
    """
    n = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    elements = st.floats(-1.5, 1.5, allow_nan=False).filter(lambda v: abs(v) > 0.05)
    leaves = [draw(st.lists(elements, min_size=n * n, max_size=n * n)) for _ in range(k)]
    values = [np.array(v).reshape(n, n) for v in leaves]
    steps: list[Step] = []
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["add", "mul", "matmul", "relu", "exp", "log"]))
        i = draw(st.integers(0, len(values) - 1))
        x = values[i]
        if op in ("add", "mul", "matmul"):
            j = draw(st.integers(0, len(values) - 1))
            y = {"add": np.add, "mul": np.multiply, "matmul": np.matmul}[op](x, values[j])
            step: Step = (op, i, j)
        elif op == "relu":
            y, step = np.maximum(x, 0), (op, i)
        elif op == "exp" and np.abs(x).max() <= 5:
            y, step = np.exp(x), (op, i)
        elif op == "log" and x.min() >= 0.1:
            y, step = np.log(x), (op, i)
        else:
            continue
        if np.abs(y).max() <= 1e3:
            values.append(y)
            steps.append(step)
    picked = draw(st.lists(st.integers(0, len(values) - 1), min_size=1, max_size=3))
    return values[:k], steps, picked


def _run(make: Any, leaves: list[np.ndarray], steps: list[Step], picked: list[int]) -> list:
    nodes = [make(a) for a in leaves]
    for op, *args in steps:
        a = nodes[args[0]]
        if op == "add":
            nodes.append(a + nodes[args[1]])
        elif op == "mul":
            nodes.append(a * nodes[args[1]])
        elif op == "matmul":
            nodes.append(a @ nodes[args[1]])
        else:
            nodes.append(getattr(a, op)())
    loss = nodes[picked[0]].sum()
    for i in picked[1:]:
        loss = loss + nodes[i].sum()
    loss.backward()
    return [leaf.grad for leaf in nodes[: len(leaves)]]


@settings(max_examples=100)
@given(programs())
def test_minimal_engine_agrees_with_the_real_engine(program: Any) -> None:
    leaves, steps, picked = program
    minimal = _run(Value, leaves, steps, picked)
    real = _run(lambda a: tg.Tensor(a.copy(), requires_grad=True), leaves, steps, picked)
    for i, (m, r) in enumerate(zip(minimal, real)):
        # A leaf the loss does not reach has no gradient in either engine.
        assert (m is None) == (r is None), f"leaf {i}: {m} vs {r}, steps {steps}"
        if m is not None:
            np.testing.assert_allclose(r.data, m, rtol=1e-10, atol=1e-12,
                                       err_msg=f"leaf {i}, steps {steps}, loss {picked}")


def test_minimal_engine_handles_a_reused_node_and_a_deep_chain() -> None:
    x = Value(np.array([[2.0]]))
    (x * x + x).sum().backward()  # d(x^2 + x)/dx = 2x + 1
    assert x.grad[0, 0] == 5.0
    y = Value(np.array([[1.0]]))
    z = y
    for _ in range(5000):  # far past Python's recursion limit
        z = z + y
    z.sum().backward()
    assert y.grad[0, 0] == 5001.0


def test_the_engine_page_shows_the_minimal_engine_first_and_verbatim() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    page = (docs / "engine.md").read_text()
    first_block = page.split("```python\n", 1)[1].split("```", 1)[0]
    assert first_block == (docs / "minimal_engine.py").read_text()
    assert len(first_block.splitlines()) <= 80
