"""The build: seeds folder in, output folder current. The core the CLI and daemon call.

`Builder` keeps what it has read, so the daemon re-reads only the files that
changed and re-renders only the feeds whose entries changed. A one-shot
`build()` is a fresh Builder that scans everything once.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from feeds.build.parsecache import (
    CacheState,
    Packed,
    ParseCache,
    SeedRecord,
    key_prefix,
    pack,
    seed_key,
    seed_record,
    unpack,
)
from feeds.build.report import BuildReport as BuildReport
from feeds.build.uptodate import check, last_publish, outputs_intact
from feeds.build.uptodate import config_digest as _config_digest
from feeds.build.uptodate import parse_cache as parse_cache
from feeds.build.writer import OutputFolder
from feeds.config import Config
from feeds.errors import (
    ArticleError,
    ArticleWarning,
    ConfigError,
    OutputError,
    SeedsError,
    strict_rejection,
)
from feeds.formats import FORMATS, Format, formats_for
from feeds.model import Article
from feeds.plan.planner import Planner
from feeds.plan.plans import (
    FEED_DIRS,
    Duplicate,
    FeedPlan,
    merge_duplicates,
    newest_of,
)
from feeds.render import index_html, opml
from feeds.seeds.discovery import discover_names, is_candidate, path_order
from feeds.seeds.reader import ReadOptions, read_many, read_seed
from feeds.system import forked

#: Wraps the list of seed files while they are read, e.g. to draw a progress bar.
Progress = Callable[[Sequence[Path]], Iterable[Path]]

#: What identifies one version of a file without reading it.
Fingerprint = tuple[int, int, int]  # (mtime_ns, size, inode)
#: A fingerprint packed into one int: a daemon keeps one per seed file, and
#: one int is a fraction of a tuple of three.
Version = int


@dataclass(slots=True)
class _Seed:
    version: Version | None
    article: Article | None  # the last good version, kept while the file is invalid
    error: ArticleError | None
    #: The article is in the parse cache's articles file, not yet loaded.
    awaiting: bool = False
    #: Why each field this version's article was published without was dropped.
    warnings: tuple[str, ...] = ()
    #: This version's article when strict mode rejects it for its warnings:
    #: the parse cache keeps it as read, so another strictness reads nothing again.
    held: Article | None = None
    #: The last read failed before any byte was read (the file went away and
    #: came back, was swapped for a FIFO, an OS error): that is no verdict on
    #: what the file holds, so every scan reads it again and the parse cache
    #: never keeps it. ``version`` is then the file as listed, so a failure
    #: that repeats on an unchanged file is reported once.
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything the seeds folder holds, validated and de-duplicated."""

    articles: tuple[Article, ...]
    rejected: tuple[ArticleError, ...]
    duplicates: tuple[Duplicate, ...]
    files: int
    warnings: tuple[ArticleWarning, ...] = ()


