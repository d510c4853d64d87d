"""The rebuild queue: debounced, coalesced, one rebuild at a time, never lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from apscheduler.jobstores.memory import MemoryJobStore

from feeds.service.scheduler import RebuildScheduler
from tests.daemon_harness import wait_for


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[frozenset[Path], bool]] = []
        self.delay = delay
        self.running = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, paths: frozenset[Path], full: bool) -> None:
        with self._lock:
            self.running += 1
            self.overlapped = self.overlapped or self.running > 1
        time.sleep(self.delay)  # stands in for a rebuild's work
        with self._lock:
            self.running -= 1
            self.calls.append((paths, full))

    @property
    def paths(self) -> set[Path]:
        return {path for paths, _ in self.calls for path in paths}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def scheduler(recorder: Recorder) -> Iterator[RebuildScheduler]:
    running = RebuildScheduler(recorder, debounce=0.05, max_delay=1.0, rescan_interval=3600)
    running.start()
    yield running
    running.shutdown()


def test_a_burst_of_requests_gives_few_rebuilds_and_loses_nothing(
    scheduler: RebuildScheduler, recorder: Recorder
) -> None:
    recorder.delay = 0.05
    expected = {Path(f"/seeds/{n}.txt") for n in range(3000)}
    for path in sorted(expected):
        scheduler.request([path])
    wait_for(lambda: recorder.paths == expected, what="every path rebuilt")
    assert len(recorder.calls) <= 5, f"{len(recorder.calls)} rebuilds for one burst"
    assert not recorder.overlapped


def test_requests_during_a_rebuild_run_after_it_never_alongside(
    scheduler: RebuildScheduler, recorder: Recorder
) -> None:
    recorder.delay = 0.3
    scheduler.request([Path("/a")], now=True)
    wait_for(lambda: recorder.running == 1, what="the first rebuild to start")
    for n in range(50):
        scheduler.request([Path(f"/b{n}")])
    wait_for(lambda: len(recorder.paths) == 51, what="the later requests")
    assert not recorder.overlapped
    assert len(recorder.calls) == 2


def test_a_full_rescan_request_is_passed_on(
    scheduler: RebuildScheduler, recorder: Recorder
) -> None:
    scheduler.request([Path("/a")])
    scheduler.request_rescan()
    wait_for(lambda: recorder.calls, what="a rebuild")
    assert recorder.calls[0] == (frozenset({Path("/a")}), True)


def test_debounce_waits_for_quiet(recorder: Recorder) -> None:
    scheduler = RebuildScheduler(recorder, debounce=0.5, max_delay=5.0, rescan_interval=3600)
    scheduler.start()
    try:
        started = time.monotonic()
        scheduler.request([Path("/a")])
        wait_for(lambda: recorder.calls)
        assert time.monotonic() - started >= 0.45
    finally:
        scheduler.shutdown()


def test_embargo_fires_at_its_time(scheduler: RebuildScheduler, recorder: Recorder) -> None:
    due = datetime.now(UTC) + timedelta(seconds=0.5)
    scheduler.set_embargo(due)
    wait_for(lambda: recorder.calls, what="the embargo publish")
    assert datetime.now(UTC) >= due


def test_a_cleared_embargo_does_not_fire(scheduler: RebuildScheduler, recorder: Recorder) -> None:
    scheduler.set_embargo(datetime.now(UTC) + timedelta(seconds=0.3))
    scheduler.set_embargo(None)
    scheduler.request([Path("/marker")], now=True)
    wait_for(lambda: recorder.calls)
    time.sleep(0.6)  # past the cancelled time: nothing more may arrive
    assert len(recorder.calls) == 1


def test_a_failing_rebuild_does_not_stop_the_queue(recorder: Recorder) -> None:
    calls: list[frozenset[Path]] = []

    def flaky(paths: frozenset[Path], full: bool) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("boom")

    scheduler = RebuildScheduler(flaky, debounce=0.01, rescan_interval=3600)
    scheduler.start()
    try:
        scheduler.request([Path("/a")], now=True)
        wait_for(lambda: calls)
        scheduler.request([Path("/b")], now=True)
        wait_for(lambda: len(calls) == 2, what="the queue to survive an error")
        assert scheduler.is_alive()
    finally:
        scheduler.shutdown()


def test_shutdown_during_a_rebuild_that_arms_an_embargo_does_not_deadlock() -> None:
    started = threading.Event()
    schedulers: list[RebuildScheduler] = []

    def work(paths: frozenset[Path], full: bool) -> None:
        started.set()
        time.sleep(0.3)  # shutdown begins while this rebuild is still running
        schedulers[0].set_embargo(datetime.now(UTC) + timedelta(hours=1))

    scheduler = RebuildScheduler(work, debounce=0.01, rescan_interval=3600)
    schedulers.append(scheduler)
    scheduler.start()
    scheduler.request(now=True)
    assert started.wait(10)
    stopper = threading.Thread(target=scheduler.shutdown, daemon=True)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive(), "shutdown deadlocked against a running rebuild"


def test_is_alive_while_started_and_not_after_shutdown(recorder: Recorder) -> None:
    scheduler = RebuildScheduler(recorder, debounce=0.01, rescan_interval=3600)
    assert not scheduler.is_alive()
    scheduler.start()
    try:
        assert scheduler.is_alive()
    finally:
        scheduler.shutdown()
    assert not scheduler.is_alive()


class _FailingStore(MemoryJobStore):  # type: ignore[misc]  # APScheduler has no types
    """A job store that fails where APScheduler's scheduling loop does not catch it."""

    failing = False

    def get_next_run_time(self) -> datetime | None:
        if self.failing:
            raise RuntimeError("job store lost")
        return cast(datetime | None, super().get_next_run_time())


