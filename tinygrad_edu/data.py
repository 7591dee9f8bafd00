"""Mini-batches: :class:`DataLoader` cuts a data set into batches, in order or shuffled.

The training loop in *Deep Learning from Scratch* draws every mini-batch independently
with ``np.random.choice(train_size, batch_size)``, so an "epoch" there is a count of
iterations rather than a pass over the data. ``DataLoader(..., replacement=True)`` keeps
that recipe; the default walks the data once per epoch, the way PyTorch's loader does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from tinygrad_edu.random import RandomSource, as_rng

__all__ = ["DataLoader"]


class IndexableDataset(Protocol):
    """Anything with a length that returns a batch for an integer index array."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: np.ndarray) -> Any: ...


class DataLoader:
    """Iterate over a data set in mini-batches of NumPy arrays.

    Args:
        dataset: a tuple of arrays with the same first dimension, e.g. ``(x, t)``, or
            any object with ``__len__`` and ``__getitem__`` accepting an integer index
            array (a single ndarray qualifies).
        batch_size: samples per batch (> 0).
        shuffle: visit the samples in a new random order each epoch.
        drop_last: skip the final batch when it would be smaller than ``batch_size``.
        generator: a ``np.random.Generator``, a ``np.random.RandomState`` or an int
            seed; the same seed gives the same sequence of epochs.
        replacement: draw each batch independently, ``batch_size`` indices uniformly
            with replacement, like ``np.random.choice(len(dataset), batch_size)``;
            every batch is full, and an epoch is ``len(loader)`` batches.

    ``len(loader)`` is ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.
    Iterating yields a tuple of arrays per batch for a tuple data set, otherwise
    whatever ``dataset[indices]`` returns. Each ``iter()`` starts a new epoch.

    Example:
        >>> x, t = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [tb.tolist() for _, tb in DataLoader((x, t), batch_size=2)]
        [[0, 1], [2, 3], [4]]
        >>> len(DataLoader((x, t), batch_size=2, drop_last=True))
        2
    """

    def __init__(
        self,
        dataset: tuple[Any, ...] | IndexableDataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: RandomSource = None,
        replacement: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(
                f"DataLoader: batch_size must be a positive int, got {type(batch_size).__name__}"
            )
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")

        self._arrays: tuple[np.ndarray, ...] | None
        if isinstance(dataset, tuple):
            self._arrays = self._check_arrays(dataset)
            self._length = len(self._arrays[0])
        elif (
            hasattr(dataset, "__len__")
            and hasattr(dataset, "__getitem__")
            and not isinstance(dataset, (list, dict, str, bytes))
        ):
            # A list cannot be indexed by an index array; saying so here beats an obscure
            # TypeError in the middle of the first epoch.
            self._arrays = None
            self._length = len(dataset)
        else:
            raise TypeError(
                "DataLoader: dataset must be a tuple of arrays such as (x, t), or an object "
                "with __len__ and __getitem__ accepting an integer index array; got "
                f"{type(dataset).__name__}"
                + (
                    " (wrap it: tuple(your_list) or np.asarray(your_list))"
                    if isinstance(dataset, list)
                    else ""
                )
            )
        if replacement and self._length == 0:
            raise ValueError("DataLoader: cannot sample with replacement from an empty dataset")

        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.replacement = bool(replacement)
        # RandomState is accepted so that a seeded run of the book's script, which uses
        # the legacy global np.random.choice, can be reproduced batch for batch.
        self._rng = as_rng(generator, "DataLoader", "generator")

    @staticmethod
    def _check_arrays(dataset: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
        if not dataset:
            raise ValueError("DataLoader: the dataset tuple is empty; pass e.g. (x, t)")
        arrays = tuple(np.asarray(a) for a in dataset)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"DataLoader: dataset[{i}] is a scalar; every array needs a first "
                    "axis of samples"
                )
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) > 1:
            described = ", ".join(
                f"dataset[{i}] has {n} (shape {a.shape})"
                for i, (n, a) in enumerate(zip(lengths, arrays, strict=True))
            )
            raise ValueError(f"DataLoader: arrays in the dataset differ in length: {described}")
        return arrays

    def __len__(self) -> int:
        if self.drop_last:
            return self._length // self.batch_size
        return math.ceil(self._length / self.batch_size)

    def _batches(self) -> Iterator[np.ndarray]:
        """Index arrays of one epoch."""
        n, size = self._length, self.batch_size
        if self.replacement:
            for _ in range(len(self)):
                yield np.asarray(self._rng.choice(n, size), dtype=np.intp)
            return
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * size
        for start in range(0, stop, size):
            yield order[start : start + size]

    def _take(self, index: np.ndarray) -> Any:
        if self._arrays is not None:
            return tuple(a[index] for a in self._arrays)
        return self.dataset[index]  # type: ignore[index]

    def __iter__(self) -> Iterator[Any]:
        for index in self._batches():
            yield self._take(index)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The state of the random source, so that a stopped run can go on drawing the
        batches it would have drawn: ``{"generator": ...}``, the generator's state as
        UTF-8 JSON in a uint8 array (so that ``serialization.save`` stores it).

        Exact for ``replacement=True``, where every batch is drawn on its own; a shuffled
        epoch's order is drawn when the epoch starts, so there save between epochs.

        >>> loader = DataLoader(np.arange(10), batch_size=3, replacement=True, generator=0)
        >>> state = loader.state_dict()
        >>> first = next(iter(loader))
        >>> loader.load_state_dict(state)
        >>> bool((next(iter(loader)) == first).all())
        True
        """
        text = json.dumps(self._generator_state(), default=lambda a: np.asarray(a).tolist())
        return {"generator": np.frombuffer(text.encode(), dtype=np.uint8).copy()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, into a loader whose generator is
        of the same kind; nothing changes on error."""
        try:
            state = json.loads(bytes(np.asarray(state_dict["generator"], dtype=np.uint8)))
            kind = state["bit_generator"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: not a DataLoader state ({exc})") from exc
        ours = self._generator_state()["bit_generator"]
        if kind != ours:
            raise ValueError(
                f"DataLoader.load_state_dict: the state is of a {kind} generator, this "
                f"loader draws from a {ours}"
            )
        try:
            if isinstance(self._rng, np.random.RandomState):
                self._rng.set_state(state)
            else:
                self._rng.bit_generator.state = state
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: a damaged state ({exc})") from exc

    def _generator_state(self) -> dict[str, Any]:
        if isinstance(self._rng, np.random.RandomState):
            return self._rng.get_state(legacy=False)  # type: ignore[return-value]
        return self._rng.bit_generator.state

    def __repr__(self) -> str:
        return (
            f"DataLoader(len(dataset)={self._length}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"replacement={self.replacement})"
        )
