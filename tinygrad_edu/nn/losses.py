"""Loss modules: thin wrappers over the fused losses in :mod:`tinygrad_edu.functional`."""

from __future__ import annotations

from typing import Any

from tinygrad_edu import functional as F
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor

__all__ = ["CrossEntropyLoss", "SoftmaxWithLoss", "MSELoss"]


def _check_reduction(reduction: str, where: str) -> str:
    # The functional losses check `reduction` on every call; checking it here too makes
    # a typo fail where the loss is built, not at its first call, which in a training
    # script comes only after the data has been loaded. The valid values are theirs.
    F.check_reduction(reduction, where)
    return reduction


class CrossEntropyLoss(Module):
    """Softmax followed by cross-entropy, in one stable node (the book's SoftmaxWithLoss).

    ``loss(logits, target)``: logits (N, C); target class indices (N,) of an integer dtype
    or one-hot rows (N, C). loss = -mean_N sum_C t * log softmax(logits).
    d/dlogits = (softmax(logits) - t) / N, the book's ``(y - t) / batch_size``.
    Unlike the book's ``cross_entropy_error`` no 1e-7 is added inside the log: the
    log-softmax is computed directly, so it cannot overflow or take log(0).

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()(np.zeros((2, 4)), np.array([1, 3]))
    >>> round(float(loss), 6) == round(float(np.log(4)), 6)
    True
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction, "CrossEntropyLoss")

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


SoftmaxWithLoss = CrossEntropyLoss  # the book's name


class MSELoss(Module):
    """Mean squared error between equal shapes. d/dinput = 2 (input - target) / n.

    >>> import numpy as np
    >>> float(MSELoss()(np.array([1.0, 3.0]), np.array([0.0, 1.0])))
    2.5
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction, "MSELoss")

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
