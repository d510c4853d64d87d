"""The parse cache's records: a seed file's state, its version and the last
publish, as plain data (tuples, strings and numbers); its articles are
`feeds.build.packing`'s.

With that module, the one that knows their layout: `feeds.build.parsecache`
frames and stores them, the builder's parts and the reader's workers make
and read them here. Everything read back is checked, field by field, where
it is used: a damaged record is a file to read again, never an article to
publish. Light on purpose: a build with nothing to do reads seed records
and the last publish, never an article.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feeds.seeds.seedfile import Fingerprint

# --- file versions -----------------------------------------------------------

#: A fingerprint packed into one int: a tuple of three ints is ~160 bytes
#: per seed file, this ~50.
Version = int


def version_of(fingerprint: Fingerprint) -> Version:
    """One int for (mtime_ns, size, inode); size and inode are below 2**64,
    and a negative mtime (before 1970) still packs to a unique value."""
    mtime_ns, size, inode = fingerprint
    return (mtime_ns << 128) | (size << 64) | inode


def fingerprint_of(version: Version) -> Fingerprint:
    mask = (1 << 64) - 1
    return (version >> 128, (version >> 64) & mask, version & mask)


# --- seed records ------------------------------------------------------------

#: One seed file: (mtime_ns, size, inode, has_article, reason, warnings).
SeedRecord = tuple[int, int, int, bool, str | None, tuple[str, ...]]


@dataclass(slots=True)
class CachedSeed:
    fingerprint: Fingerprint
    has_article: bool  # its packed article is in the articles file
    reason: str | None  # why the file was rejected
    #: Why each of its dropped fields was dropped: a build with nothing to do
    #: still reports them, and strict mode rejects the file for them.
    warnings: tuple[str, ...] = ()


def article_record(fingerprint: Fingerprint, warnings: tuple[str, ...] = ()) -> SeedRecord:
    """A file whose article is kept (published, or held back by strict mode alone)."""
    return (*fingerprint, True, None, warnings)


def rejection_record(fingerprint: Fingerprint, reason: str) -> SeedRecord:
    return (*fingerprint, False, reason, ())


def cached_seed(raw: object) -> CachedSeed | None:
    """One seed's record as loaded, checked; None when absent or malformed
    (its file is then read again, never trusted)."""
    if not (isinstance(raw, tuple) and len(raw) == 6):
        return None
    mtime, size, inode, has_article, reason, warnings = raw
    if not (isinstance(mtime, int) and isinstance(size, int) and isinstance(inode, int)):
        return None
    if not isinstance(has_article, bool) or not (reason is None or isinstance(reason, str)):
        return None
    if not isinstance(warnings, tuple) or not all(isinstance(w, str) and w for w in warnings):
        return None
    return CachedSeed((mtime, size, inode), has_article, reason, warnings)


# --- folder listings ---------------------------------------------------------

#: A folder's seed files as one value: how many, and a digest of their names
#: and fingerprints. A build with nothing to do compares it with one made
#: from the folder as listed, and never decodes the seed records: at a
#: million files, decoding and looking them up one by one took a third of it.
Listing = tuple[int, bytes]


def joined_names(names: Sequence[str]) -> bytes:
    """Names as a `Listing` digests them."""
    return "\0".join(names).encode("utf-8", "surrogateescape")


class ListingMaker:
    """A folder's `Listing`, made from its files given in name order, a
    block at a time: the digest of the names joined by NUL, then of the
    mtimes, sizes and inodes as 64-bit arrays."""

    __slots__ = ("_digest", "_fingerprints", "_fits", "count")

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._fingerprints = (array("q"), array("Q"), array("Q"))
        self._fits = True
        self.count = 0

    def add(
        self,
        names: Sequence[str],
        mtimes: Sequence[int],
        sizes: Sequence[int],
        inodes: Sequence[int],
    ) -> None:
        """The next ``names`` (after any given before) and their fingerprints."""
        self.add_joined(joined_names(names), len(names), mtimes, sizes, inodes)

    def add_joined(
        self,
        joined: bytes,
        count: int,
        mtimes: Sequence[int],
        sizes: Sequence[int],
        inodes: Sequence[int],
    ) -> None:
        """`add` of ``count`` names given as `joined_names` made them (in a
        child, whose bytes cost less to send than the names)."""
        if not count:
            return
        if self.count:
            self._digest.update(b"\0")
        self._digest.update(joined)
        self.count += count
        try:
            for column, values in zip(self._fingerprints, (mtimes, sizes, inodes), strict=True):
                column.extend(values)
        except OverflowError:
            self._fits = False

    def made(self) -> Listing | None:
        """The listing; None when a fingerprint does not fit 64 bits (a file
        dated past 2262: no build with nothing to do, then)."""
        if not self._fits:
            return None
        digest = self._digest.copy()
        for column in self._fingerprints:
            digest.update(column.tobytes())
        return self.count, digest.digest()


def problem_of(record: SeedRecord) -> tuple[str | None, tuple[str, ...]] | None:
    """What a build with nothing to do reports of a seed: its rejection or
    its dropped fields; None for a good article without warnings."""
    reason, warnings = record[4], record[5]
    return (reason, warnings) if reason or warnings else None


# --- the last publish --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastPublish:
    """What the last publish was made from and made: enough to tell a build
    with nothing to do, with the config and output files checked apart."""

    config_digest: str
    #: When its next embargoed article becomes due, if any.
    next_embargo: datetime | None
    articles: int
    feeds: int

    def key(self) -> str:
        embargo = self.next_embargo.isoformat() if self.next_embargo else ""
        return f"{self.config_digest}|{embargo}|{self.articles}|{self.feeds}"

    @staticmethod
    def from_key(key: str) -> LastPublish | None:
        """The publish a key records; None when there is none, or it is malformed."""
        try:
            digest, embargo, articles, feeds = key.split("|")
            due = datetime.fromisoformat(embargo) if embargo else None
            return LastPublish(digest, due, int(articles), int(feeds))
        except ValueError:
            return None


#: An article as the parse cache keeps it (`feeds.build.packing`).
Packed = tuple[Any, ...]
