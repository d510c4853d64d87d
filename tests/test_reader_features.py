"""What makes readers prefer these feeds: history, push, rich entries, custom feeds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import etree

from feeds.build.oneshot import build
from feeds.config import Config
from tests.conftest import REPO, SeedWriter

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
BASE = "http://127.0.0.1:8080/"
ConfigFactory = Callable[..., Config]


def _local(output: Path, url: str) -> Path:
    assert url.startswith(BASE), url
    return output / url.removeprefix(BASE)


def _atom_links(path: Path) -> dict[str, str]:
    root = etree.parse(path).getroot()
    return {link.get("rel", ""): link.get("href", "") for link in root.findall(f"{ATOM}link")}


def _rss_links(path: Path) -> dict[str, str]:
    channel = etree.parse(path).getroot().find("channel")
    assert channel is not None
    return {link.get("rel", ""): link.get("href", "") for link in channel.findall(f"{ATOM}link")}


def _seven_years(write_seed: SeedWriter) -> None:
    for year in range(2017, 2024):
        write_seed(f"{year}.txt", link=f"https://e.org/{year}", published=f"{year}-06-01")


# --- complete history (RFC 5005) -----------------------------------------


#: Each test so marked walks the archive chain of both XML formats.
_ATOM_AND_RSS_CHAINS = pytest.mark.parametrize(
    ("suffix", "links_of"), [(".atom.xml", _atom_links), (".rss.xml", _rss_links)]
)


@_ATOM_AND_RSS_CHAINS
def test_the_archive_chain_leads_from_the_current_feed_to_the_first_article(
    suffix: str,
    links_of: Callable[[Path], dict[str, str]],
    write_seed: SeedWriter,
    output: Path,
    make_config: ConfigFactory,
) -> None:
    _seven_years(write_seed)
    build(make_config("max_items: 2"))
    current = output / f"all{suffix}"
    assert len(feedparser.parse(current.read_bytes()).entries) == 2
    seen: list[str] = [e.link for e in feedparser.parse(current.read_bytes()).entries]
    page = current
    visited = 0
    while "prev-archive" in links_of(page):
        previous = page
        page = _local(output, links_of(page)["prev-archive"])
        visited += 1
        document = etree.parse(page).getroot()
        assert document.find(f".//{FH}archive") is not None, "archive documents are marked"
        links = links_of(page)
        assert links["current"] == f"{BASE}all{suffix}"
        if previous != current:
            assert _local(output, links["next-archive"]) == previous
        parsed = feedparser.parse(page.read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        seen += [entry.link for entry in parsed.entries]
    assert visited == 5
    assert sorted(seen) == [f"https://e.org/{year}" for year in range(2017, 2024)]
    assert etree.parse(current).getroot().find(f".//{FH}archive") is None


def test_the_json_next_url_chain_leads_from_the_current_feed_to_the_first_article(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    _seven_years(write_seed)
    build(make_config("max_items: 2"))
    document = json.loads((output / "all.json").read_text("utf-8"))
    seen: list[str] = []
    pages: list[Path] = []
    while True:
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        seen += [item["url"] for item in document["items"]]
        if "next_url" not in document:
            break
        page = _local(output, document["next_url"])
        assert page.parent == output / "archive" / "all"
        assert page not in pages, "the chain has no loop"
        pages.append(page)
        document = json.loads(page.read_text("utf-8"))
        assert document["feed_url"] == f"{BASE}{page.relative_to(output).as_posix()}"
    assert [page.name for page in pages] == [f"{year}-06.json" for year in range(2021, 2016, -1)]
    # Every article exactly once, newest first: the last page holds the first article.
    assert seen == [f"https://e.org/{year}" for year in range(2023, 2016, -1)]


def test_every_format_has_archives_and_archives_can_be_switched_off(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    _seven_years(write_seed)
    build(make_config("max_items: 2"))
    assert sorted(p.name for p in (output / "archive" / "all").iterdir()) == [
        f"{year}-06{suffix}"
        for year in range(2017, 2022)
        for suffix in (".atom.xml", ".json", ".rss.xml")
    ]
    report = build(make_config("max_items: 2\narchives: false"))
    assert not list((output / "archive").rglob("*.*"))
    assert "archive/all/2017-06.atom.xml" in report.removed
    assert "archive/all/2017-06.json" in report.removed
    assert "next_url" not in json.loads((output / "all.json").read_text("utf-8"))


def test_an_archive_is_rewritten_only_when_its_own_entries_change(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    _seven_years(write_seed)
    config = make_config("max_items: 2")
    build(config)
    archives = sorted((output / "archive" / "all").iterdir())
    before = {path.name: (path.stat().st_mtime_ns, path.stat().st_ino) for path in archives}
    write_seed("2024.txt", link="https://e.org/2024", published="2024-06-01")
    report = build(config)
    changed = {Path(name).name for name in report.written if name.startswith("archive/all/")}
    # June 2022 left the main document for its archive (new), and June 2021's
    # archive gained a next-archive neighbour; the older months stay untouched.
    # JSON Feed links only to the older page, so June 2021's JSON stays as it was.
    assert changed == {
        "2022-06.atom.xml",
        "2022-06.rss.xml",
        "2022-06.json",
        "2021-06.atom.xml",
        "2021-06.rss.xml",
    }
    for path in archives:
        if path.name not in changed:
            stat = path.stat()
            assert (stat.st_mtime_ns, stat.st_ino) == before[path.name], path.name
    newest = json.loads((output / "all.json").read_text("utf-8"))["next_url"]
    assert newest == f"{BASE}archive/all/2022-06.json"
    assert json.loads((output / "archive/all/2022-06.json").read_text("utf-8"))["next_url"] == (
        f"{BASE}archive/all/2021-06.json"
    )


def _chain(output: Path, suffix: str, links_of: Callable[[Path], dict[str, str]]) -> list[Path]:
    """The documents from the current feed back along prev-archive links."""
    pages = [output / f"all{suffix}"]
    while "prev-archive" in links_of(pages[-1]):
        page = _local(output, links_of(pages[-1])["prev-archive"])
        assert page not in pages, "the chain has no loop"
        pages.append(page)
    return pages


def _busy_month(write_seed: SeedWriter, excerpt: str = "") -> list[str]:
    """Forty articles in February 2024, several a day, some at one instant."""
    links = []
    for number in range(40):
        day, hour = 1 + number % 28, 0 if number < 8 else number % 24
        links.append(f"https://e.org/{number}")
        write_seed(
            f"{number}.txt",
            link=links[-1],
            published=f"2024-02-{day:02d}T{hour:02d}:00:00Z",
            extra=f'excerpt: "{excerpt}"\n' if excerpt else "",
        )
    return links


@_ATOM_AND_RSS_CHAINS
def test_a_busy_month_is_archived_in_bounded_parts_that_chain_to_every_article(
    suffix: str,
    links_of: Callable[[Path], dict[str, str]],
    write_seed: SeedWriter,
    output: Path,
    make_config: ConfigFactory,
) -> None:
    links = _busy_month(write_seed)
    build(make_config("max_items: 2\narchive_max_items: 3"))
    pages = _chain(output, suffix, links_of)
    seen: list[str] = []
    for page in pages:
        parsed = feedparser.parse(page.read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) <= (2 if page == pages[0] else 3)
        seen += [entry.link for entry in parsed.entries]
    assert sorted(seen) == sorted(links)
    assert len(seen) == len(set(seen))
    names = [page.name.removesuffix(suffix) for page in pages[1:]]
    assert all(name.startswith("2024-02_") for name in names), names


def test_archives_stay_within_the_byte_budget_however_busy_the_month(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    links = _busy_month(write_seed, " ".join(f"word{n}" for n in range(120)))
    build(make_config("max_bytes: 16384\nsummary_length: 400\nmax_items: 2"))
    archives = [path for path in (output / "archive").rglob("*.*") if path.is_file()]
    assert archives
    assert max(path.stat().st_size for path in archives) <= 16384
    document = json.loads((output / "all.json").read_text("utf-8"))
    seen = [item["url"] for item in document["items"]]
    while "next_url" in document:
        document = json.loads(_local(output, document["next_url"]).read_text("utf-8"))
        seen += [item["url"] for item in document["items"]]
    assert sorted(seen) == sorted(links)


# --- WebSub -----------------------------------------------------------------


def test_every_format_names_the_hubs_and_itself(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("a.txt")
    build(make_config('websub:\n  hubs: ["https://hub.example.com/", "https://hub2.example.net/"]'))
    atom = etree.parse(output / "all.atom.xml").getroot()
    assert [link.get("href") for link in atom.findall(f"{ATOM}link[@rel='hub']")] == [
        "https://hub.example.com/",
        "https://hub2.example.net/",
    ]
    assert atom.find(f"{ATOM}link[@rel='self']").get("href") == f"{BASE}all.atom.xml"  # type: ignore[union-attr]
    rss = etree.parse(output / "topics" / "ai.rss.xml").getroot().find("channel")
    assert rss is not None
    assert [link.get("href") for link in rss.findall(f"{ATOM}link[@rel='hub']")] == [
        "https://hub.example.com/",
        "https://hub2.example.net/",
    ]
    assert rss.find(f"{ATOM}link[@rel='self']").get("href") == f"{BASE}topics/ai.rss.xml"  # type: ignore[union-attr]
    document = json.loads((output / "all.json").read_text())
    assert document["hubs"] == [
        {"type": "WebSub", "url": "https://hub.example.com/"},
        {"type": "WebSub", "url": "https://hub2.example.net/"},
    ]
    assert not feedparser.parse((output / "topics" / "ai.rss.xml").read_bytes()).bozo


# --- rich entries -------------------------------------------------------------

RICH = """\
originalUrl: "https://source.example.com/original"
category: news
provider: {name: Example News, domain: news.example.com}
images:
  - {url: "https://img.example.com/lead.jpg", width: 800, height: 450}
  - {url: "https://img.example.com/second.png", width: 100, height: 50}
