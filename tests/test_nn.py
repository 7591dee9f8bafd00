"""nn: Module bookkeeping, state dicts, every layer and loss against finite differences,
initialisers, and a small network that learns."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.gradcheck import gradcheck, numerical_gradient
from tinygrad_edu.nn import init
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.tensor import Tensor

# ---------------------------------------------------------------------------- helpers


def check_module_gradients(
    module: nn.Module, *inputs: Any, seed: int = 0, atol: float = 1e-5, rtol: float = 1e-3
) -> None:
    """Autograd against central differences for ``module``'s inputs and parameters.

    Inputs go through :func:`gradcheck`. Parameters are checked the book's way: each
    weight is perturbed in place (the module reads it) and the weighted output
    ``sum(out * v)`` re-evaluated, v a random upstream gradient.
    """
    tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    if any(t.requires_grad for t in tensors):
        assert gradcheck(lambda *xs: module(*xs), *tensors, seed=seed)
    params = list(module.parameters())
    if not params:
        return
    out = module(*tensors)
    v = np.random.default_rng(seed).standard_normal(out.shape)
    module.zero_grad()
    (out * v).sum().backward()

    def objective(_: Any) -> float:
        return float(np.sum(module(*tensors).data * v))

    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype, name
        numeric = numerical_gradient(objective, p, eps=1e-6)
        np.testing.assert_allclose(p.grad.data, numeric, atol=atol, rtol=rtol, err_msg=name)


def _x(*shape: int, seed: int = 1, requires_grad: bool = True) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


class Block(nn.Module):
    """Parameters and sub-modules interleaved, to pin the registration order."""

    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Parameter(np.zeros(2))
        self.inner = nn.Linear(2, 3, rng=0)
        self.a = nn.Parameter(np.ones(3))
        self.act = nn.ReLU()
        self.head = nn.Linear(3, 1, rng=1)

    def forward(self, x: Any) -> Tensor:
        return self.head(self.act(self.inner(x + self.b) * self.a))


# ---------------------------------------------------------------------------- Parameter


def test_parameter_shares_memory_and_requires_grad() -> None:
    arr = np.arange(3.0)
    p = nn.Parameter(arr)
    assert p.requires_grad and p.is_leaf
    arr[0] = 7.0
    assert p.data[0] == 7.0  # the same array, as the book's params dict needs
    assert repr(p).startswith("Parameter([7. 1. 2.]")
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


# ---------------------------------------------------------------------------- registration


def test_registration_order_and_traversal() -> None:
    m = Block()
    assert [n for n, _ in m.named_parameters()] == [
        "b", "a", "inner.weight", "inner.bias", "head.weight", "head.bias"
    ]
    assert [n for n, _ in m.named_children()] == ["inner", "act", "head"]
    assert list(m.children()) == [m.inner, m.act, m.head]
    assert [n for n, _ in m.named_modules()] == ["", "inner", "act", "head"]
    assert list(m.modules())[0] is m
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["b", "a"]
    assert len(list(m.parameters())) == 6


def test_nested_modules_are_walked_depth_first() -> None:
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2, rng=0), nn.Tanh()), nn.Linear(2, 1, rng=1))
    assert [n for n, _ in net.named_modules()] == ["", "0", "0.0", "0.1", "1"]
    assert [n for n, _ in net.named_parameters()] == [
        "0.0.weight", "0.0.bias", "1.weight", "1.bias"
    ]


def test_reassignment_keeps_position_and_deletion_unregisters() -> None:
    m = Block()
    m.b = nn.Parameter(np.full(2, 5.0))  # replace: same slot in the order
    assert [n for n, _ in m.named_parameters()][:2] == ["b", "a"]
    assert m.b.data[0] == 5.0
    del m.a
    assert "a" not in [n for n, _ in m.named_parameters()]
    m.inner = 3  # a plain value replaces the sub-module
    assert [n for n, _ in m.named_children()] == ["act", "head"]


def test_assigning_a_tensor_to_a_parameter_name_is_refused() -> None:
    layer = nn.Linear(2, 2, rng=0)
    with pytest.raises(TypeError, match=r"parameter 'weight'.*\.data\[\.\.\.\]"):
        layer.weight = layer.weight * 2
    layer.bias = None  # None keeps the name registered, without a parameter
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_assignment_before_init_is_explained() -> None:
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(RuntimeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_shared_parameter_is_listed_once() -> None:
    first = nn.Linear(2, 2, rng=0)
    second = nn.Linear(2, 2, rng=1)
    second.weight = first.weight
    net = nn.Sequential(first, second)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert list(net.state_dict()) == names


def test_zero_grad_train_eval() -> None:
    net = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Dropout(0.5, rng=0))
    net(np.ones((4, 3))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_forward_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match="Bare does not define forward"):
        type("Bare", (nn.Module,), {})()(1)


def test_repr_is_nested() -> None:
    net = nn.Sequential(nn.Linear(2, 3, bias=False, rng=0),
                        nn.Sequential(nn.ReLU(), nn.Dropout(0.25)),
                        nn.BatchNorm1d(3), nn.CrossEntropyLoss())
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=False)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.25)\n"
        "  )\n"
        "  (2): BatchNorm1d(3, eps=1e-05, momentum=0.1)\n"
        "  (3): CrossEntropyLoss()\n"
        ")"
    )


def test_sequential_container() -> None:
    net = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2, rng=0)), ("act", nn.Tanh())]))
    assert [n for n, _ in net.named_children()] == ["fc", "act"]
    assert len(net) == 2 and net[1] is net.act and list(net) == [net.fc, net.act]
    net.append(nn.Sigmoid())
    head = net[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [net.fc, net.act]
    x = np.array([[0.3, -0.2]])
    expected = 1 / (1 + np.exp(-np.tanh(x @ net.fc.weight.data + net.fc.bias.data)))
    np.testing.assert_allclose(net(x).data, expected, rtol=1e-12)


def test_sequential_slice_keeps_the_parents_names() -> None:
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    tail = net[1:]
    assert [name for name, _ in tail.named_children()] == ["1", "2"]
    assert tail[0] is net[1] and tail[-1] is net[2]  # integers still index by position
    # The slice's checkpoint names its weights as the parent's does, so one loads into
    # the other.
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]
    assert tail.load_state_dict(net.state_dict(), strict=False).unexpected_keys == [
        "0.weight", "0.bias"
    ]
    assert repr(tail).splitlines()[1] == "  (1): ReLU()"
    # Appending to the slice takes the next free number instead of replacing "2".
    tail.append(nn.Sigmoid())
    assert [name for name, _ in tail.named_children()] == ["1", "2", "3"]
    assert len(net) == 3
    assert list(net[:0].named_children()) == []


# ---------------------------------------------------------------------------- state dicts


def test_state_dict_is_an_ordered_copy() -> None:
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3))
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias",
                           "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    state["0.weight"][...] = 0.0
    assert np.any(net[0].weight.data != 0.0)  # a copy, not the live array


def test_state_dict_round_trip_in_place() -> None:
    source = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.BatchNorm1d(4),
                           nn.Linear(4, 2, rng=1))
    source(np.random.default_rng(0).standard_normal((8, 3)))  # moves the running stats
    target = nn.Sequential(nn.Linear(3, 4, rng=5), nn.ReLU(), nn.BatchNorm1d(4),
                           nn.Linear(4, 2, rng=6))
    live = [p.data for p in target.parameters()]
    result = target.load_state_dict(source.state_dict())
    assert result == nn.LoadResult([], [])
    assert all(p.data is a for p, a in zip(target.parameters(), live))  # written in place
    x = np.random.default_rng(1).standard_normal((5, 3))
    source.eval()
    target.eval()
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_strict_errors_name_the_keys() -> None:
    net = nn.Linear(2, 3, rng=0)
    before = net.weight.data.copy()
    good = net.state_dict()

    missing = {"weight": good["weight"] + 1}
    with pytest.raises(RuntimeError, match=r"Linear:\n  missing keys: 'bias'"):
        net.load_state_dict(missing)
    unexpected = dict(good, extra=np.zeros(1))
    with pytest.raises(RuntimeError, match="unexpected keys: 'extra'"):
        net.load_state_dict(unexpected)
    wrong_shape = dict(good, weight=np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match=r"size mismatch for 'weight': the checkpoint has "
                                           r"shape \(3, 2\), the model has shape \(2, 3\)"):
        net.load_state_dict(wrong_shape, strict=False)
    with pytest.raises(RuntimeError, match="dtype of 'bias'"):
        net.load_state_dict(dict(good, bias=np.array(["a", "b", "c"])))
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([("weight", good["weight"])])  # type: ignore[arg-type]
    np.testing.assert_array_equal(net.weight.data, before)  # nothing written on error

    result = net.load_state_dict(dict(missing, extra=np.zeros(1)), strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(net.weight.data, before + 1)


def test_load_state_dict_keeps_the_model_dtype() -> None:
    net32 = nn.Linear(2, 2, rng=0, dtype=np.float32)
    state64 = {"weight": np.full((2, 2), 1 / 3), "bias": np.array([1, 2])}  # int bias too
    net32.load_state_dict(state64)
    assert net32.weight.dtype == np.float32 and net32.bias.dtype == np.float32
    np.testing.assert_array_equal(net32.weight.data, np.float32(1 / 3))
    np.testing.assert_array_equal(net32.bias.data, [1.0, 2.0])
    net32.load_state_dict({"weight": Tensor(np.zeros((2, 2))), "bias": np.zeros(2)})
    assert not net32.weight.data.any()


def _two_layers() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 3, rng=0, dtype=np.float32), nn.ReLU(),
                         nn.Linear(3, 1, rng=1, dtype=np.float32))


def _values(net: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in net.state_dict().items()}


def test_load_state_dict_checks_writability_before_the_first_write() -> None:
    net = _two_layers()
    before = _values(net)
    net[2].weight.data.flags.writeable = False  # a later parameter is read-only
    new = {k: v + 1 for k, v in before.items()}
    with pytest.raises(RuntimeError, match=r"'2\.weight' is read-only in the model"):
        net.load_state_dict(new)
    for k, v in net.state_dict().items():  # the earlier ones were not overwritten
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_refuses_values_that_overflow_the_cast() -> None:
    net = _two_layers()
    before = _values(net)
    state = {k: v.astype(np.float64) for k, v in before.items()}
    state["2.bias"] = np.array([1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error, not a RuntimeWarning about the cast
        with pytest.raises(RuntimeError, match=r"'2\.bias': values up to 1e\+300 overflow "
                                               r"float32"):
            net.load_state_dict(state)
    np.testing.assert_array_equal(net[2].bias.data, before["2.bias"])
    with pytest.raises(RuntimeError, match=r"'0\.bias': the checkpoint has non-finite"):
        net.load_state_dict(dict(state, **{"2.bias": before["2.bias"],
                                           "0.bias": np.array([0.0, np.nan, 1.0])}))


def test_load_state_dict_lists_every_problem_at_once() -> None:
    net = _two_layers()
    before = _values(net)
    net[0].bias.data.flags.writeable = False
    state = {"0.weight": np.zeros((3, 2)), "0.bias": np.zeros(3),
             "2.weight": np.full((3, 1), 1e39), "extra": np.zeros(1)}
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(state)
    lines = str(e.value).splitlines()
    assert lines[0] == "Error(s) in loading state_dict for Sequential:"
    assert lines[1:] == [
        "  missing keys: '2.bias'",
        "  unexpected keys: 'extra'",
        "  size mismatch for '0.weight': the checkpoint has shape (3, 2), the model has "
        "shape (2, 3)",
        "  '0.bias' is read-only in the model; nothing can be loaded into it",
        "  '2.weight': values up to 1e+39 overflow float32",
    ]
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_integer_buffers_take_exact_values_only() -> None:
    net = nn.Linear(1, 1, rng=0)
    net.register_buffer("steps", np.zeros(1, dtype=np.int64))
    net.load_state_dict(dict(net.state_dict(), steps=np.array([3.0])))
    assert net.steps.tolist() == [3]
    with pytest.raises(RuntimeError, match="'steps': the checkpoint has values int64 cannot"):
        net.load_state_dict(dict(net.state_dict(), steps=np.array([2.5])))
    assert net.steps.tolist() == [3]


# ---------------------------------------------------------------------------- layers


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_numpy_and_gradchecks(bias: bool) -> None:
    layer = nn.Linear(4, 3, bias=bias, rng=0)
    x = _x(5, 4)
    expected = x.data @ layer.weight.data + (layer.bias.data if bias else 0.0)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12)
    check_module_gradients(layer, x)


def test_linear_on_batched_input_gradchecks() -> None:
    check_module_gradients(nn.Linear(3, 2, rng=0), _x(2, 4, 3))


def test_affine_flattens_like_the_seed() -> None:
    layer = nn.Affine(12, 2, rng=0)
    x = _x(3, 1, 3, 4)
    out = layer(x)
    np.testing.assert_allclose(out.data, x.data.reshape(3, -1) @ layer.weight.data, rtol=1e-12)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (3, 1, 3, 4)  # dx back in x's shape
    check_module_gradients(layer, x)


def test_float32_layers_stay_float32() -> None:
    f32 = np.float32
    net = nn.Sequential(nn.Linear(4, 5, rng=0, dtype=f32), nn.BatchNorm1d(5, dtype=f32),
                        nn.ReLU(), nn.Dropout(0.2, rng=0), nn.Linear(5, 3, rng=1, dtype=f32))
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    out = net(x)
    assert out.dtype == np.float32
    loss = nn.CrossEntropyLoss()(out, np.array([0, 1, 2, 0, 1, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    assert all(b.dtype == np.float32 for name, b in net.named_buffers()
               if not name.endswith("num_batches_tracked"))  # a count: int64, as PyTorch


def test_linear_rejects_integer_dtype_and_unknown_init() -> None:
    with pytest.raises(TypeError, match="floating dtype"):
        nn.Linear(2, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="Linear: unknown weight_init 'lecun'"):
        nn.Linear(2, 2, weight_init="lecun")


def test_linear_weight_init_choices() -> None:
    book_style = nn.Linear(300, 200, weight_init=0.01, rng=3)
    np.testing.assert_array_equal(
        book_style.weight.data, 0.01 * np.random.default_rng(3).standard_normal((300, 200))
    )
    assert not book_style.bias.data.any()
    he = nn.Linear(300, 200, rng=0)
    assert abs(he.weight.data.std() - math.sqrt(2 / 300)) < 0.02 * math.sqrt(2 / 300)
    xavier = nn.Linear(300, 200, weight_init="xavier", rng=0)
    assert abs(xavier.weight.data.std() - math.sqrt(2 / 500)) < 0.02 * math.sqrt(2 / 500)
    custom = nn.Linear(2, 2, weight_init=lambda w, rng: init.ones_(w))
    np.testing.assert_array_equal(custom.weight.data, np.ones((2, 2)))


@pytest.mark.parametrize(
    "module, reference",
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Relu(), lambda x: np.maximum(x, 0)),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.Tanh(), np.tanh),
    ],
    ids=["ReLU", "Relu", "Sigmoid", "Tanh"],
)
def test_activations(module: nn.Module, reference: Callable[[np.ndarray], np.ndarray]) -> None:
    x = _x(4, 5)
    # Away from ReLU's kink, where finite differences straddle two slopes.
    x.data[np.abs(x.data) < 1e-3] = 0.5
    np.testing.assert_allclose(module(x).data, reference(x.data), rtol=1e-12)
    check_module_gradients(module, x)


def test_sequential_gradchecks() -> None:
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1), nn.Sigmoid())
    check_module_gradients(net, _x(5, 3))


def test_dropout_masks_and_scales() -> None:
    drop = nn.Dropout(0.3, rng=0)
    out = drop(np.ones((200, 200))).data
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    assert drop(np.ones(5)).dtype == np.float64
    x = _x(3, 4)
    drop.eval()
    assert drop(x) is x  # identity in eval
    assert nn.Dropout(0.0, rng=0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p must be in"):
            nn.Dropout(p)


def test_every_random_source_is_accepted_and_bad_ones_name_the_caller() -> None:
    # A RandomState draws what the book's np.random.randn draws after np.random.seed.
    w = init.normal_(np.empty((4, 3)), 0.01, np.random.RandomState(3))
    np.testing.assert_array_equal(w, 0.01 * np.random.RandomState(3).randn(4, 3))
    legacy = nn.Linear(4, 3, weight_init=0.01, rng=np.random.RandomState(3))
    np.testing.assert_array_equal(legacy.weight.data, w)
    assert nn.Dropout(0.5, rng=np.random.RandomState(0))(np.ones(8)).shape == (8,)
    for make, where in [
        (lambda rng: nn.Linear(2, 2, rng=rng), "Linear"),
        (lambda rng: nn.Dropout(0.5, rng=rng), "Dropout"),
        (lambda rng: init.uniform_(np.empty(2), rng=rng), "uniform_"),
    ]:
        for bad in (True, 1.5, "book"):
            with pytest.raises(TypeError, match=f"^{where}: rng must be a numpy Generator"):
                make(bad)


def test_dropout_gradient_uses_the_forward_mask() -> None:
    x = _x(6, 5)
    assert gradcheck(lambda t: nn.Dropout(0.4, rng=7)(t), x)  # same seed, same mask
    out = nn.Dropout(0.4, rng=7)(x)
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(x.grad.data, (out.data != 0) / 0.6)


def test_batchnorm_training_normalizes_and_tracks_stats() -> None:
    bn = nn.BatchNorm1d(3, momentum=0.25)
    x = np.random.default_rng(0).normal(5.0, 3.0, size=(64, 3))
    y = bn(x).data
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 1.0, rtol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.25 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.75 + 0.25 * x.var(axis=0, ddof=1), rtol=1e-12)
    bn.eval()
    z = np.random.default_rng(1).standard_normal((4, 3))
    expected = (z - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(bn(z).data, expected, rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradchecks(training: bool) -> None:
    bn = nn.BatchNorm1d(3)
    bn.weight.data[...] = [0.5, 2.0, -1.0]
    bn.bias.data[...] = [0.1, 0.0, 0.3]
    bn.running_mean[...] = [0.2, -0.1, 0.0]
    bn.running_var[...] = [1.5, 0.5, 2.0]
    bn.train(training)
    check_module_gradients(bn, _x(6, 3))


def test_batchnorm_errors() -> None:
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"shape \(N, 3\), got \(2, 4\)"):
        bn(np.ones((2, 4)))
    with pytest.raises(ValueError, match="more than one sample"):
        bn(np.ones((1, 3)))
    assert [n for n, _ in nn.BatchNorm1d(2, affine=False).named_parameters()] == []


# ---------------------------------------------------------------------------- losses


def _seed_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("one_hot", [False, True])
def test_cross_entropy_loss_is_the_seeds_softmax_with_loss(one_hot: bool) -> None:
    assert nn.SoftmaxWithLoss is nn.CrossEntropyLoss
    logits = _x(5, 4)
    labels = np.array([0, 3, 1, 1, 2])
    target = np.eye(4)[labels] if one_hot else labels
    y = _seed_softmax(logits.data)
    expected = -np.log(y[np.arange(5), labels]).sum() / 5
    loss = nn.SoftmaxWithLoss()(logits, target)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(logits.grad.data, (y - np.eye(4)[labels]) / 5, atol=1e-15)
    assert gradcheck(lambda t: nn.CrossEntropyLoss()(t, target), _x(5, 4))
    assert gradcheck(lambda t: nn.CrossEntropyLoss("sum")(t, target), _x(5, 4))


def test_mse_loss() -> None:
    pred, target = _x(3, 2), np.random.default_rng(9).standard_normal((3, 2))
    np.testing.assert_allclose(float(nn.MSELoss()(pred, target)),
                               np.mean((pred.data - target) ** 2), rtol=1e-12)
    assert gradcheck(lambda t: nn.MSELoss()(t, target), pred)
    assert gradcheck(lambda t: nn.MSELoss("none")(t, target), pred)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("avg")


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss, nn.MSELoss])
def test_loss_reduction_is_checked_when_the_loss_is_built(loss: type[nn.Module]) -> None:
    with pytest.raises(ValueError, match=rf"^{loss.__name__}: reduction must be one of .*'avg'"):
        loss("avg")
    for reduction in ("mean", "sum", "none"):
        assert loss(reduction).reduction == reduction


# ---------------------------------------------------------------------------- init


def test_normal_is_the_seeds_formula_and_keeps_dtype() -> None:
    w = np.empty((784, 50), dtype=np.float32)
    assert init.normal_(w, 0.01, 42) is w
    expected = 0.01 * np.random.default_rng(42).standard_normal((784, 50))
    np.testing.assert_array_equal(w, expected.astype(np.float32))
    t = Tensor(np.empty((3, 2)))
    init.normal_(t, 2.0, np.random.default_rng(42), mean=1.0)
    expected = 1.0 + 2.0 * np.random.default_rng(42).standard_normal((3, 2))
    np.testing.assert_array_equal(t.data, expected)


@pytest.mark.parametrize(
    "fn, expected_std",
    [
        (init.xavier_normal_, math.sqrt(2 / (400 + 300))),
        (init.xavier_uniform_, math.sqrt(2 / (400 + 300))),
        (init.kaiming_normal_, math.sqrt(2 / 400)),
        (init.kaiming_uniform_, math.sqrt(2 / 400)),
    ],
)
def test_scaled_initializers(fn: Callable[..., Any], expected_std: float) -> None:
    w = fn(np.empty((400, 300), dtype=np.float32), rng=0)
    assert w.dtype == np.float32
    assert abs(float(w.std()) - expected_std) < 0.01 * expected_std
    assert abs(float(w.mean())) < 0.01 * expected_std
    np.testing.assert_array_equal(w, fn(np.empty((400, 300), dtype=np.float32), rng=0))


def test_uniform_bounds_and_fan_out_mode() -> None:
    w = init.xavier_uniform_(np.empty((30, 20)), rng=1)
    assert np.abs(w).max() <= math.sqrt(6 / 50)
    w = init.kaiming_normal_(np.empty((100, 2000)), rng=1, mode="fan_out")
    assert abs(w.std() - math.sqrt(2 / 2000)) < 0.02 * math.sqrt(2 / 2000)
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_uniform_(np.empty((2, 2)), mode="fan_avg")
    assert init.fan_in_and_fan_out((2, 3, 5)) == (6, 5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_normal_(np.empty(3))


def test_zeros_ones_and_errors() -> None:
    t = Tensor(np.full((2, 2), 3.0))
    assert not init.zeros_(t).data.any()
    assert (init.ones_(np.zeros(3)) == 1).all()
    with pytest.raises(TypeError, match="floating-point"):
        init.zeros_(np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="rng must be"):
        init.normal_(np.zeros(3), rng="book")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- learning


def _spirals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved spirals: not linearly separable, easy for a hidden layer."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    r = rng.uniform(0.1, 1.0, n)
    theta = labels * 2 * np.pi / 3 + 3.0 * r + rng.normal(0, 0.1, n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1), labels


@pytest.mark.parametrize("use_norm", [False, True])
def test_small_network_learns_spirals(use_norm: bool) -> None:
    x, t = _spirals(600, seed=0)
    layers: list[nn.Module] = [nn.Linear(2, 64, rng=0)]
    if use_norm:
        layers += [nn.BatchNorm1d(64)]
    layers += [nn.ReLU(), nn.Dropout(0.1, rng=0) if use_norm else nn.Tanh(),
               nn.Linear(64, 64, rng=1), nn.ReLU(), nn.Linear(64, 3, rng=2)]
    net = nn.Sequential(*layers)
    criterion = nn.CrossEntropyLoss()
    opt = Adam(net.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(400):
        idx = rng.choice(len(x), 64)
        opt.zero_grad()
        criterion(net(x[idx]), t[idx]).backward()
        opt.step()
    net.eval()
    x_test, t_test = _spirals(300, seed=1)
    with tg.no_grad():
        accuracy = float(np.mean(net(x_test).data.argmax(axis=1) == t_test))
    assert accuracy > 0.95


def test_mse_regression_with_sgd() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (256, 1))
    y = np.sin(x)
    net = nn.Sequential(nn.Linear(1, 32, weight_init="xavier", rng=0), nn.Tanh(),
                        nn.Linear(32, 1, weight_init="xavier", rng=1))
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.MSELoss()
    first = float(loss_fn(net(x), y))
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    assert float(loss) < 0.01 < first


