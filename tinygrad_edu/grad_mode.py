"""Grad mode: whether new ops record the graph. A leaf module: it imports nothing else
from the package, so that every other module may import it (autograd re-exports it).

The flag lives in a thread-local object, so ``no_grad`` in one thread never changes what
another thread records. The modes saved by ``with`` blocks live there too, per thread:
one ``no_grad()`` object may be entered by several threads at once (a module-level
``NO_GRAD = no_grad()`` used as a decorator, say) without one thread restoring another's
mode.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["state", "is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad",
           "retain_grads"]

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    """Per-thread grad mode. ``enabled`` is read by every op that creates a tensor;
    ``retain_all`` (see :func:`retain_grads`) only by ops that record a node."""

    # Class attributes give every new thread the defaults without an __init__ call.
    enabled: bool = True
    saved: tuple[bool, ...] = ()
    # Anomaly mode (tinygrad_edu.anomaly): check every result and gradient for NaN/inf.
    anomaly: bool = False
    saved_anomaly: tuple[bool, ...] = ()
    anomaly_step: tuple[str, str] | None = None  # (op, creation line) of a running step
    retain_all: bool = False


#: The current thread's grad mode: ``state.enabled`` is True when ops record the graph.
#: Read it freely; change it only through the context managers below.
state = _State()


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default).

    >>> import tinygrad_edu as tg
    >>> tg.is_grad_enabled()
    True
    """
    return state.enabled


class set_grad_enabled:
    """Turn graph recording on or off; a context manager or a decorator.

    >>> import tinygrad_edu as tg
    >>> with tg.set_grad_enabled(False):
    ...     tg.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        # The previous mode is pushed on this thread's stack, not on the object, so a
        # shared object entered by two threads keeps their modes apart.
        state.saved = (*state.saved, state.enabled)
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        *rest, previous = state.saved
        state.saved = tuple(rest)
        state.enabled = previous

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Context manager and decorator: ops inside record no graph.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Context manager and decorator: ops inside record the graph, even under no_grad.

    >>> import tinygrad_edu as tg
    >>> with tg.no_grad(), tg.enable_grad():
    ...     tg.is_grad_enabled()
    True
    """

    def __init__(self) -> None:
        super().__init__(True)


@contextlib.contextmanager
def retain_grads() -> Iterator[None]:
    """Teaching mode: every tensor recorded inside keeps its ``.grad`` after backward,
    as if each had called ``retain_grad()``.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.retain_grads():
    ...     h = x * 3
    ...     y = (h * h).sum()
    >>> y.backward()
    >>> h.grad
    Tensor([ 6. 12.], shape=(2,), dtype=float64)
    """
    previous = state.retain_all  # a local per entry: nested and threaded uses stay apart
    state.retain_all = True
    try:
        yield
    finally:
        state.retain_all = previous
