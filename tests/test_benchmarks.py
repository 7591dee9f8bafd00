"""The benchmark scripts run, and their contenders compute the same training run.

Timings are never asserted; what is checked is that the hand-written NumPy network
and tinygrad_edu (book loop and example loop), started from the same weights on the
same batches, end at the same accuracies.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.datasets import write_idx

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A small learnable MNIST-format set: each class lights its own block of pixels."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 600), ("t10k", 200)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label:2 * label + 3, :] = 250
        write_idx(root / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_contenders_reach_identical_accuracies(data_dir: Path, dtype: type) -> None:
    bench = _module("bench_mnist")
    d = bench.load(str(data_dir), dtype)
    iters = 13  # two evaluations: at 0 and at 6 iterations per "epoch" of 600 / 100
    hand = bench.run_handwritten(d, iters, "book", dtype, seed=3)
    ours_seed = bench.run_tinygrad(d, iters, "book", dtype, seed=3)
    ours_example = bench.run_tinygrad(d, iters, "example", dtype, seed=3)
    assert hand == ours_seed == ours_example
    assert hand[1] > 0.3  # above chance (0.1): the run learned, so the comparison means something


def test_overhead_contenders_compute_the_same_gradients() -> None:
    # The per-op table compares the timings of two computations; they must be the same
    # computation: the chain's gradients for x, w and b, by autograd and by hand.
    bench = _module("bench_overhead")
    ours, hand = bench.chain_tinygrad(200), bench.chain_numpy(200)
    w = 1.000001
    assert ours.grads[0] == pytest.approx(np.full(4, w ** 200), rel=1e-12)  # d/dx = w^n
    assert ours.grads[2] == pytest.approx(np.full(4, sum(w ** k for k in range(200))),
                                          rel=1e-12)  # d/db = 1 + w + ... + w^(n-1)
    for a, b in zip(ours.grads, hand.grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_the_depth_chain_refuses_to_time_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    bench = _module("bench_overhead")
    bench.depth_chain(500)  # the right gradient passes its check

    def off_by_a_little(self: tg.Tensor, c: float) -> tg.Tensor:
        # The product with its derivative 0.1 % too large.
        return tg.make_op(self.data * c, (self,), lambda g: (g * (c * 1.001),), "mul")

    monkeypatch.setattr(tg.Tensor, "__mul__", off_by_a_little)
    with pytest.raises(AssertionError, match="depth 500: gradient"):
        bench.depth_chain(500)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_convnet_contenders_compute_the_same_training_run(data_dir: Path, dtype: type) -> None:
    bench = _module("bench_convnet")
    x, t = bench.images(str(data_dir), dtype)
    assert x.shape == (600, 1, 28, 28) and x.dtype == dtype
    impls = ["tinygrad_edu", "book"]
    if importlib.util.find_spec("torch") is not None:
        impls.append("pytorch")
    losses = {}
    for impl in impls:
        result = bench.run(impl, x, t, dtype, steps=2, warmup=2, seed=4, trace=True)
        assert result["seconds"] > 0 and result["peak_bytes"] >= 0
        losses[impl] = result["loss"]
    # Same weights, same batches, same Adam: the same loss after four steps (the book's
    # loss adds 1e-7 inside its log).
    for impl in impls:
        assert losses[impl] == pytest.approx(losses["book"], rel=1e-5), impl


def test_convnet_benchmark_table_runs(data_dir: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    bench = _module("bench_convnet")
    results = bench.main(["--data-dir", str(data_dir), "--steps", "1", "--warmup", "0",
                          "--repeats", "1", "--dtypes", "float32", "--threads", "1",
                          "--impls", "tinygrad_edu,book"])
    out = capsys.readouterr().out
    assert [row["impl"] for row in results["rows"]] == ["tinygrad_edu", "book"]
    assert "float32: tinygrad_edu / book = " in out
    book = results["rows"][1]
    assert book["vs_book"] == 1.0 and book["peak_mib"] > 0


def test_blas_threads_benchmark_pieces(data_dir: Path) -> None:
    """Its busy loops end by themselves, a run reports the threads it used, and the
    summary divides by the idle default (the benchmark itself is run on an idle machine)."""
    import subprocess

    bench = _module("bench_blas_threads")
    loop = subprocess.Popen([sys.executable, "-c", bench.BUSY_LOOP, "0.2"])
    assert loop.wait(timeout=30) == 0
    pytest.importorskip("threadpoolctl")
    result = bench.run_once("1", 3, "mnist", str(data_dir), verify=False)
    assert result["threads"] == 1 and result["time"] > 0
    assert result["reason"] == "1 (--blas-threads 1)"
    times = {(c, s): [t] for (c, s), t in zip(
        [(c, s) for c in bench.CONDITIONS for s in bench.SETTINGS],
        [2.0, 2.5, 2.04, 50.0, 3.0, 3.2])}
    lines, targets = bench.summarize(times, dict.fromkeys(times, 1))
    assert lines[2] == "| idle | default | 1 | 2.00 | 1.00 |"
    assert targets["loaded_rule_over_idle_default"] == pytest.approx(1.6)
    assert targets["loaded_target_met"] and targets["idle_target_met"]
