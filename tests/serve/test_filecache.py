"""The server's memory of files (feeds/serve/filecache.py): it never serves an older
version's bytes or another file's, and every body it sends is byte-correct."""

from __future__ import annotations

import gzip
import http.client
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import feeds.serve.server
from feeds.build.writer import OutputFolder
from feeds.serve.filecache import Entry, FileCache, load
from feeds.serve.server import ServerThread, _accepts_gzip, create_app
from feeds.system.folders import MARKER, MARKER_TEXT

SECRET = b"SECRET-91b7c2"


def feed(tag: str, size: int = 4000) -> bytes:
    """A JSON body of exactly ``size`` bytes that differs by ``tag``."""
    head = b'{"version": "' + tag.encode() + b'", "items": ["'
    tail = b'"]}\n'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def fetch(port: int, path: str, method: str = "GET", **headers: str) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


@dataclass
class Served:
    output: Path
    port: int
    cache: FileCache


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    output = tmp_path / "output"
    output.mkdir()
    (output / MARKER).write_bytes(MARKER_TEXT)
    cache = FileCache(max_file_bytes=64 * 1024)
    server = ServerThread(create_app(output, cache=cache), "127.0.0.1", 0)
    server.start()
    try:
        yield Served(output, server.port, cache)
    finally:
        server.stop()


def both(served: Served, path: str) -> tuple[Reply, Reply]:
    """The identity and the gzip answer, each checked for its own framing."""
    plain = fetch(served.port, path, Accept_Encoding="identity")
    zipped = fetch(served.port, path, Accept_Encoding="gzip")
    for reply in (plain, zipped):
        # Absent only when a large file is gzipped as it streams (chunked).
        assert reply.headers["Content-Length"] in (None, str(len(reply.body)))
    if zipped.headers["Content-Encoding"] == "gzip":
        zipped.body = gzip.decompress(zipped.body)
    return plain, zipped


# --- never an older version ---------------------------------------------------------


def test_a_file_replaced_by_the_writer_is_served_new_at_once(served: Served) -> None:
    writer = OutputFolder(served.output)
    writer.write("all.json", feed("one"))
    path = served.output / "all.json"
    before = path.stat()
    old = both(served, "/all.json")
    assert [reply.body for reply in old] == [feed("one")] * 2
    old_etag = old[0].headers["ETag"]
    assert len(served.cache) == 1

    writer.write("all.json", feed("two"))
    # Same size and, forced, the same mtime: only the inode tells the versions apart.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino != before.st_ino
    new = both(served, "/all.json")
    assert [reply.body for reply in new] == [feed("two")] * 2
    assert new[0].headers["ETag"] != old_etag
    assert fetch(served.port, "/all.json", If_None_Match=old_etag).status == 200


