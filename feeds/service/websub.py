"""W3C WebSub, publisher side: tell the configured hubs which feeds changed.

`HubNotifier.notify()` only records the work and returns, so a rebuild never
waits on the network. Each hub has its own worker thread and its own queue of
feed URLs ordered by when they are next due: a slow or dead hub then only ever
delays itself, and its retries wait in the queue instead of in a sleeping
thread. Hubs are told with one form-encoded POST per feed URL
(``hub.mode=publish&hub.url=...``), the form every hub understands.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from feeds import __version__
from feeds.urls import check_http_url

log = logging.getLogger("feeds.websub")

USER_AGENT = f"feeds/{__version__} (+WebSub publisher)"
_FORM = "application/x-www-form-urlencoded"
#: Worker threads are named with this prefix, one per hub.
THREAD_NAME = "feeds-websub"


@dataclass(slots=True)
class _Job:
    feed_url: str
    attempts: int = 0  # made so far


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["ok", "retry", "fail"]
    reason: str
    retry_after: float | None = None


class _ConnectionCutter:
    """Holds the connection a hub's worker has open, so that close() can cut it.

    urllib offers no way to interrupt a request from another thread. Shutting
    the socket down makes a blocked TLS handshake or read return at once, so
    close() need not wait out the request timeout of a hub that hangs. The
    cutter keeps its own duplicate of the socket: shutting that down cuts the
    connection whatever urllib or ssl did with their descriptor meanwhile.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._cut = False
        self.tls_context = _tls_context(self)

    def hold(self, sock: socket.socket) -> None:
        """Keeps the connection of ``sock`` to cut; refuses it once cut."""
        with self._lock:
            if self._cut:
                raise ConnectionAbortedError("the WebSub notifier is closing")
            if self._sock is None:
                # fromfd duplicates the descriptor; an SSLSocket cannot dup().
                self._sock = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)

    def done(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            if self._sock is not None:
                # Already gone means there is nothing left to cut.
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def plain(self, host: str, /, **kwargs: Any) -> http.client.HTTPConnection:
        return _HTTPConnection(self, host, **kwargs)

    def tls(self, host: str, /, **kwargs: Any) -> http.client.HTTPConnection:
        return _HTTPSConnection(self, host, context=self.tls_context, **kwargs)


def _tls_context(cutter: _ConnectionCutter) -> ssl.SSLContext:
    """http.client's default context, whose sockets the cutter holds before
    their handshake (``sslsocket_class`` is documented to be replaceable)."""

    class HeldSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            cutter.hold(self)
            super().do_handshake(block)

    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    context.sslsocket_class = HeldSSLSocket
    return context


class _Held(http.client.HTTPConnection):
    """Gives the cutter every socket before anything waits on it: after
    connect() for a plain request, and at send() for a proxy's CONNECT,
    which connect() itself sends and waits on."""

    def __init__(self, cutter: _ConnectionCutter, host: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.hub_cutter = cutter

    def connect(self) -> None:
        super().connect()
        self.hub_cutter.hold(self.sock)

    def send(self, data: Any) -> None:
        if self.sock is not None:
            self.hub_cutter.hold(self.sock)
        super().send(data)


class _HTTPConnection(_Held):
    pass


class _HTTPSConnection(_Held, http.client.HTTPSConnection):
    pass


class _Handler(urllib.request.AbstractHTTPHandler):
    """Opens http and https connections that the hub's cutter can cut."""

    def __init__(self, cutter: _ConnectionCutter) -> None:
        super().__init__()
        self._cutter = cutter

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._cutter.plain, req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._cutter.tls, req)

    http_request = urllib.request.AbstractHTTPHandler.do_request_
    https_request = urllib.request.AbstractHTTPHandler.do_request_


def _opener(cutter: _ConnectionCutter) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()
    # No redirect handler on purpose: urllib turns a redirected POST into a GET
    # without the form, which a hub may well answer with 200. A redirect is
    # reported instead, so that the configured hub URL gets fixed.
    for handler in (
        urllib.request.ProxyHandler(),
        _Handler(cutter),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


@dataclass(eq=False)
class _Hub:
    url: str
    wakeup: threading.Condition
    cutter: _ConnectionCutter = field(default_factory=_ConnectionCutter)
    pending: dict[str, _Job] = field(default_factory=dict)
    #: (due on the monotonic clock, tie-breaker, job); one entry per pending job.
    due: list[tuple[float, int, _Job]] = field(default_factory=list)
    sending: _Job | None = None
    thread: threading.Thread | None = None


@dataclass(frozen=True, slots=True)
class _Retries:
    """How often a notification is tried, and how long apart."""

    attempts: int
    first_delay: float
    max_delay: float
    factor: float

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.first_delay < 0 or self.max_delay < 0:
            raise ValueError("delays cannot be negative")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before the next try, after ``attempts`` made so far."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        try:
            delay = self.first_delay * self.factor ** (attempts - 1)
        except OverflowError:
            return self.max_delay
        return min(delay, self.max_delay)


class HubNotifier:
    """Tells WebSub hubs about changed feeds, in the background, with retries."""

    def __init__(
        self,
        hubs: Sequence[str],
        *,
        attempts: int = 5,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        timeout: float = 10.0,
        factor: float = 2.0,
    ) -> None:
        if isinstance(hubs, str):
            raise TypeError("hubs must be a sequence of URLs, not one string")
        self._retries = _Retries(attempts, first_delay, max_delay, factor)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._timeout = timeout
        # One lock for all state; each hub's condition wakes just its worker.
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._order = itertools.count()
        self._hubs: list[_Hub] = []
        for url in dict.fromkeys(hubs):
            try:
                checked = check_http_url(url)
            except ValueError as error:
                raise ValueError(f"WebSub hub {url!r} {error}") from None
            self._hubs.append(_Hub(checked, threading.Condition(self._lock)))
        for number, hub in enumerate(self._hubs, 1):
            hub.thread = threading.Thread(
                target=self._work,
                args=(hub, _opener(hub.cutter)),
                name=f"{THREAD_NAME}-{number}",
                # A hub stuck in connect() must never keep the process alive.
                daemon=True,
            )
            hub.thread.start()

    @property
    def hubs(self) -> tuple[str, ...]:
        return tuple(hub.url for hub in self._hubs)

    def notify(self, feed_urls: Iterable[str]) -> None:
        """Queues a notification of each feed URL to every hub; never blocks on a hub."""
        if isinstance(feed_urls, str):
            raise TypeError("notify() takes an iterable of feed URLs, not one string")
        if not self._hubs:
            return
        urls = list(dict.fromkeys(feed_urls))
        if not urls:
            return
        now = time.monotonic()
        with self._lock:
            if self._closed:
                log.debug("notifier closed; not notifying hubs of %d feed(s)", len(urls))
                return
            for hub in self._hubs:
                queued = False
                for url in urls:
                    # A job still waiting covers this change too. One already
                    # in flight does not: the hub may have fetched the feed
                    # before this change was written.
                    if url not in hub.pending:
                        job = _Job(url)
                        hub.pending[url] = job
                        heapq.heappush(hub.due, (now, next(self._order), job))
                        queued = True
                if queued:
                    hub.wakeup.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no notification is pending or in flight; False on timeout."""
        with self._lock:
            return self._idle.wait_for(self._is_idle, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stops the workers, dropping notifications not yet delivered."""
        deadline = time.monotonic() + timeout
        with self._lock:
            first_close = not self._closed
            self._closed = True
            dropped = 0
            for hub in self._hubs:
                dropped += len(hub.pending) + (hub.sending is not None)
                hub.pending.clear()
                hub.due.clear()
                hub.wakeup.notify_all()
            self._idle.notify_all()
        for hub in self._hubs:
            hub.cutter.cut()
        if first_close and dropped:
            log.info("dropped %d undelivered hub notification(s) on shutdown", dropped)
        for hub in self._hubs:
            if hub.thread is not None:
                hub.thread.join(max(0.0, deadline - time.monotonic()))
        busy = [hub.url for hub in self._hubs if hub.thread is not None and hub.thread.is_alive()]
        if busy:
            # Only a connect() or name lookup still under way can get here; its
            # daemon thread ends within the request timeout and sends nothing.
            log.info("still connecting to %s; not waiting for it", ", ".join(busy))

    # --- worker ----------------------------------------------------------

    def _is_idle(self) -> bool:
        return all(not hub.pending and hub.sending is None for hub in self._hubs)

    def _work(self, hub: _Hub, opener: urllib.request.OpenerDirector) -> None:
        while True:
            with self._lock:
                job = self._next_job(hub)
                if job is None:
                    return
            try:
                outcome = _send(hub, opener, job.feed_url, self._timeout)
            except Exception as error:
                # Whatever went wrong, the worker must live on for the next feed.
                log.exception("unexpected error notifying hub %s of %s", hub.url, job.feed_url)
                outcome = _Outcome("fail", f"unexpected {type(error).__name__}")
            with self._lock:
                hub.sending = None
                if not self._closed:
                    self._settle(hub, job, outcome)
                self._idle.notify_all()

    def _next_job(self, hub: _Hub) -> _Job | None:
        """Waits for the hub's next due job (lock held); None once closed."""
        while not self._closed:
            if not hub.due:
                hub.wakeup.wait()
                continue
            wait = hub.due[0][0] - time.monotonic()
            if wait > 0:
                hub.wakeup.wait(wait)
                continue
            _, _, job = heapq.heappop(hub.due)
            del hub.pending[job.feed_url]
            job.attempts += 1
            hub.sending = job
            return job
        return None

    def _settle(self, hub: _Hub, job: _Job, outcome: _Outcome) -> None:
        """Logs the outcome of one attempt and schedules a retry (lock held)."""
        if outcome.kind == "ok":
            log.debug("notified hub %s of %s (%s)", hub.url, job.feed_url, outcome.reason)
            return
        if outcome.kind == "fail":
            log.warning(
                "hub %s refused the notification of %s: %s; not retrying",
                hub.url,
                job.feed_url,
                outcome.reason,
            )
            return
        if job.feed_url in hub.pending:
            # The feed changed again meanwhile; that queued job is the retry.
            return
        if job.attempts >= self._retries.attempts:
            log.warning(
                "gave up notifying hub %s of %s after %d attempt(s): %s",
                hub.url,
                job.feed_url,
                job.attempts,
                outcome.reason,
            )
            return
        delay = self._retries.delay(job.attempts, outcome.retry_after)
        log.debug(
            "notifying hub %s of %s failed (attempt %d of %d): %s; retrying in %.2f s",
            hub.url,
            job.feed_url,
            job.attempts,
            self._retries.attempts,
            outcome.reason,
            delay,
        )
        hub.pending[job.feed_url] = job
        heapq.heappush(hub.due, (time.monotonic() + delay, next(self._order), job))


def _send(
    hub: _Hub, opener: urllib.request.OpenerDirector, feed_url: str, timeout: float
) -> _Outcome:
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode("ascii")
    # Hub URLs come from the config and were checked to be http(s) by HubNotifier.
    request = urllib.request.Request(  # noqa: S310
        hub.url,
        data=body,
        method="POST",
        headers={"Content-Type": _FORM, "User-Agent": USER_AGENT},
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return _Outcome("ok", f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        with error:  # holds the open response; closing it frees the socket
            return _judge(error.code, error.reason, error.headers)
    except urllib.error.URLError as error:
        return _Outcome("retry", str(error.reason))
    except (OSError, http.client.HTTPException) as error:
        return _Outcome("retry", str(error) or type(error).__name__)
    finally:
        hub.cutter.done()


def _judge(status: int, reason: str, headers: Message) -> _Outcome:
    text = f"HTTP {status} {reason}".rstrip()
    # 408 is the hub timing out on us: as transient as our own timeout.
    if status >= 500 or status in (408, 429):
        return _Outcome("retry", text, _retry_after(headers.get("Retry-After")))
    if 300 <= status < 400 and headers.get("Location"):
        text += f" (redirects to {headers['Location']})"
    return _Outcome("fail", text)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
