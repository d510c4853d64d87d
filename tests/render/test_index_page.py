"""The index page and the OPML list: every feed, readable by people and readers alike."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

import html5lib
import pytest
from lxml import etree

from feeds.build.builder import scan
from feeds.config import Config, load_config
from feeds.model import Article
from feeds.plan.planner import Planner
from feeds.plan.plans import FeedKind, FeedPlan
from feeds.render.common import feed_title, feed_url
from feeds.render.index_html import render_index
from feeds.render.opml import render_opml
from feeds.urls import entry_id
from tests.conftest import REPO

SAMPLE_CONFIG = REPO / "tests" / "data" / "config.yaml"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> & "q"'
MakeConfig = Callable[..., Config]


# --- building plans ------------------------------------------------------


def _article(title: str, published: datetime, link: str | None = None) -> Article:
    link = link or f"https://example.org/{re.sub(r'[^a-z0-9]+', '-', title.lower())}"
    return Article(
        id=entry_id(link),
        title_utf8=title.encode(),
        link=link,
        original_link=None,
        published=published,
        updated=published,
        summary_utf8=b"",
        category=None,
        topics=(),
        provider=None,
        images=(),
        related=(),
        quality=None,
        heat=None,
        is_published=True,
        source=f"{title}.txt",
    )


def _plan(
    stem: str,
    kind: FeedKind,
    label: str | None,
    *articles: Article,
    title: str | None = None,
    description: str | None = None,
) -> FeedPlan:
    entries = tuple(sorted(articles, key=lambda a: a.published, reverse=True))
    return FeedPlan(stem, kind, label, entries, len(entries), title, description)


OLD = _article("Old news", datetime(2023, 3, 1, 9, 0, tzinfo=UTC))
NEW = _article("Fresh news", datetime(2023, 11, 20, 18, 30, tzinfo=UTC))

#: One feed of every kind, deliberately out of page order.
MIXED: tuple[FeedPlan, ...] = (
    _plan("providers/example-org", "provider", "example.org", OLD),
    _plan("topics/zebras", "topic", "Zebras", NEW),
    _plan("categories/news", "category", "news", OLD, NEW),
    _plan(
        "custom/picks", "custom", "picks", NEW, title="Editor's picks", description="Hand-picked"
    ),
    _plan("topics/apples", "topic", "Apples", OLD),
    _plan("all", "all", None, OLD, NEW),
    _plan("custom/a-list", "custom", "a-list", OLD, title="A list"),
)


@pytest.fixture
def site(make_config: MakeConfig) -> Config:
    return make_config(
        """
        title: Site
        description: Things worth reading
        base_url: https://feeds.example.org/news/
        home_url: https://example.org/
        author: {name: Ed Itor}
        """
    )


@pytest.fixture
def samples(tmp_path: Path) -> tuple[list[FeedPlan], Config]:
    """The plans a build of the two sample seeds writes, and its config."""
    config = load_config(SAMPLE_CONFIG, output=tmp_path / "output")
    return _planned(config), config


def _planned(config: Config) -> list[FeedPlan]:
    """The plans a build of ``config``'s seeds writes at ``NOW``."""
    planner = Planner(config)
    planner.update((article.source, article) for article in scan(config).articles)
    return planner.plans_at(NOW).plans


# --- reading the output back ---------------------------------------------


def _parse_html(page: bytes) -> etree._Element:
    """The page as a browser sees it; any HTML5 parse error fails the test."""
    parser = html5lib.HTMLParser(
        strict=True, tree=html5lib.getTreeBuilder("lxml"), namespaceHTMLElements=False
    )
    return cast(etree._Element, cast(Any, parser.parse(page)).getroot())


def _one(element: etree._Element, path: str) -> etree._Element:
    found = element.find(path)
    assert found is not None, f"no {path}"
    return found


def _text(element: etree._Element) -> str:
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return " ".join(text.split())


def _cards(root: etree._Element) -> dict[str, etree._Element]:
    cards = root.findall(".//li[@class='feed']")
    by_title = {_text(_one(card, "h3")): card for card in cards}
    assert len(by_title) == len(cards), "two feeds share a title"
    return by_title


def _alternates(root: etree._Element) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (link.get("type"), link.get("href"), link.get("title"))
        for link in root.findall("head/link")
        if link.get("rel") == "alternate"
    ]


