"""TwoLayerNet: the book's interface, its hand-derived gradients, and its params dict."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, serialization
from tinygrad_edu.models import TwoLayerNet

N, D, H, C = 6, 12, 7, 4


def test_a_random_state_gives_the_books_weights() -> None:
    # The book: W1 = 0.01 * np.random.randn(in, hidden), b1 = 0, then W2 likewise.
    net = TwoLayerNet(D, H, C, rng=np.random.RandomState(11))
    legacy = np.random.RandomState(11)
    np.testing.assert_array_equal(net.params["W1"], 0.01 * legacy.randn(D, H))
    np.testing.assert_array_equal(net.params["W2"], 0.01 * legacy.randn(H, C))
    assert not net.params["b1"].any() and not net.params["b2"].any()


def _batch(seed: int = 0, one_hot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((N, D))
    labels = rng.integers(0, C, N)
    return x, (np.eye(C)[labels] if one_hot else labels)


def _net(seed: int = 0, dtype: type = np.float64, std: float = 0.5) -> TwoLayerNet:
    # A larger std than the book's 0.01 gives logits far from uniform, so a wrong
    # gradient cannot hide behind near-zero values.
    net = TwoLayerNet(D, H, C, weight_init_std=std, rng=seed, dtype=dtype)
    net.params["b1"][...] = np.linspace(-0.3, 0.3, H)
    net.params["b2"][...] = np.linspace(0.2, -0.2, C)
    return net


def book_backprop(params: dict[str, np.ndarray], x: np.ndarray,
                  t: np.ndarray) -> dict[str, np.ndarray]:
    """The book's hand-written layers, forward then backward, in plain NumPy."""
    if t.ndim == 1:
        t = np.eye(params["W2"].shape[1])[t]
    # Affine1 -> Relu1 -> Affine2
    a1 = x @ params["W1"] + params["b1"]
    mask = a1 <= 0
    z1 = a1.copy()
    z1[mask] = 0
    a2 = z1 @ params["W2"] + params["b2"]
    # SoftmaxWithLoss: backward (y - t) / N
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    dout = (y - t) / x.shape[0]
    # Affine2: dW = x.T @ dout, db = dout.sum(0), dx = dout @ W.T
    grads = {"W2": z1.T @ dout, "b2": dout.sum(axis=0)}
    dz1 = dout @ params["W2"].T
    dz1[mask] = 0  # Relu: the mask of x <= 0
    grads["W1"] = x.T @ dz1
    grads["b1"] = dz1.sum(axis=0)
    return grads


@pytest.mark.parametrize("one_hot", [False, True])
def test_autograd_gradient_equals_the_seeds_hand_derived_formulas(one_hot: bool) -> None:
    net = _net()
    x, t = _batch(one_hot=one_hot)
    expected = book_backprop(net.params, x, t)
    grads = net.gradient(x, t)
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    for key in grads:
        assert grads[key].shape == net.params[key].shape
        np.testing.assert_allclose(grads[key], expected[key], rtol=0, atol=1e-10, err_msg=key)
        assert np.abs(expected[key]).max() > 1e-3  # the comparison is not between zeros


def test_numerical_gradient_agrees_with_backprop() -> None:
    net = _net()
    x, t = _batch(one_hot=True)
    before = {k: v.copy() for k, v in net.params.items()}
    numeric = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    for key in backprop:
        assert np.mean(np.abs(backprop[key] - numeric[key])) < 1e-7, key
        np.testing.assert_array_equal(net.params[key], before[key])  # restored exactly


def test_params_are_the_arrays_in_use() -> None:
    net = _net()
    assert net.params["W1"] is net.W1.data is net.layers["Affine1"].weight.data
    assert net.params["b2"] is net.b2.data is net.layers["Affine2"].bias.data
    assert [n for n, _ in net.named_parameters()] == ["W1", "b1", "W2", "b2"]
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.layers["Relu1"], nn.Relu)
    assert isinstance(net.lastLayer, nn.SoftmaxWithLoss)


