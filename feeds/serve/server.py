"""The embedded read-only HTTP server of ``feeds run``: the output folder, for feed readers.

Starlette's ``StaticFiles`` resolves paths; small public files are answered
from memory (``feeds.serve.filecache``: bytes and gzip bytes made once per file
version, 304s without a read), larger ones are streamed from disk
(``feeds.serve.streamed``). This module adds the policy on top and runs uvicorn in
a thread of the daemon's process, each connection behind the limits of
``feeds.serve.connections``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import stat
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feeds.compat.uvicorn import httptools_protocol
from feeds.errors import FeedsError
from feeds.formats import content_type, is_hidden, is_public
from feeds.serve.connections import (
    BUSY,
    HEAD_TIMEOUT,
    MAX_HEAD_BYTES,
    MIN_SEND_RATE,
    OUT_OF_FILES,
    REFUSAL_LOG_INTERVAL,
    SEND_WINDOW,
    Connections,
    RefusalLog,
    connection_limit,
    guarded,
    listen_backlog,
    refusals_here,
    request_answered,
    serving_thread,
    serving_thread_done,
)
from feeds.serve.filecache import (
    GZIP_MINIMUM,
    Entry,
    FileCache,
    Identity,
    identity,
    last_modified,
    load,
    stat_etag,
)
from feeds.serve.streamed import CHUNK, StreamedFile
from feeds.system.folders import MARKER
from feeds.urls import join_url

log = logging.getLogger("feeds.server")

HealthCheck = Callable[[], Mapping[str, object]]
ExtraHeaders = Callable[[str], Mapping[str, str]]


class RequestRecorder(Protocol):
    """What the server tells of the requests it answers, and what it serves
    at ``/metrics`` (the daemon's is `feeds.service.metrics.Metrics`)."""

    def answered(self, path: str, status: int, sent: int, user_agent: bytes) -> None:
        """Called on the event loop once per request answered: the decoded
        path, the status, the body bytes sent and the raw User-Agent (b""
        when none; readers report subscriber counts there). Must not block."""

    def exposition(self) -> tuple[bytes, str]:
        """The body of ``/metrics`` and its media type (called in a worker thread)."""


_METHODS = ("GET", "HEAD", "OPTIONS")
_ALLOW = {"Allow": ", ".join(_METHODS)}

# CORS: a browser-based reader may read these besides the safelisted headers,
# to ask conditionally and to find the WebSub hubs.
_CORS_EXPOSED = "ETag, Last-Modified, Link"
# A preflight's answer: what a reader's cross-origin request may carry. Its
# conditional headers are not safelisted, so a browser asks before sending them.
_PREFLIGHT = {
    "Access-Control-Allow-Methods": ", ".join(_METHODS),
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
}

# Request limits. The connection's guard (feeds.serve.connections) refuses (400) a
# request head longer than MAX_HEAD_BYTES only while it is incomplete: one that
# arrives in a single read is parsed whatever its size, so _refusal() checks the
# size again, and the rest.
_MAX_HEADERS = 100
_MAX_TARGET_BYTES = 2048
# Large files streamed at once: each holds a descriptor and a compressor.
_MAX_STREAMED = 64
# Seconds; Python's default is 0.005.
_SWITCH_INTERVAL = 0.0005


class ServerError(FeedsError):
    """The HTTP server cannot start."""


def _servable(url_path: str) -> bool:
    # Checked on the decoded path, so `%2e%2e`, `%2f` and `%00` are caught too.
    return not is_hidden(url_path)


def _public_file(full_path: str, root: str, url_path: str) -> bool:
    # `full_path` is the resolved file, symlinks followed: a public name linking
    # to a dotfile or temp file inside the output folder is refused as well.
    relative = os.path.relpath(full_path, root)
    if not is_public(relative.replace(os.sep, "/")):
        return False
    # A URL ending in `/` names a folder: only its index answers it, never `/all.json/`.
    return not url_path.endswith("/") or os.path.basename(relative) == "index.html"


class _Prepared:
    """A response whose headers and body are ready: no file, no thread, no compression."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        body = b"" if scope["method"] == "HEAD" else self.body
        # A chunk at a time: uvicorn waits for a slow reader between chunks, so a
        # connection buffers a chunk or so, not a copy of the rest of the file.
        last = max(0, (len(body) - 1) // CHUNK * CHUNK)
        for start in range(0, last, CHUNK):
            chunk = body[start : start + CHUNK]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": body[last:]})


def _accepts_gzip(accept_encoding: str) -> bool:
    # RFC 9110 12.5.3: `gzip;q=0` refuses gzip; `*` stands for every coding not named.
    any_coding = False
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding != "*":
            return quality > 0
        any_coding = quality > 0
    return any_coding


class _OutputFiles(StaticFiles):
    """StaticFiles' path resolution, with small public files answered from memory."""

    def __init__(
        self,
        output: Path,
        cache_max_age: int,
        extra_headers: ExtraHeaders | None,
        cache: FileCache,
        base_url: str | None = None,
    ) -> None:
        # html=True serves index.html for `/` and folders; StaticFiles never lists a folder.
        # Symlinks are resolved and must stay inside the output folder (follow_symlink=False).
        super().__init__(directory=output, html=True, check_dir=False)
        self.cache_control = f"max-age={cache_max_age}"
        self._cache_control = self.cache_control.encode("latin-1")
        self.extra_headers = extra_headers
        self.cache = cache
        self._root = os.path.realpath(output)
        self._marker = os.path.join(self._root, MARKER)
        self._base_url = base_url
        # Loads in flight: requests for a version being read wait for that read.
        self._loading: dict[tuple[str, Identity], asyncio.Event] = {}
        self._streaming = 0  # large files being sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope) -> ASGIApp:
        if not _servable(scope["path"]):
            raise HTTPException(status_code=404)
        # Only a folder a build has written: `output: /etc` once served /etc.
        if not os.path.isfile(self._marker):
            raise HTTPException(status_code=404)
        path = self.get_path(scope)
        # Inline rather than in a worker thread as StaticFiles does: a realpath
        # and a stat in a local folder take microseconds, while each thread
        # handoff waits for the GIL behind the rebuild thread.
        full_path, stat_result = self._lookup(path)
        if stat_result is not None and stat.S_ISDIR(stat_result.st_mode):
            full_path, stat_result = self._lookup(os.path.join(path, "index.html"))
            found = stat_result is not None and stat.S_ISREG(stat_result.st_mode)
            if found and not scope["path"].endswith("/"):
                # A folder URL without its `/` would resolve relative links wrongly.
                return RedirectResponse(url=self._folder_url(scope["path"]))
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            raise HTTPException(status_code=404)
        if not _public_file(full_path, self._root, scope["path"]):
            raise HTTPException(status_code=404)
        return await self._file(full_path, stat_result, scope)

    def _folder_url(self, path: str) -> str:
        """Where a folder's URL with its `/` is: under ``base_url``, else a path
        alone. Never from the request's Host (or any other header): the client
        chooses those, and a cache in between could keep the redirect for others."""
        relative = quote(path.lstrip("/")) + "/"
        return join_url(self._base_url, relative) if self._base_url else "/" + relative

    def _lookup(self, path: str) -> tuple[str, os.stat_result | None]:
        try:
            return self.lookup_path(path)
        except (OSError, ValueError):
            # A name too long, a NUL byte, a component that is not a folder, no permission.
            return "", None

    async def _file(self, full_path: str, stat_result: os.stat_result, scope: Scope) -> ASGIApp:
        request = Headers(scope=scope)
        accepts_gzip = _accepts_gzip(request.get("accept-encoding", ""))
        entry: Entry | None = None
        if self.cache.cacheable(stat_result):
            # A miss reads the file once per version, for every request waiting on it.
            entry = self.cache.get(full_path, stat_result) or await self._load(
                full_path, stat_result
            )
            validators = entry.etag, entry.last_modified
            # From the bytes kept, which may be of a version newer than the stat.
            encoded = accepts_gzip and entry.gzipped is not None
        else:
            validators = stat_etag(stat_result), last_modified(stat_result)
            # The same rule StreamedFile applies to the file it opens.
            encoded = accepts_gzip and stat_result.st_size >= GZIP_MINIMUM
        # Kept files answer from memory, large ones from the stat: never a read.
        current = Headers({"etag": validators[0], "last-modified": validators[1]})
        if self.is_not_modified(current, request):
            # The ETag the 200 would have carried (RFC 9110 15.4.5).
            tag = "W/" + validators[0] if encoded else validators[0]
            return _Prepared(
                304,
                [
                    (b"cache-control", self._cache_control),
                    (b"etag", tag.encode("latin-1")),
                    (b"vary", b"Accept-Encoding"),
                ],
            )
        if entry is None:
            return self._streamed(full_path, scope, accepts_gzip)
        # A kept file ignores Range (RFC 9110 14.2 allows it): whole feeds are
        # what readers fetch, and a range read from disk could be of a newer version.
        return self._prepared(entry, encoded, scope)

    def _prepared(self, entry: Entry, encoded: bool, scope: Scope) -> ASGIApp:
        headers = [
            (b"content-type", content_type(entry.path).encode("latin-1")),
            (b"last-modified", entry.last_modified.encode("latin-1")),
            (b"cache-control", self._cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        body = entry.body
        if encoded and entry.gzipped is not None:  # the one implies the other
            body = entry.gzipped
            headers.append((b"content-encoding", b"gzip"))
            # A strong ETag names the identity bytes; these are other bytes.
            headers.append((b"etag", b"W/" + entry.etag.encode("latin-1")))
        else:
            headers.append((b"etag", entry.etag.encode("latin-1")))
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        if self.extra_headers is not None:
            extra = self.extra_headers(scope["path"])
            if extra:
                mutable = MutableHeaders(raw=headers)
                mutable.update(extra)
        return _Prepared(200, headers, body)

    async def _load(self, full_path: str, stat_result: os.stat_result) -> Entry:
        key = (full_path, identity(stat_result))
        while (pending := self._loading.get(key)) is not None:
            await pending.wait()
            entry = self.cache.get(full_path, stat_result)
            if entry is not None:
                return entry
        done = self._loading[key] = asyncio.Event()
        try:
            try:
                entry = await anyio.to_thread.run_sync(load, full_path)
            except (FileNotFoundError, NotADirectoryError):
                # Deleted since the stat.
                raise HTTPException(status_code=404) from None
            except OSError as error:
                if error.errno == errno.ELOOP:  # a symlink put in its place since the lookup
                    raise HTTPException(status_code=404) from None
                raise
            # A version newer than the stat is still whole and has its own validators.
            self.cache.put(entry)
            return entry
        finally:
            del self._loading[key]
            done.set()

    def _streamed(self, full_path: str, scope: Scope, accepts_gzip: bool) -> ASGIApp:
        """Files too large to keep: from disk, as many at once as descriptors allow."""
        if self._streaming >= _MAX_STREAMED:
            refusals = refusals_here()
            if refusals is not None:
                refusals.count(BUSY)
            return PlainTextResponse(
                "Service Unavailable", status_code=503, headers={"Retry-After": "1"}
            )
        self._streaming += 1

        def done() -> None:
            self._streaming -= 1

        return StreamedFile(
            full_path,
            media_type=content_type(full_path),
            cache_control=self.cache_control,
            accepts_gzip=accepts_gzip,
            extra_headers=self.extra_headers(scope["path"]) if self.extra_headers else {},
            done=done,
        )


def _refusal(scope: Scope) -> Response | None:
    """The answer to a request this read-only server does not take, else None."""
    if scope["method"] not in _METHODS:
        return PlainTextResponse("Method Not Allowed", status_code=405, headers=_ALLOW)
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    if len(headers) > _MAX_HEADERS or sum(len(n) + len(v) for n, v in headers) > MAX_HEAD_BYTES:
        return _closing(431, "Request Header Fields Too Large")
    if len(scope["raw_path"]) + len(scope["query_string"]) > _MAX_TARGET_BYTES:
        return _closing(414, "URI Too Long")
    for name, value in headers:
        # GET, HEAD and OPTIONS take no body; one would only hold the connection.
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return _closing(413, "Content Too Large")
    return None


def _closing(status: int, reason: str) -> Response:
    # The rest of such a request is never read, so the connection cannot carry another.
    return PlainTextResponse(reason, status_code=status, headers={"Connection": "close"})


def _preflight(cors: str | None) -> Response:
    """The answer to OPTIONS: what the server allows, and to a CORS preflight
    (when CORS is on) what a cross-origin request may carry."""
    headers = {**_ALLOW, **(_PREFLIGHT if cors is not None else {})}
    return Response(status_code=204, headers=headers)


class _Counted:
    """Tells ``recorder`` of each request once it is answered: its status,
    the body bytes sent and its User-Agent. No lock, no I/O."""

    def __init__(self, app: ASGIApp, recorder: RequestRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if status:
                self.recorder.answered(scope["path"], status, sent, _user_agent(scope))


def _user_agent(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return bytes(value)
    return b""


class _Policy:
    """What every response gets, whichever part of the app made it: with
    ``cors``, the CORS headers too."""

    def __init__(self, app: ASGIApp, cors: str | None) -> None:
        self.app = app
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._apply(MutableHeaders(scope=message))
            await send(message)

        try:
            refusal = _refusal(scope)
            if refusal is None and scope["method"] == "OPTIONS":
                refusal = _preflight(self.cors)  # not a refusal, but answered here too
            if refusal is None:
                await self.app(scope, receive, send_with_policy)
            else:
                await refusal(scope, receive, send_with_policy)
        except Exception:
            # Starlette has already answered 500 if it could; without this uvicorn
            # would log the error again, to its own logger. A client asking again
            # and again for a file that fails must not fill the log.
            refusals = refusals_here()
            if refusals is None:
                log.exception("error serving %s %r", scope["method"], scope["path"])
            else:
                refusals.error(log, "error serving %s %r", scope["method"], scope["path"])

    def _apply(self, headers: MutableHeaders) -> None:
        headers["X-Content-Type-Options"] = "nosniff"
        if self.cors is not None:
            headers["Access-Control-Allow-Origin"] = self.cors
            headers["Access-Control-Expose-Headers"] = _CORS_EXPOSED
        # GZipMiddleware only adds Vary when it sees a large enough body, so
        # not to HEAD, 304 or small files, whose caches must vary all the same.
        if "accept-encoding" not in headers.get("vary", "").lower():
            headers.add_vary_header("Accept-Encoding")
        # A strong ETag names exact bytes; the gzipped bytes are different ones.
        etag = headers.get("etag")
        if etag and "content-encoding" in headers and not etag.startswith("W/"):
            headers["ETag"] = "W/" + etag


def _status_routes(health: HealthCheck | None, metrics: RequestRecorder | None) -> list[Route]:
    """``/healthz``, and ``/metrics`` with ``metrics``. Plain functions:
    Starlette runs them in a worker thread, so a slow check or a long
    exposition cannot stall the event loop."""

    def healthz(request: Request) -> Response:
        report = dict(health()) if health is not None else {"ok": True}
        status = 200 if report.get("ok", True) else 503
        return JSONResponse(report, status_code=status, headers={"Cache-Control": "no-store"})

    routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    if metrics is not None:
        recorder = metrics

        def exposition(request: Request) -> Response:
            body, media_type = recorder.exposition()
            return Response(body, headers={"Content-Type": media_type, "Cache-Control": "no-store"})

        routes.append(Route("/metrics", exposition, methods=["GET", "HEAD"]))
    return routes


def create_app(
    output: Path,
    *,
    cache_max_age: int = 60,
    cors: str | None = "*",
    health: HealthCheck | None = None,
    extra_headers: ExtraHeaders | None = None,
    cache: FileCache | None = None,
    base_url: str | None = None,
    metrics: RequestRecorder | None = None,
) -> ASGIApp:
    """The ASGI app serving ``output`` read-only, with ``/healthz`` from ``health()``.

    With ``metrics``, every request answered is recorded there (``/metrics``
    and ``/healthz`` too) and ``/metrics`` serves its exposition; without,
    ``/metrics`` is an ordinary path (404 unless such a file exists).

    A folder asked for without its ``/`` is redirected to ``base_url`` plus
    the folder (to the path alone without a ``base_url``).

    ``extra_headers(url_path)`` gets the decoded request path (``/all.atom.xml``,
    ``/`` for the index) and its headers are added to, and win over, those of
    each 200 or 206 file response. ``cache`` keeps small files in memory
    (by default up to 64 MiB of them). ``cors`` is the
    ``Access-Control-Allow-Origin`` of every answer; None: no CORS headers.
    """
    app = Starlette(
        routes=[
            *_status_routes(health, metrics),
            Mount(
                "/",
                app=_OutputFiles(
                    output,
                    cache_max_age,
                    extra_headers,
                    FileCache() if cache is None else cache,
                    base_url,
                ),
            ),
        ],
    )
    # Its redirect would name the request's Host; the mount at `/` takes every
    # path first anyway.
    app.router.redirect_slashes = False
    policy = _Policy(app, cors)
    return policy if metrics is None else _Counted(policy, metrics)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(host: str, port: int) -> list[socket.socket]:
    """Binds every address ``host`` names, as asyncio's ``create_server`` would.

    Binding here, in the caller's thread, turns a busy port into an exception
    with its reason; uvicorn would log it and `sys.exit` its thread.
    """
    sockets: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # Lets `localhost` bind ::1 and 127.0.0.1 side by side.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
    except OSError as error:
        for sock in sockets:
            sock.close()
        reason = (error.strerror or str(error)).lower()
        raise ServerError(f"cannot listen on {_where(host, port)}: {reason}") from None
    return sockets


# Looked up when the server is imported, so that `feeds run` stops at start
# if uvicorn no longer has it.
_HTTPTOOLS = httptools_protocol()


class _Answered:
    """Tells the request's connection once the app has answered it: only then,
    with nothing more received, is the connection idle (feeds.serve.connections)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            request_answered()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, refusals: RefusalLog) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.refusals = refusals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.refusals.attach(loop)
        loop.set_exception_handler(self._exception)
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()

    def _exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Out of descriptors, asyncio's accept loop reports every try, up to the
        # backlog's worth on each wake-up, each with a traceback.
        if context.get("message") == "socket.accept() out of system resource":
            self.refusals.count(OUT_OF_FILES)
        else:
            loop.default_exception_handler(context)


class _SwitchInterval:
    """A thread waiting for the GIL gets it only once the holder has run for the
    switch interval (5 ms by default). The event loop gives the GIL up on every
    poll, so while a rebuild runs each turn of the loop would wait that long;
    a shorter interval lets it back in sooner (docs/RELIABILITY.md, "Load"). Set
    while any server runs, and put back after the last one stops."""

    _lock = threading.Lock()
    _servers = 0
    _saved = 0.0

    @classmethod
    def shorten(cls) -> None:
        with cls._lock:
            if cls._servers == 0:
                cls._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(cls._saved, _SWITCH_INTERVAL))
            cls._servers += 1

    @classmethod
    def restore(cls) -> None:
        with cls._lock:
            cls._servers -= 1
            if cls._servers == 0:
                sys.setswitchinterval(cls._saved)


class ServerThread:
    """Runs an ASGI app with uvicorn in a daemon thread.

    uvicorn installs no signal handlers outside the main thread (the daemon keeps
    SIGINT/SIGTERM) and, with ``log_config=None``, configures no logging; its own
    start/stop messages stay on the ``uvicorn.error`` logger, and its warnings
    about single requests become counts in the server's refusal log.

    ``max_connections`` defaults to what the open-files limit allows
    (`feeds.serve.connections.connection_limit`); ``send_window`` and
    ``min_send_rate`` are the send floor, ``refusal_log_interval`` how often
    refusals may be logged.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        access_log: bool = False,
        head_timeout: int = HEAD_TIMEOUT,
        max_connections: int | None = None,
        send_window: float = SEND_WINDOW,
        min_send_rate: float = MIN_SEND_RATE,
        refusal_log_interval: float = REFUSAL_LOG_INTERVAL,
    ) -> None:
        self._host = host
        self._port = port
        self.refusals = RefusalLog(refusal_log_interval)
        self.connections = Connections(
            connection_limit() if max_connections is None else max_connections, self.refusals
        )
        protocol = guarded(
            _HTTPTOOLS,
            self.connections,
            head_timeout=head_timeout,
            send_window=send_window,
            min_send_rate=min_send_rate,
        )
        # host and port are bound by start(); uvicorn gets the sockets.
        config = uvicorn.Config(
            _Answered(app),
            http=protocol,
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            # uvicorn mutes its "uvicorn.access" logger for this; that is all it changes.
            access_log=access_log,
            backlog=listen_backlog(),
            server_header=False,
            # uvicorn's limit counts every open connection, idle ones too: sockets
            # that never sent a byte made it answer 503 to every request. The
            # connection limit above bounds connections (idle ones make room),
            # and with one request at a time per connection (HeadGuard), requests.
            limit_concurrency=None,
            timeout_keep_alive=head_timeout,
        )
        self._server = _Server(config, self.refusals)
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self._shortened = False

    @property
    def port(self) -> int:
        """The bound port once started (useful with port 0), else the requested one."""
        return self._port

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Returns once the server accepts connections; `ServerError` if it cannot."""
        if self._thread is not None:
            raise RuntimeError("a ServerThread can only be started once")
        self._sockets = _bind(self._host, self._port)
        self._port = self._sockets[0].getsockname()[1]
        _SwitchInterval.shorten()
        self._shortened = True
        self._thread = threading.Thread(
            target=self._run, name=f"feeds-server-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._server.ready.wait(timeout) or not self._server.started:
            self.stop()
            raise ServerError(
                f"cannot listen on {_where(self._host, self._port)}: "
                "the server did not start (see the log)"
            )

    def stop(self, timeout: float = 5.0) -> None:
        """Stops serving: idle connections close at once, responses in flight get
        ``timeout`` less a second to finish and are then cut off."""
        if self._thread is None:
            return
        # uvicorn's own shutdown steps take a few tenths of a second; the rest is grace.
        self._server.config.timeout_graceful_shutdown = max(0, int(timeout) - 1)
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("HTTP server did not stop within %s s", timeout)
        elif self._shortened:
            _SwitchInterval.restore()
            self._shortened = False

    def _run(self) -> None:
        serving_thread(self.refusals)
        try:
            self._server.run(sockets=self._sockets)
        except (Exception, SystemExit):
            # uvicorn exits on startup problems; in a thread that must not go unseen.
            log.exception("HTTP server on %s failed", _where(self._host, self._port))
        finally:
            for sock in self._sockets:
                sock.close()
            self.refusals.attach(None)
            self.refusals.flush()
            serving_thread_done()
            self._server.ready.set()
