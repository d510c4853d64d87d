"""What one Builder restores from the parse cache, and saves back to it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

from feeds.build.packing import pack, unpack
from feeds.build.parsecache import CacheState, ParseCache, key_prefix, listings_of, seed_key
from feeds.build.records import LastPublish, Packed, SeedRecord, cached_seed, version_of
from feeds.build.report import BuildReport
from feeds.build.seedset import SeedSet, listed_version
from feeds.build.uptodate import config_digest, last_publish
from feeds.config import Config
from feeds.model import Article

#: Articles unpacked between two looks at whether to stop (a stop during the
#: daemon's load waits for no more than these).
STOP_CHECK = 1000

#: The parse cache's record of the feed documents last written: each one's
#: digest by stem, and each output file's (size, mtime_ns) by name.
LastWritten = tuple[dict[str, str], Mapping[str, tuple[int, int]]]


class CacheSession:
    """The parse cache as loaded when a Builder starts: restores what it
    knows of unchanged files (their articles only when a build needs them),
    tells a build with nothing to do, and saves what a build read and wrote."""

    def __init__(self, cache: ParseCache | None, seeds_folder: Path) -> None:
        self._cache = cache
        self._prefix = key_prefix(seeds_folder)
        self._state: CacheState | None = cache.load() if cache is not None else None
        #: False once a scan found anything the parse cache did not already know.
        self._as_cached = self._state is not None
        #: Whether the seeds are as the cache on disk records them (nothing
        #: read, changed or gone since it was loaded or last saved), and what
        #: it records of the output: a save that would write the same is skipped.
        self._in_sync = self._as_cached
        #: A digest of what the cache on disk records: the records themselves
        #: (a name and size per output file) are a daemon's to let go.
        self._on_disk = _written_of(self._state) if self._state is not None else None
        #: Some restored file's article is in the articles file, not yet loaded.
        self._has_packed = False

    def take_written(self) -> LastWritten:
        """What the last build wrote, for the publisher to adopt (once)."""
        if self._state is None:
            return {}, {}
        plans, self._state.plans = self._state.plans, {}
        return plans, self._state.outputs

    def restore(self, paths: Sequence[str], seeds: SeedSet) -> list[str]:
        """Takes what the parse cache knows of files of ``paths`` unchanged
        since, into ``seeds``; only once. Returns the names restored."""
        if self._state is None or not self._state.records:
            return []
        known, self._state.records = self._state.records, {}
        restored = []
        for path in paths:
            if path in seeds:
                continue
            entry = cached_seed(known.pop(self._key(path), None))
            version = listed_version(path)
            if entry is None or version_of(entry.fingerprint) != version:
                continue
            seeds.restore(path, version, entry)
            self._has_packed = self._has_packed or entry.has_article
            restored.append(path)
        if known:  # files the cache knew that are gone
            self.diverged()
        return restored

    def diverged(self) -> None:
        """Notes that a scan read files: the last build's report no longer holds."""
        self._as_cached = False
        self._in_sync = False

    def changed(self) -> None:
        """Notes that the seeds changed since (a watcher's update): a save writes."""
        self._in_sync = False

    def fill(
        self, seeds: SeedSet, read: Callable[[str], object], stopping: Callable[[], bool]
    ) -> bool:
        """Loads the cached articles of restored files, once, when a build
        needs them; ``read``s each file again whose article is missing or
        damaged. False when ``stopping`` cut it short: the next call takes
        the articles still awaited."""
        if not self._has_packed:
            return True
        awaiting = {self._key(path): path for path in seeds.awaiting()}
        for count, (key, packed) in enumerate(self._packed()):
            if count % STOP_CHECK == 0 and stopping():
                return False
            path = awaiting.pop(key, None)
            if path is None:
                continue
            article = _unpacked(packed, path)
            seeds.fill(path, article)
            if article is None:
                self.changed()
                read(path)
        self._has_packed = False
        for path in awaiting.values():  # missing from the cache: read again
            self.changed()
            seeds.fill(path, None)
            read(path)
        return True

    def _packed(self) -> Iterator[tuple[str, Packed]]:
        return self._cache.load_articles() if self._cache is not None else iter(())

    def up_to_date(
        self, config: Config, now: datetime | None, seeds: SeedSet
    ) -> BuildReport | None:
        """A report of a build with nothing to do, when the parse cache proves
        that nothing changed since the last build; else None."""
        state = self._state
        if state is None or not self._as_cached:
            return None
        counts = last_publish(state, config_digest(config), config.output, now)
        if counts is None:
            return None
        if listings_of(partial(self._records, seeds)) != (state.listings, state.problems):
            return None  # damaged: the publish that follows saves them right
        return BuildReport(
            articles=counts[0],
            feeds=counts[1],
            unchanged=len(state.outputs),
            rejected=seeds.rejected,
            warnings=seeds.warnings,
            owned=partial(sorted, state.outputs),
        )

    def save(
        self, report: BuildReport, seeds: SeedSet, written: Mapping[str, str], config: Config
    ) -> None:
        """Records what was read and written, for the next build to skip."""
        if self._cache is None:
            return
        state = CacheState()
        state.plans = dict(written)
        digest = config_digest(config)
        last = LastPublish(digest, report.next_embargo, report.articles, report.feeds)
        state.publish_key = last.key()
        for name in report.files:
            try:
                info = os.stat(config.output / name)
            except OSError:
                continue
            state.outputs[name] = (info.st_size, info.st_mtime_ns)
        state.listings, state.problems = listings_of(partial(self._records, seeds))
        written_now = _written_of(state)
        self.let_go()
        if self._in_sync and written_now == self._on_disk:
            # A restart over its own output: the cache already says all this,
            # and rewriting every article would only delay readiness.
            return
        # Both made one at a time as the cache writes them, never all at once.
        self._cache.save(state, self._records(seeds), self._articles(seeds))
        self._in_sync, self._on_disk = True, written_now

    def let_go(self) -> None:
        """Lets go of the state as loaded, once taken up (a daemon's load, a
        save): it is a name and a size per output file, and no proof stands
        on it after. The digest of what the cache on disk says stays."""
        self._state = None

    def _records(self, seeds: SeedSet) -> Iterator[tuple[str, SeedRecord]]:
        for path, record in seeds.saved_records():
            yield self._key(path), record

    def _articles(self, seeds: SeedSet) -> Iterator[tuple[str, Packed]]:
        for path, article in seeds.saved_articles():
            yield self._key(path), pack(article)

    def _key(self, path: str) -> str:
        return seed_key(self._prefix, path)


def _written_of(state: CacheState) -> bytes:
    """A digest of what a cache state records of the last publish, its
    outputs and plans, and of the seeds for a build with nothing to do:
    equal records, in any order, give equal digests."""
    parts = (state.outputs, state.plans, state.listings, state.problems)
    # Keys are unique, so sorting never compares the values. repr, not
    # marshal: marshal's bytes depend on which equal values are one object.
    text = repr((state.publish_key, *(sorted(part.items()) for part in parts)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _unpacked(packed: Packed, path: str) -> Article | None:
    """The article cached for ``path``; None when damaged (the file is read again)."""
    try:
        # The source as named now (the cache keeps names relative to the
        # seeds folder, which may be spelled otherwise this time).
        return unpack(packed, source=path)
    except (TypeError, ValueError):
        return None
