"""The computational graph as an SVG picture, with no Graphviz and no other dependency.

:func:`to_svg` lays the graph out itself (:mod:`.layout`) and returns SVG text;
:func:`graph` wraps it in an object that Jupyter shows as a picture and that saves
itself as ``.svg`` (or ``.png`` / ``.pdf`` with the optional ``cairosvg`` package, in the
``viz`` extra).

Every tensor is one box, numbered in forward order (the numbers
:func:`~tinygrad_edu.viz.explain` uses): an op's result shows the op's name, a leaf its
name from ``names`` (or ``leaf``). Arrows run from each input to the op that used it, one
arrow per argument, so ``x * x`` has two. Colours: outputs orange, leaves that receive a
gradient blue, everything else grey.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> svg = to_svg((x * x).sum(), names={"x": x})
>>> svg.startswith("<svg") and "#1 x" in svg and "#3 sum" in svg
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from tinygrad_edu.atomic_files import atomic_write
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.viz.labels import names_by_id, node_lines
from tinygrad_edu.viz.layout import layered_layout
from tinygrad_edu.viz.tensor_graph import TensorGraph, collect

__all__ = ["to_svg", "graph", "GraphPicture", "escape"]

FONT_SIZE = 12
CHAR_WIDTH = 7.3  # a monospace character at FONT_SIZE, slightly generous
LINE_HEIGHT = 15
PAD_X, PAD_Y, MARGIN = 8, 6, 10
FILL_OUTPUT, FILL_LEAF, FILL_OTHER = "#ffe6cc", "#dae8fc", "#f5f5f5"
BOLD = ' font-weight="bold"'

# Characters that XML 1.0 forbids even as references: a name holding one would make the
# whole picture unreadable, so each becomes U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text: str) -> str:
    """``text`` safe as SVG text or inside a double-quoted attribute: a name like
    ``</text><script>`` stays text and never becomes markup.

    >>> escape('<b> & "q"')
    '&lt;b&gt; &amp; &quot;q&quot;'
    """
    text = _NOT_XML.sub("\ufffd", text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def _fill(g: TensorGraph, t: Tensor) -> str:
    if g.is_root(t):
        return FILL_OUTPUT
    if t.op is None and t.requires_grad:
        return FILL_LEAF
    return FILL_OTHER


def _path(points: list[tuple[float, float]]) -> str:
    """Straight through dummy columns, S-curves (horizontal tangents) between them."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        if abs(y1 - y0) < 0.5:
            parts.append(f"L{x1:.1f},{y1:.1f}")
        else:
            mid = (x0 + x1) / 2
            parts.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def to_svg(
    tensor: Tensor | Sequence[Tensor],
    names: Mapping[str, Tensor] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
) -> str:
    """SVG text of the graph behind ``tensor`` (a Tensor or several).

    ``names`` maps labels to tensors, as in :func:`~tinygrad_edu.viz.to_dot`
    (``dict(model.named_parameters())``, say). ``show_data`` adds each tensor's values,
    ``show_grad`` its ``.grad`` (a glimpse of both when large). Each node is a
    ``<g class="node">`` with ``data-number``; each edge a ``<g class="edge">`` with
    ``data-source``, ``data-target`` (numbers) and ``data-position`` (the argument).
    """
    g = collect(tensor, "to_svg")
    by_id = names_by_id(names, "to_svg")
    texts = [node_lines(t, k + 1, by_id.get(id(t)), show_data, show_grad)
             for k, t in enumerate(g.nodes)]
    sizes = [(max(len(s) for s in lines) * CHAR_WIDTH + 2 * PAD_X,
              len(lines) * LINE_HEIGHT + 2 * PAD_Y) for lines in texts]
    lay = layered_layout(sizes, [(e.source - 1, e.target - 1) for e in g.edges])
    width, height = lay.width + 2 * MARGIN, lay.height + 2 * MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" '
        f'font-size="{FONT_SIZE}">',
        f"<title>graph of {len(g.nodes)} tensors</title>",
        '<defs><marker id="tg-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
        "</defs>",
        f'<g transform="translate({MARGIN},{MARGIN})">',
    ]
    for e, route in zip(g.edges, lay.routes):
        out.append(f'<g class="edge" data-source="{e.source}" data-target="{e.target}" '
                   f'data-position="{e.position}"><path d="{_path(route)}" fill="none" '
                   'stroke="#555" stroke-width="1.2" marker-end="url(#tg-arrow)"/></g>')
    for k, (t, lines, box) in enumerate(zip(g.nodes, texts, lay.boxes), start=1):
        left, top = box.x - box.width / 2, box.y - box.height / 2
        corner = 10 if t.op is not None else 2
        tspans = "".join(
            f'<tspan x="{left + PAD_X:.1f}" y="{top + PAD_Y + (i + 0.8) * LINE_HEIGHT:.1f}"'
            f'{BOLD if i == 0 else ""}>{escape(line)}</tspan>' for i, line in enumerate(lines))
        out.append(
            f'<g class="node" data-number="{k}"><title>{escape(" | ".join(lines))}</title>'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="{corner}" fill="{_fill(g, t)}" stroke="#333"/>'
            f"<text>{tspans}</text></g>")
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


class GraphPicture:
    """A graph drawn as SVG: Jupyter shows it (``_repr_svg_``); :meth:`save` writes it.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> pic = graph(x.exp().sum())
    >>> pic._repr_svg_() == pic.svg
    True
    """

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<GraphPicture: {len(self.svg)} characters of SVG>"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the picture to ``path``; its suffix says the format: ``.svg`` (always
        possible), ``.png`` or ``.pdf`` (these need ``cairosvg``: the ``viz`` extra).
        Returns the path written."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            data = self.svg.encode("utf-8")
        elif suffix in (".png", ".pdf"):
            data = _rasterise(self.svg, suffix)
        else:
            raise ValueError(
                f"GraphPicture.save: cannot write {suffix or 'a file without a suffix'!r}; "
                "use a path ending in .svg, .png or .pdf"
            )
        with atomic_write(path) as f:
            f.write(data)
        return path


def _rasterise(svg: str, suffix: str) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError) as e:  # OSError: cairosvg without the Cairo library
        raise ImportError(
            f"GraphPicture.save: writing {suffix} needs the 'cairosvg' package (and the "
            "Cairo library): pip install 'tinygrad-edu[viz]'; .svg needs nothing"
        ) from e
    convert = cairosvg.svg2png if suffix == ".png" else cairosvg.svg2pdf
    return bytes(convert(bytestring=svg.encode("utf-8")))


def graph(
    tensor: Tensor | Sequence[Tensor],
    names: Mapping[str, Tensor] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
) -> GraphPicture:
    """The picture of :func:`to_svg` (same arguments) as an object that Jupyter
    displays and that :meth:`~GraphPicture.save` writes as .svg, .png or .pdf."""
    return GraphPicture(to_svg(tensor, names, show_data, show_grad))
