"""`feeds run`: build once, then keep the output current until stopped.

Threads: the main thread waits for signals and checks health; watchdog's
observer reports file events; APScheduler's single worker runs every rebuild;
uvicorn serves the output folder. Only the worker touches the Builder, except
a config reload, which takes the same lock.

The parts, one job each: `Rebuilds` (the worker's rebuilds and what they
leave), `SeedsWatch` (the watcher, restarted when it stops), `Frontend` (the
HTTP server and the WebSub hubs), `SignalRequests` (what the signals ask).
`Daemon` starts them, checks their health every tick, reloads the config
and stops them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from feeds.config import Config
from feeds.errors import ConfigError
from feeds.service import heap
from feeds.service.frontend import Frontend
from feeds.service.metrics import Metrics
from feeds.service.publishing import Publishing
from feeds.service.rebuilds import Rebuilds
from feeds.service.sdnotify import Notifier
from feeds.service.seedwatch import SeedsWatch
from feeds.service.signals import SignalRequests, SignalWakeup
from feeds.service.subscribers import Subscribers, save_counts, state_file

log = logging.getLogger("feeds.daemon")

#: How often the main thread checks the watcher and scheduler.
HEALTH_TICK = 1.0
#: Seconds SIGTERM waits for the rebuild in progress to finish its writes
#: (each file is replaced whole, so one left unfinished breaks none).
STOP_WAIT = 15.0
#: Seconds SIGTERM lets a push to a publish target finish before abandoning it.
PUSH_STOP_WAIT = 3.0
#: Seconds after SIGTERM by which the process has ended whatever hangs;
#: within systemd/feeds.service's TimeoutStopSec, so the exit is ours.
STOP_DEADLINE = 25.0


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
        self._requests = SignalRequests()
        self.config = self._load()
        #: Kept across reloads and server restarts: counters only ever grow.
        self.subscribers = Subscribers()
        self.subscribers.load(state_file(self.config))
        self.metrics = Metrics(self.subscribers)
        self._rebuilds = Rebuilds(
            self.config,
            seeds_missing=lambda: self._watch.note_missing(),
            built=lambda report: self._publishing.built(report),
            metrics=self.metrics,
        )
        self._scheduler = self._rebuilds.scheduler
        self._watch = SeedsWatch(lambda: self.config, self._scheduler, self.metrics)
        self._frontend = Frontend(lambda: self.config, self._health, self.metrics)
        self._publishing = Publishing(
            lambda: self.config, self._rebuilds.lock, self.metrics, self._frontend
        )
        #: Set once a reload was put off for a rebuild in progress (said once).
        self._reload_waiting = False

    def _load(self) -> Config:
        config = self._load_config()
        # Watchers report absolute paths; keep every path in that form.
        return config.model_copy(
            update={"seeds": config.seeds.absolute(), "output": config.output.absolute()}
        )

    # --- running -------------------------------------------------------

    def run(self) -> int:
        """Runs until SIGTERM or SIGINT; returns the exit code."""
        # The handlers only set flags; the signal itself wakes the main loop
        # (see `feeds.service.signals` for why a handler must never take a lock).
        wake = self._requests.install()
        # The main thread cannot sleep on an event (it must wake for signals
        # too): the first build, or the proof, ends its sleep through the pipe.
        self._rebuilds.status.on_started = wake.wake
        try:
            # Watch before the first build: a save made while it runs is
            # queued, not lost until the next rescan. The first build runs on
            # the scheduler's worker like every other, so the main thread
            # stays free to answer SIGTERM even if it never ends. When the
            # parse cache proves the output current it is ready at once, and
            # the worker loads the rest before any other rebuild.
            self._watch.start()
            self._scheduler.start()
            self._scheduler.request_rescan()
            if self._first_build(wake):
                if not self._rebuilds.status.loading:
                    self._rebuilds.save_cache(HEALTH_TICK)
                self._publishing.start()
                if self._serve.enabled:
                    self._frontend.serve(self._serve.host, self._serve.port)
                self._notifier.ready(self._rebuilds.status.line())
                log.info("ready")
                self._main_loop(wake)
        finally:
            code = self._shutdown()
            wake.close()
            if code is not None:
                _exit_now(code)
        return 0

    def _first_build(self, wake: SignalWakeup) -> bool:
        """Waits for the first build, or the proof none is needed; False when stopped before."""
        while not self._rebuilds.status.started:
            if self._requests.stop:
                return False
            wake.wait(HEALTH_TICK)
            self._rebuilds.status.check_stuck(self.config.rebuild_timeout)
            if not self._scheduler.is_alive():
                log.critical("the scheduler stopped; exiting so the service is restarted")
                raise SystemExit(1)
        return True

    def _main_loop(self, wake: SignalWakeup) -> None:
        interval = HEALTH_TICK
        if self._notifier.watchdog_interval:
            interval = min(interval, self._notifier.watchdog_interval)
        while not self._requests.stop:
            wake.wait(interval)
            if self._requests.stop:
                break
            if self._requests.reload:
                self._requests.reload = False
                self._reload()
            self._check_health()

    def _check_health(self) -> None:
        self._watch.check()
        heap.quiet_tick(self._rebuilds.status.count, self._scheduler.running_for() is not None)
        save_counts(self.subscribers, self.config)  # here: never on the request path
        self._rebuilds.check_output(self.config.output)
        self._scheduler.check_clock()
        if not self._scheduler.is_alive():
            # Nothing can rebuild any more; let systemd restart the service.
            log.critical("the scheduler stopped; exiting so the service is restarted")
            raise SystemExit(1)
        stuck = self._rebuilds.status.check_stuck(self.config.rebuild_timeout)
        # A missing seeds folder is outside the daemon: a restart would not bring it back.
        # A stuck rebuild is inside it: systemd's watchdog restarts the service.
        if self._watch.watching() and not stuck and self._notifier.watchdog_interval:
            self._notifier.watchdog()

    def _shutdown(self) -> int | None:
        """Stops everything. None when all ended, else the code to exit with at once:
        1 for a stuck rebuild, 0 for an abandoned push (its target stays consistent)."""
        self._notifier.stopping()
        log.info("stopping")
        backstop = threading.Timer(STOP_DEADLINE, _stop_overdue)
        backstop.daemon = True
        backstop.start()
        self._watch.stop()
        # A rebuild already stuck is not waited for; any other gets the time
        # left before it would count as stuck, within STOP_WAIT.
        running = self._scheduler.running_for() or 0.0
        wait = max(0.0, min(STOP_WAIT, self.config.rebuild_timeout - running))
        finished = self._scheduler.shutdown(wait)
        if finished:
            self._rebuilds.save_cache(HEALTH_TICK)
        else:
            log.error(
                "a rebuild stuck for %d s did not end; exiting without it "
                "(the parse cache is not saved)",
                self._scheduler.running_for() or running,
            )
        pushes_ended = self._publishing.close(PUSH_STOP_WAIT)
        self._frontend.close()
        save_counts(self.subscribers, self.config, force=True)
        backstop.cancel()
        log.info("stopped")
        return 1 if not finished else None if pushes_ended else 0

    # --- reloading -----------------------------------------------------

    def _reload(self) -> None:
        # The main thread must never wait on a rebuild (it answers SIGTERM and
        # reports a stuck rebuild): a reload waits its turn, tick by tick.
        if not self._rebuilds.lock.acquire(timeout=HEALTH_TICK / 2):
            self._requests.reload = True
            if not self._reload_waiting:
                self._reload_waiting = True
                log.info("reload waits for the rebuild in progress")
            return
        self._reload_waiting = False
        try:
            configs = self._reload_builder()
        finally:
            self._rebuilds.lock.release()
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
            self._notifier.ready(self._rebuilds.status.line())
            return None
        old, self.config = self.config, new
        self._rebuilds.reconfigure(old, new)
        return old, new

    def _reload_rest(self, old: Config, new: Config) -> None:
        if (old.seeds, old.patterns, old.watch) != (new.seeds, new.patterns, new.watch):
            self._watch.replace()
        if old.websub != new.websub:
            self._frontend.replace_hubs(new.websub.hubs)
        self._publishing.reload(old, new)
        self._scheduler.debounce = new.debounce_ms / 1000
        if old.rescan_interval != new.rescan_interval:
            self._scheduler.set_rescan_interval(new.rescan_interval)
        serving = ("output", "server", "base_url")
        if self._frontend.serving and any(
            getattr(old, key) != getattr(new, key) for key in serving
        ):
            self._frontend.restart_server()
        self._scheduler.request_rescan()
        log.info("config reloaded")
        self._notifier.ready(self._rebuilds.status.line())

    # --- /healthz ------------------------------------------------------

    def _health(self) -> Mapping[str, object]:
        health = self._rebuilds.status.health(self._watch.state(), self.config.rebuild_timeout)
        return {**health, "publish": self._publishing.health()}


def _stop_overdue() -> None:
    log.critical("stopping took longer than %d s; exiting now", STOP_DEADLINE)
    _exit_now(1)


def _exit_now(code: int) -> None:
    """Ends the process without joining its threads: one of them is stuck in
    a rebuild or an upload, and the interpreter's exit would wait for it."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
