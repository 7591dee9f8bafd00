"""Regenerate the pictures of docs/watching_backward.md (and the README's graph).

    python examples/watching_backward_pictures.py                 # all three
    python examples/watching_backward_pictures.py --no-training   # only the two graphs

* ``docs/two_layer_graph.svg``: the book's two-layer network, drawn by ``viz.to_svg``.
* ``docs/reused_node_graph.svg``: the small graph with a reused node that the page's
  step table walks through, with values and gradients.
* ``docs/grad_flow.png``: each parameter's gradient norm over a real training run of
  ``two_layer_mnist.py`` (Fashion-MNIST by default, which Debian ships; about 10 s).

The two graphs need nothing beyond the package; the training needs the data set and
matplotlib. A test keeps the committed SVG files equal to what this script draws.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.models import TwoLayerNet

DOCS = Path(__file__).resolve().parents[1] / "docs"


def two_layer_graph() -> viz.GraphPicture:
    """The 784-50-10 network's loss on a batch of 100 images, as in the book."""
    net = TwoLayerNet(784, 50, 10, rng=0, dtype=np.float32)
    x = tg.Tensor(np.zeros((100, 784), dtype=np.float32))
    t = tg.Tensor(np.arange(100) % 10)
    loss = net.lastLayer(net(x), t)
    return viz.graph(loss, names={"x": x, **dict(net.named_parameters()), "t": t,
                                  "loss": loss})


def reused_node_graph() -> viz.GraphPicture:
    """y = sum(a * a + a) with a = x * w: the page's step-table example, after a
    backward that kept every gradient."""
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    w = tg.Tensor([3.0, -1.0], requires_grad=True)
    with tg.retain_grads():
        a = x * w
        y = (a * a + a).sum()
    y.backward(retain_graph=True)
    return viz.graph(y, names={"x": x, "w": w, "a": a, "y": y}, show_data=True,
                     show_grad=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="folder to write (docs/)")
    parser.add_argument("--no-training", action="store_true",
                        help="draw the graphs only, not the gradient-flow plot")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    for name, picture in (("two_layer_graph.svg", two_layer_graph()),
                          ("reused_node_graph.svg", reused_node_graph())):
        print(f"wrote {picture.save(args.out / name)}")
    if not args.no_training:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import two_layer_mnist

        extra = ["--data-dir", args.data_dir] if args.data_dir else []
        two_layer_mnist.main(["--dataset", args.dataset, "--no-progress", "--grad-flow",
                              str(args.out / "grad_flow.png"), *extra])


if __name__ == "__main__":
    main()