def test_a_file_rewritten_in_place_with_its_old_mtime_is_served_new(served: Served) -> None:
    path = served.output / "all.json"
    path.write_bytes(feed("one"))
    before = path.stat()
    assert both(served, "/all.json")[0].body == feed("one")
    with path.open("r+b") as file:
        file.write(feed("two"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert [reply.body for reply in both(served, "/all.json")] == [feed("two")] * 2


def test_a_deleted_file_is_404_even_to_a_client_holding_its_etag(served: Served) -> None:
    path = served.output / "all.json"
    path.write_bytes(feed("one"))
    etag = fetch(served.port, "/all.json").headers["ETag"]
    path.unlink()
    for headers in ({}, {"If_None_Match": etag}, {"Accept_Encoding": "gzip"}):
        reply = fetch(served.port, "/all.json", **headers)
        assert reply.status == 404, headers
        assert b"xxxx" not in reply.body


def test_a_swapped_symlink_serves_its_new_target_and_never_a_foreign_file(
    served: Served, tmp_path: Path
) -> None:
    (served.output / "a.json").write_bytes(feed("aaa"))
    (served.output / "b.json").write_bytes(feed("bbb"))
    (served.output / ".hidden.json").write_bytes(feed("hid") + SECRET)
    (tmp_path / "secret.json").write_bytes(feed("sec") + SECRET)
    link = served.output / "alias.json"

    def point(target: Path) -> None:
        temp = served.output / ".link.tmp"
        temp.symlink_to(target)
        os.replace(temp, link)

    point(served.output / "a.json")
    assert [reply.body for reply in both(served, "/alias.json")] == [feed("aaa")] * 2
    point(served.output / "b.json")
    assert [reply.body for reply in both(served, "/alias.json")] == [feed("bbb")] * 2
    for target in (tmp_path / "secret.json", served.output / ".hidden.json"):
        point(target)
        for headers in ({}, {"Accept_Encoding": "gzip"}):
            reply = fetch(served.port, "/alias.json", **headers)
            assert reply.status == 404
            assert SECRET not in reply.body
    assert link.read_bytes().endswith(SECRET)  # the 404s above are the server's doing


# --- byte-correct bodies -----------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 499, 500, 4000, 60_000, 200_000])
def test_identity_and_gzip_bodies_are_the_file(served: Served, size: int) -> None:
    data = (os.urandom(size // 2).hex().encode() + b"z")[:size]
    (served.output / "f.json").write_bytes(data)
    plain, zipped = both(served, "/f.json")
    assert plain.status == zipped.status == 200
    assert plain.body == data
    assert zipped.body == data
    assert plain.headers["Content-Encoding"] is None
    assert zipped.headers["Content-Encoding"] == ("gzip" if size >= 500 else None)
    etag = plain.headers["ETag"]
    assert zipped.headers["ETag"] == (f"W/{etag}" if size >= 500 else etag)
    kept = size <= 64 * 1024  # the fixture's limit; larger files are streamed
    assert len(served.cache) == (1 if kept else 0)
    for encoding, reply in (("identity", plain), ("gzip", zipped)):
        assert reply.headers["Vary"] == "Accept-Encoding"
        if not kept:
            continue
        assert reply.headers["Content-Length"] is not None
        head = fetch(served.port, "/f.json", "HEAD", Accept_Encoding=encoding)
        assert head.body == b""
        for name in ("Content-Length", "Content-Encoding", "ETag", "Content-Type", "Vary"):
            assert (
                head.headers[name]
                == fetch(served.port, "/f.json", Accept_Encoding=encoding).headers[name]
            ), (encoding, name)
        assert reply.headers["Vary"] == "Accept-Encoding"
    # Kept files (up to 64 KiB here) come from memory; larger ones are streamed.
    assert len(served.cache) == (1 if size <= 64 * 1024 else 0)


def test_a_304_carries_the_etag_of_the_encoding_asked_for(served: Served) -> None:
    (served.output / "f.json").write_bytes(feed("one"))
    etag = fetch(served.port, "/f.json").headers["ETag"]
    zipped = fetch(served.port, "/f.json", Accept_Encoding="gzip", If_None_Match=etag)
    assert zipped.status == 304
    assert zipped.headers["ETag"] == f"W/{etag}"
    plain = fetch(served.port, "/f.json", If_None_Match=f"W/{etag}")
    assert plain.status == 304
    assert plain.headers["ETag"] == etag


def test_a_large_file_is_streamed_with_ranges_and_a_kept_one_ignores_range(
    served: Served,
) -> None:
    large = feed("big", 100_000)
    (served.output / "big.json").write_bytes(large)
    (served.output / "small.json").write_bytes(feed("small"))
    part = fetch(served.port, "/big.json", Range="bytes=10-19")
    assert part.status == 206
    assert part.body == large[10:20]
    whole = fetch(served.port, "/small.json", Range="bytes=10-19")
    assert whole.status == 200
    assert whole.body == feed("small")
    assert whole.headers["Accept-Ranges"] is None


# --- reads: once per version -----------------------------------------------------------


def test_hits_and_304s_read_nothing(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    (served.output / "f.json").write_bytes(feed("one"))
    etag = fetch(served.port, "/f.json").headers["ETag"]

    def no_reads(path: str, tries: int = 3) -> Entry:
        raise AssertionError("read " + path)

    monkeypatch.setattr(feeds.serve.server, "load", no_reads)
    assert fetch(served.port, "/f.json", If_None_Match=etag).status == 304
    assert fetch(served.port, "/f.json", Accept_Encoding="gzip").body != b""
    assert fetch(served.port, "/f.json").body == feed("one")


def test_concurrent_requests_for_a_new_version_read_it_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []

    def slow_load(path: str, tries: int = 3) -> Entry:
        loads.append(path)
        time.sleep(0.5)  # long enough for every request below to arrive meanwhile
        return load(path, tries)

    monkeypatch.setattr(feeds.serve.server, "load", slow_load)
    (served.output / "f.json").write_bytes(feed("one"))
    bodies: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: bodies.append(fetch(served.port, "/f.json").body))
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bodies == [feed("one")] * 10
    assert len(loads) == 1


# --- units --------------------------------------------------------------------------


def test_the_cache_is_bounded_in_bytes_and_evicts_the_least_recently_used(
    tmp_path: Path,
) -> None:
    cache = FileCache(max_bytes=3 * 499 + 100, max_file_bytes=10_000)
    entries = {}
    for name in "abcd":
        path = tmp_path / f"{name}.json"
        path.write_bytes(feed(name)[:498] + b"\n")  # under the gzip threshold: cost = size
        entries[name] = load(str(path))
    for name in "abc":
        cache.put(entries[name])
    stats = {name: (tmp_path / f"{name}.json").stat() for name in "abcd"}
    assert cache.get(str(tmp_path / "a.json"), stats["a"]) is entries["a"]  # a is now recent
    cache.put(entries["d"])
    assert cache.size <= cache.max_bytes
    assert cache.get(str(tmp_path / "b.json"), stats["b"]) is None
    for name in "acd":
        assert cache.get(str(tmp_path / f"{name}.json"), stats[name]) is entries[name]

    too_big = FileCache(max_bytes=100)
    too_big.put(entries["a"])
    assert len(too_big) == 0
    assert too_big.size == 0


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip; q=1.0", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("br, deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_negotiated_with_its_qualities(header: str, gzip_ok: bool) -> None:
    assert _accepts_gzip(header) is gzip_ok
