"""What one connection may cost the embedded server, and how refusals are told.

uvicorn's httptools protocol (llhttp) gets every byte and every call through
`HeadGuard`, a plain asyncio protocol in front of it, and writes through
`_Wire`, a transport in front of the real one. Between them they bound, for
each connection: how long and how large a request head may be, how many
requests are parsed ahead of their turn, how many bytes wait for a reader and
how slowly it may take them; and for the server, how many connections are
open, idle ones closed first when the limit is reached. They rely on nothing
of uvicorn's but the asyncio protocol and transport interfaces.

Refusals are counted and logged as one line per interval (`RefusalLog`), and
so are uvicorn's own per-request warnings: a client must not be able to fill
the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from contextvars import ContextVar
from typing import Any, ClassVar, cast

log = logging.getLogger("feeds.connections")

#: A request head's bytes: refused (400) while incomplete past this, and by
#: the app (431) when it arrives whole in one read.
MAX_HEAD_BYTES = 16 * 1024
#: Seconds a client gets to send a whole request head, on a new connection or
#: after its last response; idle and slowloris connections are closed after it.
HEAD_TIMEOUT = 5
#: A reader must take MIN_SEND_RATE bytes a second, measured over each
#: SEND_WINDOW seconds in which bytes wait for it, or be cut off.
SEND_WINDOW = 10.0
MIN_SEND_RATE = 1024
#: Open connections at most; fewer when the open-files limit is lower
#: (`connection_limit`). docs/RELIABILITY.md has what one costs.
MAX_CONNECTIONS = 10_000
#: Descriptors kept for everything else: files streamed or being read into the
#: memory cache, the output written by rebuilds, parse workers, the watcher.
FD_RESERVE = 1024
#: The listen queue, and so the connections asyncio accepts in one go, before
#: any of them is counted against the limit (`listen_backlog`).
MAX_BACKLOG = 512
REFUSAL_LOG_INTERVAL = 60.0
# The first refusal after a quiet spell is told soon, with what came along with it.
_FIRST_LINE_DELAY = 1.0

# What the log line counts.
IDLE_CLOSED = "idle connections closed to make room"
REFUSED_AT_LIMIT = "connections refused at the limit"
SLOW_READERS = "slow readers cut off"
SLOW_HEADS = "request heads too slow"
LARGE_HEADS = "request heads too large"
INVALID = "invalid requests"
UPGRADES = "upgrade requests"
TOO_MANY = "requests over the concurrency limit"
BUSY = "large files refused as too many at once"
OUT_OF_FILES = "connections not accepted for want of descriptors"
ERRORS = "more errors serving requests"

_TOO_LARGE = b"Request head too large."
_BAD_HEAD = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE), _TOO_LARGE)
)
_FULL = b"Too many connections."
_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n%s" % (len(_FULL), _FULL)
)


def raise_open_files_limit() -> int:
    """Raises the soft limit on open files to the hard one; returns the soft limit.

    The usual default soft limit is below the connections the server is meant
    to hold. Where the raise is not allowed, the limit stays and
    `connection_limit` scales down to it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + FD_RESERVE + 2 * MAX_BACKLOG
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as error:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, error)
            return soft
        return target
    return soft


def _soft_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1 << 30 if soft == resource.RLIM_INFINITY else soft


