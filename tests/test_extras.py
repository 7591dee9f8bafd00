"""The install extras: each error that names an extra names one that exists and holds
the package it is about, and `dev` holds everything the tests use."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _extras() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {name: {re.split(r"[<>=!~ ]", req)[0] for req in reqs}
            for name, reqs in project["optional-dependencies"].items()}


def test_every_extra_named_in_an_error_or_a_doc_exists() -> None:
    extras = _extras()
    files = [*ROOT.glob("tinygrad_edu/**/*.py"), *ROOT.glob("examples/*.py"),
             *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    named = {m for f in files for m in re.findall(r"tinygrad-edu\[([a-z]+)\]", f.read_text())}
    assert named and named <= set(extras), named - set(extras)


def test_the_extras_hold_what_their_errors_promise() -> None:
    extras = _extras()
    assert "hypothesis" in extras["testing"]  # tinygrad_edu.testing
    assert {"tqdm", "matplotlib", "threadpoolctl"} <= extras["examples"]  # the examples
    assert "safetensors" in extras["safetensors"]
    # dev: pytest and ruff, and every other extra, for the tests of all of them; the docs
    # extra builds the site, which CI installs beside dev.
    others = set().union(*(reqs for name, reqs in extras.items() if name not in ("dev", "docs")))
    assert {"mkdocs", "mkdocs-material", "mkdocstrings[python]"} <= extras["docs"]
    assert others | {"pytest", "ruff"} <= extras["dev"]


def test_the_testing_page_names_its_extra() -> None:
    assert "pip install 'tinygrad-edu[testing]'" in (ROOT / "docs" / "testing.md").read_text()
