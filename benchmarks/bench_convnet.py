"""SimpleConvNet's training step, timed side by side: tinygrad_edu, the book's NumPy
algorithm, PyTorch.

The network and the step are the book's chapter 7: conv (30 filters 5x5) - ReLU -
2x2 max pool - affine 4320 -> 100 - ReLU - affine 100 -> 10 - softmax cross-entropy;
a batch of 100 images drawn with replacement, the gradient (forward and backward),
and the book's Adam update (lr 0.001). The book's Trainer also runs a second forward
pass after each update, to record the loss; no contender does that here.

* ``tinygrad_edu``: SimpleConvNet and optim.Adam, the loop of
  ``examples/simple_convnet_mnist.py``;
* ``book``: ``benchmarks/book_convnet_numpy.py``, the book's algorithm as
  written (6-D im2col, col2im, pooling through im2col, every backward including the
  first convolution's input gradient);
* ``pytorch``: the same network with ``torch.nn.functional`` and the book's Adam in
  torch's in-place ops, when torch is installed.

Every contender starts from the same weights (0.01 * randn, zero biases) and draws the
same batches, so all compute the same numbers: the table's last column, the loss of
the last step, shows it. Each (contender, dtype) runs in its own child process,
interleaved A B C A B C; the table shows the median over ``--repeats`` of the mean
step time. Memory: "peak MiB" is tracemalloc's peak during a few steps above what the
process held before the first one (weights, optimizer state and every temporary of a
step; NumPy reports its arrays to tracemalloc, PyTorch's allocator does not), measured
in a separate run because tracing slows Python down; "max RSS" is the process's peak
resident memory (data set and libraries included).

Run: ``python benchmarks/bench_convnet.py --data-dir /work/mnist/package/data``
(``--steps 20 --repeats 1`` for a quick look; ``--threads 1`` on a busy machine, where
two BLAS threads wait on each other; ``--json PATH`` saves the results, ``--plot PATH``
draws them). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_mnist import DEFAULT_DATA, load  # noqa: E402

BATCH, LR, HIDDEN, FILTERS, SIZE = 100, 0.001, 100, 30, 5
DTYPES = {"float32": np.float32, "float64": np.float64}
Step = Callable[[np.ndarray, np.ndarray], float]


def images(data_dir: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """The training images as (N, 1, 28, 28) in ``dtype`` and their labels."""
    d = load(data_dir, dtype)
    return d["x_train"].reshape(-1, 1, 28, 28), d["t_train"]


def initial_weights(dtype: type, seed: int) -> dict[str, np.ndarray]:
    """The book's initialisation (0.01 * randn, zero biases), the same for everyone."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (FILTERS, 1, SIZE, SIZE), "W2": (FILTERS * 12 * 12, HIDDEN),
              "W3": (HIDDEN, 10)}
    weights = {}
    for key, bias in (("W1", "b1"), ("W2", "b2"), ("W3", "b3")):
        weights[key] = (0.01 * rng.standard_normal(shapes[key])).astype(dtype)
        weights[bias] = np.zeros(shapes[key][0] if key == "W1" else shapes[key][1], dtype)
    return weights


# ---------------------------------------------------------------------------- contenders
# Each builds its network on the given weights and returns one training step.


def make_tinygrad(weights: dict[str, np.ndarray], dtype: type) -> Step:
    from tinygrad_edu.models import SimpleConvNet
    from tinygrad_edu.optim import Adam

    net = SimpleConvNet(dtype=dtype, rng=0)
    for key, value in weights.items():
        net.params[key][...] = value
    opt = Adam(net.parameters(), lr=LR)
    criterion = net.lastLayer

    def step(x: np.ndarray, t: np.ndarray) -> float:
        opt.zero_grad()
        loss = criterion(net(x), t)
        loss.backward()
        opt.step()
        return float(loss.data)

    return step


def make_book(weights: dict[str, np.ndarray], dtype: type) -> Step:
    from book_convnet_numpy import Adam, BookSimpleConvNet

    net = BookSimpleConvNet({key: value.copy() for key, value in weights.items()})
    opt = Adam(lr=LR)

    def step(x: np.ndarray, t: np.ndarray) -> float:
        opt.update(net.params, net.gradient(x, t))
        return net.last_layer.loss

    return step


