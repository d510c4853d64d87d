"""Reading the seeds folder into a `SeedSet`: each file new or changed since
it was last read, on every core when there are many."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from feeds.build.records import Version, version_of
from feeds.build.seedset import SeedSet, listed_version
from feeds.config import Config
from feeds.errors import ArticleError, ConfigError, SeedsError
from feeds.model import Article
from feeds.seeds.discovery import discover_names, is_candidate
from feeds.seeds.reader import ReadOptions, read_many, read_seed
from feeds.seeds.seedfile import Fingerprint

#: Wraps the list of seed files while they are read, e.g. to draw a progress bar.
Progress = Callable[[Sequence[Path]], Iterable[Path]]


class Scanner:
    """Lists the seeds folder and reads its files into ``seeds``."""

    def __init__(self, config: Config, seeds: SeedSet) -> None:
        self._config = config
        self._options = ReadOptions(config.fix_text, config.summary_length, config.seeds)
        self._seeds = seeds

    def listing(self) -> list[str]:
        """Every seed file's name, in discovery order."""
        seeds = self._config.seeds
        if not seeds.is_dir():
            raise ConfigError(f"{seeds}: seeds folder not found")
        try:
            return discover_names(seeds, self._config.patterns)
        except OSError as error:
            raise SeedsError(f"{error.filename}: cannot list: {error.strerror}") from None

    def stale(self, paths: Sequence[str], skip: set[str]) -> dict[str, Version | None]:
        """The version as listed of each file of ``paths`` (but ``skip``) that
        must be read: new, changed, or last read without a verdict."""
        # Versions before reading: a file that changes while it is read then
        # looks changed to the next scan, never unchanged.
        versions: dict[str, Version | None] = {}
        for path in paths:
            if path in skip:
                continue
            version = listed_version(path)
            if self._seeds.needs_reading(path, version):
                versions[path] = version
        return versions

    def read_all(
        self, versions: Mapping[str, Version | None], progress: Progress | None = None
    ) -> list[str]:
        """Reads the files of ``versions`` (as `stale` lists them); returns
        the names whose state changed."""
        stale = list(versions)
        outcomes = read_many(stale, self._config.tz, self._options)
        ticks = iter(progress([Path(name) for name in stale])) if progress is not None else None
        read = []
        for path, article, reason, warnings, fingerprint in outcomes:
            if self._record_read(path, versions[path], article, reason, warnings, fingerprint):
                read.append(path)
            if ticks is not None:
                next(ticks, None)
        return read

    def update(self, paths: Iterable[Path]) -> list[str]:
        """Re-reads ``paths`` (reported by a watcher); a path that is gone or
        no longer an article file is forgotten. Returns the names changed."""
        changed = []
        for path in paths:
            name = str(path)
            if _is_file(path) and is_candidate(path.name, self._config.patterns):
                if self._seeds.needs_reading(name, listed_version(name)) and self.read(name):
                    changed.append(name)
            elif self._seeds.forget(name):
                changed.append(name)
        return changed

    def read(self, path: str) -> bool:
        """Reads one file; returns whether its state changed."""
        listed = listed_version(path)
        try:
            reading = read_seed(Path(path), self._config.tz, self._options)
        except ArticleError as error:
            return self._record_read(path, listed, None, error.reason, (), error.fingerprint)
        return self._record_read(
            path, listed, reading.article, None, reading.warnings, reading.fingerprint
        )

    def _record_read(
        self,
        path: str,
        listed: Version | None,
        article: Article | None,
        reason: str | None,
        warnings: tuple[str, ...],
        fingerprint: Fingerprint | None,
    ) -> bool:
        """Records what a read found; returns whether the file's state changed.

        A verdict is kept under the version of the file actually read, never
        the version listed before: a file replaced in between would otherwise
        hold the other file's verdict for as long as it stays as listed.
        """
        if fingerprint is not None:
            self._seeds.record(path, version_of(fingerprint), article, reason, warnings)
            return True
        if not os.path.lexists(path):  # deleted since it was listed: not a rejection
            return self._seeds.forget(path)
        return self._seeds.record_unread(path, listed, reason)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; True when the system cannot tell (not gone,
    yet not stat-able): reading it then says why, and it is read again."""
    try:
        return path.is_file()
    except OSError:
        return True
