"""A Griffe extension for the documentation site: the package's docstrings, written
for ``help()`` and doctest, rendered as Markdown by mkdocstrings.

The docstrings mix Google-style sections with a few reStructuredText habits. Markdown
reads some of those wrongly: a ``>>>`` line is a nested block quote and ``[1, 2]`` in
its output can be taken for a link. So, before mkdocstrings renders a docstring, this
extension rewrites (outside fenced code):

* a doctest block (``>>>`` lines and their output, up to a blank line) into a fenced
  ``pycon`` block, except inside an ``Examples:`` section, which Griffe parses itself;
* a reST literal block (a paragraph ending in ``::``) into a fenced ``text`` block;
* a reST simple table (``====  ====`` borders, no header) into a Markdown table; a row
  whose first cell is empty continues the row above;
* a reST role (``:func:`~tinygrad_edu.viz.to_svg```) into a link to the name's entry
  when it is a public name of the package, otherwise into code.

mkdocs.yml loads it (``extensions: [tools/griffe_docstrings.py]``). The source stays
as it is: ``help()`` and the doctests see the docstrings unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import griffe

__all__ = ["DocstringsToMarkdown", "to_markdown"]

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|exc|obj|const):`(~?)([^`]+)`")
BORDER = re.compile(r"^(\s*)=+(?:\s+=+)+\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
EXAMPLE_SECTION = re.compile(r"^(\s*)Examples:\s*$")

#: Resolves a role's target (as written, without ``~``) to the path of the object it
#: names, or None when it names nothing this site documents.
Resolver = Callable[[str], "str | None"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _roles(line: str, resolve: Resolver) -> str:
    def replace(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2).strip()
        shown = target.lstrip(".").rsplit(".", 1)[-1] if short else target.lstrip(".")
        path = resolve(target)
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    return ROLE.sub(replace, line)


def _table(lines: list[str], border: str) -> list[str]:
    """A reST simple table with no header (``lines`` between its two borders) as a
    Markdown table; the columns are where the border's ``=`` runs are."""
    indent = " " * _indent(border)
    starts = [m.start() for m in re.finditer(r"=+", border)]
    rows: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None])]
        if rows and not cells[0]:
            rows[-1] = [f"{old}<br>{new}" if new else old for old, new in zip(rows[-1], cells)]
        else:
            rows.append(cells)

    def cell(text: str) -> str:
        # Formulas (no code marks of their own) are shown as code, so that `**` and `*`
        # stay operators instead of becoming emphasis.
        if "`" in text or not text:
            return text
        return "<br>".join(f"`{part}`" for part in text.split("<br>"))

    header = "| " + " | ".join(" " for _ in starts) + " |"
    rule = "|" + "|".join("---" for _ in starts) + "|"
    body = ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [indent + row for row in (header, rule, *body)]


def _first(lines: list[str], start: int, stop: Callable[[str], object]) -> int:
    """The index of the first line from ``start`` on for which ``stop`` holds, or the
    number of lines if there is none."""
    return next((i for i in range(start, len(lines)) if stop(lines[i])), len(lines))


