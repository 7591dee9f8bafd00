"""Train the book's two-layer network (784-50-10) on MNIST or Fashion-MNIST.

The defaults are the book's run: 10,000 iterations of plain SGD with learning rate 0.1
on mini-batches of 100 drawn with replacement (``np.random.choice(train_size, 100)``,
here from a seeded Generator), and the accuracy on the full training and test sets
printed every epoch (600 iterations), 17 rows as in the book, and once more after the
last iteration (the row of the final weights, those ``--save`` writes), then the total
time. A header line first says what runs: the data set, the optimizer and its learning
rate, the batch size, the iterations, the dtype, the random seed and the BLAS threads:

    python examples/two_layer_mnist.py
    python examples/two_layer_mnist.py --dataset fashion-mnist --plot curves.png

Each optimizer starts from its usual learning rate unless ``--lr`` is given: SGD 0.1 (the
book's), Momentum 0.01, AdaGrad 0.01, RMSprop 0.01, Adam 0.001 (0.1 makes Adam end near
0.75 test accuracy instead of 0.97).

Every argument is checked before any work starts: a mistake gets a one-line error and
exit status 2, and nothing is created. The data files must be the published ones (their
SHA-256 is checked; ``--no-verify`` accepts files of your own in the same format).

``--save PATH`` writes a checkpoint (``.npz``, or ``.safetensors`` with the safetensors
extra): the network's weights under their state-dict names (``W1 b1 W2 b2``, W1 of shape
(784, 50)), and under ``optimizer/``, ``loader/`` and ``run/`` what it takes to go on:
the optimizer's state, the batch generator's state, the iteration count, the training
losses and the table so far. ``--resume PATH`` goes on from there, with the same settings and a
larger ``--iters``, and prints exactly the table the uninterrupted run prints (on the same
machine with the same BLAS thread count, which the resumed run takes from the checkpoint
unless ``--blas-threads`` says otherwise: float32 sums can round differently with
another):

    python examples/two_layer_mnist.py --iters 3000 --save run.npz
    python examples/two_layer_mnist.py --iters 10000 --resume run.npz --save run.npz

Differences from the book's code, none of which changes what is learned:

* gradients come from autograd instead of hand-written backward methods;
* labels are class indices instead of one-hot rows (the same loss, less work);
* the recorded training loss is the one computed by the gradient's own forward pass
  (before the update) rather than by a second forward pass after it;
* computation is in float32 by default (``--dtype float64`` for the book's precision):
  about twice as fast, and the accuracy differs from float64 only in the noise of the
  random batches, since float32 rounding (1e-7) is far below SGD's own noise.

Progress bars need ``tqdm``, ``--plot`` needs ``matplotlib`` and changing the BLAS
thread count needs ``threadpoolctl``; all come with ``pip install
'tinygrad-edu[examples]'``.

Timing: the training products are small (100 x 784 by 784 x 50), so a multithreaded
BLAS gains little on them, and on a busy machine with few cores its threads contend
with the other work and wait on each other for far longer than a product takes.
``--blas-threads auto`` (the default) therefore uses fewer threads when other work keeps
the cores busy (the rule is in ``examples/example_cli.py``); ``--blas-threads N`` fixes
the count. With float32, different thread counts round sums differently, so the table's
last digits can change with them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_edu import optim, serialization
from tinygrad_edu.data import DataLoader
from tinygrad_edu.models import TwoLayerNet
from tinygrad_edu.viz import GradFlowRecorder

HERE = Path(__file__).resolve().parent  # example_cli.py lives beside this script
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import example_cli as cli  # noqa: E402

PROG = "two_layer_mnist.py"
LOADERS = cli.LOADERS  # the shared table (tests replace its entries)
OPTIMIZERS = {
    "sgd": optim.SGD,
    "momentum": optim.Momentum,
    "adagrad": optim.AdaGrad,
    "rmsprop": optim.RMSprop,
    "adam": optim.Adam,
}
# Each optimizer's usual learning rate: SGD the book's run, the others the book's
# chapter-6 defaults (Adam's is Kingma & Ba's and PyTorch's).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 0.01, "adam": 0.001}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "adagrad": "AdaGrad",
                   "rmsprop": "RMSprop", "adam": "Adam"}
DTYPES = cli.DTYPES
IMAGE_PIXELS, CLASSES = 28 * 28, 10  # both data sets
# What a run's result depends on: a resumed run must have the same.
SETTINGS = ("dataset", "batch_size", "lr", "hidden_size", "optimizer", "dtype", "seed",
            "eval_every")


def fail(message: str) -> NoReturn:
    """The one-line error of a bad argument: exit status 2, as argparse's own."""
    cli.fail(PROG, message)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; every default is the book's setting. Everything is checked
    here, before any work (see :func:`check_args`)."""
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    cli.add_common_arguments(parser, lr_help="learning rate (default: the optimizer's: "
                             + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    parser.add_argument("--iters", type=int, default=10000, help="iterations (10000)")
    parser.add_argument("--hidden-size", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd")
    parser.add_argument("--eval-every", type=float, default=None,
                        help="iterations between evaluations (default: one epoch, "
                             "max(train_size / batch_size, 1))")
    parser.add_argument("--grad-flow", default=None, metavar="PATH",
                        help="plot each parameter's gradient norm at every evaluation")
    parser.add_argument("--resume", default=None, metavar="PATH",
                        help="go on from a checkpoint written by --save, to --iters")
    args = parser.parse_args(argv)
    check_args(args)
    return args


def check_args(args: argparse.Namespace) -> None:
    """Refuse, with a one-line error, anything that would fail later; fill in the
    optimizer's learning rate when --lr is not given."""
    cli.check_common(PROG, args, positive=("iters", "batch_size", "hidden_size"),
                     outputs={"--plot": args.plot, "--save": args.save,
                              "--grad-flow": args.grad_flow},
                     figures=("--plot", "--grad-flow"))
    if args.eval_every is not None and not (math.isfinite(args.eval_every)
                                            and args.eval_every > 0):
        fail(f"--eval-every must be a positive number, got {args.eval_every}")
    args.lr_given = args.lr is not None
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    args.checkpoint = None if args.resume is None else _check_resume(args)


