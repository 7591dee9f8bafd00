"""tg.manual_seed (every rng=None of the package becomes deterministic) and the default
dtype (tg.set_default_dtype, used by layers and factories)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.data import DataLoader
from tinygrad_edu.models import SimpleConvNet, TwoLayerNet

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def float32_default() -> Iterator[None]:
    tg.set_default_dtype(np.float32)
    try:
        yield
    finally:
        tg.set_default_dtype(np.float64)


# ---------------------------------------------------------------------------- manual_seed

DRAWS: dict[str, Callable[[], Any]] = {
    "randn": lambda: tg.randn(3).data,
    "rand": lambda: tg.rand(2, 2).data,
    "init.normal_": lambda: nn.init.normal_(np.empty(4)),
    "init.kaiming_uniform_": lambda: nn.init.kaiming_uniform_(np.empty((3, 2))),
    "Linear": lambda: nn.Linear(3, 2).weight.data,
    "Conv2d": lambda: nn.Conv2d(1, 2, 3).weight.data,
    "Dropout": lambda: nn.Dropout(0.5)(np.ones(8)).data,
    "DataLoader": lambda: next(iter(DataLoader(np.arange(10), batch_size=4, shuffle=True))),
    "TwoLayerNet": lambda: TwoLayerNet(4, 3, 2).params["W1"],
    "SimpleConvNet": lambda: SimpleConvNet((1, 8, 8), {"filter_num": 2}, hidden_size=3,
                                           output_size=2).params["W1"],
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_manual_seed_makes_every_default_source_repeat(name: str) -> None:
    draw = DRAWS[name]
    tg.manual_seed(123)
    first, second = draw(), draw()
    tg.manual_seed(123)
    np.testing.assert_array_equal(draw(), first)
    np.testing.assert_array_equal(draw(), second)
    assert not np.array_equal(first, second)  # a stream, not the same numbers again
    tg.manual_seed(124)
    assert not np.array_equal(draw(), first)


def test_objects_made_before_the_seed_follow_it() -> None:
    """As torch.manual_seed: a Dropout or a DataLoader built earlier draws from the
    reseeded default generator."""
    drop = nn.Dropout(0.5)
    loader = DataLoader(np.arange(20), batch_size=20, shuffle=True)
    runs = []
    for _ in range(2):
        tg.manual_seed(7)
        runs.append((drop(np.ones(16)).data, next(iter(loader))))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_manual_seed_returns_the_default_generator_and_checks_the_seed() -> None:
    assert tg.manual_seed(0) is tg.random.default_generator()
    assert tg.manual_seed(np.int64(3)) is tg.random.default_generator()
    with pytest.raises(ValueError, match="manual_seed: seed must be >= 0, got -1"):
        tg.manual_seed(-1)
    for bad in (True, 1.5, "0", None):
        with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
            tg.manual_seed(bad)  # type: ignore[arg-type]


def test_explicit_sources_are_untouched_by_the_seed() -> None:
    tg.manual_seed(0)
    a = tg.randn(3, rng=5).data
    tg.manual_seed(1)
    np.testing.assert_array_equal(tg.randn(3, rng=5).data, a)
    book = np.random.RandomState(0)
    np.testing.assert_array_equal(tg.randn(2, rng=book).data, np.random.RandomState(0).randn(2))


SCRIPT = """
import json, os, sys
import tinygrad_edu as tg
out = {"unseeded": tg.randn(3).data.tolist()}
if hasattr(os, "fork"):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, json.dumps(tg.randn(3).data.tolist()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    out["child"] = json.loads(os.read(read, 10000))
    out["parent"] = tg.randn(3).data.tolist()
tg.manual_seed(11)
out["seeded"] = tg.randn(3).data.tolist()
print(json.dumps(out))
"""


def test_without_a_seed_each_run_differs_and_forked_children_differ() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [json.loads(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                                      text=True, check=True, env=env).stdout)
            for _ in range(2)]
    assert runs[0]["unseeded"] != runs[1]["unseeded"]  # fresh entropy without the seed
    assert runs[0]["seeded"] == runs[1]["seeded"]
    if "child" in runs[0]:
        assert runs[0]["child"] != runs[0]["parent"]


def test_manual_seed_behaves_as_pytorchs() -> None:
    torch = pytest.importorskip("torch")

    def pattern(seed: Callable[[int], Any], draw: Callable[[], Any]) -> tuple[bool, bool]:
        seed(5)
        a, b = draw(), draw()
        seed(5)
        return bool(np.array_equal(a, draw())), bool(np.array_equal(a, b))

    drop, tdrop = nn.Dropout(0.5), torch.nn.Dropout(0.5)  # made before the seed
    ours = pattern(tg.manual_seed, lambda: drop(np.ones(32)).data)
    theirs = pattern(torch.manual_seed, lambda: tdrop(torch.ones(32)).numpy())
    assert ours == theirs == (True, False)


# ---------------------------------------------------------------------------- default dtype


def test_float64_stays_the_default() -> None:
    assert tg.get_default_dtype() == np.float64
    assert tg.zeros(2).dtype == tg.randn(2).dtype == nn.Linear(2, 2).weight.dtype == np.float64


@pytest.mark.usefixtures("float32_default")
def test_layers_and_factories_use_the_default_dtype() -> None:
    made = {
        "zeros": tg.zeros(2), "ones": tg.ones(2), "randn": tg.randn(2), "rand": tg.rand(2),
        "full": tg.full(2, 1.5), "arange": tg.arange(0.0, 1.0, 0.5),
        "Linear": nn.Linear(3, 2).weight, "Conv2d": nn.Conv2d(1, 2, 3).bias,
        "BatchNorm1d": nn.BatchNorm1d(2).weight,
        "TwoLayerNet": TwoLayerNet(4, 3, 2).W2,
        "SimpleConvNet": SimpleConvNet((1, 8, 8), {"filter_num": 2}, hidden_size=3,
                                       output_size=2).W3,
    }
    assert {k: str(v.dtype) for k, v in made.items()} == dict.fromkeys(made, "float32")
    assert nn.BatchNorm1d(2).running_var.dtype == np.float32
    # Integers stay integers; an explicit dtype wins; arrays keep their own.
    assert tg.arange(3).dtype == np.int64 and tg.full(2, 7).dtype == np.int64
    assert tg.zeros(2, dtype=np.float64).dtype == np.float64
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
    assert tg.Tensor(np.ones(2)).dtype == np.float64


def test_set_default_dtype_refuses_what_is_not_a_float() -> None:
    with pytest.raises(TypeError, match="set_default_dtype: needs a floating dtype .* got int32"):
        tg.set_default_dtype(np.int32)
    with pytest.raises(TypeError, match="set_default_dtype: dtype 'float33' is not a dtype"):
        tg.set_default_dtype("float33")
    with pytest.raises(TypeError, match="Linear: needs a floating dtype"):
        nn.Linear(2, 2, dtype=np.int64)
    assert tg.get_default_dtype() == np.float64  # unchanged by the refusals


@pytest.mark.usefixtures("float32_default")
def test_the_float32_recipe_stays_float32_end_to_end() -> None:
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = tg.optim.Adam(net.parameters())
    x = np.random.default_rng(0).random((6, 4), dtype=np.float32)  # as the MNIST loaders
    loss = nn.CrossEntropyLoss()(net(x), np.array([0, 1, 2, 0, 1, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    opt.step()
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    assert {p.grad.dtype for p in net.parameters()} == {np.dtype(np.float32)}


def test_default_dtype_behaves_as_pytorchs() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_default_dtype()
    try:
        for ours, theirs in [(np.float32, torch.float32), (np.float64, torch.float64)]:
            tg.set_default_dtype(ours)
            torch.set_default_dtype(theirs)
            pairs = [(tg.zeros(2), torch.zeros(2)), (tg.randn(2), torch.randn(2)),
                     (tg.full(2, 1.5), torch.full((2,), 1.5)), (tg.full(2, 7), torch.full((2,), 7)),
                     (tg.arange(3), torch.arange(3)), (tg.arange(0.0, 2.0), torch.arange(0.0, 2.0)),
                     (nn.Linear(2, 3).weight, torch.nn.Linear(2, 3).weight)]
            for mine, other in pairs:
                assert str(mine.dtype) == str(other.dtype).removeprefix("torch.")
    finally:
        tg.set_default_dtype(np.float64)
        torch.set_default_dtype(before)
