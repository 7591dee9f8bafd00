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
from tinygrad_edu.datasets import MNIST, DatasetNotFoundError, load_mnist, write_idx
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


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root of the test's own: the record of verified files goes there."""
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    return tmp_path / "root"


@pytest.fixture(scope="module")
def two_layer() -> ModuleType:
    return _load_example("two_layer_mnist")


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples see an idle machine: the BLAS rule then keeps the library's thread
    count in every run, so that runs compared with each other (a resumed run with the
    whole one) compute alike on a busy test machine too. The rule itself is tested
    below, on given loads."""
    cli = _load_example("two_layer_mnist").cli
    monkeypatch.setattr(cli.LoadProbe, "busy_cores", lambda self, min_window=0.1: 0.0)


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
    weights.parent.mkdir()
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "50",
                              "--no-progress", "--save", str(weights), "--plot", str(curves)])
    out = capsys.readouterr().out
    rows = _rows(out)
    assert re.fullmatch(r"MNIST, SGD \(lr 0\.1, the default for SGD\), batch 100, 50 "
                        r"iterations, 50 hidden units, float32, seed 0; BLAS threads: .+",
                        out.splitlines()[0])
    # 500 images / batch 100 = 5 iterations per epoch: rows at i = 0, 5, ..., 45, and
    # after the last iteration, 49.
    assert history["eval_iters"] == [*range(0, 50, 5), 49]
    assert len(rows) == 11 and all(ROW.match(r) for r in rows)
    parsed = [tuple(float(v) for v in ROW.match(r).groups()) for r in rows]  # type: ignore[union-attr]
    assert parsed == list(zip(history["train_acc"], history["test_acc"]))
    assert re.search(r"^total time: \d+\.\d s$", out, re.MULTILINE)
    assert out.index("total time") > out.index(rows[-1])
    assert len(history["train_loss"]) == 50 and history["time"] > 0
    # The generated classes are learnable: the net must get well past chance (0.1).
    assert history["test_acc"][-1] > 0.7 and history["test_acc"][0] < 0.4
    assert np.mean(history["train_loss"][-10:]) < np.mean(history["train_loss"][:10])

    state = serialization.load(weights)
    # The weights under their state-dict names, then what it takes to resume the run.
    assert list(state)[:4] == ["W1", "b1", "W2", "b2"]
    assert all("/" in k for k in list(state)[4:])
    assert state["W1"].shape == (784, 50) and state["W1"].dtype == np.float32
    with np.load(weights, allow_pickle=False) as raw:  # a plain .npz for NumPy too
        np.testing.assert_array_equal(raw["b2"], state["b2"])
    net = TwoLayerNet(784, 50, 10, dtype=np.float32)
    assert net.load_state_dict(state, strict=False).missing_keys == []
    _, (x_test, t_test) = load_mnist(data_dir=tiny_mnist, download=False, verify=False)
    # The last row is the saved weights' accuracy: the reloaded network scores it.
    assert net.accuracy(x_test, t_test) == history["test_acc"][-1]

    assert curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("out/.*.tmp"))  # the atomic save left no temporary


def test_two_layer_mnist_is_reproducible_and_honours_options(
    two_layer: ModuleType, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "12", "--no-progress",
            "--seed", "5"]
    first = two_layer.main(argv)
    second = two_layer.main(argv)
    assert first["train_loss"] == second["train_loss"]
    assert first["test_acc"] == second["test_acc"]
    other_seed = two_layer.main(argv[:-1] + ["6"])
    assert other_seed["train_loss"] != first["train_loss"]

    history = two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "30",
                              "--no-progress", "--optimizer", "adam", "--lr", "0.01",
                              "--dtype", "float64", "--batch-size", "50", "--eval-every", "10",
                              "--hidden-size", "8"])
    assert history["eval_iters"] == [0, 10, 20, 29]
    assert history["optimizer"].lr == 0.01
    assert np.mean(history["train_loss"][-5:]) < np.mean(history["train_loss"][:5])
    capsys.readouterr()


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_every_optimizer_option_trains(two_layer: ModuleType, tiny_mnist: Path,
                                       name: str, capsys: pytest.CaptureFixture[str]) -> None:
    lr = {"sgd": "0.1", "momentum": "0.05", "adagrad": "0.05", "rmsprop": "0.002",
          "adam": "0.002"}[name]
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "40",
                              "--lr", lr, "--optimizer", name, "--no-progress",
                              "--eval-every", "39"])
    assert history["test_acc"][-1] > 0.5, name
    capsys.readouterr()


def test_progress_bar_goes_to_stderr(two_layer: ModuleType, tiny_mnist: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "10"])
    captured = capsys.readouterr()
    assert re.search(r"\d+/10 \[", captured.err)  # the bar, e.g. " 50%|#####  | 5/10 ["
    assert len(_rows(captured.out)) == 3 and "/10 [" not in captured.out


def test_runs_without_tqdm(two_layer: ModuleType, tiny_mnist: Path,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "10"])
    captured = capsys.readouterr()
    assert len(history["train_acc"]) == 3 and captured.err == ""


def test_plot_without_matplotlib_names_the_extra(two_layer: ModuleType, tiny_mnist: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SystemExit) as e:
        two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "5",
                        "--no-progress", "--plot", str(tmp_path / "c.png")])
    assert e.value.code == 2
    assert re.fullmatch(r"two_layer_mnist\.py: error: --plot needs matplotlib.*"
                        r"tinygrad-edu\[examples\]'\n", capsys.readouterr().err)
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(("example", "argv"), [
    ("simple_convnet_mnist", ["--epochs", "1", "--plot"]),
    ("simple_convnet_mnist", ["--epochs", "1", "--filters"]),
    ("two_layer_mnist", ["--iters", "1", "--grad-flow"]),
])
def test_plot_without_matplotlib_names_the_extra_in_every_example(
    example: str, argv: list[str], tiny_mnist: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    module = _load_example(example)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SystemExit) as e:
        module.main(["--data-dir", str(tiny_mnist), "--no-verify", "--no-progress", *argv,
                     str(tmp_path / "c.png")])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"{example}.py: error: {argv[-1]} needs matplotlib, which is not installed; install "
        "the examples extra: pip install 'tinygrad-edu[examples]'\n")
    assert not (tmp_path / "c.png").exists()


@pytest.fixture
def no_loading(two_layer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading data counts as work: with a bad argument it must never start. (Both
    training examples load through the shared table of example_cli.)"""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data set was loaded before the arguments were checked")

    assert two_layer.LOADERS is _load_example("simple_convnet_mnist").LOADERS
    for name in two_layer.LOADERS:
        monkeypatch.setitem(two_layer.LOADERS, name, refuse)


