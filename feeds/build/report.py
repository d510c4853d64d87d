"""What a build did, for the CLI's summary line and exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.errors import ArticleError, ArticleWarning, ExitCode

if TYPE_CHECKING:  # plans bring the text stack (ftfy, nh3, slugify); a report needs a name
    from feeds.plan.plans import Duplicate


@dataclass(slots=True)
class BuildReport:
    articles: int = 0
    feeds: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: Documents rendered (their inputs changed, or the index and OPML),
    #: whether or not their bytes then changed.
    rendered: int = 0
    removed: list[str] = field(default_factory=list)
    rejected: tuple[ArticleError, ...] = ()
    #: Fields dropped from articles that were published without them.
    warnings: tuple[ArticleWarning, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    #: When the next embargoed article becomes due, if any.
    next_embargo: datetime | None = None
    #: Kept articles not visible yet because they are dated later.
    embargoed: int = 0
    #: Lists every file this build owns in the output folder (`files`).
    #: Asked only when the parse cache is saved: at a million articles the
    #: list has hundreds of thousands of names, too many to make on every save.
    owned: Callable[[], list[str]] = list
    seconds: float = 0.0

    @property
    def files(self) -> list[str]:
        """Every file this build owns in the output folder."""
        return self.owned()

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.REJECTED if self.rejected else ExitCode.OK

    def summary(self) -> str:
        return (
            f"{self.articles} articles, {self.feeds} feeds: "
            f"{len(self.written)} files written, {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, {len(self.rejected)} rejected, "
            f"{len(self.warnings)} warnings in {self.seconds:.2f} s"
        )