def make_torch(weights: dict[str, np.ndarray], dtype: type) -> Step:
    import torch
    import torch.nn.functional as tf

    if os.environ.get("OMP_NUM_THREADS"):  # set by --threads
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    p = {key: torch.from_numpy(value.copy()).requires_grad_() for key, value in weights.items()}
    state = {key: (torch.zeros_like(v), torch.zeros_like(v)) for key, v in p.items()}
    counter = [0]

    def step(x: np.ndarray, t: np.ndarray) -> float:
        h = tf.max_pool2d(tf.relu(tf.conv2d(torch.from_numpy(x), p["W1"], p["b1"])), 2)
        h = tf.relu(h.reshape(len(x), -1) @ p["W2"] + p["b2"])
        loss = tf.cross_entropy(h @ p["W3"] + p["b3"], torch.from_numpy(t))
        loss.backward()
        counter[0] += 1
        lr_t = LR * (1.0 - 0.999 ** counter[0]) ** 0.5 / (1.0 - 0.9 ** counter[0])
        with torch.no_grad():  # the book's Adam
            for key, v in p.items():
                m, s = state[key]
                m.lerp_(v.grad, 0.1)
                s.lerp_(v.grad * v.grad, 0.001)
                v.addcdiv_(m, s.sqrt().add_(1e-7), value=-lr_t)
                v.grad = None
        return loss.item()

    return step


CONTENDERS = {"tinygrad_edu": make_tinygrad, "book": make_book, "pytorch": make_torch}
NAMES = {"tinygrad_edu": "tinygrad_edu", "book": "book's NumPy", "pytorch": "PyTorch"}


