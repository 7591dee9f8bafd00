"""Hypothesis strategies for testing ops, yours and ours.

Property tests draw many inputs and check a law on each: forward equals a reference,
backward equals finite differences (:func:`tinygrad_edu.gradcheck`), and so on. The
strategies here draw the inputs. They are built on ``hypothesis.extra.numpy`` and share
one rule: **domains are built, not filtered**. A strategy for ``log`` draws from
``[1e-2, 10]`` directly instead of drawing anything and throwing away the negatives, so
no example is wasted and Hypothesis never gives up for lack of valid data.

Element strategies (one float at a time; pass them as ``elements=``):

* :func:`finite_floats` -- floats in ``[lo, hi]`` for a dtype, never NaN or inf;
* :func:`positive` -- ``[lo, hi]`` with ``lo > 0``, for ``log``, ``sqrt``, a ``pow`` base;
* :func:`bounded_away` -- at least ``margin`` from a point (a kink, a pole), for ``relu``,
  ``abs``, divisors.

Array and Tensor strategies:

* :func:`shapes` -- array shapes, 0-d included;
* :func:`arrays` and :func:`tensors` -- arrays (Tensors) of drawn shapes and values;
* :func:`broadcastable_tensors` -- a tuple of Tensors whose shapes broadcast together,
  with rank mismatch and 0-d operands;
* :func:`distinct_values` -- arrays whose entries are pairwise at least ``margin``
  apart, for ops that tie-break (``max``, ``min``, ``maximum``, a sort);
* :func:`axes` -- an ``axis`` argument for a reduction: None, an int (maybe negative)
  or a tuple.

This module imports Hypothesis, so ``import tinygrad_edu`` does not load it; import
``tinygrad_edu.testing`` in your tests.

>>> import numpy as np
>>> from hypothesis import given
>>> import tinygrad_edu as tg
>>> from tinygrad_edu.testing import positive, tensors
>>> @given(tensors(shape=(3,), elements=positive()))
... def test_log_gradient(x):
...     assert tg.gradcheck(tg.functional.log, x)
>>> test_log_gradient()
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # a plain install has NumPy only
    raise ImportError(
        "tinygrad_edu.testing needs Hypothesis, which is not installed; install the "
        "testing extra: pip install 'tinygrad-edu[testing]'"
    ) from exc

from tinygrad_edu.tensor import Tensor

__all__ = [
    "finite_floats",
    "positive",
    "bounded_away",
    "shapes",
    "arrays",
    "tensors",
    "broadcastable_tensors",
    "distinct_values",
    "axes",
]

Shape = tuple[int, ...]
ShapeArg = int | Shape | st.SearchStrategy[Shape] | None


# ---------------------------------------------------------------------------- elements


def _float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise InvalidArgument(f"expected a floating-point dtype, got {dt}")
    return dt


def _inward(value: float, dtype: np.dtype, up: bool) -> float:
    """``value`` rounded to ``dtype``, moved one step inwards if rounding went outwards,
    so that the bound is representable and still inside the requested interval."""
    r = dtype.type(value)
    if up and float(r) < value:
        r = np.nextafter(r, dtype.type(np.inf))
    elif not up and float(r) > value:
        r = np.nextafter(r, dtype.type(-np.inf))
    return float(r)


def finite_floats(
    lo: float = -10.0, hi: float = 10.0, dtype: Any = np.float64
) -> st.SearchStrategy[float]:
    """Finite floats in ``[lo, hi]``, exactly representable in ``dtype``.

    The bounds are rounded inwards to ``dtype`` (``0.01`` is not a float32), so every
    value drawn is inside ``[lo, hi]`` both before and after the cast. Subnormals are
    left out: they are a hardware corner, not a property of an op.

    >>> finite_floats(0.01, 1.0, np.float32)  # 0.01 rounds up to the next float32
    floats(min_value=0.010000000707805157, max_value=1.0, ...)
    """
    dt = _float_dtype(dtype)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise InvalidArgument(f"finite_floats: need finite lo <= hi, got lo={lo}, hi={hi}")
    lo_r, hi_r = _inward(lo, dt, up=True), _inward(hi, dt, up=False)
    if lo_r > hi_r:
        raise InvalidArgument(f"finite_floats: no {dt} value lies in [{lo}, {hi}]")
    return st.floats(
        lo_r, hi_r, width=8 * dt.itemsize, allow_nan=False, allow_infinity=False,
        allow_subnormal=False,
    )


def positive(
    lo: float = 1e-2, hi: float = 10.0, dtype: Any = np.float64
) -> st.SearchStrategy[float]:
    """Floats in ``[lo, hi]`` with ``lo > 0``: the domain of ``log``, ``sqrt``, a ``pow``
    base. The default keeps ``1/x`` (the derivative of ``log``) below 100.

    >>> positive().validate()
    """
    if not lo > 0:
        raise InvalidArgument(f"positive: lo must be > 0, got {lo}")
    return finite_floats(lo, hi, dtype)


def bounded_away(
    point: float = 0.0, margin: float = 0.1, bound: float = 10.0, dtype: Any = np.float64
) -> st.SearchStrategy[float]:
    """Floats at distance between ``margin`` and ``bound`` from ``point``, on either side.

    The union ``[point - bound, point - margin] U [point + margin, point + bound]`` is
    built from its two pieces, so nothing is filtered. Use it to stay off a kink
    (``relu``, ``abs`` at 0) or a pole (a divisor near 0): a central difference that
    straddles a kink measures the average of two slopes, not the derivative.

    >>> bounded_away(0.0, margin=0.5).validate()
    """
    if not 0 <= margin <= bound:
        raise InvalidArgument(f"bounded_away: need 0 <= margin <= bound, got {margin}, {bound}")
    return st.one_of(
        finite_floats(point + margin, point + bound, dtype),
        finite_floats(point - bound, point - margin, dtype),
    )


# ---------------------------------------------------------------------------- arrays


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each
    (``()``, a 0-d shape, included by default)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def _shape_strategy(
    shape: ShapeArg, min_dims: int, max_dims: int, max_side: int
) -> st.SearchStrategy[Shape]:
    if shape is None:
        return shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    if isinstance(shape, st.SearchStrategy):
        return shape
    if isinstance(shape, (int, np.integer)):
        return st.just((int(shape),))
    return st.just(tuple(int(n) for n in shape))


def arrays(
    shape: ShapeArg = None,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[Any] | None = None,
    min_dims: int = 0,
    max_dims: int = 4,
    max_side: int = 5,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype`` with finite values.

    ``shape`` is a fixed shape, an int, a strategy for shapes, or None to draw one with
    ``min_dims..max_dims`` axes of 1..``max_side`` each. ``elements`` defaults to
    :func:`finite_floats` on ``[-10, 10]`` for a float dtype.

    >>> arrays((2, 3), elements=positive()).validate()
    """
    dt = np.dtype(dtype)
    if elements is None:
        if dt.kind == "f":
            elements = finite_floats(-10.0, 10.0, dt)
        elif dt.kind == "b":
            elements = st.booleans()
        else:
            elements = st.integers(-10, 10)
    return hnp.arrays(dt, _shape_strategy(shape, min_dims, max_dims, max_side),
                      elements=elements)


