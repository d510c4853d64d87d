"""What the daemon's rebuilds left, for the main thread and /healthz.

`RebuildStatus` is written by the rebuild worker (`feeds.service.rebuilds`)
and read by the main thread (the health tick, sd_notify's status line) and
the server (/healthz): plain fields, each replaced whole, so a reader sees
one rebuild's value or the next one's, never half of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from feeds.build.report import BuildReport
from feeds.service.scheduler import RebuildScheduler

log = logging.getLogger("feeds.daemon")


class RebuildStatus:
    """The output as last published or proven, how many rebuilds ended, and
    whether the one in progress (run by ``scheduler``) is stuck."""

    def __init__(self, scheduler: RebuildScheduler) -> None:
        self._scheduler = scheduler
        #: The output as it is: the last publish's report, or a proven start's.
        self.report: BuildReport | None = None
        self.last_build: datetime | None = None
        #: Rebuilds ended (the first build is the first).
        self.count = 0
        #: Set from a start proven current until the worker has loaded the
        #: builder's state: until then the parse cache on disk is the truth.
        self.loading = False
        self.last_seconds = 0.0
        #: Set once the rebuild in progress is reported stuck, until it ends.
        self._stuck_reported = False
        #: Called (on the worker) when the daemon may say it is ready: the
        #: main thread sleeps until then, without polling.
        self.on_started: Callable[[], None] = _nothing

    @property
    def started(self) -> bool:
        """Whether the output is known current: the first build ended, or
        the start was proven current (its state then loads in the background)."""
        return self.count > 0 or self.report is not None

    def published(self, report: BuildReport) -> None:
        """The output is as ``report`` says (a publish ended, or a start was proven)."""
        starting = not self.started
        self.last_build = datetime.now(UTC)
        self.report = report
        if starting:
            self.on_started()

    def ended(self, seconds: float) -> None:
        """A rebuild ended (published or not) after ``seconds``."""
        starting = not self.started
        self.last_seconds = seconds
        self.count += 1
        if starting:
            self.on_started()

    def line(self) -> str:
        """sd_notify's status line."""
        report = self.report
        if report is None:
            return "starting"
        return f"{report.articles} articles in {report.feeds} feeds"

    # --- stuck rebuilds ------------------------------------------------

    def stuck_for(self, timeout: float) -> float | None:
        """Seconds the rebuild in progress has run, once past ``timeout``."""
        running = self._scheduler.running_for()
        if running is None or running <= timeout:
            return None
        return running

    def check_stuck(self, timeout: float) -> bool:
        """Says once when the rebuild in progress runs past ``timeout`` (the
        config's rebuild_timeout), and once when it ends after all; returns
        whether it is stuck now."""
        stuck = self.stuck_for(timeout)
        if stuck is not None and not self._stuck_reported:
            self._stuck_reported = True
            log.error(
                "a rebuild has run for more than %d s (rebuild_timeout): it is stuck; "
                "/healthz reports it and the systemd watchdog is no longer fed",
                timeout,
            )
        elif stuck is None and self._stuck_reported:
            self._stuck_reported = False
            log.warning("the stuck rebuild ended after %d s", self.last_seconds)
        return stuck is not None

    # --- /healthz ------------------------------------------------------

    def health(self, watcher: str, timeout: float) -> Mapping[str, object]:
        """/healthz's answer, given the watcher's state ("inotify", "polling"
        or "down") and the config's rebuild_timeout."""
        report = self.report
        scheduler = self._scheduler
        scheduler_ok = scheduler.is_alive()
        stuck = self.stuck_for(timeout) is not None
        running = scheduler.running_for()
        return {
            "ok": watcher != "down" and scheduler_ok and not stuck,
            "watcher": watcher,
            "scheduler": "down" if not scheduler_ok else "stuck" if stuck else "running",
            "rebuild_seconds": None if running is None else round(running, 1),
            "articles": report.articles if report else 0,
            "feeds": report.feeds if report else 0,
            "rejected": len(report.rejected) if report else 0,
            "warnings": len(report.warnings) if report else 0,
            "last_build": self.last_build.isoformat() if self.last_build else None,
            "rebuilds": self.count,
            "idle": scheduler.idle(),
            "loading": self.loading,
        }


def _nothing() -> None:
    pass
