"""The build: seeds folder in, output folder current. The core the CLI calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from feeds.config import Config
from feeds.errors import ArticleError, ConfigError, ExitCode
from feeds.index import TOPICS_DIR, Duplicate, is_visible, merge_duplicates, plan_feeds
from feeds.model import Article
from feeds.reader import discover, read_all
from feeds.render import FORMATS
from feeds.writer import OutputFolder

#: Wraps the list of seed files while they are read, e.g. to draw a progress bar.
Progress = Callable[[Sequence[Path]], Iterable[Path]]


@dataclass(frozen=True, slots=True)
class Scan:
    """Everything the seeds folder holds, validated and de-duplicated."""

    articles: tuple[Article, ...]
    rejected: tuple[ArticleError, ...]
    duplicates: tuple[Duplicate, ...]
    files: int


@dataclass(slots=True)
class BuildReport:
    articles: int = 0
    feeds: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    rejected: tuple[ArticleError, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    seconds: float = 0.0

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REJECTED if self.rejected else ExitCode.OK

    def summary(self) -> str:
        return (
            f"{self.articles} articles, {self.feeds} feeds: "
            f"{len(self.written)} files written, {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, {len(self.rejected)} rejected "
            f"in {self.seconds:.2f} s"
        )


def scan(config: Config, progress: Progress | None = None) -> Scan:
    """Reads every article of the seeds folder. Writes nothing."""
    if not config.seeds.is_dir():
        raise ConfigError(f"{config.seeds}: seeds folder not found")
    paths = discover(config.seeds, config.patterns)
    result = read_all(paths, config.tz, progress)
    articles, duplicates = merge_duplicates(result.articles)
    return Scan(tuple(articles), result.errors, tuple(duplicates), len(paths))


def build(
    config: Config,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Brings the output folder in line with the seeds folder.

    ``now`` decides which future-dated articles are still embargoed; it never
    reaches the output. Raises ``OutputError`` when a file cannot be written
    (files not yet replaced keep their last good content).
    """
    started = time.monotonic()
    moment = now or datetime.now(UTC)
    found = scan(config, progress)
    visible = [a for a in found.articles if is_visible(a, moment, config.published_only)]
    plans = plan_feeds(visible, config.max_items)

    output = OutputFolder(config.output)
    output.prepare()
    report = BuildReport(
        articles=len(visible),
        feeds=len(plans),
        rejected=found.rejected,
        duplicates=found.duplicates,
    )
    expected: set[str] = set()
    for plan in plans:
        for fmt in FORMATS:
            name = plan.stem + fmt.suffix
            expected.add(name)
            if output.write(name, fmt.render(plan, config)):
                report.written.append(name)
            else:
                report.unchanged += 1
    stale = output.existing(TOPICS_DIR, [fmt.suffix for fmt in FORMATS]) - expected
    for name in sorted(stale):
        if output.remove(name):
            report.removed.append(name)
    report.seconds = time.monotonic() - started
    return report
