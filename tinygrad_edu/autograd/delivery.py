"""Where gradients go, once the walk has them.

``backward()`` puts each gradient into a tensor's ``.grad`` (leaves, and tensors that
called ``retain_grad``); ``grad()`` returns them instead and touches no ``.grad``. Both
follow the same three rules, kept here so that the walk in :mod:`.engine` stays short:

* **dtype**: every gradient arrives in its own tensor's dtype. Mixed-dtype ops compute
  in the wider type (float32 * a float64 array is float64), so a float32 weight may be
  handed a float64 gradient; it is cast back, as in PyTorch.
* **ownership**: no two holders ever share a gradient array. A view, a read-only array
  or an array already handed to another holder is copied, so ``p.grad.data *= 0`` on one
  tensor can never change another's gradient (nor the caller's upstream gradient).
* **accumulation**: a second gradient for the same holder is added to the first, in the
  holder's dtype.

Under ``create_graph`` the casts, copies and sums are recorded as ops, so the gradients
can be differentiated again; otherwise they are plain array work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from tinygrad_edu.tensor import Tensor, wrap

__all__ = ["GradientDelivery", "accumulate", "cast"]

# One lock for every delivery into .grad: two threads running backward into a shared
# leaf would otherwise both read the old .grad and one of the two sums would be lost.
_GRAD_LOCK = threading.Lock()


def cast(g: Tensor, dtype: np.dtype, create_graph: bool) -> Tensor:
    """A fresh copy of ``g`` in ``dtype`` (recorded as an op under create_graph)."""
    if create_graph:
        return g.astype(dtype)
    return wrap(g.data.astype(dtype))


def accumulate(total: Tensor, g: Tensor, create_graph: bool) -> Tensor:
    """total + g in total's dtype; without create_graph a plain array sum."""
    if g.dtype != total.dtype:
        g = cast(g, total.dtype, create_graph)
    if create_graph:
        return total + g
    return wrap(total.data + g.data)


class GradientDelivery:
    """Delivers the gradients of one backward pass.

    With ``inputs`` None, into ``.grad`` (``backward``); otherwise into :attr:`results`,
    one slot per input (``grad``). ``wanted`` maps ``id`` of each requested tensor to its
    slots; the walk asks it whether an interior node's gradient is wanted.
    """

    def __init__(self, root_grads: Sequence[Tensor], create_graph: bool,
                 inputs: Sequence[Tensor] | None = None) -> None:
        self.create_graph = create_graph
        self.into_grad = inputs is None
        self.wanted: dict[int, list[int]] = {}
        for i, t in enumerate(inputs or ()):
            self.wanted.setdefault(id(t), []).append(i)  # an input may be asked twice
        self.results: list[Tensor | None] = [None] * len(inputs or ())
        # Arrays already handed to a holder in this pass; the caller's upstream arrays
        # count as handed out, so they are never aliased either.
        self.handed_out: set[int] = {id(g.data) for g in root_grads}

    def deliver_all(self, items: Iterable[tuple[Tensor, Tensor]]) -> None:
        """Deliver every (tensor, gradient) pair of a finished walk."""
        with _GRAD_LOCK:
            for t, g in items:
                self.deliver(t, g)

    def deliver(self, t: Tensor, g: Tensor) -> None:
        """Give ``t`` its share ``g`` of the gradient."""
        if self.into_grad:
            t.grad = self._own(t, g) if t.grad is None else accumulate(
                t.grad, g, self.create_graph)
            return
        for i in self.wanted.get(id(t), ()):
            prev = self.results[i]
            self.results[i] = self._own(t, g) if prev is None else accumulate(
                prev, g, self.create_graph)

    def _own(self, t: Tensor, g: Tensor) -> Tensor:
        """``g`` as a gradient that ``t`` alone holds, in ``t``'s dtype."""
        if g.dtype != t.dtype and t.dtype.kind == "f":
            g = cast(g, t.dtype, self.create_graph)  # a cast makes a fresh array
        else:
            flags = g.data.flags
            if not flags.owndata or not flags.writeable or id(g.data) in self.handed_out:
                g = cast(g, g.dtype, self.create_graph)
        self.handed_out.add(id(g.data))
        return g
