"""Gradient flow: the per-parameter snapshot and the recorder of norms over training."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.models import TwoLayerNet


def _trained_step() -> TwoLayerNet:
    net = TwoLayerNet(6, 4, 3, rng=0)
    x, t = np.random.default_rng(0).normal(size=(5, 6)), np.array([0, 1, 2, 0, 1])
    net.lastLayer(net(x), t).backward()
    return net


def test_snapshot_bars_are_the_mean_and_max_absolute_gradient(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    net = _trained_step()
    out = tmp_path / "flow.png"
    fig = viz.plot_grad_flow(net.named_parameters(), path=out)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["W1", "b1", "W2", "b2"]
    bars = ax.patches
    maxes = [b.get_height() for b in bars[:4]]
    means = [b.get_height() for b in bars[4:]]
    grads = [p.grad.data for _, p in net.named_parameters()]
    np.testing.assert_allclose(maxes, [np.abs(g).max() for g in grads])
    np.testing.assert_allclose(means, [np.abs(g).mean() for g in grads])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A mapping works too, and a parameter without a gradient is drawn empty and marked.
    fresh = tg.Tensor([1.0], requires_grad=True)
    fig = viz.plot_grad_flow({"W2": net.W2, "fresh": fresh})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["W2", "fresh (no grad)"]


def test_recorder_keeps_one_norm_per_parameter_and_step(tmp_path: Path) -> None:
    a = tg.Tensor([3.0, 4.0], requires_grad=True)
    b = tg.Tensor([1.0], requires_grad=True)
    rec = viz.GradFlowRecorder()
    (a * a).sum().backward()          # a.grad = [6, 8]; b has none yet
    rec.record([("a", a), ("b", b)])
    (b * 2).sum().backward()
    rec.record({"a": a, "b": b, "c": b}, step=7)
    assert rec.steps == [0, 7]
    assert rec.norms["a"] == [10.0, 10.0]
    assert math.isnan(rec.norms["b"][0]) and rec.norms["b"][1] == 2.0
    assert math.isnan(rec.norms["c"][0]) and rec.norms["c"][1] == 2.0  # padded history
    rec.record([("a", a)], step=9)      # a parameter missing later is padded too
    assert len(rec.norms["b"]) == 3 and math.isnan(rec.norms["b"][2])
    pytest.importorskip("matplotlib")
    fig = rec.plot(tmp_path / "lines.svg")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "c"]
    assert list(lines[0].get_xdata()) == [0, 7, 9]
    assert (tmp_path / "lines.svg").read_text().lstrip().startswith("<?xml")


def test_errors_name_the_function_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="GradFlowRecorder.plot: nothing recorded"):
        viz.GradFlowRecorder().plot()
    with pytest.raises(TypeError, match=r"plot_grad_flow: expected \(name, Tensor\) pairs"):
        viz.plot_grad_flow([np.ones(2)])
    with pytest.raises(ValueError, match="plot_grad_flow: no parameters"):
        viz.plot_grad_flow([])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ImportError, match=r"plot_grad_flow needs matplotlib.*tinygrad-edu\[viz\]"):
        viz.plot_grad_flow([("w", w)])
