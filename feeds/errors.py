"""The one error model of the project.

Every problem a user can cause (bad config, bad article, unwritable output) is a
`FeedsError`. The CLI turns these into a message and an exit code in one place;
anything else reaching the top is a bug and may show a traceback. An optional
field of the wrong shape is no error: the article is published without it, and
an `ArticleWarning` says so (strict mode makes it an `ArticleError` again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import PurePath


class ExitCode(IntEnum):
    #: Warnings included: the articles were published without their dropped fields.
    OK = 0
    #: Some inputs were rejected (in strict mode, warned ones too); the feeds
    #: were still written from the good ones.
    REJECTED = 1
    #: A config or usage error, or nothing could be written.
    FAILURE = 2


class FeedsError(Exception):
    """Base of every error this project reports to a user."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(FeedsError):
    """The configuration (file or flags) is unusable."""


class ArticleError(FeedsError):
    """One seed file cannot become an article. Never fatal to a build."""

    exit_code = ExitCode.REJECTED

    def __init__(
        self,
        path: PurePath | str,
        reason: str,
        *,
        fingerprint: tuple[int, int, int] | None = None,
    ) -> None:
        self.path = str(path)
        self.reason = reason
        #: The (mtime_ns, size, inode) of the file whose bytes were judged.
        #: None when none were read (gone, not a regular file, an OS error):
        #: the reason is then no verdict on the file, and it is read again.
        self.fingerprint = fingerprint
        super().__init__(f"{shown_path(self.path)}: {reason}")


@dataclass(frozen=True, slots=True)
class ArticleWarning:
    """An optional field (or list item) of one seed file that had the wrong
    shape and was dropped; the article was published without it.

    ``reason`` names the field and what was expected, never the value found.
    """

    path: str
    reason: str

    def __str__(self) -> str:
        # The reason is escaped like the path: it is made of field names and
        # fixed words, and nothing a seed holds may forge a second line.
        return f"{shown_path(self.path)}: warning: {shown_path(self.reason)}; dropped"


def strict_rejection(path: PurePath | str, reasons: Sequence[str]) -> ArticleError:
    """Strict mode: a file with any warning is rejected, for pipelines that
    would rather fail than publish an article without a field they sent.
    One line per file, like every rejection, naming its first problem
    (`feeds check` without strict mode lists them all)."""
    more = "; and other fields" if len(reasons) > 1 else ""
    return ArticleError(path, f"{reasons[0]} (strict mode{more})")


class SeedsError(FeedsError):
    """The seeds folder could not be listed; nothing is published from a
    partial listing (the last good feeds stay)."""


class OutputError(FeedsError):
    """The output folder could not be written; the last good files stay."""


class CacheError(FeedsError):
    """The cache folder failed a build that relied on it (an article's text
    kept there could not be read back); the last good files stay."""


def kind_of(value: object) -> str:
    """Names a YAML value's type for an error message without echoing the value.

    Seed files carry secrets (``secured``); a message that quoted arbitrary
    values could leak one into a log.
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# A file name may hold anything but "/" and NUL: a newline would forge a second
# report or log line, an escape sequence would drive the terminal, a bidi
# override would reorder the line, and undecodable bytes (lone surrogates)
# cannot be written to a UTF-8 stream.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def shown_path(path: str) -> str:
    """``path`` for one line of a message: unprintable characters as escapes."""
    return _UNSHOWABLE.sub(lambda match: match.group().encode("unicode_escape").decode(), path)


class DependencyError(FeedsError):
    """An installed dependency lacks an internal that feeds relies on (see
    `feeds.compat`): found at start, never a defense that quietly stops."""

    @classmethod
    def missing(cls, dependency: str, version: str, internal: str, why: str) -> DependencyError:
        """The error for ``internal`` gone from ``dependency``: what, where, and why it matters."""
        return cls(
            f"{dependency} {version} has no {internal}, which feeds needs ({why}); "
            f"install the {dependency} version that feeds' pyproject.toml allows"
        )


class PublishError(FeedsError):
    """A publish target could not be brought in line with the output folder.

    The output folder is untouched, and the target stays consistent: what it
    holds links only to what it holds. ``transient`` errors (the network, a
    throttled or unavailable service) are worth retrying; the others (no or
    refused credentials, no such bucket) need the operator.
    """

    def __init__(self, target: str, reason: str, *, transient: bool) -> None:
        self.target = target
        self.reason = reason
        self.transient = transient
        super().__init__(f"publish target {target}: {reason}")
