"""The watcher reports article changes, ignores litter, and can be revived."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import EventsLostEvent

from feeds.service.watcher import Watcher, _Handler
from tests.daemon_harness import wait_for


class Events:
    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.full = 0
        self._lock = threading.Lock()

    def __call__(self, paths: set[Path], full: bool) -> None:
        with self._lock:
            self.paths |= paths
            self.full += full


@pytest.fixture(params=["auto", "poll"])
def watched(request: pytest.FixtureRequest, seeds: Path) -> Iterator[tuple[Watcher, Events]]:
    events = Events()
    watcher = Watcher(seeds.absolute(), ["*.txt"], events, mode=request.param)
    watcher.start()
    yield watcher, events
    watcher.stop()


def test_article_files_are_reported_and_litter_is_not(
    watched: tuple[Watcher, Events], seeds: Path
) -> None:
    _watcher, events = watched
    for name in (".hidden.txt", "a.txt~", "a.txt.swp", "notes.tmp", "readme.rst"):
        (seeds / name).write_text("x")
    (seeds / "a.txt").write_text("x")
    wait_for(lambda: seeds.absolute() / "a.txt" in events.paths, what="a.txt")
    assert events.paths == {seeds.absolute() / "a.txt"}


def test_a_new_folder_asks_for_a_rescan(watched: tuple[Watcher, Events], seeds: Path) -> None:
    _watcher, events = watched
    (seeds / "batch").mkdir()
    wait_for(lambda: events.full, what="a rescan request")


def test_a_dead_observer_is_noticed_and_restarted(
    watched: tuple[Watcher, Events], seeds: Path
) -> None:
    watcher, events = watched
    observer = watcher._observer
    assert observer is not None
    observer.stop()
    observer.join(5)
    assert not watcher.is_alive()
    watcher.restart()
    assert watcher.is_alive()
    (seeds / "b.txt").write_text("x")
    wait_for(lambda: seeds.absolute() / "b.txt" in events.paths, what="events after restart")


def test_a_replaced_seeds_folder_counts_as_dead(
    watched: tuple[Watcher, Events], seeds: Path
) -> None:
    watcher, _ = watched
    seeds.rename(seeds.with_name("old-seeds"))
    seeds.mkdir()
    assert not watcher.is_alive()


def test_poll_mode_polls(seeds: Path) -> None:
    watcher = Watcher(seeds, ["*.txt"], Events(), mode="poll")
    watcher.start()
    try:
        assert watcher.polling
    finally:
        watcher.stop()


def test_inotify_trouble_falls_back_to_polling_and_says_so(
    seeds: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_inotify() -> None:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr("feeds.service.watcher.Observer", no_inotify)
    events = Events()
    watcher = Watcher(seeds.absolute(), ["*.txt"], events, mode="auto")
    with caplog.at_level("WARNING", logger="feeds.watcher"):
        watcher.start()
    try:
        assert watcher.polling
        assert "falling back to polling" in caplog.text
        (seeds / "c.txt").write_text("x")
        wait_for(lambda: seeds.absolute() / "c.txt" in events.paths, what="a polled change")
    finally:
        watcher.stop()


def test_inotify_mode_does_not_fall_back(seeds: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_inotify() -> None:
        raise OSError(24, "inotify instance limit reached")

    monkeypatch.setattr("feeds.service.watcher.Observer", no_inotify)
    with pytest.raises(OSError, match="instance limit"):
        Watcher(seeds, ["*.txt"], Events(), mode="inotify").start()


def test_an_exception_in_the_handler_does_not_kill_the_watcher(seeds: Path) -> None:
    seen: list[Path] = []

    def explosive(paths: set[Path], full: bool) -> None:
        seen.extend(paths)
        if len(seen) == 1:
            raise RuntimeError("bug in a callback")

    watcher = Watcher(seeds.absolute(), ["*.txt"], explosive)
    watcher.start()
    try:
        (seeds / "first.txt").write_text("x")
        wait_for(lambda: seen, what="the first event")
        (seeds / "second.txt").write_text("x")
        wait_for(lambda: seeds.absolute() / "second.txt" in seen, what="events after an error")
        assert watcher.is_alive()
    finally:
        watcher.stop()


def test_lost_events_ask_for_one_full_rescan(seeds: Path) -> None:
    """watchdog's way of saying an inotify queue overflowed (a real one is made
    in test_faults_watch.py)."""
    events = Events()
    handler = _Handler(["*.txt"], events)
    handler.dispatch(EventsLostEvent(str(seeds.absolute()), is_directory=True))
    assert (events.paths, events.full) == (set(), 1)
