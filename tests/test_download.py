"""The MNIST downloader against a real HTTP server on 127.0.0.1.

The server serves small generated IDX files; the tests compute their checksums and pass
them in, so nothing here touches the network beyond the loopback interface.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import threading
import tracemalloc
import urllib.request
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.datasets import (
    MNIST,
    DatasetNotFoundError,
    IDXFile,
    load_dataset,
    load_mnist,
    write_idx,
)

NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


class FakeMirrors:
    """A ThreadingHTTPServer whose URL prefixes behave like differently broken mirrors.

    ``/good/<file>`` serves the file; ``/status-<code>/<file>`` answers with that HTTP
    status; ``/truncated/<file>`` announces more bytes than it sends, then hangs up;
    ``/corrupt/<file>`` serves the file with one byte flipped; ``/hang/<file>`` waits
    without answering until the server shuts down; ``/recompressed/<file>`` serves the
    same content compressed differently; ``/bomb/<file>`` serves 100 KB of gzip data
    that starts like the file and inflates to 100 MB.
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.release = threading.Event()
        mirrors = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

            def do_GET(self) -> None:
                with mirrors._lock:
                    mirrors.requests.append(self.path)
                _, kind, name = self.path.split("/", 2)
                body = mirrors.files.get(name)
                if body is None:
                    self.send_error(404)
                elif kind == "good":
                    self._send(body, len(body))
                elif kind == "corrupt":
                    self._send(body[:-1] + bytes([body[-1] ^ 1]), len(body))
                elif kind == "truncated":
                    self._send(body[: len(body) // 2], len(body))
                    self.close_connection = True
                elif kind.startswith("status-"):
                    self.send_error(int(kind.removeprefix("status-")))
                elif kind == "hang":
                    mirrors.release.wait(10)
                elif kind == "recompressed":
                    content = gzip.decompress(body)
                    again = gzip.compress(content, compresslevel=1, mtime=1)
                    self._send(again, len(again))
                elif kind == "bomb":
                    bomb = _bomb(gzip.decompress(body)[:16])
                    self._send(bomb, len(bomb))
                else:
                    self.send_error(404)

            def _send(self, body: bytes, announced: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown(), and so each test's teardown, quick.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{kind}/"

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.startswith(f"/{kind}/"))


@pytest.fixture
def source(tmp_path: Path) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """Small MNIST-shaped files: their bytes by name, and the arrays they hold."""
    rng = np.random.default_rng(7)
    arrays = {
        NAMES[0]: rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, size=20, dtype=np.uint8),
        NAMES[2]: rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, size=10, dtype=np.uint8),
    }
    files = {
        name: write_idx(tmp_path / "source" / name, array).read_bytes()
        for name, array in arrays.items()
    }
    return files, arrays


@pytest.fixture
def checksums(source: tuple[dict[str, bytes], dict[str, np.ndarray]]) -> dict[str, str]:
    """The SHA-256 of each file's content, as a user passes them for data of their own."""
    return {name: hashlib.sha256(gzip.decompress(data)).hexdigest()
            for name, data in source[0].items()}


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root of the test's own, where the record of verified files goes."""
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    return tmp_path / "root"


def _bomb(head: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(head)]
    zeros = bytes(1 << 20)
    parts += [compressor.compress(zeros) for _ in range(100)]
    return b"".join(parts) + compressor.flush()


@pytest.fixture
def mirrors(source: tuple[dict[str, bytes], dict[str, np.ndarray]]) -> Iterator[FakeMirrors]:
    server = FakeMirrors(source[0])
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_then_cache(
    tmp_path: Path,
    mirrors: FakeMirrors,
    checksums: dict[str, str],
    source: tuple[dict[str, bytes], dict[str, np.ndarray]],
    closed_port: int,
) -> None:
    cache = tmp_path / "cache"
    (x_train, t_train), (x_test, t_test) = load_mnist(
        normalize=False,
        data_dir=cache,
        mirrors=[mirrors.url("good")],
        checksums=checksums,
        verbose=False,
    )
    arrays = source[1]
    np.testing.assert_array_equal(x_train, arrays[NAMES[0]].reshape(20, 784))
    np.testing.assert_array_equal(t_train, arrays[NAMES[1]])
    np.testing.assert_array_equal(x_test, arrays[NAMES[2]].reshape(10, 784))
    np.testing.assert_array_equal(t_test, arrays[NAMES[3]])
    assert mirrors.count("good") == 4
    assert _leftovers(cache) == sorted(NAMES)
    for name in NAMES:
        assert (cache / name).read_bytes() == source[0][name]

    # The second load is served from the cache: no request, even with no mirror alive.
    again = load_mnist(
        normalize=False,
        data_dir=cache,
        mirrors=[f"http://127.0.0.1:{closed_port}/"],
        checksums=checksums,
        verbose=False,
    )
    np.testing.assert_array_equal(again[0][1], t_train)
    assert len(mirrors.requests) == 4


