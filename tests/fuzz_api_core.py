"""The API fuzzer's building blocks: operands, drawn arguments (valid and invalid), the
rules that decide whether a call is valid, and the check that runs one call.

A fuzz case is a :class:`Call`: the API entry it calls, the operands it builds fresh
for every run, and ``rules``, a function that decides *before the call runs* what must
happen. The rules are written out for each op, in one module per family
(fuzz_api_elementwise.py, _shape, _losses, _inplace, _conv, _tensor, _layers), each
registering its cases in :data:`SPECS`; they either return a check of the result,
computed with NumPy, or raise :class:`Invalid` with the error classes the call may
raise. :func:`run_call` then runs the call and holds it to that verdict:

* a valid call returns what the reference computes (values to the op table's
  tolerance, shape and dtype), mutates none of its inputs, never returns a tensor that
  requires grad unless it is real floating point, and its result backpropagates into
  gradients of its inputs' shapes and dtypes;
* an invalid call raises one of the predicted classes (ValueError, TypeError,
  IndexError, RuntimeError), and its message names the op (or the layer) and is not an
  error message of the code underneath (NumPy's, Python's).
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu import Tensor

# ---------------------------------------------------------------------------- bookkeeping

#: Calls run so far, by outcome and by API entry (printed at the end of the session).
CALLS: Counter[str] = Counter()

#: What an invalid call may raise.
ALLOWED = (ValueError, TypeError, IndexError, RuntimeError)
#: Messages of the code underneath: an error that carries one leaked out unnamed.
FOREIGN = (
    "not iterable", "unpack", "operands could not be broadcast", "has no attribute",
    "'NoneType'", "invalid literal", "cannot be interpreted as an integer",
    "did not contain a loop", "not supported between instances", "could not convert",
    "unsupported operand", "object is not subscriptable", "zero-size array",
    "only integer scalar arrays", "only 0-dimensional arrays", "truth value of an array",
    "data type", "inhomogeneous", "takes from", "positional argument",
)

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I64, BOOL, C128 = np.dtype(np.int64), np.dtype(np.bool_), np.dtype(np.complex128)
ALL_DTYPES = (F32, F64, I64, BOOL, C128)
FLOATS = (F32, F64)
REAL = (F32, F64, I64, BOOL)


class Invalid(Exception):
    """Raised by a rule: the call is invalid and must raise one of ``errors``, with a
    message naming one of ``names`` (default: the call's)."""

    def __init__(self, errors: tuple[type[Exception], ...], why: str,
                 names: tuple[str, ...] | None = None) -> None:
        super().__init__(why)
        self.errors = errors
        self.names = names


class Verdict:
    """Collects a call's problems; :meth:`done` raises :class:`Invalid` if there are
    any. Several problems at once allow any of their error classes."""

    def __init__(self) -> None:
        self.errors: list[type[Exception]] = []
        self.why: list[str] = []

    def fail(self, error: type[Exception] | tuple[type[Exception], ...], why: str) -> None:
        self.errors.extend(error if isinstance(error, tuple) else (error,))
        self.why.append(why)

    def done(self, names: tuple[str, ...] | None = None) -> None:
        if self.errors:
            raise Invalid(tuple(dict.fromkeys(self.errors)), "; ".join(self.why), names)


def refuse(error: type[Exception] | tuple[type[Exception], ...], why: str,
           names: tuple[str, ...] | None = None) -> None:
    v = Verdict()
    v.fail(error, why)
    v.done(names)


# ---------------------------------------------------------------------------- operands


@dataclass(frozen=True)
class Operand:
    """A tensor argument: its values, and the form the call receives it in (a Tensor,
    an ndarray, a nested list, a Python number), built fresh for every run."""

    array: np.ndarray
    form: str = "tensor"
    requires_grad: bool = False

    def make(self) -> Any:
        if self.form == "tensor":
            return Tensor(self.array.copy(), requires_grad=self.requires_grad)
        if self.form == "array":
            return self.array.copy()
        if self.form == "list":
            return self.array.tolist()
        return self.array.item()  # "scalar": a Python number (weak, as in NumPy 2)

    @property
    def raw(self) -> Any:
        """What NumPy gets in the reference: the same form."""
        if self.form in ("tensor", "array"):
            return self.array
        return self.array.tolist() if self.form == "list" else self.array.item()

    @property
    def weak(self) -> bool:
        """A Python number: it takes the other operand's dtype where NumPy 2 would."""
        return self.form in ("scalar", "list") and self.array.ndim == 0

    @property
    def seen(self) -> np.ndarray:
        """The array the library sees (a list of float32 values is float64, ...)."""
        return self.array if self.form in ("tensor", "array") else np.asarray(self.raw)

    @property
    def dtype(self) -> np.dtype:
        return self.seen.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.seen.shape

    @property
    def ndim(self) -> int:
        return self.seen.ndim

    def __repr__(self) -> str:
        values = np.array2string(self.array, threshold=12, separator=",").replace("\n", "")
        grad = ", requires_grad" if self.requires_grad else ""
        return f"{self.form}<{self.array.dtype}{self.array.shape}{grad}: {values}>"


@dataclass(frozen=True)
class Junk:
    """A value of the wrong type or kind in a tensor slot (``x + "a"``)."""

    value: Any

    def make(self) -> Any:
        return self.value

    @property
    def raw(self) -> Any:
        return self.value

    def __repr__(self) -> str:
        return f"Junk({self.value!r})"


Arg = Operand | Junk


# ---------------------------------------------------------------------------- strategies

#: Axis lengths: small, with an empty axis now and then.
SIDES = st.sampled_from([1, 2, 3, 2, 3, 4, 0])
#: Wrong types where an int (an axis, a size) is expected.
JUNK_INTS = st.sampled_from(["a", "1", 1.5, 2.0, True, False, None, (0, "a"), [None],
                             {}, b"x", 1 + 2j, np.float64(1.0), np.bool_(True)])
#: Wrong values in a tensor slot.
JUNK_VALUES = st.sampled_from(["a", None, {"a": 1}, b"x"])


def shapes(min_dims: int = 0, max_dims: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(SIDES, min_size=min_dims, max_size=max_dims).map(tuple)


def elements(dtype: np.dtype, special: bool) -> st.SearchStrategy[Any]:
    if dtype.kind == "f":
        finite = st.floats(-4, 4, width=dtype.itemsize * 8)
        if special:
            return finite | st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf])
        return finite
    if dtype.kind == "i":
        return st.integers(-4, 4)
    if dtype.kind == "b":
        return st.booleans()
    return st.builds(complex, st.floats(-3, 3), st.floats(-3, 3))


