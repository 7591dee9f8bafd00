"""The API fuzzer's cases for the layers of ``tinygrad_edu.nn``: each case builds a
layer from drawn constructor arguments (sizes, kernel pairs, initialisations, random
sources, dtypes, reductions; valid or not) and, when that is valid, calls it on a drawn
input (see fuzz_api_core.py for how a case works).

A constructor error must name the layer; an error of the forward call may name the
layer or the op it calls (``Linear`` or ``linear``). A valid forward call is checked
against NumPy, computed from the layer's own parameters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import fuzz_api_tensor  # noqa: F401  (registers the Parameter constructor's case)
import numpy as np
from fuzz_api_conv import image_shape
from fuzz_api_core import (
    ALL_DTYPES,
    FLOATS,
    SPECS,
    TOLERANCE,
    Call,
    Operand,
    Verdict,
    assert_close,
    int_args,
    is_int,
    is_real_number,
    operands,
    pair_arg,
    register,
    rule_pair,
    rule_reduction,
    shapes,
    tensor_like,
)
from fuzz_api_elementwise import UNARY_REF, rule_matmul
from fuzz_api_losses import REDUCTION_ARGS, cross_entropy_ref
from hypothesis import strategies as st
from op_strategies import conv2d_ref, pool_ref

from tinygrad_edu import Tensor, nn

#: The fuzz case of every layer of tinygrad_edu.nn, by name.
LAYERS: dict[str, st.SearchStrategy[Call]] = {"Parameter": SPECS["nn.Parameter()"]}

SIZES = int_args(st.integers(-1, 3))
INITS = ["he", "xavier", "relu", "glorot", "sigmoid", "kaiming", "He", 0.05, 0, 1]
BAD_INITS = ["unknown", -1.0, None, True, float("nan")]
RNGS = [0, None, 7]
BAD_RNGS = ["a", True, 1.5]
DTYPES = [np.float32, np.float64, "float32", None]
BAD_DTYPES = [np.int64, "abc", 5]


def fill_half(weight: Tensor, rng: Any) -> None:
    weight.data[...] = 0.5


def rule_size(v: Verdict, value: Any, what: str) -> None:
    if not is_int(value):
        v.fail(TypeError, f"{what} {value!r}")
    elif value <= 0:
        v.fail(ValueError, f"{what} {value}")


def rule_init(v: Verdict, weight_init: Any, rng: Any, dtype: Any) -> None:
    if isinstance(weight_init, str):
        if weight_init.lower() not in INITS:
            v.fail(ValueError, f"weight_init {weight_init!r}")
    elif is_real_number(weight_init):
        if not weight_init >= 0:
            v.fail(ValueError, f"a std of {weight_init}")
    elif not callable(weight_init):
        v.fail(TypeError, f"weight_init {weight_init!r}")
    if rng is not None and not is_int(rng):
        v.fail(TypeError, f"rng {rng!r}")
    if dtype not in DTYPES:
        v.fail(TypeError, f"dtype {dtype!r}")


def size_of(value: Any) -> int:
    """A usable size for the input even when the drawn argument is not one."""
    return int(value) if is_int(value) and value > 0 else 2


@st.composite
def init_args(draw: st.DrawFn) -> dict[str, Any]:
    return {"weight_init": draw(st.sampled_from(INITS + [fill_half]) | st.sampled_from(
                BAD_INITS)),
            "rng": draw(st.sampled_from(RNGS) | st.sampled_from(BAD_RNGS)),
            "dtype": draw(st.sampled_from(DTYPES) | st.sampled_from(BAD_DTYPES))}


def layer_call(name: str, ops: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any],
               x: Any, build_rules: Callable[[Verdict], None],
               forward_rules: Callable[[Verdict], Callable[[Any, Any], None]],
               training: bool = True) -> Call:
    """A case that builds ``nn.<name>(*args, **kwargs)`` and calls it on ``x``; the
    check it returns gets (layer, output)."""
    cls = getattr(nn, name)

    def call(*built: Any) -> Any:
        layer = cls(*built[:-1], **kwargs)
        layer.train(training)
        return layer, layer(built[-1])

    names = (name, cls.__name__)  # an alias (the book's Relu) reports its class's name

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        build_rules(v)
        v.done(names)
        check = forward_rules(v)
        v.done(names + ops)
        return lambda out: check(*out)

    return Call(f"nn.{name}", names, args + (x,), call, rules,
                shown=dict(kwargs, training=training))


# ---------------------------------------------------------------------------- Linear, Affine


@st.composite
def draw_linear(draw: st.DrawFn, name: str) -> Call:
    n_in, n_out = draw(SIZES), draw(SIZES)
    bias = draw(st.booleans())
    kwargs = draw(init_args())
    feature_shape = (size_of(n_in),) if name == "Linear" else draw(st.sampled_from(
        [(size_of(n_in),), (1, size_of(n_in)), (size_of(n_in), 1, 1)]))
    lead = draw(st.lists(st.integers(0, 3), min_size=0 if name == "Linear" else 1,
                         max_size=2).map(tuple))
    shape = lead + feature_shape if draw(st.integers(0, 4)) else draw(shapes())
    x = draw(operands(shape=shape, forms=("tensor", "array", "list")))

    def build(v: Verdict) -> None:
        rule_size(v, n_in, "in_features")
        rule_size(v, n_out, "out_features")
        rule_init(v, kwargs["weight_init"], kwargs["rng"], kwargs["dtype"])

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        xs = x.shape
        if name == "Affine":
            if x.ndim < 2:
                v.fail(ValueError, f"Affine of shape {xs}")
                return lambda layer, out: None
            xs = (xs[0], int(np.prod(xs[1:])))
        rule_matmul(v, xs, (n_in, n_out))
        if x.dtype.kind == "c":  # the weights require grad
            v.fail(TypeError, "a complex input")

        def check(layer: Any, out: Any) -> None:
            w = layer.weight.data
            ref = np.matmul(x.seen.reshape(xs), w)
            ref = ref if layer.bias is None else ref + layer.bias.data
            tensor_like(ref)(out)

        return check

    return layer_call(name, ("linear",), (n_in, n_out, bias), kwargs, x, build, forward)


# ---------------------------------------------------------------------------- activations


@st.composite
def draw_activation(draw: st.DrawFn, name: str) -> Call:
    x = draw(operands(forms=("tensor", "array", "list")))
    op = {"ReLU": "relu", "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}[name]

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        if op == "sigmoid" and x.dtype.kind in "bc":
            v.fail(TypeError, f"sigmoid of {x.dtype}")
        return lambda layer, out: tensor_like(UNARY_REF[op](x.seen))(out)

    return layer_call(name, (op,), (), {}, x, lambda v: None, forward)


@st.composite
def draw_sequential(draw: st.DrawFn) -> Call:
    k = draw(st.integers(1, 3))
    kinds = draw(st.lists(st.sampled_from(["relu", "tanh", "sigmoid", "linear", "junk"]),
                          max_size=3))
    modules: list[Any] = []
    for kind in kinds:
        if kind == "linear":
            modules.append(nn.Linear(k, k, rng=0))
        elif kind == "junk":
            modules.append(draw(st.sampled_from([5, "relu", None, np.tanh])))
        else:
            modules.append({"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kind]())
    as_dict = draw(st.booleans()) and all(isinstance(m, nn.Module) for m in modules)
    x = draw(operands(FLOATS, shape=(draw(st.integers(0, 3)), k)))

    def call(built_x: Any) -> Any:
        net = (nn.Sequential(OrderedDict((f"m{i}", m) for i, m in enumerate(modules)))
               if as_dict else nn.Sequential(*modules))
        return net, net(built_x)

    def rules() -> Callable[[Any], None]:
        bad = [m for m in modules if not isinstance(m, nn.Module)]
        if bad:
            v = Verdict()
            v.fail(TypeError, f"a module {bad[0]!r}")
            v.done()

        def check(out: Any) -> None:
            net, y = out
            ref = x.array
            for m in modules:
                if isinstance(m, nn.Linear):
                    ref = ref @ m.weight.data + m.bias.data
                else:
                    ref = UNARY_REF[type(m).__name__.lower()](ref)
            assert isinstance(y, Tensor) and y.shape == ref.shape and y.dtype == ref.dtype
            assert_close(y.data.astype(x.dtype), ref)  # to the precision of the input

        return check

    return Call("nn.Sequential", ("Sequential",), (x,), call, rules,
                shown={"modules": modules, "as_dict": as_dict})


# ---------------------------------------------------------------------------- Dropout


@st.composite
def draw_dropout(draw: st.DrawFn) -> Call:
    p = draw(st.sampled_from([0, 0.5, 1, 0.25, 1.0]) | st.floats(0, 1) | st.sampled_from(
        [1.5, -0.1, float("nan"), "a", None, True]))
    rng = draw(st.sampled_from(RNGS) | st.sampled_from(BAD_RNGS))
    x = draw(operands(forms=("tensor", "array")))
    training = draw(st.booleans())

    def build(v: Verdict) -> None:
        if not is_real_number(p):
            v.fail(TypeError, f"p {p!r}")
        elif not 0 <= p <= 1:
            v.fail(ValueError, f"p {p}")
        if rng is not None and not is_int(rng):
            v.fail(TypeError, f"rng {rng!r}")

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        def check(layer: Any, out: Any) -> None:
            assert isinstance(out, Tensor) and out.shape == x.shape
            if not training or p == 0:
                tensor_like(x.array)(out)
            elif p == 1:  # everything dropped: x * 0 (NaN for an inf or a NaN)
                tensor_like(x.array * np.zeros((), x.array.dtype))(out)
            else:  # each entry kept and scaled, or dropped: x * 0 (NaN for an inf)
                kept = (x.array * (1.0 / (1.0 - p))).astype(out.dtype)
                dropped = (x.array * 0.0).astype(out.dtype)
                rtol, atol = TOLERANCE[f"{out.dtype.kind}{out.dtype.itemsize}"]
                ok = (np.isclose(out.data, kept, rtol, atol, equal_nan=True)
                      | np.isclose(out.data, dropped, rtol, atol, equal_nan=True))
                assert ok.all(), out

        return check

    return layer_call("Dropout", ("mul",), (p,), {"rng": rng}, x, build, forward, training)


# ---------------------------------------------------------------------------- BatchNorm1d


@st.composite
def draw_batchnorm(draw: st.DrawFn) -> Call:
    c = draw(SIZES)
    eps = draw(st.sampled_from([1e-5, 0.1, 1]) | st.sampled_from([0, -1.0, "a", None, True]))
    momentum = draw(st.sampled_from([0.1, None, 0, 1, 0.5]) | st.sampled_from(
        [1.5, -0.1, "a", True]))
    affine = draw(st.booleans())
    dtype = draw(st.sampled_from(DTYPES) | st.sampled_from(BAD_DTYPES))
    n = draw(st.integers(0, 4))
    shape = (n, size_of(c)) if draw(st.integers(0, 4)) else draw(shapes())
    x = draw(operands(shape=shape, forms=("tensor", "array"), special=False))
    training = draw(st.booleans())

    def build(v: Verdict) -> None:
        rule_size(v, c, "num_features")
        if not (is_real_number(eps) and eps > 0):
            v.fail((ValueError, TypeError), f"eps {eps!r}")
        if momentum is not None and not (is_real_number(momentum) and 0 <= momentum <= 1):
            v.fail((ValueError, TypeError), f"momentum {momentum!r}")
        if dtype not in DTYPES:
            v.fail(TypeError, f"dtype {dtype!r}")

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        if x.ndim != 2 or x.shape[1] != c:
            v.fail(ValueError, f"input of shape {x.shape}")
        elif training and x.shape[0] < 2:
            v.fail(ValueError, "a batch of fewer than 2 in training")
        if x.dtype.kind != "f":
            v.fail(TypeError, f"an input of {x.dtype}")

        def check(layer: Any, out: Any) -> None:
            # To the precision of the input and of the statistics, whichever is lower.
            single = np.dtype(np.float32) in (x.dtype, layer.running_mean.dtype)
            lowest = np.float32 if single else np.float64
            a = x.array.astype(np.float64)
            if training:
                xhat = (a - a.mean(0)) / np.sqrt(a.var(0) + eps)
                m = 1.0 if momentum is None else momentum
                assert_close(layer.running_mean.astype(lowest), m * a.mean(0))
                assert_close(layer.running_var.astype(lowest),
                             (1 - m) + m * a.var(0, ddof=1))
            else:
                xhat = a / np.sqrt(1 + eps)
            want = np.result_type(x.dtype, layer.running_mean.dtype) if affine else x.dtype
            assert isinstance(out, Tensor) and out.shape == xhat.shape and out.dtype == want
            assert_close(out.data.astype(lowest), xhat)

        return check

    return layer_call("BatchNorm1d", (), (c, eps, momentum),
                      {"affine": affine, "dtype": dtype}, x, build, forward, training)


# ---------------------------------------------------------------------------- convolution


def rule_conv_forward(v: Verdict, x: Operand, c: int, kernel: tuple[int, int] | None,
                      padding: tuple[int, int] | None) -> None:
    shape = (1,) + x.shape if x.ndim == 3 else x.shape
    if len(shape) != 4:
        v.fail(ValueError, f"an input of shape {x.shape}")
        return
    if x.dtype.kind != "f":
        v.fail(TypeError, f"an input of {x.dtype}")
    if shape[1] != c:
        v.fail(ValueError, "channels differ")
    if kernel and padding and (kernel[0] > shape[2] + 2 * padding[0]
                               or kernel[1] > shape[3] + 2 * padding[1]):
        v.fail(ValueError, "the kernel does not fit")


def conv_check(x: Operand) -> Callable[[Any, Any], None]:
    def check(layer: Any, out: Any) -> None:
        bias = None if layer.bias is None else layer.bias.data
        ref = conv2d_ref(x.array.astype(np.float64), layer.weight.data, bias, layer.stride,
                         layer.padding)
        tensor_like(ref, np.result_type(x.dtype, layer.weight.dtype))(out)

    return check


@st.composite
def draw_conv2d(draw: st.DrawFn) -> Call:
    c_in, c_out = draw(SIZES), draw(SIZES)
    kernel, stride, padding = draw(pair_arg(1, 3)), draw(pair_arg(1, 2)), draw(pair_arg(0, 1))
    bias = draw(st.booleans())
    kwargs = draw(init_args())
    xs = draw(image_shape())
    xs = xs[:-3] + (size_of(c_in),) + xs[-2:] if len(xs) >= 3 and draw(st.booleans()) else xs
    x = draw(operands((FLOATS * 4) + ALL_DTYPES, xs, forms=("tensor", "array")))

    def build(v: Verdict) -> None:
        rule_size(v, c_in, "in_channels")
        rule_size(v, c_out, "out_channels")
        rule_pair(v, kernel, 1, "kernel_size")
        rule_pair(v, stride, 1, "stride")
        rule_pair(v, padding, 0, "padding")
        rule_init(v, kwargs["weight_init"], kwargs["rng"], kwargs["dtype"])

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        rule_conv_forward(v, x, c_in, rule_pair(v, kernel, 1, ""), rule_pair(v, padding, 0, ""))
        return conv_check(x)

    return layer_call("Conv2d", ("conv2d",), (c_in, c_out, kernel, stride, padding, bias),
                      kwargs, x, build, forward)


@st.composite
def draw_convolution(draw: st.DrawFn) -> Call:
    """The book's Convolution(W, b, stride, pad): the filters are given."""
    fn, c, fh, fw = (draw(st.integers(1, 2)) for _ in range(4))
    w_shape = (fn, c, fh, fw) if draw(st.integers(0, 4)) else draw(shapes(max_dims=5))
    W = draw(operands((FLOATS * 4) + ALL_DTYPES, w_shape, forms=("array", "tensor", "list"),
                      grad=False))
    b = draw(operands((FLOATS * 4) + ALL_DTYPES, st.sampled_from([(fn,), (fn,), (fn + 1,)]),
                      forms=("array", "tensor", "list"), grad=False))
    stride, pad = draw(pair_arg(1, 2)), draw(pair_arg(0, 1))
    xs = draw(image_shape())
    xs = xs[:-3] + (c,) + xs[-2:] if len(xs) >= 3 and draw(st.booleans()) else xs
    x = draw(operands(FLOATS, xs, forms=("tensor", "array")))

    def build(v: Verdict) -> None:
        for what, arg in (("W", W), ("b", b)):
            if arg.dtype.kind != "f":
                v.fail(TypeError, f"{what} of {arg.dtype}")
        if W.ndim != 4 or b.shape != W.shape[:1]:
            v.fail(ValueError, f"W {W.shape} and b {b.shape}")
        rule_pair(v, stride, 1, "stride")
        rule_pair(v, pad, 0, "pad")

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        rule_conv_forward(v, x, W.shape[1], W.shape[2:], rule_pair(v, pad, 0, ""))
        return conv_check(x)

    return layer_call("Convolution", ("conv2d",), (W, b, stride, pad), {}, x, build, forward)


