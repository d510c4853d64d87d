"""Which files of the seeds folder are articles, by name alone (nothing is read).

Apart from the reader so that a build with nothing to do can list the seeds
folder without importing the reader's YAML and text stack.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from collections.abc import Sequence
from functools import cache
from pathlib import Path

#: Names that editors and tools leave behind; never articles, never errors.
LITTER_PATTERNS = ("*~", ".#*", "#*#", "*.swp", "*.swx", "*.tmp", "*.part")

_LITTER_ALTERNATIVES = "|".join(fnmatch.translate(pattern) for pattern in LITTER_PATTERNS)
_LITTER = re.compile(_LITTER_ALTERNATIVES)


#: Why a subfolder cannot be listed that holds for as long as it stays as it
#: is (gone, replaced by a file, unreadable to the service, a link loop):
#: it then has no articles. Any other error fails the whole listing.
_NEVER_LISTED = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.ELOOP})


def is_litter(name: str) -> bool:
    return name.startswith(".") or _LITTER.match(name) is not None


def is_candidate(name: str, patterns: Sequence[str]) -> bool:
    """Whether a file name could be an article (before looking inside)."""
    return _matcher(tuple(patterns)).match(name) is not None


@cache
def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Names that match a pattern and are not litter, in one match: a
    hundred thousand names make each call per name count."""
    wanted = "|".join(fnmatch.translate(pattern) for pattern in patterns)
    return re.compile(rf"(?!\.|{_LITTER_ALTERNATIVES})(?:{wanted})")


def walk(
    seeds: Path, patterns: Sequence[str], *, typed: bool = True
) -> list[tuple[str, list[str]]]:
    """Each folder under ``seeds`` (following symlinks but not loops) ending in
    a separator, with the names of its article files; in no particular order.
    Raises OSError (naming the folder) when a folder could not be listed for
    a reason that may pass.

    scandir's entries know their type without a stat per file, which matters
    at a hundred thousand files. Not ``typed``, names alone are listed, and
    only those that do not match are looked at (for subfolders): each name
    that matches is taken for a file. That is for a caller that looks at
    every such name anyway, and must then find each a regular file: where
    one is not (a folder, a FIFO, a dangling link), ``typed`` lists otherwise.
    """
    matcher = _matcher(tuple(patterns))
    lister = _typed if typed else _untyped
    found: list[tuple[str, list[str]]] = []
    visited: set[tuple[int, int]] = set()
    root = os.fspath(seeds)
    folders = [root]
    while folders:
        folder = folders.pop()
        # The prefix scandir gives its entries' paths ("/" stays "/").
        prefix = folder if folder.endswith(os.sep) else folder + os.sep
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:  # a symlink loop or a second way in
                continue
            visited.add((info.st_dev, info.st_ino))
            names, subfolders = lister(folder, prefix, matcher)
        except OSError as error:
            if folder != root and error.errno in _NEVER_LISTED:
                continue
            # Out of descriptors, a disk error: the folder's files are still
            # there, and a listing without them would unpublish them.
            raise OSError(error.errno, error.strerror, folder) from None
        folders.extend(subfolders)
        found.append((prefix, names))
    return found


def _typed(folder: str, prefix: str, matcher: re.Pattern[str]) -> tuple[list[str], list[str]]:
    """A folder's article files and subfolders, by the types scandir gives."""
    names: list[str] = []
    subfolders: list[str] = []
    for entry in list(os.scandir(folder)):
        name = entry.name
        try:
            if entry.is_dir():
                if not is_litter(name):
                    subfolders.append(prefix + name)  # as scandir spells entry.path
            elif matcher.match(name) and (entry.is_file() or _is_dangling(entry)):
                names.append(name)
        except OSError:  # vanished, or a symlink loop: not an article
            continue
    return names, subfolders


def _untyped(folder: str, prefix: str, matcher: re.Pattern[str]) -> tuple[list[str], list[str]]:
    """A folder's names that match, and its subfolders among the others."""
    listed = os.listdir(folder)
    match = matcher.match
    names = [name for name in listed if match(name)]
    subfolders: list[str] = []
    if len(names) == len(listed):
        return names, subfolders
    matching = set(names)
    for name in listed:
        if name in matching or is_litter(name):
            continue
        try:
            if stat.S_ISDIR(os.stat(prefix + name).st_mode):
                subfolders.append(prefix + name)
        except OSError:  # vanished, dangling, or a symlink loop: not a folder
            continue
    return names, subfolders


def discover(seeds: Path, patterns: Sequence[str]) -> list[Path]:
    """Every article file under ``seeds``, sorted, following symlinks but not loops."""
    return [Path(name) for name in discover_names(seeds, patterns)]


def discover_names(seeds: Path, patterns: Sequence[str]) -> list[str]:
    """`discover` as strings (each as ``str()`` of its Path would spell it)."""
    found = [folder + name for folder, names in walk(seeds, patterns) for name in names]
    if os.fspath(seeds) == os.curdir:  # Path("./a") is "a"
        found = [name[len(os.curdir + os.sep) :] for name in found]
    found.sort(key=path_order)
    return found


def path_order(name: str) -> str:
    """Sorts names as their Paths sort (component by component), without
    making Paths: comparing Path objects is far slower than strings. NUL sorts
    before any character and is never in a name, so it makes string order
    the components' order."""
    return name.replace(os.sep, "\0")


def _is_dangling(entry: os.DirEntry[str]) -> bool:
    """A symlink to nothing is a mistake worth reporting; a loop or a FIFO is not an article."""
    if not entry.is_symlink():
        return False
    try:
        os.stat(entry.path)
    except OSError as error:
        return error.errno == errno.ENOENT
    return False