@st.composite
def arrays(draw: st.DrawFn, dtypes: Sequence[np.dtype] = ALL_DTYPES,
           shape: st.SearchStrategy[tuple[int, ...]] | tuple[int, ...] | None = None,
           special: bool | None = None) -> np.ndarray:
    dtype = draw(st.sampled_from(list(dtypes)))
    if shape is None:
        shape = shapes()
    shape = shape if isinstance(shape, tuple) else draw(shape)
    if special is None:  # non-finite values in some arrays, not in most
        special = draw(st.integers(0, 5)) == 0
    return draw(hnp.arrays(dtype, shape, elements=elements(dtype, special)))


@st.composite
def operands(draw: st.DrawFn, dtypes: Sequence[np.dtype] = ALL_DTYPES,
             shape: st.SearchStrategy[tuple[int, ...]] | tuple[int, ...] | None = None,
             forms: Sequence[str] = ("tensor",), grad: bool = True,
             special: bool | None = None) -> Operand:
    """An operand: a Tensor (requiring grad or not, where its dtype allows), or the
    other forms given in ``forms`` ("array", "list", "scalar"; "scalar" only for 0-d)."""
    array = draw(arrays(dtypes, shape, special))
    choices = [f for f in forms if f != "scalar" or array.ndim == 0]
    form = draw(st.sampled_from(choices or ["tensor"]))
    requires_grad = (form == "tensor" and grad and array.dtype.kind == "f"
                     and draw(st.booleans()))
    return Operand(array, form, requires_grad)


