"""The Optimizer base class: the parameters, the update loop, and state dicts that are
checked before anything is written. The update rules themselves are in
:mod:`tinygrad_edu.optim.algorithms`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.tensor import Tensor

__all__ = ["Optimizer", "State", "Rule", "nonnegative", "fraction", "flag"]

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

    @no_grad()  # a parameter update: the in-place op below is allowed, and recorded nowhere
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

        >>> import tinygrad_edu as tg
        >>> w = Tensor(np.ones(2), requires_grad=True)
        >>> opt = tg.optim.Momentum([w], lr=0.1)
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
