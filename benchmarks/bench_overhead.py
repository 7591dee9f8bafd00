"""Per-op overhead of the engine, and backward time against graph depth.

Two measurements, garbage collector on (as users run):

1. A chain of 10,000 multiply-adds on tiny tensors, ``y = y * w + b`` with ``w`` and
   ``b`` leaves that require grad: forward and backward time per op (20,000 ops), the
   median of several runs. The same chain is timed with NumPy alone (forward plus a
   hand-written backward) and, when it is installed, with PyTorch.
2. Chains of 1e4, 1e5 and 1e6 ops: forward and backward seconds and the cost per op,
   which stays flat when the walk is linear in depth.

Run: ``python benchmarks/bench_overhead.py`` (``--quick`` for fewer repeats and no 1e6
chain). Numbers are printed, never asserted: this machine is noisy, so compare ratios
taken in one run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

import tinygrad_edu as tg

SHAPE = (4,)


class ChainRun(NamedTuple):
    """One timed chain: forward and backward seconds, and the gradients it computed
    (of ``y.sum()`` with respect to x, w and b), so that contenders can be compared."""

    forward: float
    backward: float
    grads: tuple[np.ndarray, ...]


def chain_tinygrad(n: int) -> ChainRun:
    """Seconds for forward and backward of n multiply-adds (2n ops)."""
    x = tg.Tensor(np.ones(SHAPE), requires_grad=True)
    w = tg.Tensor(np.full(SHAPE, 1.000001), requires_grad=True)
    b = tg.Tensor(np.full(SHAPE, 1e-6), requires_grad=True)
    fwd, bwd = _timed_chain(x, w, b, n)
    return ChainRun(fwd, bwd, (x.grad.data, w.grad.data, b.grad.data))


def _timed_chain(x: Any, w: Any, b: Any, n: int) -> tuple[float, float]:
    """Seconds for the forward and the backward of ``y = y * w + b``, n times, from x;
    any framework whose tensors have ``*``, ``+``, ``sum()`` and ``backward()``."""
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * w + b
    loss = y.sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def chain_numpy(n: int) -> ChainRun:
    """The same chain on bare arrays, with its backward written by hand."""
    x = np.ones(SHAPE)
    w = np.full(SHAPE, 1.000001)
    b = np.full(SHAPE, 1e-6)
    t0 = time.perf_counter()
    ys = [x]
    y = x
    for _ in range(n):
        y = y * w + b
        ys.append(y)
    t1 = time.perf_counter()
    g = np.ones(SHAPE)
    gw = np.zeros(SHAPE)
    gb = np.zeros(SHAPE)
    for k in range(n, 0, -1):
        gb = gb + g            # d(u + b)/db
        gw = gw + g * ys[k - 1]  # d(y * w)/dw
        g = g * w              # d(y * w)/dy
    t2 = time.perf_counter()
    return ChainRun(t1 - t0, t2 - t1, (g, gw, gb))


def chain_torch(n: int) -> tuple[float, float]:
    """The chain in PyTorch, in a child process.

    Importing torch adds about 170,000 objects that Python's garbage collector tracks,
    and every full collection then walks them all: timed in this process, the
    tinygrad_edu forward pass would pay for torch's import. A child keeps the heaps apart.
    """
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import bench_overhead as b; "
        "print(json.dumps(b._torch_chain(int(sys.argv[2]))))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(n)],
                         check=True, capture_output=True, text=True).stdout
    fwd, bwd = json.loads(out)
    return fwd, bwd


def _torch_chain(n: int) -> tuple[float, float]:
    import torch

    torch.set_num_threads(2)
    _one_torch_chain(torch, n)  # warm up: the first chain pays for lazy initialisation

    return _one_torch_chain(torch, n)


def _one_torch_chain(torch: object, n: int) -> tuple[float, float]:
    x = torch.ones(SHAPE, dtype=torch.float64, requires_grad=True)  # type: ignore[attr-defined]
    w = torch.full(SHAPE, 1.000001, dtype=torch.float64, requires_grad=True)  # type: ignore[attr-defined]
    b = torch.full(SHAPE, 1e-6, dtype=torch.float64, requires_grad=True)  # type: ignore[attr-defined]
    return _timed_chain(x, w, b, n)


def median_times(fn: Callable[[int], tuple[Any, ...]], n: int, repeats: int
                 ) -> tuple[float, float]:
    runs = [fn(n) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def depth_chain(n: int) -> tuple[float, float]:
    """n ops of ``y = y * c`` on a 0-d tensor; returns forward and backward seconds."""
    x = tg.Tensor(1.0, requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.0000001
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    expected = 1.0000001 ** n
    if not np.isclose(float(x.grad), expected, rtol=1e-6):
        raise AssertionError(f"depth {n}: gradient {float(x.grad)} != {expected}")
    return t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 1e6 chain")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    assert gc.isenabled(), "measure with the garbage collector on"

    n = 10_000
    ops = 2 * n
    rows: list[tuple[str, float, float]] = []
    impls: list[tuple[str, Callable[[int], tuple[Any, ...]]]] = [
        ("tinygrad_edu", chain_tinygrad), ("numpy (by hand)", chain_numpy)]
    if importlib.util.find_spec("torch") is not None:
        impls.append(("pytorch (child proc)", chain_torch))
    # Interleave implementations so drifts in machine load hit them alike.
    samples: dict[str, list[tuple[Any, ...]]] = {name: [] for name, _ in impls}
    for _ in range(repeats):
        for name, fn in impls:
            samples[name].append(fn(n))
    for name, _ in impls:
        fwd = statistics.median(s[0] for s in samples[name]) / ops * 1e6
        bwd = statistics.median(s[1] for s in samples[name]) / ops * 1e6
        rows.append((name, fwd, bwd))

    print(f"Per-op cost, chain of {n:,} multiply-adds on shape {SHAPE}, gc on, "
          f"median of {repeats}")
    print(f"{'implementation':<22}{'fwd us/op':>11}{'bwd us/op':>11}{'total':>9}{'ratio':>8}")
    ours = rows[0][1] + rows[0][2]
    for name, fwd, bwd in rows:
        print(f"{name:<22}{fwd:>11.2f}{bwd:>11.2f}{fwd + bwd:>9.2f}{(fwd + bwd) / ours:>8.2f}")

    print("\nDepth: y = y * c on a 0-d tensor (tinygrad_edu), gc on")
    print(f"{'ops':>10}{'fwd s':>9}{'bwd s':>9}{'fwd us/op':>11}{'bwd us/op':>11}")
    depths = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    for depth in depths:
        fwd, bwd = median_times(depth_chain, depth, 1 if depth >= 1_000_000 else 3)
        print(f"{depth:>10,}{fwd:>9.3f}{bwd:>9.3f}{fwd / depth * 1e6:>11.2f}"
              f"{bwd / depth * 1e6:>11.2f}")


if __name__ == "__main__":
    main()
