"""The embedded HTTP server, tested through a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from feeds.errors import FeedsError
from feeds.serve.server import ServerError, ServerThread, create_app
from feeds.system.folders import MARKER, MARKER_TEXT

SECRET = b"TOP-SECRET-4f1c9a"
ATOM = b'<?xml version="1.0" encoding="utf-8"?>\n<feed>' + b"<entry>x</entry>" * 200 + b"</feed>\n"

FILES: dict[str, bytes] = {
    "index.html": b"<!doctype html><title>feeds</title>\n",
    "all.atom.xml": ATOM,
    "all.rss.xml": b"<rss/>\n",
    "all.json": b'{"version": "https://jsonfeed.org/version/1.1"}\n',
    "feeds.opml": b"<opml/>\n",
    "style.css": b"body {}\n",
    "topics/ai.atom.xml": ATOM,
    "topics/ai.html": b"<!doctype html><title>AI</title>\n",
    "sub/index.html": b"<p>sub</p>\n",
    # Must never be served:
    MARKER: MARKER_TEXT,  # without it, nothing is served
    ".feeds-abc.tmp": b"half-written",
    ".git/config": b"[core]",
    "topics/.hidden.json": b"{}",
    "stale.tmp": b"half-written",
}


@dataclass
class Site:
    root: Path
    output: Path


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(
    port: int, path: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> Reply:
    """One request on a fresh connection; ``path`` goes on the wire exactly as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("site")
    output = root / "output"
    for name, data in FILES.items():
        path = output / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "secret").write_bytes(SECRET)
    (root / "private").mkdir()
    (root / "private" / "secret.json").write_bytes(SECRET)
    (output / "leak.json").symlink_to(root / "secret")
    (output / "linked").symlink_to(root / "private", target_is_directory=True)
    (output / "alias.json").symlink_to(output / "all.json")
    return Site(root, output)


def self_link(url_path: str) -> Mapping[str, str]:
    if not url_path.endswith(".atom.xml"):
        return {}
    return {"Link": f'<https://hub.test/>; rel="hub", <https://feeds.test{url_path}>; rel="self"'}


@pytest.fixture(scope="module")
def port(site: Site) -> Iterator[int]:
    """One shared server for the read-only tests."""
    server = ServerThread(
        create_app(site.output, cache_max_age=123, extra_headers=self_link), "127.0.0.1", 0
    )
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


