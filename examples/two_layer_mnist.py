"""Train the book's two-layer network (784-50-10) on MNIST or Fashion-MNIST.

The defaults are the book's run: 10,000 iterations of plain SGD with learning rate 0.1
on mini-batches of 100 drawn with replacement (``np.random.choice(train_size, 100)``,
here from a seeded Generator), and the accuracy on the full training and test sets
printed every epoch (600 iterations), 17 rows in all, then the total time:

    python examples/two_layer_mnist.py
    python examples/two_layer_mnist.py --dataset fashion-mnist --plot curves.png

Differences from the seed, none of which changes what is learned:

* gradients come from autograd instead of hand-written backward methods;
* labels are class indices instead of one-hot rows (the same loss, less work);
* the recorded training loss is the one computed by the gradient's own forward pass
  (before the update) rather than by a second forward pass after it;
* computation is in float32 by default (``--dtype float64`` for the book's precision):
  about twice as fast, and the accuracy differs from float64 only in the noise of the
  random batches, since float32 rounding (1e-7) is far below SGD's own noise.

Progress bars need ``tqdm`` and ``--plot`` needs ``matplotlib``; both come with
``pip install 'tinygrad-edu[examples]'``.

Timing: the training products are small (100 x 784 by 784 x 50), so a multithreaded
BLAS gains little on them, and on a busy machine with few cores its threads contend
with the other work and wait on each other for far longer than a product takes. There,
set ``OPENBLAS_NUM_THREADS=1`` (or ``OMP_NUM_THREADS=1``) in the environment. With
float32, different thread counts also round sums differently, so the table's last
digits can change with them.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu import optim, serialization
from tinygrad_edu.data import DataLoader
from tinygrad_edu.datasets import DatasetNotFoundError, load_fashion_mnist, load_mnist
from tinygrad_edu.datasets.download import DATA_ENV_VAR
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.viz import GradFlowRecorder

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
# Follows the loader's message, which lists where it looked and how TINYGRAD_EDU_DATA works.
MISSING_DATA_HINT = (
    f"Pass --data-dir DIR (a directory with the four IDX files), or set {DATA_ENV_VAR} "
    "as described above."
)
OPTIMIZERS = {
    "sgd": optim.SGD,
    "momentum": optim.Momentum,
    "adagrad": optim.AdaGrad,
    "rmsprop": optim.RMSprop,
    "adam": optim.Adam,
}
DTYPES = {"float32": np.float32, "float64": np.float64}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; every default is the book's setting."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="directory with the four IDX files (default: the cache)")
    parser.add_argument("--iters", type=int, default=10000, help="iterations (10000)")
    parser.add_argument("--batch-size", type=int, default=100, help="mini-batch size (100)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (0.1)")
    parser.add_argument("--hidden-size", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd")
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32",
                        help="float32 (default, faster) or float64")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batches (0)")
    parser.add_argument("--eval-every", type=float, default=None,
                        help="iterations between evaluations (default: one epoch, "
                             "max(train_size / batch_size, 1))")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="save learning curves as a PNG (needs matplotlib)")
    parser.add_argument("--grad-flow", default=None, metavar="PATH",
                        help="plot each parameter's gradient norm at every evaluation")
    parser.add_argument("--save", default=None, metavar="PATH",
                        help="save the trained weights as .npz")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in ("iters", "batch_size", "hidden_size"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.eval_every is not None and args.eval_every <= 0:
        parser.error("--eval-every must be positive")
    return args


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar on stderr, or None when disabled or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, file=sys.stderr, leave=False, unit="it", mininterval=0.25)


def _emit(line: str, bar: Any) -> None:
    # tqdm.write prints above the bar without tearing it.
    if bar is None:
        print(line, flush=True)
    else:
        bar.write(line, file=sys.stdout)


def _figure_class() -> Any:
    """matplotlib's Figure, imported only for --plot (and before training, so a missing
    matplotlib is reported at once rather than after the run)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise SystemExit(
            "--plot needs matplotlib, which is not installed; install the examples extra: "
            "pip install 'tinygrad-edu[examples]'"
        ) from exc
    return Figure


def plot_history(history: dict[str, Any], path: str) -> None:
    """Loss per iteration and train/test accuracy per evaluation, as a PNG."""
    # A Figure without pyplot: no GUI backend and no global figure state.
    fig = _figure_class()(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(history["train_loss"], linewidth=0.5)
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="loss")
    ax_acc.plot(history["eval_iters"], history["train_acc"], marker="o", label="train")
    ax_acc.plot(history["eval_iters"], history["test_acc"], marker="s", label="test")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(loc="lower right")
    fig.savefig(path, dpi=100)