def _check_resume(args: argparse.Namespace) -> dict[str, Any]:
    """Read the checkpoint and make sure this run can go on from it."""
    path = args.resume
    if not Path(path).is_file():
        fail(f"--resume {path}: no such file")
    try:
        checkpoint = serialization.load(path)
    except (serialization.CheckpointError, OSError, ImportError) as exc:
        fail(f"--resume: {exc}")
    try:
        saved = json.loads(bytes(checkpoint["run/settings"]).decode())
        iteration = int(checkpoint["run/iteration"])
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        fail(f"--resume {path}: not a checkpoint of this script (no run/ entries)")
    differ = [f"--{k.replace('_', '-')} {saved.get(k)}" for k in SETTINGS
              if saved.get(k) != getattr(args, k)]
    if differ:
        fail(f"--resume {path}: the run was made with {', '.join(differ)}; give the same")
    if iteration > args.iters:
        fail(f"--resume {path}: the run is at iteration {iteration}, past --iters {args.iters}")
    # A dry run of loading it: any damage shows now, not after the data is loaded.
    network = TwoLayerNet(input_size=IMAGE_PIXELS, hidden_size=args.hidden_size,
                          output_size=CLASSES, dtype=DTYPES[args.dtype])
    opt = OPTIMIZERS[args.optimizer](network.parameters(), lr=args.lr)
    try:
        network.load_state_dict(_model_part(checkpoint))
        opt.load_state_dict(_part(checkpoint, "optimizer/"))
        DataLoader(np.zeros(1), replacement=True, generator=0).load_state_dict(
            _part(checkpoint, "loader/"))
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        fail(f"--resume {path}: {' '.join(str(exc).split())}")
    return checkpoint


def _part(checkpoint: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.removeprefix(prefix): v for k, v in checkpoint.items() if k.startswith(prefix)}


