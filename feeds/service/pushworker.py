"""One publish target kept current by its own thread (`feeds.service.publishing`
runs one per target).

The worker sleeps until the output changes, then pushes: it scans the output
folder while holding the build lock (no rebuild is mid-write then) and
uploads without it, so a push never delays a rebuild or the server. Changes
made during a push coalesce into one more push. A failing target is retried
with backoff, said once when it starts failing and once when it recovers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feeds.errors import PublishError
from feeds.remote.local import LocalObject, OutputFolder
from feeds.remote.manifest import EMPTY, Entry, Manifest
from feeds.remote.plan import entry_for, plan_push
from feeds.remote.pusher import OutputChanged, PushReport, push
from feeds.remote.store import S3Store, Store
from feeds.remote.targets import Target
from feeds.service.metrics import Metrics

log = logging.getLogger("feeds.publish")

#: Seconds the worker waits for the build lock before it looks whether it must stop.
LOCK_POLL = 0.5

#: What follows a target's successful push: its CDN purged, its hubs told.
Pushed = Callable[[Target, PushReport], None]


class Abandoned(Exception):
    """The worker was told to stop in the middle of a push."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds between tries of a failing target: doubling, capped, jittered."""

    first: float = 1.0
    max: float = 60.0

    def delay(self, failures: int, transient: bool) -> float:
        if not transient:
            return self.max  # the operator must act; trying more often cannot help
        base = min(self.max, self.first * 2.0 ** min(failures - 1, 30))
        # Jitter, so targets (and daemons) that failed together do not retry in step.
        return base * random.uniform(0.5, 1.0)  # noqa: S311  # jitter, not secrecy


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """A target as /healthz shows it."""

    state: str  # "current", "pushing", "waiting" or "failing"
    lag_seconds: float
    pending_objects: int
    last_push: datetime | None
    last_error: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "lag_seconds": round(self.lag_seconds, 1),
            "pending_objects": self.pending_objects,
            "last_push": self.last_push.isoformat() if self.last_push else None,
            "last_error": self.last_error,
        }


class _Guarded:
    """A `Store` that refuses every request once the worker is abandoned:
    the push stops between two requests, as if the process were cut, which
    the manifest's protocol keeps consistent."""

    def __init__(self, store: Store, abandoned: threading.Event) -> None:
        self._store, self._abandoned = store, abandoned

    def _check(self) -> Store:
        if self._abandoned.is_set():
            raise Abandoned
        return self._store

    def read_manifest(self) -> Manifest | None:
        return self._check().read_manifest()

    def write_manifest(self, manifest: Manifest) -> None:
        self._check().write_manifest(manifest)

    def put(self, name: str, body: bytes, entry: Entry) -> None:
        self._check().put(name, body, entry)

    def delete(self, names: Sequence[str]) -> None:
        self._check().delete(names)

    def adopt(self, wanted: Mapping[str, Entry], body: Callable[[str], bytes | None]) -> Manifest:
        return self._check().adopt(wanted, body)


@dataclass(slots=True)
class _State:
    """What the worker thread and its readers share; only with `TargetWorker._cond` held."""

    #: A change not yet in a push's scan: one more push is due.
    dirty: bool = False
    #: Monotonic time of the oldest change not yet pushed; None when current.
    unpushed_since: float | None = None
    #: Monotonic time of the oldest change since the current push's scan.
    newer_since: float | None = None
    pushing: bool = False
    #: Monotonic time the target started failing; None while it does not.
    failing_since: float | None = None
    failures: int = 0
    last_error: str | None = None
    last_push: datetime | None = None
    #: Uploads and deletions left, as last planned (or estimated).
    pending: int = 0
    #: Monotonic time before which a failing target is not tried again.
    retry_at: float = 0.0
    closing: bool = False

    def health(self, now: float) -> TargetHealth:
        since = self.unpushed_since
        if self.failing_since is not None:
            name = "failing"
        elif self.pushing:
            name = "pushing"
        else:
            name = "waiting" if since is not None else "current"
        lag, pending = (0.0, 0) if since is None else (now - since, self.pending)
        return TargetHealth(name, lag, pending, self.last_push, self.last_error)


