"""Hostile changes to the seeds folder under a running `feeds run` (issue 13):
FIFOs renamed over seeds, symlinks swapped between a check and a read,
seeds renamed out and back. Each test drives a real daemon process and makes
the race real, as the probe that found it did; none relies on the race
being lost every time, and each says how often it was lost before the fix."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import seed_text
from tests.daemon_harness import NotifySocket, RunningDaemon, http_get, read_json, wait_for
from tests.faults_support import health, make_site

T = TypeVar("T")

SEEDS = 100
#: How long each test keeps racing the daemon.
RACE_SECONDS = 8.0


def _site(root: Path, extra: str = "") -> Path:
    config = make_site(root, f"rescan_interval: 1\nmax_items: 1000\n{extra}")
    for n in range(SEEDS):
        _write(root / "seeds" / f"s{n:03}.txt", f"S {n}")
    return config


def _write(path: Path, title: str) -> None:
    path.write_text(seed_text(title=title, link=f"https://e.org/{path.stem}"))


def _titles(root: Path) -> set[str]:
    document = read_json(root / "output" / "all.json")
    return {item["title"] for item in document["items"]} if document else set()


def _blocked_on_a_fifo(pid: int) -> bool:
    """Whether a thread of ``pid`` waits in the kernel for a FIFO's writer
    (Linux); only ends a race early once it is lost."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "wchan").read_text() == "wait_for_partner":
                return True
        except OSError:
            continue
    return False


def test_fifos_renamed_over_seeds_never_block_a_rebuild(tmp_path: Path) -> None:
    """Every seed is replaced by a FIFO and put back, every few milliseconds,
    while rescans run every second. Before the fix a rebuild opened one of
    them and waited for a writer for good (within 1-4 s of swapping in four
    runs out of four): nothing was published again."""
    daemon = RunningDaemon(_site(tmp_path))
    seeds = tmp_path / "seeds"
    everything = {f"S {n}" for n in range(SEEDS)}
    try:
        daemon.wait_ready()
        wait_for(lambda: _titles(tmp_path) == everything, what="the first build")
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < RACE_SECONDS:
            for n in range(SEEDS):
                os.mkfifo(seeds / f".fifo{n}")
                os.rename(seeds / f"s{n:03}.txt", seeds / f".aside{n}")
                os.rename(seeds / f".fifo{n}", seeds / f"s{n:03}.txt")
            time.sleep(0.002)
            for n in range(SEEDS):
                os.rename(seeds / f"s{n:03}.txt", seeds / f".fifo{n}")
                os.rename(seeds / f".aside{n}", seeds / f"s{n:03}.txt")
                os.unlink(seeds / f".fifo{n}")
            time.sleep(0.002)
            rounds += 1
            if rounds % 20 == 0 and _blocked_on_a_fifo(daemon.process.pid):
                break
        rebuilds = health(daemon)["rebuilds"]
        _write(seeds / "after.txt", "After")

        wait_for(
            lambda: _titles(tmp_path) == everything | {"After"},
            what=f"an article saved after the race ({rounds} rounds, {rebuilds} rebuilds)"
            f"\n{daemon.log}",
        )
        assert health(daemon)["ok"] is True
    finally:
        code = daemon.stop()
    assert code == 0, daemon.log
    assert "maximum number of running instances" not in daemon.log


def test_seeds_renamed_out_and_back_all_stay_published(tmp_path: Path) -> None:
    """Every seed is renamed out of the folder and back, round after round.
    Before the fix a read that met a seed away was kept as the verdict on it
    ("cannot read file: No such file or directory"), under the version the
    seed has again once back: it stayed out of the feeds after every rescan
    and after a restart."""
    config = _site(tmp_path)
    seeds, outside = tmp_path / "seeds", tmp_path / "outside"
    outside.mkdir()
    everything = {f"S {n}" for n in range(SEEDS)}
    daemon = RunningDaemon(config)
    try:
        daemon.wait_ready()
        wait_for(lambda: _titles(tmp_path) == everything, what="the first build")
        started = time.monotonic()
        rounds = 0
        while time.monotonic() - started < RACE_SECONDS:
            for n in range(SEEDS):
                os.rename(seeds / f"s{n:03}.txt", outside / f"s{n:03}.txt")
            for n in range(SEEDS):
                os.rename(outside / f"s{n:03}.txt", seeds / f"s{n:03}.txt")
            rounds += 1
        _write(seeds / "after.txt", "After")
        everything.add("After")
        wait_for(
            lambda: _titles(tmp_path) == everything,
            what=f"every seed published after {rounds} rounds\n{daemon.log}",
        )
    finally:
        code = daemon.stop()
    assert code == 0, daemon.log

    (tmp_path / "output" / "all.json").unlink()
    restarted = RunningDaemon(config)
    try:
        restarted.wait_ready()
        assert _titles(tmp_path) == everything, restarted.log
    finally:
        assert restarted.stop() == 0, restarted.log


