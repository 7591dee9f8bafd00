"""The graph as DOT text, and its rendering when Graphviz is installed."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.viz import draw, to_dot


def _edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s+(\w+) -> (\w+);$", dot, flags=re.M)


def test_dot_lists_each_op_and_tensor_once_with_names() -> None:
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    w = tg.Tensor(np.ones((3, 4)), requires_grad=True)
    h = x @ w
    y = (h * h).sum()  # h is used twice: one node, two edges into mul
    dot = to_dot(y, names={"x": x, "W": w, "loss": y})
    ops = re.findall(r'label="(\w+)", shape=ellipse', dot)
    assert sorted(ops) == ["matmul", "mul", "sum"]
    assert dot.count('label="x\\n(2,3) float64"') == 1
    assert dot.count('label="W\\n(3,4) float64"') == 1
    assert 'label="loss\\n() float64"' in dot
    # x, W -> matmul -> h; h -> mul (twice) -> m; m -> sum -> y
    assert len(_edges(dot)) == 2 + 1 + 2 + 1 + 1 + 1
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")


def test_dot_marks_freed_graph_and_handles_deep_chains() -> None:
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):  # deeper than any recursive walk would survive
        y = y * 1.0
    dot = to_dot(y)
    assert dot.count("shape=ellipse") == 5000
    y.backward()
    assert "(freed)" in to_dot(y)


def test_dot_of_a_leaf_is_a_single_box() -> None:
    x = tg.Tensor([1.0, 2.0])
    dot = to_dot(x)
    assert dot.count("shape=box") == 1 and "ellipse" not in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' program not installed")
def test_draw_writes_a_png(tmp_path) -> None:
    pytest.importorskip("graphviz", reason="the optional graphviz package is not installed")
    x = tg.Tensor(np.ones(3), requires_grad=True)
    out = draw((x.exp() * x).sum(), tmp_path / "graph.png", names={"x": x})
    data = out.read_bytes()
    assert out.suffix == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_dot_escapes_crafted_names_and_op_names() -> None:
    x = tg.Tensor([1.0], requires_grad=True)
    y = tg.make_op(x.data * 2, (x,), lambda g: (g * 2,), 'op"]; injected [shape=star')
    dot = to_dot(y, names={'x"]; evil [label="pwn\\N': x})
    assert 'label="x\\"]; evil [label=\\"pwn\\\\N\\n(1,) float64"' in dot
    assert 'label="op\\"]; injected [shape=star"' in dot
    # Every statement is still one node or one edge: nothing broke out of its quotes.
    body = [line.strip() for line in dot.splitlines()[3:-1]]
    unquoted = [re.sub(r'"(\\.|[^"\\])*"', '""', line) for line in body]
    assert all(re.fullmatch(r'\w+ \[label="", shape=\w+(, style=filled, fillcolor="")?\];'
                            r'|\w+ -> \w+;', line) for line in unquoted), unquoted
