"""Each reliance on a dependency's internals (feeds/compat/) still holds.

A failure names the dependency, its version and the internal. Fix it in the
one module of feeds/compat/ for that dependency, or keep the dependency below
the version that changed it (pyproject.toml), and update README.md's
"Maintainers" section either way. Behaviour built on these internals is
tested where it is used: tests/serve/test_security.py, tests/serve/test_head_guard.py
(uvicorn) and tests/render/test_splice.py, tests/test_golden.py (feedgen).
"""

from __future__ import annotations

import asyncio
import http.client
import importlib
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from feedgen.feed import FeedGenerator

import feeds.compat.feedgen
import feeds.compat.uvicorn
from feeds.errors import DependencyError
from feeds.serve.connections import HeadGuard
from feeds.serve.server import ServerThread, create_app
from tests.conftest import mark_output

FIX = "change the dependency's module in feeds/compat/ or bound its version in pyproject.toml"


def _version(dependency: str) -> str:
    return metadata.version(dependency)


# --- uvicorn -------------------------------------------------------------------


def test_uvicorn_still_has_its_httptools_protocol() -> None:
    try:
        protocol = feeds.compat.uvicorn.httptools_protocol()
    except DependencyError as error:
        pytest.fail(f"{error}; {FIX}")
    assert issubclass(protocol, asyncio.Protocol)


def test_uvicorn_still_makes_each_connection_with_the_guard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The guard relies on uvicorn making each connection's protocol from the
    class given as ``Config(http=...)``; were that ignored, nothing would guard."""
    made: list[asyncio.BaseTransport] = []
    connection_made = HeadGuard.connection_made

    def counting(self: HeadGuard, transport: asyncio.BaseTransport) -> None:
        made.append(transport)
        connection_made(self, transport)

    monkeypatch.setattr(HeadGuard, "connection_made", counting)
    server = ServerThread(create_app(mark_output(tmp_path)), "127.0.0.1", 0)
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        server.stop()
    assert len(made) == 1, (
        f"uvicorn {_version('uvicorn')} did not make the connection's protocol from "
        f"Config(http=...): the request-head guard is not in front of it; {FIX}"
    )


def test_uvicorn_still_starts_a_request_while_its_bytes_are_parsed(tmp_path: Path) -> None:
    """A connection is idle (and may make room for a new one) only once its
    request is answered; the app learns its connection from the context the
    guard sets while passing the bytes on, which reaches the request's task
    only if uvicorn makes the task then. Were it not, a kept-alive connection
    would never count as idle and the new one would be refused."""
    (tmp_path / "all.json").write_bytes(b"{}")
    server = ServerThread(create_app(mark_output(tmp_path)), "127.0.0.1", 0, max_connections=1)
    server.start()
    try:
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        kept.request("GET", "/all.json")
        assert kept.getresponse().read() == b"{}"
        fresh = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        fresh.request("GET", "/all.json")
        status = fresh.getresponse().status
        kept.close()
        fresh.close()
    finally:
        server.stop()
    assert status == 200, (
        f"uvicorn {_version('uvicorn')} no longer starts a request's task while "
        f"the guard passes its bytes on: kept-alive connections never count as idle; {FIX}"
    )


def test_a_uvicorn_without_it_is_named_with_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn.protocols.http.httptools_impl", None)
    with pytest.raises(DependencyError) as caught:
        feeds.compat.uvicorn.httptools_protocol()
    message = str(caught.value)
    assert f"uvicorn {_version('uvicorn')} has no {feeds.compat.uvicorn.INTERNAL}" in message


def test_feeds_run_stops_at_start_without_it(tmp_path: Path) -> None:
    # A new process, as a user starts it: importing the service afresh in this
    # one would leave other tests' modules bound to objects the server no
    # longer uses.
    (tmp_path / "seeds").mkdir()
    script = (
        "import sys\n"
        "sys.modules['uvicorn.protocols.http.httptools_impl'] = None\n"
        "from feeds.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "run", "--seeds", str(tmp_path / "seeds"),
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert re.search(r"feeds: error: uvicorn \S+ has no uvicorn\.protocols", done.stderr)
    assert "Traceback" not in done.stderr


# --- feedgen -------------------------------------------------------------------


def test_feedgen_still_builds_its_documents_as_trees() -> None:
    feed = FeedGenerator()
    feed.id("urn:x")
    feed.title("t")
    feed.description("d")
    feed.link(href="https://example.org/", rel="alternate")
    try:
        atom = feeds.compat.feedgen.tree(feed, "atom")
        rss = feeds.compat.feedgen.tree(feed, "rss")
    except (DependencyError, TypeError, ValueError) as error:
        pytest.fail(
            f"feedgen {_version('feedgen')}: {' and '.join(feeds.compat.feedgen.INTERNALS)} "
            f"failed ({error!r}); {FIX}"
        )
    from lxml import etree

    # The trees are the documents feedgen serialises publicly.
    assert etree.tostring(atom, xml_declaration=True, encoding="UTF-8") == feed.atom_str(
        pretty=False
    ), f"feedgen {_version('feedgen')}'s _create_atom no longer gives the atom_str document"
    assert etree.tostring(rss, xml_declaration=True, encoding="UTF-8") == feed.rss_str(
        pretty=False
    ), f"feedgen {_version('feedgen')}'s _create_rss no longer gives the rss_str document"


def test_a_feedgen_without_them_is_named_with_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(FeedGenerator, "_create_rss")
    with pytest.raises(DependencyError) as caught:
        importlib.reload(feeds.compat.feedgen)
    monkeypatch.undo()
    importlib.reload(feeds.compat.feedgen)
    assert f"feedgen {_version('feedgen')} has no FeedGenerator._create_rss" in str(caught.value)
