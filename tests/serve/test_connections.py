"""What many connections, idle, slow or pipelining, may cost the embedded
server (issue 13, item 4): requests and /healthz keep being answered, readers
under the send floor are cut off, a connection holds a bounded amount of
memory, and refusals reach the log as a count per interval.

The full-size scenario (2,000 idle and 1,000 slow connections against
`feeds run`) is bench/connections.py; these are small, in-process versions.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import logging
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, cast

import pytest

import feeds.serve.server
import feeds.serve.streamed
from feeds.serve.filecache import FileCache
from feeds.serve.server import ServerThread, create_app
from tests.conftest import mark_output
from tests.daemon_harness import wait_for

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
    app = create_app(mark_output(output), cache=cache if isinstance(cache, FileCache) else None)
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


# --- idle connections -----------------------------------------------------------------


def test_a_thousand_idle_connections_leave_requests_and_healthz_answered(output: Path) -> None:
    """Was: uvicorn's limit_concurrency counted idle connections, so 1,000 of
    them made every request, /healthz included, a 503."""
    enough_descriptors(2200)
    with serving(output, head_timeout=60) as server, ExitStack() as stack:
        open_idle(server.port, 1000, stack)
        for path in ("/all.json", "/healthz", "/all.json"):
            assert get(server.port, path)[0] == 200, path


def test_at_the_connection_limit_the_longest_idle_connection_makes_room(output: Path) -> None:
    with serving(output, head_timeout=60, max_connections=20) as server, ExitStack() as stack:
        idle = open_idle(server.port, 20, stack)
        wait_for(lambda: server.connections.open == 20, what="20 open connections")
        assert get(server.port, "/all.json")[0] == 200
        assert closed_by_server(idle[0], within=10)
        assert not any(closed_by_server(sock) for sock in idle[1:])
        # Full again: the next longest idle makes room for the next request.
        idle += open_idle(server.port, 1, stack)
        wait_for(lambda: server.connections.open == 20, what="20 open connections")
        assert get(server.port, "/healthz")[0] == 200
        assert closed_by_server(idle[1], within=10)
        assert not any(closed_by_server(sock) for sock in idle[2:])


def test_when_no_connection_is_idle_a_new_one_is_refused_with_503(output: Path) -> None:
    with serving(output, head_timeout=60, max_connections=5) as server, ExitStack() as stack:
        busy = open_idle(server.port, 5, stack)
        for sock in busy:
            sock.sendall(b"GET /all.json HT")  # a request under way is not idle
        wait_for(lambda: server.connections.open == 5, what="5 open connections")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as refused:
            answer = b""
            while chunk := refused.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: " in answer.lower()
        # The busy ones finish their requests and are served.
        busy[0].sendall(b"TP/1.1\r\nHost: t\r\n\r\n")
        response = http.client.HTTPResponse(busy[0])
        response.begin()
        assert response.status == 200


# --- slow readers ----------------------------------------------------------------------


def slow_reader(port: int, path: str = "/big.json") -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: identity\r\n\r\n".encode())
    return sock


def read_slowly(sock: socket.socket, within: float) -> tuple[bool, int]:
    """Reads a little at a time until the server hangs up; (hung up, bytes read)."""
    sock.settimeout(0.05)
    deadline = time.monotonic() + within
    received = 0
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1024)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += len(chunk)
        time.sleep(0.05)
    return False, received


MEMORY_AND_DISK = [
    pytest.param(None, id="kept in memory"),
    pytest.param(FileCache(max_file_bytes=64 * 1024), id="streamed from disk"),
]


@pytest.mark.parametrize("cache", MEMORY_AND_DISK)
def test_a_reader_slower_than_the_floor_is_cut_off(output: Path, cache: FileCache | None) -> None:
    """Was: such a reader held its connection (and a copy of the rest of the
    body) for as long as it kept reading, at any rate."""
    with (
        serving(output, cache=cache, send_window=0.5, min_send_rate=256 * 1024) as server,
        slow_reader(server.port) as sock,
    ):
        hung_up, received = read_slowly(sock, within=60)
        assert hung_up
        assert received < BIG
        wait_for(lambda: server.connections.open == 0, what="the connection gone")


@pytest.mark.parametrize("cache", MEMORY_AND_DISK)
def test_a_slow_reader_holds_a_bounded_buffer(output: Path, cache: FileCache | None) -> None:
    with serving(output, cache=cache, send_window=60) as server, slow_reader(server.port):
        wait_for(lambda: server.connections.open == 1, what="the connection")

        def settled() -> int | None:
            first = server.connections.buffered()
            time.sleep(0.2)
            second = server.connections.buffered()
            return second if second == first and second > 0 else None

        # Without the bound: the rest of the body beyond the kernel's buffers.
        assert wait_for(settled, what="the server's buffer settling") <= 256 * 1024


@pytest.mark.parametrize("cache", MEMORY_AND_DISK)
def test_a_reader_at_full_speed_gets_the_whole_file(output: Path, cache: FileCache | None) -> None:
    with serving(output, cache=cache, send_window=0.5, min_send_rate=256 * 1024) as server:
        status, body = get(server.port, "/big.json", Accept_Encoding="identity")
        assert status == 200
        assert body == (output / "big.json").read_bytes()


def test_large_files_sent_at_once_are_bounded_and_the_rest_answered_503(
    output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each streamed file holds a descriptor of its own besides the connection's."""
    monkeypatch.setattr(feeds.serve.server, "_MAX_STREAMED", 2)
    streamed = FileCache(max_file_bytes=64 * 1024)
    with (
        serving(output, cache=streamed, send_window=60) as server,
        slow_reader(server.port),
        slow_reader(server.port),
    ):
        wait_for(lambda: server.connections.buffered() > 0, what="both files under way")
        status, _ = get(server.port, "/big.json")
        assert status == 503
        assert get(server.port, "/all.json")[0] == 200  # kept in memory: unaffected
    with serving(output, cache=streamed) as server:
        assert get(server.port, "/big.json")[0] == 200


