"""The API fuzzer's cases for softmax, log_softmax and the losses (cross_entropy,
mse_loss), with the Tensor methods that reach them (see fuzz_api_core.py for how a case
works, fuzz_api_elementwise.py for the dtype rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_api_core import (
    ALL_DTYPES,
    ARRAY_LIKE,
    Call,
    Operand,
    Verdict,
    axis_arg,
    first,
    kind,
    operands,
    paired_dtypes,
    register,
    rule_axis,
    rule_reduction,
    shapes,
    tensor_like,
)
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu.functional as F

# ---------------------------------------------------------------------------- softmax, losses


def softmax_ref(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind in "iu":
        x = x.astype(np.float64)
    if x.shape[axis] == 0:
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    s = e / e.sum(axis=axis, keepdims=True)
    return np.log(s) if log else s


@st.composite
def draw_softmax(draw: st.DrawFn, name: str) -> Call:
    door = draw(st.sampled_from([(f"F.{name}", getattr(F, name), False),
                                 (f"Tensor.{name}", lambda t, a: getattr(t, name)(a), True)]))
    x = first(draw, door)
    axis = draw(axis_arg(x.ndim))

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        ax = rule_axis(v, axis, x.ndim)
        if kind(x) in "bc":
            v.fail(TypeError, f"{name} of {x.dtype}")
        v.done()
        assert ax is not None
        return tensor_like(softmax_ref(x.raw, ax, name == "log_softmax"))

    return Call(door[0], (name,), (x, axis), door[1], rules)


for _name in ("softmax", "log_softmax"):
    register(_name, draw_softmax(_name), _name)

REDUCTION_ARGS = st.sampled_from(["mean", "sum", "none", "mean", "avg", None, 1])


def cross_entropy_ref(logits: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    """-sum(t * log_softmax(logits)), or -log_softmax(logits)[class], per row."""
    logp = softmax_ref(np.atleast_2d(logits).astype(np.float64), -1, log=True)
    if target.shape == logits.shape:
        losses = -(np.atleast_2d(target) * logp).sum(axis=-1)
    else:
        classes = np.atleast_1d(target)
        losses = -logp[np.arange(len(classes)), classes]
    if reduction == "none":
        return losses if logits.ndim == 2 else losses.reshape(())
    return losses.sum() / (len(losses) if reduction == "mean" else 1)


@st.composite
def draw_cross_entropy(draw: st.DrawFn) -> Call:
    n, c = draw(st.integers(0, 3)), draw(st.integers(0, 4))
    batched = draw(st.integers(0, 3)) > 0
    lead = (n,) if batched else ()
    logits = draw(operands((np.dtype(np.float64), np.dtype(np.float32)) * 3 + (
        np.dtype(np.int64),), shape=lead + (c,) if draw(st.integers(0, 7)) else shapes(),
        forms=("tensor", "tensor", "array", "list")))
    target_kind = draw(st.sampled_from(["index", "index", "soft", "soft", "other"]))
    if target_kind == "index":
        values = st.integers(-1, c) if draw(st.integers(0, 4)) == 0 else st.integers(
            0, max(c - 1, 0))
        target = Operand(draw(hnp.arrays(draw(st.sampled_from([np.int64, np.int32])), lead,
                                         elements=values)), draw(st.sampled_from(
                                             ["tensor", "array", "list"])))
    elif target_kind == "soft":  # finite: with an inf, -t.log_softmax reads inf - inf
        target = draw(operands(ALL_DTYPES, shape=lead + (c,), forms=("tensor", "array"),
                               special=False))
    else:
        target = draw(operands(ALL_DTYPES, shape=shapes(max_dims=3)))
    reduction = draw(REDUCTION_ARGS)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        rule_reduction(v, reduction)
        t = target
        lshape, tshape = logits.shape, t.shape
        if len(lshape) == 1:  # one sample: a batch of one
            if not (t.ndim == 0 or tshape == lshape):
                v.fail(ValueError, f"target {tshape} for logits {lshape}")
                v.done()
            lshape, tshape = (1,) + lshape, (1,) + tshape
        if len(lshape) != 2:
            v.fail(ValueError, f"logits of shape {logits.shape}")
        if kind(logits) != "f":
            v.fail(TypeError, "logits that are not floating point")
        v.done()
        rows, classes = lshape
        if classes == 0:
            v.fail(ValueError, "no classes")
        elif tshape == (rows, classes):
            if kind(t) not in "biuf":
                v.fail(TypeError, f"soft targets of {t.dtype}")
        elif tshape == (rows,):
            if kind(t) not in "iu":
                v.fail(TypeError, f"class indices of {t.dtype}")
            elif t.seen.size and (t.seen.min() < 0 or t.seen.max() >= classes):
                v.fail(IndexError, "a class out of range")
        else:
            v.fail(ValueError, f"target {t.shape} for logits {logits.shape}")
        v.done()
        return tensor_like(cross_entropy_ref(logits.seen, t.seen, reduction), logits.dtype)

    return Call("F.cross_entropy", ("cross_entropy",), (logits, target, reduction),
                F.cross_entropy, rules)


register("cross_entropy", draw_cross_entropy())


@st.composite
def draw_mse_loss(draw: st.DrawFn) -> Call:
    shape = draw(shapes(max_dims=3))
    x = draw(operands(shape=shape, forms=ARRAY_LIKE))
    t = draw(operands(shape=shape if draw(st.integers(0, 5)) else shapes(max_dims=3),
                      forms=ARRAY_LIKE))
    reduction = draw(REDUCTION_ARGS)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        for what, dtype in zip(("input", "target"), paired_dtypes(x, t)):
            if dtype.kind not in "iuf":
                v.fail(TypeError, f"{what} of {dtype}")
        if x.shape != t.shape:
            v.fail(ValueError, f"shapes {x.shape} and {t.shape}")
        rule_reduction(v, reduction)
        if reduction == "mean" and x.seen.size == 0:
            v.fail(ValueError, "the mean of nothing")
        v.done()
        # The dtype: NumPy's for x - t, where a float input casts the target to its own.
        paired = paired_dtypes(x, t)[0]
        dtype = np.result_type(*(a.raw if a.weak else a.seen for a in (x, t)))
        if paired.kind == "f" and not t.requires_grad:
            dtype = paired
        if reduction == "mean" and dtype.kind in "biu":
            dtype = np.dtype(np.float64)
        sq = (x.seen.astype(np.float64) - t.seen.astype(np.float64)) ** 2
        return tensor_like({"mean": np.mean, "sum": np.sum}.get(reduction, np.asarray)(sq),
                           dtype)

    return Call("F.mse_loss", ("mse_loss",), (x, t, reduction), F.mse_loss, rules)


register("mse_loss", draw_mse_loss())
