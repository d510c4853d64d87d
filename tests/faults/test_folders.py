"""The seeds folder removed and recreated (or swapped for another), and the
output folder removed, while `feeds run` runs: it recovers without a restart."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import seed_text
from tests.daemon_harness import NotifySocket, RunningDaemon, titles, wait_for
from tests.faults_support import health, invalid_documents, make_site


def _write(folder: Path, name: str, title: str) -> None:
    (folder / name).write_text(seed_text(title=title, link=f"https://e.org/{name}"))


def _all(site: Path) -> Path:
    return site / "output" / "all.json"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_site(tmp_path)
    _write(tmp_path / "seeds", "a.txt", "A")
    return tmp_path


@pytest.fixture
def daemon(site: Path) -> Iterator[RunningDaemon]:
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        wait_for(lambda: titles(_all(site)) == ["A"])
        yield running
    finally:
        running.stop()


def test_the_seeds_folder_removed_and_recreated(site: Path, daemon: RunningDaemon) -> None:
    seeds = site / "seeds"
    shutil.rmtree(seeds)
    daemon.wait_for_log(r"WARNING .*the seeds folder .* is gone")
    assert daemon.process.poll() is None
    seeds.mkdir()
    recreated = time.monotonic()
    _write(seeds, "b.txt", "B")
    wait_for(lambda: titles(_all(site)) == ["B"], what="the recreated folder's article")
    print(f"\nrecreated seeds folder published after {time.monotonic() - recreated:.2f} s")
    _write(seeds, "c.txt", "C")
    wait_for(lambda: sorted(titles(_all(site))) == ["B", "C"], what="a later article")
    # Said once while the folder was gone, not once a second; and the watch
    # is inotify again, not a fallback to polling.
    assert daemon.log.count("is gone") == 1, daemon.log
    assert daemon.log.count("cannot watch") == 0, daemon.log
    assert health(daemon)["watcher"] == "inotify"
    assert "Traceback" not in daemon.log


def test_the_seeds_folder_removed_and_made_again_at_once(site: Path, daemon: RunningDaemon) -> None:
    # `rm -rf seeds && mkdir seeds`: the new folder usually gets the freed
    # inode back, so it looks like the folder being watched, but is not.
    seeds = site / "seeds"
    shutil.rmtree(seeds)
    seeds.mkdir()
    _write(seeds, "b.txt", "B")
    wait_for(lambda: titles(_all(site)) == ["B"], what="the new folder's article")
    _write(seeds, "c.txt", "C")
    wait_for(lambda: sorted(titles(_all(site))) == ["B", "C"], what="a later article")


def test_a_seeds_folder_moved_away_keeps_the_last_feeds(site: Path, daemon: RunningDaemon) -> None:
    # Like an unmounted disk: no file was deleted, so no article was.
    (site / "seeds").rename(site / "moved")
    daemon.wait_for_log(r"WARNING .*the seeds folder .* is gone")
    _write(site / "moved", "late.txt", "Late")  # events of the old folder mean nothing now
    daemon.signal(signal.SIGHUP)  # a reload rescans: still nothing to publish from
    daemon.wait_for_log("config reloaded")
    assert titles(_all(site)) == ["A"]
    (site / "moved").rename(site / "seeds")
    wait_for(lambda: sorted(titles(_all(site))) == ["A", "Late"], what="the folder moved back")
    assert health(daemon)["ok"] is True


def _shows(site: Path, daemon: RunningDaemon, *expected: str) -> Callable[[], bool]:
    def shown() -> bool:
        assert daemon.process.poll() is None, daemon.log
        return titles(_all(site)) == list(expected)

    return shown


def _inotify_instances(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if "inotify" in _readlink(fd))


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def test_the_seeds_folder_swapped_for_another(site: Path, daemon: RunningDaemon) -> None:
    staged = site / "staged"
    staged.mkdir()
    _write(staged, "d.txt", "D")
    shutil.rmtree(site / "seeds")
    staged.rename(site / "seeds")
    wait_for(lambda: titles(_all(site)) == ["D"], what="the swapped-in folder's article")
    _write(site / "seeds", "e.txt", "E")
    wait_for(lambda: "E" in titles(_all(site)), what="an article saved in the new folder")
    for swap in range(3):
        staged.mkdir()
        _write(staged, f"f{swap}.txt", f"F{swap}")
        shutil.rmtree(site / "seeds")
        staged.rename(site / "seeds")
        wait_for(_shows(site, daemon, f"F{swap}"), what=f"swap {swap}\n{daemon.log}")
    # Each swap restarted the watcher; none of the old ones lives on.
    wait_for(lambda: health(daemon)["ok"], what="the watcher after the swaps")
    assert _inotify_instances(daemon.process.pid) == 1


def test_the_output_folder_removed(site: Path, daemon: RunningDaemon) -> None:
    shutil.rmtree(site / "output")
    removed = time.monotonic()
    wait_for(lambda: titles(_all(site)) == ["A"], what="the output folder rebuilt")
    print(f"\noutput folder rebuilt {time.monotonic() - removed:.2f} s after its removal")
    wait_for(lambda: (site / "output" / "index.html").exists())
    assert invalid_documents(site / "output") == []
    _write(site / "seeds", "b.txt", "B")
    wait_for(lambda: titles(_all(site)) == ["B", "A"], what="a later article")
    assert "Traceback" not in daemon.log


def test_a_seeds_folder_that_appears_after_the_start(site: Path) -> None:
    shutil.rmtree(site / "seeds")
    running = RunningDaemon(site / "feeds.yaml")
    try:
        running.wait_ready()
        running.wait_for_log(r"WARNING .*the seeds folder .* is gone")
        (site / "seeds").mkdir()
        _write(site / "seeds", "a.txt", "A")
        wait_for(lambda: titles(_all(site)) == ["A"], what="the article of the new folder")
        # Watched with inotify like any other folder, not demoted to polling.
        assert health(running)["watcher"] == "inotify"
        assert "Traceback" not in running.log
    finally:
        running.stop()


def test_the_systemd_watchdog_is_fed_while_the_seeds_folder_is_gone(site: Path) -> None:
    # A restart cannot bring the folder back; systemd must not be made to try.
    notify = NotifySocket(site / "notify.sock")
    running = RunningDaemon(
        site / "feeds.yaml",
        "--no-serve",
        env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "400000"},
    )
    try:
        wait_for(lambda: "READY=1" in notify.messages, what="READY=1")
        shutil.rmtree(site / "seeds")
        running.wait_for_log(r"WARNING .*the seeds folder .* is gone")
        pings = notify.messages.count("WATCHDOG=1")
        wait_for(lambda: notify.messages.count("WATCHDOG=1") >= pings + 3, what="more pings")
    finally:
        running.stop()
        notify.close()
