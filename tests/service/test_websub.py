"""The WebSub publisher, tested against small hubs served on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import pytest

from feeds import __version__
from feeds.service.websub import THREAD_NAME, HubNotifier

#: Deadline for anything that should happen; tests poll, so passing ones are fast.
WAIT = 5.0
#: How long a gated hub holds a request at most; teardown releases it sooner.
HANG = 10.0

FEED_A = "https://feeds.example/all.atom.xml"
FEED_B = "https://feeds.example/topics/ai.rss.xml"
FEED_C = "https://feeds.example/topics/ai.json"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Message
    body: bytes
    at: float  # monotonic time the hub read the request

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


class FakeHub:
    """A WebSub hub that records every request and answers from a script."""

    def __init__(self) -> None:
        #: Consumed one per request; once empty, the hub answers 204.
        self.replies: deque[tuple[int, dict[str, str]]] = deque()
        #: While this is unset, each request waits for it (a hub that hangs).
        self.gate = threading.Event()
        self.gate.set()
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._server = _HubServer(("127.0.0.1", 0), _HubHandler)
        self._server.hub = self
        # A short poll keeps shutdown() quick; the default 0.5 s adds up over the module.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hub"

    def hang(self) -> None:
        self.gate.clear()

    def record(self, request: Received) -> None:
        with self._changed:
            self._received.append(request)
            self._changed.notify_all()

    def reply(self) -> tuple[int, dict[str, str]]:
        with self._changed:
            return self.replies.popleft() if self.replies else (204, {})

    @property
    def received(self) -> list[Received]:
        with self._changed:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Received]:
        """The requests once there are at least ``count``; fails the test on timeout."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._received) >= count, timeout)
            assert arrived, f"hub got {len(self._received)} request(s), expected {count}"
            return list(self._received)

    def feed_urls(self) -> list[str]:
        return [url for request in self.received for url in request.form.get("hub.url", [])]

    def stop(self) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT)


class _HubServer(ThreadingHTTPServer):
    hub: FakeHub

    def handle_error(self, request: object, client_address: object) -> None:
        # The notifier cuts connections on close(); a hub that then answers
        # into a dead socket is expected, not worth a traceback.
        pass


class _HubHandler(BaseHTTPRequestHandler):
    server: _HubServer

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        hub = self.server.hub
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hub.record(Received(self.command, self.path, self.headers, body, time.monotonic()))
        hub.gate.wait(HANG)
        status, headers = hub.reply()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


MakeHub = Callable[[], FakeHub]
MakeNotifier = Callable[..., HubNotifier]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would send loopback requests elsewhere.
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def make_hub() -> Iterator[MakeHub]:
    hubs: list[FakeHub] = []

    def make() -> FakeHub:
        hubs.append(FakeHub())
        return hubs[-1]

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture
def make_notifier() -> Iterator[MakeNotifier]:
    notifiers: list[HubNotifier] = []

    def make(hubs: list[str], **options: Any) -> HubNotifier:
        notifiers.append(HubNotifier(hubs, **options))
        return notifiers[-1]

    yield make
    for notifier in notifiers:
        notifier.close(timeout=2.0)


def dead_hub_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


def websub_threads(exclude: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread.name.startswith(THREAD_NAME) and thread not in exclude
    ]


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "feeds.websub" and record.levelno == logging.WARNING
    ]


# --- what the hub receives ----------------------------------------------------


def test_hub_receives_a_form_encoded_publish_post(
    make_hub: MakeHub, make_notifier: MakeNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="feeds.websub")
    hub = make_hub()
    notifier = make_notifier([hub.url])
    # Characters that must be escaped in a form: the URL has to arrive intact.
    feed = "https://feeds.example/topics/künstliche intelligenz.atom.xml?a=1&b=2#x"

    notifier.notify([feed])

    assert notifier.wait_idle(WAIT)
    [request] = hub.received
    assert request.method == "POST"
    assert request.path == "/hub"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == f"feeds/{__version__} (+WebSub publisher)"
    assert parse_qsl(request.body.decode("ascii"), strict_parsing=True) == [
        ("hub.mode", "publish"),
        ("hub.url", feed),
    ]
    successes = [
        record.getMessage()
        for record in caplog.records
        if record.name == "feeds.websub" and record.levelno == logging.DEBUG
    ]
    assert any(hub.url in message and feed in message for message in successes)
    assert warnings_from(caplog) == []


