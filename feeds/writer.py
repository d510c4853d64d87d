"""Writing the output folder: atomic, idempotent, and never outside it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from feeds.errors import OutputError

#: Temp files are dotfiles, so a web server that hides dotfiles never serves a
#: half-written feed, and a later start can recognise and remove leftovers.
TEMP_PREFIX = ".feeds-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644


class OutputFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Creates the folder and removes temp files a crashed build left behind."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"{self.root}: cannot create output folder: {error.strerror}"
            ) from None
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
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp_name, FILE_MODE)
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
        root = self.root.resolve()
        parent = target.parent.resolve()
        if parent != root and root not in parent.parents:
            raise OutputError(f"refusing to write outside the output folder: {target}")
        return target


def _has_content(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; some filesystems cannot, which is fine."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
