"""SimpleConvNet: the book's chapter-7 interface and defaults, its gradients against
numerical ones (the book's gradient check) and against the book's hand-written layers,
and the convolutional layers it is built from."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, serialization
from tinygrad_edu.models import SimpleConvNet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from book_convnet_numpy import BookSimpleConvNet  # noqa: E402

SMALL = {"input_dim": (1, 8, 7), "conv_param": {"filter_num": 3, "filter_size": 3},
         "hidden_size": 6, "output_size": 4}


def _small_net(dtype: type = np.float64, seed: int = 0) -> SimpleConvNet:
    # A larger std than the book's 0.01 keeps the logits far from uniform, so a wrong
    # gradient cannot hide behind tiny values; nonzero biases exercise their gradients.
    net = SimpleConvNet(**SMALL, weight_init_std=0.3, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    for key in ("b1", "b2", "b3"):
        net.params[key][...] = rng.uniform(-0.2, 0.2, net.params[key].shape)
    return net


def _batch(n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n,) + SMALL["input_dim"]), rng.integers(0, 4, n)


def test_the_books_defaults_and_parameter_shapes() -> None:
    net = SimpleConvNet(rng=0)
    shapes = {key: value.shape for key, value in net.params.items()}
    assert shapes == {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,),
                      "W3": (100, 10), "b3": (10,)}
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert isinstance(net.layers["Conv1"], nn.Convolution)
    assert isinstance(net.layers["Pool1"], nn.Pooling)
    assert net.layers["Pool1"].kernel_size == net.layers["Pool1"].stride == (2, 2)
    assert [name for name, _ in net.named_parameters()] == list(net.params)
    for key in net.params:
        assert net.params[key] is getattr(net, key).data
    assert abs(net.params["W2"].std() - 0.01) < 0.001
    assert not any(net.params[key].any() for key in ("b1", "b2", "b3"))
    assert net.predict(np.zeros((2, 1, 28, 28))).shape == (2, 10)


def test_a_random_state_gives_the_books_weights() -> None:
    # The book: W1 = 0.01 * randn(30, 1, 5, 5), then W2 = 0.01 * randn(4320, 100),
    # then W3 = 0.01 * randn(100, 10), biases zero.
    net = SimpleConvNet(rng=np.random.RandomState(5))
    legacy = np.random.RandomState(5)
    np.testing.assert_array_equal(net.params["W1"], 0.01 * legacy.randn(30, 1, 5, 5))
    np.testing.assert_array_equal(net.params["W2"], 0.01 * legacy.randn(4320, 100))
    np.testing.assert_array_equal(net.params["W3"], 0.01 * legacy.randn(100, 10))


def test_gradient_matches_numerical_gradient() -> None:
    """The book's gradient_check for chapter 7, on a small net and batch."""
    net = _small_net()
    x, t = _batch()
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    assert list(backprop) == list(numerical) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for key in backprop:
        assert backprop[key].shape == net.params[key].shape
        assert np.abs(backprop[key]).max() > 1e-4, key  # a real gradient, not zeros
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-5, atol=1e-8,
                                   err_msg=key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_equals_the_books_hand_written_layers(dtype: type) -> None:
    net = _small_net(dtype)
    x, t = _batch(5, seed=1)
    x = x.astype(dtype)
    book = BookSimpleConvNet({key: value.copy() for key, value in net.params.items()})
    expected = book.gradient(x, t)
    ours = net.gradient(x, t)
    tol = {"rtol": 1e-4, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10,
                                                                      "atol": 1e-13}
    for key in expected:
        assert ours[key].dtype == dtype
        np.testing.assert_allclose(ours[key], expected[key], err_msg=key, **tol)
    assert net.loss(x, t) == pytest.approx(book.loss(x, t), rel=1e-5)


