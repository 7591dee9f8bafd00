"""Property tests for every public op, driven by the table in op_table.py.

For each op: the forward equals the NumPy reference; gradcheck passes under a random
upstream gradient; gradients have the inputs' shapes and dtypes; inputs are never
mutated and outputs never alias inputs (except for documented views); float32 stays
float32 in values and gradients; second derivatives check out (gradgradcheck); the
Tensor methods and operators reach the same code. Then the operators themselves:
``+ - * / ** @`` with reflected forms, ``ndarray (op) Tensor``, unary ``-``.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_strategies import Domain, OpSpec, Sample
from op_table import ALIASES, EXCLUDED, OPERATORS, OPS

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, gradcheck, gradgradcheck

NAMES = sorted(OPS)
TWICE = sorted(name for name, spec in OPS.items() if spec.twice)
BINARY = sorted(name for name, spec in OPS.items() if spec.binary)
WITH_METHODS = sorted(name for name, spec in OPS.items() if spec.methods)

F64 = Domain(np.float64)
F32 = Domain(np.float32)
# Second derivatives check (x, upstream) pairs element by element: keep arrays small.
SMALL = Domain(np.float64, max_dims=2, max_side=3)

seeds = st.integers(0, 2**32 - 1)


def _draw(data: st.DataObject, spec: OpSpec, domain: Domain) -> Sample:
    return data.draw(spec.samples(domain), label=f"{spec.name} sample")


def _call(spec: OpSpec, sample: Sample, tensors: list[Tensor]) -> Tensor:
    return spec.fn(*tensors, **sample.kwargs)


def _upstream(out: Tensor, seed: int) -> Tensor:
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(out.shape).astype(out.dtype))


def _as_f64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind == "f" else a


# ---------------------------------------------------------------------------- coverage


def test_every_public_op_has_a_table_entry() -> None:
    public = set(F.__all__) - EXCLUDED
    missing = public - set(OPS)
    assert not missing, f"ops in functional.__all__ with no entry in op_table: {missing}"
    unknown = set(OPS) - public
    assert not unknown, f"op_table entries that are not public ops: {unknown}"
    for alias, primary in ALIASES.items():
        assert alias in public and primary in public


def test_every_op_is_reachable_from_tensor_where_a_method_exists() -> None:
    for name, spec in OPS.items():
        if hasattr(Tensor, name):
            assert spec.methods, f"Tensor.{name} exists but the table does not test it"
        for dunder in OPERATORS.get(name, ()):
            assert hasattr(Tensor, dunder), f"Tensor lacks {dunder} for {name}"
            assert spec.methods, f"{name} has operator {dunder} but no method test"


# ---------------------------------------------------------------------------- forward


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_matches_numpy(name: str, data: st.DataObject) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, F64)
    out = _call(spec, sample, sample.tensors())
    expected = spec.ref(*sample.args, **sample.kwargs)
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=spec.forward_rtol, atol=1e-12)


# ---------------------------------------------------------------------------- backward


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data(), seed=seeds)
def test_gradcheck(name: str, data: st.DataObject, seed: int) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, F64)
    assert gradcheck(lambda *ts: _call(spec, sample, list(ts)), *sample.tensors(), seed=seed)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data(), seed=seeds)
def test_gradients_have_input_shapes_and_nothing_is_mutated_or_aliased(
    name: str, data: st.DataObject, seed: int
) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, F64)
    tensors = sample.tensors()
    out = _call(spec, sample, tensors)
    g = _upstream(out, seed)
    g_before = g.data.copy()
    out.backward(g)

    assert type(out.data) is np.ndarray
    for i, (t, original) in enumerate(zip(tensors, sample.args)):
        np.testing.assert_array_equal(t.data, original, err_msg=f"input {i} was mutated")
        if i in sample.differentiable():
            assert t.grad is not None, f"input {i} got no gradient"
            assert t.grad.shape == t.shape and t.grad.dtype == t.dtype
            assert type(t.grad.data) is np.ndarray
        else:
            assert t.grad is None
    np.testing.assert_array_equal(g.data, g_before, err_msg="upstream gradient was mutated")

    # Only views may share memory with their input; no gradient may share memory with
    # anything else the user holds (an in-place update of one would change the other).
    grads = [t.grad.data for t in tensors if t.grad is not None]
    held = [t.data for t in tensors] + [g.data, out.data]
    if not spec.view:
        for i, t in enumerate(tensors):
            assert not np.shares_memory(out.data, t.data), f"output aliases input {i}"
    for k, gr in enumerate(grads):
        for other in held + grads[:k]:
            assert not np.shares_memory(gr, other), "a gradient aliases another array"


@pytest.mark.parametrize("name", WITH_METHODS)
@given(data=st.data(), seed=seeds)
def test_tensor_methods_and_operators_match_functional(
    name: str, data: st.DataObject, seed: int
) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, F64)
    base_in = sample.tensors()
    base = _call(spec, sample, base_in)
    g = _upstream(base, seed)
    base.backward(g)
    for method in spec.methods:
        ts = sample.tensors()
        out = method(*ts, **sample.kwargs)
        np.testing.assert_array_equal(out.data, base.data)
        out.backward(g)
        for t, b in zip(ts, base_in):
            assert (t.grad is None) == (b.grad is None)
            if t.grad is not None:
                np.testing.assert_allclose(t.grad.data, b.grad.data, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", TWICE)
@given(data=st.data(), seed=seeds)
def test_gradgradcheck(name: str, data: st.DataObject, seed: int) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, SMALL)
    _check_create_graph_gradient(spec, sample, seed)
    assert gradgradcheck(lambda *ts: _call(spec, sample, list(ts)), *sample.tensors(),
                         seed=seed)


def _check_create_graph_gradient(spec: OpSpec, sample: Sample, seed: int) -> None:
    """The gradient recorded with create_graph equals the plain one. gradgradcheck alone
    cannot see a wrong first derivative on the create_graph path: it only checks that
    the second derivative is consistent with whatever the first one is."""
    diff = sample.differentiable()
    plain_in, graph_in = sample.tensors(), sample.tensors()
    plain_out = _call(spec, sample, plain_in)
    v = _upstream(plain_out, seed)
    plain = tg.grad(plain_out, [plain_in[i] for i in diff], grad_outputs=v, allow_unused=True)
    recorded = tg.grad(_call(spec, sample, graph_in), [graph_in[i] for i in diff],
                       grad_outputs=v, create_graph=True, allow_unused=True)
    for i, p, r in zip(diff, plain, recorded):
        assert (p is None) == (r is None), f"input {i}: create_graph changes what is used"
        if p is None:
            continue
        np.testing.assert_allclose(r.data, p.data, rtol=1e-12, atol=1e-14,
                                   err_msg=f"input {i}: create_graph changes the gradient")


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data(), seed=seeds)
def test_float32_in_float32_out_and_float32_gradients(
    name: str, data: st.DataObject, seed: int
) -> None:
    spec = OPS[name]
    sample = _draw(data, spec, F32)
    tensors = sample.tensors()
    out = _call(spec, sample, tensors)
    assert out.dtype == np.float32
    expected = spec.ref(*[_as_f64(a) for a in sample.args], **sample.kwargs)
    np.testing.assert_allclose(out.data, expected, rtol=2e-5, atol=2e-5)
    out.backward(_upstream(out, seed))
    for i in sample.differentiable():
        grad = tensors[i].grad
        assert grad is not None and grad.dtype == np.float32, f"input {i}: {grad!r}"


_SCALARS = [2.5, -1.5, 3, 0.5]


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
@pytest.mark.parametrize("scalar", _SCALARS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_float32_with_python_scalars_stays_float32(name: str, scalar: float, side: str) -> None:
    fn = getattr(F, name)
    x = np.array([[0.75, 1.25, 2.0], [1.5, 0.6, 1.1]], dtype=np.float32)
    t = Tensor(x, requires_grad=True)
    if name == "pow" and side == "left":
        scalar = abs(scalar)  # a negative base to a fractional power is NaN
    out = fn(t, scalar) if side == "right" else fn(scalar, t)
    assert out.dtype == np.float32
    ref = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide",
                       "pow": "power"}.get(name, name))
    x64 = x.astype(np.float64)
    expected = ref(x64, scalar) if side == "right" else ref(scalar, x64)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    out.sum().backward()
    assert t.grad is not None and t.grad.dtype == np.float32


def test_float32_with_scalar_constants_in_other_ops_stays_float32() -> None:
    x = Tensor(np.array([-1.5, 0.5, 2.0], dtype=np.float32), requires_grad=True)
    outs = [
        x.leaky_relu(0.2), x.clip(-1.0, 1.0), x ** 2, x.abs() ** 1.5, 2.0 ** x,
        F.where(np.array([True, False, True]), x, 0.0),
        F.where(np.array([True, False, True]), 1.0, x),
        x.mean(), x.var(ddof=1), (x * 2 + 1 - 0.5) / 4,
        F.cross_entropy(x, np.int64(1)), F.mse_loss(x, np.zeros(3, dtype=np.float32)),
    ]
    for out in outs:
        assert out.dtype == np.float32, out
        x.zero_grad()
        out.sum().backward()
        assert x.grad is not None and x.grad.dtype == np.float32, out


def test_float64_stays_float64_with_float32_scalars_of_numpy() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = x * np.float32(2.0) + 1
    assert out.dtype == np.float64
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64


def test_astype_casts_and_gradient_comes_back_in_the_input_dtype() -> None:
    x = Tensor(np.array([1.0, 2.5, -3.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.op == "astype"
    (y * Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0, 3.0])

    x32 = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    assert gradcheck(lambda t: F.astype(t, np.float64) ** 2, x32.astype(np.float64))
    ints = x.astype(np.int64)
    assert ints.dtype == np.int64 and not ints.requires_grad and ints.is_leaf


# ---------------------------------------------------------------------------- broadcasting

# (shape a, shape b): rank mismatch both ways, 0-d operands, size-1 axes on both sides.
_BROADCAST_SHAPES = [
    ((), (3,)), ((3,), ()), ((), ()), ((2, 3), (3,)), ((3,), (2, 3)), ((4, 1, 3), (2, 1)),
    ((1,), (2, 3, 1)), ((2, 1, 1, 3), (1, 4, 1)), ((2, 3), (1, 1)), ((), (2, 1, 2)),
]


@pytest.mark.parametrize("name", [*BINARY, "pow"])
@pytest.mark.parametrize(("shape_a", "shape_b"), _BROADCAST_SHAPES)
def test_binary_ops_broadcast_with_rank_mismatch_and_0d(
    name: str, shape_a: tuple[int, ...], shape_b: tuple[int, ...]
) -> None:
    # A seed from the case's text through a fixed hash: hash() of a str changes with
    # PYTHONHASHSEED, so it would draw different data in every process.
    key = f"{name} {shape_a} {shape_b}".encode()
    rng = np.random.default_rng(zlib.crc32(key))
    # Magnitudes in [0.5, 2] (positive for pow): inside every binary op's domain.
    def draw(shape: tuple[int, ...]) -> np.ndarray:
        values = rng.uniform(0.5, 2.0, shape)
        return values if name == "pow" else values * rng.choice([-1.0, 1.0], shape)

    a, b = draw(shape_a), draw(shape_b)
    spec = OPS[name]
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = spec.fn(ta, tb)
    expected = spec.ref(a, b)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b) == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    out.backward(_upstream(out, 0))
    assert ta.grad is not None and ta.grad.shape == shape_a
    assert tb.grad is not None and tb.grad.shape == shape_b
    assert gradcheck(spec.fn, Tensor(a, requires_grad=True), Tensor(b, requires_grad=True))


# ---------------------------------------------------------------------------- operators

_OPERATORS: dict[str, Any] = {
    "+": (lambda a, b: a + b, np.add),
    "-": (lambda a, b: a - b, np.subtract),
    "*": (lambda a, b: a * b, np.multiply),
    "/": (lambda a, b: a / b, np.divide),
    "**": (lambda a, b: a ** b, np.power),
}


@pytest.mark.parametrize("symbol", sorted(_OPERATORS))
@pytest.mark.parametrize("form", ["tensor-tensor", "tensor-float", "float-tensor",
                                  "ndarray-tensor", "tensor-ndarray"])
def test_arithmetic_operators_and_reflections(symbol: str, form: str) -> None:
    op, ref = _OPERATORS[symbol]
    a = np.array([[0.5, 1.5, 2.0], [1.25, 0.75, 3.0]])
    b = np.array([1.5, 0.5, 2.5])
    scalar = 1.75
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    lhs, rhs = {
        "tensor-tensor": (ta, tb), "tensor-float": (ta, scalar), "float-tensor": (scalar, tb),
        "ndarray-tensor": (a, tb), "tensor-ndarray": (ta, b),
    }[form]
    out = op(lhs, rhs)
    assert isinstance(out, Tensor), f"{form}: got {type(out).__name__}"
    raw = [x.data if isinstance(x, Tensor) else x for x in (lhs, rhs)]
    np.testing.assert_allclose(out.data, ref(*raw), rtol=1e-12)
    # Every Tensor operand gets a gradient, checked against finite differences.
    leaves = [x for x in (lhs, rhs) if isinstance(x, Tensor)]

    def f(*ts: Tensor) -> Tensor:
        it = iter(ts)
        args = [next(it) if isinstance(x, Tensor) else x for x in (lhs, rhs)]
        return op(*args)

    fresh = [Tensor(x.data.copy(), requires_grad=True) for x in leaves]
    assert gradcheck(f, *fresh)


def test_tensor_power_tensor_differentiates_both_arguments() -> None:
    base = Tensor([0.5, 1.5, 2.0], requires_grad=True)
    exponent = Tensor([2.0, -1.0, 0.5], requires_grad=True)
    out = base ** exponent
    out.sum().backward()
    assert base.grad is not None and exponent.grad is not None
    np.testing.assert_allclose(base.grad.data, exponent.data * base.data ** (exponent.data - 1))
    np.testing.assert_allclose(exponent.grad.data, base.data ** exponent.data
                               * np.log(base.data))
    assert gradcheck(lambda a, b: a ** b, Tensor(base.data, requires_grad=True),
                     Tensor(exponent.data, requires_grad=True))


def test_number_to_the_power_of_a_tensor() -> None:
    e = Tensor([0.0, 1.0, -2.0], requires_grad=True)
    out = 3.0 ** e
    np.testing.assert_allclose(out.data, 3.0 ** e.data)
    out.sum().backward()
    assert e.grad is not None
    np.testing.assert_allclose(e.grad.data, 3.0 ** e.data * np.log(3.0))


@pytest.mark.parametrize("form", ["tensor-tensor", "ndarray-tensor", "tensor-ndarray"])
def test_matmul_operator_and_reflection(form: str) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    lhs: Any = a if form == "ndarray-tensor" else ta
    rhs: Any = b if form == "tensor-ndarray" else tb
    out = lhs @ rhs
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-12)
    g = rng.standard_normal((2, 4))
    out.backward(g)
    if isinstance(lhs, Tensor):
        np.testing.assert_allclose(ta.grad.data, g @ b.T, rtol=1e-12)  # type: ignore[union-attr]
    if isinstance(rhs, Tensor):
        np.testing.assert_allclose(tb.grad.data, a.T @ g, rtol=1e-12)  # type: ignore[union-attr]


def test_unary_minus_and_plus() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True)
    y = -x
    np.testing.assert_array_equal(y.data, [-1.0, 2.0])
    assert y.op == "neg"
    y.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [-3.0, -4.0])  # type: ignore[union-attr]
    assert +x is x


def test_aliases_are_the_same_op() -> None:
    a, b = Tensor(np.ones((2, 1)), requires_grad=True), Tensor(np.zeros((3, 1)))
    np.testing.assert_array_equal(F.cat([a, b]).data, F.concatenate([a, b]).data)
    np.testing.assert_array_equal(F.expand(a, (2, 4)).data, F.broadcast_to(a, (2, 4)).data)
    assert F.permute(a, (1, 0)).shape == F.transpose(a, (1, 0)).shape == (1, 2)
    assert tg.functional is F


# ---------------------------------------------------------------------------- kinks and ties
# The property tests stay off these points (finite differences are meaningless there);
# the conventions at them follow PyTorch and are pinned here.


def _grad_of(fn: Any, x: np.ndarray, upstream: np.ndarray | None = None) -> np.ndarray:
    t = Tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    assert t.grad is not None
    return t.grad.data


def test_gradients_at_kinks_follow_pytorch() -> None:
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(_grad_of(F.relu, x), [0.0, 0.0, 1.0])  # relu'(0) = 0
    np.testing.assert_array_equal(_grad_of(F.abs, x), [-1.0, 0.0, 1.0])  # abs'(0) = 0
    np.testing.assert_allclose(_grad_of(lambda t: F.leaky_relu(t, 0.2), x), [0.2, 0.2, 1.0])


def test_clip_gradient_is_one_inside_and_on_the_bounds() -> None:
    x = np.array([-2.0, -1.0, -0.8, 0.0, 0.8, 1.0, 2.0])
    np.testing.assert_array_equal(_grad_of(lambda t: t.clip(-1.0, 1.0), x),
                                  [0, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_grad_of(lambda t: t.clip(min=-1.0), x), [0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(_grad_of(lambda t: t.clip(max=1.0), x), [1, 1, 1, 1, 1, 1, 0])


def test_max_and_min_split_the_gradient_between_ties() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(_grad_of(lambda t: t.max(), x), [[0, 0.5, 0.5], [0, 0, 0]])
    np.testing.assert_allclose(_grad_of(lambda t: t.max(axis=1), x, np.array([6.0, 3.0])),
                               [[0, 3, 3], [1, 1, 1]])
    np.testing.assert_allclose(_grad_of(lambda t: t.min(axis=0, keepdims=True), x,
                                        np.array([[1.0, 1.0, 1.0]])),
                               [[1, 0, 0], [0, 1, 1]])


def test_maximum_and_minimum_split_ties_half_and_half() -> None:
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    F.maximum(a, b).backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(a.grad.data, [0, 0.5, 1])  # type: ignore[union-attr]
    np.testing.assert_array_equal(b.grad.data, [1, 0.5, 0])  # type: ignore[union-attr]
    a.zero_grad()
    F.minimum(a, 2.0).backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(a.grad.data, [1, 0.5, 0])  # type: ignore[union-attr]


def test_pow_exponent_gradient_at_zero_base_is_zero() -> None:
    base = Tensor([0.0, 2.0], requires_grad=True)
    exponent = Tensor([2.0, 3.0], requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_allclose(exponent.grad.data, [0.0, 8.0 * np.log(2.0)])  # type: ignore[union-attr]
    np.testing.assert_allclose(base.grad.data, [0.0, 12.0])  # type: ignore[union-attr]


def test_getitem_with_repeated_indices_accumulates() -> None:
    x = np.arange(4.0)
    np.testing.assert_array_equal(_grad_of(lambda t: t[[0, 0, 2, 0]], x), [3, 0, 1, 0])
    np.testing.assert_array_equal(
        _grad_of(lambda t: t[np.array([[1, 1], [3, 1]])], x, np.array([[1.0, 2.0], [4.0, 8.0]])),
        [0, 11, 0, 4])
    mask = np.array([True, False, True, True])
    np.testing.assert_array_equal(_grad_of(lambda t: t[mask], x, np.array([1.0, 2.0, 3.0])),
                                  [1, 0, 2, 3])


# ---------------------------------------------------------------------------- cross_entropy


@pytest.mark.parametrize("layout", ["unbatched", "batch of one", "batch"])
@pytest.mark.parametrize("target_kind", ["index", "probabilities"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_every_layout_target_and_reduction(
    layout: str, target_kind: str, reduction: str
) -> None:
    rng = np.random.default_rng(11)
    lead = {"unbatched": (), "batch of one": (1,), "batch": (3,)}[layout]
    logits = rng.standard_normal(lead + (4,))
    if target_kind == "index":
        target = rng.integers(0, 4, lead)
        target = np.asarray(target, dtype=np.int64)
    else:
        target = rng.uniform(0.1, 1.0, lead + (4,))
        target /= target.sum(axis=-1, keepdims=True)
    spec = OPS["cross_entropy"]
    sample = Sample((logits, target), {"reduction": reduction},
                    diff=(0,) if target_kind == "index" else (0, 1))
    out = _call(spec, sample, sample.tensors())
    expected = spec.ref(logits, target, reduction)
    assert out.shape == np.shape(expected)
    expected_shape = lead if reduction == "none" else ()
    assert out.shape == expected_shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda *ts: _call(spec, sample, list(ts)), *sample.tensors())
    _check_create_graph_gradient(spec, sample, seed=0)
    assert gradgradcheck(lambda *ts: _call(spec, sample, list(ts)), *sample.tensors())


# ---------------------------------------------------------------------------- stability


def test_softmax_family_is_stable_at_extreme_logits() -> None:
    big = np.array([[1000.0, -1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    x = Tensor(big, requires_grad=True)
    s = x.softmax()
    e = np.exp(np.array([0.0, -2000.0, -1.0]))
    np.testing.assert_allclose(s.data, [e / e.sum(), [1 / 3, 1 / 3, 1 / 3]], rtol=1e-12)
    ls = x.log_softmax()
    np.testing.assert_allclose(ls.data[0], np.array([0.0, -2000.0, -1.0]) - np.log(e.sum()),
                               rtol=1e-12)
    lse = x.logsumexp(axis=1)
    np.testing.assert_allclose(lse.data, [1000.0 + np.log(e.sum()), -1000.0 + np.log(3.0)],
                               rtol=1e-12)
    loss = F.cross_entropy(x, np.array([1, 0]))
    np.testing.assert_allclose(loss.data, (2000.0 + np.log(e.sum()) + np.log(3.0)) / 2,
                               rtol=1e-12)
    (s.sum() + ls.sum() + lse.sum() + loss).backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.data))
    sig = F.sigmoid(Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True))
    np.testing.assert_array_equal(sig.data, [0.0, 0.5, 1.0])


def test_boolean_tensor_mask_from_a_comparison() -> None:
    x = Tensor([1.0, -2.0, 3.0, -0.5], requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_array_equal(picked.data, [1.0, 3.0])
    picked.backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad.data, [10.0, 0.0, 20.0, 0.0])  # type: ignore[union-attr]
