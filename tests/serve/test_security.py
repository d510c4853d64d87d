"""What the embedded server refuses: every path spelling that could reach a
non-public file, methods other than GET/HEAD, oversized or odd requests, and
connections that never finish a request. Requests go on the wire byte for byte.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from feeds.cli import main
from feeds.serve.server import ServerThread, create_app
from feeds.system.folders import MARKER, MARKER_TEXT
from tests.conftest import seed_text

SECRET = b"SECRET-7d2e51"
PUBLIC: dict[str, bytes] = {
    "index.html": b"<!doctype html><title>feeds</title>\n",
    "all.json": b'{"version": "https://jsonfeed.org/version/1.1"}\n',
    "all.atom.xml": b"<feed/>\n",
    "topics/ai.json": b'{"items": []}\n',
    "sub/index.html": b"<p>sub</p>\n",
}
# Inside the output folder, and never to be served.
HIDDEN = [
    ".feeds-abc.tmp",  # the writer's temp file, mid-write
    "topics/.feeds-def.tmp",
    ".git/config",
    ".git/HEAD",
    ".hidden.json",
    "parse-abc.cache",  # a parse cache, had one been put here by mistake
    "parse-abc.articles",
    "all.json~",  # an editor's backup
    "core",
]


@dataclass
class Site:
    root: Path
    output: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("site")
    output = root / "output"
    for name, data in PUBLIC.items():
        _write(output / name, data)
    for name in HIDDEN:
        _write(output / name, SECRET)
    _write(output / MARKER, MARKER_TEXT)
    _write(root / "secret", SECRET)
    _write(root / "private" / "secret.json", SECRET)
    _write(root / "cache" / "parse-abc.cache", SECRET)  # where the daemon keeps it
    # Symlinks out of the folder, and into its hidden parts, by file and by folder.
    (output / "leak.json").symlink_to(root / "secret")
    (output / "linked").symlink_to(root / "private", target_is_directory=True)
    (output / "cachelink").symlink_to(root / "cache", target_is_directory=True)
    (output / "dotlink.json").symlink_to(output / ".git" / "config")
    (output / "gitlink").symlink_to(output / ".git", target_is_directory=True)
    (output / "templink.json").symlink_to(output / ".feeds-abc.tmp")
    # Symlinks that stay among public files are served.
    (output / "alias.json").symlink_to(output / "all.json")
    (output / "mirror").symlink_to(output / "topics", target_is_directory=True)
    return Site(root, output)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def port(site: Site) -> Iterator[int]:
    server = ServerThread(create_app(site.output), "127.0.0.1", 0)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    closed: bool  # the server closed the connection after this response


def raw(port: int, request: bytes, method: str = "GET") -> Reply:
    """Sends ``request`` exactly as given and reads one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        try:
            closed = sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed = False
        return Reply(response.status, response.headers, body, closed)


def get(port: int, target: bytes, method: str = "GET", extra: bytes = b"") -> Reply:
    request = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: t\r\n" + extra
    return raw(port, request + b"Connection: close\r\n\r\n", method)


# --- paths ---------------------------------------------------------------------

REFUSED: list[bytes] = [
    # hidden files named directly, and percent-encoded
    b"/.git/config",
    b"/.git/HEAD",
    b"/.git/",
    b"/.git",
    b"/%2egit/config",
    b"/%2Egit/config",
    b"/.%67it/config",
    b"/./.git/config",
    b"/.hidden.json",
    b"/.feeds-abc.tmp",
    b"/.made-by-feeds",
    b"/%2efeeds-abc.tmp",
    b"/topics/.feeds-def.tmp",
    b"/topics/%2Efeeds-def%2Etmp",
    b"/parse-abc.cache",
    b"/parse-abc.articles",
    b"/all.json~",
    b"/all.json%7e",
    b"/core",
    # up and out: dots, slashes and backslashes in every encoding
    b"/../secret",
    b"/..",
    b"/../",
    b"/%2e%2e/secret",
    b"/%2E%2E/secret",
    b"/.%2e/secret",
    b"/%2e./secret",
    b"/..%2fsecret",
    b"/%2e%2e%2fsecret",
    b"/%2E%2E%2Fsecret",
    b"/topics/../../secret",
    b"/topics/%2e%2e/%2e%2e/secret",
    b"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/../cache/parse-abc.cache",
    b"/..\\secret",
    b"/..%5csecret",
    b"/..%5Csecret",
    b"/topics\\..\\..\\secret",
    b"/%2f../secret",
    b"//../secret",
    b"/%2f%2e%2e%2fsecret",
    b"//etc/passwd",
    b"/%2fetc%2fpasswd",
    # double encoding: decoded once, it is a literal name that does not exist
    b"/%252e%252e/secret",
    b"/%252e%252e%252fsecret",
    b"/%252egit/config",
    # overlong and invalid UTF-8 for `.` and `/`
    b"/%c0%ae%c0%ae/secret",
    b"/%c0%ae%c0%ae%c0%afsecret",
    b"/%e0%80%ae%e0%80%ae/secret",
    b"/%c0%2e%c0%2e/secret",
    b"/\xc0\xae\xc0\xae/secret",
    b"/\xc0\xaegit/config",
    # NUL bytes
    b"/%00",
    b"/all.json%00",
    b"/all.json%00.html",
    b"/.git%00/config",
    b"/all.json\x00",
    # trailing dots, slashes, spaces and Windows stream names
    b"/all.json/",
    b"/all.json.",
    b"/all.json%20",
    b"/all.json::$DATA",
    b"/.git./config",
    # no listings
    b"/topics/",
    b"/topics",
    # symlinks out of the folder or into its hidden parts
    b"/leak.json",
    b"/linked/secret.json",
    b"/cachelink/parse-abc.cache",
    b"/dotlink.json",
    b"/gitlink/config",
    b"/templink.json",
    # absolute-form targets
    b"http://127.0.0.1/../secret",
    b"http://t/.git/config",
]