ARRAY_LIKE = ("tensor", "tensor", "array", "list", "scalar")


def int_args(valid: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    """An int argument: mostly valid ones (also as NumPy ints), some junk."""
    return st.one_of(valid, valid, valid.map(np.int64), JUNK_INTS)


def axis_arg(ndim: int) -> st.SearchStrategy[Any]:
    """One axis: in range (maybe negative), just out of range, or junk."""
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    return int_args(st.integers(lo - 1, hi + 1))


def axes_arg(ndim: int) -> st.SearchStrategy[Any]:
    """A reduction's axis: None, one axis, a tuple or list of axes (maybe repeated or
    out of range), or junk."""
    one = st.integers(-ndim - 1, ndim)
    several = st.lists(one, max_size=min(ndim + 1, 4))
    return st.one_of(st.none(), axis_arg(ndim), several.map(tuple), several,
                     st.tuples(one, JUNK_INTS))


def pair_arg(minimum: int, maximum: int) -> st.SearchStrategy[Any]:
    """An int-or-pair argument (stride, padding, kernel_size): valid or not."""
    n = st.integers(minimum - 1, maximum)
    return st.one_of(n, n, st.tuples(n, n), st.lists(n, min_size=2, max_size=2),
                     st.tuples(n), st.tuples(n, n, n), JUNK_INTS, st.tuples(n, JUNK_INTS))


# ---------------------------------------------------------------------------- rules


def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_))


RANGE = (ValueError, IndexError)  # an axis out of range (NumPy's AxisError is both)


def rule_axis(v: Verdict, axis: Any, ndim: int, what: str = "axis") -> int | None:
    """One axis: an int in [-ndim, ndim)."""
    if not is_int(axis):
        v.fail(TypeError, f"{what} {axis!r} is not an int")
        return None
    if not -ndim <= axis < ndim:
        v.fail(RANGE, f"{what} {axis} out of range for {ndim} dims")
        return None
    return int(axis) % ndim


def rule_axes(v: Verdict, axis: Any, ndim: int) -> tuple[int, ...] | None:
    """None (all), an int, or a tuple or list of ints, each in range, none repeated."""
    if axis is None:
        return tuple(range(ndim))
    if is_int(axis):
        items: tuple[Any, ...] = (axis,)
    elif isinstance(axis, (tuple, list)) and all(is_int(a) for a in axis):
        items = tuple(axis)
    else:
        v.fail(TypeError, f"axis {axis!r} is not None, an int or a tuple of ints")
        return None
    if any(not -ndim <= a < ndim for a in items):
        v.fail(RANGE, f"axis {axis!r} out of range for {ndim} dims")
        return None
    axes = tuple(int(a) % ndim for a in items)
    if len(set(axes)) != len(axes):
        v.fail(ValueError, f"repeated axis in {axis!r}")
        return None
    return axes


def rule_pair(v: Verdict, value: Any, minimum: int, what: str) -> tuple[int, int] | None:
    """An int or a pair (tuple or list) of ints, each >= minimum (bools refused)."""
    items = (value, value) if is_int(value) else value
    if not isinstance(items, (tuple, list)) or len(items) != 2 or not all(
            is_int(i) and i >= minimum for i in items):
        v.fail((ValueError, TypeError), f"{what} {value!r} is not an int or pair >= {minimum}")
        return None
    return int(items[0]), int(items[1])


