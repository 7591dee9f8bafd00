"""Layers: Linear (the book's Affine), activations, Sequential, Dropout, BatchNorm1d.

Each layer's forward is built from :mod:`tinygrad_edu.functional` ops, so its backward
comes from autograd; the derivatives in the docstrings are what those ops compute.

Parameters are created in the ``dtype`` given to the constructor (by default the default
dtype, float64 unless ``tg.set_default_dtype`` changed it; float32 for speed) and stay
in it: updates and loads write into them in place.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_edu import functional as F
from tinygrad_edu.default_dtype import float_dtype
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.random import RandomSource, Rng, as_rng
from tinygrad_edu.tensor import Tensor

__all__ = [
    "Linear",
    "Affine",
    "ReLU",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Sequential",
    "Dropout",
    "BatchNorm1d",
]

WeightInit = str | float | Callable[[Tensor, Rng], Any]

_INITS: dict[str, Callable[[Tensor, Rng], Any]] = {
    "he": lambda w, rng: init.kaiming_normal_(w, rng=rng),
    "kaiming": lambda w, rng: init.kaiming_normal_(w, rng=rng),
    "relu": lambda w, rng: init.kaiming_normal_(w, rng=rng),
    "xavier": lambda w, rng: init.xavier_normal_(w, rng=rng),
    "glorot": lambda w, rng: init.xavier_normal_(w, rng=rng),
    "sigmoid": lambda w, rng: init.xavier_normal_(w, rng=rng),
}


def parameter_dtype(dtype: Any, where: str) -> np.dtype:
    """``dtype`` as a NumPy dtype, which must be a float dtype; None is the default
    dtype (:func:`tinygrad_edu.get_default_dtype`). ``where`` names the layer in the
    error."""
    return float_dtype(dtype, where)


def positive_int(value: Any, name: str, where: str) -> int:
    """A layer's size argument: a positive int (a bool or a float is refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"{where}: {name} must be positive, got {value}")
    return int(value)


