"""The book's training run, timed side by side: tinygrad_edu, hand-written NumPy, PyTorch.

The run is the book's: a 784-50-10 network, batch 100 drawn with replacement, lr 0.1,
10,000 iterations, and accuracy on the full training and test sets every epoch (17
evaluations). It is timed for two loops:

* ``book``: the book's loop as written, ``grad = net.gradient(x, t)``, the update
  ``net.params[k] -= lr * grad[k]``, then ``net.loss(x, t)`` to record the loss
  (an extra forward pass);
* ``example``: the idiomatic loop of ``examples/two_layer_mnist.py``.

Each (implementation, dtype, loop) run happens in a fresh child process, interleaved
A B C A B C ..., and the table shows the median of ``--repeats`` runs. Running every
contender in its own process keeps one's heap (torch's import alone adds about 170,000
objects for Python's garbage collector to walk) and caches from slowing another.

The BLAS floor is the time this machine's BLAS needs for the run's matrix products
alone, each shape timed on its own: "as written" counts every product the book's code computes
(including the input-batch gradient and the extra loss forward), "minimum" only those
that some result needs.

Run: ``python benchmarks/bench_mnist.py --data-dir /usr/share/datasets/fashion-mnist``
(``--iters 2000 --repeats 1`` for a quick look; ``--json PATH`` saves the results for
``benchmarks/plot_mnist.py``). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BATCH, HIDDEN, LR = 100, 50, 0.1
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


# ---------------------------------------------------------------------------- data


def load(data_dir: str, dtype: type) -> dict[str, np.ndarray]:
    """Any MNIST-format directory (the four IDX files, gzipped or not)."""
    from tinygrad_edu.datasets import read_idx

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            path = Path(data_dir) / name
            if path.exists():
                return path
        raise FileNotFoundError(f"{stem}(.gz) not found in {data_dir}")

    x_train = read_idx(find("train-images-idx3-ubyte")).reshape(-1, 784)
    x_test = read_idx(find("t10k-images-idx3-ubyte")).reshape(-1, 784)
    t_train = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    t_test = read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    # Converted once to the working dtype, as the book's loader does (pixels / 255).
    return {
        "x_train": (x_train / 255.0).astype(dtype),
        "x_test": (x_test / 255.0).astype(dtype),
        "t_train": t_train,
        "t_test": t_test,
        "onehot_train": np.eye(10, dtype=dtype)[t_train],
        "onehot_test": np.eye(10, dtype=dtype)[t_test],
    }


def initial_weights(dtype: type, seed: int) -> dict[str, np.ndarray]:
    """The book's initialisation (0.01 * randn, zero biases), the same for every contender."""
    rng = np.random.default_rng(seed)
    return {
        "W1": (0.01 * rng.standard_normal((784, HIDDEN))).astype(dtype),
        "b1": np.zeros(HIDDEN, dtype=dtype),
        "W2": (0.01 * rng.standard_normal((HIDDEN, 10))).astype(dtype),
        "b2": np.zeros(10, dtype=dtype),
    }


# ---------------------------------------------------------------------------- contenders
# Each returns (final train accuracy, final test accuracy). Batches come from the same
# seeded Generator, so every contender sees the same batches and ends at the same place.


def run_handwritten(d: dict[str, np.ndarray], iters: int, loop: str, dtype: type,
                    seed: int) -> tuple[float, float]:
    sys.path.insert(0, str(HERE))
    from book_numpy import HandWrittenTwoLayerNet

    net = HandWrittenTwoLayerNet(784, HIDDEN, 10, dtype=dtype)
    net.params = initial_weights(dtype, seed)
    return book_loop(net, d, iters, extra_loss=loop == "book", seed=seed)