related:
  - title: "Background <story>"
    webUrl: "https://other.example.org/background"
    excerpt: "Why it matters"
    provider: {name: Other, domain: other.example.org}
"""


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_images_related_articles_provider_and_categories_reach_readers(
    name: str, write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("a.txt", topics=("AI", "Robots"), extra=RICH)
    build(make_config())
    parsed = feedparser.parse((output / name).read_bytes())
    assert not parsed.bozo
    entry = parsed.entries[0]
    assert entry.media_content[0] == {
        "url": "https://img.example.com/lead.jpg",
        "medium": "image",
        "width": "800",
        "height": "450",
    }
    assert entry.media_content[1]["url"] == "https://img.example.com/second.png"
    assert entry.media_thumbnail[0]["url"] == "https://img.example.com/lead.jpg"
    assert entry.enclosures[0]["href"] == "https://img.example.com/lead.jpg"
    assert entry.enclosures[0]["type"] == "image/jpeg"
    assert entry.author == "Example News"
    assert {tag.term for tag in entry.tags} == {"AI", "Robots", "news"}
    # With no excerpt, RSS carries the HTML content in the description itself.
    content = entry.content[0].value if "content" in entry else entry.summary
    assert "Related" in content
    assert "https://other.example.org/background" in content
    assert "Background &lt;story&gt;" in content
    assert "Why it matters" in content
    if name.endswith(".atom.xml"):
        related = [link for link in entry.links if link.rel == "related"]
        assert [(link.href, link.title) for link in related] == [
            ("https://other.example.org/background", "Background <story>")
        ]
        assert entry.source.title == "Example News"
    else:
        assert entry.source.title == "Example News"
        assert entry.source.href == "https://news.example.com/"


#: RFC 3339 date-time as the W3C Feed Validation Service checks atom:updated.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _is_absolute_iri(text: str) -> bool:
    parts = urlsplit(text)
    return (parts.scheme in {"http", "https"} and bool(parts.netloc)) or parts.scheme == "tag"


def test_atom_source_has_the_id_title_and_updated_rfc_4287_asks_for(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed(
        "a.txt",
        published="2024-05-01T10:00:00+02:00",
        extra=RICH + "updatedDateTime: 2024-05-03T08:30:00Z\n",
    )
    write_seed(
        "b.txt",
        link="https://example.org/b",
        extra="provider: {name: Example News, domain: news.example.com}\n",
    )
    write_seed("c.txt", link="https://example.org/c", extra="provider: {name: No Site}\n")
    build(make_config())
    data = (output / "all.atom.xml").read_bytes()
    entries = {
        entry.findtext(f"{ATOM}id"): entry
        for entry in etree.fromstring(data).iterfind(f"{ATOM}entry")
    }
    sources = {}
    for entry_id, entry in entries.items():
        found = entry.findall(f"{ATOM}source")
        assert len(found) <= 1
        if not found:
            continue
        source = found[0]
        for name in ("id", "title", "updated"):  # each exactly once (RFC 4287, 4.2.11)
            assert len(source.findall(f"{ATOM}{name}")) == 1, name
        source_id = source.findtext(f"{ATOM}id") or ""
        assert _is_absolute_iri(source_id), source_id
        updated = source.findtext(f"{ATOM}updated") or ""
        assert RFC3339.fullmatch(updated), updated
        # Not the build clock: the entry's own updated, so a build changes no byte.
        assert datetime.fromisoformat(updated) == datetime.fromisoformat(
            entry.findtext(f"{ATOM}updated") or ""
        )
        assert source.findtext(f"{ATOM}title")
        assert source.find(f"{ATOM}link").get("href") == source_id  # type: ignore[union-attr]
        sources[entry_id] = source_id
    # Only a provider with a site has a source: a source with no id would be invalid.
    assert len(entries) == 3
    assert sorted(sources.values()) == ["https://news.example.com/"] * 2
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    by_link = {entry.link: entry for entry in parsed.entries}
    rich = by_link["https://example.org/a"].source
    assert rich.id == "https://news.example.com/"
    assert rich.title == "Example News"
    assert rich.updated_parsed[:6] == (2024, 5, 3, 8, 30, 0)
    assert by_link["https://example.org/b"].source.updated_parsed[:6] == (2024, 5, 1, 10, 0, 0)
    assert "source" not in by_link["https://example.org/c"]


def test_json_feed_carries_the_lead_image(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("a.txt", extra=RICH)
    build(make_config())
    item = json.loads((output / "all.json").read_text())["items"][0]
    assert item["image"] == "https://img.example.com/lead.jpg"
    assert item["external_url"] == "https://source.example.com/original"


def test_no_enclosure_when_the_image_type_is_unknown(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("a.txt", extra='images:\n  - {url: "https://img.example.com/render?id=4"}\n')
    build(make_config())
    entry = feedparser.parse((output / "all.rss.xml").read_bytes()).entries[0]
    assert not entry.get("enclosures")
    assert entry.media_content[0]["url"] == "https://img.example.com/render?id=4"


# --- custom and facet feeds ---------------------------------------------------

CUSTOM_SEEDS = {
    "police.txt": {
        "title": "Police ban facial recognition",
        "topics": ("AI", "Policy"),
        "extra": "category: news\nquality: 70\npublished: true\n"
        "provider: {name: A, domain: a.example}\n",
    },
    "robots.txt": {
        "title": "Robots learn to walk",
        "topics": ("Robots",),
        "extra": "category: science\nquality: 20\npublished: false\n"
        "provider: {name: B, domain: b.example}\n",
    },
    "ai.txt": {
        "title": "AI model released",
        "topics": ("AI",),
        "extra": "category: news\nquality: 50\npublished: true\nexcerpt: 'Sponsored content'\n",
    },
}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("topics_any: [ai]", {"police.txt", "ai.txt"}),
        ("topics_all: [AI, policy]", {"police.txt"}),
        ("categories: [Science]", {"robots.txt"}),
        ("provider_domains: [B.example]", {"robots.txt"}),
        ("min_quality: 50", {"police.txt", "ai.txt"}),
        ("published_only: true", {"police.txt", "ai.txt"}),
        ("include: ['POLICE|robot']", {"police.txt", "robots.txt"}),
        ("exclude: ['sponsored']", {"police.txt", "robots.txt"}),
        ("topics_any: [AI]\n    exclude: ['^police']", {"ai.txt"}),
    ],
)
def test_custom_feed_filters(
    filters: str,
    expected: set[str],
    write_seed: SeedWriter,
    output: Path,
    make_config: ConfigFactory,
) -> None:
    links = {}
    for name, fields in CUSTOM_SEEDS.items():
        link = f"https://e.org/{name}"
        links[link] = name
        write_seed(name, link=link, **fields)
    build(
        make_config(f"custom_feeds:\n  - name: picked\n    title: Picked for you\n    {filters}\n")
    )
    document = json.loads((output / "custom" / "picked.json").read_text())
    assert document["title"] == "Picked for you"
    assert {links[item["url"]] for item in document["items"]} == expected
    for suffix in (".atom.xml", ".rss.xml"):
        parsed = feedparser.parse((output / "custom" / f"picked{suffix}").read_bytes())
        assert not parsed.bozo
        assert {links[entry.link] for entry in parsed.entries} == expected


def test_facet_feeds_are_off_by_default_and_on_when_asked(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    for name, fields in CUSTOM_SEEDS.items():
        write_seed(name, link=f"https://e.org/{name}", **fields)
    build(make_config())
    assert not (output / "categories").exists()
    assert not (output / "providers").exists()
    build(make_config("facets: {categories: true, providers: true}"))
    assert sorted(p.name for p in (output / "categories").glob("*.json")) == [
        "news.json",
        "science.json",
    ]
    assert sorted(p.name for p in (output / "providers").glob("*.json")) == [
        "a-example.json",
        "b-example.json",
    ]
    title = json.loads((output / "categories" / "news.json").read_text())["title"]
    assert title == "Feeds: news"


# --- size budget ----------------------------------------------------------------


def _a_large_article_a_day(write_seed: SeedWriter) -> None:
    """February 2024, one article a day, each with a long excerpt."""
    words = " ".join(f"word{n}" for n in range(120))
    for day in range(1, 29):
        write_seed(
            f"{day}.txt",
            link=f"https://e.org/{day}",
            published=f"2024-02-{day:02d}",
            extra=f'excerpt: "{words}"\n',
        )


def test_feeds_stay_within_their_byte_budget_showing_the_newest(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    _a_large_article_a_day(write_seed)
    build(make_config("max_bytes: 16384\nsummary_length: 400"))
    for path in output.rglob("*.*"):
        if path.is_file() and path.suffix in (".xml", ".json"):
            assert path.stat().st_size <= 16384, path
    parsed = feedparser.parse((output / "all.atom.xml").read_bytes())
    kept = [entry.link for entry in parsed.entries]
    assert 1 <= len(kept) < 28
    assert kept == [f"https://e.org/{day}" for day in range(28, 28 - len(kept), -1)]


@_ATOM_AND_RSS_CHAINS
def test_entries_the_main_document_has_no_room_for_are_archived_not_lost(
    suffix: str,
    links_of: Callable[[Path], dict[str, str]],
    write_seed: SeedWriter,
    output: Path,
    make_config: ConfigFactory,
) -> None:
    _a_large_article_a_day(write_seed)
    build(make_config("max_bytes: 16384\nsummary_length: 400"))
    pages = _chain(output, suffix, links_of)
    assert len(pages) > 1  # fewer than 28 fit in the main document
    seen = [entry.link for page in pages for entry in feedparser.parse(page.read_bytes()).entries]
    assert sorted(seen) == sorted(f"https://e.org/{day}" for day in range(1, 29))
    assert len(seen) == len(set(seen))
    assert all(page.stat().st_size <= 16384 for page in pages)


def test_one_enormous_article_still_gives_a_readable_feed(
    write_seed: SeedWriter, output: Path, make_config: ConfigFactory
) -> None:
    write_seed("huge.txt", extra=f'excerpt: "{"lorem ipsum " * 300_000}"\n')
    build(make_config())
    size = (output / "all.atom.xml").stat().st_size
    assert size < 64 * 1024
    parsed = feedparser.parse((output / "all.atom.xml").read_bytes())
    assert not parsed.bozo
    assert parsed.entries[0].summary.endswith("…")


# --- clean text -------------------------------------------------------------------


def test_mojibake_is_repaired_by_default_and_can_be_left_alone(
    seeds: Path, output: Path, make_config: ConfigFactory
) -> None:
    sample = "001_00e4f9c406803b75.txt"
    (seeds / sample).write_bytes((REPO / "tests" / "data" / "seeds" / sample).read_bytes())
    build(make_config())
    assert "city\u2019s police" in (output / "all.json").read_text("utf-8")
    build(make_config("fix_text: false"))
    assert "city\u00e2\u20ac\u2122s police" in (output / "all.json").read_text("utf-8")