def _outlines(opml: bytes) -> list[etree._Element]:
    root = etree.fromstring(opml)
    return [outline for outline in root.iter("outline") if outline.get("xmlUrl")]


# --- the page ------------------------------------------------------------


def test_sample_page_is_valid_html5_with_language_and_charset(
    samples: tuple[list[FeedPlan], Config],
) -> None:
    plans, config = samples
    page = render_index(plans, config)
    assert page.startswith(b"<!DOCTYPE html>\n")
    root = _parse_html(page)
    assert root.get("lang") == config.language
    assert root.find("head/meta[@charset='utf-8']") is not None
    assert _text(_one(root, "head/title")) == config.title
    assert _text(_one(root, ".//h1")) == config.title
    assert config.description in _text(_one(root, "body"))


def test_lang_follows_the_config(make_config: MakeConfig) -> None:
    config = make_config("language: de-AT\n")
    root = _parse_html(render_index([_plan("all", "all", None)], config))
    assert root.get("lang") == "de-AT"


def test_every_sample_feed_is_listed_with_title_count_and_newest_date(
    samples: tuple[list[FeedPlan], Config],
) -> None:
    plans, config = samples
    cards = _cards(_parse_html(render_index(plans, config)))
    assert sorted(cards) == sorted(feed_title(plan, config) for plan in plans)
    assert set(cards) >= {"Golden Feeds", "Golden Feeds: AI", "Golden Feeds: Computer Vision"}
    for plan in plans:
        card = cards[feed_title(plan, config)]
        assert f"{plan.total} entries" in _text(card)
        time = card.find(".//time")
        assert time is not None
        assert plan.newest is not None
        assert datetime.fromisoformat(time.get("datetime", "")) == plan.newest.published
        assert _text(time) == "15 June 2021"


def test_each_feed_links_its_three_formats_relatively_and_shows_its_address(
    site: Config,
) -> None:
    cards = _cards(_parse_html(render_index(MIXED, site)))
    for plan in MIXED:
        card = cards[feed_title(plan, site)]
        links = {_text(a): a.get("href") for a in card.findall(".//p[@class='formats']/a")}
        assert links == {
            "Atom": f"{plan.stem}.atom.xml",
            "RSS": f"{plan.stem}.rss.xml",
            "JSON Feed": f"{plan.stem}.json",
        }
        address = feed_url(plan, site, ".atom.xml")
        assert address.startswith("https://feeds.example.org/news/")
        assert [_text(code) for code in card.iter("code")] == [address]


def test_counts_and_dates_of_hand_made_feeds(site: Config) -> None:
    cards = _cards(_parse_html(render_index(MIXED, site)))
    combined = cards["Site"]
    assert "2 entries" in _text(combined)
    assert _one(combined, ".//time").get("datetime") == "2023-11-20T18:30:00Z"
    assert "20 November 2023" in _text(combined)
    assert "Latest: Fresh news" in _text(combined)
    apples = cards["Site: Apples"]
    assert "1 entry " in _text(apples)
    assert "1 March 2023" in _text(apples)
    assert "Hand-picked" in _text(cards["Editor's picks"])


def test_combined_first_then_topics_custom_categories_providers_each_by_title(
    site: Config,
) -> None:
    root = _parse_html(render_index(MIXED, site))
    sections = [
        (_text(_one(section, "h2")), [_text(h3) for h3 in section.iter("h3")])
        for section in root.findall(".//main/section")
    ]
    assert sections == [
        ("All articles", ["Site"]),
        ("Topics", ["Site: Apples", "Site: Zebras"]),
        ("Selections", ["A list", "Editor's picks"]),
        ("Categories", ["Site: news"]),
        ("Sources", ["Site: example.org"]),
        ("How to subscribe", []),
    ]


def test_readers_discover_the_combined_topic_and_custom_feeds(site: Config) -> None:
    alternates = _alternates(_parse_html(render_index(MIXED, site)))
    assert alternates == [
        ("application/atom+xml", "all.atom.xml", "Site"),
        ("application/rss+xml", "all.rss.xml", "Site (RSS)"),
        ("application/feed+json", "all.json", "Site (JSON Feed)"),
        ("application/atom+xml", "topics/apples.atom.xml", "Site: Apples"),
        ("application/atom+xml", "topics/zebras.atom.xml", "Site: Zebras"),
        ("application/atom+xml", "custom/a-list.atom.xml", "A list"),
        ("application/atom+xml", "custom/picks.atom.xml", "Editor's picks"),
    ]


