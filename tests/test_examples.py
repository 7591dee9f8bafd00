"""The example scripts, run end to end on a small generated IDX data set (and, where it
is installed, briefly on Fashion-MNIST)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tinygrad_edu import serialization
from tinygrad_edu.datasets import MNIST, DatasetNotFoundError, write_idx
from tinygrad_edu.models import TwoLayerNet

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
ROW = re.compile(r"^train acc, test acc \| (0(?:\.\d+)?|1\.0), (0(?:\.\d+)?|1\.0)$")


def _load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_layer() -> ModuleType:
    return _load_example("two_layer_mnist")


@pytest.fixture(scope="module")
def gradient_check() -> ModuleType:
    return _load_example("gradient_check")


@pytest.fixture(scope="module")
def convnet() -> ModuleType:
    return _load_example("simple_convnet_mnist")


def _images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images: class c is a bright band at rows 2c..2c+3, over noise."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28))
    for i, c in enumerate(labels):
        images[i, 2 * c:2 * c + 3, 4:24] = rng.integers(180, 256, size=(3, 20))
    return images.astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four MNIST files, 500 training and 200 test images, written with write_idx."""
    root = tmp_path_factory.mktemp("tiny-mnist")
    rng = np.random.default_rng(0)
    train_labels = rng.integers(0, 10, 500).astype(np.uint8)
    test_labels = rng.integers(0, 10, 200).astype(np.uint8)
    write_idx(root / MNIST.train_images.name, _images(train_labels, rng))
    write_idx(root / MNIST.train_labels.name, train_labels)
    write_idx(root / MNIST.test_images.name, _images(test_labels, rng))
    write_idx(root / MNIST.test_labels.name, test_labels)
    return root


def _rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("train acc")]


def test_two_layer_mnist_end_to_end(two_layer: ModuleType, tiny_mnist: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    weights, curves = tmp_path / "out" / "weights.npz", tmp_path / "curves.png"
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--iters", "50", "--no-progress",
                              "--save", str(weights), "--plot", str(curves)])
    out = capsys.readouterr().out
    rows = _rows(out)
    # 500 images / batch 100 = 5 iterations per epoch: rows at i = 0, 5, ..., 45.
    assert history["eval_iters"] == list(range(0, 50, 5))
    assert len(rows) == 10 and all(ROW.match(r) for r in rows)
    parsed = [tuple(float(v) for v in ROW.match(r).groups()) for r in rows]  # type: ignore[union-attr]
    assert parsed == list(zip(history["train_acc"], history["test_acc"]))
    assert re.search(r"^total time: \d+\.\d s$", out, re.MULTILINE)
    assert out.index("total time") > out.index(rows[-1])
    assert len(history["train_loss"]) == 50 and history["time"] > 0
    # The generated classes are learnable: the net must get well past chance (0.1).
    assert history["test_acc"][-1] > 0.7 and history["test_acc"][0] < 0.4
    assert np.mean(history["train_loss"][-10:]) < np.mean(history["train_loss"][:10])

    state = serialization.load(weights)
    assert list(state) == ["W1", "b1", "W2", "b2"]
    assert state["W1"].shape == (784, 50) and state["W1"].dtype == np.float32
    with np.load(weights, allow_pickle=False) as raw:  # a plain .npz for NumPy too
        np.testing.assert_array_equal(raw["b2"], state["b2"])
    net = TwoLayerNet(784, 50, 10, dtype=np.float32)
    net.load_state_dict(state)
    from tinygrad_edu.datasets import load_mnist
    _, (x_test, t_test) = load_mnist(data_dir=tiny_mnist, download=False)
    # The saved weights are the trained ones (the last row is 4 iterations earlier).
    assert net.accuracy(x_test, t_test) >= history["test_acc"][-1] - 0.1

    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("out/.*.tmp"))  # the atomic save left no temporary