def test_the_book_loop_updates_the_weights_used() -> None:
    net = _net(std=0.1)
    x, t = _batch(one_hot=True)
    learning_rate = 0.5
    losses = [net.loss(x, t)]
    for _ in range(5):
        grad = net.gradient(x, t)
        expected = {k: net.params[k] - learning_rate * grad[k] for k in grad}
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= learning_rate * grad[key]
        for key in expected:
            np.testing.assert_array_equal(net.params[key], expected[key])
        # The network now computes with the updated arrays.
        p = net.params
        logits = np.maximum(x @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
        np.testing.assert_allclose(net.predict(x).data, logits, rtol=1e-12)
        losses.append(net.loss(x, t))
    assert losses[-1] < losses[0] - 0.05


def test_an_optimizer_drives_the_same_arrays() -> None:
    net = _net(std=0.1)
    x, t = _batch()
    w1 = net.params["W1"]
    before = w1.copy()
    opt = optim.Momentum(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net.lastLayer(net(x), t).backward()
        opt.step()
    assert net.params["W1"] is w1 and not np.array_equal(w1, before)


def test_loss_and_accuracy() -> None:
    net = _net()
    x, labels = _batch()
    logits = net.predict(x).data
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    expected_loss = -np.mean(np.log(y[np.arange(N), labels]))
    loss = net.loss(x, labels)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    assert net.loss(x, np.eye(C)[labels]) == pytest.approx(loss, rel=1e-12)
    expected_acc = np.mean(logits.argmax(axis=1) == labels)
    assert 0 < expected_acc < 1  # a mix of right and wrong rows
    assert net.accuracy(x, labels) == expected_acc
    assert net.accuracy(x, np.eye(C)[labels]) == expected_acc
    assert net.accuracy(x, labels, batch_size=4) == expected_acc  # chunks of 4 and 2
    assert net.accuracy(tg.Tensor(x), tg.Tensor(labels)) == expected_acc
    with pytest.raises(ValueError, match="empty batch"):
        net.accuracy(x[:0], labels[:0])


def test_evaluation_records_no_graph_and_gradient_ignores_no_grad() -> None:
    net = _net()
    x, t = _batch()
    net.loss(x, t)
    net.accuracy(x, t)
    assert all(p.grad is None for p in net.parameters())
    first = {k: v.copy() for k, v in net.gradient(x, t).items()}
    with tg.no_grad():
        again = net.gradient(x, t)  # not accumulated onto the first call's gradients
    for key in first:
        np.testing.assert_array_equal(again[key], first[key])


def test_initialisation_is_the_seeds_recipe() -> None:
    net = TwoLayerNet(784, 50, 10, rng=3)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(net.params["W1"], 0.01 * rng.standard_normal((784, 50)))
    np.testing.assert_array_equal(net.params["W2"], 0.01 * rng.standard_normal((50, 10)))
    assert not net.params["b1"].any() and not net.params["b2"].any()
    net32 = TwoLayerNet(784, 50, 10, rng=3, dtype=np.float32)
    for key in net.params:
        assert net32.params[key].dtype == np.float32
        np.testing.assert_array_equal(net32.params[key], net.params[key].astype(np.float32))
    he = TwoLayerNet(400, 300, 10, weight_init_std="he", rng=0)
    assert abs(he.params["W1"].std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)


def test_float32_network_computes_in_float32() -> None:
    net = _net(dtype=np.float32)
    x, t = _batch()
    x = x.astype(np.float32)
    assert net.predict(x).dtype == np.float32
    grads = net.gradient(x, t)
    assert all(g.dtype == np.float32 for g in grads.values())
    expected = book_backprop({k: v.astype(np.float64) for k, v in net.params.items()},
                             x.astype(np.float64), t)
    for key in grads:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-4, atol=1e-6)


def test_state_dict_uses_the_seeds_names_and_loads_in_place(tmp_path: Path) -> None:
    net = _net(seed=0)
    other = _net(seed=1)
    live = dict(other.params)
    path = serialization.save(net, tmp_path / "net.npz")
    state = serialization.load(path)
    assert list(state) == ["W1", "b1", "W2", "b2"]
    other.load_state_dict(state)
    for key in live:
        assert other.params[key] is live[key]
        np.testing.assert_array_equal(other.params[key], net.params[key])
    x, _ = _batch()
    np.testing.assert_array_equal(other.predict(x).data, net.predict(x).data)


def test_repr_lists_the_seeds_layers() -> None:
    assert repr(TwoLayerNet(4, 3, 2, rng=0)) == (
        "TwoLayerNet(\n"
        "  (Affine1): Affine(in_features=4, out_features=3, bias=True)\n"
        "  (Relu1): ReLU()\n"
        "  (Affine2): Affine(in_features=3, out_features=2, bias=True)\n"
        "  (lastLayer): CrossEntropyLoss()\n"
        ")"
    )


def test_image_shaped_input_is_flattened() -> None:
    net = TwoLayerNet(16, 5, 3, weight_init_std=0.3, rng=0)
    x = np.random.default_rng(0).random((4, 1, 4, 4))
    np.testing.assert_allclose(net.predict(x).data, net.predict(x.reshape(4, 16)).data,
                               rtol=1e-12)


def test_copies_keep_params_shared_with_the_layers() -> None:
    net = _net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.params["W1"] is clone.W1.data is clone.layers["Affine1"].weight.data
        assert clone.params["W1"] is not net.params["W1"]
        clone.params["W1"] -= 1.0  # the book's update on the clone leaves the original
        assert not np.array_equal(clone.params["W1"], net.params["W1"])
        x, _ = _batch()
        assert not np.allclose(clone.predict(x).data, net.predict(x).data)
