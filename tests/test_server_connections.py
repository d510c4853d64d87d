"""What many connections may cost the embedded server (issue 13, item 4):
refusals reach the log as a count per interval, never a line per request.
"""

from __future__ import annotations

import http.client
import logging
import re
import resource
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from feeds.filecache import FileCache
from feeds.server import ServerThread, create_app

BIG = 6 * 1024 * 1024  # more than loopback's socket buffers take in at once


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("connections")
    (folder / "all.json").write_bytes(b'{"version": "https://jsonfeed.org/version/1.1"}\n')
    (folder / "medium.json").write_bytes(b'{"x": "' + b"y" * (64 * 1024) + b'"}\n')
    (folder / "big.json").write_bytes(b'{"x": "' + b"y" * (BIG - 10) + b'"}\n')
    return folder


@contextmanager
def serving(output: Path, **options: object) -> Iterator[ServerThread]:
    cache = options.pop("cache", None)
    app = create_app(output, cache=cache if isinstance(cache, FileCache) else None)
    server = ServerThread(app, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def enough_descriptors(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count + 256
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def get(port: int, path: str, **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def open_idle(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket, within: float = 0.0) -> bool:
    """Whether the server has hung up (waiting up to ``within`` s for it)."""
    sock.settimeout(within or 0.001)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    while data:  # a refusal's few bytes, then the end
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return True


# --- the log ----------------------------------------------------------------------------

BAD = [
    b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n",  # llhttp: invalid method
    b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n",
    b"GET /all.json HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, close\r\n"
    b"Upgrade: websocket\r\n\r\n",
]


def send_bad_requests(port: int, times: int) -> None:
    for _ in range(times):
        for raw in BAD:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(raw)
                while sock.recv(4096):
                    pass


def uvicorn_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("uvicorn") and record.levelno >= logging.WARNING
    ]


def test_a_client_cannot_fill_the_log_with_uvicorns_warnings(
    output: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serving(output) as server:
        send_bad_requests(server.port, 20)
    assert len(uvicorn_lines(caplog)) < 3, uvicorn_lines(caplog)


def test_refusals_are_logged_as_one_line_per_interval_with_counts(
    output: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serving(output, refusal_log_interval=3600) as server:
        send_bad_requests(server.port, 20)
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20_000)
                while sock.recv(4096):
                    pass
    summaries = [
        record.getMessage()
        for record in caplog.records
        if record.name == "feeds.connections" and "refused" in record.getMessage()
    ]
    # The first refusal's line comes soon after it; everything after waits for
    # the interval, and the rest is written when the server stops.
    assert 1 <= len(summaries) <= 2, summaries
    text = " ".join(summaries)
    assert uvicorn_lines(caplog) == []
    assert _count(text, "invalid requests") == 40
    assert _count(text, "upgrade requests") == 20
    assert _count(text, "request heads too large") == 5


def test_a_request_failing_again_and_again_logs_one_traceback_and_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(url_path: str) -> dict[str, str]:
        raise RuntimeError("boom")

    (tmp_path / "all.json").write_bytes(b"{}")
    app = create_app(tmp_path, extra_headers=broken)
    server = ServerThread(app, "127.0.0.1", 0, refusal_log_interval=3600)
    server.start()
    try:
        for _ in range(20):
            assert get(server.port, "/all.json")[0] == 500
    finally:
        server.stop()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "feeds.server"
    assert errors[0].exc_info is not None
    summaries = " ".join(
        record.getMessage() for record in caplog.records if record.name == "feeds.connections"
    )
    assert _count(summaries, "more errors serving requests") == 19


def _count(text: str, what: str) -> int:
    return sum(int(n) for n in re.findall(rf"(\d+) {re.escape(what)}", text))
