"""Entries built directly with lxml are exactly the ones feedgen would build.

`feeds.render.entries` replaces feedgen's `FeedEntry` on the hot path (see
bench/RESULTS.md); feedgen stays the reference. Each case renders one article
both ways, inside a feedgen document as the feeds have them, and compares bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.compat.feedgen import tree
from feeds.model import Article, Image, Provider, RelatedArticle
from feeds.render._feedgen import _empty_document
from feeds.render.common import categories, entry_html
from feeds.render.entries import (
    CLOSING,
    MAX_RELATED_LINKS,
    EntryCache,
    atom_entry,
    image_type,
    rfc822,
    rss_item,
)
from feeds.seeds.reader import parse_article, read_article
from feeds.seeds.text import clean_line, sanitize_excerpt

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "seeds").glob("*.txt"))


class _Entry(FeedEntry):  # type: ignore[misc]
    """feedgen 1.0 drops the attributes of Atom entry links, and writes only a
    source's title and link; the feeds set them, and a source's id and updated."""

    #: The Atom source's id and updated, which feedgen cannot set.
    source_id_updated: tuple[str, datetime] | None = None

    def atom_entry(self, extensions: bool = True) -> Any:
        element = super().atom_entry(extensions)
        links = [child for child in element if etree.QName(child).localname == "link"]
        for xml_link, data in zip(links, self.link() or [], strict=True):
            for attribute in ("rel", "type", "hreflang", "title", "length"):
                if data.get(attribute):
                    xml_link.set(attribute, data[attribute])
        source = element.find("source")
        if source is not None and self.source_id_updated is not None:
            source_id, updated = self.source_id_updated
            source.insert(0, etree.Element("id"))
            source[0].text = source_id
            source.insert(2, etree.Element("updated"))  # after the title
            source[2].text = updated.isoformat()
        return element


def _with_feedgen(article: Article) -> FeedGenerator:
    """The reference: what the feeds built with feedgen's FeedEntry before."""
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)
    feed.load_extension("media")
    feed.id("urn:test")
    feed.title("t")
    feed.description("d")
    feed.link(href="https://example.org/", rel="alternate")
    entry = feed.add_entry(_Entry(), order="append")
    entry.id(article.id)
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate", type="text/html")
    if article.via_link:
        entry.link(href=article.via_link, rel="via", type="text/html")
    entry.published(article.published)
    entry.updated(article.updated)
    if article.provider:
        _add_provider(entry, article.provider, article.updated)
    for term in categories(article):
        entry.category(term=term)
    for related in article.related[:MAX_RELATED_LINKS]:
        entry.link(href=related.link, rel="related", type="text/html", title=related.title)
    _add_images(entry, article.images)
    if article.summary_html:
        entry.summary(article.summary_html, type="html")
    entry.content(entry_html(article), type="html")
    return feed


def _add_provider(entry: _Entry, provider: Provider, updated: datetime) -> None:
    author = {"name": provider.name}
    if provider.url:
        author["uri"] = provider.url
    entry.author(author)
    entry.dc.dc_creator(provider.name)
    if provider.url:
        entry.source(url=provider.url, title=provider.name)
        entry.source_id_updated = (provider.url, updated)


def _add_images(entry: _Entry, images: Sequence[Image]) -> None:
    for index, image in enumerate(images):
        size = {
            name: str(value)
            for name, value in (("width", image.width), ("height", image.height))
            if value
        }
        entry.media.content(url=image.url, medium="image", group=None, **size)
        if index == 0:
            entry.media.thumbnail(url=image.url, group=None, **size)
            media_type = image_type(image.url)
            if media_type:
                entry.enclosure(url=image.url, length=0, type=media_type)


def _serialised(root: Any) -> bytes:
    data: bytes = etree.tostring(root, encoding="UTF-8", pretty_print=True)
    return data


def assert_same_as_feedgen(article: Article) -> None:
    feed = _with_feedgen(article)
    content = entry_html(article)

    atom_reference = tree(feed, "atom")
    atom_ours = tree(feed, "atom")
    atom_ours.remove(atom_ours.find("entry"))
    atom_ours.append(atom_entry(article, content))
    assert _serialised(atom_ours) == _serialised(atom_reference)

    rss_reference = tree(feed, "rss")
    rss_ours = tree(feed, "rss")
    channel = rss_ours.find("channel")
    channel.remove(channel.find("item"))
    channel.append(rss_item(article, content))
    assert _serialised(rss_ours) == _serialised(rss_reference)


