"""The API fuzzer's cases for the elementwise ops, matmul and linear, and the Tensor
methods, operators and NumPy ufuncs that reach them (see fuzz_api_core.py for how a
case works; fuzz_api_shape.py, fuzz_api_losses.py, fuzz_api_inplace.py and
fuzz_api_conv.py hold the other ops).

Each ``draw_*`` strategy draws one call: which door it goes through (``F.op``, the
method, the operator, the NumPy ufunc), its operands (random shapes, 0-d, empty axes,
dtypes float32/float64/int64/bool/complex128, as Tensors, arrays, lists or numbers) and
its other arguments, valid or not. Its ``rules`` say, from the arguments alone, what
must happen. The dtype rules, in short:

* ops NumPy has (arithmetic, ufuncs, reductions, shape ops, indexing) compute what
  NumPy computes, dtype included, for every dtype NumPy accepts; where NumPy refuses
  (``-`` on booleans, integers to negative integer powers) the op raises;
* ops defined by a formula for real numbers refuse what the formula does not cover:
  ``sigmoid``, ``softmax``, ``log_softmax``, ``logsumexp`` take integers and floats,
  ``var`` no complex numbers, losses no booleans or complex numbers, convolution and
  pooling floating-point images only;
* only real floating point may require grad, so an op whose result would be complex
  refuses inputs that require grad.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_api_core import (
    ARRAY_LIKE,
    BOOL,
    JUNK_VALUES,
    REAL,
    Call,
    Door,
    Junk,
    Operand,
    Verdict,
    first,
    is_real_number,
    kind,
    operands,
    refuse,
    register,
    rule_broadcast,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu.functional as F

# ---------------------------------------------------------------------------- elementwise

UNARY_REF: dict[str, Callable[[Any], Any]] = {
    "neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
    "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-np.asarray(x))),
    "relu": lambda x: np.maximum(x, 0), "clone": np.copy,
}
UFUNCS = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
          "abs": np.absolute, "tanh": np.tanh}


@st.composite
def draw_unary(draw: st.DrawFn, name: str) -> Call:
    doors: list[Door] = [(f"F.{name}", getattr(F, name), False),
                         (f"Tensor.{name}", lambda x: getattr(x, name)(), True)]
    if name == "neg":
        doors.append(("-x", operator.neg, True))
    if name in UFUNCS:
        doors.append((f"np.{UFUNCS[name].__name__}", UFUNCS[name], True))
    door = draw(st.sampled_from(doors))
    x = first(draw, door)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if name == "neg" and x.dtype == BOOL:
            v.fail(TypeError, "negative of booleans (NumPy refuses it)")
        if name == "sigmoid" and kind(x) in "bc":
            v.fail(TypeError, f"sigmoid of {x.dtype}")
        v.done()
        return tensor_like(UNARY_REF[name](x.raw))

    return Call(door[0], (name,), (x,), door[1], rules)


for _name in UNARY_REF:
    register(_name, draw_unary(_name), _name, *(("__neg__",) if _name == "neg" else ()))


BINARY: dict[str, tuple[Any, Callable[[Any, Any], Any] | None, tuple[str, ...]]] = {
    "add": (np.add, operator.add, ("add", "__add__", "__radd__")),
    "sub": (np.subtract, operator.sub, ("sub", "__sub__", "__rsub__")),
    "mul": (np.multiply, operator.mul, ("mul", "__mul__", "__rmul__")),
    "div": (np.true_divide, operator.truediv, ("div", "__truediv__", "__rtruediv__")),
    "pow": (np.power, operator.pow, ("pow", "__pow__", "__rpow__")),
    "maximum": (np.maximum, None, ("maximum",)),
    "minimum": (np.minimum, None, ("minimum",)),
    "eq": (np.equal, operator.eq, ("__eq__",)), "ne": (np.not_equal, operator.ne, ("__ne__",)),
    "lt": (np.less, operator.lt, ("__lt__",)), "le": (np.less_equal, operator.le, ("__le__",)),
    "gt": (np.greater, operator.gt, ("__gt__",)),
    "ge": (np.greater_equal, operator.ge, ("__ge__",)),
}
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")


@st.composite
def binary_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Mostly shapes that broadcast (rank mismatch, 0-d, size 1 against 0), some not."""
    if draw(st.integers(0, 4)):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4,
                                                        min_side=0, max_side=3)).input_shapes
        return sa, sb
    return draw(shapes()), draw(shapes())


