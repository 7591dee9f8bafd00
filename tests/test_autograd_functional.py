"""tinygrad_edu.autograd.functional against PyTorch and against finite differences.

The functions under test are random programs over the smooth ops of the op table
(``OPS[name].fn``): a few elementwise steps on one or two inputs (each step may reuse
any earlier value, so graphs branch and merge), then a head (a reduction, softmax,
a matmul or nothing). Each op's operand is first mapped into the op's domain in the op
table (log and sqrt on [1e-2, 10], exp on [-4, 4], divisors in [0.5, 10], pow with base
in [0.1, 5]) by a sigmoid or tanh squash, so no value lands on a pole, and no op with a
kink (abs, relu, max, clip) is used.

A pow exponent is drawn from (-1.4, 2) with 0 at an input no float hits: at an exponent
of exactly 0 PyTorch's second derivative of ``a ** b`` (its backward masks
``b * a**(b-1)`` to 0 where ``b == 0``, which also zeroes its derivative along ``b``)
disagrees with finite differences, and ours does not
(``test_pow_second_derivative_at_exponent_zero``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from op_table import OPS

import tinygrad_edu as tg
from tinygrad_edu.autograd import functional as AF
from tinygrad_edu.testing import arrays, finite_floats

UNARY = ("exp", "log", "sqrt", "tanh", "sigmoid", "neg")
BINARY = ("add", "sub", "mul", "div", "pow")
HEADS = ("none", "sum", "mean", "var", "logsumexp", "softmax", "log_softmax", "matmul")
# The op table's domains (op_table: _positive, _moderate, _divisor, _pow_samples).
UNARY_DOMAIN = {"log": (1e-2, 10.0), "sqrt": (1e-2, 10.0), "exp": (-4.0, 4.0)}
DIVISOR, POW_BASE = (0.5, 10.0), (0.1, 5.0)


@dataclass(frozen=True)
class Program:
    """``steps`` of ``(op, i, j)``: op applied to earlier values i (and j, for a binary
    op), indices taken modulo the number of values so far; then ``head``."""

    shapes: tuple[tuple[int, ...], ...]
    steps: tuple[tuple[str, int, int], ...]
    head: str


class Ops:
    """One backend's versions of the ops a program uses: the op table's functions, or
    PyTorch's."""

    def __init__(self, table: dict[str, Callable[..., Any]], head: dict[str, Callable[..., Any]],
                 sigmoid: Callable[[Any], Any], tanh: Callable[[Any], Any]) -> None:
        self.table, self.head_ops, self.sigmoid, self.tanh = table, head, sigmoid, tanh

    def into(self, h: Any, lo: float, hi: float) -> Any:
        return lo + (hi - lo) * self.sigmoid(h)

    def step(self, op: str, a: Any, b: Any) -> Any:
        if op in UNARY:
            if op in UNARY_DOMAIN:
                lo, hi = UNARY_DOMAIN[op]
                a = self.tanh(a) * hi if op == "exp" else self.into(a, lo, hi)
            return self.table[op](a)
        if op == "div":
            return self.table[op](a, self.into(b, *DIVISOR))
        if op == "pow":
            return self.table[op](self.into(a, *POW_BASE), 0.3 + 1.7 * self.tanh(b))
        return self.table[op](a, b)

    def run(self, program: Program, *xs: Any) -> Any:
        vals = list(xs)
        for op, i, j in program.steps:
            vals.append(self.step(op, vals[i % len(vals)], vals[j % len(vals)]))
        out = vals[-1]
        if program.head == "none" or out.ndim == 0:
            return out
        return self.head_ops[program.head](out)


def _tg_ops() -> Ops:
    fn = {name: OPS[name].fn for name in UNARY + BINARY}
    head = {
        "sum": lambda x: OPS["sum"].fn(x, axis=-1, keepdims=False),
        "mean": lambda x: OPS["mean"].fn(x, axis=-1, keepdims=False),
        "var": lambda x: OPS["var"].fn(x, axis=-1, keepdims=False, ddof=0),
        "logsumexp": lambda x: OPS["logsumexp"].fn(x, axis=-1, keepdims=False),
        "softmax": lambda x: OPS["softmax"].fn(x, axis=-1),
        "log_softmax": lambda x: OPS["log_softmax"].fn(x, axis=-1),
        "matmul": lambda x: OPS["matmul"].fn(x, x.T if x.ndim == 2 else x),
    }
    return Ops(fn, head, OPS["sigmoid"].fn, OPS["tanh"].fn)