def test_a_dead_scheduling_loop_is_seen(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon exits for a restart when the loop is gone; it must be able to tell."""
    scheduler = RebuildScheduler(recorder, debounce=0.01, rescan_interval=3600)
    store = _FailingStore()
    scheduler._scheduler.add_jobstore(store, "default")
    scheduler.start()
    try:
        assert scheduler.is_alive()
        store.failing = True
        scheduler.request(now=True)
        wait_for(lambda: not scheduler.is_alive(), what="the loop's death to be seen")
    finally:
        store.failing = False
        scheduler.shutdown()
    assert "the rebuild scheduler stopped" in caplog.text


class Stuck:
    """A rebuild that waits for ``release`` (the first one only), counting the rest."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[tuple[frozenset[Path], bool]] = []

    def __call__(self, paths: frozenset[Path], full: bool) -> None:
        self.calls.append((paths, full))
        if len(self.calls) == 1:
            self.started.set()
            self.release.wait(60)


def test_a_stuck_rebuild_neither_floods_the_log_nor_piles_up_rebuilds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rescans and requests go on while a rebuild hangs: they must neither
    queue behind it (APScheduler then warns at every rescan) nor pile up
    more than one rebuild to run once it ends."""
    work = Stuck()
    scheduler = RebuildScheduler(work, debounce=0.01, rescan_interval=0.05)
    rescans: list[float] = []
    request_rescan = scheduler.request_rescan

    def counted_rescan() -> None:
        rescans.append(time.monotonic())
        request_rescan()

    scheduler.request_rescan = counted_rescan  # type: ignore[method-assign]
    scheduler.start()
    try:
        scheduler.request([Path("/first")], now=True)
        assert work.started.wait(10)
        for n in range(300):
            scheduler.request([Path(f"/{n}")], now=n % 2 == 0)
        wait_for(lambda: len(rescans) >= 20, what="rescans while the rebuild hangs")
        running_for = scheduler.running_for()
        assert running_for is not None
        assert running_for > 0
        work.release.set()
        wait_for(scheduler.idle, what="the queue to drain")
    finally:
        work.release.set()
        scheduler.shutdown()
    assert "maximum number of running instances" not in caplog.text
    later = work.calls[1:]
    assert {path for paths, _ in later for path in paths} == {Path(f"/{n}") for n in range(300)}
    assert len(later) <= 3, f"{len(later)} rebuilds queued behind the stuck one"
    assert scheduler.running_for() is None


def test_shutdown_gives_up_on_a_rebuild_that_does_not_end() -> None:
    work = Stuck()
    scheduler = RebuildScheduler(work, debounce=0.01, rescan_interval=3600)
    scheduler.start()
    try:
        scheduler.request(now=True)
        assert work.started.wait(10)
        outcome: list[bool] = []
        stopper = threading.Thread(target=lambda: outcome.append(scheduler.shutdown(0.2)))
        stopper.start()
        stopper.join(10)
        assert not stopper.is_alive(), "shutdown waited for the stuck rebuild"
        assert outcome == [False]
        assert not scheduler.is_alive()
    finally:
        work.release.set()


def test_shutdown_says_when_the_rebuild_in_progress_ended(recorder: Recorder) -> None:
    recorder.delay = 0.3
    scheduler = RebuildScheduler(recorder, debounce=0.01, rescan_interval=3600)
    scheduler.start()
    scheduler.request(now=True)
    wait_for(lambda: recorder.running == 1, what="the rebuild to start")
    assert scheduler.shutdown(30) is True
    assert len(recorder.calls) == 1
