"""The default floating dtype: what layers create their parameters in and what the
factories (``zeros``, ``randn``, ``full(shape, 1.5)`` ...) return when no ``dtype`` is
given. It is float64 (exact gradient checks, the book's precision) until
:func:`set_default_dtype` changes it, as ``torch.set_default_dtype`` does.

For float32 training, the faster choice, set it once before building the model: the
MNIST loaders already return float32 images, and a float32 model then stays float32 end
to end. A float32 batch through float64 layers would be computed (slowly) in float64.

An array or a Tensor made from one keeps its own dtype: the default is only for what
the package creates. The setting is process-wide, as PyTorch's.

This module imports nothing from the library, so any layer may use it.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> tg.get_default_dtype()
dtype('float64')
>>> tg.set_default_dtype(np.float32)
>>> tg.zeros(2).dtype, tg.nn.Linear(3, 2).weight.dtype
(dtype('float32'), dtype('float32'))
>>> tg.set_default_dtype("float64")
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["set_default_dtype", "get_default_dtype", "float_dtype"]

_default = np.dtype(np.float64)


def _floating(dtype: Any, where: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: dtype {dtype!r} is not a dtype (use np.float32 or "
                        "np.float64)") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: needs a floating dtype (float32 or float64), got {dt}")
    return dt


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (a floating dtype: ``np.float32``, ``"float64"`` ...) the default
    of new parameters and of the factories."""
    global _default
    _default = _floating(dtype, "set_default_dtype")


def get_default_dtype() -> np.dtype:
    """The default floating dtype (float64 unless :func:`set_default_dtype` changed it)."""
    return _default


def float_dtype(dtype: Any, where: str) -> np.dtype:
    """``dtype`` as a floating NumPy dtype, the default one for None; ``where`` names
    the caller in the TypeError for any other kind.

    >>> float_dtype(None, "Linear"), float_dtype("float32", "Linear")
    (dtype('float64'), dtype('float32'))
    """
    return _default if dtype is None else _floating(dtype, where)