def train(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    iters: int = 10000,
    batch_size: int = 100,
    lr: float = 0.1,
    optimizer: str = "sgd",
    hidden_size: int = 50,
    seed: int = 0,
    eval_every: float | None = None,
    initial: dict[str, np.ndarray] | None = None,
    sampler: np.random.Generator | None = None,
    progress: bool = True,
    verbose: bool = True,
    grad_flow: GradFlowRecorder | None = None,
) -> dict[str, Any]:
    """The book's training loop on arrays already in the working dtype (x_train's).

    Labels are class indices. The network's weights come from ``seed`` (or ``initial``,
    a state dict with W1 b1 W2 b2); the batches from ``sampler`` (default: the same
    seeded Generator, after the weights). Accuracy on the full sets is evaluated when
    ``i % eval_every == 0`` (default one epoch, ``max(train_size / batch_size, 1)``)
    and, with ``verbose``, printed as a table row.

    ``grad_flow``, a :class:`~tinygrad_edu.viz.GradFlowRecorder`, records each
    parameter's gradient norm at every evaluation.

    Returns the history: ``train_loss`` (per iteration), ``eval_iters``, ``train_acc``,
    ``test_acc`` (per row), ``time`` (seconds of training) and the trained ``network``.
    """
    start = time.perf_counter()
    train_size = x_train.shape[0]
    rng = np.random.default_rng(seed)
    network = TwoLayerNet(input_size=x_train.shape[1], hidden_size=hidden_size,
                          output_size=int(max(t_train.max(), t_test.max())) + 1,
                          rng=rng, dtype=x_train.dtype)
    if initial is not None:
        network.load_state_dict(initial)
    opt = OPTIMIZERS[optimizer](network.parameters(), lr=lr)
    # Batches drawn with replacement, as np.random.choice(train_size, batch_size).
    loader = DataLoader((x_train, t_train), batch_size=batch_size, replacement=True,
                        generator=rng if sampler is None else sampler)
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    if eval_every is None:
        eval_every = max(train_size / batch_size, 1)

    train_loss = np.empty(iters)
    history: dict[str, Any] = {"eval_iters": [], "train_acc": [], "test_acc": []}
    criterion = network.lastLayer
    bar = _progress_bar(iters, progress)
    try:
        for i in range(iters):
            x_batch, t_batch = next(batches)
            opt.zero_grad()
            loss = criterion(network(x_batch), t_batch)
            loss.backward()
            opt.step()
            # The loss of the forward pass the gradient came from: no second forward.
            train_loss[i] = loss.data
            if i % eval_every == 0:
                train_acc = network.accuracy(x_train, t_train)
                test_acc = network.accuracy(x_test, t_test)
                history["eval_iters"].append(i)
                history["train_acc"].append(train_acc)
                history["test_acc"].append(test_acc)
                if grad_flow is not None:
                    grad_flow.record(network.named_parameters(), step=i)
                if verbose:
                    _emit(f"train acc, test acc | {train_acc}, {test_acc}", bar)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    history["train_loss"] = train_loss.tolist()
    history["time"] = time.perf_counter() - start
    history["network"] = network
    return history


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Load the data, train, print the table and the total time (loading included, as
    the book's), save and plot if asked; returns :func:`train`'s history with ``time``
    the total."""
    args = parse_args(argv)
    if args.plot or args.grad_flow:
        _figure_class()
    recorder = GradFlowRecorder() if args.grad_flow else None
    start = time.perf_counter()
    # Pixels arrive in the working dtype once, so no batch is ever converted again.
    try:
        (x_train, t_train), (x_test, t_test) = LOADERS[args.dataset](
            normalize=True, flatten=True, one_hot_label=False, data_dir=args.data_dir,
            dtype=DTYPES[args.dtype],
        )
    except DatasetNotFoundError as exc:
        # The loader's message says where it looked and why downloading failed.
        raise SystemExit(f"{exc}\n{MISSING_DATA_HINT}") from exc
    history = train(x_train, t_train, x_test, t_test, iters=args.iters,
                    batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                    hidden_size=args.hidden_size, seed=args.seed, eval_every=args.eval_every,
                    progress=not args.no_progress, grad_flow=recorder)
    history["time"] = time.perf_counter() - start
    print(f"total time: {history['time']:.1f} s", flush=True)

    if args.save:
        path = serialization.save(history["network"], args.save)
        print(f"weights saved to {path}")
    if args.plot:
        plot_history(history, args.plot)
        print(f"learning curves saved to {args.plot}")
    if recorder is not None:
        recorder.plot(args.grad_flow)
        print(f"gradient flow saved to {args.grad_flow}")
    return history


if __name__ == "__main__":
    main()
