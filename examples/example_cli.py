"""What the training examples share: the command line's common options and checks, data
loading with one-line errors, progress bars, and the BLAS thread rule.

The scripts import it as a sibling module (``python examples/two_layer_mnist.py`` puts
``examples/`` on the path; loaded from elsewhere, they put it there themselves).

Every argument is checked before any work starts: a mistake gets one line,
``<script>: error: <what is wrong>``, and exit status 2, as argparse's own errors, and
nothing is created.

**BLAS threads.** The products of these examples are small, and a multithreaded BLAS
gains little on them; on a busy machine its threads, which wait for each other by
spinning, contend with the other work and make a run many times slower (see
docs/performance.md). ``--blas-threads auto`` (the default) keeps the BLAS library's own
thread count on an idle machine and lowers it to the cores that other work leaves free,
at least one, when the CPUs are busy. The other work is measured while the data loads
(the CPU time of all processes on the cores this one may use, from ``/proc/stat``,
minus this process's own; where there is no ``/proc/stat``, the 1-minute load average).
``--blas-threads N`` fixes N threads, ``--blas-threads default`` leaves BLAS alone, and
so does a thread count set in the environment (``OPENBLAS_NUM_THREADS`` ...).
Changing the count needs ``threadpoolctl`` (in the examples extra).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinygrad_edu.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    IDXError,
    default_cache_dir,
    load_fashion_mnist,
    load_mnist,
)
from tinygrad_edu.datasets.download import DATA_ENV_VAR

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
DTYPES = {"float32": np.float32, "float64": np.float64}
# Follows the loader's message, which lists where it looked and how TINYGRAD_EDU_DATA works.
MISSING_DATA_HINT = (
    f"Pass --data-dir DIR (a directory with the four IDX files), or set {DATA_ENV_VAR} "
    "as described above."
)
EXTRA = "pip install 'tinygrad-edu[examples]'"
# Variables through which a user sets the BLAS thread count; the auto rule respects them.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS")


def fail(prog: str, message: str) -> NoReturn:
    """The one-line error of a bad argument: exit status 2, as argparse's own."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (--help shows the usage)."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, message)


def blas_setting(text: str) -> str | int:
    """``--blas-threads``: "auto", "default" or a positive number of threads."""
    if text in ("auto", "default"):
        return text
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise argparse.ArgumentTypeError(
            f"expected auto, default or a positive number of threads, got {text!r}")
    return threads


def add_common_arguments(parser: argparse.ArgumentParser, lr_help: str) -> None:
    """The options both training examples have."""
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="directory with the four IDX files (default: the cache)")
    parser.add_argument("--no-verify", action="store_true",
                        help="use the files without checking that they are the published "
                             "ones (for data of your own in the same format)")
    parser.add_argument("--batch-size", type=int, default=100, help="mini-batch size (100)")
    parser.add_argument("--lr", type=float, default=None, help=lr_help)
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32",
                        help="float32 (default, faster) or float64")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batches (0)")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="save learning curves as a PNG (needs matplotlib)")
    parser.add_argument("--save", default=None, metavar="PATH",
                        help="save a checkpoint (.npz, or .safetensors)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--blas-threads", type=blas_setting, default="auto", metavar="N",
                        help="BLAS threads: auto (default: fewer when other work keeps the "
                             "CPUs busy), default (the BLAS library's own) or a number")


