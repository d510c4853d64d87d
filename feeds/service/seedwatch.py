"""Keeping a watcher on the seeds folder for as long as the daemon runs.

A watcher stops when its folder is deleted or replaced, and cannot start
while the folder is gone (unmounted, moved away). `SeedsWatch` restarts it
from the daemon's health tick, says once that the folder is gone and once
that it is back, and asks for a rescan whenever events may have been missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from feeds.config import Config
from feeds.service.metrics import Metrics
from feeds.service.scheduler import RebuildScheduler
from feeds.service.watcher import Watcher

log = logging.getLogger("feeds.daemon")


class SeedsWatch:
    """The watcher of the seeds folder of ``config()`` (the daemon's current
    config), whose changes become requests to ``scheduler``; its restarts
    are counted in ``metrics``."""

    def __init__(
        self, config: Callable[[], Config], scheduler: RebuildScheduler, metrics: Metrics
    ) -> None:
        self._config = config
        self._scheduler = scheduler
        self._metrics = metrics
        #: Set while the seeds folder is missing, so that is said once, not every tick.
        self._missing = threading.Event()
        self._watcher = self._new_watcher()

    def _new_watcher(self) -> Watcher:
        config = self._config()
        return Watcher(config.seeds, config.patterns, self._on_change, config.watch)

    def _on_change(self, paths: set[Path], full: bool) -> None:
        self._scheduler.request(paths, full=full)

    def start(self) -> None:
        try:
            self._watcher.start()
        except OSError as error:
            log.error(
                "cannot watch %s: %s; relying on rescans every %d s",
                self._watcher.seeds,
                error.strerror or error,
                self._config().rescan_interval,
            )

    def stop(self) -> None:
        self._watcher.stop()

    def replace(self) -> None:
        """Watches anew, after the seeds folder, patterns or watch mode changed."""
        self._watcher.stop()
        self._watcher = self._new_watcher()
        self.start()

    def state(self) -> str:
        """For /healthz: "inotify" or "polling" while the watcher runs, else "down"."""
        watcher = self._watcher
        if not watcher.is_alive():
            return "down"
        return "polling" if watcher.polling else "inotify"

    def watching(self) -> bool:
        """Whether the watcher runs, or its folder is known to be gone: a
        restart of the service would not bring that back."""
        return self._watcher.is_alive() or self._missing.is_set()

    def check(self) -> None:
        """Called from the health tick: restarts a watcher that stopped."""
        # A folder moved away and back keeps its inode, and the watcher looks
        # alive again; the requests dropped meanwhile still need the rescan.
        if self._missing.is_set() or not self._watcher.is_alive():
            self._revive()

    def _revive(self) -> None:
        seeds = self._config().seeds
        if not seeds.is_dir():
            self.note_missing()
            return
        if self._missing.is_set():
            self._missing.clear()
            log.info("the seeds folder %s is back", seeds)
        else:
            log.warning("the watcher stopped (or the seeds folder was replaced); restarting it")
        self._metrics.watcher_restarted()
        self.start()
        self._scheduler.request_rescan()

    def note_missing(self) -> None:
        """Says, once until it is back, that the seeds folder is gone."""
        if not self._missing.is_set():
            self._missing.set()
            log.warning(
                "the seeds folder %s is gone; the last feeds stay until it returns",
                self._config().seeds,
            )
