"""When rebuilds happen: one queue (APScheduler 3) for every reason to rebuild.

File changes, embargoes coming due and the periodic rescan all end up as a
request here. Requests merge into one pending rebuild; a single worker thread
runs rebuilds one at a time, so two never overlap and a burst of thousands of
events gives a handful of rebuilds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger("feeds.scheduler")

#: Does one rebuild: the paths that may have changed, and whether to rescan all.
Work = Callable[[frozenset[Path], bool], None]

_REBUILD_JOB = "rebuild"
_EMBARGO_JOB = "embargo"
_RESCAN_JOB = "rescan"
_RETRY_JOB = "retry"
#: The executor of the jobs that only ask for a rebuild (rescans, retries,
#: embargoes): never the rebuild's own, or one rebuild that hangs holds them
#: all back, and APScheduler warns at every rescan it cannot start.
_REQUESTS = "requests"

#: A change of the wall clock against the monotonic one larger than this, between
#: two checks, is a jump (NTP slews far slower; a suspend looks like a jump too).
CLOCK_JUMP = 1.0


class RebuildScheduler:
    def __init__(
        self,
        work: Work,
        *,
        debounce: float = 0.25,
        max_delay: float = 2.0,
        rescan_interval: float = 600.0,
    ) -> None:
        self._work = work
        self.debounce = debounce
        # A folder that never goes quiet still gets rebuilt this often.
        self.max_delay = max(max_delay, debounce)
        self.rescan_interval = rescan_interval
        self._lock = threading.Lock()
        # Held while a rebuild runs, so shutdown can wait for it *before*
        # APScheduler's own shutdown: that one holds the job-store lock while
        # it waits for running jobs, and a job that then arms the embargo or a
        # retry would deadlock against it.
        self._running = threading.Lock()
        self._stopping = False
        self._pending = _Pending()  # under _lock
        self._started: float | None = None  # monotonic start of the rebuild in progress
        self._clock_offset: float | None = None  # wall minus monotonic at the last check
        self._scheduler = _apscheduler()
        self._embargo = _Embargo(self._scheduler, self._lock, lambda: self.request(now=True))
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------

    def start(self) -> None:
        """Returns once the scheduler runs; RuntimeError if it could not start."""
        if self._thread is not None:
            raise RuntimeError("a RebuildScheduler can only be started once")
        self._clock_offset = time.time() - time.monotonic()
        started = threading.Event()

        def on_started(event: SchedulerEvent) -> None:
            started.set()

        self._scheduler.add_listener(on_started, EVENT_SCHEDULER_STARTED)
        self._thread = threading.Thread(
            target=self._loop, args=(started,), name="feeds-scheduler", daemon=True
        )
        self._thread.start()
        started.wait()
        self._scheduler.remove_listener(on_started)
        if not self._scheduler.running:
            raise RuntimeError("the rebuild scheduler did not start (see the log)")
        self._scheduler.add_job(
            self.request_rescan,
            "interval",
            seconds=self.rescan_interval,
            id=_RESCAN_JOB,
            max_instances=1,
            executor=_REQUESTS,
        )

    def _loop(self, started: threading.Event) -> None:
        try:
            self._scheduler.start()
        except Exception:
            log.exception("the rebuild scheduler stopped")
        finally:
            # Also when start() failed before its started event.
            started.set()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stops the schedule; waits for a rebuild in progress to finish its
        writes, for at most ``timeout`` seconds. Returns whether it finished:
        if not, its thread is left running (the caller must then end the
        process without waiting for its threads)."""
        self._stopping = True
        finished = self._running.acquire(timeout=-1 if timeout is None else timeout)
        if finished:
            self._running.release()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=finished)
        if self._thread is not None:
            self._thread.join()
        return finished

    def stopping(self) -> bool:
        """Whether a shutdown began: long work on the worker may give up."""
        return self._stopping

    def is_alive(self) -> bool:
        thread = self._thread
        return bool(self._scheduler.running) and thread is not None and thread.is_alive()

    def idle(self) -> bool:
        """Nothing waiting to be rebuilt and no rebuild running."""
        with self._lock:
            pending = self._pending.since is not None
        return not pending and not self._running.locked()

    def running_for(self) -> float | None:
        """Seconds the rebuild in progress has run; None when none runs."""
        started = self._started
        return None if started is None else time.monotonic() - started

    def set_rescan_interval(self, seconds: float) -> None:
        self.rescan_interval = seconds
        if self._scheduler.running:
            self._scheduler.reschedule_job(_RESCAN_JOB, trigger="interval", seconds=seconds)

    # --- requests ------------------------------------------------------

    def request(self, paths: Iterable[Path] = (), *, full: bool = False, now: bool = False) -> None:
        """Asks for a rebuild: after the debounce quiet time, or at once with ``now``."""
        if self._stopping:
            return
        with self._lock:
            run_at = self._pending.add(paths, full, 0.0 if now else self.debounce, self.max_delay)
            if self._pending.armed:
                # Scheduled: moved to the new time. Already handed to the
                # worker: it takes these requests too when it starts.
                with contextlib.suppress(JobLookupError):
                    self._scheduler.modify_job(_REBUILD_JOB, next_run_time=run_at)
                return
            self._pending.armed = True
            self._scheduler.add_job(
                self._run, "date", run_date=run_at, id=_REBUILD_JOB, replace_existing=True
            )

    def request_rescan(self) -> None:
        self.request(full=True, now=True)

    def retry_later(self, seconds: float) -> None:
        """Asks for a full rebuild after ``seconds`` (after a failed write, say)."""
        if self._stopping:
            return
        self._scheduler.add_job(
            self.request_rescan,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=seconds),
            id=_RETRY_JOB,
            replace_existing=True,
            executor=_REQUESTS,
        )

    def set_embargo(self, when: datetime | None) -> None:
        """Arms a publish at ``when`` (the next embargoed article's time), or disarms it."""
        if self._stopping:
            return
        self._embargo.arm(when)

    def check_clock(self) -> None:
        """Called about once a second. APScheduler sleeps on waits worked out
        from the wall clock at the time (monotonic sleeps, wall-clock dates):
        after a jump forward a due embargo would wait out the stale sleep,
        after a jump back every pending date would come late by the jump."""
        offset = time.time() - time.monotonic()
        previous, self._clock_offset = self._clock_offset, offset
        if previous is not None and abs(offset - previous) > CLOCK_JUMP:
            log.warning("the wall clock jumped by %+.0f s; rescheduling", offset - previous)
            if self._scheduler.running:
                # A fresh interval from now; the old one counted from the old clock.
                self.set_rescan_interval(self.rescan_interval)
            # Runs whatever was pending, re-arms the embargo from the new clock
            # (its publish decides with that clock), and wakes APScheduler to
            # work out every wait again.
            self.request_rescan()
            return
        self._embargo.check()

    def _run(self) -> None:
        with self._running:
            if self._stopping:
                return
            with self._lock:
                taken = self._pending.take()
            if taken is None:  # an earlier run took the requests
                return
            paths, full = taken
            self._started = time.monotonic()
            try:
                self._work(paths, full)
            except Exception:  # a bug; the daemon must outlive it
                log.exception("rebuild failed")
            finally:
                self._started = None


