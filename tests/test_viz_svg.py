"""Pictures without Graphviz: the layered layout and the SVG it draws."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.viz.layout import count_crossings, layered_layout
from tinygrad_edu.viz.tensor_graph import collect

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> tuple[dict[int, str], list[tuple[int, int, int]]]:
    """Node number -> the node's text, and the edges, read back from the SVG."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    nodes: dict[int, str] = {}
    edges = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            number = int(g.get("data-number"))
            assert number not in nodes
            lines = [t.text or "" for t in g.iter(f"{SVG}tspan")]
            nodes[number] = "\n".join(lines)
            assert g.find(f"{SVG}rect") is not None
        elif g.get("class") == "edge":
            edges.append((int(g.get("data-source")), int(g.get("data-target")),
                          int(g.get("data-position"))))
            assert g.find(f"{SVG}path").get("d").startswith("M")
    return nodes, edges


def _expected(roots: tg.Tensor) -> tuple[int, list[tuple[int, int, int]]]:
    """The graph walked independently of the picture: tensor count and edges by number."""
    g = collect(roots)
    edges = [(g.number(p), g.number(t), i) for t in g.nodes for i, p in enumerate(t.parents)]
    return len(g.nodes), edges


def _two_layer() -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    net = TwoLayerNet(784, 50, 10, rng=0, dtype=np.float32)
    x = tg.Tensor(np.zeros((100, 784), dtype=np.float32))
    t = tg.Tensor(np.arange(100) % 10)
    loss = net.lastLayer(net(x), t)
    return loss, {**dict(net.named_parameters()), "x": x, "t": t, "loss": loss}


def _fifty_nodes() -> tg.Tensor:
    """A DAG of 50 tensors: a spine of ops, each also taking a random earlier tensor
    (so many are reused, with long skip edges), five leaves, and a sum at the end."""
    rng = np.random.default_rng(1)
    vals = [tg.Tensor(rng.normal(size=3), requires_grad=True) for _ in range(5)]
    while len(vals) < 49:
        n = len(vals)
        a = vals[-1]
        b = vals[n - 5] if n < 10 else vals[int(rng.integers(0, n - 1))]
        vals.append(a.tanh() if n % 4 == 3 else (a * b, a + b, a - b)[n % 4])
    return vals[-1].sum()


def test_two_layer_network_has_every_node_and_edge_with_its_labels() -> None:
    loss, names = _two_layer()
    svg = viz.to_svg(loss, names=names)
    nodes, edges = _parse(svg)
    count, expected = _expected(loss)
    assert sorted(nodes) == list(range(1, count + 1))
    assert sorted(edges) == sorted(expected)
    texts = "\n".join(nodes.values())
    for name in ("W1", "b1", "W2", "b2", "x", "t"):
        assert any(line.split()[1:] == [name] for line in texts.splitlines()), name
    assert "(784,50) float32" in texts and "(100,) int64" in texts
    assert "loss = cross_entropy" in texts and texts.count("linear") == 2
    # Leaves before their consumers: every edge goes left to right.
    root = ET.fromstring(svg)
    xs = {int(g.get("data-number")): float(g.find(f"{SVG}rect").get("x"))
          for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert all(xs[s] < xs[t] for s, t, _ in edges)


def test_fifty_node_graph_parses_with_every_node_and_edge() -> None:
    y = _fifty_nodes()
    count, expected = _expected(y)
    assert count == 50
    nodes, edges = _parse(viz.to_svg(y))
    assert sorted(nodes) == list(range(1, count + 1))
    assert Counter(edges) == Counter(expected)


def test_reused_input_gets_one_edge_per_argument() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = _parse(viz.to_svg((x * x).sum(), names={"x": x}))
    assert nodes[1].startswith("#1 x") and nodes[2].startswith("#2 mul")
    assert sorted(edges) == [(1, 2, 0), (1, 2, 1), (2, 3, 0)]


@pytest.mark.parametrize("name", [
    '</tspan></text><script>alert(1)</script><text><tspan>',
    '" onload="alert(1)',
    "a & b <c> 'quoted'",
    "ctrl\x00\x1b[31mchars\ud800",
    "]]><!-- -->",
])
def test_crafted_names_stay_text(name: str) -> None:
    x = tg.Tensor([1.0], requires_grad=True)
    svg = viz.to_svg((x * 2).sum(), names={name: x})
    root = ET.fromstring(svg)  # well-formed: nothing broke out of its element
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert all(not k.startswith("on") for e in root.iter() for k in e.attrib)
    nodes, _ = _parse(svg)
    shown = name.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace("\ud800", "\ufffd")
    assert nodes[1].splitlines()[0] == f"#1 {shown}"


def test_crafted_op_name_stays_text() -> None:
    x = tg.Tensor([1.0], requires_grad=True)
    y = tg.make_op(x.data * 2, (x,), lambda g: (g * 2,), "<g onload='x'>")
    nodes, _ = _parse(viz.to_svg(y))
    assert nodes[2].splitlines()[0] == "#2 <g onload='x'>"


def test_values_and_gradients_on_request() -> None:
    x = tg.Tensor([1.0, -2.0], requires_grad=True)
    with tg.retain_grads():
        h = x * 3
        y = (h * h).sum()
    y.backward(retain_graph=True)
    nodes, _ = _parse(viz.to_svg(y, show_data=True, show_grad=True))
    # 1: x, 2: the constant 3, 3: h, 4: h * h, 5: the sum
    assert nodes[1].splitlines()[2:] == ["data [1 -2]", "grad [18 -36]"]  # 2 * 9 * x
    assert nodes[2].splitlines() == ["#2 constant", "() float64", "data 3", "grad None"]
    assert nodes[3].splitlines()[2:] == ["data [3 -6]", "grad [6 -12]"]  # 2h
    nodes, _ = _parse(viz.to_svg(y))
    assert len(nodes[1].splitlines()) == 2


def test_freed_graph_and_several_roots() -> None:
    x = tg.Tensor([1.0], requires_grad=True)
    a, b = x.exp(), x.tanh()
    nodes, edges = _parse(viz.to_svg([a, b]))
    assert len(nodes) == 3 and sorted(edges) == [(1, 2, 0), (1, 3, 0)]
    s = a.sum()
    s.backward()
    nodes, edges = _parse(viz.to_svg(s))
    assert "(freed)" in nodes[1] and edges == []


def test_svg_is_deterministic_and_a_deep_chain_is_fine() -> None:
    y1, y2 = _fifty_nodes(), _fifty_nodes()
    assert viz.to_svg(y1) == viz.to_svg(y2)
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):  # no recursion anywhere
        y = y * 1.0
    nodes, edges = _parse(viz.to_svg(y))
    assert len(nodes) == 6001 and len(edges) == 6000