def _blocks(lines: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Split a docstring's lines into ("fenced" | "doctest" | "table" | "literal" |
    "text", lines) pieces, in order. A "literal" piece starts with the indentation of
    the paragraph that introduces it."""
    i, example_indent = 0, -1
    while i < len(lines):
        line = lines[i]
        if example_indent >= 0 and line.strip() and _indent(line) <= example_indent:
            example_indent = -1
        match = EXAMPLE_SECTION.match(line)
        if match:
            example_indent = len(match.group(1))
        if FENCE.match(line):
            end = _first(lines, i + 1, FENCE.match) + 1
            yield "fenced", lines[i:end]
        elif line.lstrip().startswith(">>>") and example_indent < 0:
            end = _first(lines, i, lambda s: not s.strip())
            yield "doctest", lines[i:end]
        elif BORDER.match(line):
            end = _first(lines, i + 1, BORDER.match) + 1
            yield "table", lines[i:end]
        elif line.rstrip().endswith("::"):
            # A reST literal block: the lines after the paragraph's `::` indented deeper.
            level = _indent(line)
            body = _first(lines, i + 1, str.strip)
            end = _first(lines, body, lambda s, level=level: s.strip() and _indent(s) <= level)
            yield "text", [line.rstrip()[:-1]]
            yield "literal", [" " * _indent(line), *lines[body:end]]
        else:
            end = i + 1
            yield "text", [line]
        i = end


def to_markdown(text: str, resolve: Resolver = lambda target: None) -> str:
    """The docstring ``text`` with its doctests, literal blocks, tables and roles in
    Markdown (see the module's docstring).

    >>> print(to_markdown("Sum (:func:`~pkg.ops.sum`):\\n\\n>>> sum([1, 2])\\n3"))
    Sum (`sum`):
    <BLANKLINE>
    ```pycon
    >>> sum([1, 2])
    3
    ```
    """
    out: list[str] = []
    for kind, lines in _blocks(text.splitlines()):
        if kind == "fenced":
            out += lines
        elif kind == "doctest":
            indent = " " * _indent(lines[0])
            out += [f"{indent}```pycon", *lines, f"{indent}```"]
        elif kind == "table":
            out += _table(lines[1:-1], lines[0])
        elif kind == "literal":
            # lines[0] is the introducing paragraph's indentation, where the fence goes.
            indent, body = lines[0], lines[1:]
            while body and not body[-1].strip():
                body = body[:-1]
            if body:
                cut = min(_indent(line) for line in body if line.strip()) - len(indent)
                out += ["", f"{indent}```text", *(indent + line[len(indent) + cut:]
                                                  for line in body), f"{indent}```", ""]
        else:
            out += [_roles(line, resolve) for line in lines]
    return "\n".join(out)


class DocstringsToMarkdown(griffe.Extension):
    """Rewrites every docstring of a loaded package with :func:`to_markdown`."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.is_attribute and obj.docstring is None:
                _comment_docstring(obj)
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value,
                                                  lambda target, o=obj: _resolve(pkg, o, target))


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


def _comment_docstring(attribute: griffe.Object) -> None:
    """An attribute's ``#:`` comment lines (Sphinx's style), above its assignment, as
    its docstring."""
    lines = attribute.module.lines if attribute.lineno else []
    found: list[str] = []
    number = (attribute.lineno or 0) - 2  # the line above, 0-based
    while number >= 0 and lines[number].strip().startswith("#:"):
        found.insert(0, lines[number].strip()[2:].strip())
        number -= 1
    if found:
        attribute.docstring = griffe.Docstring("\n".join(found), parent=attribute)


def _find(pkg: griffe.Module, path: str) -> str | None:
    """The path of the documented object that ``path`` names (following re-exports),
    or None if it names nothing public in ``pkg``."""
    parts = path.split(".")
    if parts[0] != pkg.name or any(p.startswith("_") for p in parts):
        return None
    obj: Any = pkg
    for part in parts[1:]:
        members = obj.members if not obj.is_alias else None
        if members is None or part not in members or not members[part].is_public:
            return None
        obj = members[part]
        if obj.is_alias:
            target = obj.target_path
            if not target.startswith(pkg.name + "."):
                return None
            found = _find(pkg, target)
            if found is None:
                return None
            obj = _lookup(pkg, found)
    # mkdocstrings renders only what has a docstring.
    return obj.path if not obj.is_alias and obj.docstring else None


def _lookup(pkg: griffe.Module, path: str) -> Any:
    obj: Any = pkg
    for part in path.split(".")[1:]:
        obj = obj.members[part]
    return obj


def _resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """Where a role's target points, tried as Sphinx does: absolute, then from the
    object outwards (its class, its module, the parent packages)."""
    name = target.lstrip("~")
    if name.startswith("."):
        name = name.lstrip(".")
    scopes: list[str] = []
    scope: Any = obj
    while scope is not None:
        scopes.append(scope.path)
        scope = scope.parent
    for candidate in [name, *(f"{s}.{name}" for s in scopes)]:
        found = _find(pkg, candidate)
        if found:
            return found
    return None
