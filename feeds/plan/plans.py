"""Indexing articles: duplicates merged, visibility decided, feeds planned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Literal

from feeds.config import Config
from feeds.model import Article
from feeds.plan.filters import selects
from feeds.plan.slugs import assign_slugs
from feeds.urls import canonical_url

#: The updated time of a feed with no entries. Never the clock: a build's
#: output depends on its input alone.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)

#: The combined feed's stem, beside the folders of the other feeds.
COMBINED_STEM = "all"
TOPICS_DIR = "topics"
CUSTOM_DIR = "custom"
CATEGORIES_DIR = "categories"
PROVIDERS_DIR = "providers"
ARCHIVE_DIR = "archive"
#: Every folder whose feed files a build owns (and removes when stale).
FEED_DIRS = (TOPICS_DIR, CUSTOM_DIR, CATEGORIES_DIR, PROVIDERS_DIR, ARCHIVE_DIR)


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
    #: For an archive document: the stem of the feed it archives.
    archive_of: str | None = None
    #: RFC 5005 neighbours (stems): the next older and the next newer archive.
    prev_archive: str | None = None
    next_archive: str | None = None

    #: The newest ``updated`` among the entries: moves only when content moves.
    #: Never the clock: a feed with no entries says 1970.
    updated: datetime = field(init=False, compare=False)

    def __post_init__(self) -> None:
        newest = max((article.updated for article in self.entries), default=EMPTY_FEED_UPDATED)
        object.__setattr__(self, "updated", newest)

    @property
    def newest(self) -> Article | None:
        return self.entries[0] if self.entries else None

    @property
    def is_archive(self) -> bool:
        return self.archive_of is not None


def merge_duplicates(articles: Iterable[Article]) -> tuple[list[Article], list[Duplicate]]:
    """One article per canonical link: the later ``updated`` wins, a tie goes to
    the source path that sorts last."""
    groups: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        groups[article.id].append(article)  # the id is derived from the canonical link
    kept: list[Article] = []
    duplicates: list[Duplicate] = []
    for group in groups.values():
        if len(group) == 1:
            kept.append(group[0])
            continue
        duplicate = duplicate_of(group)
        kept.append(next(article for article in group if article.source == duplicate.kept))
        duplicates.append(duplicate)
    duplicates.sort(key=lambda duplicate: duplicate.kept)
    return kept, duplicates


def duplicate_of(group: Sequence[Article]) -> Duplicate:
    """Which of several articles with one id is published, and which are not."""
    ordered = sorted(group, key=lambda article: (article.updated, article.source))
    winner = ordered[-1]
    dropped = tuple(article.source for article in ordered[:-1])
    return Duplicate(canonical_url(winner.link), winner.source, dropped)


def is_visible(article: Article, now: datetime, published_only: bool) -> bool:
    """Whether an article belongs in the feeds at ``now``.

    Future-dated articles are embargoed until their time comes.
    """
    if published_only and not article.is_published:
        return False
    return article.published <= now


def newest_first(articles: Iterable[Article]) -> list[Article]:
    return sorted(articles, key=lambda article: (article.published, article.id), reverse=True)


@dataclass(slots=True)
class _Group:
    stem: str
    kind: FeedKind
    label: str | None
    members: list[Article]
    title: str | None = None
    description: str | None = None


def plan_feeds(articles: Sequence[Article], config: Config) -> list[FeedPlan]:
    """Every feed document: the combined feed, one per topic, the custom feeds,
    the facets the config asks for, and their archives.

    ``articles`` are the visible, de-duplicated ones.
    """
    return [
        plan
        for group in _groups(newest_first(articles), config)
        for plan in _group_plans(group, config)
    ]


def _groups(ordered: list[Article], config: Config) -> list[_Group]:
    groups = [_Group(COMBINED_STEM, "all", None, ordered)]
    groups += _grouped(ordered, TOPICS_DIR, "topic", lambda a: a.topics)
    for custom in config.custom_feeds:
        members = [article for article in ordered if selects(custom, article)]
        stem = f"{CUSTOM_DIR}/{custom.name}"
        groups.append(
            _Group(stem, "custom", custom.name, members, custom.title, custom.description)
        )
    if config.facets.categories:
        groups += _grouped(
            ordered, CATEGORIES_DIR, "category", lambda a: (a.category,) if a.category else ()
        )
    if config.facets.providers:
        groups += _grouped(ordered, PROVIDERS_DIR, "provider", provider_keys)
    return groups


def _group_plans(group: _Group, config: Config) -> list[FeedPlan]:
    entries = tuple(group.members[: config.max_items])
    main = FeedPlan(
        group.stem,
        group.kind,
        group.label,
        entries,
        len(group.members),
        title=group.title,
        description=group.description,
    )
    older = group.members[config.max_items :] if config.archives else []
    return _with_archives(main, older)


def newest_of(plan: FeedPlan, count: int) -> FeedPlan:
    """The plan with only its ``count`` newest entries (to fit a size budget)."""
    return replace(plan, entries=plan.entries[:count])


def _grouped(
    ordered: Sequence[Article],
    folder: str,
    kind: FeedKind,
    keys: Callable[[Article], Iterable[str]],
) -> list[_Group]:
    members: dict[str, list[Article]] = defaultdict(list)
    for article in ordered:
        for key in keys(article):
            members[key].append(article)
    slugs = assign_slugs(members)
    return [
        _Group(f"{folder}/{slugs[key]}", kind, key, members[key])
        for key in sorted(members, key=lambda name: slugs[name])
    ]


def archive_month(moment: datetime) -> str:
    """The UTC month of an archive entry, as one shared string per month (a
    cache by datetime held a string per article)."""
    utc = moment.astimezone(UTC)
    return _month_name(utc.year, utc.month)


@cache
def _month_name(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def provider_keys(article: Article) -> tuple[str, ...]:
    if article.provider is None:
        return ()
    return (article.provider.domain or article.provider.name,)


def _with_archives(main: FeedPlan, older: Sequence[Article]) -> list[FeedPlan]:
    """The main document plus RFC 5005 archive documents, one per month (UTC),
    of the entries that no longer fit in it.

    Months keep each archive small, and an edit to an old article rewrites
    only its own month's archives.
    """
    if not older:
        return [main]
    by_month: dict[str, list[Article]] = defaultdict(list)
    for article in older:
        by_month[archive_month(article.published)].append(article)
    months = sorted(by_month)
    stems = {month: f"{ARCHIVE_DIR}/{main.stem}/{month}" for month in months}
    archives = [
        replace(
            main,
            stem=stems[month],
            entries=tuple(by_month[month]),
            total=len(by_month[month]),
            archive_of=main.stem,
            prev_archive=stems[months[index - 1]] if index > 0 else None,
            next_archive=stems[months[index + 1]] if index + 1 < len(months) else None,
        )
        for index, month in enumerate(months)
    ]
    return [replace(main, prev_archive=stems[months[-1]]), *archives]
