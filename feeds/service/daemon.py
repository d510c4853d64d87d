"""`feeds run`: build once, then keep the output current until stopped.

Threads: the main thread waits for signals and checks health; watchdog's
observer reports file events; APScheduler's single worker runs every rebuild;
uvicorn serves the output folder. Only the worker touches the Builder, except
a config reload, which takes the same lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from feeds.build.builder import Builder
from feeds.build.report import BuildReport
from feeds.build.uptodate import parse_cache
from feeds.config import Config, SettingKind, settings_of
from feeds.errors import ConfigError, FeedsError
from feeds.formats import FORMATS
from feeds.plan.plans import ARCHIVE_DIR
from feeds.serve.connections import raise_open_files_limit
from feeds.serve.server import ServerThread, create_app
from feeds.service.scheduler import RebuildScheduler
from feeds.service.sdnotify import Notifier
from feeds.service.signals import SignalWakeup
from feeds.service.watcher import Watcher
from feeds.service.websub import HubNotifier
from feeds.urls import join_url

log = logging.getLogger("feeds.daemon")

#: Seconds before a failed write is tried again.
RETRY_AFTER_FAILURE = 5.0
#: How often the main thread checks the watcher and scheduler.
HEALTH_TICK = 1.0
#: How often the main thread looks whether the first build is done (it
#: cannot sleep on an event: it must wake for signals too).
FIRST_BUILD_POLL = 0.02
#: Seconds SIGTERM waits for the rebuild in progress to finish its writes
#: (each file is replaced whole, so one left unfinished breaks none).
STOP_WAIT = 15.0
#: Seconds after SIGTERM by which the process has ended whatever hangs;
#: within systemd/feeds.service's TimeoutStopSec, so the exit is ours.
STOP_DEADLINE = 25.0
FEED_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    enabled: bool = True
    host: str | None = None  # None: from the config
    port: int | None = None


class Daemon:
    def __init__(
        self,
        load_config: Callable[[], Config],
        serve: ServeOptions = ServeOptions(),
        notifier: Notifier | None = None,
    ) -> None:
        self._load_config = load_config
        self._serve = serve
        self._notifier = notifier or Notifier()
        self._stop_requested = False
        self._reload_requested = False
        self._build_lock = threading.Lock()
        self.config = self._load()
        self._builder = Builder(self.config, parse_cache(self.config))
        self._scheduler = RebuildScheduler(
            self._rebuild,
            debounce=self.config.debounce_ms / 1000,
            rescan_interval=self.config.rescan_interval,
        )
        self._watcher = self._new_watcher()
        self._hubs = HubNotifier(self.config.websub.hubs)
        self._server: ServerThread | None = None
        self._last_report: BuildReport | None = None
        self._last_build: datetime | None = None
        self._rebuilds = 0
        #: Set while the seeds folder is missing, so that is said once, not every tick.
        self._seeds_missing = threading.Event()
        #: The output folder as last written: (device, inode), None before a build.
        self._output_identity: tuple[int, int] | None = None
        #: Set once the rebuild in progress is reported stuck, until it ends.
        self._stuck_reported = False
        self._last_rebuild_seconds = 0.0
        #: Set once a reload was put off for a rebuild in progress (said once).
        self._reload_waiting = False

    def _load(self) -> Config:
        config = self._load_config()
        # Watchers report absolute paths; keep every path in that form.
        return config.model_copy(
            update={"seeds": config.seeds.absolute(), "output": config.output.absolute()}
        )

    def _new_watcher(self) -> Watcher:
        config = self.config
        return Watcher(config.seeds, config.patterns, self._on_change, config.watch)

    # --- running -------------------------------------------------------

    def run(self) -> int:
        """Runs until SIGTERM or SIGINT; returns the exit code."""
        wake = self._install_signal_handlers()
        try:
            # Watch before the first build: a save made while it runs is
            # queued, not lost until the next rescan. The first build runs on
            # the scheduler's worker like every other, so the main thread
            # stays free to answer SIGTERM even if it never ends.
            self._start_watcher()
            self._scheduler.start()
            self._scheduler.request_rescan()
            if self._first_build(wake):
                self._save_cache()
                if self._serve.enabled:
                    self._start_server()
                self._notifier.ready(self._status())
                log.info("ready")
                self._main_loop(wake)
        finally:
            finished = self._shutdown()
            wake.close()
            if not finished:
                _exit_now(1)
        return 0

    def _first_build(self, wake: SignalWakeup) -> bool:
        """Waits for the first build; False when stopped before it ended."""
        while self._rebuilds == 0:
            if self._stop_requested:
                return False
            wake.wait(FIRST_BUILD_POLL)
            self._check_rebuild()
            if not self._scheduler.is_alive():
                log.critical("the scheduler stopped; exiting so the service is restarted")
                raise SystemExit(1)
        return True

    def _main_loop(self, wake: SignalWakeup) -> None:
        interval = HEALTH_TICK
        if self._notifier.watchdog_interval:
            interval = min(interval, self._notifier.watchdog_interval)
        while not self._stop_requested:
            wake.wait(interval)
            if self._stop_requested:
                break
            if self._reload_requested:
                self._reload_requested = False
                self._reload()
            self._check_health()

    def _check_health(self) -> None:
        # A folder moved away and back keeps its inode, and the watcher looks
        # alive again; the requests dropped meanwhile still need the rescan.
        if self._seeds_missing.is_set() or not self._watcher.is_alive():
            self._revive_watcher()
        if self._output_identity is not None and _identity(self.config.output) != (
            self._output_identity
        ):
            # Nothing else notices: the watcher sees only the seeds folder, and
            # the builder thinks the feeds it wrote are still there.
            log.warning(
                "the output folder %s was removed or replaced; rewriting it", self.config.output
            )
            self._output_identity = None
            self._scheduler.request_rescan()
        self._scheduler.check_clock()
        if not self._scheduler.is_alive():
            # Nothing can rebuild any more; let systemd restart the service.
            log.critical("the scheduler stopped; exiting so the service is restarted")
            raise SystemExit(1)
        stuck = self._check_rebuild()
        # A missing seeds folder is outside the daemon: a restart would not bring it back.
        # A stuck rebuild is inside it: systemd's watchdog restarts the service.
        watching = self._watcher.is_alive() or self._seeds_missing.is_set()
        if watching and not stuck and self._notifier.watchdog_interval:
            self._notifier.watchdog()

    def _stuck_for(self) -> float | None:
        """Seconds the rebuild in progress has run, once past ``rebuild_timeout``."""
        running = self._scheduler.running_for()
        if running is None or running <= self.config.rebuild_timeout:
            return None
        return running

    def _check_rebuild(self) -> bool:
        """Says once when the rebuild in progress turns stuck, and once when
        it ends after all; returns whether it is stuck now."""
        stuck = self._stuck_for()
        if stuck is not None and not self._stuck_reported:
            self._stuck_reported = True
            log.error(
                "a rebuild has run for more than %d s (rebuild_timeout): it is stuck; "
                "/healthz reports it and the systemd watchdog is no longer fed",
                self.config.rebuild_timeout,
            )
        elif stuck is None and self._stuck_reported:
            self._stuck_reported = False
            log.warning("the stuck rebuild ended after %d s", self._last_rebuild_seconds)
        return stuck is not None

    def _revive_watcher(self) -> None:
        if not self.config.seeds.is_dir():
            self._note_seeds_missing()
            return
        if self._seeds_missing.is_set():
            self._seeds_missing.clear()
            log.info("the seeds folder %s is back", self.config.seeds)
        else:
            log.warning("the watcher stopped (or the seeds folder was replaced); restarting it")
        self._start_watcher()
        self._scheduler.request_rescan()

    def _note_seeds_missing(self) -> None:
        if not self._seeds_missing.is_set():
            self._seeds_missing.set()
            log.warning(
                "the seeds folder %s is gone; the last feeds stay until it returns",
                self.config.seeds,
            )

    def _start_watcher(self) -> None:
        try:
            self._watcher.start()
        except OSError as error:
            log.error(
                "cannot watch %s: %s; relying on rescans every %d s",
                self._watcher.seeds,
                error.strerror or error,
                self.config.rescan_interval,
            )

    def _start_server(self) -> None:
        config = self.config
        app = create_app(
            config.output,
            cache_max_age=config.server.cache_max_age,
            health=self._health,
            extra_headers=self._link_headers,
            base_url=config.base_url,
        )
        host = self._serve.host or config.server.host
        port = self._serve.port if self._serve.port is not None else config.server.port
        open_files = raise_open_files_limit()
        self._server = ServerThread(app, host, port)
        self._server.start()
        log.info("serving %s on http://%s:%d/", config.output, host, self._server.port)
        log.info(
            "HTTP: up to %d connections (open-files limit %d)",
            self._server.connections.limit,
            open_files,
        )

    def _shutdown(self) -> bool:
        """Stops everything; returns whether the rebuild in progress, if
        any, finished (if not, the process must end without waiting for it)."""
        self._notifier.stopping()
        log.info("stopping")
        backstop = threading.Timer(STOP_DEADLINE, _stop_overdue)
        backstop.daemon = True
        backstop.start()
        self._watcher.stop()
        # A rebuild already stuck is not waited for; any other gets the time
        # left before it would count as stuck, within STOP_WAIT.
        running = self._scheduler.running_for() or 0.0
        wait = max(0.0, min(STOP_WAIT, self.config.rebuild_timeout - running))
        finished = self._scheduler.shutdown(wait)
        if finished:
            self._save_cache()
        else:
            log.error(
                "a rebuild stuck for %d s did not end; exiting without it "
                "(the parse cache is not saved)",
                self._scheduler.running_for() or running,
            )
        self._hubs.wait_idle(1.0)  # a last change deserves its push if hubs answer quickly
        self._hubs.close(1.0)
        if self._server is not None:
            self._server.stop()
        backstop.cancel()
        log.info("stopped")
        return finished

    def _save_cache(self) -> None:
        """Lets the next start skip parsing the files that have not changed.
        Skipped while a rebuild runs: the main thread never waits on one (the
        stop saves it)."""
        if not self._build_lock.acquire(timeout=HEALTH_TICK):
            return
        try:
            if self._last_report is not None:
                self._builder.save_cache(self._last_report)
        finally:
            self._build_lock.release()

    # --- signals -------------------------------------------------------

    def _install_signal_handlers(self) -> SignalWakeup:
        """The handlers only set flags; the signal itself wakes the main loop
        (see `feeds.service.signals` for why a handler must never take a lock)."""
        wake = SignalWakeup()
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)
        return wake

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def _on_reload_signal(self, signum: int, frame: FrameType | None) -> None:
        self._reload_requested = True

    def _reload(self) -> None:
        # The main thread must never wait on a rebuild (it answers SIGTERM and
        # reports a stuck rebuild): a reload waits its turn, tick by tick.
        if not self._build_lock.acquire(timeout=HEALTH_TICK / 2):
            self._reload_requested = True
            if not self._reload_waiting:
                self._reload_waiting = True
                log.info("reload waits for the rebuild in progress")
            return
        self._reload_waiting = False
        try:
            configs = self._reload_builder()
        finally:
            self._build_lock.release()
        if configs is not None:
            self._reload_rest(*configs)

    def _reload_builder(self) -> tuple[Config, Config] | None:
        """Takes the new config and sets the builder up for it (build lock
        held); returns the old and new configs, or None when it is bad."""
        self._notifier.reloading()
        try:
            new = self._load()
        except ConfigError as error:
            log.error("reload failed, keeping the running config: %s", error)
            self._notifier.ready(self._status())
            return None
        old, self.config = self.config, new
        # A Builder reads with the reading settings and decides strictness as
        # it records each seed, so another of either needs a new one (the
        # parse cache serves either strictness).
        reading = SettingKind.READING
        if settings_of(old, reading) == settings_of(new, reading) and old.strict == new.strict:
            self._builder.reconfigure(new)
        else:
            self._builder = Builder(new, parse_cache(new))
        return old, new

    def _reload_rest(self, old: Config, new: Config) -> None:
        if (old.seeds, old.patterns, old.watch) != (new.seeds, new.patterns, new.watch):
            self._watcher.stop()
            self._watcher = self._new_watcher()
            self._start_watcher()
        if old.websub != new.websub:
            self._hubs.close(1.0)
            self._hubs = HubNotifier(new.websub.hubs)
        self._scheduler.debounce = new.debounce_ms / 1000
        if old.rescan_interval != new.rescan_interval:
            self._scheduler.set_rescan_interval(new.rescan_interval)
        serving = ("output", "server", "base_url")
        if self._server is not None and any(
            getattr(old, key) != getattr(new, key) for key in serving
        ):
            self._server.stop()
            self._start_server()
        self._scheduler.request_rescan()
        log.info("config reloaded")
        self._notifier.ready(self._status())

    # --- rebuilding ----------------------------------------------------

    def _on_change(self, paths: set[Path], full: bool) -> None:
        self._scheduler.request(paths, full=full)

    def _rebuild(self, paths: frozenset[Path], full: bool) -> None:
        started = time.monotonic()
        try:
            self._build_and_publish(paths, full)
        finally:
            self._last_rebuild_seconds = time.monotonic() - started
            # Counted when done, embargo armed: /healthz then tells a watcher
            # (a test, a probe) that this rebuild is over.
            self._rebuilds += 1

    def _build_and_publish(self, paths: frozenset[Path], full: bool) -> None:
        with self._build_lock:
            builder = self._builder
            if not builder.config.seeds.is_dir():
                # Unmounted or moved away, not emptied: publishing nothing would
                # wipe every feed. The health tick rescans when it returns.
                self._note_seeds_missing()
                return
            try:
                changed = builder.scan_all() if full else builder.update(paths)
                report = builder.publish(force=full)
            except FeedsError as error:
                log.error("%s", error)
                self._scheduler.retry_later(RETRY_AFTER_FAILURE)
                return
            self._report_problems(builder, changed)
            self._last_report = report
            self._last_build = datetime.now(UTC)
            self._output_identity = _identity(builder.config.output)
        self._scheduler.set_embargo(report.next_embargo)
        self._push(report)
        if report.written or report.removed:
            log.info(
                "%d articles, %d feeds: %d files written, %d removed in %.3f s",
                report.articles,
                report.feeds,
                len(report.written),
                len(report.removed),
                report.seconds,
            )

    @staticmethod
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

    # --- WebSub --------------------------------------------------------

    def _push(self, report: BuildReport) -> None:
        """Tells the hubs about every feed whose file changed (archives are not subscribed to)."""
        base_url = self.config.base_url
        self._hubs.notify(
            join_url(base_url, name)
            for name in report.written
            if name.endswith(FEED_SUFFIXES) and not name.startswith(f"{ARCHIVE_DIR}/")
        )

    def _link_headers(self, path: str) -> Mapping[str, str]:
        """WebSub discovery in HTTP: ``Link: <hub>; rel="hub", <self>; rel="self"``."""
        config = self.config
        if not config.websub.hubs or not path.endswith(FEED_SUFFIXES):
            return {}
        links = [f'<{hub}>; rel="hub"' for hub in config.websub.hubs]
        links.append(f'<{join_url(config.base_url, path)}>; rel="self"')
        return {"Link": ", ".join(links)}

    # --- status --------------------------------------------------------

    def _status(self) -> str:
        report = self._last_report
        if report is None:
            return "starting"
        return f"{report.articles} articles in {report.feeds} feeds"

    def _health(self) -> Mapping[str, object]:
        report = self._last_report
        watcher_ok = self._watcher.is_alive()
        scheduler_ok = self._scheduler.is_alive()
        stuck = self._stuck_for() is not None
        running = self._scheduler.running_for()
        return {
            "ok": watcher_ok and scheduler_ok and not stuck,
            "watcher": ("polling" if self._watcher.polling else "inotify")
            if watcher_ok
            else "down",
            "scheduler": "down" if not scheduler_ok else "stuck" if stuck else "running",
            "rebuild_seconds": None if running is None else round(running, 1),
            "articles": report.articles if report else 0,
            "feeds": report.feeds if report else 0,
            "rejected": len(report.rejected) if report else 0,
            "warnings": len(report.warnings) if report else 0,
            "last_build": self._last_build.isoformat() if self._last_build else None,
            "rebuilds": self._rebuilds,
            "idle": self._scheduler.idle(),
        }


def _stop_overdue() -> None:
    log.critical("stopping took longer than %d s; exiting now", STOP_DEADLINE)
    _exit_now(1)


def _exit_now(code: int) -> None:
    """Ends the process without joining its threads: one of them is stuck in
    a rebuild, and the interpreter's exit would wait for it for ever."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)
