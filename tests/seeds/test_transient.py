"""A read that failed for a reason outside the file is no verdict on the file.

Renamed out of the seeds folder and back while the daemon read it, a valid
seed was rejected with "cannot read file: No such file or directory" under
the version it had before and after (a rename changes no mtime, size or
inode), so no rescan, reload or restart read it again: the parse cache kept
the rejection (issue 13, item 7). A verdict now belongs to the version of
the bytes actually read, and a file that could not be opened is read again
by the next scan and never saved in the cache.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds.build import scanner
from feeds.build.builder import Builder
from feeds.build.oneshot import build
from feeds.build.uptodate import parse_cache, report_if_unchanged
from feeds.config import Config
from feeds.errors import FeedsError
from feeds.seeds import reader
from tests.conftest import SeedWriter, seed_text

ConfigFactory = Callable[..., Config]
#: Done to the seed just before it is read, and undone just after.
Swap = tuple[Callable[[Path], None], Callable[[Path], None]]


@pytest.fixture
def config(write_seed: SeedWriter, make_config: ConfigFactory, tmp_path: Path) -> Config:
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    write_seed("b.txt", title="Bravo", link="https://e.org/b")
    return make_config(f"cache_dir: {tmp_path / 'cache'}")


def _renamed_away(path: Path) -> Swap:
    aside = path.with_name(".aside")

    def swap(p: Path) -> None:
        p.rename(aside)

    def back(p: Path) -> None:
        aside.rename(p)

    return swap, back


def _replaced_by_a_folder(path: Path) -> Swap:
    aside = path.with_name(".aside")

    def swap(p: Path) -> None:
        p.rename(aside)
        p.mkdir()

    def back(p: Path) -> None:
        p.rmdir()
        aside.rename(p)

    return swap, back


def _replaced_by_a_bad_version(path: Path) -> Swap:
    """Another file (another inode) with content that is rejected."""
    aside, bad = path.with_name(".aside"), path.with_name(".bad")
    bad.write_text("---\ntitle: no link\n---\n")

    def swap(p: Path) -> None:
        p.rename(aside)
        bad.rename(p)

    def back(p: Path) -> None:
        p.rename(bad)
        aside.rename(p)

    return swap, back


@contextlib.contextmanager
def racing(monkeypatch: pytest.MonkeyPatch, path: Path, swap: Swap) -> Iterator[None]:
    """Makes every read of ``path`` by the Builder meet ``swap``: the file was
    listed and its version taken as it is, and it is as it was afterwards."""
    read_many, read_seed = reader.read_many, reader.read_seed
    away, back = swap

    def many(names: list[str], *args: Any) -> Iterator[Any]:
        racy = str(path) in names
        if racy:
            away(path)
        try:
            outcomes = list(read_many(names, *args))
        finally:
            if racy:
                back(path)
        yield from outcomes

    def one(name: Path, *args: Any) -> Any:
        racy = str(name) == str(path)
        if racy:
            away(path)
        try:
            return read_seed(name, *args)
        finally:
            if racy:
                back(path)

    with monkeypatch.context() as patch:
        patch.setattr(scanner, "read_many", many)
        patch.setattr(scanner, "read_seed", one)
        yield


def _titles(builder: Builder) -> list[str]:
    return sorted(article.title for article in builder.scan_result().articles)


def _published(output: Path) -> list[str]:
    return sorted(item["title"] for item in json.loads((output / "all.json").read_text())["items"])


SWAPS = {
    "renamed-away": _renamed_away,
    "replaced-by-a-folder": _replaced_by_a_folder,
    "replaced-by-a-bad-version": _replaced_by_a_bad_version,
}


@pytest.mark.parametrize("swap", list(SWAPS))
def test_the_next_scan_reads_a_seed_whose_read_was_raced(
    config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    with racing(monkeypatch, path, SWAPS[swap](path)):
        builder.scan_all()

    builder.scan_all()

    assert _titles(builder) == ["Alpha", "Bravo"]
    assert builder.rejected == ()


@pytest.mark.parametrize("swap", list(SWAPS))
def test_a_watcher_update_reads_a_seed_whose_read_was_raced_again(
    config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    builder.scan_all()
    replacement = seeds / "new.tmp"
    replacement.write_text(seed_text(title="Alpha 2", link="https://e.org/a"))
    replacement.replace(path)  # an editor's save: the watcher reports the path
    with racing(monkeypatch, path, SWAPS[swap](path)):
        builder.update([path])

    assert builder.update([path]) == [str(path)]

    assert _titles(builder) == ["Alpha 2", "Bravo"]
    assert builder.rejected == ()


@pytest.mark.parametrize("swap", list(SWAPS))
def test_a_raced_read_is_not_kept_in_the_parse_cache(
    config: Config, seeds: Path, output: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    """The daemon's stop saves the cache; its next start (or a build) must
    read the file, not remember the failure."""
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    with racing(monkeypatch, path, SWAPS[swap](path)):
        builder.scan_all()
    builder.save_cache(builder.publish())

    restarted = Builder(config, parse_cache(config))
    restarted.scan_all()
    assert _titles(restarted) == ["Alpha", "Bravo"]
    assert restarted.rejected == ()

    report = build(config)
    assert report.rejected == ()
    assert _published(output) == ["Alpha", "Bravo"]


def test_a_build_after_a_raced_daemon_read_publishes_the_seed(
    config: Config, seeds: Path, output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, with `feeds build` as its own process after the cache was saved."""
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    with racing(monkeypatch, path, _renamed_away(path)):
        builder.scan_all()
    builder.save_cache(builder.publish())
    settings = tmp_path / "feeds.yaml"
    command = [sys.executable, "-m", "feeds", "build", "--config", str(settings)]

    finished = subprocess.run(
        [*command, "--seeds", str(seeds), "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )

    assert (finished.returncode, finished.stderr) == (0, "")
    assert _published(output) == ["Alpha", "Bravo"]


def test_a_seed_that_is_gone_when_read_is_not_reported(
    config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edited, listed, then deleted before it was read: a deletion, not a rejection."""
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    builder.scan_all()
    path.write_text(seed_text(title="Alpha 2", link="https://e.org/a"))
    away, _ = _renamed_away(path)
    with racing(monkeypatch, path, (away, lambda _: None)):
        builder.scan_all()

    assert _titles(builder) == ["Bravo"]
    assert builder.rejected == ()


# --- listing the seeds folder ----------------------------------------------------


@pytest.fixture
def listing_fails(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, int], None]:
    """Makes listing one folder fail with an errno, as a process out of file
    descriptors (EMFILE) or a flaky disk (EIO) would."""

    def fail(folder: Path, number: int) -> None:
        for lister in ("scandir", "listdir"):  # with types, and names alone
            monkeypatch.setattr(os, lister, _failing(getattr(os, lister), folder, number))

    return fail


def _failing(lister: Callable[[Any], Any], folder: Path, number: int) -> Callable[[Any], Any]:
    def failing(path: Any) -> Any:
        if os.fspath(path).rstrip(os.sep) == os.fspath(folder):
            raise OSError(number, os.strerror(number))
        return lister(path)

    return failing


@pytest.mark.parametrize("number", [errno.EMFILE, errno.EIO], ids=["EMFILE", "EIO"])
@pytest.mark.parametrize("where", ["seeds", "sub"])
def test_a_folder_that_cannot_be_listed_for_a_moment_unpublishes_nothing(
    config: Config,
    seeds: Path,
    write_seed: SeedWriter,
    listing_fails: Callable[[Path, int], None],
    number: int,
    where: str,
) -> None:
    """Such a folder was taken for empty: its articles left the feeds (every
    article, for the seeds folder itself) until the next scan."""
    write_seed("sub/c.txt", title="Charlie", link="https://e.org/c")
    build(config)
    builder = Builder(config, parse_cache(config))
    builder.scan_all()
    listing_fails(seeds if where == "seeds" else seeds / "sub", number)

    with pytest.raises(FeedsError, match="cannot list"):
        builder.scan_all()

    assert _titles(builder) == ["Alpha", "Bravo", "Charlie"]
    assert report_if_unchanged(config) is None  # nor does a build take it for "nothing changed"


def test_a_folder_that_can_never_be_listed_is_skipped_as_before(
    config: Config,
    seeds: Path,
    write_seed: SeedWriter,
    listing_fails: Callable[[Path, int], None],
) -> None:
    """A folder the service may not read (lost+found on a mounted disk) holds
    nothing it could publish; it must not stop every build."""
    write_seed("sub/c.txt", title="Charlie", link="https://e.org/c")
    listing_fails(seeds / "sub", errno.EACCES)
    builder = Builder(config, parse_cache(config))

    builder.scan_all()

    assert _titles(builder) == ["Alpha", "Bravo"]


def test_a_watcher_update_that_cannot_tell_a_file_reads_it_later(
    config: Config, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stat failing for another reason than the file being gone used to
    end the rebuild with a traceback, losing the paths it was given."""
    path = seeds / "a.txt"
    builder = Builder(config, parse_cache(config))
    builder.scan_all()
    path.write_text(seed_text(title="Alpha 2", link="https://e.org/a"))
    is_file = Path.is_file

    def failing(self: Path) -> bool:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied")
        return is_file(self)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "is_file", failing)
        builder.update([path])

    builder.update([path])
    assert _titles(builder) == ["Alpha 2", "Bravo"]
