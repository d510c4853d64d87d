"""Atom and RSS share one feedgen model; each format sets its own self link.

feedgen builds the document; a few things it cannot say (WebSub hub links in
RSS, RFC 5005 archive links and markers) are added to its lxml tree before it
is serialised, never by string editing.
"""

from __future__ import annotations

from typing import Any, Literal

from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import Config
from feeds.index import FeedPlan
from feeds.render.common import (
    FH_NS,
    GENERATOR,
    GENERATOR_URI,
    feed_description,
    feed_title,
    feed_updated,
    feed_url,
    stem_url,
)
from feeds.render.entries import EntryCache

ATOM_NS = "http://www.w3.org/2005/Atom"


class _LastGenerator:
    """The generator of the plan rendered last.

    Atom and RSS of one feed are rendered one after the other from the same
    plan; the second format reuses the feed-level model and only swaps the
    self link. One slot keeps memory flat.
    """

    def __init__(self) -> None:
        self._key: tuple[FeedPlan, Config] | None = None
        self._feed: FeedGenerator | None = None

    def get(self, plan: FeedPlan, config: Config, suffix: str, media_type: str) -> FeedGenerator:
        if (
            self._feed is None
            or self._key is None
            or not (self._key[0] is plan and self._key[1] is config)
        ):
            self._feed = _generator_for(plan, config)
            self._key = (plan, config)
        self_url = feed_url(plan, config, suffix)
        self._feed.id(self_url)
        self._feed.link(href=self_url, rel="self", type=media_type, replace=True)
        # feedgen takes the RSS channel link from the link added last.
        self._feed.link(href=config.site_url, rel="alternate", type="text/html")
        return self._feed


_last = _LastGenerator()

#: Entries built for the documents of this process; see `entries.EntryCache`.
ENTRIES = EntryCache()


def render_xml(
    plan: FeedPlan, config: Config, flavour: Literal["atom", "rss"], suffix: str, media_type: str
) -> bytes:
    feed = _last.get(plan, config, suffix, media_type)
    if flavour == "atom":
        root, _ = feed._create_atom()
        parent, link_tag = root, "link"
    else:
        root, _ = feed._create_rss()
        parent, link_tag = root.find("channel"), f"{{{ATOM_NS}}}link"
    position = _after_last_link(parent)
    for rel, href in _extra_links(plan, config, suffix):
        element = etree.Element(link_tag, rel=rel, href=href)
        parent.insert(position, element)
        position += 1
    if plan.is_archive:
        parent.insert(position, etree.Element(f"{{{FH_NS}}}archive"))
    for article in plan.entries:
        parent.append(ENTRIES.element(article, flavour))
    if plan.is_archive:
        etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS})
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _extra_links(plan: FeedPlan, config: Config, suffix: str) -> list[tuple[str, str]]:
    links = [("hub", hub) for hub in config.websub.hubs]
    if plan.archive_of:
        links.append(("current", stem_url(plan.archive_of, config, suffix)))
    if plan.prev_archive:
        links.append(("prev-archive", stem_url(plan.prev_archive, config, suffix)))
    if plan.next_archive:
        links.append(("next-archive", stem_url(plan.next_archive, config, suffix)))
    return links


def _after_last_link(parent: Any) -> int:
    """Where new feed-level links go: after the existing ones, before the entries."""
    position = 0
    for index, child in enumerate(parent):
        if etree.QName(child).localname == "link":
            position = index + 1
    return position


def _generator_for(plan: FeedPlan, config: Config) -> FeedGenerator:
    """The feed without its entries, self link and id (which differ per format)."""
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)  # dc:creator carries RSS authors
    feed.load_extension("media")
    feed.title(feed_title(plan, config))
    feed.subtitle(feed_description(plan, config))
    feed.description(feed_description(plan, config))
    feed.language(config.language)
    feed.author(
        {key: value for key, value in config.author.model_dump().items() if value is not None}
    )
    # No version in the generator: an upgrade alone must not rewrite every feed.
    feed.generator(GENERATOR, uri=GENERATOR_URI)
    feed.docs(None)
    feed.updated(feed_updated(plan))
    return feed
