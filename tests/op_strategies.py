"""Hypothesis strategies and NumPy references for the op table (tests/op_table.py).

For each op: how to draw valid inputs (a :class:`Sample`), with domains *built* rather
than filtered (log on [1e-2, 10], divisors away from 0, kinks avoided, ties impossible),
and, where NumPy has no one-call equivalent, a reference written on float64 arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu.functional as F
from tinygrad_edu import Tensor
from tinygrad_edu.testing import (
    arrays,
    axes,
    bounded_away,
    distinct_values,
    finite_floats,
    positive,
    shapes,
)


@dataclass(frozen=True)
class Sample:
    """One drawn input: ``args`` become Tensors, ``kwargs`` are passed as they are, and
    ``diff`` lists the positions of ``args`` that require grad."""

    args: tuple[np.ndarray, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    diff: tuple[int, ...] | None = None

    def differentiable(self) -> tuple[int, ...]:
        """Positions of the differentiable args (all float args unless ``diff`` says)."""
        if self.diff is not None:
            return self.diff
        return tuple(i for i, a in enumerate(self.args) if a.dtype.kind == "f")

    def tensors(self, requires_grad: bool = True) -> list[Tensor]:
        """Fresh leaf Tensors on copies of the args (a test can mutate nothing shared)."""
        diff = self.differentiable()
        return [
            Tensor(a.copy(), requires_grad=requires_grad and i in diff)
            for i, a in enumerate(self.args)
        ]


@dataclass(frozen=True)
class Domain:
    """What to draw: the float dtype and how big arrays may get."""

    dtype: Any = np.float64
    max_dims: int = 3
    max_side: int = 4


@dataclass(frozen=True)
class OpSpec:
    """One row of the table.

    ``methods`` call the same op through the Tensor API (a method, an operator, a
    reflected operator); each must agree with ``fn``. ``view`` marks ops whose output
    may share memory with an input (reshape, basic indexing, broadcast_to), as NumPy's
    and PyTorch's do; every other op must return fresh memory. ``binary`` marks
    elementwise broadcasting ops of two operands ``fn(a, b)``.
    """

    name: str
    fn: Callable[..., Tensor]
    ref: Callable[..., np.ndarray]
    samples: Callable[[Domain], st.SearchStrategy[Sample]]
    twice: bool = True
    methods: tuple[Callable[..., Tensor], ...] = ()
    view: bool = False
    binary: bool = False
    forward_rtol: float = 1e-10


# ---------------------------------------------------------------------------- strategies


def _shape(d: Domain, min_dims: int = 0) -> st.SearchStrategy[tuple[int, ...]]:
    return shapes(min_dims=min_dims, max_dims=max(d.max_dims, min_dims), max_side=d.max_side)


def unary(
    elements: Callable[[Domain], st.SearchStrategy[float]] | None = None, min_dims: int = 0
) -> Callable[[Domain], st.SearchStrategy[Sample]]:
    def samples(d: Domain) -> st.SearchStrategy[Sample]:
        el = elements(d) if elements else None
        return arrays(_shape(d, min_dims), d.dtype, el).map(lambda x: Sample((x,)))

    return samples


def _broadcast_pair(
    d: Domain,
    el_a: st.SearchStrategy[float] | None = None,
    el_b: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    @st.composite
    def draw_pair(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, max_dims=d.max_dims + 1, max_side=d.max_side)).input_shapes
        return draw(arrays(sa, d.dtype, el_a)), draw(arrays(sb, d.dtype, el_b))

    return draw_pair()


def binary_samples(
    el_a: Callable[[Domain], st.SearchStrategy[float]] | None = None,
    el_b: Callable[[Domain], st.SearchStrategy[float]] | None = None,
) -> Callable[[Domain], st.SearchStrategy[Sample]]:
    def samples(d: Domain) -> st.SearchStrategy[Sample]:
        pair = _broadcast_pair(d, el_a(d) if el_a else None, el_b(d) if el_b else None)
        return pair.map(lambda ab: Sample(ab))

    return samples


def distinct_pair(d: Domain) -> st.SearchStrategy[Sample]:
    """Two broadcastable operands with all entries (of both) pairwise 0.1 apart, so
    maximum/minimum never tie, even after broadcasting."""

    @st.composite
    def draw_pair(draw: st.DrawFn) -> Sample:
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, max_dims=d.max_dims, max_side=min(d.max_side, 3))).input_shapes
        na, nb = math.prod(sa), math.prod(sb)
        values = draw(distinct_values((na + nb,), dtype=d.dtype, margin=0.1))
        return Sample((values[:na].reshape(sa), values[na:].reshape(sb)))

    return draw_pair()


def pow_samples(d: Domain) -> st.SearchStrategy[Sample]:
    base = positive(0.1, 5.0, d.dtype)
    exponent = finite_floats(-2.0, 2.0, d.dtype)

    @st.composite
    def tensor_tensor(draw: st.DrawFn) -> Sample:
        a, b = draw(_broadcast_pair(d, base, exponent))
        return Sample((a, b))

    @st.composite
    def tensor_number(draw: st.DrawFn) -> Sample:
        p = draw(st.sampled_from([2, 3, 0.5, -1, 1.5, -0.5, 1, 0]) | finite_floats(-2, 2))
        x = draw(arrays(_shape(d), d.dtype, base))
        return Sample((x,), {"exponent": p})

    @st.composite
    def any_base_integer_power(draw: st.DrawFn) -> Sample:
        # A negative base is fine for an integer power.
        x = draw(arrays(_shape(d), d.dtype, finite_floats(-3.0, 3.0, d.dtype)))
        return Sample((x,), {"exponent": draw(st.sampled_from([2, 3]))})

    @st.composite
    def number_tensor(draw: st.DrawFn) -> Sample:
        b = draw(arrays(_shape(d), d.dtype, exponent))
        return Sample((b,), {"base": draw(positive(0.1, 5.0))})

    return st.one_of(tensor_tensor(), tensor_number(), any_base_integer_power(),
                     number_tensor())


def pow_with_constants(*args: Any, exponent: float | None = None,
                       base: float | None = None) -> Tensor:
    if base is not None:
        return F.pow(base, args[0])
    return F.pow(args[0], exponent if exponent is not None else args[1])


def pow_ref(*args: np.ndarray, exponent: float | None = None,
            base: float | None = None) -> np.ndarray:
    if base is not None:
        return np.power(base, args[0])
    return np.power(args[0], exponent if exponent is not None else args[1])


def pow_as_method(*args: Tensor, exponent: float | None = None,
                  base: float | None = None) -> Tensor:
    if base is not None:
        return base ** args[0]
    return args[0] ** (exponent if exponent is not None else args[1])


def matmul_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_mm(draw: st.DrawFn) -> Sample:
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=max(d.max_dims - 1, 0),
            max_side=d.max_side)).input_shapes
        return Sample((draw(arrays(sa, d.dtype)), draw(arrays(sb, d.dtype))))

    return draw_mm()


def linear_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_linear(draw: st.DrawFn) -> Sample:
        side = st.integers(1, d.max_side)
        n_in, n_out = draw(side), draw(side)
        # (N, in) is the fused path; 1-D and batched x fall back to matmul + add.
        lead = tuple(draw(side) for _ in range(draw(st.sampled_from([1, 0, 2]))))
        x = draw(arrays(lead + (n_in,), d.dtype))
        w = draw(arrays((n_in, n_out), d.dtype))
        if draw(st.booleans()):
            return Sample((x, w, draw(arrays((n_out,), d.dtype))))
        return Sample((x, w))

    return draw_linear()


def linear_ref(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    out = x @ w
    return out if b is None else out + b


def where_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_where(draw: st.DrawFn) -> Sample:
        sc, sa, sb = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=3, max_dims=d.max_dims, max_side=d.max_side)).input_shapes
        cond = draw(arrays(sc, np.bool_))
        return Sample((cond, draw(arrays(sa, d.dtype)), draw(arrays(sb, d.dtype))))

    return draw_where()


def clip_samples(d: Domain) -> st.SearchStrategy[Sample]:
    """Bounds drawn first, then values at least 0.1 from both, on all three pieces."""

    @st.composite
    def draw_clip(draw: st.DrawFn) -> Sample:
        lo = draw(st.none() | st.floats(-3.0, 0.0))
        hi = draw(st.floats(0.5, 3.0)) if lo is None else draw(st.none() | st.floats(0.5, 3.0))
        m, fl = 0.1, d.dtype
        if lo is None:
            el = bounded_away(hi, m, 10.0 - 3.0, fl)
        elif hi is None:
            el = bounded_away(lo, m, 10.0 - 3.0, fl)
        else:
            el = st.one_of(finite_floats(-10.0, lo - m, fl), finite_floats(lo + m, hi - m, fl),
                           finite_floats(hi + m, 10.0, fl))
        x = draw(arrays(_shape(d), d.dtype, el))
        return Sample((x,), {"min": lo, "max": hi})

    return draw_clip()


def leaky_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_leaky(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d), d.dtype, bounded_away(0.0, 0.1, 10.0, d.dtype)))
        return Sample((x,), {"negative_slope": draw(st.sampled_from([0.01, 0.2])
                                                   | st.floats(0.0, 1.0))})

    return draw_leaky()


def reduce_samples(
    elements: Callable[[Domain], st.SearchStrategy[np.ndarray]] | None = None,
    ddof: bool = False,
) -> Callable[[Domain], st.SearchStrategy[Sample]]:
    @st.composite
    def draw_reduce(draw: st.DrawFn, d: Domain) -> Sample:
        x = draw(elements(d) if elements else arrays(_shape(d), d.dtype))
        axis = draw(axes(x.ndim))
        kwargs: dict[str, Any] = {"axis": axis, "keepdims": draw(st.booleans())}
        if ddof:
            picked = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int)
                                                         else axis)
            count = math.prod(x.shape[a] for a in picked)
            kwargs["ddof"] = draw(st.integers(0, 1)) if count > 1 else 0
        return Sample((x,), kwargs)

    return lambda d: draw_reduce(d)


def distinct_array(d: Domain) -> st.SearchStrategy[np.ndarray]:
    return distinct_values(_shape(d), dtype=d.dtype, max_dims=d.max_dims,
                           max_side=d.max_side)


def _factor_shape(draw: st.DrawFn, size: int) -> tuple[int, ...]:
    """A random shape with ``size`` elements: the prime factors of size dealt into a
    drawn number of axes, with some extra size-1 axes."""
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    ndim = draw(st.integers(0 if size == 1 else 1, 4))
    dims = [1] * ndim
    for f in factors:
        dims[draw(st.integers(0, ndim - 1))] *= f
    return tuple(dims)


def reshape_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_reshape(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d), d.dtype))
        target: tuple[int, ...] = _factor_shape(draw, x.size)
        if target and draw(st.booleans()):  # one axis inferred
            k = draw(st.integers(0, len(target) - 1))
            target = target[:k] + (-1,) + target[k + 1:]
        return Sample((x,), {"shape": target})

    return draw_reshape()


def transpose_samples(required: bool) -> Callable[[Domain], st.SearchStrategy[Sample]]:
    @st.composite
    def draw_transpose(draw: st.DrawFn, d: Domain) -> Sample:
        x = draw(arrays(_shape(d), d.dtype))
        perm: Any = None
        if required or draw(st.booleans()):
            perm = [p - x.ndim if draw(st.booleans()) else p
                    for p in draw(st.permutations(range(x.ndim)))]
            perm = tuple(perm)
        return Sample((x,), {"axes": perm})

    return lambda d: draw_transpose(d)


def swapaxes_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_swap(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d, 1), d.dtype))
        ax = st.integers(-x.ndim, x.ndim - 1)
        return Sample((x,), {"axis1": draw(ax), "axis2": draw(ax)})

    return draw_swap()


def flatten_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_flatten(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d), d.dtype))
        if x.ndim == 0:
            return Sample((x,), {"start_dim": 0, "end_dim": -1})
        start = draw(st.integers(0, x.ndim - 1))
        end = draw(st.integers(start, x.ndim - 1))
        if draw(st.booleans()):
            start -= x.ndim
        if draw(st.booleans()):
            end -= x.ndim
        return Sample((x,), {"start_dim": start, "end_dim": end})

    return draw_flatten()


def flatten_ref(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def squeeze_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_squeeze(draw: st.DrawFn) -> Sample:
        base = list(draw(_shape(d)))
        for _ in range(draw(st.integers(0, 2))):  # put in some size-1 axes to squeeze
            base.insert(draw(st.integers(0, len(base))), 1)
        x = draw(arrays(tuple(base), d.dtype))
        ones = [i for i, n in enumerate(x.shape) if n == 1]
        axis: Any = None
        if ones and draw(st.booleans()):
            picked = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True))
            picked = [p - x.ndim if draw(st.booleans()) else p for p in picked]
            axis = picked[0] if len(picked) == 1 and draw(st.booleans()) else tuple(picked)
        return Sample((x,), {"axis": axis})

    return draw_squeeze()


def unsqueeze_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_unsqueeze(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d), d.dtype))
        return Sample((x,), {"axis": draw(st.integers(-x.ndim - 1, x.ndim))})

    return draw_unsqueeze()


def broadcast_to_samples(d: Domain) -> st.SearchStrategy[Sample]:
    """A target shape, then an input that broadcasts to it: a suffix of the target with
    some axes shrunk to 1."""

    @st.composite
    def draw_bt(draw: st.DrawFn) -> Sample:
        target = draw(_shape(d))
        keep = draw(st.integers(0, len(target)))
        in_shape = tuple(1 if draw(st.booleans()) else n for n in target[len(target) - keep:])
        return Sample((draw(arrays(in_shape, d.dtype)),), {"shape": target})

    return draw_bt()


def _int_array(draw: st.DrawFn, n: int) -> Any:
    """Integer indices into an axis of length n: repeats likely, negatives allowed; as
    an ndarray, a list or a Tensor."""
    idx = draw(hnp.arrays(np.intp, draw(shapes(1, 2, max_side=4)), elements=st.integers(-n, n - 1)))
    form = draw(st.sampled_from(["array", "list", "tensor"]))
    if form == "list":
        return idx.tolist()
    return Tensor(idx) if form == "tensor" else idx


@st.composite
def indices(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """A valid index for an array of ``shape``: basic (ints, slices, None, ...), one or
    two integer arrays (with repeats), a boolean mask, a mask with an integer array,
    or a mix of an integer array with slices, ints and None."""
    ndim = len(shape)
    kinds = ["basic"] + (["int_array", "mask", "mixed"] if ndim >= 1 else []) + (
        ["two_arrays", "mask_and_array"] if ndim >= 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                      allow_ellipsis=True))
    if kind == "int_array":
        k = draw(st.integers(0, ndim - 1))
        arr = _int_array(draw, shape[k])
        if k == ndim - 1 and draw(st.booleans()):
            return (Ellipsis, arr)
        return arr if k == 0 and draw(st.booleans()) else (slice(None),) * k + (arr,)
    if kind == "two_arrays":
        i, j = sorted(draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2,
                                    unique=True)))
        bshape = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2,
                                                        max_side=3)).input_shapes
        items: list[Any] = [slice(None)] * ndim
        items[i] = draw(hnp.arrays(np.intp, bshape[0], elements=st.integers(-shape[i],
                                                                           shape[i] - 1)))
        items[j] = draw(hnp.arrays(np.intp, bshape[1], elements=st.integers(-shape[j],
                                                                           shape[j] - 1)))
        return tuple(items)
    if kind == "mask":
        k = draw(st.integers(0, ndim - 1))
        m = draw(st.integers(1, ndim - k))
        mask = draw(hnp.arrays(np.bool_, shape[k:k + m]))
        return mask if k == 0 and draw(st.booleans()) else (slice(None),) * k + (mask,)
    if kind == "mask_and_array":
        # A boolean mask over some leading axes, an integer array on a later one: the
        # mask's nonzero positions broadcast against the array.
        m = draw(st.integers(1, ndim - 1))
        mask = draw(hnp.arrays(np.bool_, shape[:m]))
        n_true = int(mask.sum())
        k = draw(st.integers(m, ndim - 1))
        n = shape[k]
        arr = draw(hnp.arrays(np.intp, draw(st.sampled_from([(n_true,), (1,)])),
                              elements=st.integers(-n, n - 1)))
        return (mask,) + (slice(None),) * (k - m) + (arr,)
    # mixed: one integer array among slices and ints, maybe a None in front.
    k = draw(st.integers(0, ndim - 1))
    items = []
    for ax, n in enumerate(shape):
        if ax == k:
            items.append(_int_array(draw, n))
        else:
            items.append(draw(st.slices(n) | st.integers(-n, n - 1)))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


def getitem_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_getitem(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d), d.dtype))
        return Sample((x,), {"index": draw(indices(x.shape))})

    return draw_getitem()


def getitem_ref(x: np.ndarray, index: Any) -> np.ndarray:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return np.asarray(x[index])


def concat_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_concat(draw: st.DrawFn) -> Sample:
        base = draw(_shape(d, 1))
        ax = draw(st.integers(-len(base), len(base) - 1))
        parts = []
        for _ in range(draw(st.integers(1, 4))):
            s = list(base)
            s[ax] = draw(st.integers(1, 3))
            parts.append(draw(arrays(tuple(s), d.dtype)))
        return Sample(tuple(parts), {"axis": ax})

    return draw_concat()


def stack_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_stack(draw: st.DrawFn) -> Sample:
        base = draw(_shape(d))
        ax = draw(st.integers(-len(base) - 1, len(base)))
        parts = tuple(draw(arrays(base, d.dtype)) for _ in range(draw(st.integers(1, 4))))
        return Sample(parts, {"axis": ax})

    return draw_stack()


def axis_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_axis(draw: st.DrawFn) -> Sample:
        x = draw(arrays(_shape(d, 1), d.dtype))
        return Sample((x,), {"axis": draw(st.integers(-x.ndim, x.ndim - 1))})

    return draw_axis()


def softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    return np.log(softmax_ref(x, axis))


def cross_entropy_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_ce(draw: st.DrawFn) -> Sample:
        c = draw(st.integers(1, 5))
        batched = draw(st.booleans())
        lead = (draw(st.integers(1, 4)),) if batched else ()
        logits = draw(arrays(lead + (c,), d.dtype))
        reduction = draw(st.sampled_from(["mean", "sum", "none"]))
        if draw(st.booleans()):  # class indices, repeats likely
            target = draw(hnp.arrays(np.int64, lead, elements=st.integers(0, c - 1)))
            return Sample((logits, target), {"reduction": reduction}, diff=(0,))
        rows = draw(arrays(lead + (c,), d.dtype, positive(0.1, 1.0, d.dtype)))
        probs = (rows / rows.sum(axis=-1, keepdims=True)).astype(d.dtype)
        return Sample((logits, probs), {"reduction": reduction}, diff=(0, 1))

    return draw_ce()


def cross_entropy_ref(logits: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    logp = log_softmax_ref(np.atleast_2d(logits), axis=-1)
    if target.dtype.kind in "iu":
        t = np.atleast_1d(target)
        losses = -logp[np.arange(len(t)), t]
    else:
        losses = -(np.atleast_2d(target) * logp).sum(axis=-1)
    if reduction == "none":
        return losses if logits.ndim == 2 else losses.reshape(())
    return losses.sum() / (len(losses) if reduction == "mean" else 1)


def mse_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_mse(draw: st.DrawFn) -> Sample:
        s = draw(_shape(d))
        return Sample((draw(arrays(s, d.dtype)), draw(arrays(s, d.dtype))),
                      {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))})

    return draw_mse()


def mse_ref(x: np.ndarray, t: np.ndarray, reduction: str) -> np.ndarray:
    sq = (x - t) ** 2
    return sq if reduction == "none" else (sq.mean() if reduction == "mean" else sq.sum())


def astype_samples(d: Domain) -> st.SearchStrategy[Sample]:
    return arrays(_shape(d), d.dtype).map(lambda x: Sample((x,), {"dtype": x.dtype}))


# ---------------------------------------------------------------------------- the table


def positive_domain(d: Domain) -> st.SearchStrategy[float]:
    return positive(1e-2, 10.0, d.dtype)


def away_from_zero(d: Domain) -> st.SearchStrategy[float]:
    return bounded_away(0.0, 0.1, 10.0, d.dtype)


def divisor(d: Domain) -> st.SearchStrategy[float]:
    return bounded_away(0.0, 0.5, 10.0, d.dtype)


def moderate(d: Domain) -> st.SearchStrategy[float]:
    # exp(4) ~ 55: the weighted output sum stays small enough that finite differences
    # resolve the gradients of the smallest entries too.
    return finite_floats(-4.0, 4.0, d.dtype)


def reduce_ref(np_fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def ref(x: np.ndarray, axis: Any, keepdims: bool, **kw: Any) -> np.ndarray:
        return np.asarray(np_fn(x, axis=axis, keepdims=keepdims, **kw))

    return ref


def logsumexp_ref(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


# ------------------------------------------------------------------ convolution and pooling
# conv2d, max_pool2d, avg_pool2d, im2col and col2im: their strategies, references written
# as direct loops over output positions (independent of im2col and of the strided views
# the ops use), and their entries. Shapes stay tiny: every gradgradcheck differentiates
# a convolution once per input element.


def hw(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def int_or_pair(draw: st.DrawFn, pair: tuple[int, int]) -> Any:
    """``pair`` as a tuple, or as one int when both sides agree (and a coin says so)."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


