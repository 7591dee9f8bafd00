"""The API fuzzer's cases for the Tensor itself: the constructor, conversions (item,
numpy, tolist, bool, float, int, index, len, iteration, NumPy's ``__array__`` and
ufuncs), the graph methods (detach, requires_grad_, retain_grad, zero_grad,
bump_version, backward) and the properties (see fuzz_api_core.py for how a case works).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_api_core import (
    ALL_DTYPES,
    ARRAY_LIKE,
    FLOATS,
    Call,
    Junk,
    Operand,
    Verdict,
    operands,
    refuse,
    register,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor

DTYPE_ARGS = [None, np.float32, np.float64, np.int64, np.bool_, np.complex128, "float32"]
JUNK_DATA = st.sampled_from([None, {}, {1: 2}, set(), "abc", b"x", [None], ["a", "b"],
                             [[1.0], [1.0, 2.0]], object()])


# ---------------------------------------------------------------------------- constructor


@st.composite
def draw_constructor(draw: st.DrawFn, cls: type[Tensor] = Tensor) -> Call:
    data: Operand | Junk = draw(operands(forms=ARRAY_LIKE + ("array",), grad=False,
                                         special=False))
    if draw(st.integers(0, 7)) == 0:
        data = Junk(draw(JUNK_DATA))
    requires_grad = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPE_ARGS) | st.sampled_from(["abc", 5, "U3", object]))

    def call(d: Any) -> Any:
        return cls(d, requires_grad=requires_grad, dtype=dtype)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if dtype not in DTYPE_ARGS:
            v.fail(TypeError, f"dtype {dtype!r}")
        if isinstance(data, Junk):
            ragged = data.value == [[1.0], [1.0, 2.0]]
            v.fail(ValueError if ragged else TypeError, f"data {data.value!r}")
        v.done()
        assert isinstance(data, Operand)
        if dtype is not None and data.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            refuse(TypeError, "complex data into a real dtype")
        expected = np.asarray(data.raw, dtype=dtype)
        if requires_grad and expected.dtype.kind != "f":
            refuse(TypeError, f"requires_grad for dtype {expected.dtype}")

        def check(out: Any) -> None:
            assert type(out) is cls
            tensor_like(expected)(out)
            assert out.requires_grad == requires_grad and out.is_leaf and out.grad is None

        return check

    return Call(cls.__name__, (cls.__name__, "Tensor"), (data,), call, rules, backward=False,
                shown={"requires_grad": requires_grad, "dtype": dtype})


register("Tensor()", draw_constructor(), "__init__")
register("nn.Parameter()", draw_constructor(tg.nn.Parameter))


# ---------------------------------------------------------------------------- conversions


def same_values(expected: Any) -> Callable[[Any], None]:
    """The result has ``expected``'s type and value (NaN equal to NaN)."""
    def check(out: Any) -> None:
        assert type(out) is type(expected), f"{type(out).__name__} != {type(expected).__name__}"
        assert np.array_equal(np.asarray(out), np.asarray(expected), equal_nan=True), (
            f"{out!r} != {expected!r}")

    return check


def one_value(x: Operand, what: str, error: type[Exception]) -> Any:
    if x.array.size != 1:
        refuse(error, f"{what} of {x.array.size} elements")
    return x.array.item()


def rules_item(x: Operand) -> Callable[[Any], None]:
    return same_values(one_value(x, "item", ValueError))


def rules_float(x: Operand) -> Callable[[Any], None]:
    value = one_value(x, "float()", TypeError)
    if isinstance(value, complex):
        refuse(TypeError, "float() of a complex number")
    return same_values(float(value))


def rules_int(x: Operand) -> Callable[[Any], None]:
    value = one_value(x, "int()", TypeError)
    if isinstance(value, complex):
        refuse(TypeError, "int() of a complex number")
    if isinstance(value, float) and not math.isfinite(value):
        refuse(ValueError, f"int() of {value}")
    return same_values(int(value))


def rules_bool(x: Operand) -> Callable[[Any], None]:
    return same_values(bool(one_value(x, "bool()", (ValueError, RuntimeError))))


def rules_index(x: Operand) -> Callable[[Any], None]:
    if x.array.dtype.kind not in "iu":
        refuse(TypeError, f"an index of dtype {x.array.dtype}")
    return same_values(operator.index(one_value(x, "an index", TypeError)))


def rules_len(x: Operand) -> Callable[[Any], None]:
    if x.array.ndim == 0:
        refuse(TypeError, "len() of a 0-d tensor")
    return same_values(len(x.array))


def rules_iter(x: Operand) -> Callable[[Any], None]:
    if x.array.ndim == 0:
        refuse(TypeError, "iteration over a 0-d tensor")

    def check(out: Any) -> None:
        assert isinstance(out, list) and len(out) == len(x.array)
        for row, expected in zip(out, x.array):
            tensor_like(expected)(row)

    return check


def rules_numpy(x: Operand) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        assert type(out) is np.ndarray and out.dtype == x.array.dtype
        assert np.array_equal(out, x.array, equal_nan=True)

    return check