@st.composite
def draw_pool_layer(draw: st.DrawFn, name: str) -> Call:
    if name == "Pooling":
        args: tuple[Any, ...] = (draw(int_args(st.integers(0, 3))),
                                 draw(int_args(st.integers(0, 3))), draw(pair_arg(1, 2)),
                                 draw(pair_arg(0, 1)))
        kernel, stride, padding = args[:2], args[2], args[3]
    else:
        kernel, padding = draw(pair_arg(1, 3)), draw(pair_arg(0, 1))
        stride = draw(st.none() | pair_arg(1, 2))
        args = (kernel, stride, padding)
    x = draw(operands((FLOATS * 4) + ALL_DTYPES, image_shape(), forms=("tensor", "array")))
    op = "avg_pool2d" if name == "AvgPool2d" else "max_pool2d"

    def build(v: Verdict) -> None:
        rule_pair(v, kernel, 1, "kernel_size")
        if stride is not None:
            rule_pair(v, stride, 1, "stride")
        rule_pair(v, padding, 0, "padding")

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        k, p = rule_pair(v, kernel, 1, ""), rule_pair(v, padding, 0, "")
        assert k is not None and p is not None
        if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
            v.fail(ValueError, "padding over half the kernel")
        rule_conv_forward(v, x, x.shape[-3] if x.ndim in (3, 4) else 0, k, p)

        def check(layer: Any, out: Any) -> None:
            reduce, fill = (np.mean, 0.0) if op == "avg_pool2d" else (np.max, -np.inf)
            ref = pool_ref(reduce, fill)(x.array.astype(np.float64), layer.kernel_size,
                                         layer.stride, layer.padding)
            tensor_like(ref, x.dtype)(out)

        return check

    return layer_call(name, (op,), args, {}, x, build, forward)


