"""Every feed and its members, told which articles came and went.

Planning re-plans only the feeds a change touched and reuses every other plan
(the same objects, so the writer's digests see them unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator

from feeds.config import Config
from feeds.model import Article
from feeds.plan.filters import selects
from feeds.plan.members import Members, plan_members
from feeds.plan.plans import FeedKind, FeedPlan, feed_stem, provider_keys
from feeds.plan.slugs import assign_slugs

#: A feed's identity before slugs: its kind and what it is about.
FeedKey = tuple[FeedKind, str | None]


class FeedSet:
    """The visible articles' feeds and their last plans."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._members: dict[FeedKey, Members] = {}
        #: Feeds whose members changed since they were last planned.
        self._dirty: set[FeedKey] = set()
        self._plans: dict[FeedKey, list[FeedPlan]] = {}
        self._slugs: dict[FeedKind, dict[str, str]] = {}

    def add(self, article: Article) -> None:
        for feed in self._keys_of(article):
            members = self._members.get(feed)
            if members is None:  # (not setdefault: it would make one per call)
                members = self._members[feed] = Members()
            members.add(article)
            self._dirty.add(feed)

    def remove(self, article: Article) -> None:
        for feed in self._keys_of(article):
            members = self._members.get(feed)
            if members is not None:
                members.remove(article)
                self._dirty.add(feed)

    def plans(self) -> list[FeedPlan]:
        """Every feed's plans: the combined feed, topics, custom feeds,
        categories, providers; each feed's main document, then its archives."""
        order = self._order()
        plans = [plan for feed in order for plan in self._plans_of(feed)]
        self._dirty.clear()
        if len(self._plans) > len(order):  # feeds that are gone
            kept = set(order)
            self._plans = {feed: value for feed, value in self._plans.items() if feed in kept}
        return plans

    def _keys_of(self, article: Article) -> Iterator[FeedKey]:
        yield ("all", None)
        for topic in article.topics:
            yield ("topic", topic)
        for custom in self._config.custom_feeds:
            if selects(custom, article):
                yield ("custom", custom.name)
        if self._config.facets.categories and article.category:
            yield ("category", article.category)
        if self._config.facets.providers:
            for key in provider_keys(article):
                yield ("provider", key)

    def _order(self) -> list[FeedKey]:
        """The feeds that exist: the combined and the custom ones always."""
        order: list[FeedKey] = [("all", None)]
        order += self._faceted("topic")
        order += [("custom", custom.name) for custom in self._config.custom_feeds]
        if self._config.facets.categories:
            order += self._faceted("category")
        if self._config.facets.providers:
            order += self._faceted("provider")
        return order

    def _faceted(self, kind: FeedKind) -> list[FeedKey]:
        """The feeds of ``kind`` with members, in the order of their slugs."""
        labels = [
            label
            for (feed_kind, label), members in self._members.items()
            if feed_kind == kind and label is not None and len(members)
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

    def _plans_of(self, feed: FeedKey) -> list[FeedPlan]:
        cached = self._plans.get(feed)
        if cached is not None and feed not in self._dirty:
            return cached
        members = self._members.get(feed)
        if members is None:
            members = Members()
        plans = plan_members(self._main(feed, len(members)), members, cached or [], self._config)
        self._plans[feed] = plans
        members.left.clear()
        if feed in self._members and not len(members):
            del self._members[feed]
        return plans

    def _main(self, feed: FeedKey, total: int) -> FeedPlan:
        """The feed's main document, without its entries yet."""
        kind, label = feed
        if kind == "custom":
            custom = next(c for c in self._config.custom_feeds if c.name == label)
            stem = feed_stem(kind, custom.name)
            return FeedPlan(
                stem, kind, label, (), total, title=custom.title, description=custom.description
            )
        slug = self._slugs[kind][label] if label is not None else None
        return FeedPlan(feed_stem(kind, slug), kind, label, (), total)
