"""nn.ModuleList, nn.ModuleDict, nn.utils.clip_grad_norm_/clip_grad_value_ and
optim.lr_scheduler: against their formulas and (where installed) against PyTorch."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, serialization
from tinygrad_edu.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_edu.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    StepLR,
)

# ---------------------------------------------------------------------------- containers


class Stack(nn.Module):
    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, rng=i)
                                    for i, (a, b) in enumerate(zip(sizes, sizes[1:])))

    def forward(self, x: Any) -> tg.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def test_module_list_registers_its_modules() -> None:
    net = Stack([3, 4, 2])
    assert [n for n, _ in net.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert list(net.state_dict())[0] == "layers.0.weight"
    opt = optim.SGD(net.parameters(), lr=0.1)
    assert len(opt.params) == 4
    net(np.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_module_list_behaves_as_a_list() -> None:
    a, b, c, d = (nn.Linear(1, 1, rng=i) for i in range(4))
    layers = nn.ModuleList([a, b])
    layers.append(c)
    layers += [d]
    assert list(layers) == [a, b, c, d] and len(layers) == 4
    assert layers[-1] is d and layers[1] is b and list(layers[1:3]) == [b, c]
    assert isinstance(layers[1:3], nn.ModuleList)
    del layers[1]
    assert list(layers) == [a, c, d] and [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    layers.insert(0, b)
    assert list(layers) == [b, a, c, d]
    layers[2] = a
    assert layers[2] is a and len(list(layers.parameters())) == 6  # a counted once
    del layers[::2]
    assert list(layers) == [a, d]
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range for 2 modules"):
        layers[5]
    with pytest.raises(TypeError, match="ModuleList: indices must be integers"):
        layers["0"]  # type: ignore[index]
    with pytest.raises(TypeError, match="ModuleList.append: expected a Module, got int"):
        layers.append(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single Linear"):
        layers.extend(a)  # type: ignore[arg-type]
    assert layers[np.int64(1)] is d


def test_module_dict_behaves_as_a_dict() -> None:
    heads = nn.ModuleDict({"b": nn.Linear(2, 1, rng=0), "a": nn.Linear(2, 3, rng=1)})
    assert list(heads) == ["b", "a"] and "a" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["b.weight", "b.bias", "a.weight",
                                                        "a.bias"]
    heads.update([("c", nn.ReLU())])
    assert heads.keys() == ["b", "a", "c"] and isinstance(heads.values()[2], nn.ReLU)
    popped = heads.pop("b")
    assert isinstance(popped, nn.Linear) and heads.keys() == ["a", "c"]
    assert [k for k, _ in heads.items()] == ["a", "c"]
    del heads["c"]
    with pytest.raises(KeyError, match=r"no module under 'c'; keys: \['a'\]"):
        heads["c"]
    for bad, error in [("x.y", KeyError), ("", KeyError), ("forward", KeyError),
                       ("training", KeyError), ("pop", KeyError), (1, TypeError)]:
        with pytest.raises(error):
            heads[bad] = nn.ReLU()  # type: ignore[index]
    with pytest.raises(TypeError, match="ModuleDict: expected a Module, got ndarray"):
        heads["w"] = np.zeros(2)  # type: ignore[assignment]
    heads.clear()
    assert len(heads) == 0 and list(heads.parameters()) == []


def test_a_plain_list_of_modules_warns() -> None:
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2, rng=0)]

    with pytest.warns(UserWarning, match=r"Forgetful\.layers is a list of modules.*ModuleList"):
        net = Forgetful()
    assert list(net.parameters()) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Module().sizes = [1, 2, 3]  # a list of other things is fine


def test_containers_name_parameters_as_pytorch() -> None:
    torch = pytest.importorskip("torch")

    def build(lib: Any, linear: Callable[[int, int], Any]) -> Any:
        layers = lib.ModuleList([linear(2, 3), linear(3, 3)])
        layers.append(linear(3, 1))
        layers.insert(1, linear(2, 2))
        del layers[0]
        heads = lib.ModuleDict({"y": linear(1, 2)})
        heads["x"] = linear(1, 1)
        return lib.ModuleDict({"body": layers, "heads": heads})

    ours = build(nn, lambda a, b: nn.Linear(a, b, rng=0))
    theirs = build(torch.nn, torch.nn.Linear)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


# ---------------------------------------------------------------------------- clipping


def _params(grads: list[np.ndarray]) -> list[tg.Tensor]:
    out = []
    for g in grads:
        p = tg.Tensor(np.zeros(g.shape, dtype=g.dtype), requires_grad=True)
        p.grad = tg.Tensor(g.copy())
        out.append(p)
    return out


GRADS = [np.array([[3.0, -1.0], [0.5, 2.0]]), np.array([-4.0, 1.5, 0.25])]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_follows_the_formula(norm_type: float, max_norm: float) -> None:
    flat = np.concatenate([g.ravel() for g in GRADS])
    total = (np.abs(flat).max() if math.isinf(norm_type)
             else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type))
    params = _params(GRADS)
    params.append(tg.Tensor(np.zeros(2), requires_grad=True))  # no grad: skipped
    returned = clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(returned, tg.Tensor) and returned.shape == ()
    np.testing.assert_allclose(returned.data, total, rtol=1e-12)
    scale = min(1.0, max_norm / (total + 1e-6))
    for p, g in zip(params, GRADS):
        np.testing.assert_allclose(p.grad.data, g * scale, rtol=1e-12)
    assert params[-1].grad is None


def test_clip_grad_norm_details() -> None:
    (p,) = _params([np.array([3.0, 4.0], dtype=np.float32)])
    total = clip_grad_norm_(p, 1.0)  # a single tensor is accepted
    assert total.dtype == np.float32 and p.grad.dtype == np.float32 and float(total) == 5.0
    assert clip_grad_norm_([tg.Tensor(np.zeros(2), requires_grad=True)], 1.0).item() == 0.0
    (q,) = _params([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* inf"):
        clip_grad_norm_([q], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(q.grad.data, [np.inf, 1.0])  # unchanged on error
    with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a number, got str"):
        clip_grad_norm_([q], "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be > 0 or inf"):
        clip_grad_norm_([q], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="clip_grad_norm_: parameter 0 is a ndarray"):
        clip_grad_norm_([np.zeros(2)], 1.0)  # type: ignore[list-item]


def test_clip_grad_value_follows_the_formula() -> None:
    params = _params(GRADS)
    assert clip_grad_value_(params, 1.0) is None
    for p, g in zip(params, GRADS):
        np.testing.assert_array_equal(p.grad.data, np.clip(g, -1.0, 1.0))
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1"):
        clip_grad_value_(params, -1)


def test_clipping_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    cases = [rng.standard_normal((3, 4)) * 5, rng.standard_normal(7)]
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        for max_norm in (0.1, 1.0, 50.0):
            ours = _params(cases)
            theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
                      for g in cases]
            for t, g in zip(theirs, cases):
                t.grad = torch.tensor(g)
            total = clip_grad_norm_(ours, max_norm, norm_type)
            ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
            np.testing.assert_allclose(total.data, ttotal.numpy(), rtol=1e-12)
            for p, t in zip(ours, theirs):
                np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)
    for special in (np.inf, np.nan):
        (p,) = _params([np.array([special, 4.0])])
        t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor([special, 4.0], dtype=torch.float64)
        np.testing.assert_array_equal(clip_grad_norm_(p, 1.0).data,
                                      torch.nn.utils.clip_grad_norm_(t, 1.0).numpy())
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
    ours = _params(cases)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in cases]
    for t, g in zip(theirs, cases):
        t.grad = torch.tensor(g)
    clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


# ---------------------------------------------------------------------------- schedulers

SCHEDULES: dict[str, tuple[Callable[..., Any], dict[str, Any], Callable[[int], float]]] = {
    "StepLR": (StepLR, {"step_size": 3, "gamma": 0.5}, lambda e: 0.1 * 0.5 ** (e // 3)),
    "ExponentialLR": (ExponentialLR, {"gamma": 0.9}, lambda e: 0.1 * 0.9 ** e),
    "CosineAnnealingLR": (CosineAnnealingLR, {"T_max": 5, "eta_min": 0.01},
                          lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * e / 5)) / 2),
    "LambdaLR": (LambdaLR, {"lr_lambda": lambda e: 1 / (e + 1)}, lambda e: 0.1 / (e + 1)),
}


def _optimizer(lr: float = 0.1) -> optim.Optimizer:
    return optim.SGD([tg.Tensor(np.zeros(2), requires_grad=True)], lr=lr)


def _run(sched: Any, steps: int) -> list[float]:
    lrs = []
    for _ in range(steps):
        lrs.append(sched.optimizer.lr)
        assert sched.get_last_lr() == [sched.optimizer.lr]
        sched.step()
    return lrs


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_follow_their_formulas(name: str) -> None:
    cls, kwargs, formula = SCHEDULES[name]
    sched = cls(_optimizer(), **kwargs)
    assert sched.last_epoch == 0 and sched.base_lrs == [0.1]
    np.testing.assert_allclose(_run(sched, 16), [formula(e) for e in range(16)], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_round_trip_continues_the_schedule(name: str, tmp_path: Path) -> None:
    cls, kwargs, _ = SCHEDULES[name]
    whole = _run(cls(_optimizer(), **kwargs), 14)
    opt = _optimizer()
    first = cls(opt, **kwargs)
    _run(first, 6)
    path = serialization.save({**{f"opt/{k}": v for k, v in opt.state_dict().items()},
                               **{f"sched/{k}": v for k, v in first.state_dict().items()}},
                              tmp_path / "state.npz")
    state = serialization.load(path)
    opt2 = _optimizer(lr=5.0)  # another start: the state dicts must bring back the run
    second = cls(opt2, **kwargs)
    opt2.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("opt/")})
    second.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("sched/")})
    assert second.last_epoch == 6 and second.base_lrs == [0.1]
    assert second.get_last_lr() == first.get_last_lr()
    np.testing.assert_allclose(_run(second, 8), whole[6:], rtol=1e-12)


def test_load_state_dict_checks_everything_first() -> None:
    sched = StepLR(_optimizer(), step_size=2)
    good = sched.state_dict()
    assert list(good) == ["last_epoch", "base_lr", "last_lr", "step_size", "gamma"]
    before = dict(sched.state_dict())
    bad = {**good, "step_size": np.int64(0), "extra": 1}
    del bad["last_lr"]
    with pytest.raises(ValueError, match=(r"StepLR\.load_state_dict: .*missing 'last_lr'.*"
                                          r"unknown name 'extra'.*step_size must be an integer")):
        sched.load_state_dict(bad)
    assert {k: v.item() for k, v in sched.state_dict().items()} == {
        k: v.item() for k, v in before.items()}
    with pytest.raises(TypeError, match="expected a mapping"):
        sched.load_state_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda o: StepLR(o, step_size=0), ValueError, "StepLR: step_size must be an integer >= 1"),
    (lambda o: StepLR(o, 2, gamma=-1), ValueError, "StepLR: gamma must be >= 0"),
    (lambda o: ExponentialLR(o, gamma=float("nan")), ValueError, "gamma must be a finite"),
    (lambda o: CosineAnnealingLR(o, T_max=1.5), ValueError, "T_max must be an integer"),
    (lambda o: LambdaLR(o, 0.5), TypeError, "LambdaLR: lr_lambda must be callable"),
    (lambda o: LambdaLR(o, lambda e: "x"), TypeError, r"lr_lambda\(0\) returned a str"),
    (lambda o: StepLR(object(), 2), TypeError, "StepLR: expected an optimizer"),
])
def test_bad_settings_are_refused(make: Callable[[Any], Any], error: type[Exception],
                                  message: str) -> None:
    with pytest.raises(error, match=message):
        make(_optimizer())


def test_a_negative_learning_rate_is_refused_and_nothing_changes() -> None:
    opt = _optimizer()
    sched = LambdaLR(opt, lambda e: 1.0 - e)
    sched.step()
    with pytest.raises(ValueError, match=r"LambdaLR\.step: at epoch 2 the learning rate must "
                                         r"be >= 0, got -0\.1"):
        sched.step()
    assert sched.last_epoch == 1 and opt.lr == 0.0


def test_schedulers_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    lt = torch.optim.lr_scheduler

    def torch_run(make: Callable[[Any], list[Any]], steps: int) -> list[float]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        scheds = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            for s in scheds:
                s.step()
        return lrs

    def our_run(make: Callable[[Any], list[Any]], steps: int) -> list[float]:
        opt = _optimizer()
        scheds = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.lr)
            for s in scheds:
                s.step()
        return lrs

    pairs = [
        (lambda o: [StepLR(o, 4, 0.3)], lambda o: [lt.StepLR(o, 4, 0.3)]),
        (lambda o: [ExponentialLR(o, 0.8)], lambda o: [lt.ExponentialLR(o, 0.8)]),
        (lambda o: [CosineAnnealingLR(o, 6, 0.001)],
         lambda o: [lt.CosineAnnealingLR(o, 6, 0.001)]),
        (lambda o: [LambdaLR(o, lambda e: 0.95 ** e)],
         lambda o: [lt.LambdaLR(o, lambda e: 0.95 ** e)]),
        # chained: both act on the current lr, step by step
        (lambda o: [StepLR(o, 3, 0.5), ExponentialLR(o, 0.9)],
         lambda o: [lt.StepLR(o, 3, 0.5), lt.ExponentialLR(o, 0.9)]),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(our_run(ours, 30), torch_run(theirs, 30), rtol=1e-10)
