"""`feeds run`: build once, then keep the output current until stopped.

Threads: the main thread waits for signals and checks health; watchdog's
observer reports file events; APScheduler's single worker runs every rebuild;
uvicorn serves the output folder. Only the worker touches the Builder, except
a config reload, which takes the same lock.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from feeds.build import Builder, BuildReport, parse_cache
from feeds.config import Config
from feeds.connections import raise_open_files_limit
from feeds.errors import ConfigError, FeedsError
from feeds.index import ARCHIVE_DIR
from feeds.render import FORMATS
from feeds.scheduler import RebuildScheduler
from feeds.sdnotify import Notifier
from feeds.server import ServerThread, create_app
from feeds.signals import SignalWakeup
from feeds.urls import join_url
from feeds.watcher import Watcher
from feeds.websub import HubNotifier

log = logging.getLogger("feeds.daemon")

#: Seconds before a failed write is tried again.
RETRY_AFTER_FAILURE = 5.0
#: How often the main thread checks the watcher and scheduler.
HEALTH_TICK = 1.0
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
        # Watch before the first build: a save made while it runs is queued,
        # not lost until the next rescan.
        self._start_watcher()
        self._rebuild(frozenset(), True)
        self._save_cache()
        self._scheduler.start()
        if self._serve.enabled:
            self._start_server()
        self._notifier.ready(self._status())
        log.info("ready")
        try:
            self._main_loop(wake)
        finally:
            self._shutdown()
            wake.close()
        return 0

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
        # A missing seeds folder is outside the daemon: a restart would not bring it back.
        watching = self._watcher.is_alive() or self._seeds_missing.is_set()
        if watching and self._notifier.watchdog_interval:
            self._notifier.watchdog()

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

    def _shutdown(self) -> None:
        self._notifier.stopping()
        log.info("stopping")
        self._watcher.stop()
        self._scheduler.shutdown()  # lets a rebuild in progress finish its writes
        self._save_cache()
        self._hubs.wait_idle(1.0)  # a last change deserves its push if hubs answer quickly
        self._hubs.close(1.0)
        if self._server is not None:
            self._server.stop()
        log.info("stopped")

    def _save_cache(self) -> None:
        """Lets the next start skip parsing the files that have not changed."""
        with self._build_lock:
            if self._last_report is not None:
                self._builder.save_cache(self._last_report)

    # --- signals -------------------------------------------------------

    def _install_signal_handlers(self) -> SignalWakeup:
        """The handlers only set flags; the signal itself wakes the main loop
        (see `feeds.signals` for why a handler must never take a lock)."""
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
        self._notifier.reloading()
        try:
            new = self._load()
        except ConfigError as error:
            log.error("reload failed, keeping the running config: %s", error)
            self._notifier.ready(self._status())
            return
        old, self.config = self.config, new
        with self._build_lock:
            # A Builder decides strictness as it records each seed, so another
            # strictness needs a new one (the parse cache serves either).
            reading = ("seeds", "patterns", "timezone", "fix_text", "summary_length", "strict")
            if all(getattr(old, key) == getattr(new, key) for key in reading):
                self._builder.config = new
                self._builder.forget_written()
            else:
                self._builder = Builder(new, parse_cache(new))
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
        if self._server is not None and (old.output, old.server) != (new.output, new.server):
            self._server.stop()
            self._start_server()
        self._scheduler.request_rescan()
        log.info("config reloaded")
        self._notifier.ready(self._status())

    # --- rebuilding ----------------------------------------------------

    def _on_change(self, paths: set[Path], full: bool) -> None:
        self._scheduler.request(paths, full=full)

    def _rebuild(self, paths: frozenset[Path], full: bool) -> None:
        try:
            self._build_and_publish(paths, full)
        finally:
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
        return {
            "ok": watcher_ok and scheduler_ok,
            "watcher": ("polling" if self._watcher.polling else "inotify")
            if watcher_ok
            else "down",
            "scheduler": "running" if scheduler_ok else "down",
            "articles": report.articles if report else 0,
            "feeds": report.feeds if report else 0,
            "rejected": len(report.rejected) if report else 0,
            "warnings": len(report.warnings) if report else 0,
            "last_build": self._last_build.isoformat() if self._last_build else None,
            "rebuilds": self._rebuilds,
            "idle": self._scheduler.idle(),
        }


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)
