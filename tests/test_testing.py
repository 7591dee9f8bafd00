"""The public strategies in tinygrad_edu.testing draw what they promise, and cover the
corners they promise (0-d, rank mismatch, negative axes), without filtering."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, NoSuchExample

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.testing import (
    arrays,
    axes,
    bounded_away,
    broadcastable_tensors,
    distinct_values,
    finite_floats,
    positive,
    shapes,
    tensors,
)

DTYPES = [np.float64, np.float32]


def test_import_tinygrad_edu_does_not_import_hypothesis() -> None:
    code = ("import sys, tinygrad_edu; assert 'hypothesis' not in sys.modules; "
            "import tinygrad_edu.testing; assert 'hypothesis' in sys.modules; "
            "assert tinygrad_edu.testing.tensors is not None")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert tg.testing.arrays is arrays  # the lazy attribute


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_finite_floats_are_inside_and_representable(dtype: type, data: st.DataObject) -> None:
    lo, hi = -0.3, 0.7  # neither is a float32
    x = data.draw(finite_floats(lo, hi, dtype))
    assert lo <= x <= hi and np.isfinite(x)
    assert float(dtype(x)) == x


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_positive(dtype: type, data: st.DataObject) -> None:
    x = data.draw(positive(dtype=dtype))
    assert 1e-2 <= x <= 10.0 and float(dtype(x)) == x
    y = data.draw(positive(0.5, 2.0, dtype))
    assert 0.5 <= y <= 2.0


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_bounded_away(dtype: type, data: st.DataObject) -> None:
    point = data.draw(st.sampled_from([0.0, 1.5, -2.0]))
    x = data.draw(bounded_away(point, margin=0.25, bound=3.0, dtype=dtype))
    assert 0.25 <= abs(x - point) <= 3.0


def test_bounded_away_draws_both_sides() -> None:
    assert find(bounded_away(), lambda x: x < 0) < -0.1 + 1e-12
    assert find(bounded_away(), lambda x: x > 0) >= 0.1


@pytest.mark.parametrize(("strategy", "message"), [
    (lambda: positive(0.0), "lo must be > 0"),
    (lambda: finite_floats(2.0, 1.0), "need finite lo <= hi"),
    (lambda: finite_floats(0.0, float("inf")), "need finite lo <= hi"),
    (lambda: finite_floats(0.1, 0.1, np.float32), "no float32 value lies in"),
    (lambda: bounded_away(margin=2.0, bound=1.0), "need 0 <= margin <= bound"),
    (lambda: finite_floats(dtype=np.int64), "expected a floating-point dtype"),
    (lambda: distinct_values((10, 10), margin=0.5), "100 values 0.5 apart do not fit"),
])
def test_invalid_arguments_are_refused_when_the_strategy_is_made(
    strategy: object, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        strategy()  # type: ignore[operator]


@given(shapes(min_dims=1, max_dims=3, max_side=2))
def test_shapes(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 3 and all(1 <= n <= 2 for n in shape)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_arrays(dtype: type, data: st.DataObject) -> None:
    x = data.draw(arrays(dtype=dtype, max_dims=3, max_side=3))
    assert isinstance(x, np.ndarray) and x.dtype == dtype
    assert x.ndim <= 3 and all(1 <= n <= 3 for n in x.shape)
    assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 10)
    assert data.draw(arrays(4, dtype)).shape == (4,)
    assert data.draw(arrays((2, 3), dtype, elements=positive(dtype=dtype))).min() >= 1e-2
    assert data.draw(arrays((2,), np.int64)).dtype == np.int64
    assert data.draw(arrays((2,), np.bool_)).dtype == np.bool_


def test_arrays_include_0d() -> None:
    assert find(arrays(), lambda x: x.ndim == 0).shape == ()


@pytest.mark.parametrize("requires_grad", [True, False])
@given(data=st.data())
def test_tensors(requires_grad: bool, data: st.DataObject) -> None:
    t = data.draw(tensors(dtype=np.float32, requires_grad=requires_grad))
    assert isinstance(t, Tensor) and t.dtype == np.float32
    assert t.requires_grad is requires_grad and t.is_leaf


@given(data=st.data())
def test_broadcastable_tensors_broadcast(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 4))
    ts = data.draw(broadcastable_tensors(n, dtype=np.float32, max_dims=3, max_side=3))
    assert len(ts) == n and all(isinstance(t, Tensor) and t.requires_grad for t in ts)
    assert all(t.dtype == np.float32 for t in ts)
    np.broadcast_shapes(*(t.shape for t in ts))  # raises if they do not broadcast


def test_broadcastable_tensors_cover_rank_mismatch_0d_and_stretching() -> None:
    pairs = broadcastable_tensors(2)
    assert find(pairs, lambda ts: ts[0].ndim != ts[1].ndim)
    assert find(pairs, lambda ts: ts[0].ndim == 0 or ts[1].ndim == 0)
    # A size-1 axis stretched against a longer one, on the same axis.
    assert find(pairs, lambda ts: any(
        {a, b} - {1} and 1 in (a, b) for a, b in zip(ts[0].shape[::-1], ts[1].shape[::-1])))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_distinct_values_are_pairwise_separated(dtype: type, data: st.DataObject) -> None:
    margin = data.draw(st.sampled_from([0.1, 0.5, 1.0]))
    x = data.draw(distinct_values(lo=-5.0, hi=5.0, margin=margin, dtype=dtype, max_dims=2,
                                  max_side=3))
    assert x.dtype == dtype and x.ndim <= 2
    assert np.all((-5.0 <= x) & (x <= 5.0))
    flat = np.sort(x.astype(np.float64).ravel())
    assert np.all(np.diff(flat) >= margin), flat


@given(distinct_values((40,), lo=0.0, hi=4.0, margin=0.1))
def test_distinct_values_at_full_capacity(x: np.ndarray) -> None:
    # 40 values 0.1 apart in a width of 4: nearly no slack, still no two closer.
    flat = np.sort(x)
    assert np.all(np.diff(flat) >= 0.1) and flat[0] >= 0.0 and flat[-1] <= 4.0


def test_distinct_values_are_not_always_sorted() -> None:
    x = find(distinct_values((5,)), lambda v: not np.all(np.diff(v) > 0))
    assert len(set(x.tolist())) == 5


@given(data=st.data())
def test_axes_are_valid_for_numpy(data: st.DataObject) -> None:
    shape = data.draw(shapes(max_dims=4, max_side=3))
    axis = data.draw(axes(len(shape)))
    x = np.ones(shape)
    np.sum(x, axis=axis)  # raises on an invalid or repeated axis
    if isinstance(axis, tuple):
        assert len({a % len(shape) for a in axis}) == len(axis)


def test_axes_cover_none_negative_and_tuples() -> None:
    assert find(axes(3), lambda a: a is None) is None
    assert find(axes(3), lambda a: isinstance(a, int) and a < 0) < 0
    assert len(find(axes(3), lambda a: isinstance(a, tuple) and len(a) >= 2)) >= 2
    assert find(axes(3), lambda a: isinstance(a, tuple) and any(x < 0 for x in a))
    assert find(axes(0, allow_none=False), lambda a: True) == ()
    with pytest.raises(NoSuchExample):
        find(axes(2, allow_none=False), lambda a: a is None)


def test_strategies_compose_with_gradcheck() -> None:
    # The pattern docs/testing.md recommends: build the domain, then check the op.
    @settings(max_examples=10)
    @given(tensors(elements=positive(), max_dims=2, max_side=3))
    def check_log(x: Tensor) -> None:
        assert tg.gradcheck(tg.functional.log, x)

    check_log()

    # And a domain that is too wide shows: sqrt of a negative number is NaN, which
    # gradcheck reports instead of passing.
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = find(tensors(elements=finite_floats(-10, 10), max_dims=1, max_side=3),
                   lambda x: not tg.gradcheck(tg.functional.sqrt, x, raise_exception=False))
    assert np.any(bad.data <= 0)