def test_every_feed_url_goes_to_every_hub_once(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    hubs = [make_hub(), make_hub()]
    notifier = make_notifier([hub.url for hub in hubs])

    notifier.notify([FEED_A, FEED_B, FEED_C])

    assert notifier.wait_idle(WAIT)
    for hub in hubs:
        assert sorted(hub.feed_urls()) == sorted([FEED_A, FEED_B, FEED_C])
        assert all(request.form["hub.mode"] == ["publish"] for request in hub.received)


def test_duplicates_of_a_pending_notification_are_coalesced(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    hub = make_hub()
    hub.hang()
    notifier = make_notifier([hub.url])
    notifier.notify([FEED_A])
    hub.wait_for(1)  # A is in flight, so what follows stays pending

    notifier.notify([FEED_B, FEED_B, FEED_C])
    notifier.notify([FEED_C, FEED_B])
    notifier.notify([FEED_B])
    hub.gate.set()

    assert notifier.wait_idle(WAIT)
    assert hub.feed_urls() == [FEED_A, FEED_B, FEED_C]


def test_a_feed_notified_again_while_in_flight_is_sent_again(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    # The hub may fetch the feed before the newer change is written, so the
    # in-flight notification does not cover it.
    hub = make_hub()
    hub.hang()
    notifier = make_notifier([hub.url])
    notifier.notify([FEED_A])
    hub.wait_for(1)

    notifier.notify([FEED_A])
    hub.gate.set()

    assert notifier.wait_idle(WAIT)
    assert hub.feed_urls() == [FEED_A, FEED_A]


# --- retries ------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried_until_success(
    make_hub: MakeHub,
    make_notifier: MakeNotifier,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    hub = make_hub()
    hub.replies.extend([(status, {}), (status, {})])
    notifier = make_notifier([hub.url], first_delay=0.01)

    notifier.notify([FEED_A])

    assert notifier.wait_idle(WAIT)
    assert hub.feed_urls() == [FEED_A] * 3
    assert warnings_from(caplog) == []


def test_retries_back_off_exponentially_up_to_the_max_delay(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    hub = make_hub()
    hub.replies.extend([(503, {})] * 4)
    notifier = make_notifier([hub.url], first_delay=0.05, max_delay=0.15)

    notifier.notify([FEED_A])

    assert notifier.wait_idle(WAIT)
    times = [request.at for request in hub.wait_for(5)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Due 0.05, 0.1, then 0.2 and 0.4 both capped at 0.15.
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    assert gaps[2] >= 0.15
    assert 0.15 <= gaps[3] < 0.35


def test_gives_up_after_the_configured_attempts(
    make_hub: MakeHub, make_notifier: MakeNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    hub = make_hub()
    hub.replies.extend([(503, {})] * 10)
    notifier = make_notifier([hub.url], attempts=3, first_delay=0.01)

    notifier.notify([FEED_A])

    assert notifier.wait_idle(WAIT)
    assert hub.feed_urls() == [FEED_A] * 3
    [warning] = warnings_from(caplog)
    assert hub.url in warning
    assert FEED_A in warning
    assert "3 attempt" in warning


def test_retry_after_is_honoured(make_hub: MakeHub, make_notifier: MakeNotifier) -> None:
    hub = make_hub()
    hub.replies.append((503, {"Retry-After": "1"}))
    notifier = make_notifier([hub.url], first_delay=0.01, max_delay=5.0)

    notifier.notify([FEED_A])

    first, second = hub.wait_for(2)
    assert second.at - first.at >= 1.0
    assert notifier.wait_idle(WAIT)


@pytest.mark.parametrize("retry_after", ["3600", "Fri, 31 Dec 2100 23:59:59 GMT"])
def test_retry_after_is_capped_at_the_max_delay(
    make_hub: MakeHub, make_notifier: MakeNotifier, retry_after: str
) -> None:
    hub = make_hub()
    hub.replies.append((429, {"Retry-After": retry_after}))
    notifier = make_notifier([hub.url], first_delay=0.01, max_delay=0.3)

    notifier.notify([FEED_A])

    first, second = hub.wait_for(2)
    # At least the cap: the header was read (the backoff alone would be 0.01 s).
    assert 0.3 <= second.at - first.at < 3.0
    assert notifier.wait_idle(WAIT)


@pytest.mark.parametrize(
    ("status", "headers"),
    [(400, {}), (404, {}), (301, {"Location": "/moved"})],
)
def test_client_errors_and_redirects_are_not_retried(
    make_hub: MakeHub,
    make_notifier: MakeNotifier,
    caplog: pytest.LogCaptureFixture,
    status: int,
    headers: dict[str, str],
) -> None:
    hub = make_hub()
    hub.replies.append((status, headers))
    notifier = make_notifier([hub.url], first_delay=0.01)

    notifier.notify([FEED_A])

    # Idle means nothing is scheduled either: no retry can come later.
    assert notifier.wait_idle(WAIT)
    # Also no redirect followed (urllib would have turned it into a GET).
    assert [(request.method, request.path) for request in hub.received] == [("POST", "/hub")]
    [warning] = warnings_from(caplog)
    assert hub.url in warning
    assert FEED_A in warning
    assert str(status) in warning
    assert "hub.mode" not in warning


def test_a_dead_hub_is_retried_and_given_up_without_delaying_a_healthy_one(
    make_hub: MakeHub, make_notifier: MakeNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    dead = dead_hub_url()
    healthy = make_hub()
    notifier = make_notifier(
        [dead, healthy.url], attempts=3, first_delay=0.5, max_delay=0.5, timeout=2.0
    )

    started = time.monotonic()
    notifier.notify([FEED_A, FEED_B])

    healthy.wait_for(2)
    assert time.monotonic() - started < 0.4
    assert not notifier.wait_idle(0)  # the dead hub is still being retried
    assert warnings_from(caplog) == []

    assert notifier.wait_idle(WAIT)
    assert sorted(healthy.feed_urls()) == [FEED_A, FEED_B]
    warnings = warnings_from(caplog)
    assert len(warnings) == 2
    for feed in (FEED_A, FEED_B):
        [warning] = [message for message in warnings if feed in message]
        assert dead in warning
        assert "3 attempt" in warning


def test_a_hanging_hub_does_not_delay_other_hubs(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    stuck, healthy = make_hub(), make_hub()
    stuck.hang()
    notifier = make_notifier([stuck.url, healthy.url])

    started = time.monotonic()
    notifier.notify([FEED_A, FEED_B])

    healthy.wait_for(2)
    assert time.monotonic() - started < 1.0  # the stuck hub holds a request for HANG s
    assert sorted(healthy.feed_urls()) == [FEED_A, FEED_B]
    assert len(stuck.wait_for(1)) == 1  # still hanging on the first one
    assert not notifier.wait_idle(0)


# --- never blocking, and stopping ---------------------------------------------


def test_notify_returns_at_once_while_the_hub_is_slow(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    hub = make_hub()
    hub.hang()
    notifier = make_notifier([hub.url])

    started = time.monotonic()
    notifier.notify([FEED_A])
    first_call = time.monotonic() - started
    hub.wait_for(1)
    started = time.monotonic()
    notifier.notify([FEED_B, FEED_C])
    second_call = time.monotonic() - started

    # The hub holds each request for up to HANG seconds.
    assert first_call < 0.1
    assert second_call < 0.1
    assert len(hub.received) == 1
    assert not notifier.wait_idle(0)


def test_close_returns_within_its_timeout_while_a_hub_hangs(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="feeds.websub")
    hub = make_hub()
    hub.hang()
    others = set(threading.enumerate())
    notifier = HubNotifier([hub.url], timeout=HANG)
    notifier.notify([FEED_A, FEED_B])
    hub.wait_for(1)  # one request in flight, one pending

    started = time.monotonic()
    notifier.close(timeout=1.0)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    # Stopped, not just abandoned: the hanging request was cut.
    assert websub_threads(others) == []
    infos = [
        record.getMessage()
        for record in caplog.records
        if record.name == "feeds.websub" and record.levelno == logging.INFO
    ]
    assert any("dropped 2 " in message for message in infos)
    assert warnings_from(caplog) == []
    assert notifier.wait_idle(0)
    notifier.notify([FEED_C])  # after close: ignored, no error
    assert notifier.wait_idle(0)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_close_cuts_a_connection_that_never_answers(scheme: str) -> None:
    # A listener that accepts and then says nothing: for https the worker is
    # stuck in the TLS handshake, for http waiting for the status line.
    others = set(threading.enumerate())
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(WAIT)
        notifier = HubNotifier([f"{scheme}://127.0.0.1:{listener.getsockname()[1]}/hub"])
        notifier.notify([FEED_A])
        connection, _ = listener.accept()
        with connection:
            # The request or the TLS ClientHello: the worker is past connect().
            connection.settimeout(WAIT)
            assert connection.recv(1)
            started = time.monotonic()
            notifier.close(timeout=1.0)
            elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert websub_threads(others) == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_close_cuts_a_proxy_that_never_answers(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # For https the worker waits for the answer to its CONNECT, which
    # http.client sends and reads inside connect(); for http, for the status line.
    others = set(threading.enumerate())
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(WAIT)
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name)
        monkeypatch.setenv(f"{scheme}_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")
        # A request timeout far past the close() timeout: only the cut ends it in time.
        notifier = HubNotifier([f"{scheme}://hub.invalid/hub"], timeout=HANG * 6)
        notifier.notify([FEED_A])
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(WAIT)
            expected = b"CONNECT hub.invalid:443 " if scheme == "https" else b"POST http://"
            received = b""
            while len(received) < len(expected):
                received += connection.recv(len(expected) - len(received)) or b"!"
            assert received == expected
            notifier.close(timeout=WAIT)

    assert websub_threads(others) == []


def test_no_hubs_means_no_thread_and_no_op(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="feeds.websub")
    before = set(threading.enumerate())

    notifier = HubNotifier([])
    notifier.notify([FEED_A, FEED_B])

    assert set(threading.enumerate()) - before == set()
    assert notifier.wait_idle(0)
    notifier.close(timeout=0)
    assert [record for record in caplog.records if record.name == "feeds.websub"] == []


def test_worker_threads_are_daemons_one_per_hub(
    make_hub: MakeHub, make_notifier: MakeNotifier
) -> None:
    others = set(threading.enumerate())
    hubs = [make_hub(), make_hub()]

    notifier = make_notifier([hubs[0].url, hubs[1].url, hubs[0].url])

    threads = websub_threads(others)
    assert len(threads) == 2  # the repeated hub is one hub
    assert all(thread.daemon for thread in threads)
    notifier.close(timeout=WAIT)
    assert websub_threads(others) == []


# --- arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    "hub", ["ftp://hub.example/", "file:///etc/passwd", "hub.example", "https:///no-host"]
)
def test_hubs_must_be_http_urls(hub: str) -> None:
    with pytest.raises(ValueError, match="WebSub hub"):
        HubNotifier([hub])


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"first_delay": -1.0},
        {"max_delay": -1.0},
        {"timeout": 0.0},
        {"factor": 0.5},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        HubNotifier([], **options)


def test_notify_refuses_a_single_string() -> None:
    # A str is an Iterable[str] too: it would notify one URL per character.
    with pytest.raises(TypeError):
        HubNotifier([]).notify(FEED_A)
