"""No file that is not a regular file can block a build, the daemon or the server.

Opening a FIFO for reading waits for a writer, for ever. A seed, a parse
cache or an output file replaced by one between a check and the open hung
the daemon's rebuild thread for good (issue 13, item 2). Every open here
must return at once and refuse what is not a regular file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from feeds.build import scanner, uptodate, writer
from feeds.build.builder import Builder
from feeds.build.parsecache import CacheState, ParseCache
from feeds.config import Config
from feeds.errors import ArticleError
from feeds.seeds import discovery, reader, seedfile
from feeds.serve import filecache
from tests.conftest import SeedWriter, seed_text

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")

#: Generous: a call that does not block returns in microseconds.
TIMEOUT = 10.0


def finishes(call: Callable[[], Any], fifos: Sequence[Path]) -> Any:
    """``call()``'s result, or its exception; fails when it blocks, then frees
    it by opening each FIFO's write end (which lets a blocked reader through)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(TIMEOUT)
        pytest.fail(f"blocked for {TIMEOUT:.0f} s opening a FIFO")
    return outcome[0]


def _reason(result: Any) -> str:
    assert isinstance(result, ArticleError), result
    return result.reason


def test_a_fifo_named_like_a_seed_is_refused_at_once(seeds: Path) -> None:
    fifo = seeds / "pipe.txt"
    os.mkfifo(fifo)

    for folder in (seeds, None):
        result = finishes(lambda: seedfile.read_seed_bytes(fifo, folder), [fifo])  # noqa: B023
        assert _reason(result) == "cannot read file: not a regular file"


def test_a_symlink_to_a_fifo_in_the_seeds_folder_is_refused_at_once(seeds: Path) -> None:
    os.mkfifo(seeds / "pipe")
    (seeds / "link.txt").symlink_to("pipe")

    result = finishes(lambda: seedfile.read_seed_bytes(seeds / "link.txt", seeds), [seeds / "pipe"])

    assert _reason(result) == "cannot read file: not a regular file"


def test_a_seed_replaced_by_a_fifo_after_discovery_is_refused_at_once(
    seeds: Path,
    write_seed: SeedWriter,
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daemon's race, made certain: discovery saw a regular file, the
    reader finds a FIFO in its place."""
    write_seed("a.txt", title="A", link="https://e.org/a")
    write_seed("b.txt", title="B", link="https://e.org/b")
    config = make_config()
    discover = discovery.discover_names

    def discover_then_swap(folder: Path, patterns: Sequence[str]) -> list[str]:
        names = discover(folder, patterns)
        (seeds / "b.txt").unlink()
        os.mkfifo(seeds / "b.txt")
        return names

    monkeypatch.setattr(scanner, "discover_names", discover_then_swap)
    builder = Builder(config)

    finishes(builder.scan_all, [seeds / "b.txt"])

    assert [article.title for article in builder.scan_result().articles] == ["A"]
    assert [error.reason for error in builder.rejected] == ["cannot read file: not a regular file"]


def test_the_parallel_readers_refuse_a_fifo_at_once(seeds: Path) -> None:
    names = []
    for n in range(reader.PARALLEL_THRESHOLD):
        path = seeds / f"s{n:03}.txt"
        path.write_text(seed_text(title=f"S {n}", link=f"https://e.org/{n}"))
        names.append(str(path))
    fifo = seeds / "pipe.txt"
    os.mkfifo(fifo)
    names.insert(len(names) // 2, str(fifo))
    options = reader.ReadOptions(seeds=seeds)

    outcomes = finishes(lambda: list(reader.read_many(names, UTC, options)), [fifo])

    assert not isinstance(outcomes, BaseException), outcomes
    refused = [outcome for outcome in outcomes if outcome[1] is None]
    assert [(name, reason) for name, _, reason, *_ in refused] == [
        (str(fifo), "cannot read file: not a regular file")
    ]
    assert len(outcomes) == len(names)


def test_a_folder_replaced_by_a_fifo_does_not_block_the_up_to_date_check(
    seeds: Path,
    write_seed: SeedWriter,
    make_config: Callable[..., Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_seed("a.txt")
    config = make_config()
    fifo = seeds / "sub"
    os.mkfifo(fifo)
    monkeypatch.setattr(uptodate, "walk", lambda *_, **__: [(f"{fifo}{os.sep}", ["x.txt"])])

    expected = uptodate.Expected.of(config)
    # A listing recorded for the folder: the check then opens it.
    state = CacheState(listings={"sub/": (1, b"")})
    assert finishes(lambda: uptodate._problems_if_unchanged(expected, state), [fifo]) is None


def test_discovery_does_not_block_on_fifos(seeds: Path) -> None:
    (seeds / "a.txt").write_text(seed_text())
    os.mkfifo(seeds / "pipe.txt")
    os.mkfifo(seeds / "folder")

    found = finishes(lambda: discovery.discover_names(seeds, ("*.txt", "*")), [])

    assert found == [str(seeds / "a.txt")]


@pytest.mark.parametrize("which", ["catalog_path", "articles_path"])
def test_a_fifo_in_place_of_the_parse_cache_is_discarded_at_once(
    tmp_path: Path, which: str
) -> None:
    cache = ParseCache(tmp_path, "identity")
    fifo = Path(getattr(cache, which))
    os.mkfifo(fifo)

    def load() -> tuple[Any, list[Any]]:
        state = cache.load()
        return state, list(cache.load_articles())

    result = finishes(load, [fifo])

    assert not isinstance(result, BaseException), result
    assert result[0].records == {}
    assert result[1] == []


def test_a_fifo_in_place_of_an_output_file_is_replaced_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "all.json"
    os.mkfifo(fifo)

    # Empty data: the size check alone (a FIFO's size is 0) cannot tell them apart.
    assert finishes(lambda: writer._has_content(fifo, b""), [fifo]) is False


def test_the_server_refuses_to_load_a_fifo_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "all.json"
    os.mkfifo(fifo)

    result = finishes(lambda: filecache.load(str(fifo)), [fifo])

    assert isinstance(result, OSError), result


def test_making_a_fifo_durable_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer fsyncs its temp files (without syncfs) and folders by name."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    monkeypatch.setattr(writer, "_SYNCFS", None)

    assert finishes(lambda: writer._fsync_directory(fifo), [fifo]) is None
    assert isinstance(finishes(lambda: writer._sync_files(tmp_path, [str(fifo)]), [fifo]), OSError)
