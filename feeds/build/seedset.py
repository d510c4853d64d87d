"""The seed files as last read: each one's version, and its article or error.

Kept by file name as discovered (also its article's ``source``): strings, as
a Path per file would cost far more memory over a large seeds folder. The
set also remembers which files changed since they were last taken for
planning, and which are rejected or warned about, as both are reported on
every publish.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import NamedTuple

from feeds.build.bodies import BodyStore
from feeds.build.records import (
    CachedSeed,
    SeedRecord,
    Version,
    article_record,
    fingerprint_of,
    rejection_record,
    version_of,
)
from feeds.errors import ArticleError, ArticleWarning, strict_rejection
from feeds.model import Article
from feeds.seeds.discovery import path_order


class _Rare(NamedTuple):
    """What few seed files have besides a version and an article."""

    error: ArticleError | None
    #: The article is in the parse cache's articles file, not yet loaded.
    awaiting: bool
    #: Why each field this version's article was published without was dropped.
    warnings: tuple[str, ...]
    #: This version's article when strict mode rejects it for its warnings:
    #: the parse cache keeps it as read, so another strictness reads nothing again.
    held: Article | None
    #: The last read failed before any byte was read (the file went away and
    #: came back, was swapped for a FIFO, an OS error): that is no verdict on
    #: what the file holds, so every scan reads it again and the parse cache
    #: never keeps it. ``version`` is then the file as listed, so a failure
    #: that repeats on an unchanged file is reported once.
    retry: bool

    def plain(self) -> bool:
        return (
            self.error is None
            and not (self.awaiting or self.warnings or self.retry)
            and (self.held is None)
        )


class _Seed:
    """One seed file's state: its version and its article (the last good
    version, kept while the file is invalid), and `_Rare`'s fields. A
    daemon keeps one per file: the rare ones apart, most are two fields."""

    __slots__ = ("_rare", "article", "version")

    def __init__(
        self,
        version: Version | None,
        article: Article | None,
        error: ArticleError | None,
        awaiting: bool = False,
        warnings: tuple[str, ...] = (),
        held: Article | None = None,
        retry: bool = False,
    ) -> None:
        self.version = version
        self.article = article
        self._rare: _Rare | None = None
        self._set(_Rare(error, awaiting, warnings, held, retry))

    def _set(self, rare: _Rare) -> None:
        self._rare = None if rare.plain() else rare

    @property
    def error(self) -> ArticleError | None:
        return self._rare.error if self._rare else None

    @property
    def awaiting(self) -> bool:
        return self._rare.awaiting if self._rare else False

    @awaiting.setter
    def awaiting(self, value: bool) -> None:
        self._set((self._rare or _PLAIN)._replace(awaiting=value))

    @property
    def warnings(self) -> tuple[str, ...]:
        return self._rare.warnings if self._rare else ()

    @property
    def held(self) -> Article | None:
        return self._rare.held if self._rare else None

    @held.setter
    def held(self, value: Article | None) -> None:
        self._set((self._rare or _PLAIN)._replace(held=value))

    @property
    def retry(self) -> bool:
        return self._rare.retry if self._rare else False


_PLAIN = _Rare(None, False, (), None, False)


def _all_kept(seeds: dict[str, _Seed]) -> Iterator[Article]:
    """Every article a seed set keeps (a rejected file's last good one, a held one)."""
    for seed in seeds.values():
        yield from (article for article in (seed.article, seed.held) if article is not None)


def listed_version(path: str) -> Version | None:
    """The version of ``path`` as it is now, without reading it; None when gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return version_of((info.st_mtime_ns, info.st_size, info.st_ino))


class SeedSet:
    """Every seed file known, by name; decides each one's state as it is
    recorded (strictness is fixed for the set's life)."""

    def __init__(self, strict: bool, bodies: BodyStore | None = None) -> None:
        self._strict = strict
        #: Where the bodies of the articles kept go (by default: memory).
        self._bodies = bodies if bodies is not None else BodyStore(None)
        self._seeds: dict[str, _Seed] = {}
        #: Seed files whose current version is rejected (reported every publish).
        self._failing: set[str] = set()
        #: Seed files published without some of their fields (reported every publish).
        self._warned: set[str] = set()
        #: Seed files changed since the planner last took the changes.
        self._changed: set[str] = set()

    # --- recording -----------------------------------------------------

    def record(
        self,
        path: str,
        version: Version | None,
        article: Article | None,
        reason: str | None,
        warnings: tuple[str, ...] = (),
        *,
        retry: bool = False,
    ) -> None:
        """Records what reading one version of ``path`` found."""
        self._changed.add(path)
        article = self._bodies.kept(article)
        if reason is None and not (warnings and self._strict):
            self._failing.discard(path)
            if warnings:
                self._warned.add(path)
            else:
                self._warned.discard(path)
            self._replace(path, _Seed(version, article, None, warnings=warnings))
            return
        if reason is None:
            error, held = strict_rejection(path, warnings), article
        else:
            error, held = ArticleError(path, reason), None
        # An invalid version keeps the last good article published (the daemon).
        self._failing.add(path)
        self._warned.discard(path)
        previous = self._seeds.get(path)
        kept = previous.article if previous else None
        self._replace(path, _Seed(version, kept, error, warnings=warnings, held=held, retry=retry))

    def record_unread(self, path: str, listed: Version | None, reason: str | None) -> bool:
        """Records a read of ``path`` that failed before any byte was read
        (no verdict: it is read again next time); returns whether this is
        news, not the failure already recorded for the file as listed."""
        previous = self._seeds.get(path)
        repeated = (
            previous is not None
            and previous.retry
            and previous.version == listed
            and previous.error is not None
            and previous.error.reason == reason
        )
        self.record(path, listed, None, reason, retry=True)
        return not repeated

    def restore(self, path: str, version: Version, entry: CachedSeed) -> None:
        """Takes the parse cache's record of an unchanged file; its article,
        if any, stays in the cache until `fill`."""
        error = ArticleError(path, entry.reason) if entry.reason else None
        if error is None and entry.warnings and self._strict:
            error = strict_rejection(path, entry.warnings)  # its article is then held
        self._seeds[path] = _Seed(version, None, error, entry.has_article, entry.warnings)
        if error is not None:
            self._failing.add(path)
        elif entry.warnings:
            self._warned.add(path)

    def awaiting(self) -> list[str]:
        """The files restored whose articles are not loaded yet."""
        return [path for path, seed in self._seeds.items() if seed.awaiting]

    def fill(self, path: str, article: Article | None) -> None:
        """Gives a restored file its article from the cache; None: there is
        none to give, and the file must be read again."""
        seed = self._seeds[path]
        seed.awaiting = False
        if article is None:
            return
        article = self._bodies.kept(article)
        if seed.error is not None:  # only strict mode rejects a file with an article
            seed.held = article
        else:
            seed.article = article
            self._changed.add(path)

    def forget(self, path: str) -> bool:
        """Forgets a file that is gone; returns whether it was known."""
        if self._replace(path, None) is None:
            return False
        self._changed.add(path)
        self._failing.discard(path)
        self._warned.discard(path)
        return True

    def keep_only(self, present: set[str]) -> list[str]:
        """Forgets the files not ``present``; returns their names."""
        gone = [path for path in self._seeds if path not in present]
        for path in gone:
            self.forget(path)
        return gone

    def _replace(self, path: str, seed: _Seed | None) -> _Seed | None:
        """Makes ``seed`` the state of ``path`` (None: forgets it); returns the state replaced."""
        previous = self._seeds.pop(path, None) if seed is None else self._seeds.get(path)
        if seed is not None:
            self._seeds[path] = seed
        if previous is not None:
            now = (seed.article, seed.held) if seed else ()
            kept = partial(_all_kept, self._seeds)
            self._bodies.replaced((previous.article, previous.held), now, kept)
        return previous

    # --- what is known -------------------------------------------------

    def __contains__(self, path: str) -> bool:
        return path in self._seeds

    def needs_reading(self, path: str, version: Version | None) -> bool:
        seed = self._seeds.get(path)
        return seed is None or seed.retry or seed.version != version

    def version_of(self, path: str) -> Version | None:
        seed = self._seeds.get(path)
        return seed.version if seed is not None else None

    def problem(self, path: str | Path) -> tuple[ArticleError | None, bool]:
        """The error of ``path``'s current version, and whether a last good
        version of its article is still being published."""
        seed = self._seeds.get(str(path))
        if seed is None:
            return None, False
        return seed.error, seed.article is not None

    def warnings_of(self, path: str | Path) -> tuple[ArticleWarning, ...]:
        """The warnings of ``path``'s current version, published without the fields named."""
        seed = self._seeds.get(str(path))
        if seed is None or seed.error is not None:
            return ()
        return tuple(ArticleWarning(str(path), reason) for reason in seed.warnings)

    @property
    def rejected(self) -> tuple[ArticleError, ...]:
        # Only the few rejected paths, kept aside: this runs on every daemon rebuild.
        failing = sorted(self._failing, key=path_order)
        errors = (seed.error for path in failing if (seed := self._seeds.get(path)))
        return tuple(error for error in errors if error is not None)

    @property
    def warnings(self) -> tuple[ArticleWarning, ...]:
        return tuple(
            warning
            for path in sorted(self._warned, key=path_order)
            for warning in self.warnings_of(path)
        )

    def __len__(self) -> int:
        return len(self._seeds)

    def articles(self) -> Iterator[Article]:
        """The article published of each file (the last good one of an invalid file)."""
        return (seed.article for seed in self._seeds.values() if seed.article is not None)

    def take_changes(self, everything: bool = False) -> list[tuple[str, Article | None]]:
        """Each file changed since the last call (``everything``: each file
        known), with its article now; None when it has none."""
        changed, self._changed = set(self._seeds) if everything else self._changed, set()
        seeds = self._seeds
        return [(path, seed.article if (seed := seeds.get(path)) else None) for path in changed]

    def saved_records(self) -> Iterator[tuple[str, SeedRecord]]:
        """The record the parse cache keeps of each file with a verdict."""
        for path, seed in self._seeds.items():
            if seed.version is None or seed.retry:
                continue
            if seed.held is not None:  # rejected by strict mode alone: kept as it reads
                yield path, article_record(fingerprint_of(seed.version), seed.warnings)
            elif seed.error is not None:
                yield path, rejection_record(fingerprint_of(seed.version), seed.error.reason)
            elif seed.article is not None:
                yield path, article_record(fingerprint_of(seed.version), seed.warnings)

    def saved_articles(self) -> Iterator[tuple[str, Article]]:
        """The article the parse cache keeps of each file: as read, even when
        strict mode rejects it."""
        for path, seed in self._seeds.items():
            article = seed.held if seed.error is not None else seed.article
            if seed.version is not None and article is not None:
                yield path, article