class Builder:
    """The seeds folder as last read, and the feeds as last written."""

    def __init__(self, config: Config, cache: ParseCache | None = None) -> None:
        self.config = config
        self._read_options = ReadOptions(config.fix_text, config.summary_length, config.seeds)
        #: Decided as each seed is recorded: another strictness needs another Builder.
        self._strict = config.strict
        #: By the seed file's name as discovered (also its article's ``source``):
        #: strings, as a Path per file costs several times the memory.
        self._seeds: dict[str, _Seed] = {}
        #: A digest of each feed document's inputs as last written, by stem.
        self._written: dict[str, str] = {}
        self._config_digest = ""
        self._has_packed = False
        #: Seed files whose current version is rejected (reported every publish).
        self._failing: set[str] = set()
        #: Seed files published without some of their fields (reported every publish).
        self._warned: set[str] = set()
        #: Whether this process has swept crashed builds' temp files from the output.
        self._swept_temp = False
        #: The last plan and its digest, by stem: an unchanged plan (the same
        #: articles, compared by identity first) needs no new digest.
        self._digests: dict[str, tuple[FeedPlan, str]] = {}
        #: The feeds' membership as of the last publish, and the seed files
        #: changed since (a publish re-plans only the feeds they touch).
        self._planner: Planner | None = None
        self._changed: set[str] = set()
        #: The feeds of the last publish that swept stale files out of the output.
        self._swept_stems: set[str] | None = None
        self._cache = cache
        self._cached: CacheState | None = cache.load() if cache is not None else None
        #: False once a scan found anything the parse cache did not already know.
        self._as_cached = self._cached is not None

    # --- reading -------------------------------------------------------

    def scan_all(self, progress: Progress | None = None) -> list[str]:
        """Reads every file that is new or changed since the last scan; forgets
        files that are gone. Returns the names whose state changed."""
        if not self.config.seeds.is_dir():
            raise ConfigError(f"{self.config.seeds}: seeds folder not found")
        try:
            paths = discover_names(self.config.seeds, self.config.patterns)
        except OSError as error:
            raise SeedsError(f"{error.filename}: cannot list: {error.strerror}") from None
        present = set(paths)
        changed = [path for path in self._seeds if path not in present]
        for path in changed:
            del self._seeds[path]
            self._forget(path)
        restored = self._restore_from_cache(paths)
        skip = set(restored)
        # Fingerprints before reading: a file that changes while it is read
        # then looks changed to the next scan, never unchanged.
        versions: dict[str, Version | None] = {}
        for path in paths:
            if path in skip:
                continue
            version = _version(path)
            seed = self._seeds.get(path)
            if seed is None or seed.retry or seed.version != version:
                versions[path] = version
        stale = list(versions)
        if stale:
            self._as_cached = False
        results = read_many(stale, self.config.tz, self._read_options)
        ticks = iter(progress([Path(name) for name in stale])) if progress is not None else None
        read = []
        for path, article, reason, warnings, fingerprint in results:
            if self._record_read(path, versions[path], article, reason, warnings, fingerprint):
                read.append(path)
            if ticks is not None:
                next(ticks, None)
        return changed + restored + read

    def _restore_from_cache(self, paths: Sequence[str]) -> list[str]:
        """Takes what the parse cache knows of files unchanged since; only once."""
        if self._cached is None or not self._cached.records:
            return []
        known, self._cached.records = self._cached.records, {}
        restored = []
        for path in paths:
            if path in self._seeds:
                continue
            entry = seed_record(known.pop(self._cache_key(path), None))
            version = _version(path)
            if entry is None or _packed(entry.fingerprint) != version:
                continue
            error = ArticleError(path, entry.reason) if entry.reason else None
            if error is None and entry.warnings and self._strict:
                error = strict_rejection(path, entry.warnings)  # its article is then held
            self._seeds[path] = _Seed(version, None, error, entry.has_article, entry.warnings)
            if error is not None:
                self._failing.add(path)
            elif entry.warnings:
                self._warned.add(path)
            self._has_packed = self._has_packed or entry.has_article
            restored.append(path)
        if known:  # files the cache knew that are gone
            self._as_cached = False
        return restored

    def update(self, paths: Iterable[Path]) -> list[str]:
        """Re-reads ``paths`` (reported by a watcher); a path that is gone or
        no longer an article file is forgotten. Returns the names changed."""
        changed = []
        for path in paths:
            name = str(path)
            if _is_file(path) and is_candidate(path.name, self.config.patterns):
                if self._needs_reading(name) and self._read(name):
                    changed.append(name)
            elif self._seeds.pop(name, None) is not None:
                self._forget(name)
                changed.append(name)
        return changed

    def _needs_reading(self, name: str) -> bool:
        seed = self._seeds.get(name)
        return seed is None or seed.retry or seed.version != _version(name)

    def _read(self, path: str) -> bool:
        """Reads one file; returns whether its state changed."""
        listed = _version(path)
        try:
            reading = read_seed(Path(path), self.config.tz, self._read_options)
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
            self._record(path, _packed(fingerprint), article, reason, warnings)
            return True
        if not os.path.lexists(path):  # deleted since it was listed: not a rejection
            if self._seeds.pop(path, None) is None:
                return False
            self._forget(path)
            return True
        previous = self._seeds.get(path)
        repeated = (
            previous is not None
            and previous.retry
            and previous.version == listed
            and previous.error is not None
            and previous.error.reason == reason
        )
        self._record(path, listed, None, reason, retry=True)
        return not repeated

    def _record(
        self,
        path: str,
        version: Version | None,
        article: Article | None,
        reason: str | None,
        warnings: tuple[str, ...] = (),
        *,
        retry: bool = False,
    ) -> None:
        self._changed.add(path)
        if reason is None and not (warnings and self._strict):
            self._failing.discard(path)
            if warnings:
                self._warned.add(path)
            else:
                self._warned.discard(path)
            self._seeds[path] = _Seed(version, article, None, warnings=warnings)
            return
        if reason is None:
            error, held = strict_rejection(path, warnings), article
        else:
            error, held = ArticleError(path, reason), None
        # An invalid version keeps the last good article published (the daemon).
        self._failing.add(path)
        self._warned.discard(path)
        previous = self._seeds.get(path)
        kept = previous.article if previous else None
        self._seeds[path] = _Seed(version, kept, error, warnings=warnings, held=held, retry=retry)

    def _forget(self, path: str) -> None:
        """Bookkeeping for a seed file that is gone (its entry already removed)."""
        self._changed.add(path)
        self._failing.discard(path)
        self._warned.discard(path)

    def problem(self, path: str | Path) -> tuple[ArticleError | None, bool]:
        """The error of ``path``'s current version, and whether a last good
        version of its article is still being published."""
        seed = self._seeds.get(str(path))
        if seed is None:
            return None, False
        return seed.error, seed.article is not None

    def warnings_of(self, path: str | Path) -> tuple[ArticleWarning, ...]:
        """The warnings of ``path``'s current version, published without the fields named."""
        seed = self._seeds.get(str(path))
        if seed is None or seed.error is not None:
            return ()
        return tuple(ArticleWarning(str(path), reason) for reason in seed.warnings)

    @property
    def rejected(self) -> tuple[ArticleError, ...]:
        # Only the few rejected paths, kept aside: this runs on every daemon rebuild.
        failing = sorted(self._failing, key=path_order)
        errors = (seed.error for path in failing if (seed := self._seeds.get(path)))
        return tuple(error for error in errors if error is not None)

    @property
    def warnings(self) -> tuple[ArticleWarning, ...]:
        return tuple(
            warning
            for path in sorted(self._warned, key=path_order)
            for warning in self.warnings_of(path)
        )

    def scan_result(self) -> Scan:
        articles, duplicates = self._merged()
        scanned = len(self._seeds)
        return Scan(tuple(articles), self.rejected, tuple(duplicates), scanned, self.warnings)

    def _merged(self) -> tuple[list[Article], list[Duplicate]]:
        self._unpack_restored()
        return merge_duplicates(
            seed.article for seed in self._seeds.values() if seed.article is not None
        )

    def _unpack_restored(self) -> None:
        """Loads the cached articles of restored seeds, once, when a build needs them."""
        if not self._has_packed:
            return
        self._has_packed = False
        awaiting = {
            self._cache_key(path): path for path, seed in self._seeds.items() if seed.awaiting
        }
        for key, packed in self._cache.load_articles() if self._cache is not None else ():
            path = awaiting.pop(key, None)
            if path is None:
                continue
            seed = self._seeds[path]
            seed.awaiting = False
            try:
                # The source as named now (the cache keeps names relative to
                # the seeds folder, which may be spelled otherwise this time).
                article = unpack(packed, source=path)
            except (TypeError, ValueError):  # damaged: read the file again
                self._read(path)
                continue
            if seed.error is not None:  # only strict mode rejects a file with an article
                seed.held = article
            else:
                seed.article = article
                self._changed.add(path)
        for path in awaiting.values():  # missing from the cache: read again
            self._seeds[path].awaiting = False
            self._read(path)

    # --- writing -------------------------------------------------------

    def forget_written(self) -> None:
        """Makes the next publish render every feed (after a config change, or
        when the output folder may have been touched by someone else)."""
        self._written.clear()
        self._digests.clear()
        self._swept_stems = None

    def publish(
        self, now: datetime | None = None, *, force: bool = False, workers: int = 1
    ) -> BuildReport:
        """Writes every feed whose entries changed since the last publish.

        ``now`` decides which future-dated articles are still embargoed; it
        never reaches the output. With ``workers`` > 1, a process without
        other threads renders many documents in two processes. Raises
        ``OutputError`` when a file cannot be written (files not yet replaced
        keep their last good content).
        """
        started = time.monotonic()
        moment = now or datetime.now(UTC)
        planned = self._told_planner().plans_at(moment)
        plans = planned.plans
        report = BuildReport(
            articles=planned.visible,
            feeds=len(plans),
            rejected=self.rejected,
            warnings=self.warnings,
            duplicates=planned.duplicates,
            next_embargo=planned.next_embargo,
        )
        output = OutputFolder(self.config.output)
        output.prepare(sweep_temp=not self._swept_temp)
        self._swept_temp = True
        if force:
            self._written.clear()
            self._swept_stems = None
        config_digest = _config_digest(self.config)
        if config_digest != self._config_digest:
            self._digests.clear()
        self._config_digest = config_digest
        self._adopt_cached_plans(plans)
        report.files = [plan.stem + fmt.suffix for plan in plans for fmt in formats_for(plan)]
        report.files += [index_html.FILENAME, opml.FILENAME]
        rendered: list[str] = []
        try:
            self._write_all(output, plans, report, rendered, workers)
        except OutputError:
            # Some files of this publish may never have been renamed into place:
            # the feeds it rendered are rendered again next time (bytes that did
            # land are then found unchanged and not rewritten).
            for stem in rendered:
                self._written.pop(stem, None)
            raise
        self._remove_stale(output, plans, report)
        report.seconds = time.monotonic() - started
        return report

    def _told_planner(self) -> Planner:
        """The planner, told of every seed file changed since the last publish."""
        self._unpack_restored()
        if self._planner is None or self._planner.config is not self.config:
            self._planner = Planner(self.config)
            self._changed = set(self._seeds)
        changes = []
        for path in self._changed:
            seed = self._seeds.get(path)
            changes.append((path, seed.article if seed is not None else None))
        self._changed = set()
        self._planner.update(changes)
        return self._planner

    def _write_all(
        self,
        output: OutputFolder,
        plans: list[FeedPlan],
        report: BuildReport,
        rendered: list[str],
        workers: int,
    ) -> None:
        todo: list[tuple[FeedPlan, str]] = []
        for plan in sorted(plans, key=_render_order):
            digest = self._digest_of(plan)
            if self._written.get(plan.stem) == digest:
                report.unchanged += len(formats_for(plan))
            else:
                # Forgotten before writing: a failed write must not look written.
                self._written.pop(plan.stem, None)
                todo.append((plan, digest))
        theirs: list[tuple[FeedPlan, str]] = []
        if workers > 1 and len(todo) >= PARALLEL_DOCUMENTS and forked.can_fork():
            todo, theirs = _halves(todo)
        wait = (
            forked.start(lambda: self._render_in_child(output.root, theirs), OutputError)
            if theirs
            else None
        )
        try:
            with output.batch():
                # Entries stay built between publishes (a bounded cache): the
                # daemon's next save re-renders mostly the same articles.
                self._render(output, todo, report, rendered)
        finally:
            outcome = wait() if wait is not None else None  # never leave the child behind
        if outcome is not None:
            self._adopt_child(outcome, output, theirs, report, rendered)
        # The index and OPML list every feed; their bytes change with any
        # feed's count or newest date, and unchanged bytes are not rewritten.
        with output.batch():
            for name, document in (
                (index_html.FILENAME, index_html.render_index(plans, self.config)),
                (opml.FILENAME, opml.render_opml(plans, self.config)),
            ):
                if output.write(name, document):
                    report.written.append(name)
                else:
                    report.unchanged += 1

    def _render(
        self,
        output: OutputFolder,
        todo: Sequence[tuple[FeedPlan, str]],
        report: BuildReport,
        rendered: list[str],
    ) -> None:
        for plan, digest in todo:
            for fmt in formats_for(plan):
                name = plan.stem + fmt.suffix
                if output.write(name, self._render_within_budget(fmt, plan)):
                    report.written.append(name)
                else:
                    report.unchanged += 1
            self._written[plan.stem] = digest
            rendered.append(plan.stem)

    def _render_in_child(
        self, root: Path, todo: Sequence[tuple[FeedPlan, str]]
    ) -> tuple[list[str], int, list[str]]:
        output = OutputFolder(root)
        report, rendered = BuildReport(), list[str]()
        with output.batch():
            self._render(output, todo, report, rendered)
        return report.written, report.unchanged, rendered

    def _adopt_child(
        self,
        outcome: forked.Outcome,
        output: OutputFolder,
        theirs: Sequence[tuple[FeedPlan, str]],
        report: BuildReport,
        rendered: list[str],
    ) -> None:
        """Takes the child's report; does its share here if it crashed."""
        status, value = outcome
        if status == "error":
            raise OutputError(value)
        if status != "ok":
            with output.batch():
                self._render(output, theirs, report, rendered)
            return
        written, unchanged, stems = value
        report.written.extend(written)
        report.unchanged += unchanged
        digests = {plan.stem: digest for plan, digest in theirs}
        for stem in stems:
            self._written[stem] = digests[stem]
        rendered.extend(stems)

    def _digest_of(self, plan: FeedPlan) -> str:
        known = self._digests.get(plan.stem)
        digest = known[1] if known is not None and known[0] == plan else self._plan_digest(plan)
        self._digests[plan.stem] = (plan, digest)
        return digest

    def _plan_digest(self, plan: FeedPlan) -> str:
        """Everything a feed document is made from: the plan's own fields, the
        config, and each entry's file version (so an edit shows, a rename too)."""
        seeds = self._seeds
        hasher = hashlib.sha256(self._config_digest.encode())
        meta = replace(plan, entries=())
        hasher.update(repr(meta).encode("utf-8", "surrogatepass"))
        for article in plan.entries:
            seed = seeds.get(article.source)
            version = seed.version if seed is not None else None
            hasher.update(f"\0{article.source}\0{version}".encode("utf-8", "surrogatepass"))
        return hasher.hexdigest()[:32]

    def _render_within_budget(self, fmt: Format, plan: FeedPlan) -> bytes:
        """The document with as many of the newest entries as fit in ``max_bytes``
        (at least one: a single entry's size is bounded when it is read)."""
        budget = self.config.max_bytes
        data = fmt.render(plan, self.config)
        # Archives keep every entry: dropping one would break the complete history.
        if len(data) <= budget or len(plan.entries) <= 1 or plan.is_archive:
            return data
        fitting, low, high = None, 1, len(plan.entries) - 1
        while low <= high:
            middle = (low + high) // 2
            candidate = fmt.render(newest_of(plan, middle), self.config)
            if len(candidate) <= budget:
                fitting, low = candidate, middle + 1
            else:
                high = middle - 1
        if fitting is None:
            fitting = fmt.render(newest_of(plan, 1), self.config)
        return fitting

    def _remove_stale(
        self, output: OutputFolder, plans: list[FeedPlan], report: BuildReport
    ) -> None:
        stems = {plan.stem for plan in plans}
        if stems == self._swept_stems:
            return  # the same feeds as at the last sweep: nothing of ours went stale
        expected = {plan.stem + fmt.suffix for plan in plans for fmt in formats_for(plan)}
        suffixes = [fmt.suffix for fmt in FORMATS]
        existing: set[str] = set()
        for folder in FEED_DIRS:
            existing |= output.existing(folder, suffixes)
        for name in sorted(existing - expected):
            if output.remove(name):
                report.removed.append(name)
        self._swept_stems = stems
        for stem in set(self._written) - stems:
            del self._written[stem]
        for stem in set(self._digests) - stems:
            del self._digests[stem]

    # --- the parse cache ---------------------------------------------------

    def _cache_key(self, path: str) -> str:
        return seed_key(key_prefix(self.config.seeds), path)

    def _adopt_cached_plans(self, plans: Sequence[FeedPlan]) -> None:
        """Takes the cache's record of feed documents whose files are still as
        written, so a build after a small change re-renders only what it touched."""
        state = self._cached
        if state is None or not state.plans:
            return
        recorded, state.plans = state.plans, {}
        for plan in plans:
            digest = recorded.get(plan.stem)
            if digest is None or plan.stem in self._written:
                continue
            names = [plan.stem + fmt.suffix for fmt in formats_for(plan)]
            if all(name in state.outputs for name in names) and outputs_intact(
                self.config.output, {name: state.outputs[name] for name in names}
            ):
                self._written[plan.stem] = digest

    def up_to_date(self, now: datetime | None = None) -> BuildReport | None:
        """A report of a build with nothing to do, when the parse cache proves
        that nothing changed since the last build; else None."""
        state = self._cached
        if state is None or not self._as_cached:
            return None
        counts = last_publish(state, self.config, now)
        if counts is None:
            return None
        return BuildReport(
            articles=counts[0],
            feeds=counts[1],
            unchanged=len(state.outputs),
            rejected=self.rejected,
            warnings=self.warnings,
            files=sorted(state.outputs),
        )

    def save_cache(self, report: BuildReport) -> None:
        """Records what was read and written, for the next build to skip."""
        if self._cache is None:
            return
        self._unpack_restored()
        state = CacheState()
        state.plans = dict(self._written)
        embargo = report.next_embargo.isoformat() if report.next_embargo else ""
        digest = _config_digest(self.config)
        state.publish_key = f"{digest}|{embargo}|{report.articles}|{report.feeds}"
        for name in report.files:
            try:
                info = os.stat(self.config.output / name)
            except OSError:
                continue
            state.outputs[name] = (info.st_size, info.st_mtime_ns)
        # Both made one at a time as the cache writes them, never all at once.
        self._cache.save(state, self._seed_records(), self._packed_articles())

    def _seed_records(self) -> Iterator[tuple[str, SeedRecord]]:
        for path, seed in self._seeds.items():
            if seed.version is None or seed.retry:
                continue
            if seed.held is not None:  # rejected by strict mode alone: kept as it reads
                yield self._cache_key(path), (*_unpacked(seed.version), True, None, seed.warnings)
            elif seed.error is not None:
                record = (*_unpacked(seed.version), False, seed.error.reason, ())
                yield self._cache_key(path), record
            elif seed.article is not None:
                yield self._cache_key(path), (*_unpacked(seed.version), True, None, seed.warnings)

    def _packed_articles(self) -> Iterator[tuple[str, Packed]]:
        for path, seed in self._seeds.items():
            article = seed.held if seed.error is not None else seed.article
            if seed.version is not None and article is not None:
                yield self._cache_key(path), pack(article)