Serve = Callable[[ASGIApp], ServerThread]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Starts servers for one test and stops every one of them afterwards."""
    servers: list[ServerThread] = []

    def start(app: ASGIApp) -> ServerThread:
        server = ServerThread(app, "127.0.0.1", 0)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


# --- files and media types ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "file", "media_type"),
    [
        ("/all.atom.xml", "all.atom.xml", "application/atom+xml; charset=utf-8"),
        ("/topics/ai.atom.xml", "topics/ai.atom.xml", "application/atom+xml; charset=utf-8"),
        ("/all.rss.xml", "all.rss.xml", "application/rss+xml; charset=utf-8"),
        ("/all.json", "all.json", "application/feed+json; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/topics/ai.html", "topics/ai.html", "text/html; charset=utf-8"),
        ("/feeds.opml", "feeds.opml", "text/x-opml; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
    ],
)
def test_files_are_served_with_their_media_type_and_validators(
    port: int, path: str, file: str, media_type: str
) -> None:
    reply = fetch(port, path)
    assert reply.status == 200
    assert reply.body == FILES[file]
    assert reply.header("Content-Type") == media_type
    assert reply.header("Content-Encoding") is None
    assert reply.header("ETag")
    assert reply.header("Last-Modified")
    assert reply.header("Cache-Control") == "max-age=123"
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("Vary") == "Accept-Encoding"


def test_the_index_is_served_at_the_root(port: int) -> None:
    reply = fetch(port, "/")
    assert reply.status == 200
    assert reply.body == FILES["index.html"]
    assert reply.header("Content-Type") == "text/html; charset=utf-8"


def test_a_folder_is_served_only_through_its_index(port: int) -> None:
    assert fetch(port, "/sub/").body == FILES["sub/index.html"]
    redirect = fetch(port, "/sub")
    assert redirect.status in (301, 307, 308)
    assert (redirect.header("Location") or "").endswith("/sub/")
    for path in ("/topics/", "/topics"):
        reply = fetch(port, path)
        assert reply.status == 404
        assert b"ai.atom.xml" not in reply.body


def test_without_an_index_the_root_is_404(tmp_path: Path, serve: Serve) -> None:
    (tmp_path / MARKER).write_bytes(MARKER_TEXT)
    (tmp_path / "all.json").write_bytes(b"{}")
    server = serve(create_app(tmp_path))
    reply = fetch(server.port, "/")
    assert reply.status == 404
    assert b"all.json" not in reply.body


def test_an_output_folder_that_does_not_exist_yet_is_404_until_it_does(
    tmp_path: Path, serve: Serve
) -> None:
    output = tmp_path / "output"
    server = serve(create_app(output))
    assert fetch(server.port, "/all.json").status == 404
    output.mkdir()
    (output / "all.json").write_bytes(b"{}")
    assert fetch(server.port, "/all.json").status == 404  # until a build has marked it
    (output / MARKER).write_bytes(MARKER_TEXT)
    assert fetch(server.port, "/all.json").status == 200


def test_a_symlink_inside_the_output_folder_is_served(port: int) -> None:
    assert fetch(port, "/alias.json").body == FILES["all.json"]


# --- conditional requests ----------------------------------------------------


def test_if_none_match_with_the_etag_is_304(port: int) -> None:
    etag = fetch(port, "/all.json").header("ETag")
    assert etag
    for tags in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        reply = fetch(port, "/all.json", headers={"If-None-Match": tags})
        assert reply.status == 304, tags
        assert reply.body == b""
        assert reply.header("ETag") == etag
        assert reply.header("Cache-Control") == "max-age=123"
    assert fetch(port, "/all.json", headers={"If-None-Match": '"other"'}).status == 200


def test_if_modified_since_is_304_unless_the_file_is_newer(port: int, site: Site) -> None:
    mtime = (site.output / "all.json").stat().st_mtime
    last_modified = fetch(port, "/all.json").header("Last-Modified")
    assert last_modified == formatdate(mtime, usegmt=True)
    for since, status in ((mtime, 304), (mtime + 3600, 304), (mtime - 3600, 200)):
        headers = {"If-Modified-Since": formatdate(since, usegmt=True)}
        assert fetch(port, "/all.json", headers=headers).status == status


def test_a_changed_file_gets_a_new_etag(port: int, site: Site) -> None:
    path = site.output / "changing.json"
    path.write_bytes(b'{"v": 1}')
    first = fetch(port, "/changing.json")
    old_etag = first.header("ETag")
    assert old_etag
    assert fetch(port, "/changing.json", headers={"If-None-Match": old_etag}).status == 304

    mtime = path.stat().st_mtime
    path.write_bytes(b'{"v": 22}')
    os.utime(path, (mtime + 10, mtime + 10))
    second = fetch(port, "/changing.json", headers={"If-None-Match": old_etag})
    assert second.status == 200
    assert second.body == b'{"v": 22}'
    assert second.header("ETag") not in (None, old_etag)
    assert second.header("Last-Modified") != first.header("Last-Modified")


# --- compression and HEAD -----------------------------------------------------


def test_gzip_only_when_the_client_accepts_it(port: int) -> None:
    zipped = fetch(port, "/all.atom.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200
    assert zipped.header("Content-Encoding") == "gzip"
    assert gzip.decompress(zipped.body) == ATOM
    assert zipped.header("Vary") == "Accept-Encoding"
    assert zipped.header("Content-Type") == "application/atom+xml; charset=utf-8"

    plain = fetch(port, "/all.atom.xml", headers={"Accept-Encoding": "identity"})
    assert plain.header("Content-Encoding") is None
    assert plain.body == ATOM
    assert plain.header("Vary") == "Accept-Encoding"


def test_gzipped_etag_is_weak_and_still_validates(port: int) -> None:
    plain_etag = fetch(port, "/all.atom.xml").header("ETag")
    etag = fetch(port, "/all.atom.xml", headers={"Accept-Encoding": "gzip"}).header("ETag")
    assert plain_etag
    assert etag == f"W/{plain_etag}"
    headers = {"Accept-Encoding": "gzip", "If-None-Match": etag}
    reply = fetch(port, "/all.atom.xml", headers=headers)
    assert reply.status == 304
    assert reply.header("Vary") == "Accept-Encoding"


def test_head_sends_the_headers_of_get_and_no_body(port: int) -> None:
    get = fetch(port, "/all.atom.xml")
    head = fetch(port, "/all.atom.xml", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.header("Content-Length") == str(len(ATOM))
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Link", "Vary"):
        assert head.header(name) == get.header(name), name


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("path", ["/all.json", "/healthz", "/missing", "/.git/config"])
def test_other_methods_are_405(port: int, site: Site, method: str, path: str) -> None:
    reply = fetch(port, path, method=method)
    assert reply.status == 405
    assert reply.header("Allow") == "GET, HEAD, OPTIONS"
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert (site.output / "all.json").read_bytes() == FILES["all.json"]


# --- CORS ----------------------------------------------------------------------

EXPOSED = {"ETag", "Last-Modified", "Link"}


def _cors(reply: Reply) -> tuple[str | None, set[str]]:
    exposed = reply.header("Access-Control-Expose-Headers") or ""
    return reply.header("Access-Control-Allow-Origin"), {
        name.strip() for name in exposed.split(",") if name.strip()
    }


@pytest.mark.parametrize(
    "path", ["/all.atom.xml", "/topics/ai.atom.xml", "/all.json", "/index.html", "/", "/feeds.opml"]
)
def test_every_feed_page_and_opml_answer_allows_any_origin(port: int, path: str) -> None:
    origin = {"Origin": "https://reader.example"}
    get = fetch(port, path, headers=origin)
    assert get.status == 200
    origin_allowed, exposed = _cors(get)
    assert origin_allowed == "*"
    assert exposed >= EXPOSED
    assert _cors(fetch(port, path, method="HEAD", headers=origin)) == (origin_allowed, exposed)
    etag = get.header("ETag")
    assert etag
    unchanged = fetch(port, path, headers={**origin, "If-None-Match": etag})
    assert unchanged.status == 304
    assert _cors(unchanged) == (origin_allowed, exposed)
    gzipped = fetch(port, path, headers={**origin, "Accept-Encoding": "gzip"})
    assert _cors(gzipped) == (origin_allowed, exposed)


def test_the_link_header_a_browser_reader_may_read_is_there(port: int) -> None:
    reply = fetch(port, "/all.atom.xml", headers={"Origin": "https://reader.example"})
    assert 'rel="hub"' in (reply.header("Link") or "")
    assert "Link" in _cors(reply)[1]


@pytest.mark.parametrize("path", ["/all.json", "/topics/ai.atom.xml", "/missing", "*"])
def test_a_preflight_is_answered_204_with_what_a_reader_may_send(port: int, path: str) -> None:
    reply = fetch(
        port,
        path,
        method="OPTIONS",
        headers={
            "Origin": "https://reader.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match, if-modified-since",
        },
    )
    assert reply.status == 204
    assert reply.body == b""
    assert reply.header("Allow") == "GET, HEAD, OPTIONS"
    assert reply.header("Access-Control-Allow-Origin") == "*"
    methods = {m.strip() for m in (reply.header("Access-Control-Allow-Methods") or "").split(",")}
    assert methods == {"GET", "HEAD", "OPTIONS"}
    allowed = (reply.header("Access-Control-Allow-Headers") or "").lower()
    assert {"if-none-match", "if-modified-since"} <= {h.strip() for h in allowed.split(",")}
    assert int(reply.header("Access-Control-Max-Age") or "0") > 0


def test_cors_names_one_origin_or_is_off(tmp_path: Path, site: Site, serve: Serve) -> None:
    one = serve(create_app(site.output, cors="https://reader.example", extra_headers=self_link))
    reply = fetch(one.port, "/all.atom.xml")
    assert _cors(reply) == ("https://reader.example", EXPOSED)
    off = serve(create_app(site.output, cors=None))
    for method in ("GET", "HEAD"):
        reply = fetch(off.port, "/all.json", method=method)
        assert reply.status == 200
        assert not [name for name in reply.headers if name.lower().startswith("access-control-")]
    options = fetch(off.port, "/all.json", method="OPTIONS")
    assert options.status == 204
    assert options.header("Allow") == "GET, HEAD, OPTIONS"
    assert not [name for name in options.headers if name.lower().startswith("access-control-")]
    assert fetch(off.port, "/all.json", method="POST").status == 405


# --- what is never served ----------------------------------------------------

REFUSED = [
    "/.feeds-abc.tmp",
    "/.git/config",
    "/.git/",
    "/topics/.hidden.json",
    "/topics/%2ehidden.json",
    "/stale.tmp",
    "/../secret",
    "/%2e%2e/secret",
    "/..%2fsecret",
    "/%2e%2e%2fsecret",
    "/%2E%2E%2Fsecret",
    "/topics/../../secret",
    "/./../secret",
    "/..\\secret",
    "/%00",
    "/all.json%00",
    "/all.json%00.html",
    "/leak.json",
    "/linked/secret.json",
]


@pytest.mark.parametrize("path", REFUSED)
def test_refused_paths_are_404_and_leak_nothing(port: int, path: str) -> None:
    for method, headers in (("GET", {}), ("GET", {"Accept-Encoding": "gzip"}), ("HEAD", {})):
        reply = fetch(port, path, method=method, headers=headers)
        assert reply.status == 404, (method, path)
        assert SECRET not in reply.body
        assert b"half-written" not in reply.body
        assert reply.header("X-Content-Type-Options") == "nosniff"


def test_the_refused_files_exist(site: Site) -> None:
    """Keeps the 404s above honest: each of these would be there to serve."""
    for name in (".feeds-abc.tmp", ".git/config", "topics/.hidden.json", "stale.tmp"):
        assert (site.output / name).is_file()
    assert (site.output / "leak.json").read_bytes() == SECRET
    assert (site.output / "linked" / "secret.json").read_bytes() == SECRET
    assert (site.output / ".." / "secret").read_bytes() == SECRET


# --- health and extra headers -------------------------------------------------


def test_healthz_reports_the_health_check(serve: Serve, tmp_path: Path) -> None:
    state: dict[str, object] = {"ok": True, "last_build": "2024-05-01T10:00:00Z"}
    server = serve(create_app(tmp_path, health=lambda: state))
    reply = fetch(server.port, "/healthz")
    assert reply.status == 200
    assert json.loads(reply.body) == state
    assert reply.header("Content-Type") == "application/json"
    assert reply.header("Cache-Control") == "no-store"
    assert fetch(server.port, "/healthz", method="HEAD").status == 200

    state["ok"] = False
    reply = fetch(server.port, "/healthz")
    assert reply.status == 503
    assert json.loads(reply.body)["ok"] is False
    assert reply.header("Cache-Control") == "no-store"


def test_healthz_without_a_health_check_is_ok(port: int) -> None:
    reply = fetch(port, "/healthz")
    assert reply.status == 200
    assert json.loads(reply.body) == {"ok": True}


def test_extra_headers_get_the_decoded_path_of_served_files(port: int) -> None:
    link = fetch(port, "/topics/ai%2Eatom.xml").header("Link")
    assert link is not None
    assert '<https://feeds.test/topics/ai.atom.xml>; rel="self"' in link
    assert fetch(port, "/all.json").header("Link") is None
    assert fetch(port, "/missing.atom.xml").header("Link") is None


class _Records(logging.Handler):
    """Collects records and signals the first, which may come after the response."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()