def test_default_download_location_is_under_the_env_var(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mirrors: FakeMirrors,
    checksums: dict[str, str],
) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "root"))
    load_mnist(mirrors=[mirrors.url("good")], checksums=checksums, verbose=False)
    assert _leftovers(tmp_path / "root" / "mnist") == sorted(NAMES)


@pytest.mark.parametrize("status", [404, 500, 403])
def test_failing_mirror_then_working_mirror(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str], status: int
) -> None:
    (_, t_train), _ = load_mnist(
        data_dir=tmp_path / "cache",
        mirrors=[mirrors.url(f"status-{status}"), mirrors.url("good")],
        checksums=checksums,
        verbose=False,
    )
    assert t_train.shape == (20,)
    # An HTTP error proves the server is up, so it is asked again for every file.
    assert mirrors.count(f"status-{status}") == 4
    assert mirrors.count("good") == 4
    assert _leftovers(tmp_path / "cache") == sorted(NAMES)


def test_checksum_mismatch_leaves_nothing(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str]
) -> None:
    wrong = {name: hashlib.sha256(name.encode()).hexdigest() for name in NAMES}
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(data_dir=cache, mirrors=[mirrors.url("good")], checksums=wrong, verbose=False)
    message = str(e.value)
    assert "4 of 4 files not found" in message
    for name in NAMES:
        assert f"SHA-256 mismatch: expected {wrong[name]}, got {checksums[name]}" in message
    assert _leftovers(cache) == []


def test_checksum_mismatch_on_one_mirror_falls_back(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str]
) -> None:
    cache = tmp_path / "cache"
    load_mnist(
        data_dir=cache,
        mirrors=[mirrors.url("corrupt"), mirrors.url("good")],
        checksums=checksums,
        verbose=False,
    )
    assert mirrors.count("corrupt") == 4 and mirrors.count("good") == 4
    assert _leftovers(cache) == sorted(NAMES)


def test_only_the_mismatching_file_is_missing(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str]
) -> None:
    cache = tmp_path / "cache"
    bad = dict(checksums, **{NAMES[2]: "0" * 64})
    with pytest.raises(DatasetNotFoundError, match=rf"1 of 4 files not found: {NAMES[2]}"):
        load_mnist(data_dir=cache, mirrors=[mirrors.url("good")], checksums=bad, verbose=False)
    # The three verified files are kept, so a retry only fetches the missing one.
    assert _leftovers(cache) == sorted(set(NAMES) - {NAMES[2]})


def test_truncated_body(tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str]) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(
            data_dir=cache, mirrors=[mirrors.url("truncated")], checksums=checksums, verbose=False
        )
    body = len(mirrors.files[NAMES[0]])
    assert f"truncated: the server announced {body} bytes and sent {body // 2}" in str(e.value)
    assert _leftovers(cache) == []

    load_mnist(
        data_dir=cache,
        mirrors=[mirrors.url("truncated"), mirrors.url("good")],
        checksums=checksums,
        verbose=False,
    )
    assert _leftovers(cache) == sorted(NAMES)


def test_no_server(
    tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    mirror = f"http://127.0.0.1:{closed_port}/mnist/"
    spec = dataclasses.replace(MNIST, system_dirs=(str(elsewhere),))
    attempts: list[str] = []
    urlopen = urllib.request.urlopen

    def counting_urlopen(request: urllib.request.Request, **kwargs: Any) -> Any:
        attempts.append(request.full_url)
        return urlopen(request, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting_urlopen)
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset(spec, data_dir=cache, mirrors=[mirror], timeout=5, verbose=False)
    # One refused connection, for the first file; the mirror is then known to be down.
    assert attempts == [f"{mirror}{NAMES[0]}"]
    message = str(e.value)
    assert "4 of 4 files not found" in message
    for name in NAMES:
        assert f"{mirror}{name}" in message
        assert f"  {name}:" in message
    assert str(cache) in message and str(elsewhere) in message
    assert "cannot connect" in message and "refused" in message.lower()
    # Once the mirror is known to be down it is not tried again for the other files.
    assert message.count("skipped, mirror unreachable") == 3
    assert "data_dir=" in message and "TINYGRAD_EDU_DATA" in message
    assert _leftovers(cache) == []


def test_unreachable_first_mirror_then_working_mirror(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str], closed_port: int
) -> None:
    load_mnist(
        data_dir=tmp_path / "cache",
        mirrors=[f"http://127.0.0.1:{closed_port}", mirrors.url("good")],
        checksums=checksums,
        verbose=False,
    )
    assert mirrors.count("good") == 4


