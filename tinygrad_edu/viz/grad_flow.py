"""How big the gradients are, per parameter: a snapshot, and lines over training.

Vanishing or exploding gradients show up here first: a layer whose gradients are orders
of magnitude smaller than its neighbours' barely learns. Both pictures need matplotlib
(the ``viz`` extra); they are drawn on a bare ``Figure`` (no pyplot), so they change no
global state and need no display.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor

__all__ = ["plot_grad_flow", "GradFlowRecorder", "named_grads"]

NamedParameters = Iterable[tuple[str, Tensor]] | Mapping[str, Tensor]


def named_grads(named_parameters: NamedParameters,
                where: str) -> list[tuple[str, np.ndarray | None]]:
    """``(name, gradient array or None)`` for each parameter, from ``named_parameters()``
    pairs or a ``{name: tensor}`` mapping; a TypeError naming ``where`` for anything else."""
    pairs = named_parameters.items() if isinstance(named_parameters, Mapping) else \
        named_parameters
    out: list[tuple[str, np.ndarray | None]] = []
    for item in pairs:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor)):
            raise TypeError(f"{where}: expected (name, Tensor) pairs such as "
                            f"model.named_parameters(), got {type(item).__name__} {item!r:.60}")
        name, p = item
        out.append((str(name), None if p.grad is None else np.asarray(p.grad.data)))
    return out


def _figure(where: str, **kwargs: Any) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(f"{where} needs matplotlib: pip install 'tinygrad-edu[viz]'") from e
    return Figure(**kwargs)


def plot_grad_flow(named_parameters: NamedParameters,
                   path: str | os.PathLike[str] | None = None) -> Any:
    """Bars of the mean and the max absolute gradient of each parameter, in order.

    Call it after ``backward()``; a parameter with no gradient yet is drawn empty and
    marked ``(no grad)``. Saves to ``path`` if given (format from its suffix) and returns
    the matplotlib ``Figure`` (Jupyter shows it).

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> fig = plot_grad_flow([("w", w)])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['w']
    """
    grads = named_grads(named_parameters, "plot_grad_flow")
    if not grads:
        raise ValueError("plot_grad_flow: no parameters given")
    names = [n if g is not None else f"{n} (no grad)" for n, g in grads]
    means = [float(np.abs(g).mean()) if g is not None and g.size else 0.0 for _, g in grads]
    maxes = [float(np.abs(g).max()) if g is not None and g.size else 0.0 for _, g in grads]
    fig = _figure("plot_grad_flow", figsize=(max(4.0, 0.6 * len(grads) + 2), 3.6),
                  layout="constrained")
    ax = fig.subplots()
    where = np.arange(len(grads))
    ax.bar(where, maxes, width=0.8, color="#9ecae1", label="max |grad|")
    ax.bar(where, means, width=0.4, color="#08519c", label="mean |grad|")
    if all(m > 0 for m in means):
        ax.set_yscale("log")
    ax.set_xticks(where, names, rotation=45 if len(grads) > 6 else 0, ha="right"
                  if len(grads) > 6 else "center")
    ax.set(ylabel="absolute gradient", title="gradient flow")
    ax.legend(loc="best")
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


class GradFlowRecorder:
    """Each parameter's gradient norm, recorded at chosen moments of training.

    Call :meth:`record` after ``backward()`` (at each evaluation, say) and :meth:`plot`
    at the end: one line per parameter, the L2 norm of its gradient against the step.

    >>> import tinygrad_edu as tg
    >>> w = tg.Tensor([3.0, 4.0], requires_grad=True)
    >>> rec = GradFlowRecorder()
    >>> (w * w).sum().backward()          # grad 2w = [6, 8], norm 10
    >>> rec.record([("w", w)], step=0)
    >>> w.zero_grad()
    >>> (w * 0.5).sum().backward()        # grad [0.5, 0.5]
    >>> rec.record([("w", w)], step=100)
    >>> rec.steps, rec.norms
    ([0, 100], {'w': [10.0, 0.7071067811865476]})
    """

    def __init__(self) -> None:
        self.steps: list[float] = []
        self.norms: dict[str, list[float]] = {}

    def record(self, named_parameters: NamedParameters, step: float | None = None) -> None:
        """Add each parameter's gradient norm (NaN without a gradient) at ``step``
        (default: the number of records so far)."""
        grads = named_grads(named_parameters, "GradFlowRecorder.record")
        self.steps.append(len(self.steps) if step is None else step)
        for name, g in grads:
            norm = math.nan if g is None else float(np.linalg.norm(g.astype(np.float64)))
            # A parameter first seen now has no history: NaN keeps the lines aligned.
            history = self.norms.setdefault(name, [math.nan] * (len(self.steps) - 1))
            history.append(norm)
        for history in self.norms.values():
            if len(history) < len(self.steps):
                history.append(math.nan)

    def plot(self, path: str | os.PathLike[str] | None = None, xlabel: str = "iteration") -> Any:
        """Lines of gradient norm against step, one per parameter, on a log scale.
        Saves to ``path`` if given and returns the matplotlib ``Figure``."""
        if not self.steps:
            raise ValueError("GradFlowRecorder.plot: nothing recorded yet; call record() "
                             "after backward() first")
        fig = _figure("GradFlowRecorder.plot", figsize=(6.4, 3.8), layout="constrained")
        ax = fig.subplots()
        for name, history in self.norms.items():
            ax.plot(self.steps, history, marker="o", markersize=3, label=name)
        values = [v for h in self.norms.values() for v in h if not math.isnan(v)]
        if values and min(values) > 0:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel="gradient norm (L2)", title="gradient flow over training")
        ax.legend(loc="best", fontsize="small")
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig
