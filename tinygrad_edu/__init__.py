"""tinygrad_edu: a small, fast, property-tested automatic-differentiation framework on NumPy.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
>>> loss = (x.relu() * x).sum()
>>> loss.backward()
>>> x.grad
Tensor([2. 0. 6.], shape=(3,), dtype=float64)
"""

from __future__ import annotations

import importlib
from typing import Any

from tinygrad_edu import functional, tensor_methods
from tinygrad_edu.anomaly import AnomalyError, detect_anomaly
from tinygrad_edu.autograd import (
    GraphFreedError,
    backward,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_edu.autograd import engine as _engine
from tinygrad_edu.default_dtype import get_default_dtype, set_default_dtype
from tinygrad_edu.factories import (
    arange,
    full,
    ones,
    ones_like,
    rand,
    randn,
    zeros,
    zeros_like,
)
from tinygrad_edu.grad_mode import retain_grads
from tinygrad_edu.gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_gradient
from tinygrad_edu.random import manual_seed
from tinygrad_edu.tensor import Tensor, make_op, tensor

# The package's one late binding: Tensor's methods call the ops and the engine, which
# import Tensor, so they are handed over here, after everything is defined.
tensor_methods.attach(functional, _engine)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "arange", "randn", "rand", "zeros_like",
    "ones_like", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "backward",
    "grad", "make_op", "GraphFreedError", "detect_anomaly", "AnomalyError", "functional",
    "gradcheck", "gradgradcheck",
    "numerical_gradient", "GradcheckError", "nn", "optim", "datasets", "data", "models",
    "serialization", "retain_grads", "manual_seed", "set_default_dtype", "get_default_dtype",
]

# Submodules that pull in more than NumPy (or are simply larger) load on first use, so
# `import tinygrad_edu` stays light. `testing` (Hypothesis) and `viz` are reachable as
# attributes but stay out of `__all__`, so `from tinygrad_edu import *` needs NumPy only.
_LAZY = {"nn", "optim", "datasets", "data", "models", "serialization", "testing", "viz"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"tinygrad_edu.{name}")
    raise AttributeError(f"module 'tinygrad_edu' has no attribute {name!r}")