@pytest.fixture
def error_records() -> Iterator[_Records]:
    """ERROR records of every logger, from any thread."""
    handler = _Records()
    handler.setLevel(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_errors_go_to_the_feeds_server_logger(
    serve: Serve, site: Site, error_records: _Records
) -> None:
    def broken(url_path: str) -> Mapping[str, str]:
        raise RuntimeError("boom")

    server = serve(create_app(site.output, extra_headers=broken))
    reply = fetch(server.port, "/all.json")
    assert reply.status == 500
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert error_records.arrived.wait(5)
    assert fetch(server.port, "/healthz").status == 200  # the server carries on
    [record] = error_records.records
    assert record.name == "feeds.server"
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])


# --- the server thread --------------------------------------------------------


def test_start_leaves_signals_and_logging_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if no server had run in this process yet: only then is the check below honest.
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "propagate", True)
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    root_handlers = list(logging.getLogger().handlers)
    switch_interval = sys.getswitchinterval()
    server = ServerThread(create_app(tmp_path), "127.0.0.1", 0)
    server.start()
    try:
        # Shortened while serving, so the event loop gets the GIL back sooner.
        assert sys.getswitchinterval() <= 0.001
        assert server.is_alive()
        assert server.port != 0
        assert fetch(server.port, "/healthz").status == 200
        assert {sig: signal.getsignal(sig) for sig in signals} == signals
        assert logging.getLogger().handlers == root_handlers
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            assert logging.getLogger(name).handlers == [], name
        # uvicorn writes access lines only when this logger can reach a handler.
        assert not logging.getLogger("uvicorn.access").hasHandlers()
        with pytest.raises(RuntimeError):
            server.start()
    finally:
        server.stop()
    assert not server.is_alive()
    assert {sig: signal.getsignal(sig) for sig in signals} == signals
    assert sys.getswitchinterval() == switch_interval


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = busy.getsockname()[1]
        server = ServerThread(create_app(tmp_path), "127.0.0.1", taken)
        message = rf"^cannot listen on 127\.0\.0\.1:{taken}: address already in use$"
        with pytest.raises(ServerError, match=message) as error:
            server.start()
    assert isinstance(error.value, FeedsError)
    assert not server.is_alive()
    server.stop()