def rules_tolist(x: Operand) -> Callable[[Any], None]:
    return same_values(x.array.tolist())


def rules_format(x: Operand) -> Callable[[Any], None]:
    expected = format(one_value(x, "format", TypeError), ".3f")

    def check(out: Any) -> None:
        assert out == expected, (out, expected)

    return check


def rules_cast(x: Operand, dtype: type) -> Callable[[Any], None]:
    if x.array.dtype.kind == "c":
        refuse(TypeError, f"a complex tensor cast to {np.dtype(dtype)}")
    return tensor_like(x.array.astype(dtype))


def rules_repr(x: Operand) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        assert isinstance(out, str) and out.startswith("Tensor(")
        assert f"shape={x.array.shape}" in out and f"dtype={x.array.dtype}" in out

    return check


CONVERSIONS: dict[str, tuple[Callable[[Any], Any], Callable[[Operand], Any], tuple[str, ...]]] = {
    "item": (lambda t: t.item(), rules_item, ("item",)),
    "float": (float, rules_float, ("float",)),
    "int": (int, rules_int, ("int", "integer")),
    "bool": (bool, rules_bool, ("bool",)),
    "index": (operator.index, rules_index, ("index", "__index__")),
    "len": (len, rules_len, ("len",)),
    "iter": (list, rules_iter, ("iteration", "iter")),
    "numpy": (lambda t: t.numpy(), rules_numpy, ("numpy",)),
    "tolist": (lambda t: t.tolist(), rules_tolist, ("tolist",)),
    "repr": (repr, rules_repr, ("repr",)),
    "numel": (lambda t: t.numel(), lambda x: same_values(x.array.size), ("numel",)),
    "format": (lambda t: f"{t:.3f}", rules_format, ("format",)),
    "float32": (lambda t: t.float(), lambda x: rules_cast(x, np.float32), ("astype", "float")),
    "double": (lambda t: t.double(), lambda x: rules_cast(x, np.float64), ("astype", "double")),
}
DUNDERS = {"float": "__float__", "int": "__int__", "bool": "__bool__", "index": "__index__",
           "len": "__len__", "iter": "__iter__", "repr": "__repr__", "format": "__format__",
           "float32": "float"}


@st.composite
def draw_conversion(draw: st.DrawFn, name: str) -> Call:
    fn, rules, names = CONVERSIONS[name]
    one = st.sampled_from([(), (1,), (1, 1)])
    x = draw(operands(shape=one if draw(st.booleans()) else shapes()))
    return Call(f"{name}(x)", names, (x,), fn, lambda: rules(x), backward=False)


for _name, (_, _, _names) in CONVERSIONS.items():
    register(f"Tensor.{_name}", draw_conversion(_name), DUNDERS.get(_name, _name))


