"""The book's networks, with gradients from autograd: TwoLayerNet (chapter 5) and
SimpleConvNet (chapter 7).

The interface is the book's (*Deep Learning from Scratch*): ``params`` (``W1 b1 W2 b2``
...), ``layers`` (``Affine1 -> Relu1 -> Affine2``, or ``Conv1 -> Relu1 -> Pool1 -> ...``),
``lastLayer`` (``SoftmaxWithLoss``), ``predict``, ``loss``, ``accuracy``, ``gradient``
and ``numerical_gradient``. The difference is that no layer has a hand-written
backward: ``gradient`` runs :meth:`Tensor.backward` over the graph recorded by the
forward pass.

Each network is also an :class:`~tinygrad_edu.nn.Module` whose parameters are exactly
the arrays in ``params``, so both training styles drive the same weights:

>>> import numpy as np
>>> from tinygrad_edu.optim import SGD
>>> net = TwoLayerNet(4, 5, 3, rng=0)
>>> x, t = np.ones((2, 4)), np.array([0, 2])
>>> grad = net.gradient(x, t)
>>> for key in ("W1", "b1", "W2", "b2"):        # the book's loop
...     net.params[key] -= 0.1 * grad[key]
>>> opt = SGD(net.parameters(), lr=0.1)          # or an optimizer
>>> [name for name, _ in net.named_parameters()]
['W1', 'b1', 'W2', 'b2']
>>> net.params["W1"] is net.W1.data
True
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from tinygrad_edu.autograd import enable_grad, no_grad
from tinygrad_edu.gradcheck import numerical_gradient
from tinygrad_edu.nn.conv import Convolution, Pooling, initialize_filters
from tinygrad_edu.nn.layers import Affine, Relu, WeightInit, parameter_dtype
from tinygrad_edu.nn.losses import SoftmaxWithLoss
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.random import RandomSource, as_rng
from tinygrad_edu.tensor import Tensor

__all__ = ["TwoLayerNet", "SimpleConvNet", "BookNetwork"]

# Rows evaluated at once by accuracy(). Measured on the 784-50-10 net (2 cores): 2000-row
# chunks keep the activations in cache and evaluate 60000 images about 25% faster than
# 10000-row chunks (29 vs 39 ms in float32), and never hold all hidden activations at once.
EVAL_CHUNK = 2000


class BookNetwork(Module):
    """What the book's networks share: the weights under the book's names (attributes
    and ``params``), ``layers`` applied in order, ``lastLayer`` (SoftmaxWithLoss), and
    ``predict``, ``loss``, ``accuracy``, ``gradient``, ``numerical_gradient``.

    A subclass builds its layers and calls :meth:`_assemble`. ``params[key]`` *is* the
    array the layers compute with: update it in place (``-=``), as the book's loop
    does; rebinding ``params[key] = new`` detaches it.
    """

    #: Rows that :meth:`accuracy` evaluates at once.
    eval_chunk: int = EVAL_CHUNK

    def _assemble(self, weights: list[tuple[str, Parameter]],
                  layers: list[tuple[str, Module]]) -> None:
        # The network owns the weights under the book's names; the layers share them.
        for key, weight in weights:
            setattr(self, key, weight)
        self.params: dict[str, np.ndarray] = {key: w.data for key, w in weights}
        self.layers: OrderedDict[str, Module] = OrderedDict(layers)
        for name, layer in layers:
            self.register_module(name, layer)
        self.lastLayer = SoftmaxWithLoss()

    def _weights(self) -> list[tuple[str, Tensor]]:
        return [(key, getattr(self, key)) for key in self.params]

    def forward(self, x: Any) -> Tensor:
        """The logits (N, output_size), recording the graph when grad mode is on."""
        for layer in self.layers.values():
            x = layer(x)
        return x

    def predict(self, x: Any) -> Tensor:
        """The logits (N, output_size) as a Tensor (``.data`` for the array)."""
        return self.forward(x)

    def loss(self, x: Any, t: Any) -> float:
        """The mean cross-entropy of the batch, as a float (no graph is recorded)."""
        with no_grad():
            return float(self.lastLayer(self.forward(x), t).data)

    def accuracy(self, x: Any, t: Any, batch_size: int | None = None) -> float:
        """Fraction of rows whose largest logit is the label (t: indices or one-hot),
        evaluated without a graph, ``batch_size`` rows at a time (default
        :attr:`eval_chunk`)."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        t = t.data if isinstance(t, Tensor) else np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        n = x.shape[0]
        if n == 0:
            raise ValueError("accuracy: got an empty batch")
        chunk = batch_size or self.eval_chunk
        correct = 0
        with no_grad():
            for start in range(0, n, chunk):
                logits = self.forward(x[start:start + chunk]).data
                correct += int(np.count_nonzero(
                    np.argmax(logits, axis=1) == t[start:start + chunk]))
        return correct / n

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """d loss / d param for every key of ``params``, by backpropagation (autograd),
        as arrays."""
        weights = self._weights()
        for _, p in weights:
            p.grad = None  # this batch's gradient only, never accumulated onto the last
        with enable_grad():
            self.lastLayer(self.forward(x), t).backward()
        grads: dict[str, np.ndarray] = {}
        for key, p in weights:
            assert p.grad is not None  # every parameter is on the loss's path
            grads[key] = p.grad.data
        return grads

    def numerical_gradient(self, x: Any, t: Any, h: float = 1e-4) -> dict[str, np.ndarray]:
        """The same gradients by central differences with the book's h = 1e-4: each
        weight is nudged in place in ``params`` and the loss re-evaluated (slow: two
        forward passes per weight; for checking ``gradient`` on a few samples)."""
        def loss_w(_: Any) -> float:
            return self.loss(x, t)

        return {key: numerical_gradient(loss_w, value, eps=h)
                for key, value in self.params.items()}