def test_accuracy_in_chunks_and_loss_without_a_graph() -> None:
    net = _small_net()
    x, t = _batch(23, seed=2)
    logits = net.predict(x)
    assert logits.requires_grad
    expected = float(np.mean(logits.data.argmax(axis=1) == t))
    assert net.eval_chunk == 100  # the book's batch_size for accuracy
    assert net.accuracy(x, t) == net.accuracy(x, t, batch_size=4) == expected
    assert net.accuracy(x, np.eye(4)[t]) == expected
    assert isinstance(net.loss(x, t), float)
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_uses_the_books_names_and_copies_stay_shared(tmp_path: Path) -> None:
    net, other = _small_net(seed=0), _small_net(seed=1)
    state = serialization.load(serialization.save(net, tmp_path / "convnet.npz"))
    assert list(state) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    other.load_state_dict(state)
    x, _ = _batch()
    np.testing.assert_array_equal(other.predict(x).data, net.predict(x).data)
    clone = copy.deepcopy(net)
    assert clone.params["W1"] is clone.layers["Conv1"].weight.data
    assert clone.params["W1"] is not net.params["W1"]


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "SimpleConvNet: unknown conv_param keys ['filters']")):
        SimpleConvNet(conv_param={"filters": 30})
    with pytest.raises(ValueError, match=re.escape(
            "SimpleConvNet: 5 x 5 filters with pad 0 and stride 1 turn input_dim (1, 5, 5) "
            "into 1 x 1 maps, too small for the 2 x 2 pooling")):
        SimpleConvNet(input_dim=(1, 5, 5))


# ---------------------------------------------------------------------------- layers


def test_conv2d_layer_follows_linears_initialisation_rule() -> None:
    conv = nn.Conv2d(3, 64, (5, 3), stride=2, padding=1, rng=0)
    assert conv.weight.shape == (64, 3, 5, 3) and conv.bias.shape == (64,)
    assert not conv.bias.data.any()
    fan_in = 3 * 5 * 3  # in_channels * kh * kw, as PyTorch's
    assert abs(conv.weight.data.std() - np.sqrt(2 / fan_in)) < 0.05 * np.sqrt(2 / fan_in)
    xavier = nn.Conv2d(3, 64, (5, 3), weight_init="xavier", rng=0)
    assert abs(xavier.weight.data.std() - np.sqrt(2 / (fan_in + 64))) < 0.003
    assert nn.Conv2d(1, 2, 3, weight_init=0.01, rng=0).weight.data.std() < 0.02
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    assert conv(np.zeros((2, 3, 9, 9))).shape == (2, 64, 4, 5)
    assert repr(conv) == ("Conv2d(3, 64, kernel_size=(5, 3), stride=(2, 2), padding=(1, 1), "
                          "bias=True)")


def test_conv2d_layer_in_float32_trains_in_float32() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3, rng=0, dtype=np.float32), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 9, 3, rng=1,
                                                                   dtype=np.float32))
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    loss = nn.CrossEntropyLoss()(net(x), np.array([0, 1, 2, 0, 1]))
    assert loss.dtype == np.float32
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in net.parameters())


def test_pool_and_flatten_layers() -> None:
    x = tg.Tensor(np.arange(2 * 3 * 4 * 6, dtype=float).reshape(2, 3, 4, 6))
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, x.data[:, :, 1::2, 1::2])
    assert nn.MaxPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 4, 6)
    np.testing.assert_allclose(nn.AvgPool2d((2, 3))(x).data[0, 0], [[4.0, 7.0], [16.0, 19.0]])
    assert nn.Flatten()(x).shape == (2, 72)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 6)
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    with pytest.raises(ValueError, match=re.escape(
            "MaxPool2d: kernel_size must be an int or a pair of ints >= 1, got 0")):
        nn.MaxPool2d(0)


def test_the_books_convolution_and_pooling_layers() -> None:
    W, b = np.random.default_rng(0).standard_normal((2, 3, 3, 3)), np.array([0.5, -0.5])
    conv = nn.Convolution(W, b, stride=2, pad=1)
    assert conv.weight.data is W and conv.bias.data is b  # shared, as the book's layers
    assert (conv.stride, conv.padding) == ((2, 2), (1, 1))
    x = np.random.default_rng(1).standard_normal((1, 3, 5, 5))
    np.testing.assert_array_equal(conv(x).data, tg.functional.conv2d(x, W, b, 2, 1).data)
    pool = nn.Pooling(2, 3)  # the book's default stride is 1
    assert (pool.kernel_size, pool.stride, pool.padding) == ((2, 3), (1, 1), (0, 0))
    assert pool(x).shape == (1, 3, 4, 3)
    with pytest.raises(ValueError, match=re.escape(
            "Convolution: W must have shape (FN, C, FH, FW) and b (FN,), got (2, 3, 3) and "
            "(2,)")):
        nn.Convolution(np.ones((2, 3, 3)), np.zeros(2))
