"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both change the ``.grad`` of the given parameters in place (between ``backward()`` and
``optimizer.step()``), skip parameters whose ``grad`` is None, and keep each gradient's
dtype.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> w = tg.Tensor(np.zeros(2), requires_grad=True)
>>> w.grad = tg.Tensor([3.0, 4.0])
>>> clip_grad_norm_([w], max_norm=1.0)
Tensor(5., shape=(), dtype=float64)
>>> w.grad
Tensor([0.59999988 0.79999984], shape=(2,), dtype=float64)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_edu.default_dtype import get_default_dtype
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor], where: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return [p.grad for p in params if p.grad is not None]


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    total = the ``norm_type``-norm of the vector of every gradient's norm (the norm of
    all gradients as one vector; ``inf`` for the largest absolute entry). Each gradient
    is multiplied by min(1, max_norm / (total + 1e-6)), as PyTorch does. Returns the
    total norm before clipping, as a 0-d Tensor. ``error_if_nonfinite``: raise a
    RuntimeError when the total is NaN or infinite instead of scaling by it.
    """
    where = "clip_grad_norm_"
    max_norm = _number(max_norm, "max_norm", where)
    norm_type = _number(norm_type, "norm_type", where)
    if norm_type <= 0 and not math.isinf(norm_type):
        raise ValueError(f"{where}: norm_type must be > 0 or inf, got {norm_type}")
    grads = _grads(parameters, where)
    if not grads:
        return Tensor(np.array(0.0, dtype=get_default_dtype()))
    dtype = np.result_type(*(g.dtype for g in grads))
    norms = np.array([np.linalg.norm(g.data.ravel(), norm_type) for g in grads], dtype=dtype)
    total = np.linalg.norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"{where}: the total norm of order {norm_type} of the gradients is {total}, "
            "so it cannot be clipped; pass error_if_nonfinite=False to scale the "
            "gradients by it anyway"
        )
    # An infinite total scales by 0 and a NaN by NaN, as PyTorch (min keeps a NaN first).
    scale = min(max_norm / (float(total) + 1e-6), 1.0)
    with no_grad(), np.errstate(invalid="ignore"):
        for g in grads:
            g.mul_(np.asarray(scale, dtype=g.dtype))
    return Tensor(np.asarray(total))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient entry to [-clip_value, clip_value], in place.

    >>> w = Tensor(np.zeros(3), requires_grad=True)
    >>> w.grad = Tensor([-2.0, 0.5, 3.0])
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad
    Tensor([-1.   0.5  1. ], shape=(3,), dtype=float64)
    """
    where = "clip_grad_value_"
    value = _number(clip_value, "clip_value", where)
    if value < 0 or math.isnan(value):
        raise ValueError(f"{where}: clip_value must be >= 0, got {clip_value}")
    with no_grad():
        for g in _grads(parameters, where):
            g.copy_(np.clip(g.data, -value, value))