def test_a_streamed_file_stops_being_read_once_its_reader_is_gone(
    output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn takes what is sent to a closed connection as sent; the rest of
    the file must not be read, and its slot held, for nobody."""
    reads: list[list[int]] = []  # per file opened, the size of each read
    opened = feeds.serve.streamed._open

    class Counting(io.RawIOBase):
        def __init__(self, file: BinaryIO) -> None:
            self.file = file
            self.read_sizes: list[int] = []
            reads.append(self.read_sizes)

        def fileno(self) -> int:
            return self.file.fileno()

        def read(self, size: int = -1) -> bytes:
            data = self.file.read(size)
            self.read_sizes.append(len(data))
            return data

        def close(self) -> None:
            self.file.close()

    def counting(path: str) -> tuple[BinaryIO, os.stat_result]:
        file, stat = opened(path)
        return cast(BinaryIO, Counting(file)), stat

    monkeypatch.setattr(feeds.serve.streamed, "_open", counting)
    monkeypatch.setattr(feeds.serve.server, "_MAX_STREAMED", 1)
    with serving(output, cache=FileCache(max_file_bytes=64 * 1024), send_window=60) as server:
        with slow_reader(server.port) as sock:
            sock.recv(1024)
            wait_for(lambda: server.connections.buffered() > 0, what="the file under way")
        # The one slot is free again, and the file was not read to its end for nobody.
        wait_for(lambda: get(server.port, "/big.json")[0] == 200, what="the slot free")
    first, second = reads
    assert sum(first) < BIG // 2
    assert sum(second) == BIG


# --- pipelining -------------------------------------------------------------------------


def test_pipelined_requests_are_not_parsed_ahead_of_their_turn(output: Path) -> None:
    """Was: every request in a read (thousands in 256 KiB) was parsed and queued
    at once, some 60 times the memory of the bytes received."""
    request = b"GET /medium.json HTTP/1.1\r\nHost: t\r\n\r\n"
    stream = request * ((1 << 20) // len(request))
    with serving(output) as server:
        get(server.port, "/medium.json")  # first-use imports and the file's load, uncounted
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", server.port))
                sock.setblocking(False)
                sent = 0
                with contextlib.suppress(BlockingIOError):
                    while sent < len(stream):
                        sent += sock.send(memoryview(stream)[sent:])

                def stalled() -> bool:
                    # The answers fill the buffers of a client that reads none.
                    first = server.connections.buffered()
                    time.sleep(0.3)
                    return first > 0 and server.connections.buffered() == first

                wait_for(stalled, what="the server waiting for the client")
                grown = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
    assert grown < 2 * 1024 * 1024, grown


def test_pipelined_requests_are_still_answered_in_order(output: Path) -> None:
    paths = [b"/all.json", b"/healthz", b"/missing.json"] * 20
    stream = b"".join(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n" for path in paths)
    with serving(output) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(30)
        sock.sendall(stream + b"GET /all.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]
    assert statuses == [200, 200, 404] * 20 + [200]


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
    with serving(output, refusal_log_interval=3600, head_timeout=60, max_connections=3) as server:
        send_bad_requests(server.port, 20)
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20_000)
                while sock.recv(4096):
                    pass
        with ExitStack() as stack:
            idle = open_idle(server.port, 3, stack)
            wait_for(lambda: server.connections.open == 3, what="3 open connections")
            for sock in idle:
                sock.sendall(b"GET / HT")
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
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
    assert _count(text, "connections refused at the limit") == 5


def test_a_client_resetting_mid_answer_leaves_nothing_in_the_log(
    output: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: a large body goes out a chunk at a time, and every chunk written
    after the reset, before uvicorn heard of it, was an asyncio warning."""
    caplog.set_level(logging.INFO)
    with serving(output) as server:
        assert get(server.port, "/big.json")[0] == 200  # kept: answered at once from now on
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(b"GET /big.json HTTP/1.1\r\nHost: t\r\n\r\n")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert get(server.port, "/all.json")[0] == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_request_failing_again_and_again_logs_one_traceback_and_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(url_path: str) -> dict[str, str]:
        raise RuntimeError("boom")

    (tmp_path / "all.json").write_bytes(b"{}")
    app = create_app(mark_output(tmp_path), extra_headers=broken)
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


def test_running_out_of_descriptors_is_counted_not_logged_per_try(
    output: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncio reports each failed accept, up to a backlog's worth per wake-up."""
    caplog.set_level(logging.INFO)
    with serving(output, refusal_log_interval=3600) as server:
        loop = server.refusals._loop
        assert loop is not None
        done = threading.Event()

        def report() -> None:
            for _ in range(50):
                loop.call_exception_handler(
                    {"message": "socket.accept() out of system resource", "exception": OSError()}
                )
            loop.call_exception_handler({"message": "something else went wrong"})
            done.set()

        loop.call_soon_threadsafe(report)
        assert done.wait(10)
    asyncio_lines = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert asyncio_lines == ["something else went wrong"]  # the rest as before
    summaries = " ".join(
        record.getMessage() for record in caplog.records if record.name == "feeds.connections"
    )
    assert _count(summaries, "connections not accepted for want of descriptors") == 50


def _count(text: str, what: str) -> int:
    return sum(int(n) for n in re.findall(rf"(\d+) {re.escape(what)}", text))


# --- open files ----------------------------------------------------------------------------


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "from feeds.serve.connections import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "raised = raise_open_files_limit()\n"
        "print(raised, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    raised, soft, hard = (int(n) for n in result.stdout.split())
    expected = hard if hard != resource.RLIM_INFINITY else raised
    assert raised == soft == expected
    assert soft > 256


@pytest.mark.parametrize(
    ("soft", "limit"),
    [(256, 96), (1024, 384), (4096, 2560), (16384, 10000), (1 << 20, 10000)],
)
def test_the_connection_limit_leaves_descriptors_for_files(soft: int, limit: int) -> None:
    from feeds.serve.connections import connection_limit

    assert connection_limit(soft) == limit


def test_the_service_states_its_open_files_limit() -> None:
    from feeds.serve.connections import MAX_CONNECTIONS, connection_limit
    from tests.conftest import REPO

    unit = (REPO / "systemd" / "feeds.service").read_text()
    values = [
        line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("LimitNOFILE=")
    ]
    assert len(values) == 1
    assert connection_limit(int(values[0])) == MAX_CONNECTIONS
