"""Train the book's SimpleConvNet (chapter 7) on MNIST or Fashion-MNIST.

The defaults are the book's run (``ch07/train_convnet.py``): conv 30 filters 5x5 -
ReLU - 2x2 max pool - affine 100 - ReLU - affine 10, weights 0.01 * randn; Adam with
learning rate 0.001 on mini-batches of 100 drawn with replacement, for 20 epochs of
600 iterations. As the book's Trainer does, the accuracy on the first 1,000 training
and the first 1,000 test images is printed once per epoch (after the epoch's first
iteration), and the accuracy on the whole test set at the end; then the total time:

    python examples/simple_convnet_mnist.py
    python examples/simple_convnet_mnist.py --epochs 1 --filters filters.png

``--filters PATH`` draws the first layer's 30 filters before and after training, as
the book's figure 7-24: random noise before, edge and blob detectors after.

A header line first says what runs (the data set, Adam's learning rate, the batch size,
the epochs, the dtype, the random seed and the BLAS threads). Every argument is checked before
any work starts: a mistake gets a one-line error and exit status 2, and nothing is
created. The data files must be the published ones (``--no-verify`` accepts files of
your own in the same format). The command line, its checks and the BLAS thread rule are
shared with ``two_layer_mnist.py`` (``examples/example_cli.py``).

Differences from the book's run, none of which changes what is learned:

* gradients come from autograd instead of hand-written backward methods;
* the recorded training loss is the one of the forward pass the gradient came from,
  rather than a second forward pass after the update;
* computation is in float32 by default (``--dtype float64`` for the book's precision).

Progress bars need ``tqdm``; ``--plot`` and ``--filters`` need ``matplotlib``; changing
the BLAS thread count (``--blas-threads``; by default fewer threads when other work keeps
the cores busy) needs ``threadpoolctl``; all come with ``pip install
'tinygrad-edu[examples]'``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import serialization
from tinygrad_edu.data import DataLoader
from tinygrad_edu.models import SimpleConvNet
from tinygrad_edu.optim import Adam

HERE = Path(__file__).resolve().parent  # example_cli.py lives beside this script
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import example_cli as cli  # noqa: E402

PROG = "simple_convnet_mnist.py"
LOADERS = cli.LOADERS  # the shared table (tests replace its entries)
DTYPES = cli.DTYPES
DEFAULT_LR = 0.001  # the book's Adam
EVAL_SAMPLES = 1000  # the book's evaluate_sample_num_per_epoch


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; every default is the book's setting. Everything is checked
    here, before any work, as in ``two_layer_mnist.py``."""
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    cli.add_common_arguments(parser, lr_help="Adam's learning rate (0.001)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs (20)")
    parser.add_argument("--filters", default=None, metavar="PATH",
                        help="save the first layer's filters before and after training as "
                             "a PNG (the book's figure 7-24; needs matplotlib)")
    args = parser.parse_args(argv)
    cli.check_common(PROG, args, positive=("epochs", "batch_size"),
                     outputs={"--plot": args.plot, "--filters": args.filters,
                              "--save": args.save},
                     figures=("--plot", "--filters"))
    args.lr_given = args.lr is not None
    if args.lr is None:
        args.lr = DEFAULT_LR
    return args


