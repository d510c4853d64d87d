"""Reading one seed file's bytes, refusing what no article should be."""

from __future__ import annotations

import os
from pathlib import Path

from feeds.errors import ArticleError
from feeds.regular import NotRegularFile, open_regular

#: Larger files are refused unread: a seed is front matter, and an excerpt
#: is cut to ``summary_length`` anyway. Multi-megabyte excerpts still fit.
MAX_SEED_BYTES = 16 * 1024 * 1024

#: What identifies one version of a file without reading it: (mtime_ns, size, inode).
Fingerprint = tuple[int, int, int]


def read_seed_bytes(path: Path, seeds: Path | None = None) -> bytes:
    """The bytes of ``path``. Raises ``ArticleError`` with the reason."""
    return read_seed_file(path, seeds)[0]


def read_seed_file(path: Path, seeds: Path | None = None) -> tuple[bytes, Fingerprint]:
    """The bytes of ``path``, and the fingerprint of the file they were read
    from (taken from the open descriptor before reading, so a file written
    meanwhile looks changed to the next scan). Raises ``ArticleError``: its
    ``fingerprint`` is None when no file was read, as the reason then says
    nothing about what the file holds.

    A seed that is itself a symbolic link must lead to a file inside the
    ``seeds`` folder: the seeds folder may be writable by people who must not
    be able to publish (or probe) any other file the service can read.
    Folders linked into the seeds folder are the operator's doing and are
    followed as before. The resolved target is what gets opened, so the link
    cannot be swapped between the check and the read.
    """
    target = path
    try:
        if seeds is not None and path.is_symlink():
            target = path.resolve(strict=True)
            if not target.is_relative_to(seeds.resolve()):
                raise ArticleError(
                    path, "refused: a symbolic link to a file outside the seeds folder"
                )
        descriptor, info = open_regular(target)
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
    except OSError as error:
        dangling = path.is_symlink() and not isinstance(error, NotRegularFile)
        reason = "broken symbolic link" if dangling else error.strerror
        raise ArticleError(path, f"cannot read file: {reason}") from None
    if len(raw) > MAX_SEED_BYTES:
        raise _too_large(path, fingerprint)
    return raw, fingerprint


def _too_large(path: Path, fingerprint: Fingerprint) -> ArticleError:
    limit = MAX_SEED_BYTES // (1024 * 1024)
    return ArticleError(path, f"file too large (over {limit} MiB)", fingerprint=fingerprint)