def test_an_address_not_on_this_machine_is_a_clear_error(tmp_path: Path) -> None:
    server = ServerThread(create_app(tmp_path), "192.0.2.1", 0)  # TEST-NET-1
    with pytest.raises(ServerError, match=r"^cannot listen on 192\.0\.2\.1:0: cannot assign"):
        server.start()


def test_stop_closes_an_idle_keep_alive_connection(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_bytes(MARKER_TEXT)
    (tmp_path / "all.json").write_bytes(b"{}")
    server = ServerThread(create_app(tmp_path), "127.0.0.1", 0)
    server.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/all.json")
        response = conn.getresponse()
        assert response.read() == b"{}"
        assert not response.will_close
        started = time.monotonic()
        server.stop(timeout=5)
        # Waiting out the 5 s keep-alive instead would take at least 2.5 s.
        assert time.monotonic() - started < 2
        assert not server.is_alive()
        assert conn.sock is not None
        assert conn.sock.recv(1) == b""
    finally:
        conn.close()
        server.stop()


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:  # refused, or reset while the listening socket closes
        return True
    return False


def test_stop_lets_a_response_in_flight_finish() -> None:
    entered, release = threading.Event(), threading.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        entered.set()
        await asyncio.to_thread(release.wait)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    server = ServerThread(slow, "127.0.0.1", 0)
    server.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    stopper = threading.Thread(target=server.stop, kwargs={"timeout": 5})
    try:
        conn.request("GET", "/")
        assert entered.wait(5)
        stopper.start()
        # The response may only finish once shutdown is under way.
        deadline = time.monotonic() + 5
        while not refuses_connections(server.port):
            assert time.monotonic() < deadline, "the server kept accepting connections"
        release.set()
        assert conn.getresponse().read() == b"done"
        stopper.join(5)
        assert not server.is_alive()
    finally:
        release.set()
        conn.close()
        if stopper.is_alive():
            stopper.join()
        server.stop()


def test_stop_returns_within_its_timeout_when_a_response_never_ends() -> None:
    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.Event().wait()

    server = ServerThread(endless, "127.0.0.1", 0)
    server.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read(7) == b"partial"
        started = time.monotonic()
        server.stop(timeout=2)
        assert time.monotonic() - started < 2.5
        assert not server.is_alive()
    finally:
        conn.close()
        server.stop()
