"""What the docs pages hold beyond their doctests (which pytest runs through
--doctest-glob): the tutorial's pictures as the script draws them, and the PyTorch
page's PyTorch block, run where PyTorch is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_committed_tutorial_pictures_are_what_the_script_draws(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(
        "tutorial_pictures", ROOT / "examples" / "tutorial_pictures.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--out", str(tmp_path)])
    assert set(script.PICTURES) == {p.name for p in (DOCS / "tutorial").glob("*.svg")}
    for name in script.PICTURES:
        drawn = (tmp_path / name).read_text(encoding="utf-8")
        assert drawn == (DOCS / "tutorial" / name).read_text(encoding="utf-8"), (
            f"docs/tutorial/{name} is stale: run python examples/tutorial_pictures.py")
        page = "chapter5.md" if "two_layer" in name else "chapter7.md"
        assert f"]({name})" in (DOCS / "tutorial" / page).read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().out


def test_the_pytorch_page_moves_a_trained_model_to_pytorch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    text = (DOCS / "pytorch.md").read_text(encoding="utf-8")
    blocks = [b.split("\n```", 1)[0] for b in text.split("```python\n")[1:]]
    (example,) = [b for b in blocks if "import torch" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/pytorch.md", "exec"), {})
    assert (tmp_path / "two_layer.npz").is_file()
