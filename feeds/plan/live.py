"""The feeds' membership, kept current seed by seed: what a save costs the daemon.

`index.plan_feeds` plans every feed from all articles at once; that is what a
one-shot build needs, and it is O(N) work. The daemon instead keeps each
feed's members sorted and, after a save, moves only the articles of the files
that changed: it re-plans only the feeds they touched and reuses every other
plan (the same objects, so the writer's digests see them unchanged).
tests/plan/test_planner.py checks after random sequences of edits, deletions,
duplicates and embargoes that the plans equal `plan_feeds` on the same input.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from feeds.config import Config
from feeds.model import Article
from feeds.plan.filters import selects
from feeds.plan.plans import (
    ARCHIVE_DIR,
    CATEGORIES_DIR,
    COMBINED_STEM,
    CUSTOM_DIR,
    PROVIDERS_DIR,
    TOPICS_DIR,
    Duplicate,
    FeedKind,
    FeedPlan,
    archive_month,
    duplicate_of,
    is_visible,
    provider_keys,
)
from feeds.plan.slugs import assign_slugs

#: A feed's identity before slugs: its kind and what it is about.
GroupKey = tuple[FeedKind, str | None]
_SortKey = tuple[datetime, str]

_FOLDERS: dict[FeedKind, str] = {
    "topic": TOPICS_DIR,
    "category": CATEGORIES_DIR,
    "provider": PROVIDERS_DIR,
}


def sort_key(article: Article) -> _SortKey:
    return (article.published, article.id)


class _Members:
    """One feed's articles by UTC month, each month sorted oldest first by
    (published, id): months are what archives are made of, and a save
    changes one or two of them."""

    __slots__ = ("_by_key", "_months", "_unsorted", "dirty_months")

    def __init__(self) -> None:
        self._by_key: dict[_SortKey, Article] = {}
        self._months: dict[str, list[_SortKey]] = {}
        self._unsorted: set[str] = set()
        #: Months changed since the feed was last planned.
        self.dirty_months: set[str] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, article: Article, key: _SortKey) -> None:
        """``key`` is `sort_key(article)`, made once for all of the article's feeds."""
        self._by_key[key] = article
        month = archive_month(article.published)
        keys = self._months.setdefault(month, [])
        if keys and key < keys[-1]:
            self._unsorted.add(month)  # sorted when first read: bulk loads sort once
        keys.append(key)
        self.dirty_months.add(month)

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

    def month(self, month: str) -> list[_SortKey]:
        keys = self._months[month]
        if month in self._unsorted:
            keys.sort()
            self._unsorted.discard(month)
        return keys

    def articles(self, keys: Iterable[_SortKey]) -> list[Article]:
        by_key = self._by_key
        return [by_key[key] for key in keys]


@dataclass(slots=True)
class Published:
    """What a publish needs from the index."""

    plans: list[FeedPlan]
    visible: int
    duplicates: tuple[Duplicate, ...]
    next_embargo: datetime | None


