"""The build: seeds folder in, output folder current. The core the CLI and daemon call.

`Builder` keeps what it has read, so the daemon re-reads only the files that
changed and re-renders only the feeds whose entries changed. A one-shot
`rebuild` is a fresh Builder that scans everything once (`feeds.build.oneshot`
first asks the parse cache whether there is anything to do at all).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from feeds.build.bodies import BodyStore
from feeds.build.cachesession import CacheSession
from feeds.build.parsecache import ParseCache
from feeds.build.publisher import Publisher, files_of
from feeds.build.report import BuildReport
from feeds.build.scanner import Progress, Scanner
from feeds.build.seedset import SeedSet
from feeds.build.uptodate import parse_cache
from feeds.config import Config
from feeds.errors import ArticleError, ArticleWarning
from feeds.model import Article
from feeds.plan.planner import Planner, Plans
from feeds.plan.plans import Duplicate, merge_duplicates

#: Asked between steps of a long load: whether to give it up (the daemon stops).
Stopping = Callable[[], bool]


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Resumed:
    """What `Builder.resume` found: the seed files whose state it took
    (restored or read), the report of the output as it is, and whether that
    output is current (a publish would render nothing)."""

    changed: list[str]
    report: BuildReport
    current: bool


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything the seeds folder holds, validated and de-duplicated."""

    articles: tuple[Article, ...]
    rejected: tuple[ArticleError, ...]
    duplicates: tuple[Duplicate, ...]
    files: int
    warnings: tuple[ArticleWarning, ...] = ()


