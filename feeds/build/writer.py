"""Writing the output folder: atomic, idempotent, and never outside it."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath

from feeds.errors import OutputError
from feeds.system.folders import MARKER, MARKER_TEXT, foreign_entry
from feeds.system.regular import open_regular

#: Temp files are dotfiles, so a web server that hides dotfiles never serves a
#: half-written feed, and a later start can recognise and remove leftovers.
TEMP_PREFIX = ".feeds-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644
#: O_DIRECTORY: something else renamed into a folder's place (a FIFO would
#: block the open) is refused at once.
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


#: A batch commits at least this often, bounding its temp files and the time
#: a finished feed waits before it replaces the old one.
BATCH_FILES = 256


class OutputFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_resolved: Path | None = None
        self._safe_parents: set[Path] = set()
        #: In a batch: finished temp files waiting for one sync, then their rename.
        self._pending: list[tuple[str, Path]] | None = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Writes inside are made durable together: one ``sync()`` for all the
        temp files, then the renames, then one fsync per folder, instead of two
        fsyncs per file (a cold build writes thousands of files). Until its
        rename each target keeps its old content, as with a single write; files
        finished before an error are still committed."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            try:
                self._commit()
            finally:
                self._pending = None

    def _commit(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        try:
            _sync_files(self.root, [temp_name for temp_name, _ in pending])
        except OSError as error:
            for temp_name, _ in pending:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
            raise OutputError(f"{self.root}: cannot write: {error.strerror}") from None
        folders: set[Path] = set()
        done = 0
        try:
            for temp_name, target in pending:
                os.replace(temp_name, target)
                folders.add(target.parent)
                done += 1
        except OSError as error:
            for temp_name, _ in pending[done:]:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
            raise OutputError(f"{pending[done][1]}: cannot write: {error.strerror}") from None
        finally:
            for folder in folders:
                _fsync_directory(folder)

    def prepare(self, *, sweep_temp: bool = True) -> None:
        """Creates the folder, marks it as feeds' (the server answers only from
        a marked folder), and removes temp files a crashed build left behind
        (once per process is enough: only a crash leaves them).

        A folder feeds did not make is refused (the config is too, before this:
        here it is the last guard, for a folder filled since)."""
        found = foreign_entry(self.root)
        if found is not None:
            raise OutputError(
                f"{self.root}: refusing to write into a folder feeds did not make"
                f" (it holds {found!r} and no {MARKER})"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"{self.root}: cannot create output folder: {error.strerror}"
            ) from None
        if not (self.root / MARKER).is_file():
            # Also an older version's folder, taken over at its next build.
            self.write(MARKER, MARKER_TEXT)
        if not sweep_temp:
            return
        for leftover in self.root.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def write(self, relative: str, data: bytes) -> bool:
        """Writes ``data`` unless the file already holds exactly these bytes.

        Returns whether the file was written. The old file stays in place
        until the new one is complete on disk.
        """
        target = self._resolve(relative)
        if _has_content(target, data):
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp_name = tempfile.mkstemp(
                dir=target.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX
            )
        except OSError as error:
            raise OutputError(f"{target}: cannot write: {error.strerror}") from None
        batched = self._pending is not None
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                if not batched:
                    stream.flush()
                    os.fsync(stream.fileno())
            os.chmod(temp_name, FILE_MODE)
            if self._pending is not None:
                self._pending.append((temp_name, target))
                if len(self._pending) >= BATCH_FILES:
                    self._commit()
                return True
            os.replace(temp_name, target)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise OutputError(f"{target}: cannot write: {error.strerror}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(target.parent)
        return True

    def remove(self, relative: str) -> bool:
        target = self._resolve(relative)
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise OutputError(f"{target}: cannot remove: {error.strerror}") from None
        return True

    def existing(self, folder: str, suffixes: Iterable[str]) -> set[str]:
        """Relative names of files under ``folder`` (recursively) that end in one
        of ``suffixes``; dotfiles and symlinked folders are not looked into."""
        directory = self._resolve(folder)
        endings = tuple(suffixes)
        found: set[str] = set()
        if not directory.is_dir() or directory.is_symlink():
            return found
        try:
            for dirpath, dirnames, filenames in os.walk(directory):
                dirnames[:] = [name for name in dirnames if not name.startswith(".")]
                relative = Path(dirpath).relative_to(self.root).as_posix()
                found.update(
                    f"{relative}/{name}"
                    for name in filenames
                    if name.endswith(endings) and not name.startswith(".")
                )
        except OSError as error:
            raise OutputError(f"{directory}: cannot list: {error.strerror}") from None
        return found

    def _resolve(self, relative: str) -> Path:
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise OutputError(f"refusing to write outside the output folder: {relative!r}")
        target = self.root.joinpath(*parts)
        if target.parent in self._safe_parents:
            return target
        if self._root_resolved is None:
            self._root_resolved = self.root.resolve()
        root = self._root_resolved
        parent = target.parent.resolve()
        if parent != root and root not in parent.parents:
            raise OutputError(f"refusing to write outside the output folder: {target}")
        # An OutputFolder lives for one publish; its folders are checked once in it.
        self._safe_parents.add(target.parent)
        return target


def _syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_SYNCFS = _syncfs() if sys.platform == "linux" else None


def _sync_files(root: Path, names: list[str]) -> None:
    """Makes ``names`` durable: one syncfs(2) for the output's filesystem (which
    reports writeback errors since Linux 5.8), else an fsync per file."""
    if _SYNCFS is not None:
        descriptor = os.open(root, _FOLDER_FLAGS)
        try:
            if _SYNCFS(descriptor) == 0:
                return
            number = ctypes.get_errno()
            if number != errno.ENOSYS:
                raise OSError(number, os.strerror(number))
        finally:
            os.close(descriptor)
    for name in names:
        descriptor, _ = open_regular(name)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _has_content(path: Path, data: bytes) -> bool:
    try:
        descriptor, info = open_regular(path)
    except OSError:
        return False
    with os.fdopen(descriptor, "rb") as stream:
        if info.st_size != len(data):
            return False
        try:
            return stream.read() == data
        except OSError:
            return False


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; some filesystems cannot, which is fine."""
    try:
        descriptor = os.open(directory, _FOLDER_FLAGS)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