def test_a_link_swapped_out_of_the_seeds_folder_never_publishes_what_is_outside(
    tmp_path: Path,
) -> None:
    """``a-link.txt -> b-target.txt``, and ``b-target.txt`` swapped between
    a file and a link to a file outside the seeds folder, with reloads
    (each a rescan) every 0.2 s. Before the fix the outside file's title
    reached the feeds (probe: 36 times in one run; here within the first
    seconds in every run tried)."""
    config = make_site(tmp_path, "rescan_interval: 1\n")
    seeds, outside = tmp_path / "seeds", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(seed_text(title="Outside", link="https://e.org/out"))
    (seeds / ".keep").write_text(seed_text(title="Inside", link="https://e.org/in"))
    os.link(seeds / ".keep", seeds / "b-target.txt")
    (seeds / "a-link.txt").symlink_to("b-target.txt")
    output = tmp_path / "output"
    daemon = RunningDaemon(config)
    leaks = 0
    try:
        daemon.wait_ready()
        wait_for(lambda: _titles(tmp_path) == {"Inside"}, what="the first build")
        started = last_reload = time.monotonic()
        while time.monotonic() - started < RACE_SECONDS:
            os.symlink(outside / "secret.txt", seeds / ".staged")
            os.replace(seeds / ".staged", seeds / "b-target.txt")
            os.link(seeds / ".keep", seeds / ".staged")
            os.replace(seeds / ".staged", seeds / "b-target.txt")
            if time.monotonic() - last_reload > 0.2:
                last_reload = time.monotonic()
                daemon.signal(signal.SIGHUP)
                leaks += "Outside" in _titles(tmp_path)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: health(daemon)["idle"], what="the last rescan")
        leaks += "Outside" in _titles(tmp_path)
        for path in output.rglob("*"):
            if path.is_file():
                assert b"https://e.org/out" not in path.read_bytes(), path
        assert leaks == 0, f"the outside file was published {leaks} times"
        assert _titles(tmp_path) == {"Inside"}
    finally:
        code = daemon.stop()
    assert code == 0, daemon.log


# --- a rebuild that never ends ---------------------------------------------------

STUCK_HOOK = Path(__file__).resolve().parent.parent / "stuck_rebuild.py"
#: The daemon's bound in these tests (`rebuild_timeout`), in seconds.
REBUILD_TIMEOUT = 2


def _stuck_daemon(root: Path, notify: NotifySocket | None = None) -> tuple[RunningDaemon, Path]:
    config = make_site(root, f"rescan_interval: 1\nrebuild_timeout: {REBUILD_TIMEOUT}\n")
    _write(root / "seeds" / "a.txt", "A")
    fifo = root / "hang"
    os.mkfifo(fifo)
    env = {"FEEDS_TEST_STUCK_FIFO": str(fifo)}
    if notify is not None:
        env |= {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "400000"}
    daemon = RunningDaemon(config, env=env, wrapper=[sys.executable, str(STUCK_HOOK)])
    _wait(daemon, lambda: "ready" in daemon.log, "ready")
    _wait(daemon, lambda: _titles(root) == {"A"}, "the first build")
    _write(root / "seeds" / "stuck.txt", "Stuck")  # its rebuild blocks on the FIFO
    return daemon, fifo


def _wait(daemon: RunningDaemon, condition: Callable[[], T | None], what: str) -> T:
    try:
        return wait_for(condition, what=what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{daemon.log}") from None


def _unhealthy(daemon: RunningDaemon) -> Mapping[str, Any] | None:
    state = health(daemon)
    return state if state["ok"] is False else None


def _release(fifo: Path) -> None:
    """Lets the blocked read through (it then reads an ordinary seed)."""
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_stuck_rebuild_turns_the_daemon_unhealthy_until_it_ends(tmp_path: Path) -> None:
    """Before the fix /healthz said ok and the systemd watchdog was fed for
    as long as the rebuild hung, and every rescan that queued behind it
    logged APScheduler's "maximum number of running instances" warning."""
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon, fifo = _stuck_daemon(tmp_path, notify)
    try:
        stuck = _wait(daemon, lambda: _unhealthy(daemon), "/healthz to report the stuck rebuild")
        status, _, _ = http_get(daemon.url("healthz"))
        assert status == 503
        assert stuck["scheduler"] == "stuck"
        daemon.wait_for_log(
            rf"ERROR feeds\.daemon: a rebuild has run for more than {REBUILD_TIMEOUT} s"
        )
        pings = notify.messages.count("WATCHDOG=1")
        # Several more health ticks and rescans, by the daemon's own count.
        wait_for(
            lambda: health(daemon)["rebuild_seconds"] >= stuck["rebuild_seconds"] + 3,
            what="the stuck rebuild to go on",
        )
        assert notify.messages.count("WATCHDOG=1") == pings, "the watchdog was still fed"

        _release(fifo)

        wait_for(lambda: health(daemon)["ok"] is True, what="/healthz to recover")
        daemon.wait_for_log(r"WARNING feeds\.daemon: the stuck rebuild ended after \d+ s")
        wait_for(lambda: _titles(tmp_path) == {"A", "Stuck"}, what="the stuck seed published")
        wait_for(lambda: notify.messages.count("WATCHDOG=1") > pings, what="pings again")
    finally:
        code = daemon.stop()
        notify.close()
    assert code == 0, daemon.log
    assert "maximum number of running instances" not in daemon.log


def test_sigterm_ends_a_daemon_whose_rebuild_is_stuck(tmp_path: Path) -> None:
    """Before the fix SIGTERM logged "stopping" and the process lived on until
    SIGKILL: the stop waited for the rebuild, and so did a reload."""
    daemon, fifo = _stuck_daemon(tmp_path)
    try:
        _wait(daemon, lambda: _unhealthy(daemon), "the stuck rebuild")
        daemon.signal(signal.SIGHUP)  # a reload must not wait for it either
        daemon.wait_for_log(r"reload waits for the rebuild in progress")
        daemon.signal(signal.SIGTERM)
        try:
            code = daemon.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after SIGTERM\n{daemon.log}") from None
    finally:
        daemon.stop()
        with contextlib.suppress(OSError):
            _release(fifo)
    assert code == 1, daemon.log
    assert re.search(
        r"ERROR feeds\.daemon: a rebuild stuck for \d+ s did not end; exiting without it",
        daemon.log,
    ), daemon.log
