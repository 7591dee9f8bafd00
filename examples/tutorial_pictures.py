"""Regenerate the pictures of the tutorial (docs/tutorial/).

    python examples/tutorial_pictures.py

* ``docs/tutorial/two_layer_backward.svg``: the book's two-layer network (Affine ->
  ReLU -> Affine -> softmax cross-entropy), tiny (3 inputs, 4 hidden units, 3 classes)
  on a batch of 2, after a backward pass, with every tensor's value and gradient.
* ``docs/tutorial/simple_convnet_graph.svg``: the book's SimpleConvNet, small (3
  filters of 5 x 5 on 10 x 10 images, 8 hidden units), on a batch of 2.

Both are drawn by ``tinygrad_edu.viz`` and need nothing beyond the package. The code
is the code the tutorial's pages show, and a test keeps the committed files equal to
what this script draws.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.models import SimpleConvNet, TwoLayerNet

OUT = Path(__file__).resolve().parents[1] / "docs" / "tutorial"


def two_layer_backward() -> viz.GraphPicture:
    """docs/tutorial/chapter5.md's tiny network, after backward, values and gradients
    shown."""
    tiny = TwoLayerNet(3, 4, 3, weight_init_std=0.5, rng=0)
    x = tg.Tensor([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]])
    t = tg.Tensor([0, 2])
    with tg.retain_grads():
        loss = tiny.lastLayer(tiny(x), t)
    loss.backward(retain_graph=True)
    return viz.graph(loss, names={"x": x, **dict(tiny.named_parameters()), "t": t,
                                  "loss": loss}, show_data=True, show_grad=True)


def simple_convnet_graph() -> viz.GraphPicture:
    """docs/tutorial/chapter7.md's small SimpleConvNet: the graph of its loss."""
    convnet = SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 3},
                            hidden_size=8, rng=0)
    x = tg.Tensor(np.zeros((2, 1, 10, 10)))
    t = tg.Tensor([3, 7])
    loss = convnet.lastLayer(convnet(x), t)
    return viz.graph(loss, names={"x": x, **dict(convnet.named_parameters()), "t": t,
                                  "loss": loss})


PICTURES = {"two_layer_backward.svg": two_layer_backward,
            "simple_convnet_graph.svg": simple_convnet_graph}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="folder to write (docs/tutorial/)")
    args = parser.parse_args(argv)
    for name, draw in PICTURES.items():
        print(f"wrote {draw().save(args.out / name)}")


if __name__ == "__main__":
    main()