#: Below this many documents to render, a second process costs more than it saves.
PARALLEL_DOCUMENTS = 64


def _halves(
    todo: list[tuple[FeedPlan, str]],
) -> tuple[list[tuple[FeedPlan, str]], list[tuple[FeedPlan, str]]]:
    """Two runs of consecutive plans with about equal entries (runs keep one
    month's archives together, so each process builds an entry once)."""
    weights = [len(plan.entries) + 10 for plan, _ in todo]
    half, running = sum(weights) / 2, 0
    for index, weight in enumerate(weights):
        running += weight
        if running >= half:
            return todo[: index + 1], todo[index + 1 :]
    return todo, []


def _render_order(plan: FeedPlan) -> str:
    """Archives of one month together, so each article's entries are built once
    (see `render.entries.EntryCache`); the order of writes changes no file."""
    return plan.stem.rpartition("/")[2] if plan.is_archive else ""


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; True when the system cannot tell (not gone,
    yet not stat-able): reading it then says why, and it is read again."""
    try:
        return path.is_file()
    except OSError:
        return True


def _version(path: str) -> Version | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return _packed((info.st_mtime_ns, info.st_size, info.st_ino))


def _packed(fingerprint: Fingerprint) -> Version:
    """One int for (mtime_ns, size, inode); size and inode are below 2**64,
    and a negative mtime (before 1970) still packs to a unique value."""
    mtime_ns, size, inode = fingerprint
    return (mtime_ns << 128) | (size << 64) | inode


def _unpacked(version: Version) -> Fingerprint:
    mask = (1 << 64) - 1
    return (version >> 128, (version >> 64) & mask, version & mask)


def scan(config: Config, progress: Progress | None = None) -> Scan:
    """Reads every article of the seeds folder. Writes nothing."""
    builder = Builder(config)
    builder.scan_all(progress)
    return builder.scan_result()


def build(
    config: Config,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> BuildReport:
    """Brings the output folder in line with the seeds folder, once.

    With the parse cache, unchanged files are not parsed again, and a build
    that finds nothing changed (files, config, embargoes, output) does nothing.
    """
    report = check(config, now) if use_cache else None
    return report or rebuild(config, now=now, progress=progress, use_cache=use_cache)


def rebuild(
    config: Config,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> BuildReport:
    """`build` once `feeds.build.uptodate.check` has found something changed (or
    without the cache)."""
    started = time.monotonic()
    builder = Builder(config, parse_cache(config) if use_cache else None)
    builder.scan_all(progress)
    report = builder.up_to_date(now)
    if report is None:
        report = builder.publish(now, workers=os.cpu_count() or 1)
        builder.save_cache(report)
    report.seconds = time.monotonic() - started
    return report
