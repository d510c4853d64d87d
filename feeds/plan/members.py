"""One feed's members, kept sorted by month, and the plans made of them.

A save moves an article in or out of a month or two; the feed's main document
is made again from its newest months, and an archive only for a period
(`feeds.plan.periods`) that changed, or whose neighbours did.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from feeds.config import Config
from feeds.model import Article
from feeds.plan.periods import Period, PeriodLimits, entry_weight, periods
from feeds.plan.plans import FeedPlan, archive_links, archive_month, archive_stem, sort_key

#: A month partly in the main document, and how many of its oldest are archived.
_Boundary = tuple[str, int]
#: A period holding archived entries, and how many of its oldest are archived.
_Archived = tuple[Period, int]


class Members:
    """One feed's articles by UTC month, each month sorted oldest first by
    `sort_key`: months are what archives are made of, and a save changes one
    or two of them. The months hold the articles themselves: a sort key
    kept per article, and a map from keys back to articles, cost a tenth
    of the daemon's memory."""

    __slots__ = ("_count", "_limits", "_months", "_periods", "_unsorted", "left")

    def __init__(self) -> None:
        self._count = 0
        self._months: dict[str, list[Article]] = {}
        self._unsorted: set[str] = set()
        #: Each unchanged month's periods, cut with ``_limits``.
        self._periods: dict[str, list[Period]] = {}
        self._limits: PeriodLimits | None = None
        #: When the articles that left since the feed was last planned were
        #: published, by month. Arrivals need no mark: a period that only
        #: gained articles holds more than its last archive's total, which
        #: `_archives` compares.
        self.left: dict[str, list[datetime]] = {}

    def __len__(self) -> int:
        return self._count

    def add(self, article: Article) -> None:
        """``article`` joins; no other member may have its `sort_key`."""
        self._count += 1
        month = archive_month(article.published)
        articles = self._months.setdefault(month, [])
        if articles and sort_key(article) < sort_key(articles[-1]):
            self._unsorted.add(month)  # sorted when first read: bulk loads sort once
        articles.append(article)
        self._periods.pop(month, None)

    def remove(self, article: Article) -> None:
        """The member with ``article``'s `sort_key` leaves, if there is one."""
        key = sort_key(article)
        month = archive_month(article.published)
        if month not in self._months:
            return
        articles = self.month(month)
        index = bisect_left(articles, key, key=sort_key)
        if index == len(articles) or sort_key(articles[index]) != key:
            return
        del articles[index]
        self._count -= 1
        if not articles:
            del self._months[month]
        self._periods.pop(month, None)
        self.left.setdefault(month, []).append(article.published)

    def months(self) -> list[str]:
        return sorted(self._months)

    def month(self, month: str) -> list[Article]:
        articles = self._months[month]
        if month in self._unsorted:
            articles.sort(key=sort_key)
            self._unsorted.discard(month)
        return articles

    def periods(self, month: str, limits: PeriodLimits) -> list[Period]:
        """The month's periods, cut again only after the month changed."""
        if limits != self._limits:
            self._periods.clear()
            self._limits = limits
        found = self._periods.get(month)
        if found is None:
            found = self._periods[month] = periods(month, self.month(month), limits)
        return found

    def left_from(self, period: Period) -> bool:
        """Whether an article left the period's span since the last plan."""
        return any(period.holds(moment) for moment in self.left.get(period.month, ()))


def plan_members(
    main: FeedPlan, members: Members, previous: Sequence[FeedPlan], config: Config
) -> list[FeedPlan]:
    """``main`` (a plan without entries) with its newest entries, then its
    archives: made again for the periods a change touched, ``previous`` ones
    (the feed's last plans) for the others."""
    months = members.months()
    limits = PeriodLimits.of(config.archive_max_items, config.max_bytes)
    # With archives, the main document takes no more entries than fit in
    # max_bytes by their estimate: the ones it could not show are archived,
    # so the chain still reaches every article. Without, rendering drops the
    # oldest that do not fit.
    budget = limits.max_weight if config.archives else None
    newest, oldest_shown, boundary = _newest(members, months, config.max_items, budget)
    entries = tuple(newest)
    if not config.archives or len(newest) == len(members):
        return [replace(main, entries=entries)]
    archived = _archived(members, months, oldest_shown, boundary, limits)
    stems = [archive_stem(main.stem, period.name) for period, _ in archived]
    archives = _archives(main, members, archived, stems, previous)
    return [replace(main, entries=entries, prev_archive=stems[-1]), *archives]


def _newest(
    members: Members, months: list[str], limit: int, budget: int | None
) -> tuple[list[Article], str, _Boundary | None]:
    """The main document's entries, newest first: at most ``limit``, and at
    most ``budget`` by `entry_weight` (always one); the oldest month among
    them; and the month partly archived, if one is."""
    newest: list[Article] = []
    oldest_shown = ""
    spent = 0
    for month in reversed(months):
        room = limit - len(newest)
        if room <= 0:
            break
        articles = members.month(month)
        taken = articles[-room:][::-1]
        if budget is not None:
            count, spent = _fitting(taken, budget, spent, first=not newest)
            taken = taken[:count]
        if not taken:
            break
        newest.extend(taken)
        oldest_shown = month
        if len(articles) > len(taken):
            return newest, oldest_shown, (month, len(articles) - len(taken))
    return newest, oldest_shown, None


def _fitting(articles: list[Article], budget: int, spent: int, *, first: bool) -> tuple[int, int]:
    """How many of ``articles`` (newest first) fit in what is left of
    ``budget`` after ``spent``, at least one if ``first``; and the weight
    spent then."""
    count = 0
    for article in articles:
        weight = entry_weight(article)
        if spent + weight > budget and (count or not first):
            break
        spent += weight
        count += 1
    return count, spent


def _archived(
    members: Members,
    months: list[str],
    oldest_shown: str,
    boundary: _Boundary | None,
    limits: PeriodLimits,
) -> list[_Archived]:
    """The periods holding entries the main document does not, oldest first."""
    found: list[_Archived] = []
    for month in months:
        if month < oldest_shown:
            found.extend(
                (period, len(period.articles)) for period in members.periods(month, limits)
            )
            continue
        if month == oldest_shown and boundary is not None:
            first_shown = sort_key(members.month(month)[boundary[1]])
            for period in members.periods(month, limits):
                count = bisect_left(period.articles, first_shown, key=sort_key)
                if count:
                    found.append((period, count))
        break
    return found


def _archives(
    main: FeedPlan,
    members: Members,
    archived: list[_Archived],
    stems: list[str],
    previous: Sequence[FeedPlan],
) -> list[FeedPlan]:
    """The archive documents of the ``archived`` periods, oldest first."""
    old = {plan.stem: plan for plan in previous[1:]}
    template = replace(main, entries=(), total=0, archive_of=main.stem)
    archives = []
    # An edit takes its article out of one month: only that month's periods are asked.
    left = members.left
    for (period, count), stem, links in zip(archived, stems, archive_links(stems), strict=True):
        plan = old.get(stem)
        if (  # reused only for a whole period no article came to or left
            plan is None
            or plan.total != count
            or count < len(period.articles)
            or plan.archive_of != main.stem
            or (period.month in left and members.left_from(period))
        ):
            plan = replace(
                template,
                stem=stem,
                entries=tuple(reversed(period.articles[:count])),
                total=count,
                prev_archive=links[0],
                next_archive=links[1],
            )
        elif (plan.prev_archive, plan.next_archive) != links:
            plan = replace(plan, prev_archive=links[0], next_archive=links[1])
        archives.append(plan)
    return archives
