"""One rule for every ``rng=`` / ``generator=`` argument of the library.

Weight initialisation, layers with randomness (Dropout) and the DataLoader all accept
the same random sources: a NumPy ``Generator``, a legacy ``RandomState``, an int seed,
or None for fresh entropy. ``RandomState`` is accepted because *Deep Learning from
Scratch* draws everything from the legacy global ``np.random``: with
``RandomState(seed)`` a ``TwoLayerNet`` gets the book's weights and a ``DataLoader``
the book's batches, number for number.

This module imports nothing from the library, so any layer may use it.

>>> as_rng(0, "example").integers(10, size=3)
array([8, 6, 5])
>>> as_rng(True, "Dropout")
Traceback (most recent call last):
    ...
TypeError: Dropout: rng must be a numpy Generator, a RandomState, an int seed or None, got bool
"""

from __future__ import annotations

import numpy as np

__all__ = ["RandomSource", "Rng", "as_rng"]

#: What ``rng=`` arguments accept.
RandomSource = np.random.Generator | np.random.RandomState | int | None
#: What :func:`as_rng` returns: both have ``standard_normal``, ``uniform``, ``random``,
#: ``choice`` and ``permutation``, which is all the library draws with.
Rng = np.random.Generator | np.random.RandomState


def as_rng(rng: RandomSource, where: str, name: str = "rng") -> Rng:
    """A generator to draw from: ``rng`` itself if it is one, else a new ``Generator``
    seeded with ``rng`` (an int, or None for fresh entropy).

    ``where`` and ``name`` (the caller and its argument) go into the error message.
    A bool is refused although it is an int: ``True`` there is far more likely a
    flag such as ``shuffle`` in the wrong place than a seed.
    """
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{where}: {name} must be a numpy Generator, a RandomState, an int seed or None, "
        f"got {type(rng).__name__}"
    )