@st.composite
def draw_binary(draw: st.DrawFn, name: str) -> Call:
    ufunc, op, methods = BINARY[name]
    doors: list[tuple[str, Callable[..., Any], str]] = [(f"F.{name}", getattr(F, name), "")]
    if methods[0] == name:
        doors.append((f"Tensor.{name}", lambda a, b: getattr(a, name)(b), "a"))
    if op is not None:
        doors += [(f"a {op.__name__} b", op, "a"), (f"reflected {op.__name__}", op, "b")]
    entry, fn, tensor_side = draw(st.sampled_from(doors))
    sa, sb = draw(binary_shapes())
    a = draw(operands(shape=sa, forms=("tensor",) if tensor_side == "a" else ARRAY_LIKE))
    other_forms = ("tensor",) if tensor_side == "b" else ARRAY_LIKE
    if tensor_side == "b" and name in COMPARISONS:  # ndarray < Tensor gives an ndarray
        a = draw(operands(shape=sa, forms=("list", "scalar", "tensor")))
    b: Operand | Junk = draw(operands(shape=sb, forms=other_forms))
    if tensor_side != "b" and draw(st.integers(0, 9)) == 0:
        b = Junk(draw(JUNK_VALUES))
    if tensor_side == "" and draw(st.integers(0, 19)) == 0:
        a, b = b, a  # junk on the left: F.add("a", x)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        junk = [j for j in (a, b) if isinstance(j, Junk)]
        if junk:
            other = a if isinstance(b, Junk) else b
            if name in ("eq", "ne") and not isinstance(junk[0].value, (str, bytes)):
                # NumPy compares other objects elementwise: never equal.
                return tensor_like(np.full(other.shape, name == "ne"))
            v.fail(TypeError, f"{name} with {junk[0].value!r}")
            v.done()
        assert isinstance(a, Operand) and isinstance(b, Operand)
        shape = rule_broadcast(v, a.shape, b.shape)
        if name == "sub" and kind(a) == kind(b) == "b":
            v.fail(TypeError, "subtraction of booleans (NumPy refuses it)")
        if (name == "pow" and kind(a) in "biu" and kind(b) in "biu" and shape is not None
                and 0 not in shape and (b.seen < 0).any()):
            v.fail(ValueError, "integers to negative integer powers")
        v.done()
        return tensor_like(ufunc(a.raw, b.raw))

    mirror = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(name, name)
    names = (name, mirror) if entry.startswith("reflected") else (name,)
    return Call(entry, names, (a, b), fn, rules)


for _name, (_, _, _methods) in BINARY.items():
    register(_name, draw_binary(_name), *_methods)


@st.composite
def draw_leaky_relu(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.leaky_relu", F.leaky_relu, False),
                                 ("Tensor.leaky_relu", lambda x, s: x.leaky_relu(s), True)]))
    x = first(draw, door)
    slope = draw(st.one_of(st.sampled_from([0.01, 0.2, 0, 1]), st.floats(-1, 1),
                           JUNK_VALUES, st.sampled_from([True, 1j, [0.1]])))

    def rules() -> Callable[[Any], None]:
        if not is_real_number(slope):
            refuse(TypeError, f"negative_slope {slope!r}")
        xr = np.asarray(x.raw)
        return tensor_like(np.where(xr > 0, xr, xr * slope) if xr.dtype.kind != "b"
                           else np.where(xr, xr, xr * slope))

    return Call(door[0], ("leaky_relu",), (x, slope), door[1], rules)