@pytest.mark.parametrize("target", REFUSED, ids=repr)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_non_public_files_are_never_served(port: int, target: bytes, method: str) -> None:
    reply = get(port, target, method, b"Accept-Encoding: gzip\r\n")
    # 400 is h11 refusing bytes no request may hold; every other refusal is a 404.
    assert reply.status in (400, 404), reply.status
    assert SECRET not in reply.body
    assert b"ai.json" not in reply.body  # no listing either


def test_the_refused_files_exist(site: Site) -> None:
    """Keeps the refusals above honest: each would be there to serve."""
    for name in HIDDEN:
        assert (site.output / name).read_bytes() == SECRET, name
    for name in ("leak.json", "linked/secret.json", "cachelink/parse-abc.cache"):
        assert (site.output / name).read_bytes() == SECRET, name
    for name in ("dotlink.json", "gitlink/config", "templink.json"):
        assert (site.output / name).read_bytes() == SECRET, name
    assert (site.output / ".." / "secret").read_bytes() == SECRET
    assert (site.output / ".." / "cache" / "parse-abc.cache").read_bytes() == SECRET


@pytest.mark.parametrize(
    ("target", "file"),
    [
        (b"/all.json", "all.json"),
        (b"//all.json", "all.json"),
        (b"/all%2ejson", "all.json"),
        (b"/all.json?x=1", "all.json"),
        (b"/topics//ai.json", "topics/ai.json"),
        (b"/all.atom.xml", "all.atom.xml"),
        (b"/", "index.html"),
        (b"/sub/", "sub/index.html"),
        (b"/alias.json", "all.json"),
        (b"/mirror/ai.json", "topics/ai.json"),
    ],
    ids=repr,
)
def test_public_files_are_served_by_any_plain_spelling(port: int, target: bytes, file: str) -> None:
    reply = get(port, target)
    assert reply.status == 200
    assert reply.body == PUBLIC[file]


