"""Missed watcher events, made real. Files on a filesystem mounted inside the
seeds folder (inotify never sees them): the periodic rescan restores the truth
within its interval. An inotify queue overflow (the daemon stopped while the
kernel queue fills, watchdog reports the loss): a rescan at once, not at the
next periodic one."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, titles, wait_for
from tests.faults_support import health, make_site, tmpfs

RESCAN = 3  # seconds


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_site(tmp_path, f"rescan_interval: {RESCAN}\n")
    (tmp_path / "seeds" / "a.txt").write_text(seed_text(title="A", link="https://e.org/a"))
    (tmp_path / "seeds" / "mounted").mkdir()
    return tmp_path


@pytest.fixture
def daemon(site: Path) -> Iterator[RunningDaemon]:
    yield from _running(site)


def _running(site: Path) -> Iterator[RunningDaemon]:
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        wait_for(lambda: titles(_all(site)) == ["A"])
        yield running
    finally:
        running.stop()


def _flood(folder: Path, events: int) -> None:
    """Queues ``events`` inotify events: writes alternating between two files
    (the kernel merges an event only with an identical one just before it)."""
    descriptors = [
        os.open(folder / f"noise{n}.log", os.O_WRONLY | os.O_CREAT, 0o644) for n in (0, 1)
    ]
    try:
        for n in range(events):
            os.write(descriptors[n % 2], b"x")
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def _stopped(pid: int) -> bool:
    """Whether the process is stopped by a signal (state T in /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


@pytest.fixture
def long_rescan_daemon(site: Path) -> Iterator[RunningDaemon]:
    make_site(site, "rescan_interval: 3600\n")
    yield from _running(site)


def test_an_inotify_queue_overflow_asks_for_a_rescan_at_once(
    site: Path, long_rescan_daemon: RunningDaemon
) -> None:
    daemon = long_rescan_daemon
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    expected = {"A"} | {f"Lost {n}" for n in range(20)}
    daemon.signal(signal.SIGSTOP)
    # A stop is delivered in its own time: until then watchdog's reader still
    # drains the kernel's queue, and the flood may not overflow it.
    wait_for(lambda: _stopped(daemon.process.pid), what="the daemon stopped")
    try:
        _flood(site / "seeds", limit + 1000)
        for n in range(20):
            (site / "seeds" / f"lost{n}.txt").write_text(
                seed_text(title=f"Lost {n}", link=f"https://e.org/lost{n}")
            )
    finally:
        daemon.signal(signal.SIGCONT)
    resumed = time.monotonic()
    daemon.wait_for_log("file events were lost")  # watchdog says so (EventsLostEvent)
    # Long before the periodic rescan (an hour away): the overflow asked for one.
    wait_for(lambda: set(titles(_all(site))) == expected, what="the rescan after the overflow")
    print(f"\noverflow: truth restored {time.monotonic() - resumed:.2f} s after")
    assert health(daemon)["ok"] is True


def test_files_inotify_cannot_see_are_found_by_the_rescan(
    site: Path, daemon: RunningDaemon
) -> None:
    # A filesystem mounted inside the seeds folder: no event for the mount,
    # none for the files written in it.
    with tmpfs(site / "seeds" / "mounted", size_kib=1024) as mounted:
        (mounted / "b.txt").write_text(seed_text(title="B", link="https://e.org/b"))
        written = time.monotonic()
        wait_for(lambda: sorted(titles(_all(site))) == ["A", "B"], what="the rescan")
        print(
            f"\nunseen file published {time.monotonic() - written:.2f} s after (rescan {RESCAN} s)"
        )
        (mounted / "b.txt").unlink()
        wait_for(lambda: titles(_all(site)) == ["A"], what="the rescan to see the deletion")