def _torch_ops() -> Ops:
    torch = pytest.importorskip("torch")
    fn = {"exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh,
          "sigmoid": torch.sigmoid, "neg": torch.neg, "add": torch.add, "sub": torch.sub,
          "mul": torch.mul, "div": torch.div, "pow": torch.pow}
    head = {
        "sum": lambda x: x.sum(-1), "mean": lambda x: x.mean(-1),
        "var": lambda x: x.var(-1, correction=0), "logsumexp": lambda x: x.logsumexp(-1),
        "softmax": lambda x: x.softmax(-1), "log_softmax": lambda x: x.log_softmax(-1),
        "matmul": lambda x: x @ (x.T if x.ndim == 2 else x),
    }
    return Ops(fn, head, torch.sigmoid, torch.tanh)


TG = _tg_ops()


@st.composite
def programs(draw: st.DrawFn) -> Program:
    n_inputs = draw(st.integers(1, 2))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_inputs, max_dims=2,
                                                    max_side=3)).input_shapes
    n_steps = draw(st.integers(1, 4))
    ops = st.sampled_from(UNARY + BINARY)
    steps = tuple((draw(ops), draw(st.integers(0, 9)), draw(st.integers(0, 9)))
                  for _ in range(n_steps))
    # The first step reads the last input, so every input can matter.
    steps = ((steps[0][0], n_inputs - 1, steps[0][2]),) + steps[1:]
    return Program(tuple(shapes), steps, draw(st.sampled_from(HEADS)))


def _values(draw: st.DrawFn, shapes: Any, lo: float = -2.0, hi: float = 2.0) -> list[np.ndarray]:
    return [draw(arrays(s, np.float64, finite_floats(lo, hi))) for s in shapes]