def test_two_layer_mnist_is_reproducible_and_honours_options(
    two_layer: ModuleType, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(tiny_mnist), "--iters", "12", "--no-progress", "--seed", "5"]
    first = two_layer.main(argv)
    second = two_layer.main(argv)
    assert first["train_loss"] == second["train_loss"]
    assert first["test_acc"] == second["test_acc"]
    other_seed = two_layer.main(argv[:-1] + ["6"])
    assert other_seed["train_loss"] != first["train_loss"]

    history = two_layer.main(["--data-dir", str(tiny_mnist), "--iters", "30", "--no-progress",
                              "--optimizer", "adam", "--lr", "0.01", "--dtype", "float64",
                              "--batch-size", "50", "--eval-every", "10", "--hidden-size", "8"])
    assert history["eval_iters"] == [0, 10, 20]
    assert np.mean(history["train_loss"][-5:]) < np.mean(history["train_loss"][:5])
    capsys.readouterr()


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_every_optimizer_option_trains(two_layer: ModuleType, tiny_mnist: Path,
                                       name: str, capsys: pytest.CaptureFixture[str]) -> None:
    lr = {"sgd": "0.1", "momentum": "0.05", "adagrad": "0.05", "rmsprop": "0.002",
          "adam": "0.002"}[name]
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--iters", "40", "--lr", lr,
                              "--optimizer", name, "--no-progress", "--eval-every", "39"])
    assert history["test_acc"][-1] > 0.5, name
    capsys.readouterr()


