"""Two versions of the library, measured side by side in one run.

For a change that must not slow the engine down: each version runs in its own child
process (``PYTHONPATH`` pointing at its source tree), the two interleaved run by run so
that drifts in machine load hit both alike, and the medians are compared.

* ``overhead``: the per-op chain of ``bench_overhead.py`` (10,000 multiply-adds on tiny
  tensors, gc on), forward plus backward microseconds per op;
* ``mnist``: the two-layer example on MNIST (``--data-dir``), training seconds as the
  example reports them, measured here with a wall clock around the training call.

Run: ``python benchmarks/compare_versions.py OLD_TREE NEW_TREE --data-dir DIR --runs 5``
(a tree is a checkout's root, for example one made with ``git worktree add``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

OVERHEAD = """
import gc, json, time, numpy as np, tinygrad_edu as tg
assert gc.isenabled()
def run(n):
    x = tg.Tensor(np.ones(4), requires_grad=True)
    w = tg.Tensor(np.full(4, 1.000001), requires_grad=True)
    b = tg.Tensor(np.full(4, 1e-6), requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * w + b
    loss = y.sum()
    t1 = time.perf_counter()
    loss.backward()
    return t1 - t0, time.perf_counter() - t1
run(2000)
best = [run(10000) for _ in range(3)]
fwd, bwd = sorted(best, key=sum)[1]
print(json.dumps([fwd / 20000 * 1e6, bwd / 20000 * 1e6]))
"""

MNIST = """
import json, sys, time, runpy
sys.argv = ["two_layer_mnist.py", "--data-dir", {data!r}, "--no-progress"]
ns = runpy.run_path({script!r}, run_name="bench")
t0 = time.perf_counter()
history = ns["main"](sys.argv[1:])
print(json.dumps([time.perf_counter() - t0, history["test_acc"][-1]]))
"""


def _child(tree: str, code: str, blas_threads: int | None = None) -> list[float]:
    env = {**os.environ, "PYTHONPATH": tree}
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(blas_threads)
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX files (else no mnist)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--example-from", default=None, metavar="TREE",
                        help="run this tree's examples/two_layer_mnist.py with both versions "
                             "of the library (default: each tree its own), so that changes "
                             "to the example itself do not count")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="BLAS threads for both versions (1 is far less sensitive to "
                             "other load on the machine; default: BLAS's own choice)")
    args = parser.parse_args(argv)
    trees = {"old": args.old, "new": args.new}
    overhead: dict[str, list[float]] = {k: [] for k in trees}
    mnist: dict[str, list[float]] = {k: [] for k in trees}
    accuracy: dict[str, float] = {}
    for _ in range(args.runs):
        for name, tree in trees.items():
            overhead[name].append(sum(_child(tree, OVERHEAD, args.blas_threads)))
            if args.data_dir:
                script = os.path.join(args.example_from or tree, "examples", "two_layer_mnist.py")
                code = MNIST.format(data=args.data_dir, script=os.path.abspath(script))
                seconds, acc = _child(tree, code, args.blas_threads)
                mnist[name].append(seconds)
                accuracy[name] = acc
    print(f"median of {args.runs} interleaved runs each")
    print(f"{'measure':<28}{'old':>10}{'new':>10}{'new/old':>9}")
    for label, samples in (("per-op overhead (us/op)", overhead),
                           ("MNIST example (s)", mnist)):
        if samples["old"]:
            old, new = statistics.median(samples["old"]), statistics.median(samples["new"])
            print(f"{label:<28}{old:>10.3f}{new:>10.3f}{new / old:>9.3f}")
    for label, samples in (("overhead", overhead), ("mnist", mnist)):
        for name in trees:
            if samples[name]:
                print(f"{label} {name}: " + " ".join(f"{v:.3f}" for v in samples[name]))
    if accuracy:
        print("final test accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items()))


if __name__ == "__main__":
    main()
