"""Watching the seeds folder (watchdog) and telling the daemon what changed."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_EVENTS_LOST,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    EventsLostEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from feeds.seeds.discovery import is_candidate
from feeds.system.folders import folder_identity

log = logging.getLogger("feeds.watcher")

#: Called with the article paths that may have changed, and whether a full
#: rescan is needed (a folder moved in or out, the seeds folder replaced).
OnChange = Callable[[set[Path], bool], None]

# A loss is handled by on_events_lost, which watchdog calls as well.
_IGNORED = {EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_EVENTS_LOST}
_POLL_INTERVAL = 1.0


class _Handler(FileSystemEventHandler):
    def __init__(self, patterns: Sequence[str], on_change: OnChange) -> None:
        self._patterns = patterns
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        # An exception here would end watchdog's observer thread: never let one out.
        try:
            self._dispatch(event)
        except Exception:
            log.exception("error while handling %s event", event.event_type)

    def on_events_lost(self, event: EventsLostEvent) -> None:
        # After an inotify queue overflow watchdog repairs its watches, but the
        # changes in the lost events are known only to a rescan.
        try:
            log.warning("file events were lost under %s; rescanning", event.src_path)
            self._on_change(set(), True)
        except Exception:
            log.exception("error while handling lost events")

    def _dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED:
            return
        if event.is_directory:
            # A folder created, moved or deleted can hold any number of
            # articles; a rescan is cheaper than guessing. Modified folders
            # only mean their entries changed, which come as file events.
            if event.event_type != EVENT_TYPE_MODIFIED:
                self._on_change(set(), True)
            return
        paths = {_as_path(event.src_path)}
        if event.dest_path:
            paths.add(_as_path(event.dest_path))
        relevant = {path for path in paths if is_candidate(path.name, self._patterns)}
        if relevant:
            self._on_change(relevant, False)


def _as_path(raw: str | bytes) -> Path:
    return Path(os.fsdecode(raw))


class Watcher:
    """A recursive watch of the seeds folder that can be checked and restarted."""

    def __init__(
        self,
        seeds: Path,
        patterns: Sequence[str],
        on_change: OnChange,
        mode: str = "auto",
    ) -> None:
        self.seeds = seeds
        self.mode = mode
        self._handler = _Handler(patterns, on_change)
        self._observer: BaseObserver | None = None
        self._root_identity: tuple[int, int] | None = None
        self.polling = mode == "poll"

    def start(self) -> None:
        """Starts watching. Raises OSError when the folder cannot be watched at all."""
        self.stop()  # a restart must not leave the old observer (and its inotify fd) behind
        if not self.seeds.is_dir():
            # A missing folder is no reason to give up on inotify for good.
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(self.seeds))
        if not self.polling:
            try:
                self._start(Observer())
                return
            except OSError as error:
                if self.mode == "inotify":
                    raise
                log.warning(
                    "inotify unavailable for %s (%s); falling back to polling every %.0f s",
                    self.seeds,
                    error.strerror or error,
                    _POLL_INTERVAL,
                )
                self.polling = True
        self._start(PollingObserver(timeout=_POLL_INTERVAL))

    def _start(self, observer: BaseObserver) -> None:
        identity = folder_identity(self.seeds)
        observer.schedule(self._handler, str(self.seeds), recursive=True)
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            observer.stop()
            raise
        self._observer = observer
        self._root_identity = identity
        log.info("watching %s (%s)", self.seeds, "polling" if self.polling else "inotify")

    def stop(self, timeout: float = 2.0) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout)

    def is_alive(self) -> bool:
        """False when the observer thread died or the seeds folder was replaced."""
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        # The emitter ends when the folder it watches is deleted. Checked as
        # well as the identity: a folder deleted and made again at once often
        # gets the freed inode back, and would look like the one watched.
        if not observer.emitters or not all(e.is_alive() for e in observer.emitters):
            return False
        return folder_identity(self.seeds) == self._root_identity

    def restart(self) -> None:
        self.stop()
        self.start()