@st.composite
def draw_array_protocol(draw: st.DrawFn) -> Call:
    """np.asarray(t[, dtype]), and NumPy ufuncs that inspect a Tensor or are refused."""
    x = draw(operands())
    how = draw(st.sampled_from(["asarray", "asarray dtype", "isnan", "sin", "reduce", "out"]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    out_array = np.zeros(x.array.shape, dtype=x.array.dtype)
    calls: dict[str, Callable[[Any], Any]] = {
        "asarray": np.asarray, "asarray dtype": lambda t: np.asarray(t, dtype=dtype),
        "isnan": np.isnan, "sin": np.sin, "reduce": np.add.reduce,
        "out": lambda t: np.add(t, 1, out=out_array.copy())}

    def rules() -> Callable[[Any], None]:
        if how in ("sin", "reduce", "out"):
            refuse(TypeError, f"np.{how} on a Tensor")
        if how == "isnan":
            return same_values(np.isnan(x.array))
        expected = x.array if how == "asarray" else x.array.astype(dtype)
        return same_values(expected)

    names = {"sin": ("np.sin",), "reduce": ("np.add.reduce",), "out": ("np.add",)}
    return Call(f"np ({how})", names.get(how, ("np",)), (x,), calls[how], rules,
                backward=False)


register("Tensor.__array__", draw_array_protocol(), "__array__", "__array_ufunc__")


# ---------------------------------------------------------------------------- the graph


@st.composite
def graph_operand(draw: st.DrawFn) -> tuple[Operand, bool]:
    """A tensor, and whether to use it through one op (``x * 1``, a non-leaf when ``x``
    requires grad) rather than as it is."""
    return draw(operands(special=False)), draw(st.booleans())


def through(t: Tensor, interior: bool) -> Tensor:
    return t * 1 if interior else t


@st.composite
def draw_graph_method(draw: st.DrawFn, name: str) -> Call:
    x, interior = draw(graph_operand())
    flag = draw(st.booleans())
    is_interior = interior and x.requires_grad

    def call(t: Tensor) -> Any:
        y = through(t, interior)
        if name == "detach":
            return y, y.detach()
        if name == "requires_grad_":
            return y, y.requires_grad_(flag)
        if name == "retain_grad":
            return y, y.retain_grad()
        if name == "zero_grad":
            y.grad = tg.zeros_like(y)
            return y, y.zero_grad()
        version = y.version
        return version, y.bump_version(), y.version

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if name == "requires_grad_":
            if is_interior:
                v.fail(RuntimeError, "requires_grad_ on a tensor made by an op")
            elif flag and x.dtype.kind != "f":
                v.fail(TypeError, f"requires_grad for dtype {x.dtype}")
        if name == "retain_grad" and not x.requires_grad:
            v.fail(RuntimeError, "retain_grad on a tensor that does not require grad")
        v.done()

        def check(out: Any) -> None:
            if name == "bump_version":
                assert out[1] is None and out[2] == out[0] + 1
                return
            y, result = out
            if name == "detach":
                assert not result.requires_grad and result.is_leaf
                assert np.shares_memory(result.data, y.data) or y.size == 0
                tensor_like(x.array * 1 if interior else x.array)(result)
            elif name == "requires_grad_":
                assert result is y and y.requires_grad == flag
            elif name == "retain_grad":
                assert result is None
            else:
                assert result is None and y.grad is None

        return check

    return Call(f"Tensor.{name}", (name,), (x,), call, rules, backward=False,
                shown={"interior": interior, "flag": flag})


for _name in ("detach", "requires_grad_", "retain_grad", "zero_grad", "bump_version"):
    register(f"Tensor.{_name}", draw_graph_method(_name), _name)


@st.composite
def draw_backward(draw: st.DrawFn) -> Call:
    x = draw(operands(special=False))
    how = draw(st.sampled_from(["mul", "sum", "leaf"]))
    y_shape = () if how == "sum" else x.array.shape
    grad: Operand | Junk | None = draw(st.one_of(
        st.none(), operands(shape=st.one_of(st.just(y_shape), shapes()),
                            forms=("tensor", "array", "list", "scalar"), grad=False)))
    if draw(st.integers(0, 9)) == 0:
        grad = Junk(draw(st.sampled_from(["a", {}, b"x"])))
    retain, create = draw(st.booleans()), draw(st.booleans())

    def call(t: Tensor, g: Any) -> Tensor:
        y = t * 3.0 if how == "mul" else (t.sum() if how == "sum" else t)
        y.backward(g, retain_graph=retain, create_graph=create)
        return t

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if not x.requires_grad:
            v.fail(RuntimeError, "backward of a tensor that does not require grad")
        if grad is None:
            if math.prod(y_shape) != 1:
                v.fail(RuntimeError, "no grad for a result of more than one element")
        elif isinstance(grad, Junk) or grad.dtype.kind not in "biuf":
            v.fail(TypeError, f"grad {grad!r}")
        elif grad.shape != y_shape:
            v.fail(RuntimeError, f"grad of shape {grad.shape} for a result {y_shape}")
        v.done()
        g = np.ones(y_shape) if grad is None else np.asarray(grad.raw, dtype=np.float64)
        expected = np.broadcast_to(g * (3.0 if how == "mul" else 1.0), x.array.shape)

        def check(t: Any) -> None:
            tensor_like(expected, x.array.dtype)(t.grad)

        return check

    return Call("Tensor.backward", ("backward",), (x, grad), call, rules, backward=False,
                shown={"how": how, "retain_graph": retain, "create_graph": create})


register("Tensor.backward", draw_backward(), "backward")


@st.composite
def draw_mT(draw: st.DrawFn) -> Call:
    x = draw(operands())

    def rules() -> Callable[[Any], None]:
        if x.array.ndim < 2:
            refuse(ValueError, f"mT of a {x.array.ndim}-d tensor")
        return tensor_like(np.swapaxes(x.array, -1, -2))

    return Call("Tensor.mT", ("mT",), (x,), lambda t: t.mT, rules)


register("Tensor.mT", draw_mT(), "mT")


@st.composite
def draw_properties(draw: st.DrawFn) -> Call:
    x = draw(operands(ALL_DTYPES + FLOATS * 2))
    interior = draw(st.booleans())

    def call(t: Tensor) -> Any:
        y = t * 2 if interior else t
        return (y, t, +y, hash(y), y.shape, y.ndim, y.size, y.dtype, y.is_leaf, y.op,
                y.parents, y.backward_fn, y.generation, y.version)

    def rules() -> Callable[[Any], None]:
        graph = interior and x.requires_grad

        def check(out: Any) -> None:
            y, t, pos, h, shape, ndim, size, dtype, leaf, op, parents, fn, gen, version = out
            a = x.array * 2 if interior else x.array
            assert pos is y and h == hash(y)
            assert (shape, ndim, size, dtype) == (a.shape, a.ndim, a.size, a.dtype)
            assert leaf is not graph and op == ("mul" if graph else None)
            assert (len(parents) == 2 and parents[0] is t) if graph else parents == ()
            assert (fn is not None) == graph
            assert gen == int(graph) and version == 0

        return check

    return Call("Tensor properties", ("Tensor",), (x,), call, rules, backward=False,
                shown={"interior": interior})


register("Tensor properties", draw_properties(), "shape", "ndim", "size", "dtype", "is_leaf",
         "op", "parents", "backward_fn", "generation", "version", "__pos__", "__hash__")