register("leaky_relu", draw_leaky_relu(), "leaky_relu")


@st.composite
def clip_bound(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    return draw(st.one_of(
        st.none(), st.none(), st.floats(-3, 3), st.integers(-3, 3),
        operands(REAL + (np.dtype(np.complex128),),
                 shape=st.one_of(st.just(shape[len(shape) - 1:]), st.just(shape), shapes()),
                 forms=("tensor", "array", "list")),
        st.sampled_from(["1", True, 1j, None]).map(Junk),
    ))


@st.composite
def draw_clip(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.clip", F.clip, False),
                                 ("Tensor.clip", lambda x, lo, hi: x.clip(lo, hi), True),
                                 ("Tensor.clamp", lambda x, lo, hi: x.clamp(lo, hi), True)]))
    x = first(draw, door)
    lo, hi = draw(clip_bound(x.shape)), draw(clip_bound(x.shape))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        raw = []
        for bound in (lo, hi):
            value = bound.value if isinstance(bound, Junk) else bound
            if isinstance(bound, Operand):
                if bound.requires_grad:
                    v.fail(TypeError, "a bound that requires grad")
                elif kind(bound) not in "iuf":
                    v.fail(TypeError, f"a bound of dtype {bound.dtype}")
                raw.append(bound.raw)
            elif value is not None and not is_real_number(value):
                v.fail(TypeError, f"a bound {value!r}")
            else:
                raw.append(value)
        if getattr(lo, "value", lo) is None and getattr(hi, "value", hi) is None:
            v.fail(ValueError, "no bound")
        if kind(x) == "c":
            v.fail(TypeError, "clip of complex numbers")
        v.done()
        bounds = [np.asarray(b).shape for b in raw if b is not None]
        if rule_broadcast(v, x.shape, *bounds) != x.shape:
            v.fail(ValueError, f"bounds {bounds} do not broadcast to {x.shape}")
        v.done()
        expected = np.clip(x.raw, getattr(lo, "raw", lo), getattr(hi, "raw", hi))
        return tensor_like(expected, x.dtype if kind(x) == "f" else None)

    return Call(door[0], ("clip", "clamp"), (x, lo, hi), door[1], rules)


register("clip", draw_clip(), "clip", "clamp")


@st.composite
def draw_where(draw: st.DrawFn) -> Call:
    sc, sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, min_side=0,
                                                        max_side=3)).input_shapes
    if draw(st.integers(0, 5)) == 0:
        sc = draw(shapes(max_dims=3))
    cond: Operand | Junk = draw(operands((BOOL,) * 4 + (np.dtype(np.float64),), sc,
                                         forms=("tensor", "array", "list", "scalar")))
    a = draw(operands(shape=sa, forms=ARRAY_LIKE))
    b: Operand | Junk = draw(operands(shape=sb, forms=ARRAY_LIKE))
    if draw(st.integers(0, 9)) == 0:
        cond = Junk(draw(JUNK_VALUES))
    if draw(st.integers(0, 9)) == 0:
        b = Junk(draw(JUNK_VALUES))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if isinstance(cond, Junk) or cond.dtype != BOOL:
            v.fail(TypeError, "a condition that is not boolean")
        if isinstance(b, Junk):
            v.fail(TypeError, f"a value {b.value!r}")
        v.done()
        assert isinstance(cond, Operand) and isinstance(b, Operand)
        rule_broadcast(v, cond.shape, a.shape, b.shape)
        v.done()
        return tensor_like(np.where(cond.raw, a.raw, b.raw))

    return Call("F.where", ("where",), (cond, a, b), F.where, rules)


register("where", draw_where())

ASTYPE_VALID = [np.float32, np.float64, np.int64, np.bool_, np.complex128, "float32",
                "int32", np.float16, None]