def test_progress_bar_goes_to_stderr(two_layer: ModuleType, tiny_mnist: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    two_layer.main(["--data-dir", str(tiny_mnist), "--iters", "10"])
    captured = capsys.readouterr()
    assert re.search(r"\d+/10 \[", captured.err)  # the bar, e.g. " 50%|#####  | 5/10 ["
    assert len(_rows(captured.out)) == 2 and "/10 [" not in captured.out


def test_runs_without_tqdm(two_layer: ModuleType, tiny_mnist: Path,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--iters", "10"])
    captured = capsys.readouterr()
    assert len(history["train_acc"]) == 2 and captured.err == ""


@pytest.mark.parametrize(("example", "argv"), [
    ("two_layer_mnist", ["--iters", "5", "--plot"]),
    ("simple_convnet_mnist", ["--epochs", "1", "--plot"]),
    ("simple_convnet_mnist", ["--epochs", "1", "--filters"]),
])
def test_plot_without_matplotlib_names_the_extra(example: str, argv: list[str],
                                                 tiny_mnist: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_example(example)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SystemExit, match=r"tinygrad-edu\[examples\]"):
        module.main(["--data-dir", str(tiny_mnist), "--no-progress", *argv,
                     str(tmp_path / "c.png")])
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("argv", [["--iters", "0"], ["--batch-size", "-1"],
                                  ["--optimizer", "lbfgs"], ["--dtype", "float16"],
                                  ["--eval-every", "0"]])
def test_bad_arguments_exit(two_layer: ModuleType, argv: list[str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        two_layer.main(argv)
    assert "error" in capsys.readouterr().err


def test_gradient_check_table(gradient_check: ModuleType, tiny_mnist: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    diffs = gradient_check.main(["--data-dir", str(tiny_mnist), "--hidden-size", "4"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["W1", "b1", "W2", "b2"]
    for line, (key, diff) in zip(lines, diffs.items()):
        assert line == f"{key}:{diff}"
        assert 0 <= diff < 1e-8, key  # the book reports 1e-10 .. 1e-7


@pytest.mark.skipif(not FASHION_DIR.is_dir(),
                    reason=f"Fashion-MNIST is not installed at {FASHION_DIR}")
def test_short_fashion_mnist_run_learns(two_layer: ModuleType,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    history = two_layer.main(["--dataset", "fashion-mnist", "--data-dir", str(FASHION_DIR),
                              "--iters", "300", "--eval-every", "100", "--no-progress"])
    assert history["eval_iters"] == [0, 100, 200]
    assert history["test_acc"][-1] > 0.6
    assert len(_rows(capsys.readouterr().out)) == 3


def test_train_is_the_book_loop(two_layer: ModuleType,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """With SGD, the example's loop makes exactly the book's updates on the same batches."""
    rng = np.random.default_rng(0)
    x, t = rng.random((80, 12)), rng.integers(0, 3, 80)
    x_test, t_test = rng.random((20, 12)), rng.integers(0, 3, 20)
    initial = {"W1": 0.1 * rng.standard_normal((12, 6)), "b1": np.zeros(6),
               "W2": 0.1 * rng.standard_normal((6, 3)), "b2": np.zeros(3)}
    history = two_layer.train(x, t, x_test, t_test, iters=25, batch_size=10, lr=0.2,
                              hidden_size=6, initial=initial,
                              sampler=np.random.default_rng(1), progress=False, verbose=False)
    assert capsys.readouterr().out == ""
    assert history["eval_iters"] == [0, 8, 16, 24]

    book_net = TwoLayerNet(12, 6, 3)
    book_net.load_state_dict(initial)
    batch_rng = np.random.default_rng(1)
    for _ in range(25):
        batch_mask = batch_rng.choice(80, 10)
        grad = book_net.gradient(x[batch_mask], t[batch_mask])
        for key in ("W1", "b1", "W2", "b2"):
            book_net.params[key] -= 0.2 * grad[key]
    for key, value in history["network"].params.items():
        np.testing.assert_array_equal(value, book_net.params[key])
    assert history["test_acc"][-1] == book_net.accuracy(x_test, t_test)


@pytest.mark.parametrize("example", ["two_layer_mnist", "gradient_check",
                                     "simple_convnet_mnist"])
def test_missing_data_exits_with_the_loaders_message(example: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load_example(example)

    def unavailable(*args: object, **kwargs: object) -> None:
        raise DatasetNotFoundError("MNIST: 4 of 4 files not found")

    monkeypatch.setitem(module.LOADERS, "mnist", unavailable)
    hint = r"4 of 4 files not found\nPass --data-dir DIR \(a directory with the four IDX files\)"
    with pytest.raises(SystemExit, match=hint + ", or set TINYGRAD_EDU_DATA"):
        module.main(["--iters", "1"] if example == "two_layer_mnist" else [])


# ---------------------------------------------------------------------------- SimpleConvNet

EPOCH_ROW = re.compile(r"^=== epoch:(\d+), train acc:(0(?:\.\d+)?|1\.0), "
                       r"test acc:(0(?:\.\d+)?|1\.0) ===$")


def test_simple_convnet_mnist_end_to_end(convnet: ModuleType, tiny_mnist: Path,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    weights, curves = tmp_path / "out" / "convnet.npz", tmp_path / "curves.png"
    filters = tmp_path / "filters.png"
    history = convnet.main(["--data-dir", str(tiny_mnist), "--epochs", "4", "--no-progress",
                            "--lr", "0.005", "--save", str(weights), "--plot", str(curves),
                            "--filters", str(filters)])
    lines = capsys.readouterr().out.splitlines()
    # 500 images / batch 100: 5 iterations per epoch, a row after each epoch's first.
    rows = [EPOCH_ROW.match(line) for line in lines[:4]]
    assert all(rows) and [int(r.group(1)) for r in rows] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert [(float(r.group(2)), float(r.group(3))) for r in rows] == list(  # type: ignore[union-attr]
        zip(history["train_acc"], history["test_acc"]))
    assert lines[4] == "=============== Final Test Accuracy ==============="
    assert lines[5] == f"test acc:{history['final_test_acc']}"
    assert re.fullmatch(r"total time: \d+\.\d s", lines[6])
    assert len(history["train_loss"]) == 20
    # The generated classes are learnable: well past chance (0.1) after 20 steps.
    assert history["final_test_acc"] > 0.7 and history["test_acc"][0] < 0.6
    assert np.mean(history["train_loss"][-5:]) < np.mean(history["train_loss"][:5])

    state = serialization.load(weights)
    assert list(state) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert state["W1"].shape == (30, 1, 5, 5) and state["W1"].dtype == np.float32
    np.testing.assert_array_equal(state["W1"], history["network"].params["W1"])
    assert not np.array_equal(history["filters_before"], state["W1"])
    for png in (curves, filters):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simple_convnet_mnist_is_reproducible(convnet: ModuleType, tiny_mnist: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data-dir", str(tiny_mnist), "--epochs", "1", "--no-progress", "--seed", "3",
            "--batch-size", "50", "--dtype", "float64"]
    first, second = convnet.main(argv), convnet.main(argv)
    assert first["train_loss"] == second["train_loss"] and len(first["train_loss"]) == 10
    assert first["network"].params["W1"].dtype == np.float64
    other_seed = [("4" if a == "3" else a) for a in argv]
    assert convnet.main(other_seed)["train_loss"] != first["train_loss"]
    capsys.readouterr()


def test_simple_convnet_progress_bar_goes_to_stderr(convnet: ModuleType, tiny_mnist: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    convnet.main(["--data-dir", str(tiny_mnist), "--epochs", "1"])
    captured = capsys.readouterr()
    assert re.search(r"\d+/5 \[", captured.err)
    assert EPOCH_ROW.match(captured.out.splitlines()[0]) and "/5 [" not in captured.out


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--batch-size", "-1"], ["--lr", "0"],
                                  ["--dtype", "float16"], ["--dataset", "cifar"]])
def test_simple_convnet_bad_arguments_exit(convnet: ModuleType, argv: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        convnet.main(argv)
    assert "error" in capsys.readouterr().err