def _as_input(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def initialize_weight(
    weight: Tensor, weight_init: WeightInit, rng: RandomSource, where: str = "initialize_weight"
) -> None:
    """Fill ``weight`` by ``weight_init``: a float is the std of a normal (the book's
    ``weight_init_std``), ``"he"``/``"relu"`` is He normal, ``"xavier"``/``"sigmoid"``
    is Glorot normal, a callable is called as ``weight_init(weight, generator)`` with
    ``rng`` as a Generator (or the RandomState it was). ``where`` names the caller in
    errors."""
    gen = as_rng(rng, where)
    if isinstance(weight_init, str):
        fn = _INITS.get(weight_init.lower())
        if fn is None:
            raise ValueError(
                f"{where}: unknown weight_init {weight_init!r}; expected a std (float), a "
                f"callable or one of {sorted(_INITS)}"
            )
        fn(weight, gen)
    elif isinstance(weight_init, (int, float)) and not isinstance(weight_init, bool):
        if not weight_init >= 0:  # NaN too
            raise ValueError(f"{where}: weight_init as a std must be >= 0, got {weight_init}")
        init.normal_(weight, float(weight_init), gen)
    elif callable(weight_init):
        weight_init(weight, gen)
    else:
        raise TypeError(f"{where}: weight_init must be a str, a float or a callable, got "
                        f"{weight_init!r}")


class Linear(Module):
    """y = x @ W + b with W of shape (in_features, out_features), as the book's Affine.

    Shapes: (N, in) -> (N, out) (more leading axes broadcast). dy/dx: g @ W^T,
    dW = x^T @ g, db = g summed over N; computed by the fused ``functional.linear``,
    which skips dx when x needs no gradient (an image batch).

    ``weight_init``: ``"he"`` (default, He normal std sqrt(2/in), the choice for ReLU
    networks), ``"xavier"``, a float std, or a callable ``(weight, rng)``; biases start
    at zero. ``rng``: a NumPy Generator, a RandomState or a seed. ``dtype``: float64 or
    float32 (default: ``tg.get_default_dtype()``).

    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((3, 2), (2,))
    >>> layer(np.ones((4, 3))).shape
    (4, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        weight_init: WeightInit = "he",
        rng: RandomSource = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        dt = parameter_dtype(dtype, type(self).__name__)
        self.in_features = positive_int(in_features, "in_features", type(self).__name__)
        self.out_features = positive_int(out_features, "out_features", type(self).__name__)
        self.weight = Parameter(np.empty((self.in_features, self.out_features), dtype=dt))
        initialize_weight(self.weight, weight_init, rng, type(self).__name__)
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Affine(Linear):
    """The book's Affine: :class:`Linear` that first flattens its input to (N, -1).

    Shapes: (N, d1, d2, ...) -> (N, out) with in_features = d1 * d2 * ...; the gradient
    of x comes back in x's original shape (the reshape's backward undoes it).

    >>> Affine(4, 3, rng=0)(np.ones((2, 1, 2, 2))).shape
    (2, 3)
    """

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x)
        if x.ndim < 2:
            raise ValueError(
                f"Affine: expected a batch of shape (N, ...) with {self.in_features} values "
                f"per sample, got shape {x.shape} (add the batch axis: x.reshape(1, -1))"
            )
        if x.ndim != 2:
            x = F.reshape(x, (x.shape[0], int(np.prod(x.shape[1:]))))
        return F.linear(x, self.weight, self.bias)


class ReLU(Module):
    """max(x, 0) elementwise. d/dx = 1 where x > 0 else 0 (the book's mask of x <= 0)."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


Relu = ReLU  # the book's name


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise. d/dx = s (1 - s)."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise. d/dx = 1 - tanh(x)**2."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named "0", "1", ... or by the keys of an OrderedDict. A slice
    ``net[1:]`` is a new Sequential sharing the layers *and their names* (as in PyTorch),
    so its ``state_dict()`` keys are the parent's, e.g. ``"1.weight"``.

    >>> net = Sequential(Linear(2, 3, rng=0), ReLU())
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias']
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            named = list(modules[0].items())
        else:
            named = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in named:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: module {name!r} must be a Module, got "
                                f"{type(m).__name__} {m!r}")
            self.register_module(name, m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end, named by its position (or, in a slice whose names
        do not start at "0", by the next number not yet used)."""
        name = str(len(self._modules))
        if name in self._modules:
            # net[1:] keeps the names "1", "2": naming by length would replace "2".
            name = str(max(int(n) for n in self._modules if n.isdecimal()) + 1)
        self.register_module(name, module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            # Shares the layers and keeps their names, as PyTorch's slice does.
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[index]


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale
    the survivors by 1 / (1 - p), so eval mode is the identity with no rescaling.

    d/dx = mask / (1 - p) (the same mask as the forward). ``rng``: a NumPy Generator, a
    RandomState or a seed; each call draws a new mask from it.

    >>> drop = Dropout(0.5, rng=0)
    >>> drop(np.ones(6)).data
    array([2., 0., 0., 0., 2., 2.])
    >>> drop.eval()(np.ones(3)).data
    array([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, *, rng: RandomSource = None) -> None:
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer,
                                                                  np.floating)):
            raise TypeError(f"Dropout: p must be a number in [0, 1], got {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = as_rng(rng, "Dropout")

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return F.mul(x, np.zeros(x.shape, dtype=x.dtype))
        keep = self.rng.random(x.shape) >= self.p
        # The scale is folded into the mask once, in x's dtype, so float32 stays float32.
        return F.mul(x, keep.astype(x.dtype) * (1.0 / (1.0 - self.p)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) over (N, C) inputs.

    Training: xhat = (x - mean_N(x)) / sqrt(var_N(x) + eps), y = gamma * xhat + beta,
    with the biased batch variance; the running statistics move by
    ``running = (1 - momentum) * running + momentum * batch`` (the unbiased variance,
    as PyTorch); ``momentum=None`` makes it the plain average of every batch so far
    (PyTorch's cumulative average, counted in ``num_batches_tracked``). Eval: the running
    statistics replace the batch's.
    d/dx = gamma / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat)) in training.

    >>> bn = BatchNorm1d(2)
    >>> y = bn(np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> y.data
    array([[-0.99999..., -0.99999...],
           [ 0.99999...,  0.99999...]])
    >>> bn.running_mean
    array([0.2, 0.4])
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        *,
        affine: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        dt = parameter_dtype(dtype, "BatchNorm1d")
        self.num_features = positive_int(num_features, "num_features", "BatchNorm1d")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be a positive number, got {eps!r}")
        self.eps = float(eps)
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(
                momentum, (int, float)) or not 0 <= momentum <= 1):
            raise ValueError(
                f"BatchNorm1d: momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dt))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dt))
        self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d: expected input of shape (N, {self.num_features}), got {x.shape}"
            )
        if x.dtype.kind != "f":  # the running statistics would be cast to an int dtype
            raise TypeError(f"BatchNorm1d: expected floating-point input, got dtype {x.dtype}")
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    "BatchNorm1d: training needs more than one sample per batch to estimate "
                    f"a variance, got input of shape {x.shape}"
                )
            centered = F.sub(x, F.mean(x, 0, keepdims=True))
            var = F.mean(F.mul(centered, centered), 0, keepdims=True)
            xhat = F.div(centered, F.sqrt(F.add(var, self.eps)))
            # Running statistics are bookkeeping, not part of the graph.
            self.num_batches_tracked += 1
            m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                 else self.momentum)
            self.running_mean *= 1.0 - m
            self.running_mean += m * (x.data.mean(axis=0))
            self.running_var *= 1.0 - m
            self.running_var += (m * n / (n - 1)) * var.data[0]
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            xhat = F.mul(F.sub(x, self.running_mean.astype(x.dtype, copy=False)),
                         inv_std.astype(x.dtype, copy=False))
        if self.weight is None:
            return xhat
        return F.add(F.mul(xhat, self.weight), self.bias)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
