"""Gradient check: backpropagation (autograd) against numerical differentiation.

The book's check: a 784-50-10 TwoLayerNet in float64, the first 3 training images, and
for each parameter the mean absolute difference between the gradient from
``network.gradient`` (autograd) and from ``network.numerical_gradient`` (central
differences, h = 1e-4). The book reports differences of 1e-10 to 1e-7:

    python examples/gradient_check.py
    python examples/gradient_check.py --dataset fashion-mnist

Each numerical gradient needs two forward passes per weight (about 80,000 for W1), so
this takes a few seconds; that slowness is the book's point about why training uses
backpropagation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from tinygrad_edu.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    IDXError,
    load_fashion_mnist,
    load_mnist,
)
from tinygrad_edu.datasets.download import DATA_ENV_VAR
from tinygrad_edu.models import TwoLayerNet

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
# Follows the loader's message, which lists where it looked and how TINYGRAD_EDU_DATA works.
MISSING_DATA_HINT = (
    f"Pass --data-dir DIR (a directory with the four IDX files), or set {DATA_ENV_VAR} "
    "as described above."
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; the defaults are the book's setting."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="directory with the four IDX files (default: the cache)")
    parser.add_argument("--samples", type=int, default=3, help="training images used (3)")
    parser.add_argument("--hidden-size", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights (0)")
    parser.add_argument("--no-verify", action="store_true",
                        help="use IDX files that are not the published ones (your own data)")
    args = parser.parse_args(argv)
    if args.samples <= 0 or args.hidden_size <= 0:
        parser.error("--samples and --hidden-size must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print ``key:difference`` per parameter and return the differences."""
    args = parse_args(argv)
    # float64 throughout: finite differences with h = 1e-4 need its precision.
    try:
        (x_train, t_train), _ = LOADERS[args.dataset](
            normalize=True, one_hot_label=True, data_dir=args.data_dir, dtype=np.float64,
            verify=not args.no_verify,
        )
    except DatasetNotFoundError as exc:
        # The loader's message says where it looked and why downloading failed.
        raise SystemExit(f"{exc}\n{MISSING_DATA_HINT}") from exc
    except (ChecksumError, IDXError) as exc:
        message = str(exc).replace("turn the check off (verify=False)", "pass --no-verify")
        print(f"gradient_check.py: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    network = TwoLayerNet(input_size=x_train.shape[1], hidden_size=args.hidden_size,
                          output_size=t_train.shape[1], rng=args.seed, dtype=np.float64)
    x_batch = x_train[:args.samples]
    t_batch = t_train[:args.samples]

    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)

    diffs: dict[str, float] = {}
    for key in grad_numerical:
        diffs[key] = float(np.average(np.abs(grad_backprop[key] - grad_numerical[key])))
        print(key + ":" + str(diffs[key]))
    return diffs


if __name__ == "__main__":
    main()
