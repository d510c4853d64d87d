"""Atom and RSS share one feedgen model; each format sets its own self link.

feedgen builds the feed-level part of each document; a few things it cannot
say (WebSub hub links in RSS, RFC 5005 archive links and markers) are added
to its lxml tree before it is serialised, never by string editing. The
entries are serialised once per article (`entries.EntryCache`) and their
bytes placed before the document's closing tags.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.compat.feedgen import tree
from feeds.config import Config
from feeds.plan.plans import FeedPlan
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
from feeds.render.entries import CLOSING, EntryCache, Flavour
from feeds.render.syndication import SyndicationExtension

ATOM_NS = "http://www.w3.org/2005/Atom"


class _Generators:
    """One feedgen model per config, its feed-level fields set for each plan.

    Making a FeedGenerator and loading its extensions is slow, and was done
    once per plan; the fields that differ between plans are all set again here, and
    feedgen's setters replace what they set. Atom and RSS of one plan are
    rendered one after the other and share the fields but the self link.
    """

    def __init__(self) -> None:
        self._config: Config | None = None
        self._feed: FeedGenerator | None = None
        self._plan: FeedPlan | None = None

    def get(self, plan: FeedPlan, config: Config, suffix: str, media_type: str) -> FeedGenerator:
        if self._feed is None or self._config is not config:
            self._feed, self._config, self._plan = _generator_for(config), config, None
        feed = self._feed
        if self._plan is not plan:
            feed.title(feed_title(plan, config))
            feed.subtitle(feed_description(plan, config))
            feed.description(feed_description(plan, config))
            feed.updated(feed_updated(plan))
            self._plan = plan
        self_url = feed_url(plan, config, suffix)
        feed.id(self_url)
        feed.link(href=self_url, rel="self", type=media_type, replace=True)
        # feedgen takes the RSS channel link from the link added last.
        feed.link(href=config.site_url, rel="alternate", type="text/html")
        return feed


_generators = _Generators()


@cache  # one per process and flavour; entries are put in and taken out again
def _empty_document(flavour: Flavour) -> Any:
    """A document of the flavour without feed-level children: where entries are
    serialised, with the namespace declarations every document has."""
    feed = FeedGenerator()
    _load_extensions(feed)
    feed.id("urn:feeds:context")
    feed.title("context")
    feed.description("context")
    feed.link(href="urn:feeds:context", rel="alternate")
    root = tree(feed, flavour)
    parent = root if flavour == "atom" else root[0]
    for child in list(parent):
        parent.remove(child)
    return root


#: Entries built for the documents of this process; see `entries.EntryCache`.
ENTRIES = EntryCache(_empty_document)


def render_xml(
    plan: FeedPlan, config: Config, flavour: Literal["atom", "rss"], suffix: str, media_type: str
) -> bytes:
    feed = _generators.get(plan, config, suffix, media_type)
    root = tree(feed, flavour)
    if flavour == "atom":
        parent, link_tag = root, "link"
    else:
        parent, link_tag = root.find("channel"), f"{{{ATOM_NS}}}link"
    position = _after_last_link(parent)
    for rel, href in _extra_links(plan, config, suffix):
        element = etree.Element(link_tag, rel=rel, href=href)
        parent.insert(position, element)
        position += 1
    entries = [ENTRIES.serialised(article, flavour) for article in plan.entries]
    if plan.is_archive:
        parent.insert(position, etree.Element(f"{{{FH_NS}}}archive"))
        _declare_only_used(root, parent, {uri for entry in entries for uri in entry.namespaces})
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    closing = CLOSING[flavour]
    if not data.endswith(closing):  # pragma: no cover - feedgen always writes children
        raise RuntimeError(f"unexpected {flavour} document ending")
    return b"".join([data[: -len(closing)], *(entry.data for entry in entries), closing])


def _declare_only_used(root: Any, parent: Any, entry_namespaces: set[str]) -> None:
    """Archives declare the namespaces in use, the history one on the root.

    The entries are not in the tree, so one empty stand-in element per
    namespace they use keeps its declaration in place while lxml drops the rest.
    """
    stand_ins = [etree.SubElement(parent, f"{{{uri}}}x") for uri in sorted(entry_namespaces)]
    etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS})
    for element in stand_ins:
        parent.remove(element)


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


def _load_extensions(feed: FeedGenerator) -> None:
    feed.load_extension("dc", atom=False, rss=True)  # dc:creator carries RSS authors
    feed.load_extension("media")


def _generator_for(config: Config) -> FeedGenerator:
    """The feed-level fields every plan of the config shares."""
    feed = FeedGenerator()
    _load_extensions(feed)
    feed.language(config.language)
    feed.author(
        {key: value for key, value in config.author.model_dump().items() if value is not None}
    )
    # No version in the generator: an upgrade alone must not rewrite every feed.
    feed.generator(GENERATOR, uri=GENERATOR_URI)
    feed.docs(None)
    feed.ttl(config.ttl)
    feed.register_extension("sy", SyndicationExtension, None, atom=False, rss=True)
    feed.sy.every(config.ttl)
    return feed
