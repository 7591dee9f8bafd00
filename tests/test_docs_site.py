"""The documentation site (mkdocs.yml): every page in the navigation, every module on an
API page, every page with an executed example or a word that it is prose only, CI's
strict build, the README's links, and the Griffe extension that renders the docstrings
as Markdown."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "tinygrad_edu"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def _modules() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_page_is_in_the_navigation() -> None:
    nav = set(re.findall(r"^\s*-\s+(?:[^\n]*?:\s+)?([\w/]+\.md)\s*$",
                         (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.MULTILINE))
    assert nav == set(_pages()), (
        f"pages missing from mkdocs.yml's nav: {sorted(set(_pages()) - nav)}; "
        f"nav entries with no page: {sorted(nav - set(_pages()))}")


def test_every_module_has_an_api_page() -> None:
    documented = set()
    for page in (DOCS / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"),
                                     re.MULTILINE))
    modules = _modules()
    assert modules - documented == set(), "modules with no API page (add them to docs/api/)"
    assert documented - modules == set(), "API pages name modules that do not exist"


def test_every_page_runs_an_example_or_says_it_is_prose_only() -> None:
    """pytest runs every ``>>>`` of docs/**/*.md (--doctest-glob); the API pages show
    docstrings, whose examples run with --doctest-modules."""
    lacking = []
    for page in _pages():
        text = (DOCS / page).read_text(encoding="utf-8")
        executed = re.search(r"^\s*>>> ", text, re.MULTILINE)
        api = page.startswith("api/") and re.search(r"^::: ", text, re.MULTILINE)
        if not (executed or api or "prose only" in text.lower()):
            lacking.append(page)
    assert lacking == [], f"pages with no executed example that do not say 'prose only': {lacking}"


def test_the_readme_links_the_site_and_says_how_to_serve_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for link in ("docs/tutorial/chapter5.md", "docs/tutorial/chapter7.md", "docs/api/index.md",
                 "docs/pytorch.md", "docs/two_layer_graph.svg"):
        assert f"]({link})" in readme, f"the README does not link {link}"
    assert 'pip install -e ".[docs]" && mkdocs serve' in readme


def test_ci_builds_the_site_strictly_from_the_docs_extra() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"mkdocs build --strict --site-dir \"\$site\"", ci)
    assert '".[dev,docs]"' in ci
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (extra,) = re.findall(r"^docs = \[(.*)\]$", pyproject, re.MULTILINE)
    for package in ("mkdocs", "mkdocs-material", "mkdocstrings[python]"):
        assert f'"{package}' in extra
    assert "/site/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


# ---------------------------------------------------------------- the Griffe extension


@pytest.fixture(scope="module")
def extension() -> ModuleType:
    pytest.importorskip("griffe")
    return _load(ROOT / "tools" / "griffe_docstrings.py", "griffe_docstrings")


def test_doctests_become_fenced_code_but_not_in_an_examples_section(
        extension: ModuleType) -> None:
    text = "Sum.\n\n>>> f([1, 2])\n[1, 2]\n\nExamples:\n    >>> f(1)\n    1"
    assert extension.to_markdown(text).splitlines() == [
        "Sum.", "", "```pycon", ">>> f([1, 2])", "[1, 2]", "```", "",
        "Examples:", "    >>> f(1)", "    1"]


def test_indented_doctests_keep_their_indentation(extension: ModuleType) -> None:
    text = "Args:\n    x: a number.\n\n        >>> x = 1\n"
    assert "        ```pycon\n        >>> x = 1\n        ```" in extension.to_markdown(text)


def test_a_rest_table_becomes_a_markdown_table(extension: ModuleType) -> None:
    text = ("Rules:\n\n====  ===========\nSGD   p -= lr * g\n      (plain)\n"
            "``A``  ``m += g``\n====  ===========\n\nAfter.")
    assert extension.to_markdown(text).splitlines() == [
        "Rules:", "", "|   |   |", "|---|---|", "| `SGD` | `p -= lr * g`<br>`(plain)` |",
        "| ``A`` | ``m += g`` |", "", "After."]


def test_a_rest_literal_block_becomes_fenced_text(extension: ModuleType) -> None:
    text = "A header::\n\n    bytes 0-1   zero\n    byte  2     type\n\nThe rest."
    assert extension.to_markdown(text).splitlines() == [
        "A header:", "", "```text", "bytes 0-1   zero", "byte  2     type", "```", "",
        "The rest."]
    indented = extension.to_markdown("Args:\n    x: as in::\n\n        a  b\n          c\n")
    assert indented.splitlines()[2:] == ["", "    ```text", "    a  b", "      c", "    ```"]


def test_roles_become_links_when_they_resolve_and_code_otherwise(
        extension: ModuleType) -> None:
    def resolve(target: str) -> str | None:
        return "pkg.mod.f" if target.lstrip("~.") in ("pkg.mod.f", "f") else None

    text = "See :func:`~pkg.mod.f`, :func:`f`, :class:`Missing` and :mod:`.other`."
    assert extension.to_markdown(text, resolve) == (
        "See [`f`][pkg.mod.f], [`f`][pkg.mod.f], `Missing` and `other`.")


def test_the_extension_on_the_package(extension: ModuleType) -> None:
    """Loaded as mkdocs loads it: ``#:`` comments document attributes, and roles resolve
    to the public name, following re-exports, or stay code when private."""
    import griffe

    pkg = griffe.load("tinygrad_edu", search_paths=[str(ROOT)],
                      extensions=griffe.load_extensions(extension.DocstringsToMarkdown))
    documented = pkg["datasets.idx.DEFAULT_MAX_BYTES"].docstring
    assert documented is not None and documented.value.startswith("The most bytes")
    assert "[`read_idx`][tinygrad_edu.datasets.idx.read_idx]" in documented.value
    optim = pkg["optim.algorithms"].docstring.value
    assert "| `Adam` |" in optim and "=====" not in optim
    # :class:`~tinygrad_edu.nn.Linear` is re-exported from nn.layers, where it is shown.
    conv = pkg["nn.conv"].docstring.value
    assert "[`Linear`][tinygrad_edu.nn.layers.Linear]" in conv
    assert ":class:" not in conv and ":func:" not in pkg["viz"].docstring.value