def test_the_sample_articles_match_feedgen() -> None:
    assert len(SAMPLES) == 2
    for path in SAMPLES:
        assert_same_as_feedgen(read_article(path, UTC))


#: Text as the reader leaves it: any characters, and character references,
#: through its own hygiene (which removes what XML forbids, such as U+FFFE).
_raw_text = st.lists(
    st.characters(exclude_categories=()) | st.sampled_from(["&#1;", "&#xFFFE;", "&amp;", "<"]),
    min_size=1,
    max_size=30,
).map("".join)
_text = _raw_text.map(clean_line).filter(bool)
_summary_html = _raw_text.map(lambda text: sanitize_excerpt(f"<b>{clean_line(text)}</b>"))
_url = st.builds(
    lambda host, path, ext: f"https://{host}.example/{path}{ext}",
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"[a-z0-9/]{0,12}", fullmatch=True),
    st.sampled_from(["", ".jpg", ".png", ".webp", ".html", ".unknownext"]),
)
_moment = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
    lambda moment: moment.replace(microsecond=0)
)
_zone = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
_provider = st.builds(
    Provider, name=_text, domain=st.none() | st.from_regex(r"[a-z]{1,8}\.org", fullmatch=True)
)
_size = st.none() | st.integers(min_value=0, max_value=5000)
_related = st.builds(
    RelatedArticle,
    title=_text,
    link=_url,
    published=st.none() | st.builds(lambda m, z: m.replace(tzinfo=z), _moment, _zone),
    provider=st.none() | _provider,
    summary=st.none() | _text,
)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    published = draw(_moment).replace(tzinfo=draw(_zone))
    link = draw(_url)
    return Article(
        id=f"urn:uuid:{draw(st.uuids())}",
        title_utf8=draw(_text).encode(),
        link=link,
        original_link=draw(st.none() | st.just(link) | _url),
        published=published,
        updated=published + timedelta(seconds=draw(st.integers(0, 10**6))),
        summary_utf8=draw(st.just("") | _summary_html).encode(),
        category=draw(st.none() | _text),
        topics=tuple(draw(st.lists(_text, max_size=4, unique=True))),
        provider=draw(st.none() | _provider),
        images=tuple(
            draw(st.lists(st.builds(Image, url=_url, width=_size, height=_size), max_size=3))
        ),
        related=tuple(draw(st.lists(_related, max_size=12))),
        quality=None,
        heat=None,
        is_published=True,
        source="generated.md",
    )


def _read(front_matter: str) -> Article:
    return parse_article(f"---\n{front_matter}\n---\n".encode(), "example.txt", UTC)


#: What the reader made of characters XML forbids: removed from text, and
#: from what the excerpt's character references stand for.
_FORBIDDEN_CHARACTERS = _read(
    'title: "a \\uFFFE b \\x01"\nwebUrl: https://e.org/a\npublishedDateTime: 2024-01-01\n'
    'excerpt: "x &#xFFFE; &#1; <b>y &#x8;</b>"\ntopics: ["t\\uFFFF"]\ncategory: "c\\x7f"'
)


@settings(max_examples=150, deadline=None)
@given(articles())
@example(_FORBIDDEN_CHARACTERS)
def test_generated_articles_match_feedgen(article: Article) -> None:
    assert_same_as_feedgen(article)


@given(_moment, _zone)
def test_rss_dates_match_feedgens_c_locale_format(moment: datetime, zone: timezone) -> None:
    stamp = moment.replace(tzinfo=zone)
    assert rfc822(stamp) == stamp.strftime("%a, %d %b %Y %H:%M:%S %z")


def test_serialised_entries_are_the_bytes_inside_a_document() -> None:
    """An entry's bytes, spliced before the closing tags, make feedgen's document."""
    articles = [read_article(path, UTC) for path in SAMPLES]
    cache = EntryCache(_empty_document, slots=1)  # and evictions serialise equal bytes
    for _ in range(3):
        for article in articles:
            feed = _with_feedgen(article)
            for flavour in ("atom", "rss"):
                reference = tree(feed, flavour)
                ours = tree(feed, flavour)
                parent = ours if flavour == "atom" else ours.find("channel")
                parent.remove(parent[-1])
                skeleton = _serialised(ours)
                closing = CLOSING[flavour]
                assert skeleton.endswith(closing)
                entry = cache.serialised(article, flavour).data
                spliced = skeleton[: -len(closing)] + entry + closing
                assert spliced == _serialised(reference)