def book_loop(net: Any, d: dict[str, np.ndarray], iters: int, extra_loss: bool,
              seed: int) -> tuple[float, float]:
    """The book's loop on any network with its interface (params, gradient, loss,
    accuracy); ``extra_loss`` keeps its loss forward pass after each update."""
    rng = np.random.default_rng(seed + 1)
    x, t = d["x_train"], d["onehot_train"]
    per_epoch = max(len(x) // BATCH, 1)
    accs = (0.0, 0.0)
    for i in range(iters):
        mask = rng.choice(len(x), BATCH)
        xb, tb = x[mask], t[mask]
        grad = net.gradient(xb, tb)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= LR * grad[key]
        if extra_loss:
            net.loss(xb, tb)
        if i % per_epoch == 0:
            accs = (net.accuracy(x, d["t_train"]), net.accuracy(d["x_test"], d["t_test"]))
    return accs


def run_tinygrad(d: dict[str, np.ndarray], iters: int, loop: str, dtype: type,
                 seed: int) -> tuple[float, float]:
    from tinygrad_edu.models import TwoLayerNet

    if loop == "example":
        sys.path.insert(0, str(ROOT / "examples"))
        from two_layer_mnist import train  # type: ignore[import-not-found]

        history = train(d["x_train"], d["t_train"], d["x_test"], d["t_test"], iters=iters,
                        batch_size=BATCH, lr=LR, seed=seed, initial=initial_weights(dtype, seed),
                        sampler=np.random.default_rng(seed + 1), progress=False, verbose=False)
        return history["train_acc"][-1], history["test_acc"][-1]

    net = TwoLayerNet(784, HIDDEN, 10, dtype=dtype)
    for key, value in initial_weights(dtype, seed).items():
        net.params[key][...] = value
    return book_loop(net, d, iters, extra_loss=True, seed=seed)


def run_torch(d: dict[str, np.ndarray], iters: int, loop: str, dtype: type,
              seed: int) -> tuple[float, float]:
    import torch

    torch.set_num_threads(2)
    p = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in
         initial_weights(dtype, seed).items()}
    x, xt = torch.from_numpy(d["x_train"]), torch.from_numpy(d["x_test"])
    t, tt = torch.from_numpy(d["t_train"]), torch.from_numpy(d["t_test"])

    def predict(inp: Any) -> Any:
        return torch.relu(inp @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    def accuracy(inp: Any, labels: Any) -> float:
        with torch.no_grad():
            return float((predict(inp).argmax(1) == labels).double().mean())

    rng = np.random.default_rng(seed + 1)
    per_epoch = max(len(x) // BATCH, 1)
    accs = (0.0, 0.0)
    for i in range(iters):
        mask = torch.from_numpy(rng.choice(len(x), BATCH))
        xb, tb = x[mask], t[mask]
        loss = torch.nn.functional.cross_entropy(predict(xb), tb)
        loss.backward()
        with torch.no_grad():
            for v in p.values():
                v -= LR * v.grad
                v.grad = None
            if loop == "book":
                torch.nn.functional.cross_entropy(predict(xb), tb).item()
        if i % per_epoch == 0:
            accs = (accuracy(x, t), accuracy(xt, tt))
    return accs


CONTENDERS = {"tinygrad_edu": run_tinygrad, "numpy": run_handwritten, "pytorch": run_torch}


def worker(impl: str, loop: str, dtype_name: str, iters: int, data_dir: str, seed: int) -> None:
    dtype = np.float32 if dtype_name == "float32" else np.float64
    d = load(data_dir, dtype)
    start = time.perf_counter()
    train_acc, test_acc = CONTENDERS[impl](d, iters, loop, dtype, seed)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "train_acc": train_acc, "test_acc": test_acc}))


# ---------------------------------------------------------------------------- the BLAS floor


def blas_floor(iters: int, dtype: type, n_train: int, n_test: int) -> dict[str, float]:
    """Seconds this machine's BLAS needs for the run's matrix products alone."""
    rng = np.random.default_rng(0)

    def product_time(m: int, k: int, n: int, transposed_a: bool = False) -> float:
        a = rng.standard_normal((k, m) if transposed_a else (m, k)).astype(dtype)
        a = a.T if transposed_a else a
        b = rng.standard_normal((k, n)).astype(dtype)
        reps = max(3, int(2e8 / (m * k * n + 1)))
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                np.matmul(a, b)
            best = min(best, (time.perf_counter() - t0) / reps)
        return best

    fwd = product_time(BATCH, 784, HIDDEN) + product_time(BATCH, HIDDEN, 10)
    bwd = (product_time(HIDDEN, BATCH, 10, True)      # dW2 = h^T g
           + product_time(BATCH, 10, HIDDEN)          # dh = g W2^T
           + product_time(784, BATCH, HIDDEN, True))  # dW1 = x^T dh
    dx = product_time(BATCH, HIDDEN, 784)             # the input gradient nothing needs
    evals = iters // max(n_train // BATCH, 1) + 1
    chunk = 10_000
    eval_time = (product_time(chunk, 784, HIDDEN) + product_time(chunk, HIDDEN, 10)) * (
        (n_train + n_test) / chunk) * evals
    return {
        "minimum": iters * (fwd + bwd) + eval_time,
        "as written": iters * (2 * fwd + bwd + dx) + eval_time,
    }


