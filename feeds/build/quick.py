"""`feeds build` with nothing to do, answered before click, pydantic or PyYAML
is imported.

`feeds.__main__` asks here first. The command line is read as click reads
it, for the options named below only; the no-op stamp of the last build of
the same command line (`feeds.build.stamp`) says what the config means; the
folders are checked as the config checks them; the up-to-date check is the
one `feeds build` runs (`feeds.build.uptodate`); and its answer is printed
as the CLI prints it, byte for byte, with the same exit code. At anything
else (another command or option, no stamp or another key, a folder the
config refuses, a change, text click would print otherwise) the answer is
None and the full command line runs: this is an optimisation only.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from feeds.build.report import BuildReport
from feeds.build.stamp import Invocation, load
from feeds.build.uptodate import report_if_expected
from feeds.system.folders import placement_problems

#: The group's options that may come before ``build``.
GROUP_FLAGS = frozenset({"-v", "--verbose"})
#: ``build``'s options that take a path, by the field of `Invocation` they fill.
PATH_OPTIONS = {
    "--config": "config",
    "--seeds": "seeds",
    "--output": "output",
    "--cache-dir": "cache_dir",
}
#: ``build``'s flags this answers; any other (--no-cache, --publish, --help)
#: means the full command line.
FLAGS = frozenset({"--strict", "-q", "--quiet"})


@dataclass(frozen=True, slots=True)
class Request:
    invocation: Invocation
    quiet: bool


def answer(argv: Sequence[str]) -> int | None:
    """The exit code of ``feeds build`` with ``argv`` once its output is
    printed, when it has nothing to do and the stamp proves it; else None,
    with nothing printed."""
    request = parse(argv)
    if request is None:
        return None
    stamp = load(request.invocation)
    if stamp is None:
        return None
    expected = stamp.expected
    problems = placement_problems(
        expected.seeds, expected.output, expected.cache_dir, stamp.state_dir
    )
    if problems:
        return None  # the config refuses it, and says why
    report = report_if_expected(expected, quiet=True)
    if report is None:
        return None
    return _print(report, quiet=request.quiet)


def parse(argv: Sequence[str]) -> Request | None:
    """``feeds [-v] build [options]`` as click reads it, when every option is
    one named above, each given once, and click would accept its value."""
    args = iter(argv)
    command = next((arg for arg in args if arg not in GROUP_FLAGS), None)
    if command != "build":
        return None
    paths: dict[str, str] = {}
    flags: set[str] = set()
    for arg in args:
        name, equals, value = arg.partition("=")
        if arg in FLAGS:
            flags.add(arg)
        elif name in PATH_OPTIONS and PATH_OPTIONS[name] not in paths:
            value = value if equals else next(args, "")
            if not _accepted(name, value):
                return None
            paths[PATH_OPTIONS[name]] = str(Path(value))  # as click gives it
        else:
            return None
    invocation = Invocation(
        config=paths.get("config"),
        seeds=paths.get("seeds"),
        output=paths.get("output"),
        cache_dir=paths.get("cache_dir"),
        strict="--strict" in flags,
    )
    return Request(invocation, quiet=bool(flags & {"-q", "--quiet"}))


def _accepted(option: str, value: str) -> bool:
    """Whether click's Path type takes ``value`` for ``option`` (a config
    file, else a folder) without a word; a value like an option is left
    to click."""
    if not value or value.startswith("-"):
        return False
    try:
        info = os.stat(value)
    except OSError:
        return True  # need not exist
    except ValueError:  # a NUL
        return False
    wrong = stat.S_ISDIR if option == "--config" else stat.S_ISREG
    return not wrong(info.st_mode) and os.access(value, os.R_OK)


def _print(report: BuildReport, *, quiet: bool) -> int | None:
    """Prints the report as `feeds.cli` does (problems, then the summary),
    and returns its exit code; None, printing nothing, when click would
    print it otherwise."""
    problems = [f"{problem}\n" for problem in (*report.rejected, *report.warnings)]
    summary = [] if quiet else [f"{report.summary()}\n"]
    if not (_as_click(sys.stderr, problems) and _as_click(sys.stdout, summary)):
        return None
    for stream, lines in ((sys.stderr, problems), (sys.stdout, summary)):
        for line in lines:
            stream.write(line)
            stream.flush()  # click.echo flushes each line
    return int(report.exit_code)


def _as_click(stream: TextIO | None, lines: Sequence[str]) -> bool:
    """Whether click.echo would write ``lines`` to ``stream`` as they are:
    it strips ANSI codes from what does not go to a terminal, and wraps a
    stream that says it is ASCII."""
    if not lines:
        return True
    encoding = getattr(stream, "encoding", None)
    if stream is None or not encoding or codecs.lookup(encoding).name == "ascii":
        return False
    return not any("\x1b" in line for line in lines)