def test_every_file_a_build_writes_is_served(tmp_path: Path) -> None:
    """The server's list of public suffixes keeps up with what the renderers write."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n, month in enumerate(("2024-01", "2024-02", "2024-03")):
        text = seed_text(f"Story {n}", f"https://example.org/{n}", f"{month}-05T10:00:00Z")
        (seeds / f"{n}.txt").write_text(
            text.replace("---\n", "---\ncategory: news\nprovider: {name: P, domain: p.org}\n", 1)
        )
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "seeds: seeds\noutput: output\ncache_dir: cache\nmax_items: 1\narchives: true\n"
        "facets: {categories: true, providers: true}\n"
        "custom_feeds: [{name: everything, title: Everything}]\n"
    )
    assert main(["build", "--quiet", "--config", str(config)]) == 0
    output = tmp_path / "output"
    written = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    # The marker is the one file a build writes that is never served.
    written.remove(MARKER)
    assert any(name.startswith("archive/") for name in written)
    assert any(name.startswith("custom/") for name in written)
    server = ServerThread(create_app(output), "127.0.0.1", 0)
    server.start()
    try:
        for name in written:
            reply = get(server.port, b"/" + name.encode())
            assert reply.status == 200, name
            assert reply.body == (output / name).read_bytes(), name
    finally:
        server.stop()


# --- methods -------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND", "MKCOL", "MOVE", "LOCK"]
)
def test_only_get_and_head_are_allowed(port: int, site: Site, method: str) -> None:
    reply = get(port, b"/all.json", method)
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert (site.output / "all.json").read_bytes() == PUBLIC["all.json"]


def test_connect_trace_and_unknown_methods_are_refused(port: int) -> None:
    assert get(port, b"127.0.0.1:80", "CONNECT").status in (400, 405)
    # llhttp refuses a method it does not know as a malformed request.
    assert get(port, b"/all.json", "BREW").status in (400, 405)
    reply = get(port, b"/all.json", "TRACE", b"X-Echo: " + SECRET + b"\r\n")
    assert reply.status == 405
    assert SECRET not in reply.body


# --- request size limits -------------------------------------------------------


def refused(port: int, target: bytes, extra: bytes, statuses: tuple[int, ...]) -> bool:
    try:
        return get(port, target, extra=extra).status in statuses
    except (ConnectionResetError, BrokenPipeError):
        return True  # answered and closed before the client finished sending


@pytest.mark.parametrize("size", [17_000, 200_000])
def test_a_request_head_over_16_kib_is_refused(port: int, size: int) -> None:
    # 400 when h11 sees the head arrive in pieces, else the server's own check.
    assert refused(port, b"/all.json?q=" + b"a" * size, b"", (400, 414))
    big_header = b"X-Big: " + b"a" * size + b"\r\n"
    assert refused(port, b"/all.json", big_header, (400, 431))
    big_headers = b"".join(b"X-H%d: %s\r\n" % (n, b"a" * 1000) for n in range(size // 1000))
    assert refused(port, b"/all.json", big_headers, (400, 431))


def test_an_unfinished_head_over_16_kib_is_refused_at_once(port: int) -> None:
    """Its bytes are counted as they come: never held until the head deadline."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /all.json HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000)
        response = http.client.HTTPResponse(sock)
        response.begin()  # the head deadline would close without an answer
        assert response.status == 400
        response.read()
        assert sock.recv(1) == b""


def test_a_long_target_is_414(port: int) -> None:
    assert get(port, b"/all.json?q=" + b"a" * 2000).status == 200
    reply = get(port, b"/all.json?q=" + b"a" * 2100)
    assert reply.status == 414
    assert reply.closed


def test_more_than_100_headers_is_431(port: int) -> None:
    some = b"".join(b"X-H%d: v\r\n" % n for n in range(90))
    assert get(port, b"/all.json", extra=some).status == 200
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(101))
    reply = get(port, b"/all.json", extra=many)
    assert reply.status == 431
    assert reply.closed


@pytest.mark.parametrize(
    "framing", [b"Content-Length: 100000000\r\n", b"Transfer-Encoding: chunked\r\n"]
)
def test_a_request_body_is_refused_without_being_read(port: int, framing: bytes) -> None:
    # No body follows: the server must answer and close rather than wait for it.
    request = b"GET /all.json HTTP/1.1\r\nHost: t\r\n" + framing + b"\r\n"
    reply = raw(port, request)
    assert reply.status == 413
    assert reply.closed


def test_an_empty_body_is_fine(port: int) -> None:
    assert get(port, b"/all.json", extra=b"Content-Length: 0\r\n").status == 200


# --- connections that never finish a request ----------------------------------