def grid(d: Domain) -> st.SearchStrategy[float]:
    # Multiples of 1/64 in [-2, 2]: every product and every sum of a few hundred of
    # them is exact in float32 and float64, so sums taken in any order agree exactly.
    return st.integers(-128, 128).map(lambda k: k / 64)


@st.composite
def window_geometry(draw: st.DrawFn, d: Domain, max_pad: str) -> dict[str, Any]:
    """A kernel, a stride, a padding and an image size with at least one window:
    ``max_pad`` "any" (convolution) or "half" (pooling: at most half the kernel)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if max_pad == "half":
        ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    else:
        ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + d.max_side - 1))
    w = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + d.max_side - 1))
    return {"kernel": (kh, kw), "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "padding": (ph, pw), "hw": (h, w), "n": draw(st.integers(1, 2)),
            "c": draw(st.integers(1, 2 if d.max_side <= 3 else 3))}


def conv2d_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_conv(draw: st.DrawFn) -> Sample:
        geo = draw(window_geometry(d, "any"))
        o = draw(st.integers(1, 2 if d.max_side <= 3 else 3))
        batch = (geo["n"],) if draw(st.integers(0, 4)) else ()  # sometimes one unbatched image
        x = draw(arrays(batch + (geo["c"],) + geo["hw"], d.dtype, grid(d)))
        w = draw(arrays((o, geo["c"]) + geo["kernel"], d.dtype, grid(d)))
        args = (x, w, draw(arrays((o,), d.dtype, grid(d)))) if draw(st.booleans()) else (x, w)
        kwargs = {}
        if geo["stride"] != (1, 1) or draw(st.booleans()):
            kwargs["stride"] = int_or_pair(draw, geo["stride"])
        if geo["padding"] != (0, 0) or draw(st.booleans()):
            kwargs["padding"] = int_or_pair(draw, geo["padding"])
        return Sample(args, kwargs)

    return draw_conv()


def conv2d_ref(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                stride: Any = 1, padding: Any = 0) -> np.ndarray:
    if x.ndim == 3:
        return conv2d_ref(x[None], weight, bias, stride, padding)[0]
    (sh, sw), (ph, pw) = hw(stride), hw(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = weight.shape
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, weight)
    return out if bias is None else out + bias[:, None, None]


def pool_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_pool(draw: st.DrawFn) -> Sample:
        geo = draw(window_geometry(d, "half"))
        batch = (geo["n"],) if draw(st.integers(0, 4)) else ()
        # Distinct values: no window has two maxima, so finite differences never
        # move the gradient from one to another.
        x = draw(distinct_values(batch + (geo["c"],) + geo["hw"], dtype=d.dtype))
        kwargs: dict[str, Any] = {"kernel_size": int_or_pair(draw, geo["kernel"])}
        if draw(st.booleans()):
            kwargs["stride"] = int_or_pair(draw, geo["stride"])
        if geo["padding"] != (0, 0) or draw(st.booleans()):
            kwargs["padding"] = int_or_pair(draw, geo["padding"])
        return Sample((x,), kwargs)

    return draw_pool()


def pool_ref(reduce: Callable[..., np.ndarray], fill: float) -> Callable[..., np.ndarray]:
    def ref(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0
            ) -> np.ndarray:
        if x.ndim == 3:
            return ref(x[None], kernel_size, stride, padding)[0]
        (kh, kw), (ph, pw) = hw(kernel_size), hw(padding)
        sh, sw = (kh, kw) if stride is None else hw(stride)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
        out = np.zeros(x.shape[:2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                out[:, :, i, j] = reduce(xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw],
                                         axis=(2, 3))
        return out

    return ref


def im2col_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_im2col(draw: st.DrawFn) -> Sample:
        geo = draw(window_geometry(d, "any"))
        x = draw(arrays((geo["n"], geo["c"]) + geo["hw"], d.dtype))
        return Sample((x,), {"filter_h": geo["kernel"][0], "filter_w": geo["kernel"][1],
                             "stride": int_or_pair(draw, geo["stride"]),
                             "pad": int_or_pair(draw, geo["padding"])})

    return draw_im2col()


def patch_positions(shape: tuple[int, ...], filter_h: int, filter_w: int, stride: Any,
                     pad: Any) -> tuple[list[tuple[int, int, int, int]], tuple[int, int]]:
    """Rows of im2col in order: (row, n, top, left) of every patch, plus the padding."""
    (sh, sw), (ph, pw) = hw(stride), hw(pad)
    oh = (shape[2] + 2 * ph - filter_h) // sh + 1
    ow = (shape[3] + 2 * pw - filter_w) // sw + 1
    rows = [(r, n, i * sh, j * sw) for r, (n, i, j) in
            enumerate((n, i, j) for n in range(shape[0]) for i in range(oh) for j in range(ow))]
    return rows, (ph, pw)


def im2col_ref(x: np.ndarray, filter_h: int, filter_w: int, stride: Any, pad: Any
                ) -> np.ndarray:
    rows, (ph, pw) = patch_positions(x.shape, filter_h, filter_w, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return np.array([xp[n, :, top:top + filter_h, left:left + filter_w].ravel()
                     for _, n, top, left in rows]).reshape(len(rows), -1)


def col2im_samples(d: Domain) -> st.SearchStrategy[Sample]:
    @st.composite
    def draw_col2im(draw: st.DrawFn) -> Sample:
        geo = draw(window_geometry(d, "any"))
        shape = (geo["n"], geo["c"]) + geo["hw"]
        (kh, kw), (sh, sw), (ph, pw) = geo["kernel"], geo["stride"], geo["padding"]
        oh, ow = (shape[2] + 2 * ph - kh) // sh + 1, (shape[3] + 2 * pw - kw) // sw + 1
        col = draw(arrays((shape[0] * oh * ow, shape[1] * kh * kw), d.dtype))
        return Sample((col,), {"input_shape": shape, "filter_h": kh, "filter_w": kw,
                               "stride": int_or_pair(draw, geo["stride"]),
                               "pad": int_or_pair(draw, geo["padding"])})

    return draw_col2im()


def col2im_ref(col: np.ndarray, input_shape: tuple[int, ...], filter_h: int, filter_w: int,
                stride: Any, pad: Any) -> np.ndarray:
    rows, (ph, pw) = patch_positions(input_shape, filter_h, filter_w, stride, pad)
    n, c, h, w = input_shape
    image = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for r, i, top, left in rows:
        image[i, :, top:top + filter_h, left:left + filter_w] += col[r].reshape(
            c, filter_h, filter_w)
    return image[:, :, ph:ph + h, pw:pw + w]
