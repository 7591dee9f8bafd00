"""Optimizers: each update rule against its formula written out in NumPy, dtype and
in-place guarantees, state dicts, and argument errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import nn, optim, serialization
from tinygrad_edu.tensor import Tensor

STEPS = 6
SHAPES = [(3, 4), (4,)]


def _gradients(seed: int) -> list[list[np.ndarray]]:
    """STEPS rounds of random gradients (float64) for parameters of SHAPES."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]


def _initial(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    return [rng.standard_normal(s) for s in SHAPES]


# The reference formulas, written out independently of optim.py, one parameter at a time.
# Each takes the float64 start value and the list of gradients, returns the trajectory.


def ref_sgd(p: np.ndarray, grads: list[np.ndarray], lr: float, momentum: float = 0.0,
            nesterov: bool = False, weight_decay: float = 0.0) -> list[np.ndarray]:
    out, buf = [], None
    for g in grads:
        d = g + weight_decay * p
        if momentum != 0.0:
            buf = d.copy() if buf is None else momentum * buf + d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def ref_momentum(p: np.ndarray, grads: list[np.ndarray], lr: float,
                 momentum: float) -> list[np.ndarray]:
    out, v = [], np.zeros_like(p)
    for g in grads:
        v = momentum * v - lr * g
        p = p + v
        out.append(p)
    return out


def ref_adagrad(p: np.ndarray, grads: list[np.ndarray], lr: float) -> list[np.ndarray]:
    out, h = [], np.zeros_like(p)
    for g in grads:
        h = h + g * g
        p = p - lr * g / (np.sqrt(h) + 1e-7)
        out.append(p)
    return out


def ref_rmsprop(p: np.ndarray, grads: list[np.ndarray], lr: float,
                decay_rate: float) -> list[np.ndarray]:
    out, h = [], np.zeros_like(p)
    for g in grads:
        h = decay_rate * h + (1 - decay_rate) * g * g
        p = p - lr * g / (np.sqrt(h) + 1e-7)
        out.append(p)
    return out


def ref_adam(p: np.ndarray, grads: list[np.ndarray], lr: float, beta1: float,
             beta2: float) -> list[np.ndarray]:
    out, m, v = [], np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        m = m + (1 - beta1) * (g - m)
        v = v + (1 - beta2) * (g**2 - v)
        p = p - lr_t * m / (np.sqrt(v) + 1e-7)
        out.append(p)
    return out


CASES: list[tuple[str, Callable[..., optim.Optimizer], Callable[..., list[np.ndarray]]]] = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1), lambda p, g: ref_sgd(p, g, 0.1)),
    ("sgd-momentum", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
     lambda p, g: ref_sgd(p, g, 0.05, momentum=0.9)),
    ("sgd-nesterov", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
     lambda p, g: ref_sgd(p, g, 0.05, momentum=0.8, nesterov=True)),
    ("sgd-weight-decay", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.01),
     lambda p, g: ref_sgd(p, g, 0.1, momentum=0.5, weight_decay=0.01)),
    ("momentum", lambda ps: optim.Momentum(ps, lr=0.02, momentum=0.7),
     lambda p, g: ref_momentum(p, g, 0.02, 0.7)),
    ("momentum-defaults", lambda ps: optim.Momentum(ps),
     lambda p, g: ref_momentum(p, g, 0.01, 0.9)),
    ("adagrad", lambda ps: optim.AdaGrad(ps, lr=0.3), lambda p, g: ref_adagrad(p, g, 0.3)),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.02, decay_rate=0.9),
     lambda p, g: ref_rmsprop(p, g, 0.02, 0.9)),
    ("rmsprop-defaults", lambda ps: optim.RMSprop(ps),
     lambda p, g: ref_rmsprop(p, g, 0.01, 0.99)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.01, beta1=0.8, beta2=0.99),
     lambda p, g: ref_adam(p, g, 0.01, 0.8, 0.99)),
    ("adam-defaults", lambda ps: optim.Adam(ps), lambda p, g: ref_adam(p, g, 0.001, 0.9, 0.999)),
]


