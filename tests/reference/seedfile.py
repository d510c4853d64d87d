"""Reading one seed file's bytes, refusing what no article should be."""

# Frozen copy of feeds/seeds/seedfile.py as of commit ec15e57: the reference for
# tests/seeds/test_read_sameness.py. Do not optimise or fix it.

from __future__ import annotations

import os
from pathlib import Path

from feeds.errors import ArticleError

#: Larger files are refused unread: a seed is front matter, and an excerpt
#: is cut to ``summary_length`` anyway. Multi-megabyte excerpts still fit.
MAX_SEED_BYTES = 16 * 1024 * 1024


def read_seed_bytes(path: Path, seeds: Path | None = None) -> bytes:
    """The bytes of ``path``. Raises ``ArticleError`` with the reason.

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
        with target.open("rb") as file:
            if os.fstat(file.fileno()).st_size > MAX_SEED_BYTES:
                raise _too_large(path)
            raw = file.read(MAX_SEED_BYTES + 1)  # it may grow while being read
    except OSError as error:
        reason = "broken symbolic link" if path.is_symlink() else error.strerror
        raise ArticleError(path, f"cannot read file: {reason}") from None
    if len(raw) > MAX_SEED_BYTES:
        raise _too_large(path)
    return raw


def _too_large(path: Path) -> ArticleError:
    return ArticleError(path, f"file too large (over {MAX_SEED_BYTES // (1024 * 1024)} MiB)")
