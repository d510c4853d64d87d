"""The daemon's rebuilds: run one at a time on the scheduler's worker.

`Rebuilds` owns the Builder and what the last rebuild left (its report, when
it ran, the output folder it wrote). Only the worker touches the Builder,
except a config reload and a save of the parse cache, which take `lock`.

The first rebuild is the start: when the parse cache proves the output
current (`feeds.build.uptodate`), the daemon is ready at once and the same
rebuild goes on to load the builder's state (`Builder.resume`), rendering
nothing; otherwise it is a full build, and the daemon ready after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.build.report import BuildReport
from feeds.build.uptodate import parse_cache, report_if_unchanged
from feeds.config import Config, SettingKind, settings_of
from feeds.errors import FeedsError
from feeds.service import heap
from feeds.service.metrics import Metrics
from feeds.service.rebuildstatus import RebuildStatus
from feeds.service.repairs import Repairs
from feeds.service.scheduler import RebuildScheduler
from feeds.system.folders import folder_identity

if TYPE_CHECKING:  # the builder brings the reader, planner and renderers: made on the worker
    from feeds.build.builder import Builder

log = logging.getLogger("feeds.daemon")

#: Seconds before a failed write is tried again.
RETRY_AFTER_FAILURE = 5.0


class Rebuilds:
    """The scheduler's work: read what changed, write the feeds, pass the report on.

    ``seeds_missing`` is called when the seeds folder is gone at a rebuild,
    ``built`` with the report of each rebuild that ended (the hubs are
    pinged, the publish targets pushed); each rebuild is recorded in
    ``metrics``.
    """

    def __init__(
        self,
        config: Config,
        *,
        seeds_missing: Callable[[], None],
        built: Callable[[BuildReport], None],
        metrics: Metrics,
    ) -> None:
        self._seeds_missing = seeds_missing
        self._built = built
        self._metrics = metrics
        self.lock = threading.Lock()
        self._config = config
        #: Made by the first rebuild (so a start proven current is ready before
        #: paying for its imports and the cache's load), or by a reload.
        self._builder: Builder | None = None
        #: The builder has not scanned the seeds folder yet: its first rebuild must.
        self._unscanned = True
        self.scheduler = RebuildScheduler(
            self._rebuild,
            debounce=config.debounce_ms / 1000,
            rescan_interval=config.rescan_interval,
        )
        self.status = RebuildStatus(self.scheduler)
        #: The output folder as last written: (device, inode), None before a build.
        self._output_identity: tuple[int, int] | None = None
        self._repairs = Repairs()

    def _rebuild(self, paths: frozenset[Path], full: bool) -> None:
        started = time.monotonic()
        try:
            if not self.status.started:
                self._start()
                heap.settle()
            else:
                self._build_and_publish(paths, full)
                if full:
                    heap.settle()
        finally:
            # Counted when done, embargo armed: /healthz then tells a watcher
            # (a test, a probe) that this rebuild is over.
            self.status.ended(time.monotonic() - started)

    # --- the start -----------------------------------------------------

    def _start(self) -> None:
        """The first rebuild: ready at once when the parse cache proves the
        output current, the builder's state then loaded; else a full build.
        Whatever was asked meanwhile is covered: the proof or the scan sees it."""
        with self.lock:
            proven = report_if_unchanged(self._config)
            if proven is not None:
                self._proven(proven)
        if proven is None:
            self._build_and_publish(frozenset(), True)
        else:
            self._resume()

    def _proven(self, report: BuildReport) -> None:
        """Takes the last publish, as the parse cache proved it, for the one just done."""
        self.status.loading = True
        self._metrics.published(report)
        self._output_identity = folder_identity(self._config.output)
        # Last: the daemon is then ready (see `RebuildStatus.started`).
        self.status.published(report)
        counts = (report.articles, report.feeds, report.seconds)
        log.info("the output is current (%d articles, %d feeds, proven in %.3f s)", *counts)

    def _resume(self) -> None:
        """Loads the builder's state after a proven start: nothing is rendered
        unless something changed since the proof (then it is published)."""
        with self.lock:
            builder = self._the_builder()
            if self.status.loading and builder.config.seeds.is_dir():
                try:
                    resumed = builder.resume(stopping=self.scheduler.stopping)
                except FeedsError as error:
                    log.error("%s", error)
                    self.scheduler.retry_later(RETRY_AFTER_FAILURE)
                    return
                if resumed is None:
                    return  # stopping: the cache on disk still holds, untouched
                self.status.loading = self._unscanned = False
                _report_problems(builder, resumed.changed)
                self._loaded(resumed.report, resumed.current)
                if resumed.current:
                    return
        # Changed since the proof (an embargo came due, a file unseen by the
        # watcher): published like any change.
        self._build_and_publish(frozenset(), False)

    def _loaded(self, report: BuildReport, current: bool) -> None:
        outcome = "the output was current" if current else "publishing what changed since"
        log.info("loaded %d articles in %.3f s; %s", report.articles, report.seconds, outcome)
        if current:  # else the publish that follows records it all
            self._metrics.loaded(report)
            self.status.report = report
            self.scheduler.set_embargo(report.next_embargo)

    # --- rebuilds ------------------------------------------------------

    def _build_and_publish(self, paths: frozenset[Path], full: bool) -> None:
        with self.lock:
            builder = self._the_builder()
            if not builder.config.seeds.is_dir():
                # Unmounted or moved away, not emptied: publishing nothing would
                # wipe every feed. The health tick rescans when it returns.
                self._seeds_missing()
                return
            if full:
                self._metrics.rescanned()
            try:
                report, changed = self._publish_with(builder, paths, full)
            except FeedsError as error:
                log.error("%s", error)
                self._metrics.failed()
                self.scheduler.retry_later(RETRY_AFTER_FAILURE)
                return
            self._metrics.published(report)
            _report_problems(builder, changed)
            self.status.published(report)
            self._output_identity = folder_identity(builder.config.output)
        self.scheduler.set_embargo(report.next_embargo)
        self._built(report)
        if report.written or report.removed:
            log.info(
                "%d articles, %d feeds: %d files written, %d removed in %.3f s",
                report.articles,
                report.feeds,
                len(report.written),
                len(report.removed),
                report.seconds,
            )

    def _publish_with(
        self, builder: Builder, paths: frozenset[Path], full: bool
    ) -> tuple[BuildReport, list[str]]:
        """Reads what changed and publishes; the report and the names changed."""
        if full or self._unscanned:
            # A builder made by a reload, or whose load after a proven start
            # failed, scans all first (the publish adopts the cache's record).
            changed = builder.scan_all()
            self._unscanned = self.status.loading = False
        else:
            changed = builder.update(paths)
        return builder.publish(force=self._repairs.take(full)), changed

    def _the_builder(self) -> Builder:
        """The builder, made on first use (under `lock`)."""
        if self._builder is None:
            from feeds.build.builder import Builder  # see TYPE_CHECKING

            self._builder = Builder(self._config, parse_cache(self._config))
            self._unscanned = True
        return self._builder

    def reconfigure(self, old: Config, new: Config) -> None:
        """Takes a reloaded config (under `lock`). A Builder reads with the
        reading settings and decides strictness as it records each seed, so
        another of either needs a new one (the parse cache serves either)."""
        self._config = new
        reading = SettingKind.READING
        if settings_of(old, reading) != settings_of(new, reading) or old.strict != new.strict:
            self._builder = None  # made anew when first needed, with the new config
        elif self._builder is not None:
            self._builder.reconfigure(new)

    def save_cache(self, timeout: float) -> None:
        """Lets the next start skip parsing the files that have not changed.
        Skipped when a rebuild holds the lock past ``timeout``: the main
        thread never waits on one (the stop saves it); skipped too while the
        state of a proven start is loading: the cache on disk already says it."""
        if not self.lock.acquire(timeout=timeout):
            return
        try:
            builder, report = self._builder, self.status.report
            if report is not None and builder is not None and not self.status.loading:
                builder.save_cache(report)
        finally:
            self.lock.release()

    def check_output(self, output: Path) -> None:
        """Rewrites the output folder if it was removed or replaced since written."""
        if self._output_identity is not None and folder_identity(output) != self._output_identity:
            # Nothing else notices: the watcher sees only the seeds folder, and
            # the builder thinks the feeds it wrote are still there.
            log.warning("the output folder %s was removed or replaced; rewriting it", output)
            self._output_identity = None
            self._repairs.ask()
            self.scheduler.request_rescan()


def _report_problems(builder: Builder, changed: Sequence[str]) -> None:
    """Logs the problems of the files read (or restored) by this rebuild
    only: once per version of a file, never again on every rescan."""
    for path in changed:
        error, kept = builder.problem(path)
        if error is None:
            for warning in builder.warnings_of(path):
                log.warning("%s", warning)
        elif kept:
            log.warning("%s (its last good version stays published)", error)
        else:
            log.warning("%s", error)
