"""A feed's page: its newest entries as a page a person can read, and how to
subscribe to it (config ``pages``).

Written beside the feed's main document (``topics/ai.html`` beside
``topics/ai.atom.xml``), from the same plan, so it changes exactly when the
feed does. Its links to the feed's documents and to the index are relative, so
it works wherever the output folder is served; the addresses shown for pasting
into a reader are absolute.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from feeds.config import Config
from feeds.formats import INDEX_PAGE, chosen_formats
from feeds.model import Article
from feeds.plan.plans import FeedPlan
from feeds.render.common import GENERATOR, GENERATOR_URI, feed_description, feed_title, feed_url
from feeds.render.index_html import environment, machine_time, readable_date
from feeds.seeds.text import html_to_text, shorten

#: Characters of an entry's excerpt on the page; the feeds carry the whole summary.
EXCERPT_LENGTH = 280


@dataclass(frozen=True, slots=True)
class _Subscription:
    label: str
    #: Relative to the page: the document beside it.
    href: str
    media_type: str
    #: The absolute address, to paste into a reader.
    url: str
    #: The autodiscovery title; the formats after the first say what they are.
    title: str


@dataclass(frozen=True, slots=True)
class _Image:
    url: str
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class _Entry:
    title: str
    link: str
    machine: str
    readable: str
    provider: str | None
    excerpt: str
    image: _Image | None


def render(plan: FeedPlan, config: Config) -> bytes:
    """``<stem>.html`` in UTF-8."""
    title = feed_title(plan, config)
    depth = plan.stem.count("/")
    page = (
        environment()
        .get_template("feed.html.j2")
        .render(
            language=config.language,
            site_title=config.title,
            title=title,
            description=feed_description(plan, config),
            index=f"{'../' * depth}{INDEX_PAGE.filename}",
            subscriptions=_subscriptions(plan, config, title),
            entries=[_entry(article, config) for article in plan.entries],
            total=max(plan.total, len(plan.entries)),
            generator=GENERATOR,
            generator_uri=GENERATOR_URI,
        )
    )
    return page.encode("utf-8")


def _subscriptions(plan: FeedPlan, config: Config, title: str) -> list[_Subscription]:
    chosen = chosen_formats(config)
    name = plan.stem.rpartition("/")[2]
    return [
        _Subscription(
            label=fmt.label,
            href=name + fmt.suffix,
            media_type=fmt.media_type,
            url=feed_url(plan, config, fmt.suffix),
            title=title if fmt is chosen[0] else f"{title} ({fmt.label})",
        )
        for fmt in chosen
    ]


def _entry(article: Article, config: Config) -> _Entry:
    lead = article.images[0] if article.images else None
    return _Entry(
        title=article.title,
        link=article.link,
        machine=machine_time(article.published),
        readable=readable_date(article.published, config),
        provider=article.provider.name if article.provider else None,
        excerpt=_EXCERPTS.of(article),
        image=None if lead is None else _Image(lead.url, lead.width, lead.height),
    )


class _Excerpts:
    """The newest-used articles' excerpts. An article stands in many feeds'
    pages, and its excerpt (markup stripped, text cleaned) costs more than
    the rest of its entry; the bound keeps memory flat at any size."""

    def __init__(self, slots: int = 4096) -> None:
        self._slots = slots
        # Keyed by identity, as `entries.EntryCache`: hashing a frozen Article
        # hashes every field. The slot holds the article, so its id() stays its own.
        self._known: OrderedDict[int, tuple[Article, str]] = OrderedDict()

    def of(self, article: Article) -> str:
        key = id(article)
        known = self._known.get(key)
        if known is not None and known[0] is article:
            self._known.move_to_end(key)
            return known[1]
        excerpt = shorten(html_to_text(article.summary_html), EXCERPT_LENGTH)
        self._known[key] = (article, excerpt)
        if len(self._known) > self._slots:
            self._known.popitem(last=False)
        return excerpt


_EXCERPTS = _Excerpts()