def plot_curves(history: dict[str, Any], path: str, title: str = "") -> Any:
    """Loss per iteration and train/test accuracy per epoch, as a PNG titled ``title``
    (the data set and the optimizer); returns the figure."""
    fig = cli.figure_class(PROG)(figsize=(10, 4), layout="constrained")
    if title:
        fig.suptitle(title)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(history["train_loss"], linewidth=0.5)
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="loss")
    epochs = np.arange(1, len(history["train_acc"]) + 1)
    ax_acc.plot(epochs, history["train_acc"], marker="o", label="train")
    ax_acc.plot(epochs, history["test_acc"], marker="s", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(loc="lower right")
    fig.savefig(path, dpi=100)
    return fig


def plot_filters(before: np.ndarray, after: np.ndarray, path: str, columns: int = 8) -> None:
    """The filters (FN, C, FH, FW), first channel, before and after training, as the
    book's ``filter_show``: one gray square per filter, dark for large weights."""
    rows = -(-len(before) // columns)
    fig = cli.figure_class(PROG, "--filters")(figsize=(2 * columns * 0.6 + 0.5, rows * 0.6 + 0.6),
                          layout="constrained")
    for panel, (title, filters) in zip(fig.subfigures(1, 2),
                                       (("before training", before), ("after training", after))):
        panel.suptitle(title)
        axes = panel.subplots(rows, columns, squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(filters):
                ax.imshow(filters[k, 0], cmap="gray_r", interpolation="nearest")
    fig.savefig(path, dpi=100)


def train(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    epochs: int = 20,
    batch_size: int = 100,
    lr: float = 0.001,
    seed: int = 0,
    progress: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """The book's Trainer on arrays already in the working dtype (x_train's), images
    (N, C, H, W) and class-index labels.

    Returns the history: ``train_loss`` (per iteration), ``train_acc`` and ``test_acc``
    (per epoch, on the first 1,000 images of each set), ``final_test_acc`` (the whole
    test set), ``filters_before`` (W1 at the start), ``time`` (seconds of training) and
    the trained ``network``.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    network = SimpleConvNet(input_dim=x_train.shape[1:], rng=rng, dtype=x_train.dtype)
    filters_before = network.params["W1"].copy()
    opt = Adam(network.parameters(), lr=lr)
    # Batches drawn with replacement, as np.random.choice(train_size, batch_size).
    loader = DataLoader((x_train, t_train), batch_size=batch_size, replacement=True,
                        generator=rng)
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    iter_per_epoch = max(x_train.shape[0] / batch_size, 1)
    max_iter = int(epochs * iter_per_epoch)

    train_loss = np.empty(max_iter)
    history: dict[str, Any] = {"train_acc": [], "test_acc": []}
    criterion = network.lastLayer
    bar = cli.progress_bar(max_iter, progress)
    try:
        for i in range(max_iter):
            x_batch, t_batch = next(batches)
            opt.zero_grad()
            loss = criterion(network(x_batch), t_batch)
            loss.backward()
            opt.step()
            train_loss[i] = loss.data
            if i % iter_per_epoch == 0:
                train_acc = network.accuracy(x_train[:EVAL_SAMPLES], t_train[:EVAL_SAMPLES])
                test_acc = network.accuracy(x_test[:EVAL_SAMPLES], t_test[:EVAL_SAMPLES])
                history["train_acc"].append(train_acc)
                history["test_acc"].append(test_acc)
                line = (f"=== epoch:{len(history['train_acc'])}, train acc:{train_acc}, "
                        f"test acc:{test_acc} ===")
                if verbose:
                    cli.emit(line, bar)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    history["final_test_acc"] = network.accuracy(x_test, t_test)
    if verbose:
        print("=============== Final Test Accuracy ===============")
        print(f"test acc:{history['final_test_acc']}", flush=True)
    history["train_loss"] = train_loss.tolist()
    history["filters_before"] = filters_before
    history["time"] = time.perf_counter() - start
    history["network"] = network
    return history


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Check the arguments, load the data, print the header, train, print the table
    and the total time (loading included), save and draw if asked; returns
    :func:`train`'s history with ``time`` the total."""
    args = parse_args(argv)
    start = time.perf_counter()
    probe = cli.LoadProbe()  # measures the other work while the data loads
    x_train, t_train, x_test, t_test = cli.load_data(PROG, args, flatten=False)
    threads, blas = cli.decide_blas_threads(args.blas_threads, probe)
    lr_source = "" if args.lr_given else ", the book's"
    print(f"{cli.DATASET_NAMES[args.dataset]}, Adam (lr {args.lr:g}{lr_source}), batch "
          f"{args.batch_size}, {cli.plural(args.epochs, 'epoch')}, {args.dtype}, "
          f"seed {args.seed}; "
          f"BLAS threads: {blas}", flush=True)
    with cli.blas_threads(threads):
        history = train(x_train, t_train, x_test, t_test, epochs=args.epochs,
                        batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        progress=not args.no_progress)
    history["time"] = time.perf_counter() - start
    print(f"total time: {history['time']:.1f} s", flush=True)

    if args.save:
        path = serialization.save(history["network"], args.save)
        print(f"weights saved to {path}")
    if args.plot:
        plot_curves(history, args.plot, cli.plot_title(args, "Adam"))
        print(f"learning curves saved to {args.plot}")
    if args.filters:
        plot_filters(history["filters_before"], history["network"].params["W1"], args.filters)
        print(f"filters saved to {args.filters}")
    return history


if __name__ == "__main__":
    main()
