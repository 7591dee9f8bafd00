"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: StepLR, ExponentialLR,
CosineAnnealingLR and LambdaLR.

A scheduler changes its optimizer's ``lr`` attribute (this library's optimizers keep
one learning rate for all their parameters, where PyTorch's keep one per parameter
group). Call ``scheduler.step()`` once per epoch, after ``optimizer.step()``; the
constructor takes step 0, which leaves ``lr`` at its starting value, ``base_lrs[0]``.
With e the epoch (``last_epoch``, the number of ``step()`` calls) and lr0 the base:

=================  ==========================================================
StepLR             lr = lr0 * gamma ** (e // step_size)
ExponentialLR      lr = lr0 * gamma ** e
CosineAnnealingLR  lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * e / T_max)) / 2
LambdaLR           lr = lr0 * lr_lambda(e)
=================  ==========================================================

As in PyTorch, StepLR, ExponentialLR and CosineAnnealingLR update the optimizer's
current ``lr`` step by step (their "chainable" form: another scheduler, or your own
change of ``opt.lr``, is taken into account), which equals the closed forms above when
nothing else touches ``lr``. ``get_last_lr()`` is a list with one learning rate, as
PyTorch's with one parameter group.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> w = tg.Tensor(np.zeros(2), requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     lrs.append(opt.lr)       # ... train one epoch with opt.step() ...
...     sched.step()
>>> lrs
[0.1, 0.1, 0.05, 0.05, 0.025]
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import Optimizer, Rule, nonnegative

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR"]


def positive_int(value: Any, name: str) -> int:
    """Rule: an integer >= 1 (a step size, a period), kept as an int."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


class LRScheduler:
    """Base class: holds the optimizer, ``base_lrs`` (its ``lr`` when the scheduler was
    made) and ``last_epoch``; subclasses name their settings and the rule each must
    satisfy in ``hyperparameters`` and compute the next lr in :meth:`get_lr`."""

    hyperparameters: ClassVar[dict[str, Rule]] = {}

    def __init__(self, optimizer: Optimizer, **hyperparameters: Any) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an optimizer of tinygrad_edu.optim, got "
                            f"{type(optimizer).__name__}")
        errors = []
        for key, rule in self.hyperparameters.items():
            try:
                setattr(self, key, rule(hyperparameters[key], key))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise ValueError(f"{name}: {'; '.join(errors)}")
        self.optimizer = optimizer
        self.base_lrs: list[float] = [float(optimizer.lr)]
        self.last_epoch = -1
        self._last_lr = [float(optimizer.lr)]
        self.step()

    def get_lr(self) -> float:
        """The learning rate for epoch ``last_epoch`` (already counted up)."""
        raise NotImplementedError

    def step(self) -> None:
        """Count one epoch and set the optimizer's ``lr`` for it."""
        self.last_epoch += 1
        try:
            lr = self._checked_lr()
        except Exception:
            self.last_epoch -= 1  # nothing changes on error
            raise
        self.optimizer.lr = lr
        self._last_lr = [lr]

    def _checked_lr(self) -> float:
        try:
            return nonnegative(self.get_lr(), "the learning rate")
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}.step: at epoch {self.last_epoch} "
                             f"{exc}") from None

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last ``step()``, in a list (one group)."""
        return list(self._last_lr)

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``last_epoch``, ``base_lr``, ``last_lr`` and the settings, as a flat name ->
        0-d array dict (so that ``serialization.save`` writes it)."""
        out: OrderedDict[str, np.ndarray] = OrderedDict(
            last_epoch=np.asarray(self.last_epoch, dtype=np.int64),
            base_lr=np.asarray(self.base_lrs[0]),
            last_lr=np.asarray(self._last_lr[0]),
        )
        for key in self.hyperparameters:
            out[key] = np.asarray(getattr(self, key))
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; everything is checked before
        anything changes. The optimizer's ``lr`` is the optimizer's own state (restore
        it with ``optimizer.load_state_dict``)."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a mapping of names to arrays, got "
                            f"{type(state_dict).__name__}")
        rules: dict[str, Rule] = {"last_epoch": _count, "base_lr": nonnegative,
                                  "last_lr": nonnegative, **self.hyperparameters}
        errors = [f"missing {k!r}" for k in rules if k not in state_dict]
        errors += [f"unknown name {k!r}" for k in state_dict if k not in rules]
        values: dict[str, Any] = {}
        for key, rule in rules.items():
            if key in state_dict:
                try:
                    values[key] = rule(np.asarray(state_dict[key]), key)
                except ValueError as exc:
                    errors.append(str(exc))
        if errors:
            raise ValueError(f"{where}: the state dict does not fit: {'; '.join(errors)}")
        self.last_epoch = values.pop("last_epoch")
        self.base_lrs = [values.pop("base_lr")]
        self._last_lr = [values.pop("last_lr")]
        for key, value in values.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        settings = "".join(f"{k}={getattr(self, k)}, " for k in self.hyperparameters)
        return f"{type(self).__name__}({settings}last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:
    lr = lr0 * gamma ** (epoch // step_size)."""

    hyperparameters: ClassVar[dict[str, Rule]] = {"step_size": positive_int,
                                                  "gamma": nonnegative}
    step_size: int
    gamma: float

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer, step_size=step_size, gamma=gamma)

    def get_lr(self) -> float:
        lr = self.optimizer.lr
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: lr = lr0 * gamma ** epoch."""

    hyperparameters: ClassVar[dict[str, Rule]] = {"gamma": nonnegative}
    gamma: float

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer, gamma=gamma)

    def get_lr(self) -> float:
        lr = self.optimizer.lr
        return lr if self.last_epoch == 0 else lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr0 down to ``eta_min`` over ``T_max`` epochs (Loshchilov &
    Hutter, 2017, without restarts): lr = eta_min + (lr0 - eta_min)(1 + cos(pi e /
    T_max)) / 2. Past T_max it climbs back, as PyTorch's (the cosine goes on)."""

    hyperparameters: ClassVar[dict[str, Rule]] = {"T_max": positive_int,
                                                  "eta_min": nonnegative}
    T_max: int
    eta_min: float

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer, T_max=T_max, eta_min=eta_min)

    def get_lr(self) -> float:
        # PyTorch's step-by-step form: each step scales the distance to eta_min by the
        # ratio of the cosine curve at e and e - 1; at the curve's lowest point, where
        # that ratio is 0/0, it adds the step up instead.
        e, t, lr, low = self.last_epoch, self.T_max, self.optimizer.lr, self.eta_min
        if e == 0:
            return lr
        if (e - 1 - t) % (2 * t) == 0:
            return lr + (self.base_lrs[0] - low) * (1 - math.cos(math.pi / t)) / 2
        return ((1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t))
                * (lr - low) + low)


class LambdaLR(LRScheduler):
    """lr = lr0 * lr_lambda(epoch), for any schedule written as a function of the epoch
    (a warm-up: ``lambda e: min(1.0, (e + 1) / 5)``). The function is not part of
    ``state_dict``: construct the scheduler with it, then load the state."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda must be callable, got "
                            f"{type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def get_lr(self) -> float:
        factor = self.lr_lambda(self.last_epoch)
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.integer,
                                                               np.floating)):
            raise TypeError(f"LambdaLR: lr_lambda({self.last_epoch}) returned a "
                            f"{type(factor).__name__}, not a number")
        return self.base_lrs[0] * float(factor)