def tensors(
    shape: ShapeArg = None,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[Any] | None = None,
    min_dims: int = 0,
    max_dims: int = 4,
    max_side: int = 5,
    requires_grad: bool = True,
) -> st.SearchStrategy[Tensor]:
    """Tensors wrapping :func:`arrays` (same arguments), leaves with ``requires_grad``.

    >>> tensors((3,), dtype=np.float32, elements=positive(dtype=np.float32)).validate()
    """
    return arrays(shape, dtype, elements, min_dims, max_dims, max_side).map(
        lambda a: Tensor(a, requires_grad=requires_grad)
    )


def broadcastable_tensors(
    num_shapes: int = 2,
    dtype: Any = np.float64,
    elements: st.SearchStrategy[Any] | None = None,
    min_dims: int = 0,
    max_dims: int = 4,
    max_side: int = 5,
    requires_grad: bool = True,
) -> st.SearchStrategy[tuple[Tensor, ...]]:
    """``num_shapes`` Tensors whose shapes broadcast together.

    Shapes come from ``hypothesis.extra.numpy.mutually_broadcastable_shapes``, so ranks
    differ (``(2, 3)`` with ``(3,)``), size-1 axes stretch (``(4, 1)`` with ``(1, 5)``)
    and 0-d operands appear. Each tensor gets its own values.

    >>> broadcastable_tensors(3, dtype=np.float32).validate()
    """
    shape_sets = hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    )

    @st.composite
    def draw_tensors(draw: st.DrawFn) -> tuple[Tensor, ...]:
        drawn = draw(shape_sets)
        return tuple(
            Tensor(draw(arrays(s, dtype, elements)), requires_grad=requires_grad)
            for s in drawn.input_shapes
        )

    return draw_tensors()


