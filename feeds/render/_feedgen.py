"""Atom and RSS share one feedgen model; each format sets its own self link."""

from __future__ import annotations

from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import Config
from feeds.index import FeedPlan
from feeds.model import Article
from feeds.render.common import (
    GENERATOR,
    GENERATOR_URI,
    categories,
    entry_html,
    feed_description,
    feed_title,
    feed_updated,
    feed_url,
)


class _Entry(FeedEntry):  # type: ignore[misc]
    """Works around feedgen writing Atom entry links without their attributes.

    feedgen 1.0's ``atom_entry`` reuses its loop variable for the new element,
    so ``rel``, ``type`` and ``title`` of entry links are dropped: a ``via``
    link would then read as a second alternate link, which Atom forbids.
    """

    _LINK_ATTRIBUTES = ("rel", "type", "hreflang", "title", "length")

    def atom_entry(self, extensions: bool = True) -> Any:
        element = super().atom_entry(extensions)
        links = [child for child in element if etree.QName(child).localname == "link"]
        for xml_link, data in zip(links, self.link() or [], strict=True):
            for attribute in self._LINK_ATTRIBUTES:
                if data.get(attribute):
                    xml_link.set(attribute, data[attribute])
        return element


def generator_for(plan: FeedPlan, config: Config, suffix: str, media_type: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)  # dc:creator carries RSS authors
    self_url = feed_url(plan, config, suffix)
    feed.id(self_url)
    feed.title(feed_title(plan, config))
    feed.subtitle(feed_description(plan, config))
    feed.description(feed_description(plan, config))
    feed.language(config.language)
    feed.author(
        {key: value for key, value in config.author.model_dump().items() if value is not None}
    )
    feed.link(href=self_url, rel="self", type=media_type)
    # feedgen takes the RSS channel link from the link added last.
    feed.link(href=config.site_url, rel="alternate", type="text/html")
    # No version in the generator: an upgrade alone must not rewrite every feed.
    feed.generator(GENERATOR, uri=GENERATOR_URI)
    feed.docs(None)
    feed.updated(feed_updated(plan))
    for article in plan.entries:
        _add_entry(feed, article)
    return feed


def _add_entry(feed: FeedGenerator, article: Article) -> None:
    entry = feed.add_entry(_Entry(), order="append")
    entry.id(article.id)
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate", type="text/html")
    if article.via_link:
        entry.link(href=article.via_link, rel="via", type="text/html")
    entry.published(article.published)
    entry.updated(article.updated)
    if article.provider:
        author = {"name": article.provider.name}
        if article.provider.url:
            author["uri"] = article.provider.url
        entry.author(author)
        entry.dc.dc_creator(article.provider.name)
    for term in categories(article):
        entry.category(term=term)
    if article.summary_html:
        entry.summary(article.summary_html, type="html")
    entry.content(entry_html(article), type="html")