def _model_part(checkpoint: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    # State-dict names are Python attribute paths: they never contain a slash.
    return {k: v for k, v in checkpoint.items() if "/" not in k}


def _row(train_acc: float, test_acc: float) -> str:
    return f"train acc, test acc | {train_acc}, {test_acc}"


def plot_history(history: dict[str, Any], path: str, title: str = "") -> Any:
    """Loss per iteration and train/test accuracy per evaluation, as a PNG titled
    ``title`` (the data set and the optimizer); returns the figure."""
    fig = cli.figure_class(PROG)(figsize=(10, 4), layout="constrained")
    if title:
        fig.suptitle(title)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(history["train_loss"], linewidth=0.5)
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="loss")
    ax_acc.plot(history["eval_iters"], history["train_acc"], marker="o", label="train")
    ax_acc.plot(history["eval_iters"], history["test_acc"], marker="s", label="test")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    ax_acc.legend(loc="lower right")
    fig.savefig(path, dpi=100)
    return fig


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
    resume: Mapping[str, np.ndarray] | None = None,
    progress: bool = True,
    verbose: bool = True,
    grad_flow: GradFlowRecorder | None = None,
) -> dict[str, Any]:
    """The book's training loop on arrays already in the working dtype (x_train's).

    Labels are class indices. The network's weights come from ``seed`` (or ``initial``,
    a state dict with W1 b1 W2 b2); the batches from ``sampler`` (default: the same
    seeded Generator, after the weights). Accuracy on the full sets is evaluated when
    ``i % eval_every == 0`` (default one epoch, ``max(train_size / batch_size, 1)``)
    and after the last iteration, and, with ``verbose``, printed as a table row.
    ``resume``, a :func:`checkpoint`, restores the network, the optimizer, the loader's
    generator and the history, reprints the table so far (without the row that ended
    the interrupted run, unless it is on the schedule), and goes on from its iteration.

    ``grad_flow``, a :class:`~tinygrad_edu.viz.GradFlowRecorder`, records each
    parameter's gradient norm at every evaluation.

    Returns the history: ``train_loss`` (per iteration), ``eval_iters``, ``train_acc``,
    ``test_acc`` (per row), ``time`` (seconds of training), the trained ``network``,
    its ``optimizer`` and ``loader``, and ``iteration`` (iterations done: ``iters``).
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
    sampler = rng if sampler is None else sampler
    if eval_every is None:
        eval_every = max(train_size / batch_size, 1)

    train_loss = np.empty(iters)
    history: dict[str, Any] = {"eval_iters": [], "train_acc": [], "test_acc": []}
    first = 0
    # Batches drawn with replacement, as np.random.choice(train_size, batch_size).
    loader = DataLoader((x_train, t_train), batch_size=batch_size, replacement=True,
                        generator=sampler)
    if resume is not None:
        network.load_state_dict(_model_part(resume))
        opt.load_state_dict(_part(resume, "optimizer/"))
        loader.load_state_dict(_part(resume, "loader/"))
        first = int(resume["run/iteration"])
        train_loss[:first] = resume["run/train_loss"]
        # The interrupted run's last row is this run's only if it is on the schedule.
        kept = [k for k, i in enumerate(resume["run/eval_iters"].tolist())
                if _evaluated(i, eval_every, iters)]
        for key in ("eval_iters", "train_acc", "test_acc"):
            history[key] = [resume[f"run/{key}"].tolist()[k] for k in kept]
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    criterion = network.lastLayer
    bar = cli.progress_bar(iters, progress, initial=first)
    try:
        if verbose:
            for row in zip(history["train_acc"], history["test_acc"]):
                cli.emit(_row(*row), bar)
        for i in range(first, iters):
            x_batch, t_batch = next(batches)
            opt.zero_grad()
            loss = criterion(network(x_batch), t_batch)
            loss.backward()
            opt.step()
            # The loss of the forward pass the gradient came from: no second forward.
            train_loss[i] = loss.data
            if _evaluated(i, eval_every, iters):
                train_acc = network.accuracy(x_train, t_train)
                test_acc = network.accuracy(x_test, t_test)
                history["eval_iters"].append(i)
                history["train_acc"].append(train_acc)
                history["test_acc"].append(test_acc)
                if grad_flow is not None:
                    grad_flow.record(network.named_parameters(), step=i)
                if verbose:
                    cli.emit(_row(train_acc, test_acc), bar)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    history["train_loss"] = train_loss.tolist()
    history["time"] = time.perf_counter() - start
    history.update(network=network, optimizer=opt, loader=loader, iteration=iters)
    return history


def _evaluated(i: int, eval_every: float, iters: int) -> bool:
    """Whether iteration ``i`` gets a row: every ``eval_every``, and the last one."""
    return i % eval_every == 0 or i == iters - 1


def checkpoint(history: Mapping[str, Any], settings: Mapping[str, Any],
               blas_threads: int = 0) -> dict[str, Any]:
    """What ``--save`` writes: the network's state dict, ``optimizer/<name>`` and
    ``loader/<name>`` for the optimizer's and the batch loader's, and ``run/<name>`` for
    the rest of the run (see the module docstring), with the BLAS thread count the run
    had (0: unknown)."""
    text = json.dumps(dict(settings), sort_keys=True).encode()
    return {
        **history["network"].state_dict(),
        **{f"optimizer/{k}": v for k, v in history["optimizer"].state_dict().items()},
        **{f"loader/{k}": v for k, v in history["loader"].state_dict().items()},
        "run/iteration": np.int64(history["iteration"]),
        "run/train_loss": np.array(history["train_loss"], dtype=np.float64),
        "run/eval_iters": np.array(history["eval_iters"], dtype=np.int64),
        "run/train_acc": np.array(history["train_acc"], dtype=np.float64),
        "run/test_acc": np.array(history["test_acc"], dtype=np.float64),
        "run/settings": np.frombuffer(text, dtype=np.uint8),  # UTF-8 JSON
        "run/blas_threads": np.int64(blas_threads),
    }


def header(args: argparse.Namespace, blas: str) -> str:
    """The first line of the run: what it is."""
    name = OPTIMIZER_NAMES[args.optimizer]
    lr_source = "" if args.lr_given else f", the default for {name}"
    return (f"{cli.DATASET_NAMES[args.dataset]}, {name} (lr {args.lr:g}{lr_source}), "
            f"batch {args.batch_size}, {cli.plural(args.iters, 'iteration')}, "
            f"{cli.plural(args.hidden_size, 'hidden unit')}, {args.dtype}, seed {args.seed}; "
            f"BLAS threads: {blas}")


def blas_for(args: argparse.Namespace, probe: cli.LoadProbe) -> tuple[int | None, str]:
    """The BLAS threads of this run: a resumed run keeps those of the run it continues
    (unless --blas-threads says otherwise), so that it prints the same table."""
    saved = 0 if args.checkpoint is None else int(args.checkpoint.get("run/blas_threads", 0))
    if args.blas_threads == "auto" and saved and cli.threadpool_limits_class() is not None:
        return saved, f"{saved} (as the run it continues)"
    return cli.decide_blas_threads(args.blas_threads, probe)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Check the arguments, load the data, print the header, train (or go on
    training), print the table and the total time (loading included, as the book's),
    save and plot if asked; returns :func:`train`'s history with ``time`` the total."""
    args = parse_args(argv)
    recorder = GradFlowRecorder() if args.grad_flow else None
    start = time.perf_counter()
    probe = cli.LoadProbe()  # measures the other work while the data loads
    x_train, t_train, x_test, t_test = cli.load_data(PROG, args, flatten=True)
    threads, blas = blas_for(args, probe)
    print(header(args, blas), flush=True)
    with cli.blas_threads(threads):
        history = train(x_train, t_train, x_test, t_test, iters=args.iters,
                        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                        hidden_size=args.hidden_size, seed=args.seed,
                        eval_every=args.eval_every, resume=args.checkpoint,
                        progress=not args.no_progress, grad_flow=recorder)
        in_effect = threads or cli.default_blas_threads() or 0
    history["time"] = time.perf_counter() - start
    print(f"total time: {history['time']:.1f} s", flush=True)

    if args.save:
        settings = {name: getattr(args, name) for name in SETTINGS}
        path = serialization.save(checkpoint(history, settings, in_effect), args.save)
        print(f"checkpoint saved to {path}")
    if args.plot:
        title = cli.plot_title(args, OPTIMIZER_NAMES[args.optimizer])
        plot_history(history, args.plot, title)
        print(f"learning curves saved to {args.plot}")
    if recorder is not None:
        recorder.plot(args.grad_flow)
        print(f"gradient flow saved to {args.grad_flow}")
    return history


if __name__ == "__main__":
    main()
