"""Neural-network building blocks: Module, Parameter, layers, losses and ``nn.init``.

>>> import numpy as np
>>> from tinygrad_edu import nn
>>> net = nn.Sequential(nn.Affine(4, 8, rng=0), nn.Relu(), nn.Affine(8, 3, rng=1))
>>> loss = nn.SoftmaxWithLoss()(net(np.ones((5, 4))), np.array([0, 1, 2, 0, 1]))
>>> loss.backward()
>>> [p.grad.shape for p in net.parameters()]
[(4, 8), (8,), (8, 3), (3,)]
"""

from tinygrad_edu.nn import init, utils
from tinygrad_edu.nn.containers import ModuleDict, ModuleList
from tinygrad_edu.nn.conv import AvgPool2d, Conv2d, Convolution, Flatten, MaxPool2d, Pooling
from tinygrad_edu.nn.layers import (
    Affine,
    BatchNorm1d,
    Dropout,
    Linear,
    ReLU,
    Relu,
    Sequential,
    Sigmoid,
    Tanh,
)
from tinygrad_edu.nn.losses import CrossEntropyLoss, MSELoss, SoftmaxWithLoss
from tinygrad_edu.nn.module import LoadResult, Module, Parameter

__all__ = [
    "Module",
    "Parameter",
    "LoadResult",
    "Linear",
    "Affine",
    "ReLU",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "Dropout",
    "BatchNorm1d",
    "Conv2d",
    "Convolution",
    "MaxPool2d",
    "AvgPool2d",
    "Pooling",
    "Flatten",
    "CrossEntropyLoss",
    "SoftmaxWithLoss",
    "MSELoss",
    "init",
    "utils",
]
