"""Bar chart of a ``bench_mnist.py --json`` result: seconds per implementation and loop.

Run: ``python benchmarks/plot_mnist.py results.json docs/performance.png``
(needs matplotlib, from the ``examples`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLORS = {"tinygrad_edu": "#1f77b4", "numpy": "#7f7f7f", "pytorch": "#ee4c2c"}


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    groups = sorted({(r["loop"], r["dtype"]) for r in rows},
                    key=lambda g: (g[0] != "book", g[1] != "float64"))
    impls = [i for i in COLORS if any(r["impl"] == i for r in rows)]
    width = 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for k, impl in enumerate(impls):
        xs, ys = [], []
        for g, (loop, dtype) in enumerate(groups):
            for r in rows:
                if (r["loop"], r["dtype"], r["impl"]) == (loop, dtype, impl):
                    xs.append(g + (k - (len(impls) - 1) / 2) * width)
                    ys.append(r["seconds"])
        bars = ax.bar(xs, ys, width=width, color=COLORS[impl], label=impl)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    for g, (loop, dtype) in enumerate(groups):
        kind = "as written" if loop == "book" else "minimum"
        floor = results["floors"][dtype][kind]
        ax.hlines(floor, g - 0.45, g + 0.45, colors="black", linestyles="dashed",
                  label="BLAS floor" if g == 0 else None)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{loop} loop\n{dtype}" for loop, dtype in groups])
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"The book's run, {results['iters']:,} iterations (lower is better)")
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    plot(json.loads(args.results.read_text()), args.out)


if __name__ == "__main__":
    main()