BAD_ARGUMENTS = [
    (["--iters", "0"], "--iters must be positive, got 0"),
    (["--batch-size", "-1"], "--batch-size must be positive, got -1"),
    (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs' ..."),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16' ..."),
    (["--eval-every", "0"], "--eval-every must be a positive number, got 0.0"),
    (["--eval-every", "nan"], "--eval-every must be a positive number, got nan"),
    (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
    (["--lr", "inf"], "--lr must be a positive number, got inf"),
    (["--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    (["--seed", "-3"], "--seed must be >= 0, got -3"),
    (["--data-dir", "{tmp}/typo"], "--data-dir {tmp}/typo: no such directory"),
    (["--data-dir", "{tmp}/a_file"], "--data-dir {tmp}/a_file: not a directory"),
    (["--plot", "{tmp}/missing_dir/x.png"],
     "--plot {tmp}/missing_dir/x.png: the directory {tmp}/missing_dir does not exist"),
    (["--plot", "{tmp}"], "--plot {tmp}: is a directory; give a file name"),
    (["--save", "{tmp}/missing_dir/w.npz"],
     "--save {tmp}/missing_dir/w.npz: the directory {tmp}/missing_dir does not exist"),
    (["--resume", "{tmp}/nope.npz"], "--resume {tmp}/nope.npz: no such file"),
    (["--resume", "{tmp}/a_file"], "--resume: {tmp}/a_file is not a checkpoint: expected an "
                                   ".npz (zip) or a .safetensors file, found text starting 'x'"),
    (["--blas-threads", "0"], "argument --blas-threads: expected auto, default or a positive "
                              "number of threads, got '0'"),
    (["--blas-threads", "many"], "argument --blas-threads: expected auto, default or a "
                                 "positive number of threads, got 'many'"),
]
# The options both training examples share get the same checks in both.
SHARED = ("--batch-size", "--dtype", "--lr", "--seed", "--data-dir", "--plot", "--save",
          "--blas-threads", "--dataset")
CONVNET_BAD_ARGUMENTS = [(a, m) for a, m in BAD_ARGUMENTS if a[0] in SHARED] + [
    (["--epochs", "0"], "--epochs must be positive, got 0"),
    (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar' ..."),
    (["--filters", "{tmp}/missing_dir/f.png"],
     "--filters {tmp}/missing_dir/f.png: the directory {tmp}/missing_dir does not exist"),
]


@pytest.mark.parametrize(("example", "argv", "message"), [
    *(("two_layer_mnist", a, m) for a, m in BAD_ARGUMENTS),
    *(("simple_convnet_mnist", a, m) for a, m in CONVNET_BAD_ARGUMENTS)],
    ids=[f"{e[:6]} " + " ".join(a).replace("{tmp}/", "") for e, args in (
        ("two_layer_mnist", BAD_ARGUMENTS), ("simple_convnet_mnist", CONVNET_BAD_ARGUMENTS))
        for a, _ in args])
@pytest.mark.usefixtures("no_loading")
def test_bad_arguments_are_refused_before_any_work(
    example: str, argv: list[str], message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a_file").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as e:
        _load_example(example).main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert e.value.code == 2
    # One line, no usage block and no traceback ("..." stands for argparse's list).
    err = capsys.readouterr().err
    expected = f"{example}.py: error: {message.replace('{tmp}', str(tmp_path))}\n"
    if expected.endswith(" ...\n"):
        assert err.startswith(expected.removesuffix("...\n")) and err.count("\n") == 1
    else:
        assert err == expected
    assert sorted(tmp_path.rglob("*")) == before  # nothing created


@pytest.mark.usefixtures("no_loading")
def test_the_data_root_variable_naming_a_file(
    two_layer: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "a_file"))
    with pytest.raises(SystemExit) as e:
        two_layer.main([])
    assert e.value.code == 2
    assert capsys.readouterr().err == (
        f"two_layer_mnist.py: error: TINYGRAD_EDU_DATA={tmp_path / 'a_file'} names a file, not "
        "a directory; set it to the data root, the directory that holds (or will hold) mnist/ "
        "and fashion-mnist/\n"
    )


@pytest.mark.skipif(not FASHION_DIR.is_dir(),
                    reason=f"Fashion-MNIST is not installed at {FASHION_DIR}")
def test_mnist_pointed_at_fashion_files_is_refused(
    two_layer: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as e:
        two_layer.main(["--dataset", "mnist", "--data-dir", str(FASHION_DIR), "--no-progress"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"two_layer_mnist.py: error: {FASHION_DIR / MNIST.files[0].name}: "
                          f"not the published MNIST {MNIST.files[0].name}: the SHA-256 of its "
                          "content is ")
    assert err.endswith("; for data of your own, pass --no-verify\n")
    assert not (tmp_path / "root").exists()


def _table(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("train acc")]


@pytest.mark.parametrize(("optimizer", "stop", "suffix"),
                         [("sgd", 12, ".npz"), ("adam", 15, ".npz"),
                          ("momentum", 7, ".safetensors")])
def test_resume_prints_the_uninterrupted_table(
    two_layer: ModuleType, tiny_mnist: Path, tmp_path: Path, optimizer: str, stop: int,
    suffix: str, capsys: pytest.CaptureFixture[str],
) -> None:
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    common = ["--data-dir", str(tiny_mnist), "--no-verify", "--no-progress", "--lr", "0.05",
              "--optimizer", optimizer, "--eval-every", "3"]
    whole = two_layer.main(common + ["--iters", "23"])
    expected = _table(capsys.readouterr().out)
    assert len(expected) == 9  # rows at 0, 3, ..., 21 and after the last iteration, 22

    path = tmp_path / f"run{suffix}"
    two_layer.main(common + ["--iters", str(stop), "--save", str(path)])
    # Its own last row too, unless it is on the schedule.
    extra = (stop - 1) % 3 != 0
    assert len(_table(capsys.readouterr().out)) == len(range(0, stop, 3)) + extra
    # Resumed in two steps, the second from the first's checkpoint.
    two_layer.main(common + ["--iters", "18", "--resume", str(path), "--save", str(path)])
    capsys.readouterr()
    resumed = two_layer.main(common + ["--iters", "23", "--resume", str(path)])
    assert _table(capsys.readouterr().out) == expected
    assert resumed["train_loss"] == whole["train_loss"]
    for key, value in whole["network"].state_dict().items():
        np.testing.assert_array_equal(resumed["network"].state_dict()[key], value)


def test_resume_refuses_other_settings(
    two_layer: ModuleType, tiny_mnist: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "run.npz"
    common = ["--data-dir", str(tiny_mnist), "--no-verify", "--no-progress"]
    two_layer.main(common + ["--iters", "6", "--save", str(path)])
    capsys.readouterr()
    for extra, message in [
        (["--iters", "10", "--lr", "0.2", "--hidden-size", "8"],
         "the run was made with --lr 0.1, --hidden-size 50; give the same"),
        (["--iters", "5"], "the run is at iteration 6, past --iters 5"),
    ]:
        with pytest.raises(SystemExit) as e:
            two_layer.main(common + extra + ["--resume", str(path)])
        assert e.value.code == 2
        assert capsys.readouterr().err == f"two_layer_mnist.py: error: --resume {path}: {message}\n"
    state = serialization.load(path)
    serialization.save({k: v for k, v in state.items() if k != "optimizer/lr"}, path)
    with pytest.raises(SystemExit):
        two_layer.main(common + ["--iters", "10", "--resume", str(path)])
    assert "missing hyperparameter 'lr'" in capsys.readouterr().err


def test_gradient_check_table(gradient_check: ModuleType, tiny_mnist: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    # The generated files are not the published MNIST: unverified, they are refused.
    with pytest.raises(SystemExit) as refused:
        gradient_check.main(["--data-dir", str(tiny_mnist), "--hidden-size", "4"])
    assert refused.value.code == 2
    assert "pass --no-verify" in capsys.readouterr().err
    diffs = gradient_check.main(["--data-dir", str(tiny_mnist), "--hidden-size", "4",
                                 "--no-verify"])
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
    assert history["eval_iters"] == [0, 100, 200, 299]
    assert history["test_acc"][-1] > 0.6
    assert len(_rows(capsys.readouterr().out)) == 4


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


def test_two_layer_mnist_grad_flow_plot(two_layer: ModuleType, tiny_mnist: Path,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    recorded: list[object] = []
    real_record = two_layer.GradFlowRecorder.record

    def spy(self: object, named: object, step: object = None) -> None:
        recorded.append(step)
        real_record(self, named, step)

    monkeypatch.setattr(two_layer.GradFlowRecorder, "record", spy)
    out = tmp_path / "flow.png"
    two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "20", "--no-progress",
                    "--grad-flow", str(out)])
    assert recorded == [0, 5, 10, 15, 19]  # at every evaluation
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- SimpleConvNet

EPOCH_ROW = re.compile(r"^=== epoch:(\d+), train acc:(0(?:\.\d+)?|1\.0), "
                       r"test acc:(0(?:\.\d+)?|1\.0) ===$")


def test_simple_convnet_mnist_end_to_end(convnet: ModuleType, tiny_mnist: Path,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    weights, curves = tmp_path / "out" / "convnet.npz", tmp_path / "curves.png"
    filters = tmp_path / "filters.png"
    weights.parent.mkdir()
    history = convnet.main(["--data-dir", str(tiny_mnist), "--no-verify", "--epochs", "4",
                            "--no-progress", "--lr", "0.005", "--save", str(weights),
                            "--plot", str(curves), "--filters", str(filters)])
    header, *lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"MNIST, Adam \(lr 0\.005\), batch 100, 4 epochs, float32, seed 0; "
                        r"BLAS threads: .+", header)
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
    argv = ["--data-dir", str(tiny_mnist), "--no-verify", "--epochs", "1", "--no-progress",
            "--seed", "3",
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
    convnet.main(["--data-dir", str(tiny_mnist), "--no-verify", "--epochs", "1"])
    captured = capsys.readouterr()
    assert re.search(r"\d+/5 \[", captured.err)
    assert EPOCH_ROW.match(captured.out.splitlines()[1]) and "/5 [" not in captured.out




# ---------------------------------------------------------------------------- defaults, titles


@pytest.mark.parametrize(("optimizer", "lr", "name"), [
    ("sgd", 0.1, "SGD"), ("momentum", 0.01, "Momentum"), ("adagrad", 0.01, "AdaGrad"),
    ("rmsprop", 0.01, "RMSprop"), ("adam", 0.001, "Adam")])
def test_each_optimizer_gets_its_usual_learning_rate(
    two_layer: ModuleType, tiny_mnist: Path, optimizer: str, lr: float, name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "2", "--no-progress",
            "--optimizer", optimizer]
    history = two_layer.main(argv)
    assert history["optimizer"].lr == lr
    header = capsys.readouterr().out.splitlines()[0]
    assert header.startswith(f"MNIST, {name} (lr {lr:g}, the default for {name}), batch 100")
    history = two_layer.main([*argv, "--lr", "0.05"])
    assert history["optimizer"].lr == 0.05
    assert capsys.readouterr().out.splitlines()[0].startswith(f"MNIST, {name} (lr 0.05), ")


def test_adam_by_default_learns(two_layer: ModuleType, tiny_mnist: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: Adam with SGD's 0.1 ended far below Adam with its own 0.001."""
    history = two_layer.main(["--data-dir", str(tiny_mnist), "--no-verify", "--iters", "60",
                              "--no-progress", "--optimizer", "adam", "--eval-every", "59"])
    assert history["test_acc"][-1] > 0.7
    capsys.readouterr()


@pytest.mark.parametrize(("example", "argv", "title"), [
    ("two_layer_mnist", ["--iters", "3", "--optimizer", "momentum"], "MNIST, Momentum (lr 0.01)"),
    ("simple_convnet_mnist", ["--epochs", "1", "--batch-size", "250"], "MNIST, Adam (lr 0.001)"),
])
def test_the_learning_curves_are_titled(example: str, argv: list[str], title: str,
                                        tiny_mnist: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    module = _load_example(example)
    name = "plot_history" if example == "two_layer_mnist" else "plot_curves"
    figures: list[object] = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a: figures.append(real(*a)))
    module.main(["--data-dir", str(tiny_mnist), "--no-verify", "--no-progress", *argv,
                 "--plot", str(tmp_path / "c.png")])
    (fig,) = figures
    assert fig.get_suptitle() == title  # type: ignore[attr-defined]
    capsys.readouterr()


# ---------------------------------------------------------------------------- BLAS threads


@pytest.fixture(scope="module")
def cli(two_layer: ModuleType) -> ModuleType:
    return two_layer.cli


@pytest.mark.parametrize(("setting", "busy", "cores", "default", "env", "expected"), [
    ("auto", 0.0, 2, 2, {}, (None, "2 (auto: other work keeps 0.0 of 2 cores busy)")),
    ("auto", 0.4, 2, 2, {}, (None, "2 (auto: other work keeps 0.4 of 2 cores busy)")),
    ("auto", 0.6, 2, 2, {}, (1, "1 (auto: other work keeps 0.6 of 2 cores busy)")),
    ("auto", 2.0, 2, 2, {}, (1, "1 (auto: other work keeps 2.0 of 2 cores busy)")),
    ("auto", 5.0, 16, 16, {}, (11, "11 (auto: other work keeps 5.0 of 16 cores busy)")),
    ("auto", 1.0, 16, 8, {}, (None, "8 (auto: other work keeps 1.0 of 16 cores busy)")),
    ("auto", None, 2, 2, {}, (None, "2 (auto: the machine's load is unknown)")),
    ("auto", 2.0, 2, 2, {"OPENBLAS_NUM_THREADS": "1"},
     (None, "2 (set by OPENBLAS_NUM_THREADS=1)")),
    ("default", 2.0, 2, 2, {}, (None, "2 (--blas-threads default)")),
    (3, 0.0, 2, 2, {}, (3, "3 (--blas-threads 3)")),
])
def test_the_blas_thread_rule(cli: ModuleType, setting: object, busy: float | None, cores: int,
                              default: int, env: dict[str, str],
                              expected: tuple[int | None, str]) -> None:
    assert cli.choose_blas_threads(setting, busy, cores, default, env) == expected


def test_the_rule_without_threadpoolctl(cli: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                        tiny_mnist: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    assert cli.default_blas_threads() is None
    threads, reason = cli.choose_blas_threads("auto", 2.0, 2, None, {})
    assert threads is None and reason.startswith(
        "the library's default (threadpoolctl is not installed, so the busy-machine rule is "
        "off: pip install 'tinygrad-edu[examples]')")
    with pytest.raises(SystemExit):
        _load_example("two_layer_mnist").main(["--data-dir", str(tiny_mnist), "--no-verify",
                                               "--blas-threads", "1"])
    assert capsys.readouterr().err == (
        "two_layer_mnist.py: error: --blas-threads 1 needs threadpoolctl, which is not "
        "installed; install the examples extra: pip install 'tinygrad-edu[examples]'\n")


def test_the_load_probe_measures_other_work(cli: ModuleType) -> None:
    probe = cli.LoadProbe()
    busy = probe.busy_cores(min_window=0.05)
    assert probe.cores >= 1
    assert busy is None or 0.0 <= busy <= probe.cores + 0.5


def test_the_thread_limit_applies_and_is_undone(cli: ModuleType) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_counts() -> list[int]:
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"]

    before = blas_counts()
    if not before:
        pytest.skip("no BLAS library found by threadpoolctl")
    with cli.blas_threads(1):
        assert set(blas_counts()) == {1}
    assert blas_counts() == before
    with cli.blas_threads(None):
        assert blas_counts() == before


def test_the_header_says_the_threads_and_a_resumed_run_keeps_them(
    two_layer: ModuleType, tiny_mnist: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("threadpoolctl")
    common = ["--data-dir", str(tiny_mnist), "--no-verify", "--no-progress"]
    path = tmp_path / "run.npz"
    two_layer.main([*common, "--iters", "4", "--blas-threads", "1", "--save", str(path)])
    assert capsys.readouterr().out.splitlines()[0].endswith("; BLAS threads: 1 (--blas-threads 1)")
    assert int(serialization.load(path)["run/blas_threads"]) == 1
    two_layer.main([*common, "--iters", "6", "--resume", str(path)])
    assert capsys.readouterr().out.splitlines()[0].endswith(
        "; BLAS threads: 1 (as the run it continues)")
