"""The gradient checkers themselves: numerical_gradient restores its input bit for bit
and matches analytic gradients; gradcheck and gradgradcheck catch wrong backwards in
every mode, and pass right ones."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu as tg
from tinygrad_edu import (
    GradcheckError,
    Tensor,
    gradcheck,
    gradgradcheck,
    make_op,
    numerical_gradient,
)
from tinygrad_edu.testing import arrays, finite_floats

# ---------------------------------------------------------------------------- custom ops


def _reverse(x: Tensor, correct: bool) -> Tensor:
    """x[::-1]. The wrong backward forgets to reverse g: invisible under an upstream of
    ones, caught by a random one."""
    def backward(g: Tensor) -> tuple[Tensor]:
        return (g[::-1] if correct else g,)

    return make_op(x.data[::-1].copy(), (x,), backward, "reverse")


def _scaled_sin(x: Tensor, factor: float) -> Tensor:
    """sin(x) whose backward is ``factor`` times the true one."""
    def backward(g: Tensor) -> tuple[Tensor]:
        return (g * Tensor(factor * np.cos(x.data)),)

    return make_op(np.sin(x.data), (x,), backward, "scaled_sin")


def _cube(x: Tensor, differentiable_backward: bool) -> Tensor:
    """x ** 3. Both backwards are right to first order; the constant one (3 x**2 from the
    raw array) has no graph back to x, so its second derivative is 0 instead of 6 x."""
    def backward(g: Tensor) -> tuple[Tensor]:
        if differentiable_backward:
            return (g * (x * x) * 3.0,)
        return (g * Tensor(3.0 * x.data ** 2),)

    return make_op(x.data ** 3, (x,), backward, "cube")


# ---------------------------------------------------------------------------- numerical_gradient


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numerical_gradient_restores_x_bit_for_bit(dtype: type) -> None:
    # 0.1 + eps - eps is not 0.1 in floating point, and -0.0 + eps - eps is +0.0: a
    # restore by arithmetic would change these bits.
    x = np.array([0.1, -0.0, 1e-7, 3.3333333, -2.7, 1e10], dtype=dtype).reshape(2, 3)
    before = x.tobytes()
    numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    assert x.tobytes() == before
    t = Tensor(x.copy(), requires_grad=True)
    numerical_gradient(lambda v: float(v.tanh().sum().data), t)
    assert t.data.tobytes() == before


def test_numerical_gradient_restores_x_when_f_raises() -> None:
    x = np.array([1.0, 2.0])
    calls = 0

    def f(v: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("f failed")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="f failed"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


@given(arrays(elements=finite_floats(-3.0, 3.0), max_dims=3, max_side=4))
def test_numerical_gradient_matches_analytic(x: np.ndarray) -> None:
    # f = sum(tanh(x) * x**2): df/dx = (1 - tanh^2) x^2 + 2 x tanh.
    num = numerical_gradient(lambda v: float(np.sum(np.tanh(v) * v ** 2)), x)
    t = np.tanh(x)
    assert num.dtype == np.float64 and num.shape == x.shape
    np.testing.assert_allclose(num, (1 - t ** 2) * x ** 2 + 2 * x * t, rtol=1e-6, atol=1e-7)
    tx = Tensor(x.copy(), requires_grad=True)
    (tx.tanh() * tx ** 2).sum().backward()
    np.testing.assert_allclose(num, tx.grad.data, rtol=1e-6, atol=1e-7)  # type: ignore[union-attr]


def test_numerical_gradient_in_float32_uses_the_rounded_step() -> None:
    x = np.array([0.3, 1.7, -2.2], dtype=np.float32)
    num = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    # The quotient uses the step actually taken after rounding, so even float32 lands
    # close to the exact 2 x.
    np.testing.assert_allclose(num, 2 * x.astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numerical_gradient_where_eps_is_below_the_resolution_of_x(dtype: type) -> None:
    # At 1e10 a float32 step of 1e-6 rounds to nothing; the step becomes one ulp.
    for value in (1e10, -1e12):
        x = np.array([value], dtype=dtype)
        num = numerical_gradient(lambda v: float(2.0 * v[0]), x)  # exact in floating point
        assert num.tolist() == [2.0]
        assert x[0] == dtype(value)


def test_numerical_gradient_of_a_function_reading_shared_weights() -> None:
    # The book's style: f ignores its argument and reads the weights being perturbed.
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    x = np.array([1.5, -1.0])
    num = numerical_gradient(lambda _: float(np.sum((x @ w) ** 2)), w)
    np.testing.assert_allclose(num, np.outer(x, 2 * (x @ w)), rtol=1e-7)


# ---------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize("mode", ["full", "projection", "auto"])
def test_gradcheck_passes_right_backwards(mode: str) -> None:
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert gradcheck(lambda p, q: (p @ q).tanh(), a, b, mode=mode)
    x = Tensor(rng.standard_normal(5), requires_grad=True)
    assert gradcheck(lambda t: _reverse(t, correct=True), x, mode=mode)


@pytest.mark.parametrize("mode", ["full", "projection"])
def test_gradcheck_catches_a_wrong_backward(mode: str) -> None:
    x = Tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: _scaled_sin(t, 1.05), x, mode=mode)
    assert not gradcheck(lambda t: _scaled_sin(t, 1.05), x, mode=mode, raise_exception=False)
    assert gradcheck(lambda t: _scaled_sin(t, 1.0), x, mode=mode)


@pytest.mark.parametrize("mode", ["full", "projection"])
def test_gradcheck_uses_a_random_upstream_gradient(mode: str) -> None:
    # With an upstream of ones, the forgotten reversal gives the right answer; gradcheck
    # must still catch it, for any seed.
    x = Tensor(np.arange(4.0), requires_grad=True)
    y = _reverse(x, correct=False)
    y.backward(np.ones(4))
    np.testing.assert_array_equal(x.grad.data, np.ones(4))  # type: ignore[union-attr]
    for seed in range(5):
        with pytest.raises(GradcheckError, match="out of tolerance"):
            gradcheck(lambda t: _reverse(t, correct=False), Tensor(np.arange(4.0),
                      requires_grad=True), mode=mode, seed=seed)


def test_gradcheck_only_checks_inputs_that_require_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    const = Tensor([3.0, 4.0])
    assert gradcheck(lambda a, b: _scaled_sin(a, 1.0) * _scaled_sin(b, 2.0), x, const)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda a, b: _scaled_sin(a, 1.0) * _scaled_sin(b, 2.0), x,
                  Tensor([3.0, 4.0], requires_grad=True))


def test_gradcheck_with_several_outputs() -> None:
    x = Tensor([0.5, -1.0], requires_grad=True)
    assert gradcheck(lambda t: (t.exp(), t * t), x)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: (t.exp(), _scaled_sin(t, 0.9)), x)


def test_gradcheck_does_not_modify_inputs_or_grads() -> None:
    x = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    before = x.data.tobytes()
    assert gradcheck(lambda t: (t * t).sum(), x)
    assert x.data.tobytes() == before and x.grad is None


def test_gradcheck_warns_on_float32_inputs() -> None:
    x = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32; finite differences need float64"):
        gradcheck(lambda t: t * 2.0, x, atol=1e-2, rtol=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda t: t * 2.0, Tensor(np.array([0.5, 1.5]), requires_grad=True))


def test_a_gradient_of_the_wrong_shape_is_an_error_and_a_wrong_dtype_is_cast() -> None:
    def bad_shape(x: Tensor) -> Tensor:
        return make_op(x.data.sum(keepdims=True), (x,), lambda g: (g,), "bad_shape")

    def float32_grad(x: Tensor) -> Tensor:
        return make_op(x.data * 1.0, (x,), lambda g: (g.astype(np.float32),), "f32")

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward of 'bad_shape' returned a gradient of "
                                           r"shape \(1,\) for an input of shape \(2,\)"):
        gradcheck(bad_shape, x)
    # Each tensor's gradient comes in its own dtype, as in PyTorch: the engine casts.
    assert gradcheck(float32_grad, x, atol=1e-6)
    float32_grad(x).sum().backward()
    assert x.grad.dtype == np.float64


def test_auto_mode_projects_large_inputs() -> None:
    calls = {"n": 0}

    def f(t: Tensor) -> Tensor:
        calls["n"] += 1
        return t * 3.0

    big = Tensor(np.ones(3000), requires_grad=True)
    assert gradcheck(f, big)  # mode="auto"
    assert calls["n"] <= 5, "auto mode should take a directional derivative past 2048"
    calls["n"] = 0
    assert gradcheck(f, Tensor(np.ones(10), requires_grad=True))
    assert calls["n"] == 1 + 2 * 10  # one forward, then two per element


def test_projection_mode_catches_an_error_in_one_entry_for_almost_every_seed() -> None:
    # One random direction and one random upstream per check: an error in a single
    # entry is missed only when both happen to nearly vanish at that entry.
    def one_wrong(x: Tensor) -> Tensor:
        def backward(g: Tensor) -> tuple[Tensor]:
            scale = np.ones(x.shape)
            scale[2] = 1.5
            return (g * Tensor(2.0 * x.data * scale),)

        return make_op(x.data ** 2, (x,), backward, "one_wrong")

    x = Tensor(np.linspace(0.5, 2.0, 5), requires_grad=True)
    caught = sum(
        not gradcheck(one_wrong, x, mode="projection", seed=seed, raise_exception=False)
        for seed in range(50)
    )
    assert caught >= 45
    assert not gradcheck(one_wrong, x, mode="full", raise_exception=False)


# ---------------------------------------------------------------------------- gradgradcheck


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    x = Tensor([0.5, -1.2, 2.0], requires_grad=True)
    # First order is right for both ...
    assert gradcheck(lambda t: _cube(t, differentiable_backward=False), x)
    assert gradcheck(lambda t: _cube(t, differentiable_backward=True), x)
    # ... second order only for the backward built from differentiable ops.
    assert gradgradcheck(lambda t: _cube(t, differentiable_backward=True), x)
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(lambda t: _cube(t, differentiable_backward=False), x)


@pytest.mark.parametrize("mode", ["full", "projection"])
def test_gradgradcheck_on_composed_ops(mode: str) -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gradgradcheck(lambda a, b: (a @ b).sigmoid().log_softmax(), x, w, mode=mode)


def test_gradgradcheck_with_explicit_upstream() -> None:
    x = Tensor([0.3, 0.7], requires_grad=True)
    v = Tensor([1.0, -2.0], requires_grad=True)
    assert gradgradcheck(lambda t: t.tanh() * t, x, grad_outputs=[v])
    with pytest.raises(ValueError, match="gradgradcheck: no input requires grad"):
        gradgradcheck(lambda t: t * 2, Tensor([1.0]))


def test_public_names() -> None:
    assert tg.gradcheck is gradcheck and tg.gradgradcheck is gradgradcheck
    assert tg.numerical_gradient is numerical_gradient
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_reports_nan_and_inf_gradients_as_failures() -> None:
    # sqrt at 0: autograd says inf, finite differences say NaN. That is a failed check
    # with a message, not a crash inside the error report.
    with np.errstate(invalid="ignore", divide="ignore"), pytest.raises(
            GradcheckError, match="1 of 1 entries out of tolerance; max abs error nan"):
        gradcheck(lambda t: t.sqrt(), Tensor(np.array(0.0), requires_grad=True))
    with np.errstate(invalid="ignore", divide="ignore"), pytest.raises(
            GradcheckError, match=r"1 of 2 entries.*worst at index \(1,\): autograd -?(nan|inf)"):
        gradcheck(lambda t: t.sqrt(), Tensor(np.array([4.0, 0.0]), requires_grad=True))