@st.composite
def draw_astype(draw: st.DrawFn) -> Call:
    door = draw(st.sampled_from([("F.astype", F.astype, False),
                                 ("Tensor.astype", lambda x, d: x.astype(d), True)]))
    x = first(draw, door)
    dtype = draw(st.sampled_from(ASTYPE_VALID) | st.sampled_from(["abc", 5, 1.5, "float99"]))

    def rules() -> Callable[[Any], None]:
        if dtype not in ASTYPE_VALID:
            refuse(TypeError, f"dtype {dtype!r}")
        if kind(x) == "c" and np.dtype(dtype).kind != "c":
            refuse(TypeError, "a complex tensor cast to a real dtype (drops imaginary parts)")
        return tensor_like(np.asarray(x.raw).astype(dtype))

    return Call(door[0], ("astype",), (x, dtype), door[1], rules, detaches=True)


register("astype", draw_astype(), "astype")


# ---------------------------------------------------------------------------- matmul, linear


@st.composite
def draw_matmul(draw: st.DrawFn) -> Call:
    doors = [("F.matmul", F.matmul, ""), ("Tensor.matmul", lambda a, b: a.matmul(b), "a"),
             ("a @ b", operator.matmul, "a"), ("reflected @", operator.matmul, "b")]
    entry, fn, side = draw(st.sampled_from(doors))
    if draw(st.integers(0, 3)):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=2, min_side=0, max_side=3)).input_shapes
    else:
        sa, sb = draw(shapes(max_dims=3)), draw(shapes(max_dims=3))
    a = draw(operands(shape=sa, forms=("tensor",) if side == "a" else ARRAY_LIKE[:-1]))
    b = draw(operands(shape=sb, forms=("tensor",) if side == "b" else ARRAY_LIKE[:-1]))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        rule_matmul(v, a.shape, b.shape)
        v.done()
        return tensor_like(np.matmul(a.raw, b.raw))

    return Call(entry, ("matmul",), (a, b), fn, rules)


def rule_matmul(v: Verdict, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    if not sa or not sb:
        v.fail(ValueError, "a 0-d operand")
        return
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k_b:
        v.fail(ValueError, f"inner sizes {sa[-1]} != {k_b}")
    rule_broadcast(v, sa[:-2], sb[:-2])


register("matmul", draw_matmul(), "matmul", "__matmul__", "__rmatmul__")


@st.composite
def draw_linear(draw: st.DrawFn) -> Call:
    n_in, n_out = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    lead = draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    x_shape = lead + (n_in,) if draw(st.integers(0, 5)) else draw(shapes(max_dims=3))
    w_shape = (n_in, n_out) if draw(st.integers(0, 5)) else draw(shapes(max_dims=3))
    x = draw(operands(shape=x_shape, forms=ARRAY_LIKE[:-1]))
    w = draw(operands(shape=w_shape, forms=ARRAY_LIKE[:-1]))
    b = draw(st.none() | operands(shape=st.sampled_from([(n_out,), (n_out,), (), (1,),
                                                         (n_out + 1,)]),
                                  forms=("tensor", "array", "scalar")))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        rule_matmul(v, x.shape, w.shape)
        v.done()
        product = np.matmul(x.raw, w.raw)
        if product.dtype.kind == "c" and (x.requires_grad or w.requires_grad):
            v.fail(TypeError, "a complex product of an input that requires grad")
        if b is not None:
            fused = x.ndim == 2 and w.ndim == 2 and b.ndim == 1
            if fused and b.shape != (w.shape[1],):
                v.fail(ValueError, f"bias {b.shape} for weight {w.shape}")
            else:
                rule_broadcast(v, product.shape, b.shape)
            v.done()
            return tensor_like(product + b.raw)
        return tensor_like(product)

    return Call("F.linear", ("linear",), (x, w, b), F.linear, rules)


register("linear", draw_linear())
