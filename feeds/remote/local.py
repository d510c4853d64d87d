"""The output folder as objects: each public file's name, kind and hash.

A file's SHA-256 is kept by its identity (size, mtime, inode), so a push
after one edit hashes only the files that edit rewrote. Symbolic links and
anything but regular files are skipped: the output folder is feeds' own,
and nothing in it may send a push to a file elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from feeds.formats import FEED_PAGE, FORMATS, INDEX_PAGE, OPML, content_type, is_public
from feeds.plan.plans import ARCHIVE_DIR
from feeds.system.regular import open_regular

#: Upload order, first to last: what a document links to goes before it
#: (archives before the feeds whose prev-archive names them, feeds before
#: the pages that offer them, pages before the index and OPML that list them).
TIERS = ("archives", "feeds", "pages", "entry")
#: The documents readers start from.
ENTRY_NAMES = (INDEX_PAGE.filename, OPML.filename)

_FEED_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)


@dataclass(frozen=True, slots=True)
class LocalObject:
    """One public file of the output folder, as it will be stored."""

    #: Its path in the output folder (``/``-separated): its key past the prefix.
    name: str
    sha256: str
    size: int
    content_type: str
    #: One of `TIERS`: when it is uploaded.
    tier: str

    @property
    def kind(self) -> str:
        """Which ``cache_control`` applies: feeds, archives or pages."""
        return "pages" if self.tier == "entry" else self.tier


def tier_of(name: str) -> str:
    if name in ENTRY_NAMES:
        return "entry"
    if name.startswith(f"{ARCHIVE_DIR}/"):
        return "archives"
    if name.endswith(_FEED_SUFFIXES):
        return "feeds"
    return "pages" if name.endswith(FEED_PAGE.suffix) else "entry"


@dataclass(frozen=True, slots=True)
class _Known:
    identity: tuple[int, int, int]
    sha256: str


class OutputFolder:
    """Lists an output folder's public files; remembers hashes between scans."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, _Known] = {}

    def scan(self) -> dict[str, LocalObject]:
        """Every public regular file, by name. A file that vanishes while
        being read is left out (the next scan sees the folder as it is)."""
        found: dict[str, LocalObject] = {}
        for name, info in _public_files(self.root):
            identity = (info.st_size, info.st_mtime_ns, info.st_ino)
            known = self._known.get(name)
            if known is None or known.identity != identity:
                digest = self._hash(name)
                if digest is None:
                    continue
                known = _Known(identity, digest)
            found[name] = LocalObject(
                name, known.sha256, info.st_size, content_type(name), tier_of(name)
            )
            self._known[name] = known
        for gone in self._known.keys() - found.keys():
            del self._known[gone]
        return found

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name`` now, or None when it is gone."""
        try:
            descriptor, _ = open_regular(self.root / name, os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as stream:
            return stream.read()

    def _hash(self, name: str) -> str | None:
        body = self.read(name)
        return None if body is None else hashlib.sha256(body).hexdigest()


def _public_files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(root / folder if folder else root))
        except OSError:
            continue
        for entry in entries:
            name = f"{folder}{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode) and not entry.name.startswith("."):
                folders.append(name + "/")
            elif stat.S_ISREG(info.st_mode) and is_public(name):
                yield name, info
