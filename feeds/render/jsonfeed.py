"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

A feed with archives pages back through them: ``next_url`` ("the URL of a
feed that provides the next n items") leads from the main document to the
newest archive and from each archive to the next older one, the same chain
as RFC 5005's ``prev-archive`` in Atom and RSS. JSON Feed has no link to the
newer page, so an archive's bytes change only when its own entries or its
older neighbour do.
"""

from __future__ import annotations

import json
from typing import Any

from feeds.config import Config
from feeds.formats import format_named
from feeds.model import Article
from feeds.plan.plans import FeedPlan
from feeds.render._feedgen import ENTRIES
from feeds.render.common import categories, feed_description, feed_title, feed_url, stem_url
from feeds.seeds.text import html_to_text

FORMAT = format_named("json")
VERSION = "https://jsonfeed.org/version/1.1"


def render(plan: FeedPlan, config: Config) -> bytes:
    author: dict[str, str] = {"name": config.author.name}
    if config.author.uri:
        author["url"] = config.author.uri
    document: dict[str, Any] = {
        "version": VERSION,
        "title": feed_title(plan, config),
        "home_page_url": config.site_url,
        "feed_url": feed_url(plan, config, FORMAT.suffix),
        "description": feed_description(plan, config),
        "language": config.language,
        "authors": [author],
    }
    if plan.prev_archive:
        document["next_url"] = stem_url(plan.prev_archive, config, FORMAT.suffix)
    if config.websub.hubs:
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in config.websub.hubs]
    document["items"] = []
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if plan.entries:
        # Each item's text is the same in every document (indented by its
        # depth alone), so it is written once per article and spliced in;
        # "items" is the last key, so the text ends with its empty list.
        if not text.endswith(_NO_ITEMS):
            raise RuntimeError("unexpected json serialisation")  # pragma: no cover
        items = [ENTRIES.json_item(article, _item_text) for article in plan.entries]
        text = text[: -len(_NO_ITEMS)] + _ITEMS_OPEN + _ITEMS_BETWEEN.join(items) + _ITEMS_CLOSE
    return (text + "\n").encode("utf-8")


#: How `json.dumps` with ``indent=2`` ends a document whose last key is an
#: empty "items", and lays out a list of objects at that depth.
_NO_ITEMS = "[]\n}"
_ITEMS_OPEN = "[\n    "
_ITEMS_BETWEEN = ",\n    "
_ITEMS_CLOSE = "\n  ]\n}"


def _item_text(article: Article) -> str:
    """The item as `json.dumps` with ``indent=2`` writes it inside "items":
    only its line breaks are structural (a string's are escaped), and each
    is indented two levels more."""
    return json.dumps(_item(article), ensure_ascii=False, indent=2).replace("\n", "\n    ")


def _item(article: Article) -> dict[str, Any]:
    item: dict[str, Any] = {"id": article.id, "url": article.link}
    if article.via_link:
        item["external_url"] = article.via_link
    item["title"] = article.title
    item["content_html"] = ENTRIES.html(article)
    summary = html_to_text(article.summary_html)
    if summary:
        item["summary"] = summary
    if article.images:
        item["image"] = article.images[0].url
    item["date_published"] = article.published.isoformat()
    item["date_modified"] = article.updated.isoformat()
    if article.provider:
        author = {"name": article.provider.name}
        if article.provider.url:
            author["url"] = article.provider.url
        item["authors"] = [author]
    tags = categories(article)
    if tags:
        item["tags"] = tags
    return item
