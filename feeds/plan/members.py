"""One feed's members, kept sorted by month, and the plans made of them.

A save moves an article in or out of a month or two; the feed's main document
is made again from its newest months, and an archive only for a month that
changed (or whose neighbours did).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import replace

from feeds.config import Config
from feeds.model import Article
from feeds.plan.plans import (
    FeedPlan,
    SortKey,
    archive_links,
    archive_month,
    archive_stem,
    sort_key,
)

#: A month partly in the main document, and how many of its oldest are archived.
_Boundary = tuple[str, int]


class Members:
    """One feed's articles by UTC month, each month sorted oldest first by
    `sort_key`: months are what archives are made of, and a save changes one
    or two of them."""

    __slots__ = ("_by_key", "_months", "_unsorted", "dirty_months")

    def __init__(self) -> None:
        self._by_key: dict[SortKey, Article] = {}
        self._months: dict[str, list[SortKey]] = {}
        self._unsorted: set[str] = set()
        #: Months an article left since the feed was last planned. Arrivals
        #: need no mark: a month that only gained articles holds more than
        #: its last archive's total, which `_archives` compares.
        self.dirty_months: set[str] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, article: Article, key: SortKey) -> None:
        """``key`` is `sort_key(article)`, made once for all of the article's feeds."""
        self._by_key[key] = article
        month = archive_month(article.published)
        keys = self._months.setdefault(month, [])
        if keys and key < keys[-1]:
            self._unsorted.add(month)  # sorted when first read: bulk loads sort once
        keys.append(key)

    def remove(self, article: Article) -> None:
        key = sort_key(article)
        if self._by_key.pop(key, None) is None:
            return
        month = archive_month(article.published)
        keys = self.month(month)
        del keys[bisect_left(keys, key)]
        if not keys:
            del self._months[month]
        self.dirty_months.add(month)

    def months(self) -> list[str]:
        return sorted(self._months)

    def month(self, month: str) -> list[SortKey]:
        keys = self._months[month]
        if month in self._unsorted:
            keys.sort()
            self._unsorted.discard(month)
        return keys

    def articles(self, keys: Iterable[SortKey]) -> list[Article]:
        by_key = self._by_key
        return [by_key[key] for key in keys]


def plan_members(
    main: FeedPlan, members: Members, previous: Sequence[FeedPlan], config: Config
) -> list[FeedPlan]:
    """``main`` (a plan without entries) with its newest entries, then its
    archives: made again for the months a change touched, ``previous`` ones
    (the feed's last plans) for the others."""
    limit = config.max_items
    months = members.months()
    newest, oldest_shown, boundary = _newest(members, months, limit)
    entries = tuple(members.articles(newest))
    if not config.archives or len(members) <= limit:
        return [replace(main, entries=entries)]
    archived = [month for month in months if month < oldest_shown]
    if boundary is not None:
        archived.append(boundary[0])
    stems = [archive_stem(main.stem, month) for month in archived]
    archives = _archives(main, members, archived, stems, boundary, previous)
    return [replace(main, entries=entries, prev_archive=stems[-1]), *archives]


def _newest(
    members: Members, months: list[str], limit: int
) -> tuple[list[SortKey], str, _Boundary | None]:
    """The main document's keys, newest first; the oldest month among them;
    and the month partly archived, if one is."""
    newest: list[SortKey] = []
    oldest_shown = ""
    for month in reversed(months):
        room = limit - len(newest)
        if room <= 0:
            break
        keys = members.month(month)
        newest.extend(reversed(keys[-room:]))
        oldest_shown = month
        if len(keys) > room:
            return newest, oldest_shown, (month, len(keys) - room)
    return newest, oldest_shown, None


def _archives(
    main: FeedPlan,
    members: Members,
    archived: list[str],
    stems: list[str],
    boundary: _Boundary | None,
    previous: Sequence[FeedPlan],
) -> list[FeedPlan]:
    """The archives of the ``archived`` months, oldest first."""
    old = {plan.stem: plan for plan in previous[1:]}
    template = replace(main, entries=(), total=0, archive_of=main.stem)
    archives = []
    for month, stem, links in zip(archived, stems, archive_links(stems), strict=True):
        keys = members.month(month)
        partial = boundary is not None and month == boundary[0]
        count = boundary[1] if boundary is not None and partial else len(keys)
        plan = old.get(stem)
        if (  # reused only for a whole month no article came to or left
            plan is None
            or partial
            or month in members.dirty_months
            or plan.total != count
            or plan.archive_of != main.stem
        ):
            plan = replace(
                template,
                stem=stem,
                entries=tuple(members.articles(reversed(keys[:count]))),
                total=count,
                prev_archive=links[0],
                next_archive=links[1],
            )
        elif (plan.prev_archive, plan.next_archive) != links:
            plan = replace(plan, prev_archive=links[0], next_archive=links[1])
        archives.append(plan)
    return archives
