"""Specs of the link checks the publish tests hold a bucket to: which links
count, when one is broken, and which broken links a reader can meet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from feeds.build.oneshot import build
from feeds.config import Config
from tests.conftest import SeedWriter
from tests.publish.bucket import broken_links, links, reachable, roots, unreachable_breaks

BASE = "https://cdn.example.org/feeds/"
PREFIX = "site/"
#: BASE as JSON may write it, every "/" escaped.
ESCAPED_BASE = BASE.replace("/", "\\/")


def atom(*hrefs: str) -> bytes:
    return "".join(f'<link href="{href}" rel="self"/>' for href in hrefs).encode()


def html(*hrefs: str) -> bytes:
    return "".join(f'<a href="{href}">x</a>' for href in hrefs).encode()


def check(objects: dict[str, bytes], *root_keys: str) -> list[tuple[str, str]]:
    return unreachable_breaks(objects, base_url=BASE, prefix=PREFIX, roots=root_keys)


def test_an_absolute_link_under_base_url_is_a_link_to_its_key() -> None:
    found = links(
        "site/all.atom.xml",
        atom(BASE + "archive/all/2024-05.atom.xml"),
        base_url=BASE,
        prefix=PREFIX,
    )

    assert found == {"site/archive/all/2024-05.atom.xml"}


def test_base_url_and_a_folder_url_mean_its_index_page() -> None:
    body = atom(BASE, BASE + "topics/")

    found = links("site/all.atom.xml", body, base_url=BASE, prefix=PREFIX)

    assert found == {"site/index.html", "site/topics/index.html"}


def test_every_form_of_absolute_link_is_found() -> None:
    body = (
        f"<link>{BASE}a.rss.xml</link>"
        f'<outline xmlUrl="{BASE}b.atom.xml" htmlUrl="{BASE}b.html"/>'
        f'{{"feed_url": "{BASE}c.json", "next_url": "{ESCAPED_BASE}d.json"}}'
        f"&lt;a href=&quot;{BASE}e.html&quot;&gt;"
    ).encode()

    found = links("site/all.json", body, base_url=BASE, prefix=PREFIX)

    assert found == {
        f"site/{name}"
        for name in ("a.rss.xml", "b.atom.xml", "b.html", "c.json", "d.json", "e.html")
    }


def test_relative_links_count_in_html_pages_only_fragments_and_queries_dropped() -> None:
    body = html("ai.json", "../index.html", "#subscribe", "ai.rss.xml?v=2#top")

    in_page = links("site/topics/ai.html", body, base_url=BASE, prefix=PREFIX)
    in_feed = links("site/topics/ai.atom.xml", body, base_url=BASE, prefix=PREFIX)

    assert in_page == {
        "site/topics/ai.json",
        "site/index.html",
        "site/topics/ai.html",
        "site/topics/ai.rss.xml",
    }
    assert in_feed == set()


def test_links_leaving_base_url_are_ignored() -> None:
    body = html(
        "https://example.org/feeds/a.html", "https://cdn.example.org/other/b.html", "/c.html"
    )

    assert links("site/index.html", body, base_url=BASE, prefix=PREFIX) == set()


def test_a_link_to_a_missing_object_is_broken() -> None:
    objects = {
        "site/index.html": html("all.html", "gone.html"),
        "site/all.html": html("index.html"),
    }

    assert broken_links(objects, base_url=BASE, prefix=PREFIX) == [
        ("site/index.html", "site/gone.html")
    ]


def test_a_broken_link_a_reader_can_reach_is_reported() -> None:
    objects = {
        "site/index.html": html("all.html"),
        "site/all.html": html("all.atom.xml"),
        "site/all.atom.xml": atom(BASE + "archive/all/2024-04.atom.xml"),
    }

    assert check(objects, "site/index.html") == [
        ("site/all.atom.xml", "site/archive/all/2024-04.atom.xml")
    ]


def test_a_broken_link_in_a_document_nobody_links_to_yet_is_not() -> None:
    objects = {
        "site/index.html": html("all.html"),
        "site/all.html": html(),
        "site/topics/new.atom.xml": atom(BASE + "archive/topics/new/2024-04.atom.xml"),
    }

    assert check(objects, "site/index.html") == []
    assert broken_links(objects, base_url=BASE, prefix=PREFIX) != []


def test_links_are_followed_through_pages_and_feeds_alike() -> None:
    objects = {
        "site/feeds.opml": f'<outline xmlUrl="{BASE}topics/ai.atom.xml"/>'.encode(),
        "site/topics/ai.atom.xml": atom(BASE + "topics/ai.html"),
        "site/topics/ai.html": html("../archive/ai.html"),
    }

    assert check(objects, "site/feeds.opml") == [("site/topics/ai.html", "site/archive/ai.html")]


def test_a_root_no_longer_there_is_skipped() -> None:
    assert check({"site/all.html": html("gone.html")}, "site/index.html") == []


def test_the_roots_of_a_push_are_what_was_there_and_the_entry_documents() -> None:
    assert roots({"site/all.html"}, prefix=PREFIX) == {
        "site/all.html",
        "site/index.html",
        "site/feeds.opml",
    }


def built(
    write_seed: SeedWriter, make_config: Callable[..., Config], output: Path
) -> dict[str, bytes]:
    """A real build's output, as a bucket would hold it under PREFIX."""
    write_seed(
        "old.md",
        title="Old",
        link="https://e.org/old",
        published="2024-04-01T10:00:00Z",
        topics=("AI",),
    )
    write_seed(
        "new.md",
        title="New",
        link="https://e.org/new",
        published="2024-05-01T10:00:00Z",
        topics=("AI",),
    )
    build(make_config(f"base_url: {BASE}\nmax_items: 1\n"))
    return {
        PREFIX + path.relative_to(output).as_posix(): path.read_bytes()
        for path in output.rglob("*")
        if path.is_file()
    }


def test_a_real_build_has_no_broken_link_and_the_checks_see_its_links(
    write_seed: SeedWriter, make_config: Callable[..., Config], output: Path
) -> None:
    objects = built(write_seed, make_config, output)
    assert broken_links(objects, base_url=BASE, prefix=PREFIX) == []
    # Every document is found by following links from the entry documents:
    # the checks know every form of link the output uses.
    entries = roots((), prefix=PREFIX)
    assert reachable(objects, base_url=BASE, prefix=PREFIX, roots=entries) == set(objects) - {
        "site/.made-by-feeds"
    }

    del objects["site/archive/topics/ai/2024-04.atom.xml"], objects["site/topics/ai.html"]
    found = set(check(objects, "site/index.html"))

    assert ("site/topics/ai.atom.xml", "site/archive/topics/ai/2024-04.atom.xml") in found
    assert ("site/index.html", "site/topics/ai.html") in found