# ---------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="an MNIST-format directory")
    parser.add_argument("--iters", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--loops", default="seed,example")
    parser.add_argument("--json", type=Path, help="save the results here")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "LOOP", "DTYPE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, args.iters, args.data_dir, args.seed)
        return {}

    impls = ["tinygrad_edu", "numpy"]
    if importlib.util.find_spec("torch") is not None:
        impls.append("pytorch")
    dtypes = args.dtypes.split(",")
    loops = args.loops.split(",")
    jobs = [(impl, loop, dt) for loop in loops for dt in dtypes for impl in impls
            if not (impl == "numpy" and loop == "example")]  # the book loop *is* numpy's
    samples: dict[tuple[str, str, str], list[dict[str, float]]] = {job: [] for job in jobs}
    for r in range(args.repeats):
        for job in jobs:  # interleaved: A B C A B C ...
            cmd = [sys.executable, __file__, "--worker", *job, "--iters", str(args.iters),
                   "--data-dir", args.data_dir, "--seed", str(args.seed)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            samples[job].append(json.loads(out.strip().splitlines()[-1]))
            print(f"  run {r + 1}/{args.repeats} {' '.join(job)}: "
                  f"{samples[job][-1]['seconds']:.2f} s", file=sys.stderr, flush=True)

    d = load(args.data_dir, np.float32)
    n_train, n_test = len(d["x_train"]), len(d["x_test"])
    floors = {dt: blas_floor(args.iters, np.float32 if dt == "float32" else np.float64,
                             n_train, n_test) for dt in dtypes}
    results: dict[str, Any] = {"iters": args.iters, "repeats": args.repeats, "rows": [],
                               "floors": floors}
    median = {job: statistics.median(s["seconds"] for s in samples[job]) for job in jobs}
    print(f"\nThe book's run: {args.iters:,} iterations, batch {BATCH}, lr {LR}; median of "
          f"{args.repeats} (seconds); data {args.data_dir}")
    head = (f"{'loop':<8}{'dtype':<9}{'implementation':<15}{'seconds':>8}{'/numpy':>8}"
            f"{'/torch':>8}{'train':>8}{'test':>8}{'floor%':>8}")
    print(head)
    print("-" * len(head))
    for loop, dt, impl in [(lp, dt, im) for lp in loops for dt in dtypes for im in impls]:
        job = (impl, loop, dt)
        if job not in median:
            continue
        hand = median.get(("numpy", "book", dt))
        torch_t = median.get(("pytorch", loop, dt))
        floor = floors[dt]["as written" if loop == "book" else "minimum"]
        last = samples[job][-1]
        row = {"loop": loop, "dtype": dt, "impl": impl, "seconds": median[job],
               "vs_numpy": median[job] / hand if hand else None,
               "vs_torch": median[job] / torch_t if torch_t else None,
               "train_acc": last["train_acc"], "test_acc": last["test_acc"],
               "floor_fraction": floor / median[job]}
        results["rows"].append(row)
        fmt = (lambda v: f"{v:>8.2f}" if v is not None else f"{'-':>8}")  # noqa: E731
        print(f"{loop:<8}{dt:<9}{impl:<15}{median[job]:>8.2f}{fmt(row['vs_numpy'])}"
              f"{fmt(row['vs_torch'])}{row['train_acc']:>8.4f}{row['test_acc']:>8.4f}"
              f"{100 * row['floor_fraction']:>7.0f}%")
    for dt in dtypes:
        print(f"BLAS floor {dt}: as written {floors[dt]['as written']:.2f} s, "
              f"minimum work {floors[dt]['minimum']:.2f} s")
    book64 = median.get(("numpy", "book", "float64"))
    ex32 = median.get(("tinygrad_edu", "example", "float32"))
    if book64 and ex32:
        print(f"example loop float32 vs the book's float64 run: {book64 / ex32:.2f}x faster")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
