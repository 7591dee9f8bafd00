"""The computational graph as Graphviz DOT text, and its rendering by Graphviz.

:func:`to_dot` writes the graph behind a tensor as Graphviz DOT text with no
dependency at all; :func:`draw` renders it to PNG, SVG or PDF through the ``graphviz``
package (``pip install "tinygrad-edu[viz]"``) and the Graphviz ``dot`` program.
(:func:`tinygrad_edu.viz.to_svg` draws a picture with no Graphviz at all.)

Tensors are boxes (name or shape, and dtype), ops are ellipses, and arrows follow the
data from inputs to outputs, the way backpropagation is usually drawn.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> y = (x * x).sum()
>>> print(to_dot(y, names={"x": x, "y": y}))  # doctest: +ELLIPSIS
digraph graph_of_tensor {
  rankdir=LR;
  ...
  t0 [label="y\\n() float64", shape=box, style=filled, fillcolor="#ffe6cc"];
  ...
}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tinygrad_edu.tensor import Tensor

__all__ = ["to_dot", "draw"]


def quote(text: str) -> str:
    r"""``text`` safe inside a double-quoted DOT string: a name such as ``x"]; evil [``
    stays one label. Backslashes are doubled so Graphviz's own escapes (``\N``, ``\l``)
    print as written; line breaks become DOT's ``\n``.

    >>> print(quote('say "hi"\\n'))
    say \"hi\"\\n
    """
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", "\n")
            .replace("\r", "\n").replace("\n", "\\n"))


def _label(t: Tensor, names: Mapping[int, str]) -> str:
    shape = str(t.shape).replace(" ", "")
    head = names.get(id(t))
    body = quote(f"{shape} {t.dtype}")
    return f"{quote(head)}\\n{body}" if head else body


def to_dot(roots: Tensor | Sequence[Tensor], names: Mapping[str, Tensor] | None = None) -> str:
    """Graphviz DOT text for the graph that produced ``roots``.

    ``names`` maps labels to tensors (``{"W1": W1}``) so parameters read as in the code.
    The walk is iterative, so deep graphs are fine (though ``dot`` itself gets slow past
    a few thousand nodes). A graph freed by backward shows only what is left of it.
    """
    root_list = [roots] if isinstance(roots, Tensor) else list(roots)
    by_id = {id(t): name for name, t in (names or {}).items()}
    ids: dict[int, str] = {}
    root_ids = {id(r) for r in root_list}
    lines = ["digraph graph_of_tensor {", "  rankdir=LR;", '  node [fontname="Helvetica"];']

    def tensor_node(t: Tensor) -> str:
        key = id(t)
        if key not in ids:
            ids[key] = f"t{len(ids)}"
            if key in root_ids:
                color = "#ffe6cc"  # outputs
            elif t.op is None and t.requires_grad:
                color = "#dae8fc"  # leaves that receive a gradient
            else:
                color = "#f5f5f5"
            lines.append(f'  {ids[key]} [label="{_label(t, by_id)}", shape=box, style=filled, '
                         f'fillcolor="{color}"];')
        return ids[key]

    seen: set[int] = set()
    stack = list(root_list)
    for r in root_list:
        tensor_node(r)
    while stack:
        t = stack.pop()
        if id(t) in seen or t.op is None:
            continue
        seen.add(id(t))
        out_name = tensor_node(t)
        op_name = f"op{len(seen)}"
        freed = "" if t.backward_fn is not None else " (freed)"
        lines.append(f'  {op_name} [label="{quote(str(t.op))}{freed}", shape=ellipse];')
        lines.append(f"  {op_name} -> {out_name};")
        for p in t.parents:
            lines.append(f"  {tensor_node(p)} -> {op_name};")
            stack.append(p)
    lines.append("}")
    return "\n".join(lines)


def draw(
    roots: Tensor | Sequence[Tensor],
    path: str | Path,
    names: Mapping[str, Tensor] | None = None,
    format: str | None = None,
) -> Path:
    """Render the graph of ``roots`` to ``path`` (format from its suffix: png, svg, pdf).

    Needs the optional ``graphviz`` package and the Graphviz ``dot`` program.
    Returns the path written.
    """
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(
            "draw: rendering needs the 'graphviz' package: pip install 'tinygrad-edu[viz]' "
            "(to_dot() gives the DOT text without it)"
        ) from e
    path = Path(path)
    fmt = format or path.suffix.lstrip(".") or "png"
    source = graphviz.Source(to_dot(roots, names))
    try:
        written = source.render(outfile=str(path), format=fmt, cleanup=True)
    except graphviz.ExecutableNotFound as e:
        raise RuntimeError(
            "draw: the Graphviz 'dot' program is not installed (e.g. apt-get install "
            "graphviz); to_dot() gives the DOT text without it"
        ) from e
    return Path(written)
