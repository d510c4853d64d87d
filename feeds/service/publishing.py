"""`feeds run` keeps every publish target current in the background.

`Publishing` owns one `TargetWorker` (its own daemon thread) per target of
the config's ``publish``. The daemon tells it of every rebuild that wrote or
removed files; each worker pushes on its own, so a slow or failing target
never delays local publishing, the server, or another target. After a
target's push succeeds its purge command runs, and only then are the WebSub
hubs told of its feeds, at the target's public URLs: a hub that fetched a
feed before the push would get the old one.

Thread safety: `_lock` guards the set of workers (replaced on reload by the
main thread, read by the rebuild worker and the server); each worker guards
its own state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from feeds.build.report import BuildReport
from feeds.config import Config
from feeds.remote.purge import purge
from feeds.remote.pusher import PushReport
from feeds.remote.store import S3Store, Store
from feeds.remote.targets import Target, targets_of
from feeds.service.metrics import Metrics, PublishGauges
from feeds.service.pushworker import DEFAULT_BACKOFF, Backoff, TargetWorker

log = logging.getLogger("feeds.publish")

#: Seconds a stop lets a push in flight finish before abandoning it.
STOP_GRACE = 3.0
#: Seconds an abandoned push gets to notice (it stops at its next request).
ABANDON_WAIT = 1.0


class Hubs(Protocol):
    """The daemon's WebSub hubs (`feeds.service.frontend.Frontend`)."""

    def ping(self, report: BuildReport) -> None: ...
    def notify(self, feed_urls: Iterable[str]) -> None: ...


class Publishing:
    """The config's publish targets, each pushed by its own worker.

    ``config()`` is the daemon's current config; ``build_lock`` is
    `Rebuilds.lock` (held while a rebuild writes); ``hubs`` tells the
    daemon's WebSub hubs: of feed URLs (`Frontend.notify`), or of a local
    build's feeds (`Frontend.ping`) when no target is configured.
    """

    def __init__(
        self,
        config: Callable[[], Config],
        build_lock: threading.Lock,
        metrics: Metrics,
        hubs: Hubs,
        backoff: Backoff = DEFAULT_BACKOFF,
        make_store: Callable[[Target], Store] = S3Store,
    ) -> None:
        self._make_store = make_store
        self._config = config
        self._build_lock = build_lock
        self._metrics = metrics
        self._hubs = hubs
        self._backoff = backoff
        self._lock = threading.Lock()
        self._workers: dict[str, TargetWorker] = {}
        metrics.watch_publishing(self._gauges)

    def start(self) -> None:
        """Starts a worker per target, each pushing once now."""
        self._start(self._config(), {})

    def built(self, report: BuildReport) -> None:
        """After each rebuild: without targets, the hubs are told at once of
        the feeds served here (as ever); with them, the targets are due a
        push, and their hubs are told once they hold the change."""
        if not self._config().publish:
            self._hubs.ping(report)
        elif report.written or report.removed:
            self.changed()

    def changed(self) -> None:
        """The output folder changed: every target is due a push."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.changed()

    def reload(self, old: Config, new: Config) -> None:
        """After a reload: new workers if the targets (or the output folder)
        changed; a change of base_url changes the targets' public URLs."""
        if (old.output, targets_of(old)) != (new.output, targets_of(new)):
            self.replace()

    def replace(self) -> None:
        """New workers, each pushing once; the old ones abandon any push in
        flight, and a new worker for the same bucket waits for its old one's
        thread to end."""
        with self._lock:
            old, self._workers = self._workers, {}
        for worker in old.values():
            worker.abandon()
        self._start(self._config(), old)
        log.info("publish targets reloaded: %d", len(self._workers))

    def _start(self, config: Config, old: dict[str, TargetWorker]) -> None:
        workers = {
            target.url: TargetWorker(
                target,
                config.output,
                build_lock=self._build_lock,
                metrics=self._metrics,
                pushed=self._pushed,
                backoff=self._backoff,
                after=old.get(target.url),
                make_store=self._make_store,
            )
            for target in targets_of(config)
        }
        with self._lock:
            self._workers = workers
        for worker in workers.values():
            worker.start()

    def close(self, grace: float = STOP_GRACE) -> bool:
        """Stops every worker: a push in flight gets ``grace`` seconds to
        finish, then is abandoned (a target cut short stays consistent).
        Returns whether every worker ended: one stuck in a request holds
        an upload thread that would delay the interpreter's exit."""
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()
        deadline = time.monotonic() + grace
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        busy = [worker for worker in workers if not worker.join(0)]
        for worker in busy:
            worker.abandon()
        left = [worker for worker in busy if not worker.join(ABANDON_WAIT)]
        for worker in left:
            # The manifest says what the target holds: the next start resumes there.
            log.warning("%s: a push did not stop in time; leaving it", worker.target.url)
        return not left

    # --- what follows a push ----------------------------------------------

    def _pushed(self, target: Target, report: PushReport) -> None:
        """Runs on the target's worker: its CDN purged, then its hubs told."""
        purge(target, report.changed)
        if report.feeds:
            self._hubs.notify(target.public(name) for name in report.feeds)

    # --- status -----------------------------------------------------------

    def health(self) -> dict[str, object]:
        """/healthz's "publish": each target's state, by its url. A failing
        target leaves /healthz's "ok" alone: serving here is fine."""
        return {url: worker.health().as_json() for url, worker in self._current()}

    def _gauges(self) -> Iterator[PublishGauges]:
        for url, worker in self._current():
            health = worker.health()
            last = health.last_push.timestamp() if health.last_push else 0.0
            yield url, health.lag_seconds, health.pending_objects, last

    def _current(self) -> list[tuple[str, TargetWorker]]:
        with self._lock:
            return list(self._workers.items())
