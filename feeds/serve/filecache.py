"""The embedded server's memory of small public files: bytes, gzip and validators.

Feed readers poll the same few files over and over; a 304 needs only the
file's validators and a 200 only its bytes, so neither should cost a file read
or a compression per request. An entry belongs to one version of one file: the
resolved path plus the version's identity (device, inode, size, mtime and ctime
in ns). The atomic writer replaces a file by renaming a new inode over it, and
an in-place write changes mtime or ctime, so a lookup by the current `stat`
can never match the entry of an older version.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate

from feeds.system.regular import open_regular

Identity = tuple[int, int, int, int, int]

#: Below this many bytes gzip is not worth its header (GZipMiddleware's threshold).
GZIP_MINIMUM = 500
#: Once per file version, so a better ratio than per-response compression affords.
GZIP_LEVEL = 6


def identity(stat: os.stat_result) -> Identity:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def stat_etag(stat: os.stat_result) -> str:
    """The ETag of a file too large to keep: Starlette's FileResponse formula."""
    base = f"{stat.st_mtime}-{stat.st_size}"
    return f'"{hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()}"'


def content_etag(body: bytes) -> str:
    # From the bytes, not the stat: two versions written within one timestamp
    # tick with the same size still differ, and equal bytes (a restart, another
    # replica) keep their ETag.
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def last_modified(stat: os.stat_result) -> str:
    return formatdate(stat.st_mtime, usegmt=True)


@dataclass(frozen=True, slots=True)
class Entry:
    """One version of a file: its bytes as read through one descriptor, and the
    validators of that descriptor's `fstat`, so they always describe these bytes."""

    path: str
    identity: Identity
    body: bytes
    gzipped: bytes | None  # None below GZIP_MINIMUM
    etag: str
    last_modified: str

    @property
    def cost(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


class FileChanging(OSError):
    """The file was written in place while being read, on every try."""


def load(path: str, tries: int = 3) -> Entry:
    """Reads ``path`` (already resolved; a symlink put there since is refused)
    and compresses it. Blocking: run it in a worker thread."""
    for _ in range(tries):
        fd, _ = open_regular(path, os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as file:
            before = os.fstat(file.fileno())
            body = file.read()
            after = os.fstat(file.fileno())
        # The writer never writes in place; someone else might, and torn bytes
        # must not be remembered under a validator.
        if identity(before) == identity(after) and len(body) == after.st_size:
            gzipped = (
                gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) >= GZIP_MINIMUM else None
            )
            return Entry(
                path, identity(after), body, gzipped, content_etag(body), last_modified(after)
            )
    raise FileChanging(f"{path} kept changing while being read")


class FileCache:
    """A byte-bounded LRU of entries, one per path (an older version is useless
    once the path names a newer one). Not thread-safe: only the server's event
    loop touches it; loads run elsewhere and are stored from the loop."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_file_bytes: int = 8 * 1024 * 1024):
        self.max_bytes = max_bytes
        #: Larger files are streamed from disk per request instead.
        self.max_file_bytes = max_file_bytes
        self.size = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def cacheable(self, stat: os.stat_result) -> bool:
        return stat.st_size <= self.max_file_bytes

    def get(self, path: str, stat: os.stat_result) -> Entry | None:
        entry = self._entries.get(path)
        if entry is None or entry.identity != identity(stat):
            return None
        self._entries.move_to_end(path)
        return entry

    def put(self, entry: Entry) -> None:
        old = self._entries.pop(entry.path, None)
        if old is not None:
            self.size -= old.cost
        if entry.cost > self.max_bytes:
            return
        self._entries[entry.path] = entry
        self.size += entry.cost
        while self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= evicted.cost