class Builder:
    """The seeds folder as last read, and the feeds as last written.

    Coordinates the parts that do the work: the `SeedSet` (each file's
    state) that the `Scanner` reads into, the `CacheSession` that restores
    and saves it, the live planner, and the `Publisher` that writes.
    """

    def __init__(self, config: Config, cache: ParseCache | None = None) -> None:
        self.config = config
        #: Strictness is decided as each seed is recorded: another needs another Builder.
        #: With a parse cache, the bodies of the articles kept go to its folder.
        bodies = BodyStore(cache.folder) if cache is not None else None
        self._seeds = SeedSet(config.strict, bodies)
        self._scanner = Scanner(config, self._seeds)
        self._cache = CacheSession(cache, config.seeds)
        written, outputs = self._cache.take_written()
        self._publisher = Publisher(config, self._seeds.version_of, written, outputs)
        #: The feeds' membership as of the last publish.
        self._planner: Planner | None = None

    def reconfigure(self, config: Config) -> None:
        """Takes a config that reads seed files exactly as the last one did
        (the daemon's reload); the next publish renders every feed."""
        self.config = config
        self._publisher.config = config
        self._publisher.forget_written()

    # --- reading -------------------------------------------------------

    def scan_all(self, progress: Progress | None = None) -> list[str]:
        """Reads every file that is new or changed since the last scan; forgets
        files that are gone. Returns the names whose state changed."""
        paths = self._scanner.listing()
        gone = self._seeds.keep_only(set(paths))
        if gone:
            self._cache.changed()
        restored = self._cache.restore(paths, self._seeds)
        stale = self._scanner.stale(paths, skip=set(restored))
        if stale:
            self._cache.diverged()
        return gone + restored + self._scanner.read_all(stale, progress)

    def update(self, paths: Iterable[Path]) -> list[str]:
        """Re-reads ``paths`` (reported by a watcher); a path that is gone or
        no longer an article file is forgotten. Returns the names changed."""
        changed = self._scanner.update(paths)
        if changed:
            self._cache.changed()
        return changed

    def problem(self, path: str | Path) -> tuple[ArticleError | None, bool]:
        """The error of ``path``'s current version, and whether a last good
        version of its article is still being published."""
        return self._seeds.problem(path)

    def warnings_of(self, path: str | Path) -> tuple[ArticleWarning, ...]:
        """The warnings of ``path``'s current version, published without the fields named."""
        return self._seeds.warnings_of(path)

    @property
    def rejected(self) -> tuple[ArticleError, ...]:
        return self._seeds.rejected

    @property
    def warnings(self) -> tuple[ArticleWarning, ...]:
        return self._seeds.warnings

    def scan_result(self) -> Scan:
        self._fill()
        articles, duplicates = merge_duplicates(self._seeds.articles())
        scanned = len(self._seeds)
        return Scan(tuple(articles), self.rejected, tuple(duplicates), scanned, self.warnings)

    def _fill(self, stopping: Stopping = _never) -> bool:
        """Loads the cached articles of restored seeds, once, when a build
        needs them; False when ``stopping`` cut it short (the next call goes on)."""
        return self._cache.fill(self._seeds, self._scanner.read, stopping)

    # --- writing -------------------------------------------------------

    def publish(
        self, now: datetime | None = None, *, force: bool = False, workers: int = 1
    ) -> BuildReport:
        """Writes every feed whose entries changed since the last publish.

        ``now`` decides which future-dated articles are still embargoed; it
        never reaches the output. ``force`` renders every feed. With
        ``workers`` > 1, a process without other threads renders many
        documents in two processes. Raises ``OutputError`` when a file
        cannot be written (files not yet replaced keep their last good content).
        """
        started = time.monotonic()
        planned = self._planner_told().plans_at(now or datetime.now(UTC))
        report = self._report_of(planned)
        self._publisher.publish(planned.plans, report, force=force, workers=workers)
        report.seconds = time.monotonic() - started
        return report

    def resume(self, now: datetime | None = None, stopping: Stopping = _never) -> Resumed | None:
        """Takes up the state the last build left, once the output is known
        to be current (the daemon's start over its own cache and output):
        scans as `scan_all` does, loads the cached articles and plans every
        feed, rendering and writing nothing. None when ``stopping`` cut it
        short (calling it again goes on)."""
        started = time.monotonic()
        if stopping():
            return None
        changed = self.scan_all()
        if stopping() or not self._fill(stopping) or stopping():
            return None
        planned = self._planner_told().plans_at(now or datetime.now(UTC))
        if stopping():
            return None
        report = self._report_of(planned)
        current = self._publisher.current(planned.plans)
        self._cache.let_go()  # taken up: the seeds restored, the outputs adopted
        report.owned = partial(files_of, planned.plans, self.config)
        report.unchanged = len(report.files) if current else 0
        report.seconds = time.monotonic() - started
        return Resumed(changed, report, current)

    def _report_of(self, planned: Plans) -> BuildReport:
        return BuildReport(
            articles=planned.visible,
            feeds=len(planned.plans),
            rejected=self.rejected,
            warnings=self.warnings,
            duplicates=planned.duplicates,
            next_embargo=planned.next_embargo,
            embargoed=planned.embargoed,
        )

    def _planner_told(self) -> Planner:
        """The live planner, told of every seed file changed since the last publish."""
        self._fill()
        planner = self._planner
        fresh = planner is None or planner.config is not self.config
        if planner is None or fresh:
            planner = self._planner = Planner(self.config)
        planner.update(self._seeds.take_changes(everything=fresh))
        return planner

    # --- the parse cache -----------------------------------------------

    def up_to_date(self, now: datetime | None = None) -> BuildReport | None:
        """A report of a build with nothing to do, when the parse cache proves
        that nothing changed since the last build; else None."""
        return self._cache.up_to_date(self.config, now, self._seeds)

    def forget_plans(self) -> None:
        """Lets go of the planner and the plans (a one-shot build, before it
        saves the cache: with the articles, they are most of what it holds,
        and a save needs neither). The next publish plans every feed again."""
        self._planner = None
        self._publisher.forget_plans()

    def save_cache(self, report: BuildReport) -> None:
        """Records what was read and written, for the next build to skip."""
        self._fill()
        self._cache.save(report, self._seeds, self._publisher.written, self.config)


def scan(config: Config, progress: Progress | None = None) -> Scan:
    """Reads every article of the seeds folder. Writes nothing."""
    builder = Builder(config)
    builder.scan_all(progress)
    return builder.scan_result()


def rebuild(
    config: Config,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> BuildReport:
    """A full build: reads what changed (everything, without the cache) and
    writes what changed. `feeds.build.oneshot.build` calls it once the parse
    cache did not prove the build has nothing to do."""
    started = time.monotonic()
    builder = Builder(config, parse_cache(config) if use_cache else None)
    builder.scan_all(progress)
    report = builder.up_to_date(now)
    if report is None:
        report = builder.publish(now, workers=os.cpu_count() or 1)
        builder.forget_plans()  # the save then fits in the memory they held
        builder.save_cache(report)
    report.seconds = time.monotonic() - started
    return report