def _close(ours: Any, theirs: Any) -> None:
    """Absolute 1e-10 or relative 1e-8, whichever is larger."""
    a = np.asarray(ours.data if isinstance(ours, tg.Tensor) else ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    tol = np.maximum(1e-10, 1e-8 * np.abs(b))
    assert np.all(np.abs(a - b) <= tol), np.max(np.abs(a - b) - tol)


def _close_nested(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _close_nested(o, t)
    else:
        _close(ours, theirs)


def _as_inputs(arrs: list[np.ndarray], make: Callable[[np.ndarray], Any], as_tuple: bool) -> Any:
    made = tuple(make(a) for a in arrs)
    return made if as_tuple or len(made) > 1 else made[0]


@settings(max_examples=200)
@given(program=programs(), data=st.data())
def test_equal_to_pytorch_on_random_functions(program: Program, data: st.DataObject) -> None:
    torch = pytest.importorskip("torch")
    TF = torch.autograd.functional
    TT = _torch_ops()
    xs = _values(data.draw, program.shapes)
    as_tuple = data.draw(st.booleans())

    def ours(arrs: list[np.ndarray]) -> Any:
        return _as_inputs(arrs, tg.Tensor, as_tuple)

    def theirs(arrs: list[np.ndarray]) -> Any:
        return _as_inputs(arrs, torch.tensor, as_tuple)

    def f_tg(*x: Any) -> Any:
        return TG.run(program, *x)

    def f_t(*x: Any) -> Any:
        return TT.run(program, *x)

    def s_tg(*x: Any) -> Any:
        return f_tg(*x).sum()

    def s_t(*x: Any) -> Any:
        return f_t(*x).sum()

    out_shape = f_tg(*[tg.Tensor(x) for x in xs]).shape
    v_out = _values(data.draw, [out_shape], -1.0, 1.0)[0]
    v_in = _values(data.draw, program.shapes, -1.0, 1.0)

    _close_nested(AF.jacobian(f_tg, ours(xs)), TF.jacobian(f_t, theirs(xs)))
    o1, p1 = AF.vjp(f_tg, ours(xs), tg.Tensor(v_out))
    o2, p2 = TF.vjp(f_t, theirs(xs), torch.tensor(v_out))
    _close(o1, o2)
    _close_nested(p1, p2)
    _close_nested(AF.jvp(f_tg, ours(xs), ours(v_in)), TF.jvp(f_t, theirs(xs), theirs(v_in)))
    _close_nested(AF.hessian(s_tg, ours(xs)), TF.hessian(s_t, theirs(xs)))
    _close_nested(AF.hvp(s_tg, ours(xs), ours(v_in)), TF.hvp(s_t, theirs(xs), theirs(v_in)))
    _close_nested(AF.vhp(s_tg, ours(xs), ours(v_in)), TF.vhp(s_t, theirs(xs), theirs(v_in)))


@settings(max_examples=30)
@given(program=programs(), data=st.data())
def test_create_graph_results_differentiate_like_pytorch(program: Program,
                                                         data: st.DataObject) -> None:
    """d/dx of (v^T J) . w and of (H v) . w, through create_graph=True."""
    torch = pytest.importorskip("torch")
    TF = torch.autograd.functional
    TT = _torch_ops()
    xs = _values(data.draw, program.shapes)
    out_shape = TG.run(program, *[tg.Tensor(x) for x in xs]).shape
    v = _values(data.draw, [out_shape], -1.0, 1.0)[0]
    ws = _values(data.draw, program.shapes, -1.0, 1.0)
    ours = [tg.Tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]

    _, p1 = AF.vjp(lambda *x: TG.run(program, *x), tuple(ours), tg.Tensor(v), create_graph=True)
    _, p2 = TF.vjp(lambda *x: TT.run(program, *x), tuple(theirs), torch.tensor(v),
                   create_graph=True)
    total1 = sum((p * tg.Tensor(w)).sum() for p, w in zip(p1, ws))
    total2 = sum((p * torch.tensor(w)).sum() for p, w in zip(p2, ws))
    assert total1.requires_grad == total2.requires_grad  # False for a linear function
    if total1.requires_grad:
        for a, b, x in zip(tg.grad(total1, ours, allow_unused=True),
                           torch.autograd.grad(total2, theirs, allow_unused=True), xs):
            _close(np.zeros(x.shape) if a is None else a, np.zeros(x.shape) if b is None else b)

    _, h1 = AF.hvp(lambda *x: TG.run(program, *x).sum(), tuple(ours),
                   tuple(tg.Tensor(w) for w in ws), create_graph=True)
    _, h2 = TF.hvp(lambda *x: TT.run(program, *x).sum(), tuple(theirs),
                   tuple(torch.tensor(w) for w in ws), create_graph=True)
    _close_nested(h1, h2)


def _numerical_jacobian(f: Callable[..., np.ndarray], xs: list[np.ndarray],
                        eps: float = 1e-6) -> list[np.ndarray]:
    """d f / d xs[j] by central differences, shaped out.shape + xs[j].shape."""
    out = f(*xs)
    cols = []
    for j, x in enumerate(xs):
        jac = np.zeros(out.shape + x.shape)
        for k in np.ndindex(x.shape):
            hi = [a.copy() for a in xs]
            lo = [a.copy() for a in xs]
            hi[j][k] += eps
            lo[j][k] -= eps
            jac[(...,) + k] = (f(*hi) - f(*lo)) / (2 * eps)
        cols.append(jac)
    return cols


@settings(max_examples=40)
@given(program=programs(), data=st.data())
def test_equal_to_finite_differences(program: Program, data: st.DataObject) -> None:
    xs = _values(data.draw, program.shapes)

    def f(*arrs: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return TG.run(program, *[tg.Tensor(a) for a in arrs]).data

    def grad_f(*arrs: np.ndarray) -> np.ndarray:  # the gradient of the sum, by autograd
        ts = [tg.Tensor(a, requires_grad=True) for a in arrs]
        gs = tg.grad(TG.run(program, *ts).sum(), ts, allow_unused=True)
        return np.concatenate([np.zeros(a.size) if g is None else g.data.ravel()
                               for g, a in zip(gs, arrs)])

    def near(ours: Any, numeric: np.ndarray) -> None:
        np.testing.assert_allclose(np.asarray(ours.data), numeric, rtol=1e-4, atol=1e-5)

    ts = tuple(tg.Tensor(x) for x in xs)
    jac = AF.jacobian(lambda *x: TG.run(program, *x), ts)
    for ours, numeric in zip(jac, _numerical_jacobian(f, xs)):
        near(ours, numeric)
    v = _values(data.draw, program.shapes, -1.0, 1.0)
    _, d = AF.jvp(lambda *x: TG.run(program, *x), ts, tuple(tg.Tensor(a) for a in v))
    eps = 1e-6
    along = (f(*[x + eps * a for x, a in zip(xs, v)]) - f(*[x - eps * a for x, a in zip(xs, v)]))
    near(d, along / (2 * eps))
    hess = AF.hessian(lambda *x: TG.run(program, *x).sum(), ts)
    numeric = _numerical_jacobian(grad_f, xs)  # rows: all inputs flattened
    offsets = np.cumsum([0] + [x.size for x in xs])
    for i, x_i in enumerate(xs):
        for j, x_j in enumerate(xs):
            block = numeric[j][offsets[i]:offsets[i + 1]].reshape(x_i.shape + x_j.shape)
            near(hess[i][j], block)


# ---------------------------------------------------------------------------- semantics


def _f(x: tg.Tensor, y: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
    return (x * y).exp(), (x ** 2).sum() + y.sum()


def test_result_structure_follows_inputs_and_outputs() -> None:
    x, y = tg.Tensor([0.1, 0.2]), tg.Tensor([0.3, 0.4])
    J = AF.jacobian(_f, (x, y))
    assert isinstance(J, tuple) and all(isinstance(row, tuple) and len(row) == 2 for row in J)
    assert [[j.shape for j in row] for row in J] == [[(2, 2), (2, 2)], [(2,), (2,)]]
    assert AF.jacobian(lambda a: a.exp(), x).shape == (2, 2)
    assert isinstance(AF.jacobian(lambda a: a.exp(), (x,)), tuple)
    out, g = AF.vjp(lambda a: a.exp(), x, tg.Tensor([1.0, 1.0]))
    assert isinstance(out, tg.Tensor) and isinstance(g, tg.Tensor)
    H = AF.hessian(lambda a, b: (a * b).sum(), (x, y))
    np.testing.assert_array_equal(H[0][1].data, np.eye(2))
    np.testing.assert_array_equal(H[0][0].data, np.zeros((2, 2)))
    forward = AF.jacobian(_f, (x, y), strategy="forward-mode")
    _close_nested(forward, J)
    _close_nested(AF.hessian(lambda a: (a.exp() * a).sum(), x,
                             outer_jacobian_strategy="forward-mode"),
                  AF.hessian(lambda a: (a.exp() * a).sum(), x))


def test_v_may_be_omitted_only_for_one_element() -> None:
    x = tg.Tensor(0.5)
    assert float(AF.vjp(lambda a: a.exp(), x)[1]) == pytest.approx(np.exp(0.5))
    assert float(AF.jvp(lambda a: a.exp(), x)[1]) == pytest.approx(np.exp(0.5))
    assert float(AF.hvp(lambda a: a.exp(), x)[1]) == pytest.approx(np.exp(0.5))
    with pytest.raises(RuntimeError, match="vjp: v can be None only"):
        AF.vjp(lambda a: a.exp(), tg.Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="jvp: v can be None only"):
        AF.jvp(lambda a: a.sum(), tg.Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"vjp: entry 0 in v has invalid shape: should be "
                                           r"\(2,\).*got \(3,\)"):
        AF.vjp(lambda a: a.exp(), tg.Tensor([1.0, 2.0]), tg.Tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="hvp: v is a tuple of invalid length: should be 2"):
        AF.hvp(lambda a, b: (a * b).sum(), (x, x), (x,))


def test_independent_inputs_give_zeros_or_raise_in_strict_mode() -> None:
    x, y = tg.Tensor([1.0, 2.0]), tg.Tensor([3.0])

    def only_x(a: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
        return a.exp()

    J = AF.jacobian(only_x, (x, y))
    np.testing.assert_array_equal(J[1].data, np.zeros((2, 1)))
    _, g = AF.vjp(lambda a, b: a.exp().sum(), (x, y))
    np.testing.assert_array_equal(g[1].data, [0.0])
    _, d = AF.jvp(lambda a: tg.Tensor(5.0), x, tg.Tensor([1.0, 1.0]))
    assert float(d) == 0.0
    np.testing.assert_array_equal(AF.hessian(lambda a: a.sum(), x).data, np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="jacobian: output 0 .* independent of input 1"):
        AF.jacobian(only_x, (x, y), strict=True)
    with pytest.raises(RuntimeError, match="vjp: .*independent of input 1"):
        AF.vjp(lambda a, b: a.exp().sum(), (x, y), strict=True)
    with pytest.raises(RuntimeError, match="vjp: output 0 .* does not require grad"):
        AF.vjp(lambda a: tg.Tensor(5.0), x, strict=True)
    with pytest.raises(RuntimeError, match="hessian: the Jacobian .* does not depend"):
        AF.hessian(lambda a: a.sum(), x, strict=True)
    with pytest.raises(ValueError, match="strict=True and strategy='forward-mode'"):
        AF.jacobian(only_x, (x, y), strict=True, strategy="forward-mode")


def test_create_graph_keeps_the_graph_and_otherwise_detaches() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    out, g = AF.vjp(lambda a: (a ** 3).sum(), x)
    assert not out.requires_grad and not g.requires_grad and x.grad is None
    out, g = AF.vjp(lambda a: (a ** 3).sum(), x, create_graph=True)
    assert out.requires_grad and g.requires_grad
    (gg,) = tg.grad(g.sum(), x)  # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(gg.data, [6.0, 12.0])
    H = AF.hessian(lambda a: (a ** 3).sum(), x, create_graph=True)
    (third,) = tg.grad(H.sum(), x)  # d/dx trace-free sum of diag(6x) = 6
    np.testing.assert_allclose(third.data, [6.0, 6.0])
    v = tg.Tensor([1.0, 1.0], requires_grad=True)
    _, g = AF.vjp(lambda a: a * 2, tg.Tensor([1.0, 1.0]), v, create_graph=True)
    (dv,) = tg.grad(g.sum(), v)  # v^T J is linear in v
    np.testing.assert_allclose(dv.data, [2.0, 2.0])


def test_works_under_no_grad_and_in_float32() -> None:
    with tg.no_grad():
        J = AF.jacobian(lambda a: a * a, tg.Tensor([1.0, 2.0]))
    np.testing.assert_array_equal(J.data, np.diag([2.0, 4.0]))
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert AF.jacobian(lambda a: a.exp(), x).dtype == np.float32
    assert AF.hvp(lambda a: (a ** 3).sum(), x, x)[1].dtype == np.float32


def test_bad_arguments_raise_clear_errors() -> None:
    x = tg.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="jacobian: the inputs must be a Tensor or a tuple"):
        AF.jacobian(lambda a: a, np.ones(2))
    with pytest.raises(TypeError, match="vjp: the inputs .* entry 1 is a list"):
        AF.vjp(lambda a, b: a, (x, [1.0]))
    with pytest.raises(TypeError, match="jvp: the outputs of the user-provided function"):
        AF.jvp(lambda a: 3.0, x, x)
    with pytest.raises(TypeError, match="hessian: entry 0 has dtype int64"):
        AF.hessian(lambda a: a.sum(), tg.Tensor(np.array([1, 2])))
    with pytest.raises(RuntimeError, match=r"hessian: .*single element, got shape \(2,\)"):
        AF.hessian(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="hvp: the function must return a single Tensor"):
        AF.hvp(lambda a: (a.sum(), a.sum()), x, x)
    with pytest.raises(ValueError, match="jacobian: strategy must be one of"):
        AF.jacobian(lambda a: a, x, strategy="sideways")


def test_pow_second_derivative_at_exponent_zero() -> None:
    def f(x: Any) -> Any:  # the base and the exponent both depend on x; at x = 0, b = 0
        return (0.1 + 4.9 * x.sigmoid()) ** (2.0 * x.tanh())

    def f_np(x: float) -> float:
        return (0.1 + 4.9 / (1 + np.exp(-x))) ** (2 * np.tanh(x))

    h = 1e-4
    numeric = (f_np(h) - 2 * f_np(0.0) + f_np(-h)) / h**2
    assert float(AF.hessian(f, tg.Tensor(0.0))) == pytest.approx(numeric, rel=1e-6)


def test_grad_allow_unused_gives_none_as_pytorch() -> None:
    x, unused = tg.Tensor(1.0, requires_grad=True), tg.Tensor(2.0, requires_grad=True)
    gx, gu = tg.grad(x * 3, [x, unused], allow_unused=True)
    assert float(gx) == 3.0 and gu is None
