"""The planner: seeds' articles in, every feed's plan out, kept current seed
by seed.

A build tells it which seed files changed since it last planned; it moves
only those files' articles between feeds and re-plans only the feeds they
touched, so a save in the daemon costs what it changed, not the corpus. A
one-shot build is the same with every file changed.
tests/plan/test_planner.py checks, after random sequences of edits,
deletions, duplicates and embargoes, that its plans equal those of the simple
reference planner (tests/reference/planner.py) on the same input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feeds.config import Config
from feeds.model import Article
from feeds.plan.feedset import FeedSet
from feeds.plan.plans import (
    Duplicate,
    FeedPlan,
    duplicate_of,
    embargoed_count,
    is_visible,
    next_embargo,
    preference,
)


@dataclass(slots=True)
class Plans:
    """Every feed's plans at a moment, and what a build reports with them."""

    plans: list[FeedPlan]
    visible: int
    duplicates: tuple[Duplicate, ...]
    next_embargo: datetime | None
    #: Kept articles dated later than the moment planned (for the daemon's metrics).
    embargoed: int = 0


class Planner:
    """Seeds' articles in, feed plans out; told which seed files changed."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._moment: datetime | None = None
        #: Every seed's article as last planned.
        self._at: dict[str, Article] = {}
        #: The articles naming each id: one nearly always, kept as itself (a
        #: tuple per article was 5% of the daemon's memory). The id's winner
        #: is the preferred of them, and is in its feeds unless it waits.
        #: No map of the winners or of the visible ones: at a million
        #: articles, each map by id costs 40 MB.
        self._named: dict[str, Article | tuple[Article, ...]] = {}
        #: Winners not visible yet: embargoed (or unpublished, with published_only).
        self._waiting: dict[str, Article] = {}
        #: Ids named by more than one seed file.
        self._duplicated: set[str] = set()
        self._feeds = FeedSet(config)

    def update(self, changes: Iterable[tuple[str, Article | None]]) -> None:
        """Seed files (by name) whose article changed (None: gone or invalid
        with no last good)."""
        before: dict[str, Article | None] = {}  # each id touched, and its winner before
        for path, article in changes:
            old = self._at.pop(path, None)
            if old is not None:
                before.setdefault(old.id, self._winner(old.id))
                self._set_named(old.id, tuple(a for a in self._naming(old.id) if a is not old))
            if article is not None:
                before.setdefault(article.id, self._winner(article.id))
                self._at[path] = article
                self._set_named(article.id, (*self._naming(article.id), article))
        for article_id, previous in before.items():
            if len(self._naming(article_id)) > 1:
                self._duplicated.add(article_id)
            else:
                self._duplicated.discard(article_id)
            self._elect(article_id, previous)

    def plans_at(self, moment: datetime) -> Plans:
        """The plans of every feed at ``moment``, re-planning only what changed."""
        waited = len(self._waiting)
        if self._moment is not None and moment < self._moment:
            # The clock went back: an article shown may be embargoed again.
            for winner in [self._winner(article_id) for article_id in self._named]:
                if winner is not None:
                    self._show(winner, moment)
        else:
            for winner in list(self._waiting.values()):
                self._show(winner, moment)
        self._moment = moment
        if len(self._waiting) * 4 < waited:
            # A dict keeps the room of its largest size, and before the first
            # plan every article waits: the room of the visible ones goes.
            self._waiting = dict(self._waiting)
        waiting, published_only = self._waiting.values(), self.config.published_only
        embargo = next_embargo(waiting, moment, published_only)
        embargoed = embargoed_count(waiting, moment, published_only)
        visible = len(self._named) - len(self._waiting)
        return Plans(self._feeds.plans(), visible, self._duplicates(), embargo, embargoed)

    def _naming(self, article_id: str) -> tuple[Article, ...]:
        """The articles naming ``article_id``, as last planned."""
        named = self._named.get(article_id, ())
        return named if isinstance(named, tuple) else (named,)

    def _set_named(self, article_id: str, articles: tuple[Article, ...]) -> None:
        if not articles:
            self._named.pop(article_id, None)
        else:
            self._named[article_id] = articles[0] if len(articles) == 1 else articles

    def _winner(self, article_id: str) -> Article | None:
        """The preferred of the articles naming ``article_id``."""
        named = self._named.get(article_id)
        if isinstance(named, tuple):
            return max(named, key=preference)
        return named

    def _elect(self, article_id: str, previous: Article | None) -> None:
        """Shows the id's winner now in place of ``previous``, its winner before."""
        winner = self._winner(article_id)
        if winner is previous:
            return
        if previous is not None and self._waiting.pop(article_id, None) is None:
            self._feeds.remove(previous)
        if winner is not None:
            # Waiting until shown: the first plan decides, or the moment planned.
            self._waiting[article_id] = winner
            if self._moment is not None:
                self._show(winner, self._moment)

    def _show(self, article: Article, moment: datetime) -> None:
        """Adds a winner to its feeds if it is visible at ``moment``, or
        removes it if it no longer is."""
        shown = article.id not in self._waiting
        if is_visible(article, moment, self.config.published_only):
            if not shown:
                del self._waiting[article.id]
                self._feeds.add(article)
        elif shown:
            self._waiting[article.id] = article
            self._feeds.remove(article)

    def _duplicates(self) -> tuple[Duplicate, ...]:
        found = [duplicate_of(self._naming(article_id)) for article_id in self._duplicated]
        return tuple(sorted(found, key=lambda duplicate: duplicate.kept))