def rule_shape(v: Verdict, shape: Any, allow_infer: bool) -> tuple[int, ...] | None:
    """A shape: an int or a tuple or list of ints; -1 once where ``allow_infer``, else
    no negative sizes."""
    items = (shape,) if is_int(shape) else shape
    if not isinstance(items, (tuple, list)) or not all(is_int(i) for i in items):
        v.fail(TypeError, f"shape {shape!r} is not a tuple of ints")
        return None
    items = tuple(int(i) for i in items)
    inferred = sum(i == -1 for i in items) if allow_infer else 0
    if inferred > 1 or any(i < 0 for i in items if not (allow_infer and i == -1)):
        v.fail(ValueError, f"shape {shape!r} has negative sizes")
        return None
    return items


def rule_broadcast(v: Verdict, *shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape (NumPy's rule: trailing sizes equal or 1)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(1, ndim + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k} - {1}
        if len(sizes) > 1:
            v.fail(ValueError, f"shapes {shapes} do not broadcast")
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(reversed(out))


def paired_dtypes(a: Operand, b: Operand) -> tuple[np.dtype, np.dtype]:
    """The dtypes of a binary op's operands once paired: a Python number is weak
    (``float32 * 2.0`` is float32), as in NumPy 2; of two numbers, the second."""
    if a.weak and not b.weak:
        return np.result_type(b.seen, a.raw), b.dtype
    return a.dtype, (np.result_type(a.seen, b.raw) if b.weak else b.dtype)


def rule_reduction(v: Verdict, reduction: Any) -> None:
    if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
        v.fail(ValueError, f"reduction {reduction!r}")


# ---------------------------------------------------------------------------- the registry

#: Every case strategy, by the op (or the Tensor method or layer) it calls.
SPECS: dict[str, st.SearchStrategy[Call]] = {}
#: The Tensor attributes (methods, operators, properties) that the cases call.
REACHED: set[str] = set()

Door = tuple[str, Callable[..., Any], bool]  # (entry, call, first operand must be a Tensor)


def register(name: str, strategy: st.SearchStrategy[Call], *methods: str) -> None:
    SPECS[name] = strategy
    REACHED.update(methods)


def first(draw: st.DrawFn, door: Door, **kw: Any) -> Operand:
    """The first operand: a Tensor for a method, any array-like for a function."""
    return draw(operands(forms=("tensor",) if door[2] else ARRAY_LIKE, **kw))


def kind(arg: Operand) -> str:
    return arg.dtype.kind



# ---------------------------------------------------------------------------- checks

TOLERANCE = {"f2": (1e-3, 1e-3), "f4": (2e-5, 2e-5), "c8": (2e-5, 2e-5),
             "f8": (1e-10, 1e-12), "c16": (1e-10, 1e-12)}


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Values equal to the op table's tolerance (exact for ints and bools)."""
    key = f"{actual.dtype.kind}{actual.dtype.itemsize}"
    with np.errstate(all="ignore"):
        if key in TOLERANCE:
            rtol, atol = TOLERANCE[key]
            np.testing.assert_allclose(actual, np.asarray(expected).astype(actual.dtype),
                                       rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=what)


def tensor_like(expected: np.ndarray, dtype: Any = None) -> Callable[[Any], None]:
    """A check: the result is a Tensor with ``expected``'s shape, the dtype ``dtype``
    (default: ``expected``'s) and ``expected``'s values."""
    expected = np.asarray(expected)
    want = np.dtype(dtype) if dtype is not None else expected.dtype

    def check(out: Any) -> None:
        assert isinstance(out, Tensor), f"expected a Tensor, got {type(out).__name__}"
        assert type(out.data) is np.ndarray, type(out.data)
        assert out.shape == expected.shape, f"shape {out.shape} != {expected.shape}"
        assert out.dtype == want, f"dtype {out.dtype} != {want}"
        assert_close(out.data, expected)

    check.dtype = want  # type: ignore[attr-defined]
    return check


def equals(expected: Any) -> Callable[[Any], None]:
    def check(out: Any) -> None:
        assert type(out) is type(expected) and out == expected, f"{out!r} != {expected!r}"

    return check


@dataclass
class Call:
    """One fuzz case (see the module's docstring)."""

    entry: str                                   # "F.sum", "Tensor.sum", "nn.Linear" ...
    names: tuple[str, ...]                       # one of them must be in an error message
    args: tuple[Any, ...]                        # Operands, Junk and plain values
    call: Callable[..., Any]                     # call(*built args)
    rules: Callable[[], Callable[[Any], None]]   # the check of a result, or raises Invalid
    mutates: bool = False                        # in-place ops change their first operand
    backward: bool = True                        # backpropagate a valid result
    detaches: bool = False                       # may return a non-float result, no graph
    shown: dict[str, Any] = field(default_factory=dict)  # other arguments, for the report

    def __repr__(self) -> str:
        args = ", ".join(repr(a) for a in self.args)
        extra = "".join(f", {k}={v!r}" for k, v in self.shown.items())
        return f"{self.entry}({args}{extra})"


def _build(arg: Any) -> Any:
    if isinstance(arg, (Operand, Junk)):
        return arg.make()
    if type(arg) in (list, tuple):  # a list of tensors (concatenate, stack)
        return type(arg)(_build(a) for a in arg)
    return arg


def _operands(args: Sequence[Any]) -> list[Operand]:
    out: list[Operand] = []
    for a in args:
        if isinstance(a, Operand):
            out.append(a)
        elif type(a) in (list, tuple):
            out.extend(_operands(a))
    return out


def _names_op(message: str, names: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message,
                         re.IGNORECASE) for n in names)


def run_call(case: Call) -> None:
    """Run one case and hold it to what its rules say must happen."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check = case.rules()
        if not case.detaches and getattr(check, "dtype", None) is not None and (
                check.dtype.kind == "c") and any(
                a.requires_grad for a in _operands(case.args)):
            refuse(TypeError, "a complex result of an input that requires grad")
    except Invalid as invalid:
        CALLS["invalid"] += 1
        CALLS[case.entry] += 1
        _expect_failure(case, invalid)
        return
    CALLS["valid"] += 1
    CALLS[case.entry] += 1
    built = [_build(a) for a in case.args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = case.call(*built)
        check(out)
    if not case.mutates:
        for arg, obj in zip(case.args, built):
            if isinstance(arg, Operand) and arg.form in ("tensor", "array"):
                data = obj.data if isinstance(obj, Tensor) else obj
                assert np.array_equal(data, arg.array, equal_nan=True), (
                    f"{case.entry} mutated {arg}")
    if isinstance(out, Tensor):
        assert not out.requires_grad or out.dtype.kind == "f", (
            f"{case.entry} returned a {out.dtype} tensor that requires grad")
        if case.backward and out.requires_grad:
            _backpropagates(case, out, built)


def _expect_failure(case: Call, invalid: Invalid) -> None:
    built = [_build(a) for a in case.args]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.call(*built)
    except ALLOWED as exc:
        message = str(exc)
        assert isinstance(exc, invalid.errors), (
            f"{case!r} is invalid ({invalid}): expected {invalid.errors}, got "
            f"{type(exc).__name__}: {message}")
        names = invalid.names or case.names
        assert _names_op(message, names), (
            f"{case!r}: the message does not name {names}: {type(exc).__name__}: {message}")
        foreign = [f for f in FOREIGN if f in message]
        assert not foreign, f"{case!r}: a message from deeper code ({foreign}): {message}"
        return
    raise AssertionError(f"{case!r} is invalid ({invalid}) but did not raise")


def _backpropagates(case: Call, out: Tensor, built: list[Any]) -> None:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.backward(np.ones(out.shape, dtype=out.dtype))
    for obj in built:
        for t in obj if isinstance(obj, (list, tuple)) else (obj,):
            if isinstance(t, Tensor) and t.requires_grad and t.grad is not None:
                assert t.grad.shape == t.shape and t.grad.dtype == t.dtype, (
                    f"{case.entry}: gradient {t.grad.shape} {t.grad.dtype} for an input "
                    f"{t.shape} {t.dtype}")
