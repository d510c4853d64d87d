"""Whether a build has anything to do, known before anything is built.

From the parse cache's catalog, what the check needs of the config
(`Expected`), the clock and one stat per seed file, on strings alone: a
build of 100,000 unchanged articles is then over well within a second, as
this module imports none of the reader, planner, renderers or writer, nor
the config's own stack (pydantic, PyYAML): `feeds.build.quick` runs the same
check from the no-op stamp, before the config is read. Any difference at all
means a full build (`feeds.build.builder`), which decides for itself what to
read and write.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from feeds.build.parsecache import (
    CacheState,
    ParseCache,
    default_cache_dir,
    identity_of,
    key_prefix,
    output_count,
    output_records,
    seed_key,
)
from feeds.build.records import LastPublish, Listing, ListingMaker, joined_names
from feeds.build.report import BuildReport
from feeds.errors import ArticleError, ArticleWarning, strict_rejection
from feeds.seeds.discovery import walk
from feeds.system.aside import ChildLost, aside, can_fork
from feeds.system.folders import MARKER

if TYPE_CHECKING:  # the config brings pydantic and PyYAML; the check needs plain values
    from feeds.config import Config


#: Files looked at (stat) at a time by a build with nothing to do.
_STAT_BLOCK = 4096
#: The bits of a mode that give the type (`stat.S_IFMT`), read in a comprehension.
_TYPE_BITS = 0o170000
#: From this many files to look at, a share goes to a forked child (`_beside`).
ASIDE_FILES = 50_000

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Expected:
    """What the check needs of a config, as plain values: the no-op stamp
    (`feeds.build.stamp`) keeps them, so the check runs without the config."""

    seeds: Path
    patterns: tuple[str, ...]
    strict: bool
    output: Path
    #: The parse cache's folder and identity (`parse_cache`).
    cache_dir: Path
    cache_identity: str
    config_digest: str

    @staticmethod
    def of(config: Config) -> Expected:
        cache = parse_cache(config)
        return Expected(
            seeds=config.seeds,
            patterns=config.patterns,
            strict=config.strict,
            output=config.output,
            cache_dir=cache.folder,
            cache_identity=cache.identity,
            config_digest=config_digest(config),
        )


def report_if_unchanged(config: Config, now: datetime | None = None) -> BuildReport | None:
    """The report of a build with nothing to do, when the parse cache proves
    that nothing changed since the last build (seed files, config, embargoes,
    output files); else None."""
    return report_if_expected(Expected.of(config), now)


def report_if_expected(
    expected: Expected, now: datetime | None = None, *, quiet: bool = False
) -> BuildReport | None:
    """`report_if_unchanged` of the config ``expected`` was made from;
    ``quiet``: not a word logged (of a damaged cache), as the full build
    that follows says it."""
    started = time.monotonic()
    if not expected.seeds.is_dir():
        return None  # the full build says why
    cache = ParseCache(expected.cache_dir, expected.cache_identity)
    state = cache.load(quiet=quiet, records=False, written=False)
    try:
        outputs = output_count(state.stored_outputs)
    except TypeError:
        return None  # none loaded, or damaged: the full build says which
    counts = _publish_counts(state, expected.config_digest, now, outputs)
    if counts is None:
        return None
    # The output files are checked and looked at beside the seeds folder: at
    # a million articles each takes about a second.
    intact = partial(_stored_outputs_intact, expected.output, state.stored_outputs)
    with _beside(intact, outputs) as output_intact:
        problems = _problems_if_unchanged(expected, state)
        if problems is None or not _proven(output_intact):
            return None
    articles, feeds = counts
    return BuildReport(
        articles=articles,
        feeds=feeds,
        unchanged=outputs,
        rejected=problems.rejected(),
        warnings=problems.warnings(),
        owned=partial(_owned, state.stored_outputs),
        seconds=time.monotonic() - started,
    )


def _stored_outputs_intact(output: Path, stored: object) -> bool:
    """`_output_intact` of the output records as stored, once checked."""
    try:
        outputs = output_records(stored)
    except (TypeError, ValueError):
        return False
    return _output_intact(output, outputs)


def _owned(stored: object) -> list[str]:
    return sorted(output_records(stored))


def last_publish(
    state: CacheState, digest: str, output: Path, now: datetime | None
) -> tuple[int, int] | None:
    """The (articles, feeds) of the last publish while its config (``digest``),
    its embargoes and its output files all still hold; else None."""
    counts = _publish_counts(state, digest, now, len(state.outputs))
    if counts is None or not _output_intact(output, state.outputs):
        return None
    return counts


def _publish_counts(
    state: CacheState, digest: str, now: datetime | None, outputs: int
) -> tuple[int, int] | None:
    """`last_publish`, the ``outputs`` files recorded not looked at."""
    last = LastPublish.from_key(state.publish_key)
    if last is None or last.config_digest != digest:
        return None
    if last.next_embargo is not None and (now or datetime.now(UTC)) >= last.next_embargo:
        return None
    if not outputs:
        return None
    return last.articles, last.feeds


def _output_intact(output: Path, outputs: Mapping[str, tuple[int, int]]) -> bool:
    """Whether the output folder holds the files ``outputs`` records, as written."""
    if not outputs_intact(output, outputs):
        return False
    # Unmarked: an older version's build, or removed: the next build marks the folder.
    return (output / MARKER).is_file()


def outputs_intact(output: Path, outputs: Mapping[str, tuple[int, int]]) -> bool:
    """Whether every file is still as written: (size, mtime_ns) by name."""
    root = os.fspath(output) + os.sep  # a Path per file costs more than its stat
    for name, recorded in outputs.items():
        try:
            info = os.stat(root + name)
        except OSError:
            return False
        if (info.st_size, info.st_mtime_ns) != recorded:
            return False
    return True


@dataclass(slots=True)
class _Problems:
    """The problems of unchanged seed files, as the cache recorded them."""

    strict: bool
    failing: list[tuple[Path, ArticleError]] = field(default_factory=list)
    warned: list[tuple[Path, tuple[str, ...]]] = field(default_factory=list)

    def note(self, path: Path, reason: str | None, warnings: tuple[str, ...]) -> None:
        if reason:
            self.failing.append((path, ArticleError(path, reason)))
        elif warnings and self.strict:
            self.failing.append((path, strict_rejection(path, warnings)))
        elif warnings:
            self.warned.append((path, warnings))

    def rejected(self) -> tuple[ArticleError, ...]:
        return tuple(error for _path, error in sorted(self.failing, key=lambda pair: pair[0]))

    def warnings(self) -> tuple[ArticleWarning, ...]:
        return tuple(
            ArticleWarning(str(path), reason)
            for path, reasons in sorted(self.warned)
            for reason in reasons
        )


def _problems_if_unchanged(expected: Expected, state: CacheState) -> _Problems | None:
    """The rejected files' errors and the published files' warnings, as the
    full build reports them, when the seed files are exactly those the cache
    knows and each is unchanged; None at the first difference."""
    # Names alone first (the stat of each says its type); with types when
    # a name that matches is not a regular file.
    same = _same_listings(expected, state, typed=False)
    if same is None:
        same = _same_listings(expected, state, typed=True)
    if not same:
        return None
    return _recorded_problems(expected, key_prefix(expected.seeds), state.problems)


def _same_listings(expected: Expected, state: CacheState, *, typed: bool) -> bool | None:
    """Whether each seed folder's listing is as the cache recorded it; None
    when, not ``typed``, a name turned out not to be a regular file."""
    prefix = key_prefix(expected.seeds)
    listings = dict(state.listings)
    try:
        found = walk(expected.seeds, expected.patterns, typed=typed)
    except OSError:  # the full build says why
        return False
    for folder, names in found:
        listing = listings.pop(seed_key(prefix, folder), None)
        if not names:
            continue
        try:
            if listing is None or listing != _listing_now(folder, names, files=not typed):
                return False
        except _NotAFile:
            return None
    return not listings  # else a folder the cache knew is gone, or left without seeds


class _NotAFile(Exception):
    """A name listed as a file that is not a regular file."""


def _listing_now(folder: str, names: list[str], *, files: bool) -> Listing | None:
    """The listing (`records.ListingMaker`) of ``names`` in ``folder`` as they
    are now; None when one cannot be looked at. With ``files``, raises
    `_NotAFile` where a name is not a regular file."""
    try:
        # Names looked up in an open folder: no path walk per file.
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    # The names from a pivot on go to a child, when there are many: it sorts
    # them as this process sorts the rest, so no one sorts them all.
    pivot = _pivot(names)
    look = partial(_fingerprints, descriptor, files=files)
    try:
        share = partial(_share, look, names, pivot)
        with _beside(share, len(names) - len(names) // 2) as theirs:
            mine = [name for name in names if name < pivot]
            mine.sort()
            my_fingerprints = look(mine)
            their_names, their_count, their_fingerprints = theirs()
    except (OSError, OverflowError, ChildLost):
        # Gone, a dangling symlink (the full build reports it), dated past
        # 2262, or the child lost: not proven unchanged.
        return None
    finally:
        os.close(descriptor)
    maker = ListingMaker()
    maker.add(mine, *my_fingerprints)
    maker.add_joined(their_names, their_count, *their_fingerprints)
    return maker.made()


def _pivot(names: list[str]) -> str:
    """About the median of ``names``, from a sample (names differ)."""
    sample = sorted(names[:: max(1, len(names) // 1024)])
    return sample[len(sample) // 2]


def _share(
    look: Callable[[list[str]], _Fingerprints], names: list[str], pivot: str
) -> tuple[bytes, int, _Fingerprints]:
    """The names from ``pivot`` on, sorted, as `records.joined_names` gives
    them (one bytes object costs next to nothing to send), and their
    fingerprints (three arrays)."""
    theirs = [name for name in names if name >= pivot]
    theirs.sort()
    return joined_names(theirs), len(theirs), look(theirs)


_Fingerprints = tuple["array[int]", "array[int]", "array[int]"]


def _fingerprints(descriptor: int, names: list[str], *, files: bool) -> _Fingerprints:
    """The (mtime_ns, size, inode) columns of ``names`` in the folder open as
    ``descriptor``, as `ListingMaker` takes them. With ``files``, raises
    `_NotAFile` where a name is not a regular file."""
    columns: _Fingerprints = (array("q"), array("Q"), array("Q"))
    mtimes, sizes, inodes = columns
    look = partial(os.stat, dir_fd=descriptor)
    # A block of stat results at a time: a million at once held 200 MB.
    for start in range(0, len(names), _STAT_BLOCK):
        found = list(map(look, names[start : start + _STAT_BLOCK]))
        if files and {info.st_mode & _TYPE_BITS for info in found} != {stat.S_IFREG}:
            raise _NotAFile
        mtimes.extend([info.st_mtime_ns for info in found])
        sizes.extend([info.st_size for info in found])
        inodes.extend([info.st_ino for info in found])
    return columns


@contextmanager
def _beside(function: Callable[[], _T], work: int) -> Iterator[Callable[[], _T]]:
    """``function``, run in a forked child from now on when ``work`` (files
    to look at) is large enough to pay for the fork and this process may
    fork (and a child can be started); else run in this process when its
    result is asked for."""
    if work < ASIDE_FILES or not can_fork():
        yield function
        return
    with ExitStack() as stack:
        try:
            result = stack.enter_context(aside(function))
        except OSError:  # no memory or process left for a child: here, then
            result = function
        yield result


def _proven(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except ChildLost:
        return False


def _recorded_problems(
    expected: Expected, prefix: str, recorded: Mapping[str, object]
) -> _Problems | None:
    """The problems the cache recorded of seeds now known to be unchanged;
    None when a record is malformed."""
    problems = _Problems(expected.strict)
    for key, problem in recorded.items():
        if not (isinstance(problem, tuple) and len(problem) == 2):
            return None
        reason, warnings = problem
        if not (reason is None or (isinstance(reason, str) and reason)):
            return None
        if not isinstance(warnings, tuple) or not all(isinstance(w, str) and w for w in warnings):
            return None
        problems.note(Path(prefix + key.replace("/", os.sep)), reason, warnings)
    return problems


def config_digest(config: Config) -> str:
    from feeds.config import SettingKind, settings_spec  # loaded already, with the config

    # One digest however the folders are spelled: `feeds run` makes them
    # absolute, and must find current what `feeds build` wrote from a relative config.
    folders = {"seeds": config.seeds.absolute(), "output": config.output.absolute()}
    settings = config.model_copy(update=folders).model_dump_json(
        exclude=settings_spec(SettingKind.RUNTIME)
    )
    return hashlib.sha256(settings.encode()).hexdigest()[:32]


def parse_cache(config: Config) -> ParseCache:
    from feeds.config import SettingKind, settings_of
    from feeds.model import READ_RULES

    reading = settings_of(config, SettingKind.READING)
    # The seeds folder leads the identity, made absolute: one cache however it is spelled.
    del reading["seeds"]
    reading["rules"] = READ_RULES
    return ParseCache(config.cache_dir or default_cache_dir(), identity_of(config.seeds, reading))
