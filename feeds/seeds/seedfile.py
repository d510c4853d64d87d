"""Reading one seed file's bytes, refusing what no article should be."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from feeds.errors import ArticleError
from feeds.system.regular import NotRegularFile, open_regular

#: Larger files are refused unread: a seed is front matter, and an excerpt
#: is cut to ``summary_length`` anyway. Multi-megabyte excerpts still fit.
MAX_SEED_BYTES = 16 * 1024 * 1024
#: Symbolic links followed in one read, as Linux's own bound: a chain longer
#: than this is far more likely a loop than a layout someone means.
MAX_LINKS = 40

#: What identifies one version of a file without reading it: (mtime_ns, size, inode).
Fingerprint = tuple[int, int, int]

LINK_OUTSIDE = "refused: a symbolic link to a file outside the seeds folder"
PATH_OUTSIDE = "refused: a file outside the seeds folder"

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def read_seed_bytes(path: Path, seeds: Path | None = None) -> bytes:
    """The bytes of ``path``. Raises ``ArticleError`` with the reason."""
    return read_seed_file(path, seeds)[0]


def read_seed_file(path: Path, seeds: Path | None = None) -> tuple[bytes, Fingerprint]:
    """The bytes of ``path``, and the fingerprint of the file they were read
    from (taken from the open descriptor before reading, so a file written
    meanwhile looks changed to the next scan). Raises ``ArticleError``: its
    ``fingerprint`` is None when no file was read, as the reason then says
    nothing about what the file holds.

    With ``seeds``, the file is opened by `open_beneath`: a symbolic link to
    a file must lead into the seeds folder, because the folder may be
    writable by people who must not be able to publish (or probe) any other
    file the service can read.
    """
    try:
        if seeds is None:
            descriptor, info = _open_following(path)
        else:
            descriptor, info = open_beneath(seeds, path)
        with os.fdopen(descriptor, "rb") as file:
            size = info.st_size
            fingerprint = (info.st_mtime_ns, size, info.st_ino)
            if size > MAX_SEED_BYTES:
                raise _too_large(path, fingerprint)
            # Asking for the limit at once makes Python allocate 16 MiB, which
            # costs more than reading a seed; the rest only if it grew meanwhile.
            raw = file.read(size + 1)
            if len(raw) > size:
                raw += file.read(MAX_SEED_BYTES + 1 - len(raw))
    except Refused as refusal:
        raise ArticleError(path, refusal.reason) from None
    except OSError as error:
        raise ArticleError(path, f"cannot read file: {error.strerror}") from None
    if len(raw) > MAX_SEED_BYTES:
        raise _too_large(path, fingerprint)
    return raw, fingerprint


def _too_large(path: Path, fingerprint: Fingerprint) -> ArticleError:
    limit = MAX_SEED_BYTES // (1024 * 1024)
    return ArticleError(path, f"file too large (over {limit} MiB)", fingerprint=fingerprint)


def _open_following(path: Path) -> tuple[int, os.stat_result]:
    try:
        return open_regular(path)
    except NotRegularFile:
        raise
    except FileNotFoundError:
        if os.path.islink(path):
            raise _BrokenLink() from None
        raise


class Refused(Exception):
    """The walk would leave the seeds folder; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BrokenLink(OSError):
    def __init__(self) -> None:
        super().__init__(errno.ENOENT, "broken symbolic link")


