"""A one-shot build, as `feeds build` runs it: the up-to-date check, then the
full build only when the check cannot prove there is nothing to do.

Light on purpose: a build with nothing to do imports none of the reader,
planner, renderers or writer (`feeds.build.uptodate`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from feeds.build.report import BuildReport
from feeds.build.uptodate import report_if_unchanged
from feeds.config import Config

if TYPE_CHECKING:  # the scanner brings the reader
    from feeds.build.scanner import Progress


def build(
    config: Config,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> BuildReport:
    """Brings the output folder in line with the seeds folder, once.

    With the parse cache, unchanged files are not parsed again, and a build
    that finds nothing changed (files, config, embargoes, output) does nothing.
    """
    report = report_if_unchanged(config, now) if use_cache else None
    if report is not None:
        return report
    # Imported only now: a build with nothing to do never pays for it.
    from feeds.build import builder

    return builder.rebuild(config, now=now, progress=progress, use_cache=use_cache)