def _run(make: Callable[..., optim.Optimizer], dtype: Any, seed: int = 0,
         ) -> tuple[list[Tensor], list[list[np.ndarray]], list[np.ndarray]]:
    """Drive an optimizer through STEPS updates; returns params, trajectories, and the
    arrays the params started with (to check the updates happen in place)."""
    params = [Tensor(p.astype(dtype), requires_grad=True) for p in _initial(seed)]
    arrays = [p.data for p in params]
    opt = make(params)
    trajectory: list[list[np.ndarray]] = [[] for _ in params]
    for grads in _gradients(seed):
        opt.zero_grad()
        for p, g in zip(params, grads):
            p.grad = Tensor(g.astype(dtype))
        opt.step()
        for k, p in enumerate(params):
            trajectory[k].append(p.data.copy())
    return params, trajectory, arrays


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_update_rule_matches_formula_float64(
    name: str, make: Callable[..., optim.Optimizer], reference: Callable[..., list[np.ndarray]]
) -> None:
    params, trajectory, arrays = _run(make, np.float64)
    grads = _gradients(0)
    for k, start in enumerate(_initial(0)):
        expected = reference(start, [g[k] for g in grads])
        for step, (got, want) in enumerate(zip(trajectory[k], expected)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name}, parameter {k}, step {step + 1}")
    assert all(p.data is a for p, a in zip(params, arrays))  # updated in place


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_update_rule_keeps_float32(
    name: str, make: Callable[..., optim.Optimizer], reference: Callable[..., list[np.ndarray]]
) -> None:
    params, trajectory, arrays = _run(make, np.float32)
    assert all(p.data is a and p.dtype == np.float32 for p, a in zip(params, arrays))
    grads = _gradients(0)
    for k, start in enumerate(_initial(0)):
        expected = reference(start.astype(np.float32).astype(np.float64),
                             [g[k].astype(np.float32).astype(np.float64) for g in grads])
        assert all(step.dtype == np.float32 for step in trajectory[k])
        np.testing.assert_allclose(trajectory[k][-1], expected[-1], rtol=1e-4, atol=1e-5)


def test_hyperparameters_given_as_numpy_floats_do_not_upcast() -> None:
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=np.float64(0.1), momentum=np.float64(0.5))
    p.grad = Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    opt.step()
    assert p.dtype == np.float32 and opt.state[0]["momentum_buffer"].dtype == np.float32
    assert type(opt.lr) is float