class TargetWorker:
    """Pushes ``target`` from ``output`` whenever told of a change.

    Thread safety: `_state` is read and written only with `_cond` held (the
    one lock of this worker); the push runs without it. `_carry`, `_held`,
    `_store` and `_folder` belong to the worker thread alone. ``after`` is
    the worker this one replaces, for the same bucket: this one starts
    pushing only once that one's thread has ended.
    """

    def __init__(
        self,
        target: Target,
        output: Path,
        *,
        build_lock: threading.Lock,
        metrics: Metrics,
        pushed: Pushed,
        backoff: Backoff,
        after: TargetWorker | None = None,
        make_store: Callable[[Target], Store] = S3Store,
    ) -> None:
        self.target = target
        self._make_store = make_store
        self._build_lock, self._metrics, self._pushed = build_lock, metrics, pushed
        self._backoff, self._after = backoff, after
        self._folder = OutputFolder(output)  # kept: its hashes are cached between scans
        self._store: Store | None = None
        self._abandoned = threading.Event()
        self._cond = threading.Condition()
        self._state = _State()
        #: What pushes cut short stored, until one succeeds: still to purge and announce.
        self._carry: PushReport | None = None
        #: What the target holds after the last success: for the pending estimate.
        self._held: Manifest = EMPTY
        self._pushed_once = False
        self._thread = threading.Thread(target=self._run, name="feeds-publish", daemon=True)
        metrics.publish_target(target.url)

    # --- the daemon's side ------------------------------------------------

    def start(self) -> None:
        """Pushes once now (a restart uploads only what the target lacks)."""
        self.changed()
        self._thread.start()

    def changed(self) -> None:
        """The output folder changed: one more push is due."""
        now = time.monotonic()
        with self._cond:
            state = self._state
            state.dirty = True
            state.unpushed_since = state.unpushed_since or now
            state.newer_since = state.newer_since or now
            self._cond.notify()

    def close(self) -> None:
        """Starts no further push; one in flight goes on (see `abandon`)."""
        with self._cond:
            self._state.closing = True
            self._cond.notify()

    def abandon(self) -> None:
        """Stops a push in flight at its next request to the store."""
        self.close()
        self._abandoned.set()

    def join(self, timeout: float | None) -> bool:
        """Waits for the thread to end; whether it did."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def health(self) -> TargetHealth:
        with self._cond:
            return self._state.health(time.monotonic())

    # --- the worker thread ------------------------------------------------

    def _run(self) -> None:
        if self._after is not None:
            # Two pushers of one manifest at once could each save over the other's.
            self._after.join(None)
        while self._next():
            self._attempt()

    def _next(self) -> bool:
        """Waits for a change to push and for any backoff; False once closing."""
        with self._cond:
            state = self._state
            while not state.closing:
                wait = state.retry_at - time.monotonic()
                if state.dirty and wait <= 0:
                    state.dirty, state.newer_since, state.pushing = False, None, True
                    return True
                self._cond.wait(wait if state.dirty else None)
            return False

    def _attempt(self) -> None:
        report = PushReport(self.target.url)
        started = time.monotonic()
        try:
            local = self._push(report)
        except OutputChanged:
            self._record(report, started)
            log.debug("%s: the output changed during the push; pushing again", self.target.url)
            self._again(None)
        except Abandoned:
            log.debug("%s: push abandoned", self.target.url)
        except PublishError as error:
            self._record(report, started)
            self._failed(error.reason, error.transient)
        except Exception:  # a bug must not end the thread: the target would stay stale
            log.exception("%s: the push failed unexpectedly", self.target.url)
            self._record(report, started)
            self._failed("the push failed unexpectedly (see the log)", True)
        else:
            self._record(report, started)
            self._succeeded(local)

    def _push(self, report: PushReport) -> dict[str, LocalObject]:
        if self._store is None:
            self._store = _Guarded(self._make_store(self.target), self._abandoned)
        local = self._scan()
        estimate = plan_push(local, self._held, self.target).pending
        self._set_pending(estimate)
        push(
            self.target,
            self._folder,
            self._store,
            local=local,
            report=report,
            on_plan=lambda work: self._set_pending(work.pending),
        )
        return local

    def _scan(self) -> dict[str, LocalObject]:
        """The output folder while no rebuild writes it."""
        while not self._build_lock.acquire(timeout=LOCK_POLL):
            with self._cond:
                if self._state.closing:
                    raise Abandoned
        try:
            return self._folder.scan()
        finally:
            self._build_lock.release()

    def _set_pending(self, count: int) -> None:
        with self._cond:
            self._state.pending = count

    def _record(self, report: PushReport, started: float) -> None:
        """Counts what an attempt stored, and keeps it until a push succeeds."""
        report.seconds = time.monotonic() - started
        self._metrics.pushed(self.target.url, report.uploaded, report.deleted, report.bytes)
        self._carry = report if self._carry is None else _merged(self._carry, report)

    def _again(self, retry_at: float | None) -> None:
        with self._cond:
            self._state.dirty, self._state.pushing = True, False
            self._state.retry_at = retry_at or 0.0

    def _failed(self, reason: str, transient: bool) -> None:
        self._metrics.push_failed(self.target.url)
        now = time.monotonic()
        with self._cond:
            state = self._state
            first = state.failing_since is None
            state.failing_since = state.failing_since or now
            state.failures += 1
            state.last_error = reason
            delay = self._backoff.delay(state.failures, transient)
        self._again(now + delay)
        _say_failing(self.target.url, reason, first, delay)

    def _succeeded(self, local: Mapping[str, LocalObject]) -> None:
        report, self._carry = self._carry or PushReport(self.target.url), None
        self._held = Manifest({name: entry_for(obj, self.target) for name, obj in local.items()})
        now = time.monotonic()
        with self._cond:
            state = self._state
            failed_since, state.failing_since = state.failing_since, None
            state.failures, state.last_error, state.pending = 0, None, 0
            state.pushing, state.retry_at = False, 0.0
            # Changes since the scan are still to push; all before it are pushed.
            state.unpushed_since = state.newer_since
            state.last_push = datetime.now(UTC)
        if failed_since is not None:
            log.info(
                "publish target %s recovered after %.0f s", self.target.url, now - failed_since
            )
        if report.uploaded or report.deleted or not self._pushed_once:
            log.info("%s", report.summary())
        self._pushed_once = True
        self._pushed(self.target, report)


def _say_failing(url: str, reason: str, first: bool, delay: float) -> None:
    """Once per failing spell, the reason; each retry only at debug level."""
    if first:
        log.warning(
            "publish target %s: %s; trying again in the background (/healthz shows it)",
            url,
            reason,
        )
    else:
        log.debug("%s: still failing (%s); next try in %.1f s", url, reason, delay)


def _merged(first: PushReport, then: PushReport) -> PushReport:
    """What two attempts did together, as one report."""
    return PushReport(
        first.target,
        uploaded=first.uploaded + then.uploaded,
        unchanged=then.unchanged,
        deleted=first.deleted + then.deleted,
        bytes=first.bytes + then.bytes,
        seconds=first.seconds + then.seconds,
        changed=list(dict.fromkeys([*first.changed, *then.changed])),
        feeds=list(dict.fromkeys([*first.feeds, *then.feeds])),
    )