class LiveIndex:
    """Seeds' articles in, feed plans out; told which seed files changed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._moment: datetime | None = None
        #: Every seed's article as last indexed, and the seeds naming each id.
        self._at: dict[str, Article] = {}
        #: (A tuple: one path nearly always, and a set costs four times as much.)
        self._paths_by_id: dict[str, tuple[str, ...]] = {}
        #: The article published for each id (the newest of its duplicates).
        self._winners: dict[str, Article] = {}
        self._visible: dict[str, Article] = {}
        #: Winners not visible yet: embargoed (or unpublished, with published_only).
        self._waiting: dict[str, Article] = {}
        #: Ids named by more than one seed file.
        self._duplicated: set[str] = set()
        self._members: dict[GroupKey, _Members] = {}
        self._dirty: set[GroupKey] = set()
        self._plans: dict[GroupKey, list[FeedPlan]] = {}
        self._slugs: dict[FeedKind, dict[str, str]] = {}

    def update(self, changes: Iterable[tuple[str, Article | None]]) -> None:
        """Seed files (by name) whose article changed (None: gone or invalid
        with no last good)."""
        touched: set[str] = set()
        for path, article in changes:
            old = self._at.pop(path, None)
            if old is not None:
                others = self._paths_by_id.get(old.id, ())
                self._paths_by_id[old.id] = tuple(known for known in others if known != path)
                touched.add(old.id)
            if article is not None:
                self._at[path] = article
                self._paths_by_id[article.id] = (*self._paths_by_id.get(article.id, ()), path)
                touched.add(article.id)
        for article_id in touched:
            if len(self._paths_by_id.get(article_id, ())) > 1:
                self._duplicated.add(article_id)
            else:
                self._duplicated.discard(article_id)
            self._elect(article_id)

    def publish(self, moment: datetime) -> Published:
        """The plans of every feed at ``moment``, re-planning only what changed."""
        if self._moment is not None and moment < self._moment:
            # The clock went back: an article shown may be embargoed again.
            for winner in list(self._winners.values()):
                self._show(winner, moment)
        else:
            for winner in list(self._waiting.values()):
                self._show(winner, moment)
        self._moment = moment
        order = self._feed_order()
        plans = [plan for key in order for plan in self._group_plans(key)]
        self._dirty.clear()
        if len(self._plans) > len(order):  # feeds that are gone
            kept = set(order)
            self._plans = {key: value for key, value in self._plans.items() if key in kept}
        return Published(plans, len(self._visible), self._duplicates(), self._next_embargo())

    # --- which article each id publishes ---------------------------------

    def _elect(self, article_id: str) -> None:
        paths = self._paths_by_id.get(article_id)
        candidates = [self._at[path] for path in paths] if paths else []
        if not candidates:
            self._paths_by_id.pop(article_id, None)
            winner = None
        else:
            winner = max(candidates, key=lambda article: (article.updated, article.source))
        previous = self._winners.get(article_id)
        if winner is previous:
            return
        if previous is not None:
            del self._winners[article_id]
            self._waiting.pop(article_id, None)
            self._hide(previous)
        if winner is not None:
            self._winners[article_id] = winner
            if self._moment is None:  # not published yet: the first publish decides
                self._waiting[article_id] = winner
            else:
                self._show(winner, self._moment)

    def _show(self, article: Article, moment: datetime) -> None:
        """Adds the article to its feeds if it is visible at ``moment``, or
        removes it if it no longer is."""
        shown = self._visible.get(article.id) is article
        if is_visible(article, moment, self.config.published_only):
            self._waiting.pop(article.id, None)
            if not shown:
                self._visible[article.id] = article
                key = sort_key(article)
                for group in self._keys_of(article):
                    members = self._members.get(group)
                    if members is None:  # (not setdefault: it would make one per call)
                        members = self._members[group] = _Members()
                    members.add(article, key)
                    self._dirty.add(group)
        else:
            self._waiting[article.id] = article
            if shown:
                self._hide(article)

    def _hide(self, article: Article) -> None:
        if self._visible.get(article.id) is not article:
            return
        del self._visible[article.id]
        for key in self._keys_of(article):
            members = self._members.get(key)
            if members is not None:
                members.remove(article)
                self._dirty.add(key)

    def _keys_of(self, article: Article) -> Iterator[GroupKey]:
        yield ("all", None)
        for topic in article.topics:
            yield ("topic", topic)
        for custom in self.config.custom_feeds:
            if selects(custom, article):
                yield ("custom", custom.name)
        if self.config.facets.categories and article.category:
            yield ("category", article.category)
        if self.config.facets.providers:
            for key in provider_keys(article):
                yield ("provider", key)

    # --- plans -----------------------------------------------------------

    def _feed_order(self) -> list[GroupKey]:
        """Feeds in `plan_feeds`' order: combined, topics, custom, categories, providers."""
        order: list[GroupKey] = [("all", None)]
        order += self._faceted("topic")
        order += [("custom", custom.name) for custom in self.config.custom_feeds]
        if self.config.facets.categories:
            order += self._faceted("category")
        if self.config.facets.providers:
            order += self._faceted("provider")
        return order

    def _faceted(self, kind: FeedKind) -> list[GroupKey]:
        labels = [
            label
            for (group_kind, label), members in self._members.items()
            if group_kind == kind and label is not None and len(members)
        ]
        slugs = self._slugs.get(kind)
        if slugs is None or slugs.keys() != set(labels):
            new = assign_slugs(labels)
            if slugs is not None:  # a feed whose file name moved must be planned again
                self._dirty.update(
                    (kind, label) for label in labels if slugs.get(label) != new[label]
                )
            self._slugs[kind] = slugs = new
        return [(kind, label) for label in sorted(labels, key=lambda label: slugs[label])]

    def _group_plans(self, key: GroupKey) -> list[FeedPlan]:
        cached = self._plans.get(key)
        if cached is not None and key not in self._dirty:
            return cached
        kind, label = key
        title = description = None
        if kind == "all":
            stem = COMBINED_STEM
        elif kind == "custom":
            custom = next(c for c in self.config.custom_feeds if c.name == label)
            stem, title, description = f"{CUSTOM_DIR}/{label}", custom.title, custom.description
        else:
            assert label is not None
            stem = f"{_FOLDERS[kind]}/{self._slugs[kind][label]}"
        members = self._members.get(key)
        if members is None:
            members = _Members()
        main = FeedPlan(stem, kind, label, (), len(members), title=title, description=description)
        plans = self._planned(main, members, cached or [])
        self._plans[key] = plans
        members.dirty_months.clear()
        if key in self._members and not len(members):
            del self._members[key]
        return plans

    def _planned(
        self, main: FeedPlan, members: _Members, previous: list[FeedPlan]
    ) -> list[FeedPlan]:
        """`index._group_plans` for a live feed: the newest entries from the
        newest months, and archives of the months a change touched; the other
        months' archive plans are the previous ones."""
        limit = self.config.max_items
        months = members.months()
        newest: list[_SortKey] = []
        oldest_shown = ""  # the oldest month with entries in the main document
        boundary: tuple[str, int] | None = None  # a month partly archived, and how much
        for month in reversed(months):
            room = limit - len(newest)
            if room <= 0:
                break
            keys = members.month(month)
            newest.extend(reversed(keys[-room:]))
            oldest_shown = month
            if len(keys) > room:
                boundary = (month, len(keys) - room)
                break
        entries = tuple(members.articles(newest))
        if not self.config.archives or len(members) <= limit:
            return [replace(main, entries=entries)]
        archived = [month for month in months if month < oldest_shown]
        if boundary is not None:
            archived.append(boundary[0])
        stems = [f"{ARCHIVE_DIR}/{main.stem}/{month}" for month in archived]
        old = {plan.stem: plan for plan in previous[1:]}
        template = replace(main, entries=(), total=0, archive_of=main.stem)
        archives = []
        for index, month in enumerate(archived):
            prev_stem = stems[index - 1] if index > 0 else None
            next_stem = stems[index + 1] if index + 1 < len(stems) else None
            keys = members.month(month)
            count = boundary[1] if boundary is not None and month == boundary[0] else len(keys)
            plan = old.get(stems[index])
            if (
                plan is None
                or month in members.dirty_months
                or plan.total != count
                or plan.archive_of != main.stem
                or (boundary is not None and month == boundary[0])
            ):
                plan = replace(
                    template,
                    stem=stems[index],
                    entries=tuple(members.articles(reversed(keys[:count]))),
                    total=count,
                    prev_archive=prev_stem,
                    next_archive=next_stem,
                )
            elif plan.prev_archive != prev_stem or plan.next_archive != next_stem:
                plan = replace(plan, prev_archive=prev_stem, next_archive=next_stem)
            archives.append(plan)
        return [replace(main, entries=entries, prev_archive=stems[-1]), *archives]

    # --- the rest of a report ----------------------------------------------

    def _duplicates(self) -> tuple[Duplicate, ...]:
        found = [
            duplicate_of([self._at[path] for path in self._paths_by_id[article_id]])
            for article_id in self._duplicated
        ]
        return tuple(sorted(found, key=lambda duplicate: duplicate.kept))

    def _next_embargo(self) -> datetime | None:
        moment = self._moment
        return min(
            (
                article.published
                for article in self._waiting.values()
                if moment is not None
                and article.published > moment
                and (article.is_published or not self.config.published_only)
            ),
            default=None,
        )
