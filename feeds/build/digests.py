"""A digest of everything a feed document is made from: a document whose
digest is the one last written is not rendered again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import replace

from feeds.build.records import Version
from feeds.build.uptodate import config_digest
from feeds.config import Config
from feeds.plan.plans import FeedPlan


class PlanDigests:
    """Each plan's digest, kept with the plan it was made from."""

    def __init__(self, version_of: Callable[[str], Version | None]) -> None:
        #: The version of a seed file as last read, by name.
        self._version_of = version_of
        self._config_digest = ""
        #: The last plan and its digest, by stem: an unchanged plan (the same
        #: articles, compared by identity first) needs no new digest.
        self._known: dict[str, tuple[FeedPlan, str]] = {}
        #: The plans last found written as they are, by stem. A save re-plans a
        #: few feeds of many (82,000 plans at a million articles): each other
        #: plan is the same object again, and one look here settles it.
        self._settled: dict[str, FeedPlan] = {}

    def configure(self, config: Config) -> None:
        """Takes the config the next documents are rendered with."""
        digest = config_digest(config)
        if digest != self._config_digest:
            self.clear()
        self._config_digest = digest

    def of(self, plan: FeedPlan) -> str:
        known = self._known.get(plan.stem)
        # An unchanged plan is the very same object (the planner keeps it):
        # identity first, since comparing a plan field by field is not free.
        if known is not None and known[0] is plan:
            return known[1]
        digest = known[1] if known is not None and known[0] == plan else self._digest(plan)
        self._known[plan.stem] = (plan, digest)
        return digest

    def unwritten(
        self, plans: Iterable[FeedPlan], written: MutableMapping[str, str]
    ) -> tuple[list[tuple[FeedPlan, str]], int, int]:
        """The plans whose digest is not the one ``written`` holds, with their
        digests, each forgotten from ``written`` (a failed write must not look
        written); and how many main documents and archives the others are."""
        unwritten: list[tuple[FeedPlan, str]] = []
        settled, digest_of = self._settled, self.of
        mains = archives = 0
        for plan in plans:
            stem = plan.stem
            if settled.get(stem) is not plan:
                digest = digest_of(plan)
                if written.get(stem) != digest:
                    written.pop(stem, None)
                    settled.pop(stem, None)
                    unwritten.append((plan, digest))
                    continue
                settled[stem] = plan
            if plan.archive_of is None:
                mains += 1
            else:
                archives += 1
        return unwritten, mains, archives

    def unsettle(self) -> None:
        """Forgets which plans were found written (what was written was forgotten)."""
        self._settled.clear()

    def keep_only(self, stems: set[str]) -> None:
        for stem in set(self._known) - stems:
            del self._known[stem]
        for stem in set(self._settled) - stems:
            del self._settled[stem]

    def clear(self) -> None:
        self._known.clear()
        self._settled.clear()

    def _digest(self, plan: FeedPlan) -> str:
        """The plan's own fields, the config, and each entry's file version
        (so an edit shows, a rename too)."""
        version_of = self._version_of
        hasher = hashlib.sha256(self._config_digest.encode())
        meta = replace(plan, entries=())
        hasher.update(repr(meta).encode("utf-8", "surrogatepass"))
        for article in plan.entries:
            version = version_of(article.source)
            hasher.update(f"\0{article.source}\0{version}".encode("utf-8", "surrogatepass"))
        return hasher.hexdigest()[:32]
