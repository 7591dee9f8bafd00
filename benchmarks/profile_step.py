"""Where a training step's time goes: the book's loop split into phases, and cProfile.

Prints, for tinygrad_edu's TwoLayerNet and the hand-written NumPy network side by side,
the microseconds per iteration spent drawing the batch, in ``gradient``, in the update,
in the extra ``loss`` forward and (amortised) in the per-epoch evaluation; then the
functions where tinygrad_edu spends its own time, from cProfile.

Run: ``python benchmarks/profile_step.py --dtype float32`` (the data comes from an
MNIST-format directory, Fashion-MNIST from the Debian package by default).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_mnist import BATCH, DEFAULT_DATA, HIDDEN, LR, load  # noqa: E402
from book_numpy import HandWrittenTwoLayerNet  # noqa: E402

from tinygrad_edu.models import TwoLayerNet  # noqa: E402

PHASES = ("batch", "gradient", "update", "loss", "evaluation")


def phases(net: Any, d: dict[str, np.ndarray], iters: int) -> dict[str, float]:
    """Microseconds per iteration in each phase of the book's loop."""
    rng = np.random.default_rng(1)
    x, t = d["x_train"], d["onehot_train"]
    per_epoch = max(len(x) // BATCH, 1)
    spent = dict.fromkeys(PHASES, 0.0)
    for i in range(iters):
        t0 = time.perf_counter()
        mask = rng.choice(len(x), BATCH)
        xb, tb = x[mask], t[mask]
        t1 = time.perf_counter()
        grad = net.gradient(xb, tb)
        t2 = time.perf_counter()
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= LR * grad[key]
        t3 = time.perf_counter()
        net.loss(xb, tb)
        t4 = time.perf_counter()
        if i % per_epoch == 0:
            net.accuracy(x, d["t_train"])
            net.accuracy(d["x_test"], d["t_test"])
        t5 = time.perf_counter()
        for key, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[key] += dt
    return {k: v / iters * 1e6 for k, v in spent.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    d = load(args.data_dir, dtype)

    print(f"The book's loop, {args.dtype}, us per iteration (best of 2 runs each)")
    print(f"{'implementation':<16}" + "".join(f"{p:>12}" for p in PHASES) + f"{'total':>10}")
    for name, make in (("numpy", lambda: HandWrittenTwoLayerNet(784, HIDDEN, 10, dtype=dtype)),
                       ("tinygrad_edu", lambda: TwoLayerNet(784, HIDDEN, 10, rng=0,
                                                             dtype=dtype))):
        runs = [phases(make(), d, args.iters) for _ in range(2)]
        best = min(runs, key=lambda r: sum(r.values()))
        print(f"{name:<16}" + "".join(f"{best[p]:>12.1f}" for p in PHASES)
              + f"{sum(best.values()):>10.1f}")

    net = TwoLayerNet(784, HIDDEN, 10, rng=0, dtype=dtype)
    profiler = cProfile.Profile()
    profiler.enable()
    phases(net, d, args.iters)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(f"\ncProfile of tinygrad_edu's loop, top {args.top} by own time:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


if __name__ == "__main__":
    main()