def test_timeout(tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str]) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"timed out after 0\.3 s") as e:
        load_mnist(
            data_dir=tmp_path / "cache",
            mirrors=[mirrors.url("hang")],
            checksums=checksums,
            timeout=0.3,
            verbose=False,
        )
    # One timeout, then the mirror is skipped for the remaining files.
    assert mirrors.count("hang") == 1
    assert str(e.value).count("skipped, mirror unreachable") == 3


def test_file_url_mirror(
    tmp_path: Path,
    source: tuple[dict[str, bytes], dict[str, np.ndarray]],
    checksums: dict[str, str],
) -> None:
    (_, t_train), _ = load_mnist(
        data_dir=tmp_path / "cache",
        mirrors=[(tmp_path / "source").as_uri()],
        checksums=checksums,
        verbose=False,
    )
    np.testing.assert_array_equal(t_train, source[1][NAMES[1]])


def test_file_url_mirror_missing_one_file(
    tmp_path: Path,
    source: tuple[dict[str, bytes], dict[str, np.ndarray]],
    checksums: dict[str, str],
) -> None:
    (tmp_path / "source" / NAMES[0]).unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist(
            data_dir=tmp_path / "cache",
            mirrors=[(tmp_path / "source").as_uri()],
            checksums=checksums,
            verbose=False,
        )
    # The directory exists, so the other three files are still fetched from it.
    assert "1 of 4 files not found: train-images-idx3-ubyte.gz" in str(e.value)
    assert "skipped" not in str(e.value) and "not found: [Errno 2]" in str(e.value)
    assert _leftovers(tmp_path / "cache") == sorted(NAMES[1:])


def test_verbose_reports_on_stderr(
    tmp_path: Path,
    mirrors: FakeMirrors,
    checksums: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    load_mnist(
        data_dir=tmp_path / "cache",
        mirrors=[mirrors.url("status-404"), mirrors.url("good")],
        checksums=checksums,
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"Downloading {mirrors.url('good')}{NAMES[0]}" in captured.err
    assert "failed: HTTP 404" in captured.err


def test_published_mnist_checksums_are_wellformed() -> None:
    # The loader compares lowercase hex digests; a typo here would reject every download.
    for f in MNIST.files:
        assert len(f.sha256) == 64 and f.sha256 == f.sha256.lower()
        int(f.sha256, 16)
    assert [f.name for f in MNIST.files] == NAMES


def _spec_with_shapes(checksums: dict[str, str],
                      arrays: dict[str, np.ndarray]) -> Any:
    """MNIST with the small test files as its published ones: digests and shapes."""
    fields = ("train_images", "train_labels", "test_images", "test_labels")
    return dataclasses.replace(MNIST, system_dirs=(), **{
        field: IDXFile(name, checksums[name], arrays[name].shape)
        for field, name in zip(fields, NAMES)
    })


def test_the_same_content_compressed_differently_is_accepted(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str],
    source: tuple[dict[str, bytes], dict[str, np.ndarray]],
) -> None:
    cache = tmp_path / "cache"
    (_, t_train), _ = load_mnist(data_dir=cache, mirrors=[mirrors.url("recompressed")],
                                 checksums=checksums, verbose=False)
    np.testing.assert_array_equal(t_train, source[1][NAMES[1]])
    assert mirrors.count("recompressed") == 4
    assert (cache / NAMES[0]).read_bytes() != source[0][NAMES[0]]  # other bytes, same data


def test_a_download_that_inflates_without_end_is_stopped(
    tmp_path: Path, mirrors: FakeMirrors, checksums: dict[str, str],
    source: tuple[dict[str, bytes], dict[str, np.ndarray]],
) -> None:
    spec = _spec_with_shapes(checksums, source[1])
    cache = tmp_path / "cache"
    tracemalloc.start()
    try:
        with pytest.raises(DatasetNotFoundError) as e:
            load_dataset(spec, data_dir=cache, mirrors=[mirrors.url("bomb")], verbose=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"not the published {NAMES[0]}: its content is larger than the 15696 bytes " \
           "expected" in str(e.value)
    assert peak < 8 << 20  # the 100 MB were never inflated
    assert not cache.exists()


def test_a_failed_download_leaves_no_directories(tmp_path: Path, closed_port: int) -> None:
    target = tmp_path / "new" / "deeper" / "mnist"
    with pytest.raises(DatasetNotFoundError):
        load_mnist(data_dir=target, mirrors=[f"http://127.0.0.1:{closed_port}/"], timeout=5,
                   verbose=False)
    assert list(tmp_path.iterdir()) == []  # "new" was made for the download, then removed
