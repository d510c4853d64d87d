"""The request-head guard in front of uvicorn's protocol, byte by byte.

tests/serve/test_security.py shows it on a real server; here every way a
stream can be cut into reads is tried against a stand-in transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from feeds.serve.connections import MAX_HEAD_BYTES, Connections, HeadGuard, RefusalLog


class Inner(asyncio.Protocol):
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.received = b""
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return 0


class Guard(HeadGuard):
    inner = Inner
    head_timeout = 3600.0
    send_window = 3600.0
    min_send_rate = 1.0
    connections = Connections(1000, RefusalLog())


def feed(*reads: bytes) -> tuple[Guard, Transport]:
    async def run() -> tuple[Guard, Transport]:
        guard, transport = Guard(config="passed through"), Transport()
        guard.connection_made(transport)
        for data in reads:
            guard.data_received(data)
        clock = guard._heads.timer
        guard.connection_lost(None)
        guard._heads.timer = clock  # what it was before the connection went
        return guard, transport

    return asyncio.run(run())


HEAD = b"GET /all.json HTTP/1.1\r\nHost: t\r\n\r\n"


def test_uvicorns_arguments_reach_its_protocol_unchanged() -> None:
    guard, _ = feed()
    inner = guard._inner
    assert isinstance(inner, Inner)
    assert inner.kwargs == {"config": "passed through"}
    assert inner.lost


@pytest.mark.parametrize("stream", [HEAD * 2, HEAD.replace(b"\r\n", b"\n") * 2])
def test_heads_are_found_however_the_reads_cut_them(stream: bytes) -> None:
    for cut in range(len(stream) + 1):
        for second in range(cut, len(stream) + 1):
            guard, transport = feed(stream[:cut], stream[cut:second], stream[second:])
            assert guard._heads.timer is None, (cut, second)  # both heads ended: no clock
            assert guard._heads.counted == 0
            assert isinstance(guard._inner, Inner)
            assert guard._inner.received == stream
            assert not transport.closed


def test_an_unfinished_head_keeps_its_clock_running() -> None:
    for size in range(1, len(HEAD)):
        guard, _ = feed(HEAD[:size])
        assert guard._heads.timer is not None, size


def test_empty_lines_begin_no_head_and_stop_no_clock() -> None:
    guard, _ = feed(b"\r\n" * 50, b"\n\r\n\r\n")
    assert guard._heads.timer is not None
    guard, _ = feed(b"\r\n\r\n" + HEAD)
    assert guard._heads.timer is None


def test_a_head_after_a_finished_one_gets_a_clock_of_its_own() -> None:
    guard, _ = feed(HEAD, b"G")
    assert guard._heads.timer is not None
    assert guard._heads.counted == 1


def test_many_small_heads_add_up_to_no_limit() -> None:
    heads = HEAD * (MAX_HEAD_BYTES // len(HEAD) * 3)
    guard, transport = feed(heads)
    assert not transport.closed
    assert isinstance(guard._inner, Inner)
    assert guard._inner.received == heads


def test_an_unfinished_head_over_the_limit_is_refused_unseen() -> None:
    start = b"GET / HTTP/1.1\r\nX-Big: "
    guard, transport = feed(start, b"a" * MAX_HEAD_BYTES)
    assert transport.closed
    assert transport.written.startswith(b"HTTP/1.1 400 ")
    assert transport.written.endswith(b"\r\n\r\nRequest head too large.")
    assert isinstance(guard._inner, Inner)
    assert guard._inner.received == start  # the refused read never reached uvicorn


def test_a_finished_head_over_the_limit_is_left_to_the_app() -> None:
    head = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    _, transport = feed(head)
    assert not transport.closed  # the app answers 431 (test_server_security.py)


def test_the_deadline_closes_the_connection_unless_uvicorn_holds_the_bytes_back() -> None:
    async def run() -> tuple[bool, bool]:
        guard, transport = Guard(), Transport()
        guard.connection_made(transport)
        guard.data_received(b"GET / HT")
        transport.reading = False  # pipelined requests waiting their turn
        guard._heads.expired()
        held_back = transport.closed
        rearmed = guard._heads.timer is not None
        transport.reading = True
        guard._heads.expired()
        assert transport.closed
        guard.connection_lost(None)
        return held_back, rearmed

    assert asyncio.run(run()) == (False, True)


class Uvicornish(Inner):
    """Like uvicorn: one request at a time, reading paused while one waits its turn."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.waiting = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if data.endswith(b"\r\n\r\n"):
            self.waiting += 1
            if self.waiting > 1:
                assert isinstance(self.transport, asyncio.ReadTransport)
                self.transport.pause_reading()

    def answer(self) -> None:
        self.waiting -= 1
        assert isinstance(self.transport, asyncio.ReadTransport)
        self.transport.resume_reading()


class PipelineGuard(Guard):
    inner = Uvicornish


def test_requests_beyond_the_one_waiting_its_turn_are_held_and_the_socket_not_read() -> None:
    async def run() -> list[int]:
        guard, transport = PipelineGuard(), Transport()
        guard.connection_made(transport)
        inner = guard._inner
        assert isinstance(inner, Uvicornish)
        guard.data_received(HEAD * 5)
        seen = [inner.received.count(HEAD)]
        assert not transport.reading  # the rest waits in the guard, and the socket unread
        for _ in range(4):
            inner.answer()
            await asyncio.sleep(0)  # handed on from the loop, not inside uvicorn's call
            seen.append(inner.received.count(HEAD))
        assert inner.received == HEAD * 5
        assert transport.reading
        guard.connection_lost(None)
        return seen

    assert asyncio.run(run()) == [2, 3, 4, 5, 5]