def distinct_values(
    shape: ShapeArg = None,
    lo: float = -10.0,
    hi: float = 10.0,
    margin: float = 0.1,
    dtype: Any = np.float64,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays in ``[lo, hi]`` whose entries are pairwise at least ``margin`` apart.

    Built, not filtered: the sorted values are ``lo + s0``, then each next one ``margin``
    plus a drawn slack further on, with the slacks scaled to fit in ``[lo, hi]``; the
    values are then put in a drawn order. Ties never occur, so the gradient of ``max``,
    ``min``, ``maximum`` has one winner and finite differences with a step far below
    ``margin`` cannot flip it. Shapes whose size cannot fit (``(size - 1) * margin >
    hi - lo``) are rejected when the strategy is made, not while drawing.

    >>> distinct_values((2, 3), margin=0.5).validate()
    """
    dt = _float_dtype(dtype)
    if not lo < hi or margin <= 0:
        raise InvalidArgument(f"distinct_values: need lo < hi and margin > 0, got "
                              f"lo={lo}, hi={hi}, margin={margin}")
    capacity = int((hi - lo) // margin) + 1
    if shape is None or isinstance(shape, st.SearchStrategy):
        largest = max_side ** max_dims if shape is None else None
    else:
        largest = math.prod((shape,) if isinstance(shape, int) else shape)
    if largest is not None and largest > capacity:
        raise InvalidArgument(
            f"distinct_values: up to {largest} values {margin} apart do not fit in "
            f"[{lo}, {hi}] (room for {capacity}); lower max_side/max_dims or margin"
        )
    shape_strategy = _shape_strategy(shape, min_dims, max_dims, max_side)
    # The gaps are widened by a few units in the last place, so that rounding to dtype
    # (and the cumulative sum) can never pull two values closer than ``margin``.
    pad = 8 * float(np.finfo(dt).eps) * max(abs(lo), abs(hi), 1.0)

    @st.composite
    def draw_distinct(draw: st.DrawFn) -> np.ndarray:
        shp = draw(shape_strategy)
        n = math.prod(shp)
        gap = margin + pad
        if n > 1 and (n - 1) * gap > hi - lo:
            raise InvalidArgument(
                f"distinct_values: {n} values {margin} apart do not fit in [{lo}, {hi}]"
            )
        slack_total = (hi - lo) - (n - 1) * gap - 2 * pad
        weights = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n + 1,
                                         max_size=n + 1)))
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(n + 1, 1.0 / (n + 1))
        slack = weights[:n] * slack_total
        steps = np.concatenate([[lo + pad + slack[0]], gap + slack[1:]])
        values = np.minimum(np.cumsum(steps), hi)
        order = draw(st.permutations(range(n)))
        return values[np.array(order, dtype=np.intp)].astype(dt).reshape(shp)

    return draw_distinct()


def axes(ndim: int, allow_none: bool = True) -> st.SearchStrategy[Any]:
    """An ``axis`` argument for a reduction over an ``ndim``-d array: None (all axes),
    one int (maybe negative), or a tuple of distinct axes (maybe negative, maybe empty).

    >>> axes(3).validate()
    """
    choices: list[st.SearchStrategy[Any]] = []
    if allow_none:
        choices.append(st.none())
    if ndim > 0:
        choices.append(st.integers(-ndim, ndim - 1))

        @st.composite
        def axis_tuple(draw: st.DrawFn) -> tuple[int, ...]:
            picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
            return tuple(ax - ndim if draw(st.booleans()) else ax for ax in picked)

        choices.append(axis_tuple())
    else:
        choices.append(st.just(()))
    return st.one_of(choices)
