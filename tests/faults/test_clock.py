"""The daemon's wall clock jumps (libfaketime, monotonic clock kept real):
an embargoed article is never published before the clock says so, and a
scheduled publish or rebuild is not lost or left waiting on a stale sleep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import RunningDaemon, titles, wait_for
from tests.faults_support import faketime_env, health, make_site, tmpfs


def _write(site: Path, name: str, title: str, published: datetime | None = None) -> None:
    """Moves the article in: one file event, so exactly one rebuild follows."""
    when = (published or datetime(2024, 5, 1, tzinfo=UTC)).isoformat()
    staged = site / name
    staged.write_text(seed_text(title=title, link=f"https://e.org/{name}", published=when))
    staged.rename(site / "seeds" / name)


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


class Clock:
    """The daemon's wall clock: an offset in seconds from the real one."""

    def __init__(self, rc: Path) -> None:
        self.rc = rc

    def set(self, offset: int) -> None:
        self.rc.write_text(f"{offset:+d}\n")


def _start(site: Path, extra: str = "") -> tuple[RunningDaemon, Clock]:
    make_site(site, extra)
    env = faketime_env(site / "faketime.rc")
    return RunningDaemon(site / "feeds.yaml", env=env), Clock(site / "faketime.rc")


@pytest.fixture
def stack() -> Iterator[list[RunningDaemon]]:
    running: list[RunningDaemon] = []
    yield running
    for daemon in running:
        daemon.stop()


def _published_after(site: Path, daemon: RunningDaemon, name: str, title: str) -> list[str]:
    """Forces a rebuild under the current clock, waits until the daemon is
    idle again (that rebuild's next embargo armed), and returns what it published."""
    _write(site, name, title)
    wait_for(
        lambda: title in titles(_all(site)) and health(daemon)["idle"],
        what=f"the rebuild for {title}",
    )
    return titles(_all(site))


def test_a_forward_jump_publishes_a_due_embargo_at_once_and_no_other(
    tmp_path: Path, stack: list[RunningDaemon]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    (tmp_path / "seeds").mkdir()
    _write(tmp_path, "now.txt", "Now")
    _write(tmp_path, "hour.txt", "In an hour", now + timedelta(hours=1))
    _write(tmp_path, "day.txt", "In a day", now + timedelta(days=1))
    daemon, clock = _start(tmp_path)
    stack.append(daemon)
    daemon.wait_ready()
    assert titles(_all(tmp_path)) == ["Now"]
    # Half an hour later: still nothing due.
    clock.set(1800)
    assert "In an hour" not in _published_after(tmp_path, daemon, "t1.txt", "Trigger 1")
    # Past the first embargo, not the second.
    clock.set(3700)
    jumped = time.monotonic()
    wait_for(lambda: "In an hour" in titles(_all(tmp_path)), what="the due embargo")
    print(f"\nforward jump: due embargo published {time.monotonic() - jumped:.2f} s after")
    assert "In a day" not in _published_after(tmp_path, daemon, "t2.txt", "Trigger 2")


def test_a_backward_jump_neither_publishes_early_nor_loses_the_embargo(
    tmp_path: Path, stack: list[RunningDaemon]
) -> None:
    (tmp_path / "seeds").mkdir()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    _write(tmp_path, "now.txt", "Now")
    _write(tmp_path, "soon.txt", "Soon", due)
    daemon, clock = _start(tmp_path)
    stack.append(daemon)
    daemon.wait_ready()
    assert titles(_all(tmp_path)) == ["Now"]
    assert datetime.now(UTC) < due, "the machine was too slow to observe the embargo"
    clock.set(-120)  # two minutes back, before the embargo is due
    # The real time passes the embargo; the daemon's clock does not.
    wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=1), what="the real due time")
    assert "Soon" not in _published_after(tmp_path, daemon, "t1.txt", "Trigger 1")
    # The clock is put right: the embargo is due, now, not in two minutes.
    clock.set(0)
    corrected = time.monotonic()
    wait_for(lambda: "Soon" in titles(_all(tmp_path)), what="the embargo after the correction")
    print(f"\nclock corrected: embargo published {time.monotonic() - corrected:.2f} s after")


def test_a_backward_jump_during_the_debounce_does_not_delay_the_rebuild(
    tmp_path: Path, stack: list[RunningDaemon]
) -> None:
    (tmp_path / "seeds").mkdir()
    # A long quiet time, so the jump lands while the rebuild is waiting.
    daemon, clock = _start(tmp_path, "debounce_ms: 3000\n")
    stack.append(daemon)
    daemon.wait_ready()
    _write(tmp_path, "a.txt", "A")
    # The save cannot be observed before its rebuild; a second is ample for
    # inotify to deliver it (were it not, the test would pass, never fail).
    time.sleep(1.0)
    assert titles(_all(tmp_path)) == []
    clock.set(-3600)
    saved = time.monotonic()
    wait_for(lambda: titles(_all(tmp_path)) == ["A"], what="the rebuild after the jump")
    print(f"\nbackward jump: save published {time.monotonic() - saved:.2f} s after")


def test_the_periodic_rescan_keeps_its_interval_after_a_jump_back(
    tmp_path: Path, stack: list[RunningDaemon]
) -> None:
    (tmp_path / "seeds" / "mounted").mkdir(parents=True)
    daemon, clock = _start(tmp_path, "rescan_interval: 3\n")
    stack.append(daemon)
    daemon.wait_ready()
    clock.set(-3600)
    daemon.wait_for_log("the wall clock jumped by")
    wait_for(lambda: health(daemon)["rebuilds"] >= 2, what="the rescan after the jump")
    # Only the rescan can find this file (inotify does not see into the
    # mount), and it comes every 3 s, not an hour late.
    with tmpfs(tmp_path / "seeds" / "mounted", size_kib=1024) as mounted:
        (mounted / "b.txt").write_text(seed_text(title="B", link="https://e.org/b"))
        wait_for(lambda: titles(_all(tmp_path)) == ["B"], what="the next periodic rescan")
