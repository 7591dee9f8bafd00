"""Weight initialisation, in place, keeping the array's dtype.

Every function takes a Tensor (or ndarray) and a random source ``rng`` (a NumPy
``Generator`` or ``RandomState``, an int seed, or None for the default generator that
``tg.manual_seed`` seeds), overwrites the values in place and returns its argument.
Samples are drawn in float64 and rounded to the array's dtype, so a float32 and a
float64 network built from the same seed hold the same weights up to rounding.

Weights are laid out ``(in, out)`` as in the book's ``Affine`` (``x @ W``), so
``fan_in = shape[0]`` and ``fan_out = shape[1]``; for N-D arrays the last axis is the
output and the others multiply into ``fan_in``.

>>> import numpy as np
>>> w = normal_(np.empty((784, 50), dtype=np.float32), std=0.01, rng=0)
>>> w.dtype, round(float(w.std()), 3)
(dtype('float32'), 0.01)
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from tinygrad_edu.random import RandomSource, as_rng
from tinygrad_edu.tensor import Tensor

__all__ = [
    "fan_in_and_fan_out",
    "normal_",
    "uniform_",
    "zeros_",
    "ones_",
    "xavier_normal_",
    "xavier_uniform_",
    "kaiming_normal_",
    "kaiming_uniform_",
]

T = TypeVar("T", Tensor, np.ndarray)


def _array(t: Tensor | np.ndarray, where: str) -> np.ndarray:
    arr = t.data if isinstance(t, Tensor) else t
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise TypeError(
            f"{where}: expected a floating-point Tensor or ndarray, got "
            f"{getattr(arr, 'dtype', type(arr).__name__)}"
        )
    return arr


def fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` laid out (in, out).

    >>> fan_in_and_fan_out((784, 50))
    (784, 50)
    """
    if len(shape) < 2:
        raise ValueError(f"fan_in_and_fan_out: needs at least 2 dimensions, got shape {shape}")
    return int(np.prod(shape[:-1])), int(shape[-1])


def normal_(t: T, std: float = 1.0, rng: RandomSource = None, *, mean: float = 0.0) -> T:
    """Fill with ``mean + std * N(0, 1)`` samples: the book's ``weight_init_std * randn``."""
    arr = _array(t, "normal_")
    arr[...] = mean + std * as_rng(rng, "normal_").standard_normal(arr.shape)
    return t


def uniform_(t: T, low: float = 0.0, high: float = 1.0, rng: RandomSource = None) -> T:
    """Fill with samples uniform on [low, high)."""
    arr = _array(t, "uniform_")
    arr[...] = as_rng(rng, "uniform_").uniform(low, high, arr.shape)
    return t


def zeros_(t: T) -> T:
    """Fill with zeros (the book's biases)."""
    _array(t, "zeros_")[...] = 0
    return t


def ones_(t: T) -> T:
    """Fill with ones (BatchNorm's scale)."""
    _array(t, "ones_")[...] = 1
    return t


def xavier_normal_(t: T, gain: float = 1.0, rng: RandomSource = None) -> T:
    """Glorot & Bengio (2010): N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Suits sigmoid and tanh. (*Deep Learning from Scratch* simplifies this to
    ``1 / sqrt(fan_in)``; pass that as ``normal_``'s std to follow the book exactly.)
    """
    fan_in, fan_out = fan_in_and_fan_out(_array(t, "xavier_normal_").shape)
    return normal_(t, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def xavier_uniform_(t: T, gain: float = 1.0, rng: RandomSource = None) -> T:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (same variance
    as :func:`xavier_normal_`)."""
    fan_in, fan_out = fan_in_and_fan_out(_array(t, "xavier_uniform_").shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(
    t: T, gain: float = math.sqrt(2.0), rng: RandomSource = None, *, mode: str = "fan_in"
) -> T:
    """He et al. (2015): N(0, std**2), std = gain / sqrt(fan), gain sqrt(2) for ReLU.

    ``mode="fan_in"`` keeps the forward signal's variance, ``"fan_out"`` the backward's.
    """
    fan = _fan(_array(t, "kaiming_normal_").shape, mode, "kaiming_normal_")
    return normal_(t, gain / math.sqrt(fan), rng)


def kaiming_uniform_(
    t: T, gain: float = math.sqrt(2.0), rng: RandomSource = None, *, mode: str = "fan_in"
) -> T:
    """He uniform: U(-a, a), a = gain * sqrt(3 / fan) (same variance as the normal one)."""
    fan = _fan(_array(t, "kaiming_uniform_").shape, mode, "kaiming_uniform_")
    bound = gain * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, rng)


def _fan(shape: tuple[int, ...], mode: str, where: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
