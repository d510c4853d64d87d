"""The simple planner, as of commit 4976dd0: every feed planned from all
articles at once. The live planner (feeds/plan/planner.py) must plan exactly
what this does after any sequence of changes (tests/plan/test_planner.py).
Both share the rules of feeds/plan/plans.py, and `entry_weight`. Do not
optimise this copy.

Archive periods (issue 17) are cut here the plain way: each half of a span
filtered from the whole list, each hash bit computed from the id again."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from feeds.config import Config
from feeds.model import Article
from feeds.plan.filters import selects
from feeds.plan.periods import DOCUMENT_ALLOWANCE, entry_weight
from feeds.plan.planner import Plans
from feeds.plan.plans import (
    FeedKind,
    FeedPlan,
    archive_links,
    archive_month,
    archive_stem,
    embargoed_count,
    feed_stem,
    is_visible,
    merge_duplicates,
    next_embargo,
    provider_keys,
    sort_key,
)
from feeds.plan.slugs import assign_slugs


def plans_at(articles: Iterable[Article], moment: datetime, config: Config) -> Plans:
    """What the live planner gives at ``moment`` for the seeds' ``articles``."""
    merged, duplicates = merge_duplicates(articles)
    visible = [a for a in merged if is_visible(a, moment, config.published_only)]
    embargo = next_embargo(merged, moment, config.published_only)
    embargoed = embargoed_count(merged, moment, config.published_only)
    return Plans(plan_feeds(visible, config), len(visible), tuple(duplicates), embargo, embargoed)


def newest_first(articles: Iterable[Article]) -> list[Article]:
    return sorted(articles, key=sort_key, reverse=True)


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
    groups = [_Group(feed_stem("all", None), "all", None, ordered)]
    groups += _grouped(ordered, "topic", lambda a: a.topics)
    for custom in config.custom_feeds:
        members = [article for article in ordered if selects(custom, article)]
        stem = feed_stem("custom", custom.name)
        groups.append(
            _Group(stem, "custom", custom.name, members, custom.title, custom.description)
        )
    if config.facets.categories:
        groups += _grouped(ordered, "category", lambda a: (a.category,) if a.category else ())
    if config.facets.providers:
        groups += _grouped(ordered, "provider", provider_keys)
    return groups


def _group_plans(group: _Group, config: Config) -> list[FeedPlan]:
    shown = _shown(group.members, config) if config.archives else config.max_items
    entries = tuple(group.members[:shown])
    main = FeedPlan(
        group.stem,
        group.kind,
        group.label,
        entries,
        len(group.members),
        title=group.title,
        description=group.description,
    )
    older = group.members[shown:] if config.archives else []
    return _with_archives(main, group.members, older, config)


def _shown(members: Sequence[Article], config: Config) -> int:
    """How many of the newest ``members`` the main document shows: at most
    max_items, and no more than fit in max_bytes by their weights (always one)."""
    budget, spent = config.max_bytes - DOCUMENT_ALLOWANCE, 0
    for count, article in enumerate(members[: config.max_items]):
        spent += entry_weight(article)
        if spent > budget and count:
            return count
    return min(len(members), config.max_items)


def _grouped(
    ordered: Sequence[Article],
    kind: FeedKind,
    keys: Callable[[Article], Iterable[str]],
) -> list[_Group]:
    members: dict[str, list[Article]] = defaultdict(list)
    for article in ordered:
        for key in keys(article):
            members[key].append(article)
    slugs = assign_slugs(members)
    return [
        _Group(feed_stem(kind, slugs[key]), kind, key, members[key])
        for key in sorted(members, key=lambda name: slugs[name])
    ]


def _with_archives(
    main: FeedPlan, members: Sequence[Article], older: Sequence[Article], config: Config
) -> list[FeedPlan]:
    """The main document plus RFC 5005 archive documents, one per period of
    each month (UTC), of the entries that no longer fit in it; the periods
    are cut from all of the feed's members."""
    if not older:
        return [main]
    by_month: dict[str, list[Article]] = defaultdict(list)
    for article in sorted(members, key=sort_key):
        by_month[archive_month(article.published)].append(article)
    archived = {id(article) for article in older}
    named: list[tuple[str, tuple[Article, ...]]] = []
    for month in sorted(by_month):
        first, length = _month_span(month)
        for name, period in _periods(month, by_month[month], first, length, config):
            held = tuple(a for a in reversed(period) if id(a) in archived)
            if held:
                named.append((name, held))
    stems = [archive_stem(main.stem, name) for name, _ in named]
    archives = [
        replace(
            main,
            stem=stem,
            entries=entries,
            total=len(entries),
            archive_of=main.stem,
            prev_archive=prev_archive,
            next_archive=next_archive,
        )
        for (_, entries), stem, (prev_archive, next_archive) in zip(
            named, stems, archive_links(stems), strict=True
        )
    ]
    return [replace(main, prev_archive=stems[-1]), *archives]


def _month_span(month: str) -> tuple[datetime, timedelta]:
    year, number = int(month[:4]), int(month[5:7])
    first = datetime(year, number, 1, tzinfo=UTC)
    if number == 12 and year == 9999:
        return first, datetime.max.replace(tzinfo=UTC) - first + timedelta(microseconds=1)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return first, following - first


def _fits(period: Sequence[Article], config: Config) -> bool:
    weight = sum(entry_weight(article) for article in period)
    return len(period) <= 1 or (
        len(period) <= config.archive_max_items and weight <= config.max_bytes - DOCUMENT_ALLOWANCE
    )


def _periods(
    name: str, period: list[Article], first: datetime, length: timedelta, config: Config
) -> list[tuple[str, list[Article]]]:
    if _fits(period, config):
        return [(name, period)]
    if length <= timedelta(microseconds=1):
        return _hash_periods(name + "h", period, 0, config)
    prefix = name if "_" in name else name + "_"
    middle = first + length // 2
    older = [article for article in period if article.published < middle]
    newer = [article for article in period if article.published >= middle]
    found = _periods(prefix + "0", older, first, length // 2, config) if older else []
    if newer:
        found += _periods(prefix + "1", newer, middle, length - length // 2, config)
    return found


def _hash_periods(
    name: str, period: list[Article], bit: int, config: Config
) -> list[tuple[str, list[Article]]]:
    if bit >= 256 or _fits(period, config):
        return [(name, period)]
    found = []
    for value in (0, 1):
        part = [article for article in period if _bit(article.id, bit) == value]
        if part:
            found += _hash_periods(name + str(value), part, bit + 1, config)
    return found


def _bit(entry_id: str, bit: int) -> int:
    digest = int.from_bytes(hashlib.sha256(entry_id.encode("utf-8", "surrogatepass")).digest())
    return digest >> (255 - bit) & 1
