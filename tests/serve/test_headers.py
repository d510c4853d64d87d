"""HEAD, GET and 304 tell the same story about a file, whatever its size and
however a client spells Accept-Encoding (issue 13, item 9).

Files up to the memory limit are answered from memory, larger ones are
streamed from disk; the limit is lowered here (``MEMORY_LIMIT``) so that both
sides of it, and the gzip threshold, are a few bytes apart.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.serve.filecache import GZIP_MINIMUM, FileCache
from feeds.serve.server import ServerThread, _accepts_gzip, _OutputFiles, create_app
from tests.conftest import mark_output
from tests.serve.test_filecache import Reply, fetch

MEMORY_LIMIT = 8 * 1024
# Headers that describe the representation: a HEAD must give the GET's.
DESCRIBING = (
    "Content-Type",
    "Content-Encoding",
    "Content-Length",
    "ETag",
    "Last-Modified",
    "Cache-Control",
    "Vary",
    "Accept-Ranges",
    "Transfer-Encoding",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
)
# What a 304 must carry when the 200 would have (RFC 9110 15.4.5), and the
# CORS headers a browser needs to read a 304 at all.
KEPT_BY_304 = (
    "ETag",
    "Cache-Control",
    "Vary",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
)

SPELLINGS = [
    "",
    "gzip",
    "GZIP",
    "Gzip",
    "x-gzip",
    "X-GZIP",
    "*",
    "*;q=0",
    "identity",
    "identity;q=0",
    "gzip, identity;q=0",
    "*, identity;q=0",
    "gzip;q=0",
    "GZIP;Q=0",
    "gzip;q=0.001",
    "gzip; q=1.0",
    " gzip ; q=0.5 ",
    "deflate, gzip;q=0.5",
    "br",
    "br, deflate",
    "gzip;q=0, *",
    "*;q=0.1, gzip;q=0",
    "gzip;q=nonsense",
    "deflate;q=0.5, *;q=0.1",
]
SIZES = sorted(
    {
        0,
        1,
        GZIP_MINIMUM - 1,
        GZIP_MINIMUM,
        GZIP_MINIMUM + 1,
        *range(MEMORY_LIMIT - 2, MEMORY_LIMIT + 3),
        3 * MEMORY_LIMIT,
    }
)


@dataclass
class Served:
    output: Path
    port: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    output = tmp_path_factory.mktemp("headers")
    cache = FileCache(max_file_bytes=MEMORY_LIMIT)
    server = ServerThread(create_app(mark_output(output), cache=cache), "127.0.0.1", 0)
    server.start()
    try:
        yield Served(output, server.port)
    finally:
        server.stop()


def content(size: int) -> bytes:
    """Compressible, and different for every size."""
    line = f"<item n='{size}'>facial recognition council vote</item>\n".encode()
    return (line * (size // len(line) + 1))[:size]


def describing(reply: Reply) -> dict[str, str | None]:
    return {name: reply.headers[name] for name in DESCRIBING}


def check_agreement(served: Served, name: str, data: bytes, accept_encoding: str) -> None:
    path = "/" + name
    asked = {"Accept_Encoding": accept_encoding}
    get = fetch(served.port, path, **asked)
    head = fetch(served.port, path, "HEAD", **asked)
    assert get.status == head.status == 200
    assert head.body == b""

    # The body is the file, in the coding the headers name.
    gzipped = get.headers["Content-Encoding"] == "gzip"
    assert get.headers["Content-Encoding"] in (None, "gzip")
    assert (gzip.decompress(get.body) if gzipped else get.body) == data
    # gzip exactly when the client takes it and the file is worth it.
    assert gzipped == (_accepts_gzip(accept_encoding) and len(data) >= GZIP_MINIMUM)
    # A strong ETag names the identity bytes; gzip bytes get the weak one.
    etag = get.headers["ETag"]
    assert etag is not None
    assert etag.startswith("W/") == gzipped
    assert get.headers["Vary"] == "Accept-Encoding"
    # From memory or streamed, a browser-based reader may read it and its validators.
    assert get.headers["Access-Control-Allow-Origin"] == "*"
    assert get.headers["Access-Control-Expose-Headers"] == "ETag, Last-Modified, Link"
    framing = get.headers["Content-Length"]
    assert framing is None or int(framing) == len(get.body)
    assert (framing is None) == (get.headers["Transfer-Encoding"] == "chunked")

    # HEAD describes the GET, except for the framing of a body it does not send.
    expected = describing(get)
    if expected["Transfer-Encoding"] == "chunked":
        expected["Transfer-Encoding"] = None
    assert describing(head) == expected

    # A 304, to the validator just received or its other-coding twin, carries
    # what the 200 carried.
    strong = etag.removeprefix("W/")
    for validator in (etag, strong, f"W/{strong}", f'"other", {etag}'):
        for method in ("GET", "HEAD"):
            not_modified = fetch(served.port, path, method, If_None_Match=validator, **asked)
            assert not_modified.status == 304, (validator, method)
            assert not_modified.body == b""
            for header in KEPT_BY_304:
                assert not_modified.headers[header] == get.headers[header], (header, validator)
    # And a validator of other bytes is no match.
    assert fetch(served.port, path, If_None_Match='"other"', **asked).status == 200


@given(size=st.sampled_from(SIZES), accept_encoding=st.sampled_from(SPELLINGS))
def test_head_get_and_304_agree(served: Served, size: int, accept_encoding: str) -> None:
    name = f"f{size}.json"
    data = content(size)
    if not (served.output / name).exists():
        (served.output / name).write_bytes(data)
    check_agreement(served, name, data, accept_encoding)


@pytest.mark.parametrize("size", [MEMORY_LIMIT - 1, MEMORY_LIMIT + 1])
@pytest.mark.parametrize("accept_encoding", ["GZIP", "*", "X-GZIP", "identity;q=0, gzip"])
def test_spellings_of_gzip_get_gzip_on_both_sides_of_the_memory_limit(
    served: Served, size: int, accept_encoding: str
) -> None:
    name = f"spelled-{size}.json"
    (served.output / name).write_bytes(content(size))
    for method in ("GET", "HEAD"):
        reply = fetch(served.port, "/" + name, method, Accept_Encoding=accept_encoding)
        assert reply.headers["Content-Encoding"] == "gzip", (method, accept_encoding)
        assert reply.headers["ETag"].startswith("W/"), (method, accept_encoding)


def test_a_large_file_replaced_while_asked_for_is_served_whole_with_its_own_validators(
    served: Served,
) -> None:
    """The validators and length of a streamed file come from the file it reads."""
    path = served.output / "swapped.json"
    first, second = content(3 * MEMORY_LIMIT), content(5 * MEMORY_LIMIT)
    path.write_bytes(first)
    before = fetch(served.port, "/swapped.json", Accept_Encoding="identity")
    temp = served.output / ".swap.tmp"
    temp.write_bytes(second)
    os.replace(temp, path)
    after = fetch(served.port, "/swapped.json", Accept_Encoding="identity")
    assert before.body == first
    assert after.body == second
    assert after.headers["Content-Length"] == str(len(second))
    assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_a_large_file_replaced_between_lookup_and_read_is_described_as_read(
    served: Served, monkeypatch: pytest.MonkeyPatch, accept_encoding: str
) -> None:
    """Was: the headers came from the lookup's stat and the bytes from a later
    open, so a replaced file went out with the old length and ETag."""
    path = served.output / f"raced-{accept_encoding}.json"
    first, second = content(3 * MEMORY_LIMIT), content(5 * MEMORY_LIMIT)
    path.write_bytes(first)
    lookup = _OutputFiles.lookup_path

    def replacing(self: _OutputFiles, name: str) -> tuple[str, os.stat_result | None]:
        found = lookup(self, name)
        if name == path.name and path.read_bytes() == first:
            temp = served.output / ".raced.tmp"
            temp.write_bytes(second)
            os.replace(temp, path)  # as the writer does, just after the server's stat
        return found

    monkeypatch.setattr(_OutputFiles, "lookup_path", replacing)
    raced = fetch(served.port, "/" + path.name, Accept_Encoding=accept_encoding)
    monkeypatch.undo()
    settled = fetch(served.port, "/" + path.name, Accept_Encoding=accept_encoding)
    body = gzip.decompress(raced.body) if accept_encoding == "gzip" else raced.body
    assert body == second
    assert raced.headers["ETag"] == settled.headers["ETag"]
    assert raced.headers["Content-Length"] == settled.headers["Content-Length"]


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_ranges_of_a_large_file_are_of_its_identity_bytes(
    served: Served, accept_encoding: str
) -> None:
    data = content(3 * MEMORY_LIMIT)
    (served.output / "ranged.json").write_bytes(data)
    whole = fetch(served.port, "/ranged.json", Accept_Encoding="identity")
    part = fetch(served.port, "/ranged.json", Range="bytes=10-19", Accept_Encoding=accept_encoding)
    if accept_encoding == "identity":
        assert part.status == 206
        assert part.body == data[10:20]
        assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
        assert part.headers["ETag"] == whole.headers["ETag"]
    else:
        # A client that takes gzip gets the whole gzip body: a range of it would
        # name bytes of a body made anew for each response.
        assert part.status == 200
        assert part.headers["Content-Encoding"] == "gzip"
        assert part.headers["Accept-Ranges"] is None
        assert gzip.decompress(part.body) == data
    suffix = fetch(served.port, "/ranged.json", Range="bytes=-5", Accept_Encoding="identity")
    assert suffix.status == 206
    assert suffix.body == data[-5:]
    beyond = fetch(
        served.port, "/ranged.json", Range=f"bytes={len(data)}-", Accept_Encoding="identity"
    )
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    stale = fetch(
        served.port,
        "/ranged.json",
        Range="bytes=10-19",
        If_Range='"not-the-etag"',
        Accept_Encoding="identity",
    )
    assert stale.status == 200
    assert stale.body == data
