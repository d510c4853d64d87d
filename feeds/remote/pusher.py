"""A push: one target brought in line with the output folder.

The order keeps the target consistent at every moment, cut short or not:
1. the manifest first enters every object about to be written as pending;
2. the uploads go in the plan's batches, each complete before the next,
   the manifest saved after each and every few seconds within one (so a
   later push skips what was stored);
3. stale objects are deleted, and the manifest saved without them.

A file that changes while it is pushed (the daemon rebuilt meanwhile) is not
uploaded in its new version, which the plan did not order: the push stops
after that batch, and the caller pushes again from a new scan.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from itertools import groupby

from feeds.errors import PublishError
from feeds.remote.local import LocalObject, OutputFolder, tier_of
from feeds.remote.manifest import EMPTY, PENDING, Entry, Manifest
from feeds.remote.plan import PushPlan, Upload, entry_for, plan_push
from feeds.remote.store import Store
from feeds.remote.targets import Target

#: Uploads at once: object stores answer each in tens of milliseconds.
WORKERS = 8
#: Seconds between saves of the manifest during a push: a push shorter than
#: this saves it twice (before and after); a long one (a first push) keeps a
#: record a kill -9 loses little of...
CHECKPOINT = 1.0
#: ...while the saves stay a small share of what the push sends: the next is
#: due once the uploads since the last outweigh the manifest this many times.
CHECKPOINT_WEIGHT = 10


class OutputChanged(Exception):
    """The output folder changed under a push; push again from a new scan."""


@dataclass(slots=True)
class PushReport:
    target: str
    uploaded: int = 0
    unchanged: int = 0
    deleted: int = 0
    bytes: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    #: Names uploaded or deleted, in that order: what a CDN should purge.
    changed: list[str] = field(default_factory=list)
    #: Main feed documents uploaded: what WebSub hubs are told of.
    feeds: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would upload" if self.dry_run else "uploaded"
        return (
            f"{self.target}: {self.uploaded} {verb}, {self.unchanged} unchanged, "
            f"{self.deleted} {'to delete' if self.dry_run else 'deleted'}, "
            f"{_size(self.bytes)} in {self.seconds:.2f} s"
        )


def plan(
    target: Target,
    folder: OutputFolder,
    store: Store,
    local: Mapping[str, LocalObject] | None = None,
) -> tuple[PushPlan, Manifest]:
    """What a push would do now (or for ``local``, a scan of ``folder`` taken
    earlier), and the target's manifest it starts from."""
    work, remote, _ = _plan(target, folder, store, local)
    return work, remote


def _plan(
    target: Target,
    folder: OutputFolder,
    store: Store,
    local: Mapping[str, LocalObject] | None = None,
) -> tuple[PushPlan, Manifest, bool]:
    """`plan`, and whether the manifest is new: adopted from the objects the
    target holds because it had none (or none this tool wrote)."""
    if local is None:
        local = folder.scan()
    remote = store.read_manifest()
    if remote is not None:
        return plan_push(local, remote, target), remote, False
    wanted = {name: entry_for(obj, target) for name, obj in local.items()}
    remote = store.adopt(wanted, folder.read) if wanted else EMPTY
    return plan_push(local, remote, target), remote, True


def push(
    target: Target,
    folder: OutputFolder,
    store: Store,
    *,
    dry_run: bool = False,
    on_plan: Callable[[PushPlan], None] | None = None,
    local: Mapping[str, LocalObject] | None = None,
    report: PushReport | None = None,
) -> PushReport:
    """Pushes once; raises `PublishError` or `OutputChanged`, leaving the
    target consistent either way.

    ``local`` is a scan of ``folder`` to push (the daemon takes it while no
    rebuild writes); ``report``, when given, is filled in as the push goes,
    so a caller still knows what was stored when the push raises."""
    started = time.monotonic()
    work, remote, adopted = _plan(target, folder, store, local)
    if on_plan is not None:
        on_plan(work)
    if report is None:
        report = PushReport(target.url)
    report.unchanged, report.dry_run = work.unchanged, dry_run
    if dry_run:
        report.uploaded, report.deleted = len(work.uploads), len(work.deletions)
        report.bytes = sum(upload.object.size for upload in work.uploads)
        report.changed = [u.object.name for u in work.uploads] + list(work.deletions)
    else:
        _Push(folder, store, remote, report).run(work, save_first=adopted)
    report.seconds = time.monotonic() - started
    return report