def open_beneath(seeds: Path, path: Path) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file ``path`` names, found from an open
    descriptor of ``seeds`` one name at a time, and its fstat.

    No name is ever opened through a symbolic link: each is opened with
    O_NOFOLLOW relative to the folder above it, and a link is read and its
    target walked the same way. What is checked is what is opened, so a link
    swapped during the walk can only make it fail, never lead it out.

    - A link to a file (or one a file link's target passes through) must
      stay beneath the seeds folder: else `Refused`.
    - A folder of ``path`` itself that is a link is the operator's choice
      and may lead anywhere (README, "Articles"); a file link inside such a
      folder must still lead into the seeds folder.
    - At most `MAX_LINKS` links per read (ELOOP).

    Raises `Refused`, or OSError (`feeds.system.regular.NotRegularFile` for
    anything but a regular file).
    """
    names = _names_beneath(seeds, path)
    root = os.open(seeds, _FOLDER_FLAGS)
    try:
        return _Walk(seeds, root).open(names)
    finally:
        os.close(root)


def _names_beneath(seeds: Path, path: Path) -> list[str]:
    """The names leading from ``seeds`` to ``path``, as spelled (no file system)."""
    folder, full = os.fspath(seeds), os.fspath(path)
    prefix = folder.rstrip(os.sep) + os.sep
    if full.startswith(prefix):
        rest = full[len(prefix) :]
    elif folder == os.curdir and not os.path.isabs(full):
        rest = full
    else:
        rest = os.path.relpath(full, folder)
    names = [name for name in rest.split(os.sep) if name not in ("", os.curdir)]
    if not names or os.pardir in names:
        raise Refused(PATH_OUTSIDE)
    return names


class _Walk:
    """One walk from the seeds folder's descriptor; see `open_beneath`."""

    def __init__(self, seeds: Path, root: int) -> None:
        self._seeds = seeds
        self._root = root
        self._real_root: str | None = None
        self._links = 0
        #: The folders open below the base, deepest last (closed when left).
        self._opened: list[int] = []
        #: The names from the seeds folder to the deepest open folder; None
        #: once a folder link of the path led out of the seeds folder.
        self._position: list[str] | None = []

    def open(self, names: list[str]) -> tuple[int, os.stat_result]:
        try:
            return self._walk(names)
        finally:
            for descriptor in self._opened:
                os.close(descriptor)

    def _walk(self, names: list[str]) -> tuple[int, os.stat_result]:
        pending = names[::-1]  # the next name last
        #: Walking a file link's target (all that is left then is): no link
        #: may lead out of the seeds folder from here on.
        strict = False
        while True:
            name = pending.pop()
            last = not pending
            folder = self._opened[-1] if self._opened else self._root
            try:
                if last:
                    return open_regular(name, os.O_NOFOLLOW, dir_fd=folder)
                self._enter(os.open(name, _FOLDER_FLAGS | os.O_NOFOLLOW, dir_fd=folder), name)
                continue
            except NotRegularFile:
                raise
            except OSError as error:
                target = _link_or_raise(name, folder, error, strict=strict)
            self._count_link()
            strict = strict or last
            spliced = self._splice(target)
            if spliced is None:
                if strict:
                    raise Refused(LINK_OUTSIDE)
                # A folder link of the path itself, out of the seeds folder:
                # the kernel follows it, and the walk goes on from there.
                self._enter(os.open(name, _FOLDER_FLAGS, dir_fd=folder), None)
                continue
            if last and not spliced:  # a link to the seeds folder itself
                raise NotRegularFile(name)
            self._rewind()
            pending.extend(reversed(spliced))

    def _count_link(self) -> None:
        self._links += 1
        if self._links > MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))

    def _enter(self, descriptor: int, name: str | None) -> None:
        self._opened.append(descriptor)
        if name is None:
            self._position = None
        elif self._position is not None:
            self._position.append(name)

    def _rewind(self) -> None:
        """Back to the seeds folder itself (targets are spliced as names from it)."""
        for descriptor in self._opened:
            os.close(descriptor)
        self._opened = []
        self._position = []

    def _splice(self, target: str) -> list[str] | None:
        """A link's target as names from the seeds folder: None when it leads
        out of it (or from where the walk cannot tell), [] for the folder itself.

        Worked out on the names alone: the folders walked so far were opened
        as folders, not links, so ``..`` in a target means the folder above.
        Whatever it names is then walked from the seeds folder's descriptor,
        so a mistaken name can only fail, never reach outside.
        """
        if os.path.isabs(target):
            full = os.path.normpath(target)
            bases = [os.path.abspath(self._seeds), self._real()]
        elif self._position is None:
            return None
        else:
            full = os.path.normpath(os.path.join(self._real(), *self._position, target))
            bases = [self._real()]
        for base in bases:
            if full == base:
                return []
            if full.startswith(base.rstrip(os.sep) + os.sep):
                return [name for name in full[len(base) :].split(os.sep) if name]
        return None

    def _real(self) -> str:
        if self._real_root is None:
            self._real_root = os.path.realpath(self._seeds)
        return self._real_root


def _link_or_raise(name: str, folder: int, error: OSError, *, strict: bool) -> str:
    """The target of ``name``, which ``error`` says could not be opened;
    ``error`` itself when ``name`` is no symbolic link (`_BrokenLink` for a
    missing name once ``strict``: a file link's target that is not there)."""
    target = _link_target(name, folder, error)
    if target is not None:
        return target
    if strict and error.errno == errno.ENOENT:
        raise _BrokenLink() from None
    raise error


def _link_target(name: str, folder: int, error: OSError) -> str | None:
    """The target of ``name`` when it is a symbolic link (the open failed
    because of O_NOFOLLOW or O_DIRECTORY); None when it is not one."""
    if error.errno == errno.ENOENT:
        return None
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:
        return None