def run(impl: str, x: np.ndarray, t: np.ndarray, dtype: type, steps: int, warmup: int,
        seed: int, trace: bool = False) -> dict[str, float]:
    """``warmup`` then ``steps`` training steps of one contender on the same seeded batches.
    Returns the mean seconds per timed step and the last loss (and with ``trace``,
    tracemalloc's peak above the memory held before the first step)."""
    if trace:
        tracemalloc.start()
    step = CONTENDERS[impl](initial_weights(dtype, seed), dtype)
    rng = np.random.default_rng(seed + 1)
    base = tracemalloc.get_traced_memory()[0] if trace else 0
    seconds, loss = 0.0, float("nan")
    for i in range(warmup + steps):
        mask = rng.choice(len(x), BATCH)
        start = time.perf_counter()
        loss = step(x[mask], t[mask])
        if i >= warmup:
            seconds += time.perf_counter() - start
    result = {"seconds": seconds / max(steps, 1), "loss": loss}
    if trace:
        result["peak_bytes"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return result


def worker(impl: str, dtype_name: str, args: argparse.Namespace) -> None:
    dtype = DTYPES[dtype_name]
    x, t = images(args.data_dir, dtype)
    if args.memory:
        result = run(impl, x, t, dtype, steps=3, warmup=0, seed=args.seed, trace=True)
    else:
        result = run(impl, x, t, dtype, args.steps, args.warmup, args.seed)
        # ru_maxrss is in KiB on Linux.
        result["maxrss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


# ---------------------------------------------------------------------------- driver


def _child(job: tuple[str, str], args: argparse.Namespace, memory: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", *job, "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--data-dir", args.data_dir, "--seed", str(args.seed)]
    env = dict(os.environ)
    if args.threads:  # read by OpenBLAS when NumPy loads, and by make_torch
        env.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd + (["--memory"] if memory else []), check=True,
                         capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def plot(results: dict[str, Any], path: Path) -> None:
    """Milliseconds per step, one group of bars per dtype (needs matplotlib)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    impls = list(dict.fromkeys(row["impl"] for row in results["rows"]))
    width = 0.8 / len(impls)
    for k, impl in enumerate(impls):
        rows = [r for r in results["rows"] if r["impl"] == impl]
        xs = [list(DTYPES).index(r["dtype"]) + k * width for r in rows]
        bars = ax.bar(xs, [1e3 * r["seconds"] for r in rows], width, label=NAMES[impl])
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks([i + width * (len(impls) - 1) / 2 for i in range(len(DTYPES))], list(DTYPES))
    threads = results.get("threads") or "each library's default"
    ax.set_ylabel("ms per training step")
    ax.set_title(f"SimpleConvNet training step (batch {BATCH}, Adam)\nmedian of "
                 f"{results['repeats']} runs of {results['steps']} steps; threads: {threads}",
                 fontsize=10)
    ax.margins(y=0.2)
    ax.legend(loc="upper center", ncols=len(impls), frameon=False)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="an MNIST-format directory")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per run (100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (5)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--impls", default="tinygrad_edu,book,pytorch",
                        help="contenders (pytorch is skipped when torch is not installed)")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: each library's own)")
    parser.add_argument("--json", type=Path, help="save the results here")
    parser.add_argument("--plot", type=Path, help="save a bar chart here (matplotlib)")
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "DTYPE"), help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, args)
        return {}

    impls = args.impls.split(",")
    if "pytorch" in impls and importlib.util.find_spec("torch") is None:
        impls.remove("pytorch")
    dtypes = args.dtypes.split(",")
    jobs = [(impl, dt) for dt in dtypes for impl in impls]
    samples: dict[tuple[str, str], list[dict[str, float]]] = {job: [] for job in jobs}
    for r in range(args.repeats):
        for job in jobs:  # interleaved: A B C A B C ...
            samples[job].append(_child(job, args, memory=False))
            print(f"  run {r + 1}/{args.repeats} {' '.join(job)}: "
                  f"{1e3 * samples[job][-1]['seconds']:.1f} ms/step", file=sys.stderr,
                  flush=True)
    memory = {job: _child(job, args, memory=True) for job in jobs}

    median = {job: statistics.median(s["seconds"] for s in samples[job]) for job in jobs}
    results: dict[str, Any] = {"steps": args.steps, "repeats": args.repeats,
                               "threads": args.threads, "rows": []}
    print(f"\nSimpleConvNet training step: batch {BATCH}, Adam lr {LR}; {args.steps} steps "
          f"after {args.warmup}, median of {args.repeats}; data {args.data_dir}")
    head = (f"{'dtype':<9}{'implementation':<15}{'ms/step':>9}{'/book':>8}{'/torch':>8}"
            f"{'peak MiB':>10}{'max RSS':>9}{'last loss':>11}")
    print(head)
    print("-" * len(head))
    for job in jobs:
        impl, dt = job
        book, torch_t = median.get(("book", dt)), median.get(("pytorch", dt))
        peak = memory[job].get("peak_bytes") if impl != "pytorch" else None
        row = {"impl": impl, "dtype": dt, "seconds": median[job],
               "vs_book": median[job] / book if book else None,
               "vs_torch": median[job] / torch_t if torch_t else None,
               "peak_mib": peak / 2**20 if peak is not None else None,
               "maxrss_mib": samples[job][-1]["maxrss_bytes"] / 2**20,
               "loss": samples[job][-1]["loss"]}
        results["rows"].append(row)
        fmt = (lambda v, w=8: f"{v:>{w}.2f}" if v is not None else f"{'-':>{w}}")  # noqa: E731
        print(f"{dt:<9}{NAMES[impl]:<15}{1e3 * median[job]:>9.2f}{fmt(row['vs_book'])}"
              f"{fmt(row['vs_torch'])}{fmt(row['peak_mib'], 10)}{row['maxrss_mib']:>9.0f}"
              f"{row['loss']:>11.6f}")
    for dt in dtypes:
        ours, book = median.get(("tinygrad_edu", dt)), median.get(("book", dt))
        torch_t = median.get(("pytorch", dt))
        if not (ours and book):
            continue
        line = f"{dt}: tinygrad_edu / book = {ours / book:.2f} (target <= 0.5)"
        if torch_t:
            line += f", / PyTorch = {ours / torch_t:.2f} (stretch <= 2)"
        print(line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.plot:
        plot(results, args.plot)
    return results


if __name__ == "__main__":
    main()
