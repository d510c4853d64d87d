"""The simple planner, as of commit 4976dd0: every feed planned from all
articles at once. The live planner (feeds/plan/planner.py) must plan exactly
what this does after any sequence of changes (tests/plan/test_planner.py).
Both share the rules of feeds/plan/plans.py. Do not optimise this copy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from feeds.config import Config
from feeds.model import Article
from feeds.plan.filters import selects
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


def _with_archives(main: FeedPlan, older: Sequence[Article]) -> list[FeedPlan]:
    """The main document plus RFC 5005 archive documents, one per month (UTC),
    of the entries that no longer fit in it."""
    if not older:
        return [main]
    by_month: dict[str, list[Article]] = defaultdict(list)
    for article in older:
        by_month[archive_month(article.published)].append(article)
    months = sorted(by_month)
    stems = [archive_stem(main.stem, month) for month in months]
    archives = [
        replace(
            main,
            stem=stem,
            entries=tuple(by_month[month]),
            total=len(by_month[month]),
            archive_of=main.stem,
            prev_archive=prev_archive,
            next_archive=next_archive,
        )
        for month, stem, (prev_archive, next_archive) in zip(
            months, stems, archive_links(stems), strict=True
        )
    ]
    return [replace(main, prev_archive=stems[-1]), *archives]
