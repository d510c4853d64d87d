"""OPML 2.0: every feed in one file, so a reader can subscribe to them all at once.

The outlines stay flat, in the index page's order, each kind named in the
``category`` attribute: every reader imports a flat list, while nested
folders are handled differently from one reader to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from email.utils import format_datetime

from lxml import etree

from feeds.config import Config
from feeds.formats import OPML, chosen_formats
from feeds.plan.plans import FeedPlan
from feeds.render.common import feed_description, feed_title, feed_url
from feeds.render.index_html import kind_heading, listed_feeds

FILENAME = OPML.filename
SPEC_URL = "http://opml.org/spec2.opml"


def render_opml(plans: Sequence[FeedPlan], config: Config) -> bytes:
    """``feeds.opml`` in UTF-8; the same plans, in any order, give the same bytes."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    _add_text(head, "title", config.title)
    # The newest entry, never the clock: the file changes only when the feeds do.
    modified = max((plan.updated for plan in plans if plan.entries), default=None)
    if modified is not None:
        _add_text(head, "dateModified", format_datetime(modified.astimezone(UTC), usegmt=True))
    _add_text(head, "ownerName", config.author.name)
    if config.author.email:
        _add_text(head, "ownerEmail", config.author.email)
    if config.author.uri:
        _add_text(head, "ownerId", config.author.uri)
    _add_text(head, "docs", SPEC_URL)
    body = etree.SubElement(root, "body")
    for plan in listed_feeds(plans, config):
        title = feed_title(plan, config)
        outline = etree.SubElement(body, "outline")
        outline.set("type", "rss")
        outline.set("text", title)
        outline.set("title", title)
        outline.set("description", feed_description(plan, config))
        outline.set("xmlUrl", feed_url(plan, config, chosen_formats(config)[0].suffix))
        outline.set("htmlUrl", config.site_url)
        if plan.kind != "all":
            outline.set("category", "/" + kind_heading(plan.kind))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _add_text(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text