def test_sample_page_announces_the_combined_and_each_topic_feed(
    samples: tuple[list[FeedPlan], Config],
) -> None:
    plans, config = samples
    alternates = _alternates(_parse_html(render_index(plans, config)))
    atom = {href: title for kind, href, title in alternates if kind == "application/atom+xml"}
    assert atom == {
        f"{plan.stem}.atom.xml": feed_title(plan, config)
        for plan in plans
        if plan.kind in ("all", "topic")
    }
    assert ("application/rss+xml", "all.rss.xml", "Golden Feeds (RSS)") in alternates


def test_hostile_titles_are_escaped(make_config: MakeConfig) -> None:
    config = make_config(f"title: '{HOSTILE}'\ndescription: '{HOSTILE}'\n")
    article = _article(HOSTILE, NEW.published, link="https://example.org/?a=1&b=2")
    plans = [
        _plan("all", "all", None, article),
        _plan("topics/script-alert-1-script-q", "topic", HOSTILE, article),
        _plan("custom/x", "custom", "x", article, title=f"Picks {HOSTILE}", description=HOSTILE),
    ]
    page = render_index(plans, config)
    assert b"<script" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; &amp; " in page
    root = _parse_html(page)
    assert not list(root.iter("script"))
    assert _text(_one(root, "head/title")) == HOSTILE
    assert set(_cards(root)) == {HOSTILE, f"{HOSTILE}: {HOSTILE}", f"Picks {HOSTILE}"}
    assert (
        "application/atom+xml",
        "topics/script-alert-1-script-q.atom.xml",
        f"{HOSTILE}: {HOSTILE}",
    ) in _alternates(root)
    assert _one(root, "head/meta[@name='description']").get("content") == HOSTILE
    latest = root.find(".//p[@class='latest']/a")
    assert latest is not None
    assert latest.get("href") == "https://example.org/?a=1&b=2"
    assert _text(latest) == HOSTILE


def test_page_has_no_script_and_no_external_assets(
    samples: tuple[list[FeedPlan], Config],
) -> None:
    plans, config = samples
    root = _parse_html(render_index(plans, config))
    elements = list(root.iter(etree.Element))
    assert not [el for el in elements if el.tag in ("script", "noscript", "iframe", "img")]
    assert not [name for el in elements for name in el.attrib if str(name).startswith("on")]
    assert not [el for el in elements if el.get("src") is not None]
    assert {link.get("rel") for link in root.iter("link")} == {"alternate"}
    assert "url(" not in _text(_one(root, "head/style"))


def test_page_fits_phones_and_follows_dark_mode(site: Config) -> None:
    root = _parse_html(render_index(MIXED, site))
    viewport = root.find("head/meta[@name='viewport']")
    assert viewport is not None
    assert "width=device-width" in viewport.get("content", "")
    styles = root.findall("head/style")
    assert len(styles) == 1
    assert re.search(r"@media\s*\(\s*prefers-color-scheme:\s*dark\s*\)", _text(styles[0]))


def test_dates_are_shown_in_the_site_time_zone(make_config: MakeConfig) -> None:
    config = make_config("timezone: Pacific/Auckland\n")
    late = _article("Late", datetime(2023, 6, 15, 20, 0, tzinfo=UTC))
    time = _parse_html(render_index([_plan("all", "all", None, late)], config)).find(".//time")
    assert time is not None
    assert _text(time) == "16 June 2023"  # already the next morning in Auckland
    assert time.get("datetime") == "2023-06-15T20:00:00Z"


def test_archive_documents_are_not_listed(site: Config) -> None:
    combined = _plan("all", "all", None, NEW)
    archive = FeedPlan("archive/all/2023", "all", None, (OLD,), 1, archive_of="all")
    page = render_index([combined, archive], site)
    assert b"archive/" not in page
    assert list(_cards(_parse_html(page))) == ["Site"]
    assert b"archive/" not in render_opml([combined, archive], site)