class _Push:
    """One push's work. ``manifest`` is the record of what the target holds,
    as far as this push knows; it is saved before the first upload (with
    every object about to be written pending), every `CHECKPOINT` seconds,
    when the push stops early, and at the end: a short push writes it twice."""

    def __init__(self, folder: OutputFolder, store: Store, remote: Manifest, report: PushReport):
        self.folder, self.store, self.report = folder, store, report
        self.manifest = remote
        self.changed_under_us = False
        self._unsaved = False
        self._saved_at = time.monotonic()
        #: Bytes uploaded since the last save, and the size of that save.
        self._sent = 0
        self._saved_size = 0

    def run(self, work: PushPlan, *, save_first: bool = False) -> None:
        # An adopted manifest is saved even when nothing is to be uploaded:
        # unrecorded, the adopted objects would not count as ours, and a
        # later push would leave them in place once the output drops them.
        self._unsaved = save_first
        self._note({u.object.name: PENDING for u in work.uploads})
        self._save()
        for batch in work.batches:
            self._upload(batch)
            if self.changed_under_us:
                self._save()
                raise OutputChanged
            if self._checkpoint_due():
                self._save()
        if work.deletions:
            # One request per tier at most: a store deletes one request's
            # keys in no promised order, and the plan's order is by tier.
            # Cut short here, the record still names them: deleted again.
            for _, names in groupby(work.deletions, key=tier_of):
                self.store.delete(tuple(names))
            self.manifest = self.manifest.without(set(work.deletions))
            self._unsaved = True
            self.report.deleted = len(work.deletions)
            self.report.changed.extend(work.deletions)
        self._save()

    def _upload(self, batch: tuple[Upload, ...]) -> None:
        """Uploads ``batch`` at once, and notes what was stored, even when
        one failed (then saved, and the failure raised)."""
        stored: dict[str, Entry] = {}
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="feeds-push") as pool:
            futures = {pool.submit(self._upload_one, upload): upload for upload in batch}
            failure = self._collect(futures, stored)
            if failure is not None:
                for future in futures:
                    future.cancel()
                wait(futures)
        for future, upload in futures.items():
            if upload.object.name not in stored:
                self._record(future, upload, stored)
        self._note(stored)
        if failure is not None:
            self._save()  # keeps what was stored
            raise failure

    def _collect(
        self, futures: dict[Future[int | None], Upload], stored: dict[str, Entry]
    ) -> BaseException | None:
        """Records the uploads as they finish, and saves the manifest with
        them every `CHECKPOINT` seconds: a push killed in a long batch (a
        first push's archives are most of the output) leaves a record of
        most of what it stored. Returns the first failure."""
        try:
            for future in as_completed(futures):
                failure = future.exception()
                if failure is not None:
                    return failure
                self._record(future, futures[future], stored)
                if self._checkpoint_due():
                    self._note(stored)
                    self._save()
        except PublishError as error:  # the checkpoint failed
            return error
        return None

    def _record(self, future: Future[int | None], upload: Upload, stored: dict[str, Entry]) -> None:
        size = _stored_size(future)
        if size is None:
            return
        stored[upload.object.name] = upload.entry
        self.report.uploaded += 1
        self.report.bytes += size
        self._sent += size
        self.report.changed.append(upload.object.name)
        if upload.object.tier == "feeds":
            self.report.feeds.append(upload.object.name)

    def _upload_one(self, upload: Upload) -> int | None:
        """The size uploaded, or None when the file changed since the plan."""
        body = self.folder.read(upload.object.name)
        if body is None or hashlib.sha256(body).hexdigest() != upload.entry.sha256:
            self.changed_under_us = True
            return None
        self.store.put(upload.object.name, body, upload.entry)
        return len(body)

    def _note(self, entries: Mapping[str, Entry]) -> None:
        if entries:
            self.manifest = self.manifest.with_entries(entries)
            self._unsaved = True

    def _checkpoint_due(self) -> bool:
        return (
            time.monotonic() - self._saved_at >= CHECKPOINT
            and self._sent >= CHECKPOINT_WEIGHT * self._saved_size
        )

    def _save(self) -> None:
        if self._unsaved:
            self.store.write_manifest(self.manifest)
            self._unsaved = False
            self._saved_size = self.manifest.size()
        self._saved_at, self._sent = time.monotonic(), 0


def _stored_size(future: Future[int | None]) -> int | None:
    if not future.done() or future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"