def _apscheduler() -> BlockingScheduler:
    # BlockingScheduler.start() runs the scheduling loop in the thread that
    # calls it, so the loop runs in a thread of ours whose liveness we can
    # check; BackgroundScheduler keeps its thread in a private attribute.
    return BlockingScheduler(
        executors={
            "default": ThreadPoolExecutor(max_workers=1),
            _REQUESTS: ThreadPoolExecutor(max_workers=1),
        },
        job_defaults={
            "coalesce": True,
            # Never drop a rebuild because the machine was busy or asleep.
            "misfire_grace_time": None,
            # At most one rebuild queues behind the running one (see
            # _Pending.armed); a skipped job would leave its requests waiting.
            "max_instances": 100,
        },
        timezone=UTC,
    )


class _Pending:
    """The requests no rebuild has taken yet (under the scheduler's lock)."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.full = False
        self.since: float | None = None  # monotonic time of the oldest request
        #: A rebuild job is scheduled or handed to the worker and has not yet
        #: taken the pending requests: a new request joins it. Behind a rebuild
        #: that hangs, one rebuild waits, not one per request.
        self.armed = False

    def add(self, paths: Iterable[Path], full: bool, delay: float, max_delay: float) -> datetime:
        """Adds a request; returns when the rebuild is due: ``delay`` from
        now, and at most ``max_delay`` after the oldest request."""
        self.paths.update(paths)
        self.full = self.full or full
        current = time.monotonic()
        if self.since is None:
            self.since = current
        due = min(current + delay, self.since + max_delay)
        return datetime.now(UTC) + timedelta(seconds=max(0.0, due - current))

    def take(self) -> tuple[frozenset[Path], bool] | None:
        """The paths and whether to rescan all, for the rebuild that starts;
        None when an earlier one took them."""
        self.armed = False
        if self.since is None:
            return None
        paths, full = frozenset(self.paths), self.full
        self.paths.clear()
        self.full = False
        self.since = None
        return paths, full


class _Embargo:
    """The rebuild due when the next embargoed article is: a job of
    ``scheduler`` that calls ``due``, also called by `check` should the wall
    clock pass the time unseen."""

    def __init__(
        self, scheduler: BlockingScheduler, lock: threading.Lock, due: Callable[[], None]
    ) -> None:
        self._scheduler = scheduler
        self._lock = lock
        self._due = due
        self._when: datetime | None = None  # armed, until it is requested

    def arm(self, when: datetime | None) -> None:
        """Arms a publish at ``when``, or disarms it."""
        with self._lock:
            self._when = when
        if when is None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(_EMBARGO_JOB)
            return
        self._scheduler.add_job(
            self._fire,
            "date",
            run_date=when,
            id=_EMBARGO_JOB,
            replace_existing=True,
            executor=_REQUESTS,
        )

    def _fire(self) -> None:
        with self._lock:
            self._when = None
        self._due()

    def check(self) -> None:
        with self._lock:
            due = self._when is not None and datetime.now(UTC) >= self._when
            if due:
                self._when = None
        if due:
            self._due()
