"""Anomaly mode: find the op where a NaN or an infinity was born.

Inside ``with tg.detect_anomaly():`` every op's forward result and every gradient that
a backward step hands on is checked. The first NaN or inf raises an
:class:`AnomalyError` that names the op and shows the line of *your* code that created
it; for one born in backward, both the backward step and that forward line. The
creation line is looked up only in this mode (from the call stack, when the op runs),
so normal runs pay nothing but one flag read per op.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, -1.0], requires_grad=True)
>>> with tg.detect_anomaly(), np.errstate(invalid="ignore"):
...     y = x.log()
Traceback (most recent call last):
...
tinygrad_edu.anomaly.AnomalyError: anomaly: 'log' produced nan in its result (shape (2,)); ...
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from tinygrad_edu.grad_mode import state

__all__ = ["detect_anomaly", "AnomalyError", "watch"]

F = TypeVar("F", bound=Callable[..., Any])
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class AnomalyError(RuntimeError):
    """A NaN or an infinity appeared in anomaly mode; the message says where."""


class detect_anomaly:
    """Context manager and decorator: check every result and gradient for NaN and inf.

    Per thread, like grad mode; nested blocks restore what they found.
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        state.saved_anomaly = (*state.saved_anomaly, state.anomaly)
        state.anomaly = self.mode

    def __exit__(self, *exc: object) -> None:
        *rest, previous = state.saved_anomaly
        state.saved_anomaly = tuple(rest)
        state.anomaly = previous

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _bad(array: Any) -> str | None:
    """'nan' or 'inf' if the array holds one (float arrays only), else None."""
    a = np.asarray(array)
    if a.dtype.kind not in "fc" or np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def _user_line() -> str:
    """Where the op was called from: the innermost frame outside this package."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE):
            return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return "(inside tinygrad_edu)"


def watch(op: str, data: np.ndarray, backward: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Check an op's forward ``data`` now, and return its ``backward`` wrapped so that
    every gradient it hands on is checked too. Called by ``record`` in anomaly mode.

    An op that runs inside a backward step (the step's own arithmetic) is reported as
    that step, with the line that created the step's op."""
    kind = _bad(data)
    step = state.anomaly_step
    if kind is not None and step is not None:
        raise AnomalyError(
            f"anomaly: the backward step of '{step[0]}' produced {kind} (in its '{op}', "
            f"shape {np.shape(data)}); '{step[0]}' was created at {step[1]}")
    origin = _user_line() if step is None else step[1]
    if kind is not None:
        raise AnomalyError(f"anomaly: '{op}' produced {kind} in its result (shape "
                           f"{np.shape(data)}); the op was created at {origin}")

    def checked(g: Any) -> Any:
        outer = state.anomaly_step
        state.anomaly_step = (op, origin)
        try:
            grads = backward(g)
        finally:
            state.anomaly_step = outer
        for i, pg in enumerate(grads if isinstance(grads, (tuple, list)) else ()):
            found = None if pg is None else _bad(getattr(pg, "data", pg))
            if found is not None:
                upstream = _bad(g.data)
                raise AnomalyError(
                    f"anomaly: the backward step of '{op}' produced {found} in the gradient "
                    f"of its input {i} (shape {np.shape(getattr(pg, 'data', pg))}) from an "
                    f"upstream gradient that {'held ' + upstream if upstream else 'was finite'}"
                    f"; '{op}' was created at {origin}"
                )
        return grads

    return checked
