"""Convolutional layers: Conv2d, MaxPool2d, AvgPool2d and Flatten, with PyTorch's
signatures, and the book's Convolution and Pooling as thin classes over them.

Each forward is one op of :mod:`tinygrad_edu.functional` (the fused ``conv2d``,
``max_pool2d``, ``avg_pool2d``), so its backward comes from autograd. Layout is NCHW:
images (N, C, H, W), filters (out_channels, in_channels, kh, kw).

Initialisation follows :class:`~tinygrad_edu.nn.Linear`'s rule: ``weight_init="he"``
by default, with the fans of the matrix the convolution multiplies every receptive
field by, (in_channels * kh * kw, out_channels) as Linear's (in, out). So He's std is
sqrt(2 / (in_channels * kh * kw)), the same fan_in as PyTorch's; Xavier's fan_out is
``out_channels`` (PyTorch counts ``out_channels * kh * kw``). A float is the std of a
normal (the book's ``weight_init_std``), drawn in the filters' own shape so that a
seeded ``RandomState`` gives the book's filters; biases start at zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import functional as F
from tinygrad_edu.nn.layers import WeightInit, initialize_weight, parameter_dtype, positive_int
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.ops.conv import int_pair
from tinygrad_edu.random import RandomSource
from tinygrad_edu.tensor import Tensor

__all__ = [
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Convolution", "Pooling",
    "initialize_filters",
]


def initialize_filters(weight: Tensor, weight_init: WeightInit, rng: RandomSource,
                       where: str = "initialize_filters") -> None:
    """Fill filters of shape (out, in, kh, kw) by Linear's rule (see the module's
    docstring): a name (``"he"``, ``"xavier"`` ...) reads the fans of the filters as a
    (in * kh * kw, out) matrix; a float std or a callable gets the filters as they are.

    >>> w = Tensor(np.empty((30, 1, 5, 5)))
    >>> initialize_filters(w, "he", rng=0)
    >>> round(float(w.data.std()), 2) == round(float(np.sqrt(2 / 25)), 2)
    True
    """
    if isinstance(weight_init, str):
        # A view: the draw lands in the filters.
        matrix = Tensor(weight.data.reshape(weight.shape[0], -1).T)
        initialize_weight(matrix, weight_init, rng, where)
    else:
        initialize_weight(weight, weight_init, rng, where)


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) images, as ``torch.nn.Conv2d``.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW) with
    OH = (H + 2 * padding - kh) // stride + 1 (OW likewise); ``kernel_size``,
    ``stride`` and ``padding`` are an int or an (h, w) pair. weight
    (out_channels, in_channels, kh, kw), bias (out_channels,). d/dx = col2im(W^T g),
    dW = g (x) im2col(x), db = g summed over N, OH, OW (``functional.conv2d``).

    ``weight_init``: ``"he"`` (default), ``"xavier"``, a float std or a callable
    ``(weight, rng)`` (see the module's docstring); ``rng``: a Generator, a
    RandomState or a seed; ``dtype``: float64 or float32 (default:
    ``tg.get_default_dtype()``).

    >>> conv = Conv2d(1, 30, 5, rng=0)
    >>> conv.weight.shape, conv(np.zeros((2, 1, 28, 28))).shape
    ((30, 1, 5, 5), (2, 30, 24, 24))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        bias: bool = True,
        *,
        weight_init: WeightInit = "he",
        rng: RandomSource = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        dt = parameter_dtype(dtype, name)
        self.in_channels = positive_int(in_channels, "in_channels", name)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        self.kernel_size = int_pair(kernel_size, "kernel_size", name, 1)
        self.stride = int_pair(stride, "stride", name, 1)
        self.padding = int_pair(padding, "padding", name, 0)
        self.weight = Parameter(
            np.empty((self.out_channels, self.in_channels) + self.kernel_size, dtype=dt))
        initialize_filters(self.weight, weight_init, rng, name)
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    """What MaxPool2d and AvgPool2d share: the window arguments, checked at once."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = int_pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else int_pair(stride, "stride", name, 1)
        self.padding = int_pair(padding, "padding", name, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum of every window, as ``torch.nn.MaxPool2d``: (N, C, H, W) ->
    (N, C, OH, OW); ``stride`` defaults to ``kernel_size``; padding is -inf. The
    gradient goes to each window's first maximum (PyTorch's rule for ties).

    >>> MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean of every window, as ``torch.nn.AvgPool2d`` (padded zeros count):
    (N, C, H, W) -> (N, C, OH, OW); ``stride`` defaults to ``kernel_size``.

    >>> AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge the axes start_dim..end_dim into one, as ``torch.nn.Flatten`` (by default
    everything but the batch axis: (N, C, H, W) -> (N, C * H * W)).

    >>> Flatten()(np.zeros((2, 30, 12, 12))).shape
    (2, 4320)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for what, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
                raise TypeError(f"Flatten: {what} must be an int, got {dim!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: Any) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Convolution(Conv2d):
    """The book's Convolution layer: :class:`Conv2d` around the filters ``W``
    (FN, C, FH, FW) and biases ``b`` (FN,) it is given, sharing their memory (no copy),
    as the book's layers share the network's ``params``. The filter count and size
    are W's shape.

    >>> W, b = np.ones((2, 1, 3, 3)), np.zeros(2)
    >>> layer = Convolution(W, b, stride=1, pad=1)
    >>> layer(np.ones((1, 1, 4, 4))).shape, layer.weight.data is W
    ((1, 2, 4, 4), True)
    """

    def __init__(self, W: Any, b: Any, stride: Any = 1, pad: Any = 0) -> None:
        for what, value in (("W", W), ("b", b)):
            kind = np.asarray(value.data if isinstance(value, Tensor) else value).dtype.kind
            if kind != "f":
                raise TypeError(f"Convolution: {what} must be a floating-point array, got "
                                f"{type(value).__name__} of dtype kind {kind!r}")
        weight = W if isinstance(W, Parameter) else Parameter(W)
        bias = b if isinstance(b, Parameter) else Parameter(b)
        if weight.ndim != 4 or bias.shape != weight.shape[:1]:
            raise ValueError(
                f"Convolution: W must have shape (FN, C, FH, FW) and b (FN,), got "
                f"{weight.shape} and {bias.shape}"
            )
        fn, c, fh, fw = weight.shape
        # No draw: the filters are W itself.
        super().__init__(c, fn, (fh, fw), stride, pad, weight_init=lambda w, rng: None,
                         dtype=weight.dtype)
        self.weight, self.bias = weight, bias


class Pooling(MaxPool2d):
    """The book's Pooling layer (max pooling): ``Pooling(pool_h, pool_w, stride=1,
    pad=0)`` is ``MaxPool2d((pool_h, pool_w), stride, pad)``. Note the book's default
    stride of 1 (MaxPool2d's is the kernel size). Padding is -inf where the book's
    im2col pads zeros; the two differ only for a window of negative values that
    reaches into the padding.

    >>> Pooling(2, 2, stride=2)(np.arange(16.0).reshape(1, 1, 4, 4)).shape
    (1, 1, 2, 2)
    """

    def __init__(self, pool_h: int, pool_w: int, stride: Any = 1, pad: Any = 0) -> None:
        super().__init__((pool_h, pool_w), stride, pad)
