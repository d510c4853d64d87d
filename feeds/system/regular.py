"""Opening a file to read only when it is a regular file, never blocking on the open.

Opening a FIFO to read waits for a writer, for ever, and opening a device may
do anything. Checking the type first and opening afterwards can be raced (a
FIFO renamed into place in between), so the open itself must not block
(O_NONBLOCK, which changes nothing for a regular file) and the type is read
from the descriptor that was opened.
"""

from __future__ import annotations

import errno
import os
import stat

OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class NotRegularFile(FileNotFoundError):
    """A FIFO, socket, device or folder where a file was expected: to every
    caller as good as no file at all."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.ENOENT, "not a regular file", os.fspath(path))


def open_regular(
    path: str | os.PathLike[str], flags: int = 0, *, dir_fd: int | None = None
) -> tuple[int, os.stat_result]:
    """A descriptor of ``path`` and its fstat; raises `NotRegularFile` (and
    closes what it opened) when it is not a regular file."""
    descriptor = os.open(path, OPEN_FLAGS | flags, dir_fd=dir_fd)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, info


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path`` when it is a regular file (see `open_regular`)."""
    descriptor, _ = open_regular(path)
    with os.fdopen(descriptor, "rb") as stream:
        return stream.read()
