"""Indexing articles: duplicates merged, visibility decided, feeds planned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from feeds.model import Article
from feeds.slugs import assign_slugs
from feeds.urls import canonical_url

#: The combined feed's stem, beside the ``topics/`` folder.
COMBINED_STEM = "all"
TOPICS_DIR = "topics"


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Two or more seed files naming the same link; ``kept`` is the one published."""

    link: str
    kept: str
    dropped: tuple[str, ...]


FeedKind = Literal["all", "topic", "custom", "category", "provider"]


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """One feed: what it is called, where it goes, and its entries newest first."""

    #: Path below the output folder without the format suffix, e.g. "topics/ai".
    stem: str
    kind: FeedKind
    #: What the feed is about: the topic, category or provider; None for "all".
    label: str | None
    #: The main document's entries, newest first.
    entries: tuple[Article, ...]
    #: Every entry the feed has, the main document's and older ones.
    total: int = 0
    #: A title from the config (custom feeds); None: derived from the label.
    title: str | None = None
    description: str | None = None

    @property
    def newest(self) -> Article | None:
        return self.entries[0] if self.entries else None


def merge_duplicates(articles: Iterable[Article]) -> tuple[list[Article], list[Duplicate]]:
    """One article per canonical link: the later ``updated`` wins, a tie goes to
    the source path that sorts last."""
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        groups[canonical_url(article.link)].append(article)
    kept: list[Article] = []
    duplicates: list[Duplicate] = []
    for link, group in groups.items():
        group.sort(key=lambda article: (article.updated, article.source))
        winner = group[-1]
        kept.append(winner)
        if len(group) > 1:
            duplicates.append(Duplicate(link, winner.source, tuple(a.source for a in group[:-1])))
    duplicates.sort(key=lambda duplicate: duplicate.kept)
    return kept, duplicates


def is_visible(article: Article, now: datetime, published_only: bool) -> bool:
    """Whether an article belongs in the feeds at ``now``.

    Future-dated articles are embargoed until their time comes.
    """
    if published_only and not article.is_published:
        return False
    return article.published <= now


def newest_first(articles: Iterable[Article]) -> list[Article]:
    return sorted(articles, key=lambda article: (article.published, article.id), reverse=True)


def plan_feeds(articles: Sequence[Article], max_items: int) -> list[FeedPlan]:
    """The combined feed plus one feed per topic, each holding its newest ``max_items``.

    ``articles`` are the visible, de-duplicated ones.
    """
    ordered = newest_first(articles)
    by_topic: dict[str, list[Article]] = defaultdict(list)
    for article in ordered:
        for topic in article.topics:
            by_topic[topic].append(article)
    slugs = assign_slugs(by_topic)
    plans = [FeedPlan(COMBINED_STEM, "all", None, tuple(ordered[:max_items]), len(ordered))]
    for topic in sorted(by_topic, key=lambda name: slugs[name]):
        members = by_topic[topic]
        plans.append(
            FeedPlan(
                f"{TOPICS_DIR}/{slugs[topic]}",
                "topic",
                topic,
                tuple(members[:max_items]),
                len(members),
            )
        )
    return plans
