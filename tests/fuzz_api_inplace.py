"""The API fuzzer's cases for the in-place ops (``add_`` ... ``copy_``, and ``+=`` ...):
as functions, methods and operators, under grad mode and under ``no_grad`` (see
fuzz_api_core.py for how a case works).
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
    Call,
    Door,
    Junk,
    Operand,
    Verdict,
    kind,
    operands,
    register,
    rule_broadcast,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.functional as F

# ---------------------------------------------------------------------------- in place

INPLACE = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.true_divide}
IOPS = {"add_": operator.iadd, "sub_": operator.isub, "mul_": operator.imul,
        "div_": operator.itruediv}


@st.composite
def draw_inplace(draw: st.DrawFn, name: str) -> Call:
    doors: list[Door] = [(f"F.{name}", getattr(F, name), False),
                         (f"Tensor.{name}", lambda t, *a: getattr(t, name)(*a), True)]
    if name in IOPS:
        doors.append((f"x {IOPS[name].__name__} y", IOPS[name], True))
    door = draw(st.sampled_from(doors))
    t: Operand | Junk = draw(operands(forms=("tensor",) if door[2] else (
        "tensor", "tensor", "tensor", "array")))
    if not door[2] and draw(st.integers(0, 9)) == 0:
        t = Junk(draw(JUNK_VALUES))
    shape = t.shape if isinstance(t, Operand) else ()
    args: tuple[Any, ...] = ()
    if name != "zero_":
        other_shape = st.one_of(st.just(shape), st.just(shape[1:]), st.just(()), shapes())
        other: Operand | Junk = draw(operands(shape=other_shape, forms=ARRAY_LIKE))
        if draw(st.integers(0, 9)) == 0:
            other = Junk(draw(JUNK_VALUES))
        args = (other,)
    no_grad = draw(st.booleans())

    def call(*built: Any) -> Any:
        with tg.set_grad_enabled(not no_grad):
            return door[1](*built)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        if not (isinstance(t, Operand) and t.form == "tensor"):
            v.fail(TypeError, "not a Tensor")
            v.done()
        assert isinstance(t, Operand)
        other = args[0] if args else None
        if not no_grad and (t.requires_grad or getattr(other, "requires_grad", False)):
            v.fail(RuntimeError, "in place under grad mode")
        expected = t.array.copy()
        if isinstance(other, Junk):
            v.fail(TypeError, f"a value {other.value!r}")
        elif name == "fill_":
            assert other is not None
            if other.ndim:
                v.fail(ValueError, f"a fill value of shape {other.shape}")
            elif kind(other) == "c" and t.dtype.kind != "c":
                v.fail(TypeError, "a complex value into a real tensor")
            elif t.dtype.kind in "iu" and kind(other) == "f" and not np.isfinite(other.seen):
                v.fail(ValueError, f"{other.seen} into an integer tensor")
            else:
                expected[...] = other.raw
        elif other is not None:
            if rule_broadcast(v, t.shape, other.shape) not in (t.shape, None):
                v.fail(ValueError, f"{other.shape} does not broadcast to {t.shape}")
            if name == "copy_":
                result = other.dtype
            elif name == "sub_" and t.dtype == BOOL and kind(other) == "b":
                v.fail(TypeError, "subtraction of booleans")
                result = t.dtype
            else:
                result = np.result_type(t.array, other.raw if other.form == "scalar"
                                        else other.seen)
                if name == "div_":
                    result = np.result_type(result, np.float16)
            if not np.can_cast(result, t.dtype, "same_kind"):
                v.fail(TypeError, f"{result} into {t.dtype}")
            v.done()
            if name == "copy_":
                np.copyto(expected, other.raw, casting="same_kind")
            else:
                INPLACE[name](expected, other.raw, out=expected, casting="same_kind")
        else:
            expected[...] = 0
        v.done()

        def check(out: Any) -> None:
            tensor_like(expected)(out)
            assert out.version == 1, f"version {out.version} after one in-place op"

        return check

    return Call(door[0], (name,), (t,) + args, call, rules, mutates=True, backward=False,
                shown={"no_grad": no_grad})


for _name in ("add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_"):
    register(_name, draw_inplace(_name), _name,
             *({"add_": ("__iadd__",), "sub_": ("__isub__",), "mul_": ("__imul__",),
                "div_": ("__itruediv__",)}.get(_name, ())))
