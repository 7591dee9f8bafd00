"""One rule for every ``rng=`` / ``generator=`` argument of the library, and the
default random source behind ``rng=None``.

Weight initialisation, layers with randomness (Dropout) and the DataLoader all accept
the same random sources: a NumPy ``Generator``, a legacy ``RandomState``, an int seed,
or None for the package's default generator.

The default generator is what ``torch.manual_seed`` seeds in PyTorch: one generator that
every ``rng=None`` in the package draws from (factories, ``nn.init``, layers, Dropout,
DataLoader, models). It starts from fresh OS entropy, so without :func:`manual_seed`
each run differs; ``manual_seed(s)`` reseeds it in place, so everything drawn from then
on (also by a Dropout or a DataLoader made before the call) repeats from run to run. A
forked child process that was not seeded reseeds from fresh entropy, so workers never
draw the same numbers. ``RandomState`` is accepted because *Deep Learning from
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

import os

import numpy as np

__all__ = ["RandomSource", "Rng", "as_rng", "manual_seed", "default_generator"]

#: What ``rng=`` arguments accept.
RandomSource = np.random.Generator | np.random.RandomState | int | None
#: What :func:`as_rng` returns: both have ``standard_normal``, ``uniform``, ``random``,
#: ``choice`` and ``permutation``, which is all the library draws with.
Rng = np.random.Generator | np.random.RandomState


_DEFAULT = np.random.Generator(np.random.PCG64())  # fresh OS entropy
_seeded = False


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the default generator (that of every ``rng=None``), as ``torch.manual_seed``:
    everything the package draws without an explicit ``rng`` repeats from then on.
    Returns the default generator.

    >>> import tinygrad_edu as tg
    >>> _ = tg.manual_seed(0)
    >>> first = tg.randn(3)
    >>> _ = tg.manual_seed(0)
    >>> bool((tg.randn(3).data == first.data).all())
    True
    """
    global _seeded
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    # In place: holders of the default generator (a Dropout, a DataLoader) see the new random seed.
    _DEFAULT.bit_generator.state = np.random.PCG64(int(seed)).state
    _seeded = True
    return _DEFAULT


def default_generator() -> np.random.Generator:
    """The generator every ``rng=None`` draws from (seeded by :func:`manual_seed`)."""
    return _DEFAULT


def _reseed_unseeded_child() -> None:
    if not _seeded:
        _DEFAULT.bit_generator.state = np.random.PCG64().state


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_unseeded_child)


def as_rng(rng: RandomSource, where: str, name: str = "rng") -> Rng:
    """A generator to draw from: ``rng`` itself if it is one, a new ``Generator`` seeded
    with ``rng`` for an int, or the default generator for None.

    ``where`` and ``name`` (the caller and its argument) go into the error message.
    A bool is refused although it is an int: ``True`` there is far more likely a
    flag such as ``shuffle`` in the wrong place than a seed.
    """
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if rng is None:
        return _DEFAULT
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{where}: {name} must be a numpy Generator, a RandomState, an int seed or None, "
        f"got {type(rng).__name__}"
    )
