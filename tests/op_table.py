"""The op table: one entry per public op, driving every property test in test_ops.py.

Each :class:`OpSpec` says how to call the op (``fn``), what it must compute (``ref``, a
NumPy reference on float64 arrays), how to draw valid inputs (``samples``, a Hypothesis
strategy whose domain is *built*: log on [1e-2, 10], divisors away from 0, kinks
avoided, ties impossible), which arguments are differentiable, whether the op is twice
differentiable there, and how to reach it as a Tensor method or operator.

A drawn input is a :class:`Sample`: the array arguments (each becomes a Tensor), the
other arguments (axes, indices, constants) and the positions of the differentiable
arrays. ``fn(*tensors, **kwargs)`` and ``ref(*arrays, **kwargs)`` take the same
arguments, so every test is written once for all ops.

Adding an op to ``functional.__all__`` without an entry here fails
``test_every_public_op_has_a_table_entry``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from op_strategies import (  # noqa: I001
    OpSpec,
    astype_samples,
    away_from_zero,
    axis_samples,
    binary_samples,
    broadcast_to_samples,
    clip_samples,
    col2im_ref,
    col2im_samples,
    concat_samples,
    conv2d_ref,
    conv2d_samples,
    cross_entropy_ref,
    cross_entropy_samples,
    distinct_array,
    distinct_pair,
    divisor,
    flatten_ref,
    flatten_samples,
    getitem_ref,
    getitem_samples,
    im2col_ref,
    im2col_samples,
    leaky_samples,
    linear_ref,
    linear_samples,
    log_softmax_ref,
    logsumexp_ref,
    matmul_samples,
    moderate,
    mse_ref,
    mse_samples,
    pool_ref,
    pool_samples,
    positive_domain,
    pow_as_method,
    pow_ref,
    pow_samples,
    pow_with_constants,
    reduce_ref,
    reduce_samples,
    reshape_samples,
    softmax_ref,
    squeeze_samples,
    stack_samples,
    swapaxes_samples,
    transpose_samples,
    unary,
    unsqueeze_samples,
    where_samples,
)

import tinygrad_edu.functional as F

# Names in functional.__all__ that are helpers, not ops with their own entry.
HELPERS = frozenset({"unbroadcast", "REDUCTIONS", "check_reduction"})
# Functions that record no graph (comparisons, arg-reductions): tested against NumPy in
# test_tensor.py, and never differentiable.
NO_GRAPH = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "argmax", "argmin"})
# In-place updates: no graph either; tested in test_inplace.py.
IN_PLACE = frozenset({"add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_"})
EXCLUDED = HELPERS | NO_GRAPH | IN_PLACE

# Aliases: the same op under PyTorch's name; the entry is the primary's, called by alias.
ALIASES = {"cat": "concatenate", "expand": "broadcast_to"}

_SPECS = [
    # arithmetic
    OpSpec("add", F.add, np.add, binary_samples(), binary=True,
           methods=(lambda a, b: a + b, lambda a, b: b.__radd__(a), lambda a, b: a.add(b))),
    OpSpec("sub", F.sub, np.subtract, binary_samples(), binary=True,
           methods=(lambda a, b: a - b, lambda a, b: b.__rsub__(a), lambda a, b: a.sub(b))),
    OpSpec("mul", F.mul, np.multiply, binary_samples(), binary=True,
           methods=(lambda a, b: a * b, lambda a, b: b.__rmul__(a), lambda a, b: a.mul(b))),
    OpSpec("div", F.div, np.divide, binary_samples(None, divisor), binary=True,
           methods=(lambda a, b: a / b, lambda a, b: b.__rtruediv__(a),
                    lambda a, b: a.div(b))),
    OpSpec("pow", pow_with_constants, pow_ref, pow_samples, methods=(pow_as_method,)),
    OpSpec("neg", F.neg, np.negative, unary(), methods=(lambda a: -a, lambda a: a.neg())),
    OpSpec("matmul", F.matmul, np.matmul, matmul_samples,
           methods=(lambda a, b: a @ b, lambda a, b: b.__rmatmul__(a),
                    lambda a, b: a.matmul(b))),
    OpSpec("linear", F.linear, linear_ref, linear_samples),
    # elementwise
    OpSpec("exp", F.exp, np.exp, unary(moderate), methods=(lambda a: a.exp(),)),
    OpSpec("log", F.log, np.log, unary(positive_domain), methods=(lambda a: a.log(),)),
    OpSpec("sqrt", F.sqrt, np.sqrt, unary(positive_domain), methods=(lambda a: a.sqrt(),)),
    OpSpec("abs", F.abs, np.abs, unary(away_from_zero), methods=(lambda a: a.abs(),)),
    OpSpec("tanh", F.tanh, np.tanh, unary(), methods=(lambda a: a.tanh(),)),
    OpSpec("sigmoid", F.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), unary(),
           methods=(lambda a: a.sigmoid(),)),
    OpSpec("relu", F.relu, lambda x: np.maximum(x, 0.0), unary(away_from_zero),
           methods=(lambda a: a.relu(),)),
    OpSpec("leaky_relu", F.leaky_relu,
           lambda x, negative_slope: np.where(x > 0, x, negative_slope * x), leaky_samples,
           methods=(lambda a, negative_slope: a.leaky_relu(negative_slope),)),
    OpSpec("clip", F.clip, lambda x, min, max: np.clip(x, min, max), clip_samples,
           methods=(lambda a, min, max: a.clip(min, max),
                    lambda a, min, max: a.clamp(min, max))),
    OpSpec("maximum", F.maximum, np.maximum, distinct_pair, binary=True,
           methods=(lambda a, b: a.maximum(b),)),
    OpSpec("minimum", F.minimum, np.minimum, distinct_pair, binary=True,
           methods=(lambda a, b: a.minimum(b),)),
    OpSpec("where", F.where, np.where, where_samples),
    OpSpec("astype", F.astype, lambda x, dtype: x.astype(dtype), astype_samples,
           methods=(lambda a, dtype: a.astype(dtype),)),
    OpSpec("clone", F.clone, np.copy, unary(), methods=(lambda a: a.clone(),)),
    # reductions
    OpSpec("sum", F.sum, reduce_ref(np.sum), reduce_samples(),
           methods=(lambda a, axis, keepdims: a.sum(axis, keepdims),)),
    OpSpec("mean", F.mean, reduce_ref(np.mean), reduce_samples(),
           methods=(lambda a, axis, keepdims: a.mean(axis, keepdims),)),
    OpSpec("max", F.max, reduce_ref(np.max), reduce_samples(distinct_array),
           methods=(lambda a, axis, keepdims: a.max(axis, keepdims),)),
    OpSpec("min", F.min, reduce_ref(np.min), reduce_samples(distinct_array),
           methods=(lambda a, axis, keepdims: a.min(axis, keepdims),)),
    OpSpec("var", F.var, reduce_ref(np.var), reduce_samples(ddof=True),
           methods=(lambda a, axis, keepdims, ddof: a.var(axis, keepdims, ddof),)),
    OpSpec("logsumexp", F.logsumexp, logsumexp_ref, reduce_samples(),
           methods=(lambda a, axis, keepdims: a.logsumexp(axis, keepdims),)),
    # shape
    OpSpec("reshape", F.reshape, lambda x, shape: np.reshape(x, shape), reshape_samples, view=True,
           methods=(lambda a, shape: a.reshape(shape), lambda a, shape: a.reshape(*shape),
                    lambda a, shape: a.view(shape))),
    OpSpec("transpose", F.transpose, np.transpose, transpose_samples(False), view=True,
           methods=(lambda a, axes: a.transpose(axes),
                    lambda a, axes: a.T if axes is None else a.transpose(*axes))),
    OpSpec("permute", F.permute, np.transpose, transpose_samples(True), view=True,
           methods=(lambda a, axes: a.permute(axes), lambda a, axes: a.permute(*axes))),
    OpSpec("swapaxes", F.swapaxes, np.swapaxes, swapaxes_samples, view=True,
           methods=(lambda a, axis1, axis2: a.swapaxes(axis1, axis2),)),
    OpSpec("flatten", F.flatten, flatten_ref, flatten_samples, view=True,
           methods=(lambda a, start_dim, end_dim: a.flatten(start_dim, end_dim),)),
    OpSpec("squeeze", F.squeeze, np.squeeze, squeeze_samples, view=True,
           methods=(lambda a, axis: a.squeeze(axis),)),
    OpSpec("unsqueeze", F.unsqueeze, np.expand_dims, unsqueeze_samples, view=True,
           methods=(lambda a, axis: a.unsqueeze(axis),)),
    OpSpec("broadcast_to", F.broadcast_to, np.broadcast_to, broadcast_to_samples, view=True,
           methods=(lambda a, shape: a.broadcast_to(shape), lambda a, shape: a.expand(shape),
                    lambda a, shape: a.expand(*shape))),
    OpSpec("getitem", F.getitem, getitem_ref, getitem_samples, view=True,
           methods=(lambda a, index: a[index],)),
    OpSpec("concatenate", lambda *ts, axis: F.concatenate(ts, axis),
           lambda *xs, axis: np.concatenate(xs, axis), concat_samples),
    OpSpec("stack", lambda *ts, axis: F.stack(ts, axis), lambda *xs, axis: np.stack(xs, axis),
           stack_samples),
    # activations and losses
    OpSpec("softmax", F.softmax, softmax_ref, axis_samples,
           methods=(lambda a, axis: a.softmax(axis),)),
    OpSpec("log_softmax", F.log_softmax, log_softmax_ref, axis_samples,
           methods=(lambda a, axis: a.log_softmax(axis),)),
    OpSpec("cross_entropy", F.cross_entropy, cross_entropy_ref, cross_entropy_samples),
    OpSpec("mse_loss", F.mse_loss, mse_ref, mse_samples),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}
OPS["cat"] = replace(OPS["concatenate"], name="cat", fn=lambda *ts, axis: F.cat(ts, axis))
OPS["expand"] = replace(OPS["broadcast_to"], name="expand", fn=F.expand)

# The operators each op must be reachable through (checked in test_ops).
OPERATORS = {
    "add": ("__add__", "__radd__"), "sub": ("__sub__", "__rsub__"),
    "mul": ("__mul__", "__rmul__"), "div": ("__truediv__", "__rtruediv__"),
    "pow": ("__pow__", "__rpow__"), "matmul": ("__matmul__", "__rmatmul__"),
    "neg": ("__neg__",), "getitem": ("__getitem__",),
}


_CONV_SPECS = [
    OpSpec("conv2d", F.conv2d, conv2d_ref, conv2d_samples),
    # Pooling is piecewise linear: away from ties (the samples have none) its second
    # derivative in x is zero, and its gradient is linear in the upstream gradient.
    # Both backwards are Tensor ops, so gradgradcheck checks both, as for any op.
    OpSpec("max_pool2d", F.max_pool2d, pool_ref(np.max, -np.inf), pool_samples),
    OpSpec("avg_pool2d", F.avg_pool2d, pool_ref(np.mean, 0.0), pool_samples),
    OpSpec("im2col", F.im2col, im2col_ref, im2col_samples),
    OpSpec("col2im", F.col2im, col2im_ref, col2im_samples),
]
_SPECS.extend(_CONV_SPECS)
OPS.update({spec.name: spec for spec in _CONV_SPECS})
