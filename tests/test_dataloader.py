"""DataLoader: batching, shuffling, drop_last, sampling with replacement, errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import DataLoader


def _dataset(n: int) -> tuple[np.ndarray, np.ndarray]:
    # Row i of x is (i, 10 i) and t[i] = i, so any batch shows which samples it holds
    # and whether x and t stayed aligned.
    x = np.stack([np.arange(n), 10 * np.arange(n)], axis=1).astype(np.float32)
    return x, np.arange(n)


def _epoch(loader: DataLoader) -> list[np.ndarray]:
    batches = []
    for xb, tb in loader:
        np.testing.assert_array_equal(xb[:, 0], tb)  # x and t picked with the same index
        batches.append(tb)
    return batches


def test_sequential_batches() -> None:
    loader = DataLoader(_dataset(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert all(isinstance(a, np.ndarray) for b in batches for a in b)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == np.float32


def test_batch_size_one_is_the_default() -> None:
    loader = DataLoader(_dataset(3))
    assert len(loader) == 3
    assert [tb.tolist() for _, tb in loader] == [[0], [1], [2]]


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffle_covers_every_sample_once_per_epoch(drop_last: bool) -> None:
    loader = DataLoader(
        _dataset(103), batch_size=10, shuffle=True, generator=0, drop_last=drop_last
    )
    epochs = [np.concatenate(_epoch(loader)) for _ in range(3)]
    for seen in epochs:
        if drop_last:
            assert len(seen) == 100 and len(np.unique(seen)) == 100
        else:
            np.testing.assert_array_equal(np.sort(seen), np.arange(103))
        assert not np.array_equal(seen, np.arange(len(seen)))  # actually shuffled
    # A new permutation every epoch.
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])


def test_same_seed_same_order_different_seed_different_order() -> None:
    def epochs(generator: int | np.random.Generator) -> list[list[int]]:
        loader = DataLoader(_dataset(50), batch_size=7, shuffle=True, generator=generator)
        return [np.concatenate(_epoch(loader)).tolist() for _ in range(2)]

    assert epochs(3) == epochs(3)
    assert epochs(3) == epochs(np.random.default_rng(3))
    assert epochs(3) != epochs(4)


def test_unshuffled_order_ignores_the_generator() -> None:
    loader = DataLoader(_dataset(5), batch_size=2, generator=123)
    assert [tb.tolist() for _, tb in loader] == [[0, 1], [2, 3], [4]]
    assert [tb.tolist() for _, tb in loader] == [[0, 1], [2, 3], [4]]


def test_drop_last() -> None:
    loader = DataLoader(_dataset(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [tb.tolist() for _, tb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(_dataset(8), batch_size=4, drop_last=True)) == 2


def test_batch_larger_than_dataset() -> None:
    assert [tb.tolist() for _, tb in DataLoader(_dataset(3), batch_size=5)] == [[0, 1, 2]]
    loader = DataLoader(_dataset(3), batch_size=5, drop_last=True)
    assert len(loader) == 0 and list(loader) == []


def test_empty_dataset() -> None:
    loader = DataLoader((np.zeros((0, 3)), np.zeros(0)), batch_size=2, shuffle=True)
    assert len(loader) == 0 and list(loader) == []


def test_replacement_matches_the_books_sampling() -> None:
    # The book: np.random.choice(train_size, batch_size) for every iteration. With a
    # RandomState of the same seed, the loader draws exactly the same batches.
    n, batch = 60, 8
    loader = DataLoader(
        _dataset(n), batch_size=batch, replacement=True, generator=np.random.RandomState(5)
    )
    np.random.seed(5)
    expected = [np.random.choice(n, batch) for _ in range(2 * len(loader))]
    got = _epoch(loader) + _epoch(loader)
    assert len(loader) == math.ceil(n / batch) == len(got) // 2
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)


def test_replacement_draws_independent_full_batches() -> None:
    loader = DataLoader(_dataset(10), batch_size=10, replacement=True, generator=1)
    batches = [b for _ in range(20) for b in _epoch(loader)]
    assert all(b.shape == (10,) for b in batches)
    assert all(0 <= b.min() and b.max() < 10 for b in batches)
    # With replacement a batch of 10 out of 10 almost surely repeats a sample
    # (probability of a permutation: 10!/10**10 ~ 4e-4 per batch).
    assert any(len(np.unique(b)) < 10 for b in batches)
    # The last batch is full too, even when the size does not divide the dataset.
    odd = DataLoader(_dataset(11), batch_size=4, replacement=True, generator=0)
    assert [len(tb) for _, tb in odd] == [4, 4, 4]
    again = DataLoader(_dataset(10), batch_size=10, replacement=True, generator=1)
    np.testing.assert_array_equal(_epoch(again)[0], batches[0])


def test_generic_dataset_object() -> None:
    class Squares:
        def __init__(self) -> None:
            self.indices: list[np.ndarray] = []

        def __len__(self) -> int:
            return 7

        def __getitem__(self, index: np.ndarray) -> dict[str, np.ndarray]:
            self.indices.append(index)
            return {"x": np.asarray(index) ** 2}

    data = Squares()
    batches = list(DataLoader(data, batch_size=3))
    assert [b["x"].tolist() for b in batches] == [[0, 1, 4], [9, 16, 25], [36]]
    assert all(isinstance(i, np.ndarray) and i.dtype.kind == "i" for i in data.indices)


def test_plain_array_dataset() -> None:
    x = np.arange(12).reshape(6, 2)
    batches = list(DataLoader(x, batch_size=4, shuffle=True, generator=0))
    assert all(isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)[:, 0]), x[:, 0])


def test_batches_do_not_alias_the_dataset() -> None:
    x, t = _dataset(4)
    for xb, _ in DataLoader((x, t), batch_size=2):
        xb[:] = -1
    assert x.min() == 0


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_epoch_properties(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int
) -> None:
    loader = DataLoader(
        _dataset(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=seed
    )
    batches = _epoch(loader)
    assert len(batches) == len(loader)
    full, rest = divmod(n, batch_size)
    assert [len(b) for b in batches] == [batch_size] * full + (
        [rest] if rest and not drop_last else []
    )
    seen = np.concatenate(batches) if batches else np.zeros(0, int)
    assert len(np.unique(seen)) == len(seen)  # nobody twice
    if not drop_last:
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize("batch_size", [0, -3])
def test_non_positive_batch_size(batch_size: int) -> None:
    with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {batch_size}"):
        DataLoader(_dataset(4), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2.0, "4", True, None])
def test_batch_size_type(batch_size: object) -> None:
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        DataLoader(_dataset(4), batch_size=batch_size)  # type: ignore[arg-type]


def test_mismatched_lengths_are_named() -> None:
    x, t = np.zeros((5, 3)), np.zeros(4)
    with pytest.raises(
        ValueError,
        match=r"differ in length: dataset\[0\] has 5 \(shape \(5, 3\)\), "
        r"dataset\[1\] has 4 \(shape \(4,\)\)",
    ):
        DataLoader((x, t), batch_size=2)


def test_scalar_in_tuple() -> None:
    with pytest.raises(ValueError, match=r"dataset\[1\] is a scalar"):
        DataLoader((np.zeros(3), np.float32(1)))


def test_empty_tuple() -> None:
    with pytest.raises(ValueError, match="dataset tuple is empty"):
        DataLoader(())


def test_list_dataset_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"got list \(wrap it: tuple\(your_list\)"):
        DataLoader([np.zeros(3), np.zeros(3)])  # type: ignore[arg-type]


def test_object_without_len() -> None:
    with pytest.raises(TypeError, match="__len__ and __getitem__.*got object"):
        DataLoader(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("generator", [True, 1.5, "book"])
def test_bad_generator(generator: object) -> None:
    with pytest.raises(TypeError, match="generator must be a numpy Generator"):
        DataLoader(_dataset(3), generator=generator)  # type: ignore[arg-type]


def test_replacement_needs_samples() -> None:
    with pytest.raises(ValueError, match="cannot sample with replacement from an empty dataset"):
        DataLoader((np.zeros(0),), replacement=True)


def test_repr() -> None:
    text = repr(DataLoader(_dataset(9), batch_size=4, shuffle=True))
    assert text == (
        "DataLoader(len(dataset)=9, batch_size=4, shuffle=True, drop_last=False, replacement=False)"
    )


@pytest.mark.parametrize("make", [np.random.default_rng, np.random.RandomState],
                         ids=["Generator", "RandomState"])
def test_state_dict_resumes_the_batches(make: Callable[[int], Any]) -> None:
    x = np.arange(50)
    loader = DataLoader(x, batch_size=4, replacement=True, generator=make(3))
    batches = iter(loader)
    next(batches)
    state = loader.state_dict()
    assert set(state) == {"generator"} and state["generator"].dtype == np.uint8
    expected = [next(batches) for _ in range(5)]
    other = DataLoader(x, batch_size=4, replacement=True, generator=make(99))
    other.load_state_dict(state)
    again = iter(other)
    for want in expected:
        np.testing.assert_array_equal(next(again), want)


def test_load_state_dict_refuses_another_generator() -> None:
    state = DataLoader(np.arange(5), generator=np.random.RandomState(0)).state_dict()
    loader = DataLoader(np.arange(5), generator=0)
    before = loader.state_dict()["generator"]
    with pytest.raises(ValueError, match="state is of a MT19937 generator, this loader draws "
                                         "from a PCG64"):
        loader.load_state_dict(state)
    with pytest.raises(ValueError, match="not a DataLoader state"):
        loader.load_state_dict({"generator": np.frombuffer(b"{oops", np.uint8)})
    np.testing.assert_array_equal(loader.state_dict()["generator"], before)
