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
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

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


# A hyperparameter's rule: (value, name) -> the value to keep; raises ValueError saying
# what is wrong (the caller adds where). The same rules check constructor arguments and
# loaded state dicts.
Rule = Callable[[Any, str], Any]


def _real(value: Any, name: str) -> float:
    number = isinstance(value, (int, float, np.integer, np.floating)) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")
    if not number or isinstance(value, (bool, np.bool_)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def nonnegative(value: Any, name: str) -> float:
    """Rule: a finite real number >= 0, kept as a Python float."""
    number = _real(value, name)
    if number < 0.0:
        raise ValueError(f"{name} must be >= 0, got {number}")
    return number


def fraction(value: Any, name: str) -> float:
    """Rule: a real number in [0, 1), kept as a Python float (Adam's betas)."""
    number = _real(value, name)
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {number}")
    return number


def flag(value: Any, name: str) -> bool:
    """Rule: True or False (a bool, 0 or 1, or such a 0-d array), kept as a bool."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biu":
        value = value.item()
    if not isinstance(value, (bool, np.bool_, int, np.integer)) or value not in (0, 1):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _state_value(key: str, value: Any, p: np.ndarray) -> Any:
    """A loaded state entry as the optimizer keeps it, or ValueError saying why not: a
    step count ``t`` as an int, an array as a copy in ``p``'s dtype (the optimizer
    updates it in place, and must never change the dict it was loaded from)."""
    array = np.asarray(value)
    if key == "t":
        if array.ndim != 0 or array.dtype.kind not in "iu" or int(array) < 0:
            raise ValueError(f"must be a count (a non-negative integer), got {value!r}")
        return int(array)
    if array.dtype.kind not in "biuf" or array.shape != p.shape:
        raise ValueError(f"has shape {array.shape} and dtype {array.dtype}; expected real "
                         f"numbers of the parameter's shape {p.shape}")
    with np.errstate(all="ignore"):
        out = np.array(array, dtype=p.dtype, copy=True)
    if not np.isfinite(out).all():
        raise ValueError(f"holds values that are not finite in {p.dtype}")
    return out


class Optimizer:
    """Base class: holds the parameters, their per-parameter state, the hyperparameters.

    Subclasses name their hyperparameters and the rule each must satisfy in
    ``hyperparameters``, the arrays a stepped parameter's state holds in
    ``state_keys`` (with ``t`` a step count), and implement ``_update(p, g, state)``,
    which changes the array ``p`` in place from the gradient array ``g``. Parameters
    whose ``grad`` is None are skipped by ``step()``.
    """

    hyperparameters: ClassVar[dict[str, Rule]] = {"lr": nonnegative}
    state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Iterable[Tensor] | Any, lr: float, **hyperparameters: Any) -> None:
        self.params = _collect(params, type(self).__name__)
        values, errors = self._check_hyperparameters(dict(lr=lr, **hyperparameters))
        if errors:
            raise ValueError(f"{type(self).__name__}: {'; '.join(errors)}")
        for name, value in values.items():
            setattr(self, name, value)
        self.state: list[State] = [{} for _ in self.params]

    def _check_hyperparameters(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Every hyperparameter in ``raw`` through its rule: (values, problems)."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for name, rule in self.hyperparameters.items():
            if name not in raw:
                errors.append(f"missing hyperparameter {name!r}")
                continue
            try:
                values[name] = rule(raw[name], name)
            except ValueError as exc:
                errors.append(str(exc))
        if not errors:
            errors += self._check_together(values)
        return values, errors

    def _check_together(self, values: Mapping[str, Any]) -> list[str]:
        """Problems of combinations of valid hyperparameters (none by default)."""
        return []

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

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """The hyperparameters and every parameter's state, as a flat name -> array dict
        (copies), like a Module's, so that ``serialization.save`` writes it.

        Names: each hyperparameter (``lr``, ...) as a 0-d array, then
        ``state.<i>.<key>`` for parameter ``i`` (in the order given to the optimizer)
        once it has been stepped, e.g. ``state.0.m`` of Adam.

        >>> w = Tensor(np.ones(2), requires_grad=True)
        >>> opt = Momentum([w], lr=0.1)
        >>> w.grad = Tensor(np.ones(2))
        >>> opt.step()
        >>> {k: v.tolist() for k, v in opt.state_dict().items()}
        {'lr': 0.1, 'momentum': 0.9, 'state.0.v': [-0.1, -0.1]}
        """
        out: OrderedDict[str, np.ndarray] = OrderedDict(
            (name, np.asarray(getattr(self, name))) for name in self.hyperparameters
        )
        for i, state in enumerate(self.state):
            for key, value in state.items():
                out[f"state.{i}.{key}"] = np.array(value, copy=True)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (also after ``save`` and ``load``),
        for the same parameters in the same order.

        Everything is checked before anything changes, and every problem is reported
        at once: each hyperparameter present and valid by the constructor's rules,
        no unknown names, and each parameter's state either absent (not yet stepped)
        or complete, with arrays of the parameter's shape that are finite in its dtype.
        Arrays are copied (in the parameter's dtype), never kept.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{where}: expected a mapping of names to arrays (what state_dict() "
                f"returns), got {type(state_dict).__name__}"
            )
        values, errors = self._check_hyperparameters(state_dict)
        states: list[State] = [{} for _ in self.params]
        unknown: list[str] = []
        for key, value in state_dict.items():
            parts = str(key).split(".")
            if key in self.hyperparameters:
                continue
            if len(parts) != 3 or parts[0] != "state" or not parts[1].isdecimal():
                unknown.append(repr(key))
                continue
            i, name = int(parts[1]), parts[2]
            try:
                if i >= len(self.params):
                    raise ValueError(f"is for parameter {i}; there are {len(self.params)}")
                if name not in self.state_keys:
                    raise ValueError(f"is not state of {type(self).__name__}, which keeps "
                                     f"{', '.join(map(repr, self.state_keys)) or 'none'}")
                states[i][name] = _state_value(name, value, self.params[i].data)
            except ValueError as exc:
                errors.append(f"{key!r} {exc}")
        if unknown:
            errors.append(f"unknown names {', '.join(unknown)} ({type(self).__name__} uses "
                          f"{', '.join(self.hyperparameters)} and state.<i>.<key>; is this "
                          "another optimizer's state?)")
        for i, state in enumerate(states):
            absent = [k for k in self.state_keys if k not in state]
            if state and absent:
                errors.append(
                    f"the state of parameter {i} lacks {', '.join(map(repr, absent))} "
                    f"(a stepped parameter has {', '.join(map(repr, self.state_keys))})"
                )
        if errors:
            raise ValueError(f"{where}: the state dict does not fit:\n  " + "\n  ".join(errors))
        for name, value in values.items():
            setattr(self, name, value)
        self.state = states

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hyper}, params={len(self.params)})"


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