class TwoLayerNet(BookNetwork):
    """input -> Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss (the book's network).

    Shapes: x (N, input_size) (or (N, ...) flattened by Affine), t indices (N,) or
    one-hot (N, output_size); W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,).

    Args:
        weight_init_std: std of the normal initial weights (the book's 0.01), or
            ``"he"`` / ``"xavier"``; biases start at zero.
        rng: NumPy Generator or seed for the weights (None: the default generator, from
            fresh entropy unless ``tg.manual_seed`` seeded it);
            ``np.random.RandomState(s)`` gives the weights the book's network gets after
            ``np.random.seed(s)``.
        dtype: float64 (for gradient checks) or float32 (faster training); default
            ``tg.get_default_dtype()``, float64 unless set.

    ``params[key]`` *is* the array the layers compute with: update it in place
    (``-=``), as the book's loop does; rebinding ``params[key] = new`` detaches it.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: WeightInit = 0.01,
        *,
        rng: RandomSource = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        gen = as_rng(rng, "TwoLayerNet")
        affine1 = Affine(input_size, hidden_size, weight_init=weight_init_std, rng=gen,
                         dtype=dtype)
        affine2 = Affine(hidden_size, output_size, weight_init=weight_init_std, rng=gen,
                         dtype=dtype)
        self._assemble(
            [("W1", affine1.weight), ("b1", affine1.bias),
             ("W2", affine2.weight), ("b2", affine2.bias)],
            [("Affine1", affine1), ("Relu1", Relu()), ("Affine2", affine2)],
        )


#: The book's ``conv_param`` defaults for SimpleConvNet.
CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}


class SimpleConvNet(BookNetwork):
    """conv - relu - pool - affine - relu - affine - softmax: the book's chapter-7
    network, with the book's defaults.

    ``Conv1`` (``filter_num`` filters of ``filter_size`` squared, ``pad``, ``stride``)
    -> ``Relu1`` -> ``Pool1`` (2 x 2 max pool, stride 2) -> ``Affine1`` (to
    ``hidden_size``) -> ``Relu2`` -> ``Affine2`` (to ``output_size``) ->
    SoftmaxWithLoss.

    Shapes: x (N,) + input_dim, e.g. (N, 1, 28, 28); t indices (N,) or one-hot
    (N, output_size). With the defaults: W1 (30, 1, 5, 5), b1 (30,), W2 (4320, 100),
    b2 (100,), W3 (100, 10), b3 (10,); 4320 = 30 * 12 * 12, the pooled feature maps.

    Args:
        input_dim: (channels, height, width) of one image.
        conv_param: the book's dict; keys left out take the defaults of
            :data:`CONV_PARAM` (``filter_num`` 30, ``filter_size`` 5, ``pad`` 0,
            ``stride`` 1).
        weight_init_std: std of the normal initial weights (the book's 0.01), or
            ``"he"`` / ``"xavier"``; biases start at zero.
        rng: as for :class:`TwoLayerNet`; a ``RandomState(s)`` gives the book's
            weights after ``np.random.seed(s)``.
        dtype: as for :class:`TwoLayerNet`.

    >>> net = SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 3},
    ...                     hidden_size=8, rng=0)
    >>> {key: value.shape for key, value in net.params.items()}
    {'W1': (3, 1, 5, 5), 'b1': (3,), 'W2': (27, 8), 'b2': (8,), 'W3': (8, 10), 'b3': (10,)}
    >>> net.predict(np.zeros((2, 1, 10, 10))).shape
    (2, 10)
    """

    #: The book's SimpleConvNet.accuracy evaluates 100 images at a time.
    eval_chunk = 100

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        conv_param: dict[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: WeightInit = 0.01,
        *,
        rng: RandomSource = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        param = {**CONV_PARAM, **(conv_param or {})}
        unknown = set(param) - set(CONV_PARAM)
        if unknown:
            raise ValueError(f"SimpleConvNet: unknown conv_param keys {sorted(unknown)}; "
                             f"expected {sorted(CONV_PARAM)}")
        filter_num, size = int(param["filter_num"]), int(param["filter_size"])
        pad, stride = int(param["pad"]), int(param["stride"])
        channels, height, width = (int(d) for d in input_dim)
        conv_h = (height + 2 * pad - size) // stride + 1
        conv_w = (width + 2 * pad - size) // stride + 1
        if min(conv_h, conv_w) < 2:
            raise ValueError(
                f"SimpleConvNet: {size} x {size} filters with pad {pad} and stride {stride} "
                f"turn input_dim {tuple(input_dim)} into {conv_h} x {conv_w} maps, too "
                "small for the 2 x 2 pooling"
            )
        pool_output_size = filter_num * (conv_h // 2) * (conv_w // 2)
        dt = parameter_dtype(dtype, "SimpleConvNet")
        gen = as_rng(rng, "SimpleConvNet")
        # Drawn in the book's order: W1, then W2, then W3.
        filters = Parameter(np.empty((filter_num, channels, size, size), dtype=dt))
        initialize_filters(filters, weight_init_std, gen, "SimpleConvNet")
        conv = Convolution(filters, np.zeros(filter_num, dtype=dt), stride, pad)
        affine1 = Affine(pool_output_size, hidden_size, weight_init=weight_init_std, rng=gen,
                         dtype=dt)
        affine2 = Affine(hidden_size, output_size, weight_init=weight_init_std, rng=gen,
                         dtype=dt)
        self._assemble(
            [("W1", conv.weight), ("b1", conv.bias), ("W2", affine1.weight),
             ("b2", affine1.bias), ("W3", affine2.weight), ("b3", affine2.bias)],
            [("Conv1", conv), ("Relu1", Relu()), ("Pool1", Pooling(2, 2, stride=2)),
             ("Affine1", affine1), ("Relu2", Relu()), ("Affine2", affine2)],
        )