def check_common(prog: str, args: argparse.Namespace, positive: tuple[str, ...],
                 outputs: dict[str, str | None], figures: tuple[str, ...]) -> None:
    """Refuse, with a one-line error, what would fail later: the ``positive`` int
    options, --lr, --seed, the data directory, the output paths (``outputs``: option ->
    path), matplotlib for the ``figures`` options given, and --blas-threads."""
    for name in positive:
        if getattr(args, name) <= 0:
            fail(prog, f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        fail(prog, f"--lr must be a positive number, got {args.lr}")
    if args.seed < 0:
        fail(prog, f"--seed must be >= 0, got {args.seed}")
    if args.data_dir is not None:
        data_dir = Path(args.data_dir).expanduser()
        if not data_dir.exists():
            fail(prog, f"--data-dir {args.data_dir}: no such directory")
        if not data_dir.is_dir():
            fail(prog, f"--data-dir {args.data_dir}: not a directory")
    else:
        try:
            default_cache_dir()
        except NotADirectoryError as exc:
            fail(prog, str(exc))
    for option, path in outputs.items():
        if path is not None:
            check_output(prog, option, Path(path))
    given = [f for f in figures if getattr(args, f.removeprefix("--").replace("-", "_"))]
    if given:
        figure_class(prog, given[0])
    if args.save and args.save.endswith(".safetensors"):
        try:
            import safetensors.numpy  # noqa: F401
        except ImportError:
            fail(prog, f"--save {args.save}: .safetensors needs the safetensors package: "
                       "pip install 'tinygrad-edu[safetensors]' (or save as .npz)")
    if isinstance(args.blas_threads, int) and threadpool_limits_class() is None:
        fail(prog, f"--blas-threads {args.blas_threads} needs threadpoolctl, which is not "
                   f"installed; install the examples extra: {EXTRA}")


def check_output(prog: str, option: str, path: Path) -> None:
    """An output file must go to an existing, writable directory."""
    directory = path.parent
    if path.is_dir():
        fail(prog, f"{option} {path}: is a directory; give a file name")
    if not directory.is_dir():
        fail(prog, f"{option} {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        fail(prog, f"{option} {path}: the directory {directory} is not writable")


def figure_class(prog: str, option: str = "--plot") -> Any:
    """matplotlib's Figure (no pyplot: no GUI backend, no global state), imported before
    training, so that a missing matplotlib is reported at once."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        fail(prog, f"{option} needs matplotlib, which is not installed; install the "
                   f"examples extra: {EXTRA}")
    return Figure


def load_data(prog: str, args: argparse.Namespace, flatten: bool) -> tuple[np.ndarray, ...]:
    """The data set in the working dtype; a missing one exits with the loader's report,
    a file that is not the published one (or not IDX) with a one-line error."""
    try:
        # Pixels arrive in the working dtype once, so no batch is ever converted again.
        (x_train, t_train), (x_test, t_test) = LOADERS[args.dataset](
            normalize=True, flatten=flatten, one_hot_label=False, data_dir=args.data_dir,
            dtype=DTYPES[args.dtype], verify=not args.no_verify,
        )
    except DatasetNotFoundError as exc:
        # The loader's message says where it looked and why downloading failed.
        raise SystemExit(f"{exc}\n{MISSING_DATA_HINT}") from exc
    except ChecksumError as exc:
        fail(prog, str(exc).replace("turn the check off (verify=False)", "pass --no-verify"))
    except (IDXError, OSError) as exc:
        fail(prog, str(exc))
    return x_train, t_train, x_test, t_test


def progress_bar(total: int, enabled: bool, initial: int = 0) -> Any:
    """A tqdm bar on stderr, or None when disabled or tqdm is not installed."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, file=sys.stderr, leave=False, unit="it",
                mininterval=0.25)


def emit(line: str, bar: Any) -> None:
    """Print a table row; above the progress bar (tqdm.write) when there is one."""
    if bar is None:
        print(line, flush=True)
    else:
        bar.write(line, file=sys.stdout)


def plural(n: int, word: str) -> str:
    """``"1 epoch"``, ``"20 epochs"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def plot_title(args: argparse.Namespace, optimizer: str) -> str:
    """The figure's title: the data set and the optimizer with its learning rate."""
    return f"{DATASET_NAMES[args.dataset]}, {optimizer} (lr {args.lr:g})"


# ---------------------------------------------------------------------------- BLAS threads


def threadpool_limits_class() -> Any:
    """threadpoolctl's ``threadpool_limits``, or None when it is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


def default_blas_threads() -> int | None:
    """The thread count of the BLAS library NumPy uses, or None if unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [int(lib["num_threads"]) for lib in threadpool_info()
              if lib.get("user_api") == "blas"]
    return max(counts) if counts else None


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cpu_times(cores: set[int]) -> tuple[float, float] | None:
    """(busy, total) jiffies of ``cores`` since boot, from /proc/stat; None elsewhere."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            values = [float(v) for v in fields[:8]]
            idle = values[3] + values[4]  # idle, iowait
            total += sum(values)
            busy += sum(values) - idle
    return (busy, total) if total else None


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class LoadProbe:
    """How many cores other processes keep busy, over the window from its creation to
    :meth:`busy_cores` (the data loading, so that measuring costs no time)."""

    def __init__(self) -> None:
        self.cores = usable_cores()
        ids = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        self._ids = set(ids)
        self._start = (_cpu_times(self._ids), _own_cpu_seconds(), time.monotonic())

    def busy_cores(self, min_window: float = 0.1) -> float | None:
        """Cores' worth of CPU time used by other work during the window (at least
        ``min_window`` seconds); the load average where /proc/stat is missing; None if
        neither is known."""
        stat, own, start = self._start
        if stat is None:
            try:
                return min(os.getloadavg()[0], float(self.cores))
            except (AttributeError, OSError):
                return None
        wait = min_window - (time.monotonic() - start)
        if wait > 0:
            time.sleep(wait)
        now = _cpu_times(self._ids)
        if now is None:
            return None
        busy, total = now[0] - stat[0], now[1] - stat[1]
        if total <= 0:
            return None
        # jiffies of all cores -> cores busy; this process's own CPU time is not "other".
        elapsed = time.monotonic() - start
        others = busy / total * len(self._ids) - (_own_cpu_seconds() - own) / elapsed
        return max(0.0, others)


def choose_blas_threads(setting: str | int, busy: float | None, cores: int,
                        default: int | None, env: dict[str, str] | None = None,
                        ) -> tuple[int | None, str]:
    """(threads to set, or None to leave BLAS alone; the reason, for the header).

    The rule for ``auto``: the BLAS library's own count on an idle machine; when other
    work keeps cores busy, the cores it leaves free (rounded), at least one.

    >>> choose_blas_threads("auto", busy=0.1, cores=2, default=2, env={})
    (None, '2 (auto: other work keeps 0.1 of 2 cores busy)')
    >>> choose_blas_threads("auto", busy=1.2, cores=2, default=2, env={})
    (1, '1 (auto: other work keeps 1.2 of 2 cores busy)')
    """
    env = dict(os.environ) if env is None else env
    if isinstance(setting, int):
        return setting, f"{setting} (--blas-threads {setting})"
    known = "the library's default" if default is None else str(default)
    if setting == "default":
        return None, f"{known} (--blas-threads default)"
    variable = next((v for v in THREAD_VARIABLES if env.get(v)), None)
    if variable is not None:
        return None, f"{known} (set by {variable}={env[variable]})"
    if default is None:
        why = ("threadpoolctl is not installed" if threadpool_limits_class() is None
               else "no BLAS library found")
        return None, f"the library's default ({why}, so the busy-machine rule is off: {EXTRA})"
    if busy is None:
        return None, f"{default} (auto: the machine's load is unknown)"
    free = max(1, min(default, math.floor(cores - busy + 0.5)))
    reason = f"auto: other work keeps {busy:.1f} of {cores} cores busy"
    return (None if free == default else free), f"{free} ({reason})"


@contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``threads`` BLAS threads (None: as they are), restored after."""
    if threads is None:
        yield
        return
    with threadpool_limits_class()(limits=threads, user_api="blas"):
        yield


def decide_blas_threads(setting: str | int, probe: LoadProbe) -> tuple[int | None, str]:
    """:func:`choose_blas_threads` on this machine, now."""
    needs_load = setting == "auto" and not any(os.environ.get(v) for v in THREAD_VARIABLES)
    busy = probe.busy_cores() if needs_load else None
    return choose_blas_threads(setting, busy, probe.cores, default_blas_threads())
