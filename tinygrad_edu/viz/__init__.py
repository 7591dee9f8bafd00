"""Seeing the graph and watching backward.

* :mod:`.dot`: :func:`to_dot` (Graphviz DOT text) and :func:`draw` (rendered by Graphviz).
* :mod:`.svg`: :func:`to_svg` and :func:`graph`, pictures with no Graphviz at all, laid
  out by :mod:`.layout`.
* :mod:`.steps`: :func:`backward_steps` and :func:`explain`, the backward pass step by
  step, numbered as in the pictures; :func:`naive_backward`, the depth-first walk that
  gets reused nodes wrong.
* :mod:`.grad_flow`: :func:`plot_grad_flow` and :class:`GradFlowRecorder`, gradient
  sizes per parameter (matplotlib).
"""

from __future__ import annotations

from tinygrad_edu.viz.dot import draw, to_dot
from tinygrad_edu.viz.grad_flow import GradFlowRecorder, plot_grad_flow
from tinygrad_edu.viz.steps import Step, backward_steps, explain, naive_backward
from tinygrad_edu.viz.svg import GraphPicture, graph, to_svg

__all__ = [
    "to_dot", "draw", "to_svg", "graph", "GraphPicture", "backward_steps", "explain", "Step",
    "naive_backward", "plot_grad_flow", "GradFlowRecorder",
]
