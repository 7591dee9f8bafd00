"""Optimizers, in order of increasing complexity: SGD, Momentum, AdaGrad, RMSprop, Adam.

* :mod:`.optimizer`: the base class (parameters, the update loop, state dicts);
* :mod:`.algorithms`: the update rules, each with its formula;
* :mod:`.lr_scheduler`: learning-rate schedules (StepLR, ExponentialLR,
  CosineAnnealingLR, LambdaLR).
"""

from tinygrad_edu.optim import lr_scheduler
from tinygrad_edu.optim.algorithms import SGD, AdaGrad, Adam, Momentum, RMSprop
from tinygrad_edu.optim.optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Momentum", "AdaGrad", "RMSprop", "Adam", "lr_scheduler"]
