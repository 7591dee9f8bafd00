"""TwoLayerNet: the book's two-layer network, with gradients from autograd.

The interface is the book's (chapter 5 of *Deep Learning from Scratch*): ``params``
(``W1 b1 W2 b2``), ``layers`` (``Affine1 -> Relu1 -> Affine2``), ``lastLayer``
(``SoftmaxWithLoss``), ``predict``, ``loss``, ``accuracy``, ``gradient`` and
``numerical_gradient``. The difference is that no layer has a hand-written backward:
``gradient`` runs :meth:`Tensor.backward` over the graph recorded by the forward pass.

It is also an :class:`~tinygrad_edu.nn.Module` whose parameters are exactly the arrays in
``params``, so both training styles drive the same weights:

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
from tinygrad_edu.nn.layers import Affine, Relu, WeightInit
from tinygrad_edu.nn.losses import SoftmaxWithLoss
from tinygrad_edu.nn.module import Module
from tinygrad_edu.random import RandomSource, as_rng
from tinygrad_edu.tensor import Tensor

__all__ = ["TwoLayerNet"]

# Rows evaluated at once by accuracy(). Measured on the 784-50-10 net (2 cores): 2000-row
# chunks keep the activations in cache and evaluate 60000 images about 25% faster than
# 10000-row chunks (29 vs 39 ms in float32), and never hold all hidden activations at once.
EVAL_CHUNK = 2000


class TwoLayerNet(Module):
    """input -> Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss (the book's network).

    Shapes: x (N, input_size) (or (N, ...) flattened by Affine), t indices (N,) or
    one-hot (N, output_size); W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, output_size), b2 (output_size,).

    Args:
        weight_init_std: std of the normal initial weights (the book's 0.01), or
            ``"he"`` / ``"xavier"``; biases start at zero.
        rng: NumPy Generator or seed for the weights (None: fresh entropy, as in the book);
            ``np.random.RandomState(s)`` gives the weights the book's network gets after
            ``np.random.seed(s)``.
        dtype: float64 (default, for gradient checks) or float32 (faster training).

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
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        gen = as_rng(rng, "TwoLayerNet")
        affine1 = Affine(input_size, hidden_size, weight_init=weight_init_std, rng=gen,
                         dtype=dtype)
        affine2 = Affine(hidden_size, output_size, weight_init=weight_init_std, rng=gen,
                         dtype=dtype)
        # The network owns the weights under the book's names; the layers share them.
        self.W1, self.b1 = affine1.weight, affine1.bias
        self.W2, self.b2 = affine2.weight, affine2.bias
        self.params: dict[str, np.ndarray] = {
            "W1": self.W1.data, "b1": self.b1.data, "W2": self.W2.data, "b2": self.b2.data,
        }
        self.layers: OrderedDict[str, Module] = OrderedDict(
            [("Affine1", affine1), ("Relu1", Relu()), ("Affine2", affine2)]
        )
        for name, layer in self.layers.items():
            self.register_module(name, layer)
        self.lastLayer = SoftmaxWithLoss()

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

    def accuracy(self, x: Any, t: Any, batch_size: int = EVAL_CHUNK) -> float:
        """Fraction of rows whose largest logit is the label (t: indices or one-hot),
        evaluated without a graph, ``batch_size`` rows at a time."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        t = t.data if isinstance(t, Tensor) else np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        n = x.shape[0]
        if n == 0:
            raise ValueError("accuracy: got an empty batch")
        correct = 0
        with no_grad():
            for start in range(0, n, batch_size):
                logits = self.forward(x[start:start + batch_size]).data
                correct += int(np.count_nonzero(
                    np.argmax(logits, axis=1) == t[start:start + batch_size]))
        return correct / n

    def gradient(self, x: Any, t: Any) -> dict[str, np.ndarray]:
        """d loss / d param for W1 b1 W2 b2 by backpropagation (autograd), as arrays."""
        for p in (self.W1, self.b1, self.W2, self.b2):
            p.grad = None  # this batch's gradient only, never accumulated onto the last
        with enable_grad():
            self.lastLayer(self.forward(x), t).backward()
        grads: dict[str, np.ndarray] = {}
        for key, p in (("W1", self.W1), ("b1", self.b1), ("W2", self.W2), ("b2", self.b2)):
            assert p.grad is not None  # every parameter is on the loss's path
            grads[key] = p.grad.data
        return grads

    def numerical_gradient(self, x: Any, t: Any, h: float = 1e-4) -> dict[str, np.ndarray]:
        """The same gradients by central differences with the book's h = 1e-4: each
        weight is nudged in place in ``params`` and the loss re-evaluated (slow: two
        forward passes per weight; for checking ``gradient`` on a few samples)."""
        def loss_w(_: Any) -> float:
            return self.loss(x, t)

        return {key: numerical_gradient(loss_w, self.params[key], eps=h)
                for key in ("W1", "b1", "W2", "b2")}
