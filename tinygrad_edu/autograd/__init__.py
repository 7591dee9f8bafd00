"""Autograd: grad mode, and the backward pass over the recorded graph.

* grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``), re-exported from
  :mod:`tinygrad_edu.grad_mode`, a leaf module that the Tensor itself needs.
* :mod:`.engine`: :func:`backward`, :func:`grad` and the walk they share.
* :mod:`.delivery`: where the walk's gradients go, and the dtype and ownership rules.
* :mod:`.functional`: derivatives of whole functions (``vjp``, ``jvp``, ``jacobian``,
  ``hessian``, ``vhp``, ``hvp``), as ``torch.autograd.functional``.
"""

from __future__ import annotations

from tinygrad_edu.autograd import functional
from tinygrad_edu.autograd.engine import GraphFreedError, backward, grad
from tinygrad_edu.grad_mode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "backward", "grad",
    "GraphFreedError", "functional",
]