def listen_backlog(soft: int | None = None) -> int:
    """The listen backlog for the open-files limit ``soft`` (now: the process's).

    asyncio accepts up to this many connections in one go, each a descriptor,
    before any is offered to `Connections`; so it is part of what the limit
    must leave room for. Out of descriptors, asyncio's accept loop logs an
    error for every try, up to this many times on each wake-up.
    """
    soft = _soft_limit() if soft is None else soft
    return max(16, min(MAX_BACKLOG, soft // 16))


def connection_limit(soft: int | None = None) -> int:
    """How many connections fit in the open-files limit ``soft`` (now: the
    process's): with room for a backlog accepted at once and as many closing,
    and for `FD_RESERVE` or half the limit, whichever is less."""
    soft = _soft_limit() if soft is None else soft
    bursts = 2 * listen_backlog(soft)
    return max(1, min(MAX_CONNECTIONS, max(soft // 2, soft - FD_RESERVE) - bursts))


class RefusalLog:
    """Counts refusals by kind; one log line per interval says how many.

    Only the server's own thread calls it (connections, the app and uvicorn
    all run on its event loop), so it needs no lock.
    """

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL) -> None:
        self.interval = interval
        self._counts: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0  # when the first of the counts came
        self._quiet_until = 0.0  # no line before this
        self._errors_quiet_until = 0.0

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    def count(self, reason: str, times: int = 1) -> None:
        if not self._counts:
            self._since = time.monotonic()
        self._counts[reason] += times
        if self._timer is None and self._loop is not None and not self._loop.is_closed():
            delay = max(_FIRST_LINE_DELAY, self._quiet_until - time.monotonic())
            self._timer = self._loop.call_later(delay, self.flush)

    def error(self, logger: logging.Logger, message: str, *args: object) -> None:
        """An error serving a request, from inside its ``except``: the first of an
        interval to ``logger`` with its traceback, the others counted."""
        now = time.monotonic()
        if now >= self._errors_quiet_until:
            self._errors_quiet_until = now + self.interval
            logger.error(message, *args, exc_info=True)
        else:
            self.count(ERRORS)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._counts:
            return
        now = time.monotonic()
        counts = ", ".join(f"{times} {reason}" for reason, times in self._counts.most_common())
        seconds = max(1, round(now - self._since))
        log.warning("HTTP: refused or cut off in the last %d s: %s", seconds, counts)
        self._counts.clear()
        self._quiet_until = now + self.interval


# The refusal log of the server running on each thread, for uvicorn's records
# and for the app, which know nothing of the server they run in.
_LOGS: dict[int, RefusalLog] = {}
_LOGS_LOCK = threading.Lock()


def refusals_here() -> RefusalLog | None:
    """The refusal log of the server whose thread this is, if any."""
    return _LOGS.get(threading.get_ident())


class _UvicornWarnings(logging.Filter):
    """uvicorn warns once per bad request on `uvicorn.error`; a server's own
    records become counts in its refusal log."""

    COUNTED: ClassVar[dict[str, str]] = {
        "Invalid HTTP request received.": INVALID,
        "Unsupported upgrade request.": UPGRADES,
        "Exceeded concurrency limit.": TOO_MANY,
    }
    # Said along with the upgrade warning, which is counted already.
    DROPPED = ("No supported WebSocket library detected",)

    def filter(self, record: logging.LogRecord) -> bool:
        refusals = _LOGS.get(record.thread) if record.thread is not None else None
        if refusals is None or not isinstance(record.msg, str):
            return True
        reason = self.COUNTED.get(record.msg)
        if reason is not None:
            refusals.count(reason)
            return False
        return not record.msg.startswith(self.DROPPED)


_FILTER = _UvicornWarnings()


def serving_thread(refusals: RefusalLog) -> None:
    """Called on a server's thread before it serves: its records go to ``refusals``."""
    with _LOGS_LOCK:
        _LOGS[threading.get_ident()] = refusals
        uvicorn_log = logging.getLogger("uvicorn.error")
        if _FILTER not in uvicorn_log.filters:
            uvicorn_log.addFilter(_FILTER)


def serving_thread_done() -> None:
    with _LOGS_LOCK:
        _LOGS.pop(threading.get_ident(), None)


class Connections:
    """The open connections of one server: at most ``limit``, and when a new
    one would go past it, the one idle longest is closed to make room.

    Idle means waiting for a request, with nothing of one received and nothing
    left to send: such a connection costs a descriptor and a little memory and
    is worth less than a new one, whose client is about to ask something (the
    way nginx reuses idle keep-alive connections when it runs short). Only
    when none is idle is the new connection refused, with a 503.
    """

    def __init__(self, limit: int, refusals: RefusalLog) -> None:
        self.limit = limit
        self.refusals = refusals
        self._open: set[HeadGuard] = set()
        self._idle: OrderedDict[HeadGuard, None] = OrderedDict()

    @property
    def open(self) -> int:
        return len(self._open)

    def buffered(self) -> int:
        """Bytes waiting in the server's transports for their readers, in all."""
        return sum(guard.buffered() for guard in list(self._open))

    def admit(self, guard: HeadGuard) -> bool:
        if len(self._open) >= self.limit and not self._make_room():
            self.refusals.count(REFUSED_AT_LIMIT)
            return False
        self._open.add(guard)
        return True

    def idle(self, guard: HeadGuard) -> None:
        if guard in self._open:
            self._idle[guard] = None
            self._idle.move_to_end(guard)

    def busy(self, guard: HeadGuard) -> None:
        self._idle.pop(guard, None)

    def closed(self, guard: HeadGuard) -> None:
        self._idle.pop(guard, None)
        self._open.discard(guard)

    def _make_room(self) -> bool:
        while self._idle:
            guard, _ = self._idle.popitem(last=False)
            if guard.close_if_idle():
                self._open.discard(guard)
                self.refusals.count(IDLE_CLOSED)
                return True
        return False


# The connection whose bytes are being parsed; a request's task is created
# while they are, so the app finds its connection here (`request_answered`).
_CURRENT: ContextVar[HeadGuard | None] = ContextVar("feeds_connection", default=None)


def request_answered() -> None:
    """Called by the app wrapper once a request has its whole answer."""
    guard = _CURRENT.get()
    if guard is not None:
        guard.answered()


class _Wire(asyncio.Transport):
    """The transport uvicorn's protocol is given: the real one, with every byte
    it writes counted (for the send floor) and its pauses of reading kept apart
    from the guard's own (for requests held back)."""

    def __init__(self, guard: HeadGuard, real: asyncio.Transport, floor: _SendFloor) -> None:
        super().__init__()
        self._guard = guard
        self._real = real
        self._floor = floor
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._real.is_closing():
            # Gone (a reset, a cut-off) before uvicorn hears of it: asyncio would
            # drop these too, with a warning for each past the first few.
            return
        self._real.write(data)
        self._floor.wrote(memoryview(data).nbytes)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def pause_reading(self) -> None:
        self.paused = True
        self._guard.reading_changed()

    def resume_reading(self) -> None:
        self.paused = False
        self._guard.reading_changed()

    def is_reading(self) -> bool:
        return not self.paused and not self._real.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._real.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._real.is_closing()

    def close(self) -> None:
        self._real.close()

    def abort(self) -> None:
        self._real.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._real.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._real.get_protocol()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._real.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._real.get_write_buffer_limits()

    def write_eof(self) -> None:
        self._real.write_eof()

    def can_write_eof(self) -> bool:
        return self._real.can_write_eof()


def _head_end(data: bytes, start: int) -> int:
    """Where the first empty line at or after ``start`` ends, else -1.

    Bare LF line ends count as llhttp takes them; a head never holds an empty line.
    """
    ends = [end for end in (data.find(b"\n\n", start), data.find(b"\n\r\n", start)) if end >= 0]
    if not ends:
        return -1
    end = min(ends)
    return end + (2 if data.startswith(b"\n\n", end) else 3)


class HeadGuard(asyncio.Protocol):
    """A deadline and a size limit for each request head, one request parsed at
    a time, a floor under the rate a reader takes its answer, and the
    connection limit, in front of uvicorn's httptools (llhttp) protocol.

    Heads (`_Heads`): uvicorn arms its keep-alive timer only after a response
    and cancels it on any byte received, so a connection that never sends a
    request, or sends it a byte at a time, would stay open for ever. Here each
    head has ``head_timeout`` seconds from the connection's start, or from its
    first byte after the last head; only its end stops the clock. llhttp has
    no bound on a head's size, so the bytes received towards one are counted
    here. Heads are found by their empty line alone: a request with a body is
    refused and its connection closed.

    Pipelining: llhttp parses every request in a read, and uvicorn keeps all
    but the first waiting, each far larger than its bytes. Bytes go to
    uvicorn a head at a time; once it pauses reading (a request is waiting
    its turn) the rest is held here, in the bytes it came in, with the socket
    no longer read, until uvicorn resumes.

    Readers (`_SendFloor`): asyncio keeps every byte written that the socket
    does not take. Once bytes wait for a reader it must take
    ``min_send_rate`` a second over each ``send_window``, or the connection
    is cut off: else a reader taking a few bytes a second holds its
    connection, and its buffer, for hours.
    """

    inner: type[asyncio.Protocol]
    head_timeout: float
    send_window: float
    min_send_rate: float
    connections: Connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # uvicorn's own arguments, whatever they are, are for the protocol it chose.
        self._inner = self.inner(*args, **kwargs)
        self.transport: asyncio.Transport | None = None
        self._wire: _Wire | None = None
        self._admitted = False
        self._heads = _Heads(self)
        self._held = b""  # bytes received beyond the request waiting its turn
        self._release: asyncio.Handle | None = None
        self._floor = _SendFloor(self)

    # --- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if not self.connections.admit(self):
            self.transport.write(_UNAVAILABLE)
            self.transport.close()
            return
        self._admitted = True
        self._wire = _Wire(self, self.transport, self._floor)
        self._inner.connection_made(self._wire)
        self._heads.start_clock()
        self.maybe_idle()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._held:
            self._held += data
            return
        self._feed(data)

    def eof_received(self) -> bool | None:
        if not self._admitted:
            return None
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._heads.stop_clock()
        self._floor.stop()
        if self._release is not None:
            self._release.cancel()
            self._release = None
        self._held = b""
        self.connections.closed(self)
        if self._admitted:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()

    # --- for the connections, the wire and the app ------------------------------

    def buffered(self) -> int:
        transport = self.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def close_if_idle(self) -> bool:
        if not self._idle():
            return False
        assert self.transport is not None
        self.transport.close()
        return True

    def answered(self) -> None:
        self._heads.unanswered = max(0, self._heads.unanswered - 1)
        self.maybe_idle()

    def reading_changed(self) -> None:
        wire = self._wire
        if wire is not None and not wire.paused and self._held and self._release is None:
            # Not from inside uvicorn's own call: it may be about to start the
            # request that was waiting, which must go before any held one.
            self._release = asyncio.get_running_loop().call_soon(self._release_held)
        self._update_reading()

    # --- request heads ----------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        """Passes ``data`` on a head at a time, holding what uvicorn is not ready for."""
        position, size = 0, len(data)
        while position < size:
            end = self._heads.scan(data, position)
            if end < 0:
                return
            piece = data if position == 0 and end == size else data[position:end]
            token = _CURRENT.set(self)
            try:
                self._inner.data_received(piece)
            finally:
                _CURRENT.reset(token)
            position = end
            wire, transport = self._wire, self.transport
            if transport is None or transport.is_closing():
                return  # refused by uvicorn: the rest is not for it
            if position < size and wire is not None and wire.paused:
                self._held = data[position:]
                self._update_reading()
                return

    # --- requests held back --------------------------------------------------------

    def _release_held(self) -> None:
        self._release = None
        transport, wire = self.transport, self._wire
        if transport is None or wire is None or transport.is_closing() or wire.paused:
            return
        data, self._held = self._held, b""
        self._feed(data)
        self._update_reading()

    def _update_reading(self) -> None:
        transport, wire = self.transport, self._wire
        if transport is None or wire is None or transport.is_closing():
            return
        if wire.paused or self._held:
            if transport.is_reading():
                transport.pause_reading()
        elif not transport.is_reading():
            transport.resume_reading()

    # --- idleness ---------------------------------------------------------------------

    def _idle(self) -> bool:
        transport = self.transport
        return (
            self._admitted
            and not self._heads.begun
            and not self._heads.unanswered
            and not self._held
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        )

    def maybe_idle(self) -> None:
        if self._idle():
            self.connections.idle(self)


class _Heads:
    """The request heads of one connection, followed through its bytes: where
    each ends, how many bytes it has come to, and its deadline."""

    __slots__ = ("_guard", "_tail", "begun", "counted", "timer", "unanswered")

    def __init__(self, guard: HeadGuard) -> None:
        self._guard = guard
        self.timer: asyncio.TimerHandle | None = None
        self.counted = 0  # bytes of the head under way
        self.begun = False  # a byte other than CR or LF has come for it
        self._tail = b""  # its last bytes, to find an empty line split between reads
        self.unanswered = 0  # heads passed on whose requests have no answer yet

    def scan(self, data: bytes, position: int) -> int:
        """Follows the head under way through ``data[position:]``: where the
        first head to end there ends, else ``len(data)``; -1 once refused."""
        size = len(data)
        if self.timer is None:
            self.start_clock()
        if not self.begun:
            # Empty lines before a request line are allowed, and begin nothing.
            skipped = (size - position) - len(data[position:].lstrip(b"\r\n"))
            self.counted += skipped
            position += skipped
            if position == size:
                return self._within_limit(size)
            self.begun = True
            self._guard.connections.busy(self._guard)
        end = -1
        if self._tail:
            joined = self._tail + data[position : position + 2]
            end = _head_end(joined, 0)
            if end >= 0:
                end = position + end - len(self._tail)
        if end < 0:
            end = _head_end(data, position)
        if end < 0:
            self.counted += size - position
            self._tail = (self._tail + data[max(position, size - 2) :])[-2:]
            return self._within_limit(size)
        self.counted = 0
        self.begun = False
        self._tail = b""
        self.stop_clock()
        self.unanswered += 1
        return end

    def _within_limit(self, end: int) -> int:
        transport = self._guard.transport
        if self.counted <= MAX_HEAD_BYTES or transport is None:
            return end
        if not transport.is_closing():
            self._guard.connections.refusals.count(LARGE_HEADS)
            transport.write(_BAD_HEAD)
            transport.close()
        return -1

    def start_clock(self) -> None:
        self.timer = asyncio.get_running_loop().call_later(self._guard.head_timeout, self.expired)

    def stop_clock(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expired(self) -> None:
        self.timer = None
        transport = self._guard.transport
        if transport is None or transport.is_closing():
            return
        if not transport.is_reading():
            # Bytes are held back (pipelined requests wait their turn): the
            # client is not the one late.
            self.start_clock()
            return
        if self.begun:
            self._guard.connections.refusals.count(SLOW_HEADS)
        transport.close()


class _SendFloor:
    """The rate one connection's reader takes its answer at, checked over each
    send window in which bytes wait for it; a reader too slow is cut off."""

    __slots__ = ("_guard", "_mark", "_timer", "_written")

    def __init__(self, guard: HeadGuard) -> None:
        self._guard = guard
        self._written = 0  # bytes uvicorn has written
        self._timer: asyncio.TimerHandle | None = None
        self._mark = 0  # bytes gone to the socket at the last check

    def wrote(self, size: int) -> None:
        self._written += size
        guard = self._guard
        if self._timer is None and guard.buffered() > 0:
            self._mark = self._written - guard.buffered()
            self._timer = asyncio.get_running_loop().call_later(guard.send_window, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        guard = self._guard
        transport = guard.transport
        if transport is None:
            return
        waiting = transport.get_write_buffer_size()
        if waiting == 0:
            guard.maybe_idle()
            return
        sent = self._written - waiting
        if sent - self._mark < guard.min_send_rate * guard.send_window:
            guard.connections.refusals.count(SLOW_READERS)
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # A reset, not a close: else the kernel keeps what the reader has
                # not taken and goes on trickling it out after the socket is gone.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            return
        self._mark = sent
        self._timer = asyncio.get_running_loop().call_later(guard.send_window, self._check)


def guarded(
    inner: type[asyncio.Protocol],
    connections: Connections,
    *,
    head_timeout: float = HEAD_TIMEOUT,
    send_window: float = SEND_WINDOW,
    min_send_rate: float = MIN_SEND_RATE,
) -> type[asyncio.Protocol]:
    """``inner`` behind a `HeadGuard` with these limits: the class uvicorn is given."""
    return type(
        "HeadGuard",
        (HeadGuard,),
        {
            "inner": inner,
            "connections": connections,
            "head_timeout": head_timeout,
            "send_window": send_window,
            "min_send_rate": min_send_rate,
        },
    )
