"""Feed plans, and the rules every planner shares: which article of several
with one link is kept, which articles are visible, the order of a feed's
entries, and the stems of feeds and their monthly archives.

`feeds.plan.planner` plans with these rules; so does the simple reference
planner its property spec compares it with (tests/reference/planner.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Literal

from feeds.model import Article
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
    """Two or more seed files naming the same link; ``kept`` is the one in the feeds."""

    link: str
    kept: str
    dropped: tuple[str, ...]


FeedKind = Literal["all", "topic", "custom", "category", "provider"]

#: The folder of each kind of feed but the combined one.
_FOLDERS: dict[FeedKind, str] = {
    "topic": TOPICS_DIR,
    "custom": CUSTOM_DIR,
    "category": CATEGORIES_DIR,
    "provider": PROVIDERS_DIR,
}


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


# --- duplicates ------------------------------------------------------------


def preference(article: Article) -> tuple[datetime, str]:
    """Of several articles with one link, the greatest is kept: the later
    ``updated`` wins, a tie goes to the source path that sorts last."""
    return (article.updated, article.source)


def merge_duplicates(articles: Iterable[Article]) -> tuple[list[Article], list[Duplicate]]:
    """One article per canonical link, by `preference`."""
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
    """Which of several articles with one id is kept, and which are dropped."""
    ordered = sorted(group, key=preference)
    winner = ordered[-1]
    dropped = tuple(article.source for article in ordered[:-1])
    return Duplicate(canonical_url(winner.link), winner.source, dropped)


# --- visibility ------------------------------------------------------------


def is_visible(article: Article, now: datetime, published_only: bool) -> bool:
    """Whether an article belongs in the feeds at ``now``.

    Future-dated articles are embargoed until their time comes.
    """
    if published_only and not article.is_published:
        return False
    return article.published <= now


def next_embargo(
    articles: Iterable[Article], now: datetime, published_only: bool
) -> datetime | None:
    """When the first of ``articles`` still embargoed at ``now`` becomes visible."""
    return min(
        (
            article.published
            for article in articles
            if article.published > now and (article.is_published or not published_only)
        ),
        default=None,
    )


def embargoed_count(articles: Iterable[Article], now: datetime, published_only: bool) -> int:
    """How many of ``articles`` are embargoed at ``now``: dated later, and
    shown once that time comes."""
    return sum(
        1
        for article in articles
        if article.published > now and (article.is_published or not published_only)
    )


# --- order and stems -------------------------------------------------------

#: Entries sort by it, newest first: a feed's order never depends on the input's.
SortKey = tuple[datetime, str]


def sort_key(article: Article) -> SortKey:
    return (article.published, article.id)


def feed_stem(kind: FeedKind, name: str | None) -> str:
    """Where a feed goes; ``name`` is its slug (a custom feed's: its name)."""
    if kind == "all":
        return COMBINED_STEM
    return f"{_FOLDERS[kind]}/{name}"


def archive_month(moment: datetime) -> str:
    """The UTC month of an archive entry, as one shared string per month (a
    cache by datetime held a string per article)."""
    utc = moment.astimezone(UTC)
    return _month_name(utc.year, utc.month)


@cache
def _month_name(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def archive_stem(stem: str, month: str) -> str:
    """The stem of the RFC 5005 archive of feed ``stem``'s entries of ``month``.

    Months keep each archive small, and an edit to an old article rewrites
    only its own month's archives.
    """
    return f"{ARCHIVE_DIR}/{stem}/{month}"


def archive_links(stems: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """Each archive's RFC 5005 neighbours: the previous (older) and the next
    (newer) archive; ``stems`` are a feed's archives, oldest first."""
    older: list[str | None] = [None, *stems[:-1]]
    newer: list[str | None] = [*stems[1:], None]
    return list(zip(older, newer, strict=True))


def provider_keys(article: Article) -> tuple[str, ...]:
    if article.provider is None:
        return ()
    return (article.provider.domain or article.provider.name,)


def newest_of(plan: FeedPlan, count: int) -> FeedPlan:
    """The plan with only its ``count`` newest entries (to fit a size budget)."""
    return replace(plan, entries=plan.entries[:count])
