"""Documents with spliced entry bytes are exactly the documents built whole.

JSON Feed documents too: each item's text is made once per article
(`render.jsonfeed`) and spliced into the document's "items".

`render._feedgen.render_xml` serialises the feed-level part with feedgen and
places each entry's bytes, serialised once (`entries.EntryCache`), before the
closing tags. The reference here builds each document the way the feeds did
before: a fresh feedgen model per plan, the entry elements appended to its
tree, archives' namespaces cleaned with the entries in place, one serialisation.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any, Literal

from feedgen.feed import FeedGenerator
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.compat.feedgen import tree
from feeds.config import Config, load_config
from feeds.model import Article
from feeds.plan.plans import FeedPlan
from feeds.render import atom, jsonfeed, rss
from feeds.render._feedgen import ATOM_NS, _after_last_link, _extra_links
from feeds.render.common import (
    FH_NS,
    GENERATOR,
    GENERATOR_URI,
    entry_html,
    feed_description,
    feed_title,
    feed_updated,
    feed_url,
)
from feeds.render.entries import atom_entry, rss_item
from feeds.render.syndication import SyndicationExtension
from feeds.seeds.reader import read_article
from tests.reference.planner import plan_feeds
from tests.render.test_entries import SAMPLES, articles

Flavour = Literal["atom", "rss"]


def _whole(plan: FeedPlan, config: Config, flavour: Flavour, suffix: str, media_type: str) -> bytes:
    feed = FeedGenerator()
    feed.load_extension("dc", atom=False, rss=True)
    feed.load_extension("media")
    feed.title(feed_title(plan, config))
    feed.subtitle(feed_description(plan, config))
    feed.description(feed_description(plan, config))
    feed.language(config.language)
    feed.author({k: v for k, v in config.author.model_dump().items() if v is not None})
    feed.generator(GENERATOR, uri=GENERATOR_URI)
    feed.docs(None)
    feed.ttl(config.ttl)
    feed.register_extension("sy", SyndicationExtension, None, atom=False, rss=True)
    feed.sy.every(config.ttl)
    feed.updated(feed_updated(plan))
    self_url = feed_url(plan, config, suffix)
    feed.id(self_url)
    feed.link(href=self_url, rel="self", type=media_type, replace=True)
    feed.link(href=config.site_url, rel="alternate", type="text/html")
    root: Any
    root = tree(feed, flavour)
    if flavour == "atom":
        parent, link_tag, build = root, "link", atom_entry
    else:
        parent, link_tag, build = root.find("channel"), f"{{{ATOM_NS}}}link", rss_item
    position = _after_last_link(parent)
    for rel, href in _extra_links(plan, config, suffix):
        parent.insert(position, etree.Element(link_tag, rel=rel, href=href))
        position += 1
    if plan.is_archive:
        parent.insert(position, etree.Element(f"{{{FH_NS}}}archive"))
    for article in plan.entries:
        parent.append(build(article, entry_html(article)))
    if plan.is_archive:
        etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS})
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _whole_json(spliced: bytes, plan: FeedPlan) -> bytes:
    """The JSON document as `json.dumps` lays it out whole, with the items
    made anew: the same bytes as ``spliced`` when the splice is right."""
    document = json.loads(spliced)
    assert list(document)[-1] == "items"  # the splice relies on it
    document["items"] = [jsonfeed._item(article) for article in plan.entries]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def assert_spliced_documents_are_whole(articles: list[Article], config: Config) -> int:
    """Renders every plan of ``articles`` both ways; returns how many were archives."""
    archives = 0
    for plan in plan_feeds(articles, config):
        archives += plan.is_archive
        spliced_json = jsonfeed.render(plan, config)
        assert spliced_json == _whole_json(spliced_json, plan), (plan.stem, "json")
        formats: tuple[tuple[Flavour, Any], ...] = (("atom", atom), ("rss", rss))
        for flavour, module in formats:
            spliced = module.render(plan, config)
            fmt = module.FORMAT
            assert spliced == _whole(plan, config, flavour, fmt.suffix, fmt.media_type), (
                plan.stem,
                flavour,
            )
    return archives


def _config(tmp_path: Path, settings: str) -> Config:
    path = tmp_path / "feeds.yaml"
    path.write_text(settings, encoding="utf-8")
    return load_config(path, seeds=tmp_path / "seeds", output=tmp_path / "out")


_SETTINGS = [
    "max_items: 1\n",
    "max_items: 1\nttl: 45\n",
    "max_items: 3\nwebsub: {hubs: ['https://hub.example/', 'https://other.example/h']}\n",
    "max_items: 50\nlanguage: de-AT\nauthor: {name: Redaktion, email: r@example.org}\n",
    "max_items: 2\narchives: false\nfacets: {categories: true, providers: true}\n",
]


def test_the_samples_in_every_setting(tmp_path: Path) -> None:
    samples = [read_article(path, UTC) for path in SAMPLES]
    archives = sum(
        assert_spliced_documents_are_whole(samples, _config(tmp_path, settings))
        for settings in _SETTINGS
    )
    assert archives > 0  # archives, with their namespace clean-up, were compared


@settings(max_examples=60, deadline=None)
@given(st.lists(articles(), min_size=1, max_size=8), st.sampled_from(_SETTINGS))
def test_generated_articles_in_every_kind_of_document(
    tmp_path_factory: Any, generated: list[Article], settings_text: str
) -> None:
    config = _config(tmp_path_factory.mktemp("splice"), settings_text)
    assert_spliced_documents_are_whole(generated, config)