@pytest.fixture
def quick_port(site: Site) -> Iterator[int]:
    """A server that gives each request head one second."""
    server = ServerThread(create_app(site.output), "127.0.0.1", 0, head_timeout=1)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def _closed_by_server(sock: socket.socket, dribble: bytes, within: float = 15.0) -> bool:
    """Sends ``dribble`` a byte at a time until the server hangs up, or ``within`` s pass."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + within
    position = 0
    while time.monotonic() < deadline:
        try:
            if position < len(dribble):
                sock.sendall(dribble[position : position + 1])
                position += 1
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_a_connection_that_sends_nothing_is_closed(quick_port: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_port)) as sock:
        assert _closed_by_server(sock, b"")


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(quick_port: int) -> None:
    # Slowloris: each byte would have reset uvicorn's own idle timer.
    head = b"GET /all.json HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"z" * 200
    with socket.create_connection(("127.0.0.1", quick_port)) as sock:
        assert _closed_by_server(sock, head)


def test_empty_lines_sent_a_byte_at_a_time_are_cut_off(quick_port: int) -> None:
    # The parser skips empty lines before a request, so they must not count as heads.
    with socket.create_connection(("127.0.0.1", quick_port)) as sock:
        assert _closed_by_server(sock, b"\r\n" * 200)


def test_an_idle_keep_alive_connection_is_closed(quick_port: int) -> None:
    with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as sock:
        sock.sendall(b"GET /all.json HTTP/1.1\r\nHost: t\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200
        assert response.read() == PUBLIC["all.json"]
        assert _closed_by_server(sock, b"")


def test_pipelined_requests_are_all_answered(quick_port: int) -> None:
    request = b"GET /all.json HTTP/1.1\r\nHost: t\r\n"
    with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as sock:
        sock.sendall(request + b"\r\n" + request + b"\r\n" + request + b"Connection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert received.endswith(PUBLIC["all.json"])


def test_a_prompt_client_is_served_on_the_same_server(quick_port: int) -> None:
    """The cut-offs above are the deadline's doing, not a server that never answers."""
    with socket.create_connection(("127.0.0.1", quick_port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(b"GET /all.json HTTP/1.1\r\nHost: t\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
            assert response.read() == PUBLIC["all.json"]


# --- request headers are never reflected ----------------------------------------

#: What a client (or a poisoned proxy) sends as the host; it must not come back.
EVIL = "evil-5c3f.example"
#: Headers some servers and frameworks take the host, scheme or path from.
SPOOFING = (
    f"X-Forwarded-Host: {EVIL}\r\nX-Forwarded-Proto: gopher\r\nX-Forwarded-Prefix: /{EVIL}\r\n"
    f"Forwarded: host={EVIL};proto=https\r\nX-Original-URL: /{EVIL}\r\n"
    f"X-Rewrite-URL: /{EVIL}\r\nX-Host: {EVIL}\r\nReferer: http://{EVIL}/\r\n"
    f"Origin: http://{EVIL}\r\n"
).encode()
BASE_URL = "https://feeds.example.org/news/"


def _whole_reply(port: int, request: bytes) -> bytes:
    """Every byte the server sends for ``request`` until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def _request(method: bytes, target: bytes, host: str = EVIL) -> bytes:
    return (
        method + b" " + target + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        + SPOOFING + b"Connection: close\r\n\r\n"
    )  # fmt: skip


@pytest.fixture(scope="module")
def based_port(site: Site) -> Iterator[int]:
    server = ServerThread(create_app(site.output, base_url=BASE_URL), "127.0.0.1", 0)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def test_a_folder_redirect_goes_to_base_url_whatever_host_was_sent(based_port: int) -> None:
    for target in (b"/sub", f"http://{EVIL}/sub".encode()):
        reply = raw(based_port, _request(b"GET", target))
        assert reply.status in (301, 307, 308)
        assert reply.headers["Location"] == BASE_URL + "sub/"


def test_without_base_url_a_folder_redirect_names_no_host(port: int) -> None:
    reply = raw(port, _request(b"GET", b"/sub"))
    assert reply.status in (301, 307, 308)
    assert reply.headers["Location"] == "/sub/"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        (b"GET", b"/"),
        (b"GET", b"/sub"),
        (b"HEAD", b"/sub"),
        (b"GET", b"/sub?x=" + EVIL.encode()),
        (b"GET", b"/sub/"),
        (b"GET", b"/all.json"),
        (b"GET", b"/missing"),
        (b"GET", b"/missing/"),
        (b"GET", b"/healthz"),
        (b"GET", b"/healthz/"),
        (b"GET", b"/.git/config"),
        (b"POST", b"/sub"),
        (b"OPTIONS", b"*"),
        (b"GET", b"http://" + EVIL.encode() + b"/sub"),
        (b"GET", b"//" + EVIL.encode() + b"/sub"),
    ],
)
def test_no_request_header_comes_back_in_a_response(
    port: int, based_port: int, method: bytes, target: bytes
) -> None:
    for server in (port, based_port):
        reply = _whole_reply(server, _request(method, target))
        assert reply.startswith(b"HTTP/1.1 ")
        assert EVIL.encode() not in reply.lower(), reply[:500]
        assert b"gopher" not in reply


def test_the_daemon_redirects_to_its_base_url(tmp_path: Path) -> None:
    from tests.daemon_harness import RunningDaemon

    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text(seed_text())
    config = tmp_path / "feeds.yaml"
    config.write_text(f"seeds: seeds\noutput: output\nbase_url: {BASE_URL}\n")
    daemon = RunningDaemon(config)
    try:
        daemon.wait_ready()
        # A folder with an index, as an operator might add beside the feeds.
        _write(tmp_path / "output" / "about" / "index.html", b"<p>about</p>\n")
        reply = raw(daemon.port, _request(b"GET", b"/about"))
        assert reply.status in (301, 307, 308)
        assert reply.headers["Location"] == BASE_URL + "about/"
    finally:
        assert daemon.stop() == 0
