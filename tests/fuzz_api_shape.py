"""The API fuzzer's cases for the reductions (sum ... argmax), the shape ops (reshape,
transpose ... stack) and indexing, with the Tensor methods that reach them (see
fuzz_api_core.py for how a case works, fuzz_api_elementwise.py for the dtype rules).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_api_core import (
    JUNK_INTS,
    SIDES,
    Call,
    Junk,
    Verdict,
    axes_arg,
    axis_arg,
    first,
    int_args,
    is_int,
    kind,
    operands,
    register,
    rule_axes,
    rule_axis,
    rule_shape,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_strategies import getitem_ref, indices

import tinygrad_edu.functional as F

# ---------------------------------------------------------------------------- reductions


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[a] for a in axes]))


REDUCE_REF = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "var": np.var,
              "logsumexp": lambda x, axis, keepdims: np.log(np.sum(
                  np.exp(x), axis=axis, keepdims=keepdims))}


@st.composite
def draw_reduction(draw: st.DrawFn, name: str) -> Call:
    door = draw(st.sampled_from([(f"F.{name}", getattr(F, name), False),
                                 (f"Tensor.{name}", lambda x, *a: getattr(x, name)(*a), True)]))
    x = first(draw, door)
    axis = draw(axes_arg(x.ndim))
    keepdims = draw(st.booleans())
    extra: tuple[Any, ...] = ()
    if name == "var":
        extra = (draw(int_args(st.integers(-1, 2))),)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        axes = rule_axes(v, axis, x.ndim)
        if name == "var" and kind(x) == "c":
            v.fail(TypeError, "variance of complex numbers")
        if name == "logsumexp" and kind(x) in "bc":
            v.fail(TypeError, f"logsumexp of {x.dtype}")
        ddof = extra[0] if extra else 0
        if name == "var" and not is_int(ddof):
            v.fail(TypeError, f"ddof {ddof!r}")
        elif name == "var" and ddof < 0:
            v.fail(ValueError, f"ddof {ddof}")
        elif axes is not None:
            count = _count(x.shape, axes)
            if name == "mean" and count == 0:
                v.fail(ValueError, "mean of nothing")
            if name == "var" and count - ddof <= 0:
                v.fail(ValueError, f"{count} values, ddof {ddof}")
            if name in ("max", "min") and any(x.shape[a] == 0 for a in axes):
                v.fail(ValueError, "extremum of nothing")
        v.done()
        kw = {"ddof": ddof} if name == "var" else {}
        xr = np.asarray(x.raw)
        if name == "logsumexp" and kind(x) in "iu":
            xr = xr.astype(np.float64)
        return tensor_like(REDUCE_REF[name](xr, axis=axes, keepdims=keepdims, **kw))

    return Call(door[0], (name,), (x, axis, keepdims) + extra, door[1], rules)


for _name in REDUCE_REF:
    register(_name, draw_reduction(_name), _name)


@st.composite
def draw_argreduction(draw: st.DrawFn, name: str) -> Call:
    door = draw(st.sampled_from([(f"F.{name}", getattr(F, name), False),
                                 (f"Tensor.{name}", lambda x, *a: getattr(x, name)(*a), True)]))
    x = first(draw, door)
    axis = draw(st.none() | axis_arg(x.ndim))
    keepdims = draw(st.booleans())

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if axis is None:
            if x.seen.size == 0:
                v.fail(ValueError, f"{name} of nothing")
        else:
            ax = rule_axis(v, axis, max(x.ndim, 1))  # as NumPy: a 0-d tensor has axis 0
            if ax is not None and x.ndim and x.shape[ax] == 0:
                v.fail(ValueError, f"{name} along an empty axis")
        v.done()
        ref = np.argmax if name == "argmax" else np.argmin
        return tensor_like(np.asarray(ref(x.raw, axis=axis, keepdims=keepdims)))

    return Call(door[0], (name,), (x, axis, keepdims), door[1], rules, backward=False)


for _name in ("argmax", "argmin"):
    register(_name, draw_argreduction(_name), _name)


# ---------------------------------------------------------------------------- shape ops


@st.composite
def reshape_target(draw: st.DrawFn, size: int) -> Any:
    """A shape with ``size`` elements (maybe one -1), or one that is wrong."""
    if draw(st.integers(0, 3)):
        dims: list[int] = []
        rest = size
        for _ in range(draw(st.integers(0, 3))):
            d = draw(st.sampled_from([k for k in range(1, rest + 1) if rest % k == 0] or [0]))
            dims.append(d)
            rest = rest // d if d else rest
        dims.append(rest)
        if draw(st.booleans()):
            dims[draw(st.integers(0, len(dims) - 1))] = -1
        target: Any = tuple(dims) if size or draw(st.booleans()) else tuple(dims)
    else:
        target = draw(st.lists(st.integers(-2, 4), max_size=4).map(tuple))
    form = draw(st.sampled_from(["tuple", "tuple", "list", "int", "junk", "junk entry"]))
    if form == "list":
        return list(target)
    if form == "int" and len(target) == 1:
        return target[0]
    if form == "junk":
        return draw(JUNK_INTS)
    if form == "junk entry":
        return target + (draw(JUNK_INTS),)
    return target


@st.composite
def draw_reshape(draw: st.DrawFn) -> Call:
    x = draw(operands())
    shape = draw(reshape_target(x.array.size))
    doors: list[tuple[str, Callable[..., Any]]] = [
        ("F.reshape", F.reshape), ("Tensor.reshape", lambda t, s: t.reshape(s)),
        ("Tensor.view", lambda t, s: t.view(s))]
    if isinstance(shape, tuple) and shape:
        doors.append(("Tensor.reshape(*shape)", lambda t, s: t.reshape(*s)))
    entry, fn = draw(st.sampled_from(doors))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        target = rule_shape(v, shape, allow_infer=True)
        v.done()
        assert target is not None
        known = int(np.prod([d for d in target if d != -1]))
        size = x.array.size
        if (known != size) if -1 not in target else (known == 0 or size % known):
            v.fail(ValueError, f"{size} elements into {target}")
        v.done()
        return tensor_like(np.reshape(x.array, target))

    return Call(entry, ("reshape",), (x, shape), fn, rules)


register("reshape", draw_reshape(), "reshape", "view")


@st.composite
def permutation_arg(draw: st.DrawFn, ndim: int) -> Any:
    perm = [p - ndim if draw(st.booleans()) else p
            for p in draw(st.permutations(range(ndim)))]
    form = draw(st.sampled_from(["tuple", "tuple", "list", "wrong", "junk", "junk entry",
                                 "none"]))
    if form == "list":
        return perm
    if form == "wrong":  # a repeat, a missing axis, one out of range
        return tuple(draw(st.lists(st.integers(-ndim - 1, ndim), max_size=ndim + 1)))
    if form == "junk":
        return draw(JUNK_INTS)
    if form == "junk entry":
        return tuple(perm) + (draw(JUNK_INTS),) if ndim else (draw(JUNK_INTS),)
    return None if form == "none" else tuple(perm)


def rule_permutation(v: Verdict, axes: Any, ndim: int) -> None:
    if axes is None:
        return
    if not isinstance(axes, (tuple, list)) or not all(is_int(a) for a in axes):
        v.fail(TypeError, f"axes {axes!r}")
    elif len(axes) != ndim or sorted(a % ndim if -ndim <= a < ndim else -1
                                     for a in axes) != list(range(ndim)):
        v.fail(ValueError, f"axes {axes!r} are no permutation of {ndim} axes")


@st.composite
def draw_transpose(draw: st.DrawFn, name: str) -> Call:
    x = draw(operands())
    axes = draw(permutation_arg(x.ndim))
    doors: list[tuple[str, Callable[..., Any]]] = [
        (f"F.{name}", getattr(F, name)),
        (f"Tensor.{name}", lambda t, a: getattr(t, name)(a) if a is not None
         else getattr(t, name)()),
    ]
    if isinstance(axes, tuple) and (axes or name == "permute"):
        doors.append((f"Tensor.{name}(*axes)", lambda t, a: getattr(t, name)(*a)))
    if name == "transpose" and axes is None:
        doors.append(("Tensor.T", lambda t, a: t.T))
    entry, fn = draw(st.sampled_from(doors))
    # t.permute() has no axes (an error but for 0-d), where t.transpose() reverses them;
    # one argument that is not an int is the axes themselves (t.transpose((1, 0))).
    given = () if (entry == "Tensor.permute" and axes is None) else axes
    if entry.endswith("(*axes)") and len(axes) == 1 and not is_int(axes[0]):
        given = axes[0]

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        rule_permutation(v, given, x.ndim)
        v.done()
        return tensor_like(np.transpose(x.raw, given))

    return Call(entry, (name, "transpose"), (x, axes), fn, rules)


register("transpose", draw_transpose("transpose"), "transpose", "T")
register("permute", draw_transpose("permute"), "permute")


@st.composite
def draw_swapaxes(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.swapaxes", F.swapaxes, False),
                                 ("Tensor.swapaxes", lambda t, i, j: t.swapaxes(i, j), True)]))
    x = first(draw, door)
    i, j = draw(axis_arg(x.ndim)), draw(axis_arg(x.ndim))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        a, b = rule_axis(v, i, x.ndim, "axis1"), rule_axis(v, j, x.ndim, "axis2")
        v.done()
        return tensor_like(np.swapaxes(x.raw, a, b))

    return Call(door[0], ("swapaxes",), (x, i, j), door[1], rules)


register("swapaxes", draw_swapaxes(), "swapaxes")


@st.composite
def draw_flatten(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.flatten", F.flatten, False),
                                 ("Tensor.flatten", lambda t, s, e: t.flatten(s, e), True)]))
    x = first(draw, door)
    start, end = draw(axis_arg(x.ndim)), draw(axis_arg(x.ndim))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        ndim = max(x.ndim, 1)  # as PyTorch: a 0-d tensor flattens like one of shape (1,)
        s, e = rule_axis(v, start, ndim, "start_dim"), rule_axis(v, end, ndim, "end_dim")
        if s is not None and e is not None and s > e:
            v.fail(ValueError, "start_dim after end_dim")
        v.done()
        xr = np.asarray(x.raw).reshape(x.shape or (1,))
        assert s is not None and e is not None
        return tensor_like(xr.reshape(xr.shape[:s] + (int(np.prod(xr.shape[s:e + 1])),)
                                      + xr.shape[e + 1:]))

    return Call(door[0], ("flatten",), (x, start, end), door[1], rules)


register("flatten", draw_flatten(), "flatten")


@st.composite
def draw_squeeze(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.squeeze", F.squeeze, False),
                                 ("Tensor.squeeze", lambda t, a: t.squeeze(a), True)]))
    base = list(draw(shapes(max_dims=3)))
    for _ in range(draw(st.integers(0, 2))):
        base.insert(draw(st.integers(0, len(base))), 1)
    x = first(draw, door, shape=tuple(base))
    axis = draw(axes_arg(x.ndim))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        axes = () if axis is None else rule_axes(v, axis, x.ndim)
        v.done()
        assert axes is not None
        if any(x.shape[a] != 1 for a in axes):
            v.fail(ValueError, "squeezing an axis whose size is not 1")
        v.done()
        return tensor_like(np.squeeze(x.raw, axis=None if axis is None else axes))

    return Call(door[0], ("squeeze",), (x, axis), door[1], rules)


register("squeeze", draw_squeeze(), "squeeze")


@st.composite
def draw_unsqueeze(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.unsqueeze", F.unsqueeze, False),
                                 ("Tensor.unsqueeze", lambda t, a: t.unsqueeze(a), True)]))
    x = first(draw, door)
    axis = draw(axis_arg(x.ndim + 1))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        ax = rule_axis(v, axis, x.ndim + 1)
        v.done()
        return tensor_like(np.expand_dims(x.raw, ax))

    return Call(door[0], ("unsqueeze",), (x, axis), door[1], rules)


register("unsqueeze", draw_unsqueeze(), "unsqueeze")


@st.composite
def draw_broadcast_to(draw: st.DrawFn, name: str) -> Call:
    x = draw(operands())
    if draw(st.integers(0, 3)):
        target: Any = draw(shapes(max_dims=2)) + tuple(
            draw(st.sampled_from([n, 2, 0])) if n == 1 else n for n in x.shape)
    else:
        target = draw(st.lists(st.integers(-1, 3), max_size=4).map(tuple))
    target = draw(st.sampled_from([target, list(target), draw(JUNK_INTS),
                                   tuple(target) + (draw(JUNK_INTS),)]))
    doors: list[tuple[str, Callable[..., Any]]] = [
        (f"F.{name}", getattr(F, name)),
        ("Tensor.expand", lambda t, s: t.expand(s)),
        ("Tensor.broadcast_to", lambda t, s: t.broadcast_to(s))]
    if isinstance(target, tuple) and target:
        doors.append(("Tensor.expand(*shape)", lambda t, s: t.expand(*s)))
    entry, fn = draw(st.sampled_from(doors))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        shape = rule_shape(v, target, allow_infer=False)
        v.done()
        assert shape is not None
        if len(shape) < x.ndim or any(n not in (1, t) for n, t in zip(
                x.shape[::-1], shape[::-1])):
            v.fail(ValueError, f"{x.shape} does not broadcast to {shape}")
        v.done()
        return tensor_like(np.broadcast_to(x.array, shape))

    return Call(entry, (name, "broadcast_to", "expand"), (x, target), fn, rules)


register("broadcast_to", draw_broadcast_to("broadcast_to"), "broadcast_to")
register("expand", draw_broadcast_to("expand"), "expand")


@st.composite
def index_arg(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[Any, str]:
    """(an index, what kind of index it is): a valid one, or one of the invalid kinds."""
    ndim = len(shape)
    kinds = ["valid", "valid", "valid", "junk", "too many"]
    kinds += ["out of range"] if ndim else []
    kinds += ["mask shape"] if ndim and shape[0] else []
    what = draw(st.sampled_from(kinds))
    if what == "valid":
        if all(shape):
            return draw(indices(shape)), what
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True)), what
    if what == "junk":
        return draw(st.sampled_from(["a", 1.5, [1.5], {}, (0.5,), [[0, 1], [0]], b"x"])), what
    if what == "too many":
        return (0,) * (ndim + 1), what
    if what == "out of range":
        k = draw(st.integers(0, ndim - 1))
        bad = draw(st.sampled_from([shape[k], shape[k] + 1, -shape[k] - 1]))
        return (slice(None),) * k + (bad,), what
    return np.ones(shape[0] + 1, dtype=bool), what  # "mask shape"


@st.composite
def draw_getitem(draw: st.DrawFn) -> Call:
    x = draw(operands())
    index, what = draw(index_arg(x.shape))
    entry, fn = draw(st.sampled_from([("F.getitem", F.getitem), ("x[index]", operator.getitem)]))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if what == "junk":
            v.fail((IndexError, TypeError), f"index {index!r}")
        elif what != "valid":
            v.fail(IndexError, f"index {index!r} ({what})")
        v.done()
        return tensor_like(getitem_ref(x.array, index))

    return Call(entry, ("getitem",), (x, index), fn, rules)


register("getitem", draw_getitem(), "__getitem__")


@st.composite
def draw_join(draw: st.DrawFn, name: str) -> Call:
    base = draw(shapes(max_dims=3))
    ax = draw(st.integers(-len(base) - 1, len(base)))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        shape = list(base)
        if name in ("concatenate", "cat") and base and draw(st.booleans()):
            shape[ax % len(base) if -len(base) <= ax < len(base) else 0] = draw(SIDES)
        if draw(st.integers(0, 6)) == 0:
            shape = list(draw(shapes(max_dims=3)))
        parts.append(draw(operands(shape=tuple(shape), forms=("tensor", "tensor", "array",
                                                               "list"))))
    container = draw(st.sampled_from(["list", "list", "tuple", "tensor", "junk"]))
    tensors: Any = parts if container == "list" else tuple(parts)
    if container == "tensor":
        tensors = draw(operands())
    elif container == "junk":
        tensors = Junk(draw(st.sampled_from([5, None, 1.5])))
    axis = draw(st.one_of(st.just(ax), axis_arg(len(base) + 1)))
    fn = getattr(F, name)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if not isinstance(tensors, (list, tuple)):
            v.fail(TypeError, "tensors is not a list or tuple")
            v.done()
        if not parts:
            v.fail(ValueError, "no tensors")
            v.done()
        ndim = parts[0].ndim
        if name in ("concatenate", "cat"):
            if ndim == 0:
                v.fail(ValueError, "0-d tensors")
                v.done()
            a = rule_axis(v, axis, ndim)
            v.done()
            if any(p.ndim != ndim or p.shape[:a] + p.shape[a + 1:] != parts[0].shape[:a]
                   + parts[0].shape[a + 1:] for p in parts):
                v.fail(ValueError, "shapes differ off the axis")
            v.done()
            return tensor_like(np.concatenate([p.raw for p in parts], axis=a))
        if len({p.shape for p in parts}) != 1:
            v.fail(ValueError, "shapes differ")
        rule_axis(v, axis, ndim + 1)
        v.done()
        return tensor_like(np.stack([p.raw for p in parts], axis=axis))

    return Call(f"F.{name}", (name, "concatenate"), (tensors, axis), fn, rules)


for _name in ("concatenate", "cat", "stack"):
    register(_name, draw_join(_name))
