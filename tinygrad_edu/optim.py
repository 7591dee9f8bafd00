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
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Momentum", "AdaGrad", "RMSprop", "Adam"]

State = dict[str, Any]


def _collect(params: Any, where: str) -> list[Tensor]:
    if isinstance(params, Tensor):
        raise TypeError(
            f"{where}: params must be an iterable of Tensors (e.g. model.parameters()), "
            "got a single Tensor; wrap it in a list"
        )
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()  # a Module
    out = list(params)
    if not out:
        raise ValueError(f"{where}: got an empty parameter list")
    seen: set[int] = set()
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if not p.requires_grad or not p.is_leaf:
            raise ValueError(
                f"{where}: parameter {i} (shape {p.shape}) must be a leaf Tensor with "
                "requires_grad=True"
            )
        if id(p) in seen:
            raise ValueError(f"{where}: parameter {i} (shape {p.shape}) appears twice")
        seen.add(id(p))
    return out


def _positive(value: float, name: str, where: str, allow_zero: bool = True) -> float:
    value = float(value)
    if not (value >= 0.0 if allow_zero else value > 0.0) or math.isnan(value):
        raise ValueError(f"{where}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, the hyperparameters.

    Subclasses list their hyperparameters in ``hyperparameters`` and implement
    ``_update(p, g, state)``, which changes the array ``p`` in place from the gradient
    array ``g``. Parameters whose ``grad`` is None are skipped by ``step()``.
    """

    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Tensor] | Any, lr: float) -> None:
        self.params = _collect(params, type(self).__name__)
        self.lr = _positive(lr, "lr", type(self).__name__)
        self.state: list[State] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every gradient (``grad = None``), so the next backward starts afresh."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.shape != p.data.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: gradient of shape {g.shape} does not match "
                    f"its parameter of shape {p.data.shape}"
                )
            step = self._update(p.data, g, state)
            # Through the tracked in-place op: the parameter's version goes up, so a
            # backward through a graph built before this step refuses to run instead of
            # silently mixing old and new weights.
            with no_grad():
                p.sub_(step)

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        """The step to subtract from ``p`` (its state updated in place)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The hyperparameters and a copy of every parameter's state (arrays, step counts)."""
        return {
            "type": type(self).__name__,
            "hyperparameters": {k: getattr(self, k) for k in self.hyperparameters},
            "state": [
                {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for s in self.state
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, for the same parameters in order."""
        name = type(self).__name__
        if state_dict.get("type") != name:
            raise ValueError(
                f"{name}.load_state_dict: the state is from {state_dict.get('type')!r}, "
                f"not {name!r}"
            )
        states = state_dict["state"]
        if len(states) != len(self.params):
            raise ValueError(
                f"{name}.load_state_dict: the state has {len(states)} parameters, this "
                f"optimizer has {len(self.params)}"
            )
        new_states: list[State] = []
        for i, (p, s) in enumerate(zip(self.params, states)):
            new: State = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {i} has "
                            f"shape {v.shape}, the parameter has {p.data.shape}"
                        )
                    v = v.astype(p.data.dtype, copy=True)
                new[k] = v
            new_states.append(new)
        hyper = state_dict["hyperparameters"]
        unknown = set(hyper) - set(self.hyperparameters)
        if unknown:
            raise ValueError(f"{name}.load_state_dict: unknown hyperparameters {sorted(unknown)}")
        for k, v in hyper.items():
            setattr(self, k, v)
        self.state = new_states

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hyper}, params={len(self.params)})"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulas (see the module docstring).

    ``momentum`` keeps a velocity buffer; ``nesterov`` looks ahead along it;
    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2 regularization).
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(
        self,
        params: Iterable[Tensor] | Any,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _positive(momentum, "momentum", "SGD")
        self.weight_decay = _positive(weight_decay, "weight_decay", "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")

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

    hyperparameters = ("lr", "momentum")

    def __init__(
        self, params: Iterable[Tensor] | Any, lr: float = 0.01, momentum: float = 0.9
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _positive(momentum, "momentum", "Momentum")

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

    hyperparameters = ("lr", "eps")

    def __init__(
        self, params: Iterable[Tensor] | Any, lr: float = 0.01, eps: float = 1e-7
    ) -> None:
        super().__init__(params, lr)
        self.eps = _positive(eps, "eps", "AdaGrad")

    def _update(self, p: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        h = state.get("h")
        if h is None:
            h = state["h"] = np.zeros_like(p)
        h += g * g
        return self.lr * g / (np.sqrt(h) + self.eps)


class RMSprop(Optimizer):
    """RMSprop (6.1.5, the book's version): h = decay_rate * h + (1 - decay_rate) g * g,
    p -= lr * g / (sqrt(h) + eps); AdaGrad with an exponentially forgetting h."""

    hyperparameters = ("lr", "decay_rate", "eps")

    def __init__(
        self,
        params: Iterable[Tensor] | Any,
        lr: float = 0.01,
        decay_rate: float = 0.99,
        eps: float = 1e-7,
    ) -> None:
        super().__init__(params, lr)
        self.decay_rate = _positive(decay_rate, "decay_rate", "RMSprop")
        self.eps = _positive(eps, "eps", "RMSprop")

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

    hyperparameters = ("lr", "beta1", "beta2", "eps")

    def __init__(
        self,
        params: Iterable[Tensor] | Any,
        lr: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-7,
    ) -> None:
        super().__init__(params, lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta}")
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = _positive(eps, "eps", "Adam")

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