@st.composite
def draw_flatten(draw: st.DrawFn) -> Call:
    start, end = draw(int_args(st.integers(-3, 3))), draw(int_args(st.integers(-3, 3)))
    x = draw(operands(forms=("tensor", "array")))

    def build(v: Verdict) -> None:
        for what, value in (("start_dim", start), ("end_dim", end)):
            if not is_int(value):
                v.fail(TypeError, f"{what} {value!r}")

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        ndim = max(x.ndim, 1)
        dims = []
        for value in (start, end):
            if not -ndim <= value < ndim:
                v.fail((ValueError, IndexError), f"dim {value} for {x.ndim} dims")
            dims.append(value % ndim)
        if len(dims) == 2 and dims[0] > dims[1]:
            v.fail(ValueError, "start_dim after end_dim")

        def check(layer: Any, out: Any) -> None:
            a = x.array.reshape(x.shape or (1,))
            s, e = dims
            tensor_like(a.reshape(a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),)
                                  + a.shape[e + 1:]))(out)

        return check

    return layer_call("Flatten", ("flatten",), (start, end), {}, x, build, forward)


# ---------------------------------------------------------------------------- losses


@st.composite
def draw_loss(draw: st.DrawFn, name: str) -> Call:
    reduction = draw(REDUCTION_ARGS)
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    logits = draw(operands(FLOATS, (n, c) if draw(st.integers(0, 4)) else (
        st.sampled_from([(n + 1, c), (c,)]) if name != "MSELoss" else shapes(max_dims=3)),
        special=False))
    if name == "MSELoss":
        target = draw(operands(FLOATS, logits.shape if draw(st.integers(0, 4)) else shapes(
            max_dims=3), grad=False, special=False))
    else:
        target = draw(st.sampled_from([
            Operand(np.arange(n) % c), Operand(np.full(n, c)), Operand(np.ones((n, c)) / c),
            Operand(np.zeros((n + 1,), dtype=np.int64))]))
    op = "mse_loss" if name == "MSELoss" else "cross_entropy"

    def build(v: Verdict) -> None:
        rule_reduction(v, reduction)

    def forward(v: Verdict) -> Callable[[Any, Any], None]:
        if name == "MSELoss":
            if logits.shape != target.shape:
                v.fail(ValueError, "shapes differ")
            elif reduction == "mean" and logits.array.size == 0:
                v.fail(ValueError, "the mean of nothing")
        elif logits.ndim == 1 and target.shape != logits.shape:  # one sample: a class index
            v.fail(ValueError, f"logits {logits.shape}, target {target.shape}")  # is 0-d
        elif logits.ndim == 2 and target.shape not in ((logits.shape[0],), logits.shape):
            v.fail(ValueError, f"logits {logits.shape}, target {target.shape}")
        elif target.shape != logits.shape and target.array.max() >= c:
            v.fail(IndexError, "a class out of range")

        def check(layer: Any, out: Any) -> None:
            if name == "MSELoss":
                sq = (logits.array.astype(np.float64) - target.array) ** 2
                ref = {"mean": np.mean, "sum": np.sum}.get(reduction, np.asarray)(sq)
            else:
                ref = cross_entropy_ref(logits.array, target.array, reduction)
            tensor_like(ref, logits.dtype)(out)

        return check

    def call(*built: Any) -> Any:
        layer = getattr(nn, name)(reduction)
        return layer, layer(built[0], built[1])

    names = (name, getattr(nn, name).__name__)

    def rules() -> Callable[[Any], None]:
        v = Verdict()
        build(v)
        v.done(names)
        check = forward(v)
        v.done(names + (op,))
        return lambda out: check(*out)

    return Call(f"nn.{name}", names, (logits, target), call, rules,
                shown={"reduction": reduction})


_STRATEGIES: dict[str, st.SearchStrategy[Call]] = {
    "Linear": draw_linear("Linear"), "Affine": draw_linear("Affine"),
    **{name: draw_activation(name) for name in ("ReLU", "Relu", "Sigmoid", "Tanh")},
    "Sequential": draw_sequential(), "Dropout": draw_dropout(),
    "BatchNorm1d": draw_batchnorm(), "Conv2d": draw_conv2d(),
    "Convolution": draw_convolution(),
    **{name: draw_pool_layer(name) for name in ("MaxPool2d", "AvgPool2d", "Pooling")},
    "Flatten": draw_flatten(),
    **{name: draw_loss(name) for name in ("CrossEntropyLoss", "SoftmaxWithLoss", "MSELoss")},
}
for _name, _strategy in _STRATEGIES.items():
    LAYERS[_name] = _strategy
    register(f"nn.{_name}", _strategy)
