"""A short run of the load benchmark (bench/load.py): clients polling with
conditional GETs while `feeds run` rebuilds under them. The full run, with 200
clients for a minute beside nginx, is `make bench-load`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from bench.load import Editor, check_feed, feed_urls, run_clients, write_section
from tests.daemon_harness import RunningDaemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[RunningDaemon]:
    write_corpus(tmp_path / "seeds", 60)
    config = tmp_path / "feeds.yaml"
    config.write_text("seeds: seeds\noutput: output\ndebounce_ms: 50\nrescan_interval: 3600\n")
    running = RunningDaemon(config)
    try:
        running.wait_ready()
        yield running
    finally:
        assert running.stop() == 0, running.log


def test_clients_polling_a_rebuilding_daemon_get_whole_feeds_and_304s(
    tmp_path: Path, daemon: RunningDaemon
) -> None:
    output = tmp_path / "output"
    urls = feed_urls(output, daemon.url("/"))
    assert len(urls) > 20
    editor = Editor(tmp_path / "seeds", interval=0.25)
    editor.start()
    try:
        stats = asyncio.run(run_clients(urls, clients=20, seconds=5))
    finally:
        editor.stop()
    rebuilds = daemon.log.count("files written")
    assert editor.edits >= 10
    assert rebuilds >= 3, daemon.log  # the first build, then the edits'
    assert stats.errors == 0, stats.error_samples
    assert stats.ok >= 100  # every client's first poll of each feed, and the changes
    assert stats.not_modified > 0
    assert stats.bodies_checked > len(urls) // 2


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/all.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id"'),
        ("/all.json", b'{"version": "1", "items": []}'),
        ("/all.atom.xml", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'),
        ("/all.rss.xml", b"<html><body>not a feed</body></html>"),
    ],
)
def test_the_check_catches_a_partial_or_wrong_body(url: str, body: bytes) -> None:
    """Keeps the load test honest: a truncated feed would be counted as an error."""
    assert check_feed(url, body) is not None


def test_the_check_passes_the_real_feeds(tmp_path: Path, daemon: RunningDaemon) -> None:
    output = tmp_path / "output"
    for name in ("all.json", "all.atom.xml", "all.rss.xml", "topics/topic-01.atom.xml"):
        assert check_feed(name, (output / name).read_bytes()) is None, name


def test_the_results_section_is_replaced_or_appended(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\ntable\n")
    write_section("<!-- load:begin -->\none\n<!-- load:end -->\n", results)
    assert (
        results.read_text() == "# Results\n\ntable\n\n<!-- load:begin -->\none\n<!-- load:end -->\n"
    )
    results.write_text(results.read_text() + "\n## After\n")
    write_section("<!-- load:begin -->\ntwo\n<!-- load:end -->\n", results)
    assert results.read_text() == (
        "# Results\n\ntable\n\n<!-- load:begin -->\ntwo\n<!-- load:end -->\n\n## After\n"
    )
