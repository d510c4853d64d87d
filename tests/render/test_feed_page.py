"""A feed's page (config ``pages``): what a person sees on clicking a feed,
parsed as a browser would (html5lib), and written only when its feed changes."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import html5lib

from feeds.build.oneshot import build
from feeds.config import Config
from feeds.model import Article, Image, Provider
from feeds.plan.plans import FeedPlan
from feeds.render import feed_html
from feeds.render.index_html import render_index
from feeds.urls import entry_id
from tests.conftest import SeedWriter

HOSTILE = '<script>alert(1)</script> & "q" \'s'
PUBLISHED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
MakeConfig = Callable[..., Config]


def _article(
    title: str = "Robots learn to walk",
    link: str = "https://example.org/robots",
    images: tuple[Image, ...] = (),
    provider: Provider | None = None,
    summary: str = "<p>A <b>first</b> step.</p>",
) -> Article:
    return Article(
        id=entry_id(link),
        title_utf8=title.encode(),
        link=link,
        original_link=None,
        published=PUBLISHED,
        updated=PUBLISHED,
        summary_utf8=summary.encode(),
        category=None,
        topics=(),
        provider=provider,
        images=images,
        related=(),
        quality=None,
        heat=None,
        is_published=True,
        source=f"{link.rsplit('/', 1)[1]}.txt",
    )


def _config(**settings: Any) -> Config:
    return Config.model_validate(
        {"title": "Site", "base_url": "https://feeds.example.org/", **settings}
    )


def _page(plan: FeedPlan, config: Config | None = None) -> Any:
    document = feed_html.render(plan, config or _config())
    return html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=False)


def _text(element: Any) -> str:
    return "".join(element.itertext())


def _topic(*articles: Article, title: str | None = None) -> FeedPlan:
    return FeedPlan("topics/robots", "topic", "Robots", articles, len(articles), title)


def test_each_entry_links_to_its_article_with_date_source_and_excerpt() -> None:
    article = _article(provider=Provider("Example News", "example.org"))
    page = _page(_topic(article))
    [entry] = page.findall(".//li[@class='entry']")
    link = entry.find("h3/a")
    assert link.get("href") == "https://example.org/robots"
    assert link.text == "Robots learn to walk"
    time = entry.find(".//time")
    assert time.get("datetime") == "2024-05-01T10:00:00Z"
    assert time.text == "1 May 2024"
    assert entry.find(".//span[@class='provider']").text == "Example News"
    assert "A first step." in [_text(p) for p in entry.findall("p")]
    assert page.find(".//h1").text == "Site: Robots"
    assert page.find(".//header/a") is None
    back = page.find(".//header/p/a")
    assert back.get("href") == "../index.html"  # the page sits in topics/


def test_every_chosen_format_is_discoverable_and_offered_with_its_address() -> None:
    page = _page(_topic(_article()), _config(formats=["json", "rss"]))
    alternates = [
        (link.get("type"), link.get("href"), link.get("title"))
        for link in page.findall(".//head/link[@rel='alternate']")
    ]
    assert alternates == [
        ("application/rss+xml", "robots.rss.xml", "Site: Robots"),
        ("application/feed+json", "robots.json", "Site: Robots (JSON Feed)"),
    ]
    offered = page.findall(".//ul[@class='subscriptions']/li")
    assert [(li.find("a").get("href"), li.find("a").text) for li in offered] == [
        ("robots.rss.xml", "RSS"),
        ("robots.json", "JSON Feed"),
    ]
    # The whole address is shown, to copy (index.css: user-select: all).
    assert [li.find("code").text for li in offered] == [
        "https://feeds.example.org/topics/robots.rss.xml",
        "https://feeds.example.org/topics/robots.json",
    ]


def test_a_hostile_title_shows_as_text_never_as_markup() -> None:
    article = _article(title=HOSTILE, provider=Provider(HOSTILE), summary="&lt;script&gt;x")
    document = feed_html.render(_topic(article, title=HOSTILE), _config())
    page = html5lib.parse(document, treebuilder="etree", namespaceHTMLElements=False)
    assert page.findall(".//script") == []
    assert b"<script>" not in document
    assert page.find(".//title").text == HOSTILE
    assert page.find(".//h1").text == HOSTILE
    assert page.find(".//li[@class='entry']/h3/a").text == HOSTILE
    assert page.find(".//span[@class='provider']").text == HOSTILE
    titles = {link.get("title") for link in page.findall(".//head/link[@rel='alternate']")}
    assert HOSTILE in titles


def test_the_lead_image_is_lazy_at_its_size_and_unsized_when_unknown() -> None:
    sized = _article(
        images=(
            Image("https://example.org/lead.jpg", 720, 393),
            Image("https://example.org/second.jpg", 10, 10),
        )
    )
    unsized = _article(link="https://example.org/other", images=(Image("https://x.org/i.png"),))
    bare = _article(link="https://example.org/bare")
    page = _page(_topic(sized, unsized, bare))
    entries = page.findall(".//li[@class='entry']")
    first = entries[0].findall(".//img")
    assert [(img.get("src"), img.get("width"), img.get("height")) for img in first] == [
        ("https://example.org/lead.jpg", "720", "393")
    ]
    assert first[0].get("loading") == "lazy"
    [second] = entries[1].findall(".//img")
    assert (second.get("loading"), second.get("width"), second.get("height")) == (
        "lazy",
        None,
        None,
    )
    assert entries[2].findall(".//img") == []


def test_a_long_excerpt_is_cut_and_an_empty_feed_says_so() -> None:
    long = _article(summary="word " * 200)
    [excerpt] = _page(_topic(long)).findall(".//li[@class='entry']/p")[1:]
    assert len(excerpt.text) <= feed_html.EXCERPT_LENGTH + 1
    assert excerpt.text.endswith("…")
    empty = _page(FeedPlan("all", "all", None, ()))
    assert "No entries yet." in [p.text for p in empty.findall(".//main//p")]
    assert empty.find(".//header/p/a").get("href") == "index.html"


def test_the_index_links_each_title_to_its_page_unless_pages_are_off() -> None:
    plans = [FeedPlan("all", "all", None, (_article(),), 1), _topic(_article())]
    for config, expected in (
        (_config(), ["all.html", "topics/robots.html"]),
        (_config(pages=False), []),
    ):
        index = html5lib.parse(
            render_index(plans, config), treebuilder="etree", namespaceHTMLElements=False
        )
        links = [cast("Any", a).get("href") for a in index.findall(".//li[@class='feed']/h3/a")]
        assert links == expected


# --- in a build --------------------------------------------------------------


def _mtimes(output: Path) -> dict[str, int]:
    return {
        path.relative_to(output).as_posix(): os.stat(path).st_mtime_ns
        for path in output.rglob("*.html")
    }


def test_a_page_is_rewritten_only_when_its_feed_changes(
    write_seed: SeedWriter, make_config: MakeConfig
) -> None:
    write_seed("a.txt", title="About AI", link="https://example.org/a", topics=("AI",))
    robots = write_seed(
        "b.txt", title="About robots", link="https://example.org/b", topics=("Robots",)
    )
    config = make_config()
    first = build(config)
    assert {"all.html", "topics/ai.html", "topics/robots.html"} <= set(first.written)
    before = _mtimes(config.output)
    assert build(make_config()).written == []
    assert _mtimes(config.output) == before
    robots.write_text(robots.read_text().replace("About robots", "Robots, again"))
    changed = build(make_config())
    assert "topics/robots.html" in changed.written
    assert "all.html" in changed.written
    assert "topics/ai.html" not in changed.written
    after = _mtimes(config.output)
    assert after["topics/ai.html"] == before["topics/ai.html"]
    assert "Robots, again" in (config.output / "topics" / "robots.html").read_text()


def test_pages_false_removes_the_pages_and_their_links(
    write_seed: SeedWriter, make_config: MakeConfig
) -> None:
    write_seed("a.txt", topics=("AI",))
    build(make_config())
    assert (make_config().output / "topics" / "ai.html").is_file()
    (make_config().output / "notes.html").write_text("mine")  # not a feed's: left alone
    report = build(make_config("pages: false"))
    output = make_config().output
    assert sorted(report.removed) == ["all.html", "topics/ai.html"]
    assert sorted(path.name for path in output.rglob("*.html")) == ["index.html", "notes.html"]
    assert 'href="all.html"' not in (output / "index.html").read_text()
    assert (output / "all.atom.xml").is_file()


def test_excerpts_are_kept_per_article_and_bounded() -> None:
    excerpts = feed_html._Excerpts(slots=2)
    first, second, third = (_article(link=f"https://example.org/{n}") for n in "abc")
    edited = _article(link="https://example.org/a", summary="Edited.")
    assert excerpts.of(first) == "A first step."
    assert excerpts.of(edited) == "Edited."  # equal link, another article: its own excerpt
    excerpts.of(second)
    excerpts.of(third)
    assert len(excerpts._known) == 2
    assert excerpts.of(first) == "A first step."
