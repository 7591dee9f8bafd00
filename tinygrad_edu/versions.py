"""Version counters: how in-place changes are caught before they corrupt a backward.

Each tensor counts the in-place ops on its memory (``Tensor.version``). The counter is
created at the first in-place op (version 0 until then) and shared by tensors that view
the same memory (reshape, transpose, indexing, broadcast_to, detach), so a change
through one is seen through all. An op records the versions of what its backward reads
(:func:`saved_versions`); the engine compares them before running the backward and
raises :func:`modified_error` on a mismatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

__all__ = ["saved_versions", "share_version", "modified_error"]


def saved_versions(saved: tuple[Tensor, ...]) -> tuple[int, ...] | None:
    """The versions of the tensors an op saves, as the op runs; None when none of them
    has a counter yet (all at version 0, the common case: no tuple is made then)."""
    # Written out for one and two tensors, the common cases: this runs for every op.
    n = len(saved)
    if n == 2:
        vc, vc2 = saved[0]._vc, saved[1]._vc
        if vc is None and vc2 is None:
            return None
        return (0 if vc is None else vc[0], 0 if vc2 is None else vc2[0])
    if n == 1:
        vc = saved[0]._vc
        return None if vc is None else (vc[0],)
    if n == 0 or all(s._vc is None for s in saved):
        return None
    return tuple(0 if s._vc is None else s._vc[0] for s in saved)


def modified_error(op: str, t: Tensor, saved_version: int, what: str = "an input") -> RuntimeError:
    """The error for a saved tensor changed in place between an op and its backward."""
    return RuntimeError(
        f"backward of '{op}': {what} that it saved (shape {t.shape}, {t.dtype}) was "
        f"modified by an in-place operation after '{op}' ran: saved at version "
        f"{saved_version}, now at version {t.version}. Write the update out of place "
        "(h = h + b instead of h += b), or run the forward pass again after the update"
    )


def share_version(view: Tensor, base: Tensor) -> Tensor:
    """Give ``view`` the version counter of ``base`` when its data views ``base``'s
    memory, so an in-place change through either one is seen by both; returns ``view``."""
    if view.data.base is not None and np.may_share_memory(view.data, base.data):
        if base._vc is None:
            base._vc = [0]
        view._vc = base._vc
    return view