def test_bad_arguments_raise_clear_errors() -> None:
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="to_svg.*Tensor"):
        viz.to_svg(np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"to_svg: names\['w'\] is a ndarray"):
        viz.to_svg(x * 2, names={"w": np.ones(2)})  # type: ignore[dict-item]


def test_layout_layers_order_and_crossings() -> None:
    # Two crossing pairs drawn in index order: the sweep must untangle them.
    sizes = [(30.0, 20.0)] * 4
    lay = layered_layout(sizes, [(0, 3), (1, 2)])
    assert lay.layers == [[1, 0], [2, 3]] or lay.layers == [[0, 1], [3, 2]]
    assert count_crossings(*lay.layers, [(0, 3), (1, 2)]) == 0
    # A leaf sits one layer before its consumer, not in the first column.
    lay = layered_layout([(30.0, 20.0)] * 5, [(0, 1), (1, 2), (2, 4), (3, 4)])
    assert lay.layers == [[0], [1], [2, 3], [4]]
    # Boxes in a column never overlap.
    for layer in lay.layers:
        boxes = sorted((lay.boxes[v] for v in layer), key=lambda b: b.y)
        for a, b in zip(boxes, boxes[1:]):
            assert b.y - b.height / 2 >= a.y + a.height / 2
    with pytest.raises(ValueError, match="cycle"):
        layered_layout([(1.0, 1.0)] * 2, [(0, 1), (1, 0)])


def test_graph_object_shows_in_jupyter_and_saves_svg(tmp_path: Path) -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    pic = viz.graph(x.exp().sum(), names={"x": x})
    assert pic._repr_svg_() == pic.svg == viz.to_svg(x.exp().sum(), names={"x": x})
    out = pic.save(tmp_path / "g.svg")
    assert out.read_text(encoding="utf-8") == pic.svg
    with pytest.raises(ValueError, match=r"GraphPicture.save: cannot write '\.gif'"):
        pic.save(tmp_path / "g.gif")


def _cairosvg_works() -> bool:
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


@pytest.mark.skipif(not _cairosvg_works(), reason="the optional cairosvg package is missing")
def test_graph_saves_png_and_pdf(tmp_path: Path) -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    pic = viz.graph((x * x).sum())
    assert pic.save(tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pic.save(tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"


def test_png_without_cairosvg_names_the_extra(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cairosvg", None)  # import cairosvg now fails
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ImportError, match=r"cairosvg.*tinygrad-edu\[viz\]"):
        viz.graph(x.exp()).save(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_committed_pictures_are_what_the_script_draws(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """docs/*.svg (and the README's picture) come from examples/watching_backward_pictures.py."""
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "watching_backward_pictures", root / "examples" / "watching_backward_pictures.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--out", str(tmp_path), "--no-training"])
    for name in ("two_layer_graph.svg", "reused_node_graph.svg"):
        drawn = (tmp_path / name).read_text(encoding="utf-8")
        assert drawn == (root / "docs" / name).read_text(encoding="utf-8"), (
            f"docs/{name} is stale: run python examples/watching_backward_pictures.py")
    assert "](docs/two_layer_graph.svg)" in (root / "README.md").read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out