def test_step_skips_parameters_without_gradient_and_zero_grad_clears() -> None:
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = Tensor(np.ones(2))
    opt.step()
    assert (a.data < 1).all() and (b.data == 1).all() and opt.state[1] == {}
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_optimizer_accepts_a_module_and_drives_a_real_gradient() -> None:
    net = nn.Linear(3, 1, rng=0)
    opt = optim.SGD(net, lr=0.5)
    assert opt.params == list(net.parameters())
    x = np.random.default_rng(0).standard_normal((16, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    for _ in range(200):
        opt.zero_grad()
        loss = nn.MSELoss()(net(x), y)
        loss.backward()
        opt.step()
    np.testing.assert_allclose(net.weight.data.ravel(), [1.0, -2.0, 0.5], atol=1e-4)


@pytest.mark.parametrize("through_file", [False, True], ids=["dict", "npz"])
@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_state_dict_resumes_exactly(
    name: str, make: Callable[..., optim.Optimizer], reference: Callable[..., list[np.ndarray]],
    through_file: bool, tmp_path: Path,
) -> None:
    grads = _gradients(1)
    full = [Tensor(p.copy(), requires_grad=True) for p in _initial(1)]
    opt_full = make(full)
    first = [Tensor(p.copy(), requires_grad=True) for p in _initial(1)]
    opt_first = make(first)
    for i, round_ in enumerate(grads):
        for p, g in zip(full, round_):
            p.grad = Tensor(g)
        opt_full.step()
        if i < 3:
            for p, g in zip(first, round_):
                p.grad = Tensor(g)
            opt_first.step()
    saved = opt_first.state_dict()
    if through_file:
        # The project's own checkpoint format holds an optimizer's state, too.
        saved = serialization.load(serialization.save(opt_first, tmp_path / "opt.npz"))
    resumed = [Tensor(p.data.copy(), requires_grad=True) for p in first]
    opt_resumed = make(resumed)
    opt_resumed.load_state_dict(saved)
    assert repr(opt_resumed) == repr(opt_first)
    for round_ in grads[3:]:
        for p, g in zip(resumed, round_):
            p.grad = Tensor(g)
        opt_resumed.step()
    for a, b in zip(full, resumed):
        np.testing.assert_array_equal(a.data, b.data)
    # The saved state is a copy: stepping the original does not change it.
    snapshot = {k: v.copy() for k, v in saved.items()}
    for p, g in zip(first, grads[0]):
        p.grad = Tensor(g)
    opt_first.step()
    for k, v in snapshot.items():
        np.testing.assert_array_equal(saved[k], v)


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_load_state_dict_copies_the_arrays(
    name: str, make: Callable[..., optim.Optimizer], reference: Callable[..., list[np.ndarray]],
) -> None:
    params = [Tensor(p.copy(), requires_grad=True) for p in _initial(2)]
    source = make(params)
    for p, g in zip(params, _gradients(2)[0]):
        p.grad = Tensor(g)
    source.step()
    state = source.state_dict()
    snapshot = {k: v.copy() for k, v in state.items()}
    target = make(params)
    target.load_state_dict(state)
    for p, g in zip(params, _gradients(2)[1]):
        p.grad = Tensor(g)
    target.step()  # updates its state arrays in place: they must not be the loaded ones
    for k, v in snapshot.items():
        np.testing.assert_array_equal(state[k], v, err_msg=k)


def _stepped_adam() -> tuple[optim.Adam, Tensor]:
    p = Tensor(np.ones(2), requires_grad=True)
    adam = optim.Adam([p])
    p.grad = Tensor(np.ones(2))
    adam.step()
    return adam, p


def test_load_state_dict_errors() -> None:
    adam, p = _stepped_adam()
    with pytest.raises(ValueError, match=r"unknown names 'beta1', 'beta2', 'eps' .*another "
                                         r"optimizer's state") as e:
        optim.SGD([p], lr=0.1).load_state_dict(adam.state_dict())
    assert "missing hyperparameter 'momentum'" in str(e.value)
    q = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"'state.1.m' is for parameter 1; there are 1"):
        optim.Adam([q]).load_state_dict({k.replace(".0.", ".1."): v
                                         for k, v in adam.state_dict().items()})
    with pytest.raises(ValueError, match=r"'state.0.m' has shape \(2,\) .* shape \(3,\)"):
        optim.Adam([Tensor(np.ones(3), requires_grad=True)]).load_state_dict(adam.state_dict())
    with pytest.raises(TypeError, match="mapping of names to arrays"):
        adam.load_state_dict([("lr", 0.1)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": "abc"}, r"lr must be a finite real number, got 'abc'"),
        ({"lr": -1.0, "beta1": 5.0},
         r"lr must be >= 0, got -1\.0\n  beta1 must be in \[0, 1\), got 5\.0"),
        ({"eps": np.array(np.nan)}, r"eps must be a finite real number"),
        ({"state.0.v": None}, r"lacks 'v'"),
        ({"state.0.t": np.array(1.5)}, r"'state.0.t' must be a count"),
        ({"state.0.m": np.full(2, 1e300)}, r"'state.0.m' holds values that are not finite"),
        ({"state.0.m": np.array(["a", "b"])}, r"'state.0.m' has shape \(2,\) and dtype <U1"),
        ({"state.0.w": np.zeros(2)}, r"'state.0.w' is not state of Adam, which keeps 't', "),
    ],
    ids=["lr-text", "lr-and-beta1", "eps-nan", "m-without-v", "t-float", "m-overflows",
         "m-text", "unknown-state"],
)
def test_load_state_dict_refuses_bad_values_and_changes_nothing(
    change: dict[str, Any], message: str
) -> None:
    adam, p = _stepped_adam()
    state = adam.state_dict()
    for k, v in change.items():
        if v is None:
            del state[k]
        else:
            state[k] = v
    target = optim.Adam([Tensor(np.ones(2, dtype=np.float32), requires_grad=True)], lr=0.5)
    target.state[0] = {"marker": 1}
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(state)
    assert target.lr == 0.5 and target.state == [{"marker": 1}]  # nothing changed
    target.load_state_dict(adam.state_dict())  # the unchanged state loads
    assert target.lr == adam.lr and target.state[0]["t"] == 1


def test_argument_errors() -> None:
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="requires_grad=True"):
        optim.SGD([Tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\)"):
        optim.Adam([p], beta2=1.0)
    opt = optim.SGD([p], lr=0.1)
    p.grad = Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\)"):
        opt.step()
    assert repr(opt) == "SGD(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0, params=1)"