def test_rendering_is_deterministic_whatever_order_plans_come_in(site: Config) -> None:
    assert render_index(MIXED, site) == render_index(MIXED, site)
    assert render_index(MIXED, site) == render_index(MIXED[::-1], site)
    assert render_opml(MIXED, site) == render_opml(MIXED, site)
    assert render_opml(MIXED, site) == render_opml(MIXED[::-1], site)


def test_empty_site_still_renders_both(make_config: MakeConfig) -> None:
    config = make_config("title: Nothing here yet\n")
    plans = _planned(config)
    assert [plan.kind for plan in plans] == ["all"]
    root = _parse_html(render_index(plans, config))
    card = _cards(root)["Nothing here yet"]
    assert "0 entries · no entries yet" in _text(card)
    assert card.find(".//time") is None
    assert _alternates(root)[0] == ("application/atom+xml", "all.atom.xml", "Nothing here yet")

    opml = etree.fromstring(render_opml(plans, config))
    assert opml.find("head/dateModified") is None
    assert [o.get("xmlUrl") for o in opml.iter("outline")] == ["http://127.0.0.1:8080/all.atom.xml"]


def test_no_plans_at_all_still_renders_a_valid_page(site: Config) -> None:
    root = _parse_html(render_index([], site))
    assert "No feeds yet." in _text(_one(root, "body"))
    assert etree.fromstring(render_opml([], site)).get("version") == "2.0"


# --- the OPML list -------------------------------------------------------


def test_opml_lists_every_sample_feed_by_its_atom_url(
    samples: tuple[list[FeedPlan], Config],
) -> None:
    plans, config = samples
    data = render_opml(plans, config)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml")
    root = etree.fromstring(data)
    assert root.tag == "opml"
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "Golden Feeds"
    assert root.findtext("head/ownerName") == "Golden Editor"
    assert root.findtext("head/dateModified") == "Tue, 15 Jun 2021 15:20:00 GMT"
    assert root.find("head/dateCreated") is None
    outlines = _outlines(data)
    assert len(outlines) == len(plans) == len(list(root.iter("outline")))
    for plan, outline in zip(plans, outlines, strict=True):
        assert outline.get("type") == "rss"
        assert outline.get("xmlUrl") == feed_url(plan, config, ".atom.xml")
        assert outline.get("text") == outline.get("title") == feed_title(plan, config)
        assert outline.get("htmlUrl") == "https://example.org/"
    assert data.count(b"\n") > len(plans) + 5, "not pretty-printed"


def test_opml_date_modified_is_the_newest_update_across_feeds(site: Config) -> None:
    edited = replace(
        _article("Edited", datetime(2020, 1, 1, tzinfo=UTC)),
        updated=datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC),
    )
    plans = [*MIXED, _plan("topics/edits", "topic", "Edits", edited)]
    root = etree.fromstring(render_opml(plans, site))
    assert root.findtext("head/dateModified") == format_datetime(
        datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC), usegmt=True
    )


def test_opml_keeps_the_page_order_and_names_each_kind(site: Config) -> None:
    outlines = _outlines(render_opml(MIXED, site))
    assert [(o.get("text"), o.get("category")) for o in outlines] == [
        ("Site", None),
        ("Site: Apples", "/Topics"),
        ("Site: Zebras", "/Topics"),
        ("A list", "/Selections"),
        ("Editor's picks", "/Selections"),
        ("Site: news", "/Categories"),
        ("Site: example.org", "/Sources"),
    ]
    assert outlines[0].get("xmlUrl") == "https://feeds.example.org/news/all.atom.xml"


def test_opml_escapes_hostile_titles(make_config: MakeConfig) -> None:
    config = make_config(f"title: '{HOSTILE}'\nauthor: {{name: '{HOSTILE}'}}\n")
    plans: Sequence[FeedPlan] = [
        _plan("all", "all", None, NEW),
        _plan("topics/script-alert-1-script-q", "topic", HOSTILE, NEW),
    ]
    data = render_opml(plans, config)
    assert b"<script" not in data
    root = etree.fromstring(data)
    assert root.findtext("head/title") == HOSTILE
    assert root.findtext("head/ownerName") == HOSTILE
    assert [o.get("title") for o in _outlines(data)] == [HOSTILE, f"{HOSTILE}: {HOSTILE}"]
