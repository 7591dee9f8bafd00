"""Optimizers, in order of increasing complexity: SGD, Momentum, AdaGrad, RMSprop, Adam.

``Momentum``, ``AdaGrad``, ``RMSprop`` and ``Adam`` follow chapter 6 of *Deep Learning
from Scratch* formula for formula (defaults included); ``SGD`` follows PyTorch's
``torch.optim.SGD`` (with ``momentum=0`` both are ``p -= lr * g``). With p a parameter,
g its gradient, and every state array starting at zero:

=========  ==================================================================
SGD        g' = g + weight_decay * p
           b = g' on the first step, else b = momentum * b + g'
           d = g' + momentum * b if nesterov else b   (d = g' if momentum == 0)
           p -= lr * d
Momentum   v = momentum * v - lr * g;  p += v
AdaGrad    h += g * g;  p -= lr * g / (sqrt(h) + eps)
RMSprop    h = decay_rate * h + (1 - decay_rate) * g * g
           p -= lr * g / (sqrt(h) + eps)
Adam       t += 1;  lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
           m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g * g - v)
           p -= lr_t * m / (sqrt(v) + eps)
=========  ==================================================================

eps (1e-7, the book's) is added *after* the square root. In Adam it is added to
sqrt(v), not to the bias-corrected sqrt(v_hat) as in PyTorch (eps 1e-8 there): the two
agree except where v is tiny.

Every update writes into ``p.data`` in place (so arrays held elsewhere, such as
``TwoLayerNet.params``, stay the arrays in use) and computes in the parameter's dtype
(hyperparameters are Python floats, which NumPy 2 treats as "weak": float32 stays
float32).

>>> import numpy as np
>>> from tinygrad_edu import Tensor
>>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.data
array([ 0.8, -1.6])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import (
    Optimizer,
    Rule,
    State,
    flag,
    fraction,
    nonnegative,
)
from tinygrad_edu.tensor import Tensor

__all__ = ["SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulas (see the module docstring).

    ``momentum`` keeps a velocity buffer; ``nesterov`` looks ahead along it;
    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2 regularization).
    """

    hyperparameters: ClassVar[dict[str, Rule]] = {
        "lr": nonnegative, "momentum": nonnegative, "nesterov": flag, "weight_decay": nonnegative,
    }
    state_keys = ("momentum_buffer",)

    def __init__(self, params: Iterable[Tensor] | Any, lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)

    def _check_together(self, values: Mapping[str, Any]) -> list[str]:
        if values["nesterov"] and values["momentum"] == 0.0:
            return ["nesterov=True needs a momentum > 0"]
        return []

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= self.momentum
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        return self.lr * g


class Momentum(Optimizer):
    """Momentum SGD (*Deep Learning from Scratch* 6.1.4): v = momentum * v - lr * g,
    p += v."""

    hyperparameters: ClassVar[dict[str, Rule]] = {"lr": nonnegative, "momentum": nonnegative}
    state_keys = ("v",)

    def __init__(
        self, params: Iterable[Tensor] | Any, lr: float = 0.01, momentum: float = 0.9
    ) -> None:
        super().__init__(params, lr, momentum=momentum)

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        v = state.get("v")
        if v is None:
            v = state["v"] = np.zeros_like(p)
        v *= self.momentum
        v -= self.lr * g
        return -v


class AdaGrad(Optimizer):
    """AdaGrad (6.1.5): h += g * g, p -= lr * g / (sqrt(h) + eps); each weight's step
    shrinks with the squared gradients it has seen."""

    hyperparameters: ClassVar[dict[str, Rule]] = {"lr": nonnegative, "eps": nonnegative}
    state_keys = ("h",)

    def __init__(
        self, params: Iterable[Tensor] | Any, lr: float = 0.01, eps: float = 1e-7
    ) -> None:
        super().__init__(params, lr, eps=eps)

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        h = state.get("h")
        if h is None:
            h = state["h"] = np.zeros_like(p)
        h += g * g
        return self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (6.1.5, the book's version): h = decay_rate * h + (1 - decay_rate) g * g,
    p -= lr * g / (sqrt(h) + eps); AdaGrad with an exponentially forgetting h."""

    hyperparameters: ClassVar[dict[str, Rule]] = {
        "lr": nonnegative, "decay_rate": nonnegative, "eps": nonnegative,
    }
    state_keys = ("h",)

    def __init__(self, params: Iterable[Tensor] | Any, lr: float = 0.01,
                 decay_rate: float = 0.99, eps: float = 1e-7) -> None:
        super().__init__(params, lr, decay_rate=decay_rate, eps=eps)

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        h = state.get("h")
        if h is None:
            h = state["h"] = np.zeros_like(p)
        h *= self.decay_rate
        h += (1.0 - self.decay_rate) * (g * g)
        return self.lr * g / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015; 6.1.6, the book's form): t += 1,
    lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), m += (1 - beta1)(g - m),
    v += (1 - beta2)(g * g - v), p -= lr_t * m / (sqrt(v) + eps).

    The bias corrections are folded into lr_t; eps is added to sqrt(v) (see the module
    docstring for how that differs from PyTorch). ``t`` counts this parameter's updates.
    """

    hyperparameters: ClassVar[dict[str, Rule]] = {
        "lr": nonnegative, "beta1": fraction, "beta2": fraction, "eps": nonnegative,
    }
    state_keys = ("t", "m", "v")

    def __init__(self, params: Iterable[Tensor] | Any, lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-7) -> None:
        super().__init__(params, lr, beta1=beta1, beta2=beta2, eps=eps)

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        if "m" not in state:
            state["t"] = 0
            state["m"] = np.zeros_like(p)
            state["v"] = np.zeros_like(p)
        m, v = state["m"], state["v"]
        state["t"] += 1
        t = state["t"]
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        m += (1.0 - self.beta1) * (g - m)
        v += (1.0 - self.beta2) * (g * g - v)
        return lr_t * m / (np.sqrt(v) + self.eps)
