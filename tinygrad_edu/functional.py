"""Every differentiable op, in one namespace: ``import tinygrad_edu.functional as F``.

The ops are written in :mod:`tinygrad_edu.ops`, one family per module, each op's
forward on arrays with its backward closure right below it:

===========================  ======================================================
``ops/broadcasting.py``      reshape, broadcast_to, sum and ``unbroadcast``
``ops/arithmetic.py``        add, sub, mul, div, neg, matmul
``ops/elementwise.py``       exp, log, sqrt, pow, abs, tanh, sigmoid, relu, ...
``ops/comparisons.py``       eq, ne, lt, le, gt, ge: boolean results, no graph
``ops/reductions.py``        mean, var, max, min, logsumexp, argmax, argmin
``ops/shape.py``             transpose, getitem, concatenate, stack, ...
``ops/losses.py``            softmax, log_softmax, mse_loss
``ops/fused.py``             linear and cross_entropy: one node each, for speed
``ops/inplace.py``           add_, sub_, ...: in-place updates, with version checks
``ops/conv.py``              im2col, col2im and the teaching conv2d (the book's)
``ops/pooling.py``           the teaching max_pool2d and avg_pool2d (through im2col)
``ops/fused_conv.py``        conv2d, max_pool2d, avg_pool2d: the fast ones used here
===========================  ======================================================

>>> import tinygrad_edu as tg
>>> from tinygrad_edu import functional as F
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> F.mul(x, x).sum().backward()
>>> x.grad
Tensor([2. 4.], shape=(2,), dtype=float64)
"""

from __future__ import annotations

from tinygrad_edu.ops.arithmetic import add, div, matmul, mul, neg, sub
from tinygrad_edu.ops.broadcasting import broadcast_to, reshape, sum, unbroadcast
from tinygrad_edu.ops.comparisons import eq, ge, gt, le, lt, ne
from tinygrad_edu.ops.conv import col2im, im2col
from tinygrad_edu.ops.elementwise import (
    abs,
    astype,
    clip,
    clone,
    exp,
    leaky_relu,
    log,
    maximum,
    minimum,
    pow,
    relu,
    sigmoid,
    sqrt,
    tanh,
    where,
)
from tinygrad_edu.ops.fused import cross_entropy, linear
from tinygrad_edu.ops.fused_conv import avg_pool2d, conv2d, max_pool2d
from tinygrad_edu.ops.inplace import add_, copy_, div_, fill_, mul_, sub_, zero_
from tinygrad_edu.ops.losses import REDUCTIONS, check_reduction, log_softmax, mse_loss, softmax
from tinygrad_edu.ops.reductions import argmax, argmin, logsumexp, max, mean, min, var
from tinygrad_edu.ops.shape import (
    cat,
    concatenate,
    expand,
    flatten,
    getitem,
    permute,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    # arithmetic
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "linear",
    # elementwise
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "clip",
    "maximum", "minimum", "where", "astype", "clone",
    # reductions
    "sum", "mean", "max", "min", "var", "logsumexp",
    # shape
    "reshape", "transpose", "permute", "swapaxes", "flatten", "squeeze", "unsqueeze",
    "broadcast_to", "expand", "getitem", "concatenate", "cat", "stack",
    # convolution and pooling
    "conv2d", "max_pool2d", "avg_pool2d", "im2col", "col2im",
    # activations and losses
    "softmax", "log_softmax", "cross_entropy", "mse_loss",
    # no graph: comparisons and arg-reductions
    "eq", "ne", "lt", "le", "gt", "ge", "argmax", "argmin",
    # in place (no graph; also Tensor methods and +=, -=, *=, /=)
    "add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_",
    # helpers
    "unbroadcast", "REDUCTIONS", "check_reduction",
]
