"""Tensors made from nothing: zeros, ones, ranges and random samples.

Random factories take the library's one random-source rule (:mod:`tinygrad_edu.random`):
``rng`` is a NumPy ``Generator``, a legacy ``RandomState``, an int seed, or None (the
default generator, which ``tg.manual_seed`` seeds).

Without a ``dtype``, floating results take the default dtype
(:mod:`tinygrad_edu.default_dtype`: float64 unless ``tg.set_default_dtype`` changed
it), as PyTorch's factories do; integer ones (``arange(3)``, ``full(2, 7)``) stay int64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.default_dtype import get_default_dtype
from tinygrad_edu.random import RandomSource, as_rng
from tinygrad_edu.tensor import ArrayLike, Tensor

__all__ = ["zeros", "ones", "full", "arange", "randn", "rand", "zeros_like", "ones_like"]


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _raw(x: ArrayLike) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _or_default(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else dtype


def _is_float(*values: Any) -> bool:
    return any(isinstance(v, (float, np.floating)) for v in values)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``.

    >>> zeros(2)
    Tensor([0. 0.], shape=(2,), dtype=float64)
    """
    return Tensor(np.zeros(_shape(shape), dtype=_or_default(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``.

    >>> ones(2, dtype=np.float32)
    Tensor([1. 1.], shape=(2,), dtype=float32)
    """
    return Tensor(np.ones(_shape(shape), dtype=_or_default(dtype)), requires_grad=requires_grad)


def full(
    shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (a float fill: the default dtype).

    >>> full(2, 7.0)
    Tensor([7. 7.], shape=(2,), dtype=float64)
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None and _is_float(fill_value):
        dtype = get_default_dtype()
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values, as ``np.arange`` (with a float bound or step: the default
    dtype).

    >>> arange(3)
    Tensor([0 1 2], shape=(3,), dtype=int64)
    """
    if dtype is None and _is_float(start, stop, step):
        dtype = get_default_dtype()
    data = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(
        start, step=step, dtype=dtype
    )
    return Tensor(data, requires_grad=requires_grad)


def randn(
    *shape: Any,
    rng: RandomSource = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples. ``rng`` as everywhere in the library: a ``RandomState``
    gives the numbers of its ``randn``.

    >>> r = randn(3, rng=np.random.RandomState(0))
    >>> bool((r.data == np.random.RandomState(0).randn(3)).all())
    True
    """
    data = as_rng(rng, "randn").standard_normal(_shape(shape)).astype(_or_default(dtype),
                                                                       copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(
    *shape: Any,
    rng: RandomSource = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples on [0, 1). ``rng`` as for :func:`randn`.

    >>> bool((rand(3, rng=np.random.RandomState(1)).data
    ...       == np.random.RandomState(1).rand(3)).all())
    True
    """
    data = as_rng(rng, "rand").random(_shape(shape)).astype(_or_default(dtype), copy=False)
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.zeros_like(_raw(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.ones_like(_raw(t), dtype=dtype), requires_grad=requires_grad)
